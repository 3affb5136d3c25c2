"""Writers: no identifying attributes unless asked, strict names, IOD validity (dciodvfy)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pydicom
import pytest

from rtwin.anatomy import Image, Structure, StructureSet
from rtwin.errors import DicomError
from rtwin.geometry import Grid
from rtwin.io import read_image_series, read_rtstruct, write_image_series, write_rtstruct

#: Attributes that identify a patient (or people around them), set on the source CT below.
IDENTIFYING = {
    "PatientName": "Doe^Jane",
    "PatientBirthDate": "19600101",
    "PatientSex": "F",
    "AccessionNumber": "ACC-998877",
    "OtherPatientIDs": "OTHER-4455",
    "ReferringPhysicianName": "House^Gregory",
    "InstitutionName": "St Elsewhere Hospital",
    "PerformingPhysicianName": "Quinn^Michaela",
    "OperatorsName": "Tech^Tom",
}
#: What the file may hold instead: absent or empty.
BLANK = ("", None)


@pytest.fixture
def identified_series(write_series, small_grid, slice_coded_ct, edit_files):
    """A CT series whose files carry a real-looking identity, read back as an ImageSeries."""
    written = write_series(slice_coded_ct(small_grid), patient_id="MRN-12345")

    def identify(dataset, index):
        for keyword, value in IDENTIFYING.items():
            setattr(dataset, keyword, value)
        dataset.StudyID = "S-77"

    edit_files(written.files, identify)
    return read_image_series(written.files[0].parent)


def _box(grid: Grid) -> StructureSet:
    return StructureSet([Structure.from_function("PTV", grid, lambda x, y, z: x < x.mean())])


def _leaks(path, secrets) -> list[str]:
    """The secrets found anywhere in the file's bytes (one-letter values like a sex are not
    searched: the attributes are checked instead)."""
    data = path.read_bytes()
    return [s for s in secrets if len(s) > 2 and s.encode() in data]


def test_pseudonymous_rtstruct_gets_no_identifying_attributes(identified_series, tmp_path):
    series = identified_series
    path = write_rtstruct(_box(series.grid), series, tmp_path / "RS.dcm", patient_id="a1b2-pseudo")
    dataset = pydicom.dcmread(path)
    assert dataset.PatientID == "a1b2-pseudo"
    assert str(dataset.PatientName) == "a1b2-pseudo"
    for keyword in IDENTIFYING:
        if keyword != "PatientName":
            assert dataset.get(keyword, None) in BLANK, keyword
    assert dataset.get("StudyID", None) in BLANK
    assert _leaks(path, [*IDENTIFYING.values(), "MRN-12345", "S-77", "Doe", "Jane"]) == []
    assert dataset.StudyInstanceUID == series.study_instance_uid  # still the same study


def test_rtstruct_by_default_copies_only_the_patient_id(identified_series, tmp_path):
    series = identified_series
    path = write_rtstruct(_box(series.grid), series, tmp_path / "RS.dcm")
    dataset = pydicom.dcmread(path)
    assert dataset.PatientID == "MRN-12345"  # links the structure set to its images
    assert str(dataset.PatientName) == "MRN-12345"
    assert _leaks(path, list(IDENTIFYING.values())) == []


def test_rtstruct_copies_the_identity_only_when_asked(identified_series, tmp_path):
    series = identified_series
    path = write_rtstruct(
        _box(series.grid), series, tmp_path / "RS.dcm", copy_patient_identity=True
    )
    dataset = pydicom.dcmread(path)
    assert dataset.PatientID == "MRN-12345"
    assert str(dataset.PatientName) == "Doe^Jane"
    assert dataset.PatientBirthDate == "19600101" and dataset.PatientSex == "F"
    assert dataset.AccessionNumber == "ACC-998877"
    assert str(dataset.ReferringPhysicianName) == "House^Gregory"
    assert dataset.StudyID == "S-77"
    # The equipment, operators and institution are rtwin's, not the scanner's.
    assert _leaks(path, ["St Elsewhere", "Quinn", "Tech^Tom"]) == []
    with pytest.raises(DicomError, match="patient_id.*copy_patient_identity"):
        write_rtstruct(
            _box(series.grid),
            series,
            tmp_path / "RS2.dcm",
            patient_id="pseudo",
            copy_patient_identity=True,
        )


def test_image_series_holds_only_the_identity_given(write_series, small_grid, slice_coded_ct):
    written = write_series(slice_coded_ct(small_grid), patient_id="pseudo-7")
    dataset = pydicom.dcmread(written.files[0])
    assert dataset.PatientID == "pseudo-7" and str(dataset.PatientName) == "pseudo-7"
    for keyword in IDENTIFYING:
        if keyword != "PatientName":
            assert dataset.get(keyword, None) in BLANK, keyword
    named = write_series(
        slice_coded_ct(small_grid), "named", patient_id="pseudo-7", patient_name="Doe^Jane"
    )
    assert str(pydicom.dcmread(named.files[0]).PatientName) == "Doe^Jane"  # asked for


# ---------------------------------------------------------------------- strict names
@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("PTV\\boost", "backslash"),
        ("x" * 65, "65 characters"),
        ("PTV\nboost", "control character"),
        ("Lung_L ", "ends with a space"),
    ],
)
def test_structure_names_that_dicom_cannot_hold_are_refused(
    write_series, small_grid, slice_coded_ct, tmp_path, name, problem
):
    series = write_series(slice_coded_ct(small_grid))
    structure = Structure.from_function(name, small_grid, lambda x, y, z: x < x.mean())
    target = tmp_path / "RS.dcm"
    with pytest.raises(DicomError) as error:
        write_rtstruct(StructureSet([structure]), series, target)
    message = str(error.value)
    assert repr(name) in message and problem in message and "rename" in message
    assert not target.exists()


def test_names_that_fit_are_written_and_read_back(
    write_series, small_grid, slice_coded_ct, tmp_path
):
    series = write_series(slice_coded_ct(small_grid))
    names = ["Ünïcödé PTV", "PTV 50.4Gy ~ boost", "y" * 64]
    structures = StructureSet(
        [Structure.from_function(n, small_grid, lambda x, y, z: x < x.mean()) for n in names]
    )
    path = write_rtstruct(structures, series, tmp_path / "RS.dcm")
    assert list(read_rtstruct(path, series).structures) == names


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("patient_id", "MRN\\2"),
        ("patient_name", "Doe\\Jane"),
        ("series_description", "planning\\CT"),
    ],
)
def test_multi_valued_text_is_refused_by_the_image_writer(
    write_series, small_grid, slice_coded_ct, keyword, value
):
    with pytest.raises(DicomError, match=rf"{keyword}.*backslash"):
        write_series(slice_coded_ct(small_grid), **{keyword: value})


def test_multi_valued_label_is_refused(write_series, small_grid, slice_coded_ct, tmp_path):
    series = write_series(slice_coded_ct(small_grid))
    with pytest.raises(DicomError, match="label.*backslash"):
        write_rtstruct(_box(small_grid), series, tmp_path / "RS.dcm", label="a\\b")


# ---------------------------------------------------------------------- IOD validity
DCIODVFY = shutil.which("dciodvfy")


def _dciodvfy_errors(path) -> list[str]:
    run = subprocess.run(
        [DCIODVFY, str(path)], capture_output=True, text=True, timeout=60, check=False
    )
    lines = (run.stdout + run.stderr).splitlines()
    return [line for line in lines if line.startswith("Error")]


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (dicom3tools) is not installed")
def test_written_ct_mr_and_rtstruct_pass_dciodvfy(tmp_path):
    grid = Grid.from_spacing((3, 12, 14), spacing_mm=(0.9, 1.3, 2.5), origin_mm=(-6, -8, 0))
    body = Structure.from_function("Body", grid, lambda x, y, z: x**2 + y**2 < 30, role="external")
    ptv = Structure.from_function("PTV", grid, lambda x, y, z: x**2 + y**2 < 8, role="target")
    structures = StructureSet([body, ptv])
    ct = Image(values=np.where(body.mask, 20.0, -1000.0), grid=grid, modality="CT")
    mr_integral = Image(values=np.where(body.mask, 300.0, 0.0), grid=grid, modality="MR")
    mr_scaled = Image(values=np.where(body.mask, 0.37, 0.0), grid=grid, modality="MR")
    checked = []
    for name, image in (("ct", ct), ("mr", mr_integral), ("mr_scaled", mr_scaled)):
        series = write_image_series(image, tmp_path / name, patient_id="demo")
        rs = write_rtstruct(structures, series, tmp_path / name / "RS.dcm")
        checked += [series.files[0], rs]
    for path in checked:
        assert _dciodvfy_errors(path) == [], path
