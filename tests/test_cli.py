"""The rtwin command: demo runs on the embedded phantom; exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from rtwin.cli import EXIT_BAD_INPUT, EXIT_OK, main

PLANS = ("5-field IMRT", "9-field IMRT", "2-field IMPT")


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One quick demo run shared by the tests that read its output."""
    out = tmp_path_factory.mktemp("demo") / "out"
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["demo", "--quick", "--quiet", "--out", str(out)])
    return code, stdout.getvalue(), out


def test_demo_quick_writes_report_and_json_naming_every_plan(demo_run):
    code, output, out = demo_run
    assert code == EXIT_OK
    report = (out / "report.html").read_text(encoding="utf-8")
    results = json.loads((out / "results.json").read_text())
    assert sorted(results["ranking"]) == sorted(PLANS)
    assert results["recommended"] == results["ranking"][0]
    for plan in PLANS:
        assert plan in report and plan in output
        assert plan in results["explanation"]
    assert "Recommended" in report and "data:image/png;base64," in report
    assert report.count("<img") >= 5  # goal table, DVHs, one dose wash per plan
    assert all((out / "figures" / f"{n}.png").is_file() for n in ("goals", "dvh", "dose_1"))
    assert f"Recommended plan: {results['recommended']}" in output


def test_demo_refuses_a_non_empty_folder_without_force(demo_run, capsys):
    _, _, out = demo_run
    before = (out / "report.html").stat().st_mtime_ns
    assert main(["demo", "--quick", "--out", str(out)]) == EXIT_BAD_INPUT
    assert "--force" in capsys.readouterr().err
    assert (out / "report.html").stat().st_mtime_ns == before


def test_no_command_is_bad_input(capsys):
    assert main([]) == EXIT_BAD_INPUT


def test_python_dash_m_rtwin_version():
    result = subprocess.run(
        [sys.executable, "-m", "rtwin", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("rtwin ")
