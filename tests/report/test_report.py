"""write_report: files, self-containment, refusing to overwrite."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rtwin
from rtwin.errors import ReportError
from rtwin.report import write_report


@pytest.fixture(scope="module")
def comparison_and_patient():
    patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5, target_radius_mm=10)
    flat = rtwin.dose.Dose(values=np.full(patient.grid.shape, 2.0), grid=patient.grid)
    half = flat.scaled(0.5)
    goals = rtwin.evaluation.GoalSet.parse(["Target D95% >= 1.9 Gy"])
    comparison = rtwin.compare_plans({"flat": flat, "half": half}, patient.structures, goals)
    return comparison, patient


def test_report_files_and_contents(tmp_path, comparison_and_patient):
    comparison, patient = comparison_and_patient
    files = write_report(tmp_path / "r", comparison, patient=patient, settings={"a": 1})
    page = files.report.read_text(encoding="utf-8")
    assert 'src="data:image/png;base64,' in page and "http" not in page.replace("http-equiv", "")
    data = json.loads(files.results.read_text())
    assert data["ranking"] == ["flat", "half"] and data["settings"] == {"a": 1}
    assert len(files.figures) == 4 and all(f.stat().st_size > 1000 for f in files.figures)


def test_report_refuses_non_empty_folder(tmp_path, comparison_and_patient):
    comparison, patient = comparison_and_patient
    (tmp_path / "mine.txt").write_text("keep")
    with pytest.raises(ReportError, match="not empty"):
        write_report(tmp_path, comparison, patient=patient)
    write_report(tmp_path, comparison, patient=patient, force=True)
    assert (tmp_path / "mine.txt").read_text() == "keep"
