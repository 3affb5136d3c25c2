"""rtwin compare / dvh / gamma on rtwin-written DICOM (and the shared data when present)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rtwin
from rtwin.cli import EXIT_BAD_INPUT, EXIT_OK, main
from rtwin.evaluation import DVH


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A phantom written as CT + RTSTRUCT + two RTDOSE (a Gaussian dose and it scaled by 1 %)."""
    folder = tmp_path_factory.mktemp("dicom")
    patient = rtwin.phantoms.cshape(voxel_mm=6.0)
    series = rtwin.io.write_image_series(patient.image, folder / "ct", patient_id="PHANTOM-1")
    rtwin.io.write_rtstruct(patient.structures, series, folder / "rs.dcm")
    centers = patient.grid.voxel_centers_mm()
    center = patient.structures["OuterTarget"].centroid_mm
    values = 60.0 * np.exp(-np.sum((centers - center) ** 2, axis=-1) / (2 * 40.0**2))
    dose = rtwin.dose.Dose(values=values, grid=patient.grid)
    rtwin.io.write_rtdose(dose, folder / "dose.dcm", reference=series)
    rtwin.io.write_rtdose(dose.scaled(1.01), folder / "dose2.dcm", reference=series)
    return folder, patient, dose


def test_dvh_of_a_rtwin_written_plan(written, capsys):
    folder, patient, dose = written
    code = main(["dvh", "--dose", str(folder / "dose.dcm"), "--structures", str(folder / "rs.dcm")])
    output = capsys.readouterr().out
    assert code == EXIT_OK
    rows = {line.split()[0]: line.split()[1:] for line in output.splitlines()[1:] if line.strip()}
    for name in ("BODY", "Core", "OuterTarget"):
        expected = DVH.compute(dose, patient.structures[name]).mean_gy
        # contours re-rasterized on a 1 mm in-plane grid vs the phantom's 6 mm masks
        assert float(rows[name][1]) == pytest.approx(expected, rel=0.03)


def test_dvh_with_goals(written, tmp_path, capsys):
    folder, _, _ = written
    goals = tmp_path / "goals.toml"
    goals.write_text('name = "t"\ngoals = ["OuterTarget D95% >= 30 Gy", "Core Dmax <= 1 Gy"]\n')
    code = main(
        [
            "dvh",
            "--dose",
            str(folder / "dose.dcm"),
            "--structures",
            str(folder / "rs.dcm"),
            "--goals",
            str(goals),
        ]
    )
    output = capsys.readouterr().out
    assert code == EXIT_OK and "pass" in output and "fail" in output


def test_gamma_of_two_written_doses(written, capsys):
    folder, _, _ = written
    code = main(
        ["gamma", str(folder / "dose.dcm"), str(folder / "dose2.dcm"), "--criteria", "3%/3mm"]
    )
    output = capsys.readouterr().out
    assert code == EXIT_OK and "100.00 % pass" in output
    code = main(
        ["gamma", str(folder / "dose.dcm"), str(folder / "dose2.dcm"), "--criteria", "0.5%/0.1mm"]
    )
    assert code == EXIT_OK and "100.00 % pass" not in capsys.readouterr().out


def test_gamma_bad_criteria_is_bad_input(written, capsys):
    folder, _, _ = written
    code = main(["gamma", str(folder / "dose.dcm"), str(folder / "dose2.dcm"), "--criteria", "3mm"])
    assert code == EXIT_BAD_INPUT and "3%/3mm" in capsys.readouterr().err


def _spec(tmp_path, patient_line, target, objectives_structures, extra=""):
    target_structure, core, body = objectives_structures
    text = f"""
[patient]
{patient_line}

[prescription]
target = "{target}"
dose_per_fraction_gy = 2.0
fractions = 25

[dose]
grid_mm = 6.0

[[plans]]
name = "5-field IMRT"
beams = 5
max_iterations = 40
objectives = [
  {{ type = "SquaredDeviation", structure = "{target_structure}", dose_gy = 50, weight = 1000 }},
  {{ type = "SquaredOverdose", structure = "{core}", dose_gy = 23, weight = 300 }},
  {{ type = "SquaredOverdose", structure = "{body}", dose_gy = 30, weight = 100 }},
]

[[plans]]
name = "7-field IMRT"
beams = 7
max_iterations = 40
objectives = [
  {{ type = "SquaredDeviation", structure = "{target_structure}", dose_gy = 50, weight = 1000 }},
  {{ type = "SquaredOverdose", structure = "{core}", dose_gy = 23, weight = 300 }},
]

[goals]
list = ["{target} D98% >= 47.5 Gy", "{core} D10% <= 25 Gy"]
{extra}
[output]
folder = "report"
"""
    path = tmp_path / "study.toml"
    path.write_text(text)
    return path


def _check_report(folder):
    results = json.loads((folder / "results.json").read_text())
    assert sorted(results["ranking"]) == ["5-field IMRT", "7-field IMRT"]
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "Recommended" in page and page.count("<img") >= 4


def test_compare_on_rtwin_written_dicom(written, tmp_path, capsys):
    folder, _, _ = written
    spec = _spec(tmp_path, f'dicom = "{folder}"', "OuterTarget", ("OuterTarget", "Core", "BODY"))
    assert main(["compare", str(spec), "--quiet"]) == EXIT_OK
    assert "Recommended plan" in capsys.readouterr().out
    _check_report(tmp_path / "report")


@pytest.mark.shared_data
def test_compare_on_cort_tg119(cort_tg119, tmp_path):
    spec = _spec(
        tmp_path, f'matrad = "{cort_tg119}"', "OuterTarget", ("OuterTarget", "Core", "BODY")
    )
    assert main(["compare", str(spec), "--quiet"]) == EXIT_OK
    _check_report(tmp_path / "report")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("beams = 5", 'beams = "five"'), "plans[0].beams must be a positive integer"),
        (('type = "SquaredOverdose"', 'type = "Overdose"'), "type must be one of"),
        (("[dose]", "[dose]\nspacing = 3"), "unknown key(s) ['spacing']"),
        (
            ('name = "7-field IMRT"', 'name = "7-field IMRT"\nmodality = "electron"'),
            "modality must be 'photon' or 'proton'",
        ),
    ],
)
def test_bad_specs_name_the_key(written, tmp_path, capsys, change, message):
    folder, _, _ = written
    spec = _spec(tmp_path, f'dicom = "{folder}"', "OuterTarget", ("OuterTarget", "Core", "BODY"))
    spec.write_text(spec.read_text().replace(*change, 1))
    assert main(["compare", str(spec), "--quiet"]) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


@pytest.mark.shared_data
def test_dvh_on_pydicom_testfiles_reports_the_frame_of_reference(shared_data, capsys):
    folder = shared_data / "dicom" / "pydicom-testfiles"
    code = main(
        [
            "dvh",
            "--dose",
            str(folder / "rtdose.dcm"),
            "--structures",
            str(folder / "rtstruct.dcm"),
            "--reference-dose",
            "2.0",
        ]
    )
    error = capsys.readouterr().err
    assert code == EXIT_BAD_INPUT
    assert "frame of reference" in error and "--ignore-frame-of-reference" in error


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("weight = 1000", "wieght = 1000"), "unknown key(s) ['wieght']; allowed:"),
        (
            ('structure = "Core"', 'structure = "Rectum"'),
            "plans[0].objectives[1].structure 'Rectum'",
        ),
        (('target = "OuterTarget"', 'target = "PTV"'), "prescription.target 'PTV'"),
        (("beams = 5", "beams = 5\ngantry_deg = [0, 90]"), "not both"),
    ],
)
def test_spec_errors_name_the_key_and_leave_no_folder(written, tmp_path, capsys, change, message):
    folder, _, _ = written
    spec = _spec(tmp_path, f'dicom = "{folder}"', "OuterTarget", ("OuterTarget", "Core", "BODY"))
    spec.write_text(spec.read_text().replace(*change, 1))
    assert main(["compare", str(spec), "--quiet"]) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_error_paths_are_one_line_bad_input(written, tmp_path, capsys):
    folder, _, _ = written
    cases = [
        (["compare", str(tmp_path / "missing.toml")], "does not exist"),
        (
            [
                "dvh",
                "--dose",
                str(tmp_path / "missing.dcm"),
                "--structures",
                str(folder / "rs.dcm"),
            ],
            "missing.dcm",
        ),
        (["gamma", str(tmp_path / "missing.dcm"), str(folder / "dose.dcm")], "missing.dcm"),
    ]
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[patient\ndicom = 'x'\n")
    cases.append((["compare", str(bad_toml)], "not valid TOML"))
    preset = _spec(tmp_path, f'dicom = "{folder}"', "OuterTarget", ("OuterTarget", "Core", "BODY"))
    preset.write_text(preset.read_text().replace("[goals]\n", '[goals]\npreset = "rtog"\n', 1))
    cases.append((["compare", str(preset)], "goals.preset must be 'quantec'"))
    for arguments, message in cases:
        assert main(arguments) == EXIT_BAD_INPUT, arguments
        error = capsys.readouterr().err
        assert message in error and error.count("\n") == 1 and "Traceback" not in error


def test_compare_refuses_a_non_empty_output_folder(written, tmp_path, capsys):
    folder, _, _ = written
    spec = _spec(tmp_path, f'dicom = "{folder}"', "OuterTarget", ("OuterTarget", "Core", "BODY"))
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "notes.txt").write_text("mine")
    assert main(["compare", str(spec), "--quiet"]) == EXIT_BAD_INPUT
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "report" / "notes.txt").read_text() == "mine"
