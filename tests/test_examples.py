"""Every script in examples/ runs (fresh process, outputs into a temp folder) and prints something."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: Scripts that take an output folder as their first argument.
WITH_FOLDER = {
    "compare_plans.py",
    "photon_machine_fit.py",
    "photon_open_field.py",
    "plan_candidates.py",
    "proton_pristine_peak.py",
}


def _run(arguments: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *arguments], cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    "script",
    sorted(p.name for p in EXAMPLES.glob("*.py") if p.name != "write_phantom_dicom.py"),
)
def test_example_runs_and_prints(script, tmp_path):
    arguments = [str(EXAMPLES / script)]
    if script in WITH_FOLDER:
        arguments.append(str(tmp_path / "out"))
    result = _run(arguments, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip(), f"{script} printed nothing"
    if script in WITH_FOLDER:
        assert any((tmp_path / "out").rglob("*")), f"{script} saved nothing"


def test_study_example_runs_with_the_phantom_writer(tmp_path):
    """examples/write_phantom_dicom.py + examples/study.toml, as docs/cli.md shows."""
    shutil.copy(EXAMPLES / "study.toml", tmp_path / "study.toml")
    written = _run(
        [
            str(EXAMPLES / "write_phantom_dicom.py"),
            str(tmp_path / "phantom-dicom"),
            "--voxel-mm",
            "6",
        ],
        cwd=tmp_path,
    )
    assert written.returncode == 0, written.stderr[-2000:]
    again = _run(
        [str(EXAMPLES / "write_phantom_dicom.py"), str(tmp_path / "phantom-dicom")], cwd=tmp_path
    )
    assert again.returncode == 2  # refuses to overwrite
    study = _run(["-m", "rtwin", "compare", str(tmp_path / "study.toml"), "--quiet"], cwd=tmp_path)
    assert study.returncode == 0, study.stderr[-2000:]
    assert (tmp_path / "study-report" / "report.html").is_file()
    assert "Recommended plan" in study.stdout
