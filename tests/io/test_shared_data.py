"""Real and deliberately odd DICOM files from ../shared/data/dicom (skipped when absent).

Each case must load, or give a clear RtwinError, or a documented repair (a
RtwinWarning) — never a crash or a silent wrong answer. No input file may
change (hashed before and after).
"""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest

from rtwin.errors import DicomError, RtwinWarning
from rtwin.geometry import Grid
from rtwin.io import read_dicom, read_image_series, read_rtstruct

pytestmark = pytest.mark.shared_data


def _shoelace_volume_cc(path, roi_name: str, slice_mm: float) -> float:
    """Independent volume: sum of |polygon area| (shoelace, x-y plane) x slice spacing."""
    dataset = pydicom.dcmread(path, force=True)
    numbers = {r.ROINumber: r.ROIName for r in dataset.StructureSetROISequence}
    total = 0.0
    for item in dataset.ROIContourSequence:
        if numbers[item.ReferencedROINumber] != roi_name:
            continue
        for contour in item.ContourSequence:
            points = np.array(contour.ContourData, dtype=float).reshape(-1, 3)
            x, y = points[:, 0], points[:, 1]
            total += 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    return total * slice_mm / 1000.0


# ---------------------------------------------------------------------- 1. IBSI CT + GTV
def test_ibsi_patient_and_gtv_volume(dicom_data, sha256_tree):
    folder = dicom_data / "ibsi1-ct-phantom"
    before = sha256_tree(folder)
    patient = read_dicom(folder, pseudonym_key="test key")
    assert sha256_tree(folder) == before
    grid = patient.grid
    assert grid.shape == (60, 201, 204)
    np.testing.assert_allclose(grid.spacing_mm, [0.977, 0.977, 3.0], atol=1e-5)
    np.testing.assert_allclose(grid.origin_mm, [-174.3945, -79.6255, -100.4], atol=1e-3)
    assert grid.is_axis_aligned
    # HU = stored - 1000 (slope 1, intercept -1000); slices sorted by z, not by file name
    slices = [pydicom.dcmread(p) for p in sorted(folder.glob("DCM_IMG_*.dcm"))]
    lowest = min(slices, key=lambda d: float(d.ImagePositionPatient[2]))
    assert lowest.InstanceNumber != 1
    np.testing.assert_array_equal(patient.image.values[0], lowest.pixel_array - 1000.0)
    assert patient.position.value == "HFS"
    assert patient.frame_of_reference_uid.endswith("65629048")
    assert len(patient.provenance.inputs) == 61  # 60 slices + the RTSTRUCT

    gtv = patient.structures["GTV-1"]
    reference = _shoelace_volume_cc(folder / "DCM_RS_00060.dcm", "GTV-1", 3.0)
    assert reference == pytest.approx(358.66, abs=0.01)
    assert gtv.volume_cc == pytest.approx(reference, rel=0.02)
    assert gtv.color == (0, 230, 0)


# ---------------------------------------------------------------------- 2. odd but legal images
def test_ct_small_feet_first(dicom_data):
    series = read_image_series(dicom_data / "pydicom-testfiles" / "CT_small.dcm")
    assert series.patient_position.value == "FFS"
    assert series.grid.shape == (1, 128, 128)
    np.testing.assert_allclose(series.grid.spacing_mm, [0.661468, 0.661468, 5.0])
    raw = pydicom.dcmread(dicom_data / "pydicom-testfiles" / "CT_small.dcm").pixel_array
    np.testing.assert_array_equal(series.image.values[0], raw - 1024.0)


def test_padding_value_becomes_air(dicom_data):
    series = read_image_series(dicom_data / "rtutils-mock" / "mock_data")
    raw = pydicom.dcmread(dicom_data / "rtutils-mock" / "mock_data" / "ct_1.dcm").pixel_array
    padded = raw == -2000
    assert padded.sum() > 0
    assert np.all(series.image.values[0][padded] == -1000.0)
    assert series.image.values.min() >= -1024.0
    assert any("padding voxels" in note for note in series.notes)


def test_mr_small_without_rescale(dicom_data):
    path = dicom_data / "pydicom-testfiles" / "MR_small.dcm"
    series = read_image_series(path)
    assert series.image.modality.value == "MR"
    np.testing.assert_array_equal(series.image.values[0], pydicom.dcmread(path).pixel_array)
    np.testing.assert_allclose(series.grid.spacing_mm, [0.3125, 0.3125, 0.8])


def test_pydicom_testfiles_hold_two_image_series(dicom_data):
    folder = dicom_data / "pydicom-testfiles"
    with pytest.raises(DicomError, match="2 image series.*CT, 1 file.*MR, 1 file"):
        read_image_series(folder)
    # rtdose.dcm there has an invalid UI value: pydicom's warning is caught, not leaked
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        uid = read_image_series(folder / "MR_small.dcm").series_instance_uid
        assert read_image_series(folder, series_uid=uid).grid.shape == (1, 64, 64)


def test_oriented_series_non_square_pixels(dicom_data):
    folder = dicom_data / "rtutils-mock" / "oriented_data"
    series = read_image_series(folder)
    assert series.grid.shape == (3, 50, 100)
    # PixelSpacing [3.5, 2.5] = (row spacing, column spacing) -> i 2.5 mm, j 3.5 mm
    np.testing.assert_allclose(series.grid.spacing_mm, [2.5, 3.5, 4.5], atol=1e-6)
    iop = np.array([0.9541666, -0.2080757, 0.2151061, 0.2785886, 0.880128, -0.3843997])
    np.testing.assert_allclose(series.grid.direction[:, 0], iop[:3], atol=1e-6)
    np.testing.assert_allclose(series.grid.direction[:, 1], iop[3:], atol=1e-6)
    np.testing.assert_allclose(
        series.grid.index_to_patient([0, 0, 2]), [122.0159697, -428.1596334, 38.0798058], atol=1e-4
    )
    assert any("StudyInstanceUIDs" in note for note in series.notes)


def test_one_slice_without_spacing(dicom_data):
    folder = dicom_data / "rtutils-mock" / "one_slice_data"
    with pytest.raises(DicomError, match="single slice"):
        read_image_series(folder)
    with pytest.warns(RtwinWarning, match="assumed to be 1 mm"):
        series = read_image_series(folder, repair=True)
    assert series.grid.shape == (1, 50, 100)


# ---------------------------------------------------------------------- 3. malformed sets
def test_opentps_wrong_modality_empty_frame_no_references(dicom_data, sha256_tree):
    folder = dicom_data / "opentps-simple-phantom"
    before = sha256_tree(folder)
    with pytest.warns(RtwinWarning) as caught:
        patient = read_dicom(folder)
    assert sha256_tree(folder) == before
    messages = [str(w.message) for w in caught]
    assert any("Modality 'RTDOSE' but SOP class RT Structure Set" in m for m in messages)
    assert any("references no image series and no frame of reference" in m for m in messages)
    assert any("assumed HFS" in m for m in messages)
    assert patient.grid.shape == (200, 200, 200)  # the series in the CT/ subfolder
    assert patient.frame_of_reference_uid == ""
    (rs,) = folder.glob("RS*.dcm")
    target = patient.structures["TargetVolume"]
    assert target.volume_cc == pytest.approx(_shoelace_volume_cc(rs, "TargetVolume", 1.0), rel=0.02)
    assert any("frame of reference not checked" in s for s in patient.provenance.steps)


def test_rtutils_several_candidates_and_frame_mismatch(dicom_data):
    folder = dicom_data / "rtutils-mock" / "mock_data"
    with pytest.raises(DicomError) as error:
        read_dicom(folder)
    message = str(error.value)
    assert "3 structure sets could belong" in message
    for name in ("rt.dcm", "invalid_reference_rt.dcm", "non_existent_reference_rt.dcm"):
        assert name in message
    with pytest.raises(DicomError) as error:
        read_dicom(folder, rtstruct=folder / "rt.dcm")
    message = str(error.value)
    assert "1.2.826.0.1.3680043.8.498.41321784967516118556817630335498661397" in message
    assert "1.2.840.113619.2.405.3.84541899.902.1605198123.912.6060.1" in message
    assert "reference 2 image(s)" in message
    with pytest.warns(RtwinWarning, match="ignore_frame_of_reference=True"):
        patient = read_dicom(folder, rtstruct=folder / "rt.dcm", ignore_frame_of_reference=True)
    assert patient.structures["ROI-1"].volume_cc > 0


@pytest.mark.parametrize("name", ["invalid_reference_rt.dcm", "non_existent_reference_rt.dcm"])
def test_rtutils_references_to_missing_images(dicom_data, name):
    folder = dicom_data / "rtutils-mock" / "mock_data"
    with pytest.raises(DicomError, match="references .* image\\(s\\) that are not in series"):
        read_dicom(folder, rtstruct=folder / name)
    with pytest.warns(RtwinWarning) as caught:
        patient = read_dicom(folder, rtstruct=folder / name, repair=True)
    messages = " ".join(str(w.message) for w in caught)
    assert "not in series" in messages and "clipped to the image grid" in messages
    assert list(patient.structures) == ["ROI-1", "ROI-2", "ROI-3", "ROI-4"]
    # the contours at z = 70 mm (beyond the two slices at 60 and 65 mm) are dropped
    assert all(not s.mask[1].any() or s.mask[0].any() for s in patient.structures.values())


def test_pydicom_toy_rtstruct(dicom_data):
    folder = dicom_data / "pydicom-testfiles"
    ct = read_image_series(folder / "CT_small.dcm")
    rs = folder / "rtstruct.dcm"
    assert rs.read_bytes()[128:132] != b"DICM"  # no preamble
    with pytest.raises(DicomError) as error:
        read_rtstruct(rs, ct)
    assert "1.2.826.0.1.3680043.8.498.2010020400001.2" in str(error.value)
    assert ct.frame_of_reference_uid in str(error.value)
    with pytest.warns(RtwinWarning, match="not used"):
        patient = read_dicom(folder, series_uid=ct.series_instance_uid)
    assert len(patient.structures) == 0

    # on a grid around its contours the external ROI reads; the POINT ROIs are skipped
    grid = Grid.from_spacing(
        (3, 160, 210), spacing_mm=(2.0, 2.0, 10.0), origin_mm=(-209, -159, -200)
    )
    result = read_rtstruct(rs, grid)
    assert list(result.structures) == ["patient"]
    assert result.structures["patient"].role.value == "external"
    skipped = {s.name: s.reason for s in result.skipped}
    assert set(skipped) == {"Isocenter 1", "Isocenter 2"}
    assert all("POINT" in reason for reason in skipped.values())
    assert any("no DICOM preamble" in note for note in result.notes)


def test_slicerrt_prostate_structure_set_on_a_built_grid(dicom_data, sha256_tree):
    folder = dicom_data / "slicerrt-eclipse-prostate-phantom"
    (rs,) = folder.glob("RS*.dcm")
    before = sha256_tree(rs)
    # the CT is not in the snapshot: a 2.5 mm grid covering every contour point
    dataset = pydicom.dcmread(rs)
    points = np.concatenate(
        [
            np.array(c.ContourData, dtype=float).reshape(-1, 3)
            for item in dataset.ROIContourSequence
            for c in item.get("ContourSequence", [])
        ]
    )
    low, high = points.min(axis=0), points.max(axis=0)
    size = np.ceil((high - low) / 2.5).astype(int) + 3
    grid = Grid.from_spacing(
        (round((high[2] - low[2]) / 2.5) + 1, int(size[1]), int(size[0])),
        spacing_mm=2.5,
        origin_mm=(low[0] - 2.5, low[1] - 2.5, low[2]),
    )
    result = read_rtstruct(rs, grid)
    assert sha256_tree(rs) == before
    assert list(result.structures) == [
        "BODY",
        "Bladder",
        "Femoral Head Lt",
        "Femoral Head RT",
        "PTV",
        "Rectum",
    ]
    assert len(result.skipped) == 10
    assert all(s.reason == "no contours" for s in result.skipped)
    assert {s.name for s in result.skipped} >= {"CTV", "PROS", "XApprox", "optRectum"}
    roles = {n: s.role.value for n, s in result.structures.items()}
    assert roles == {
        "BODY": "external",
        "Bladder": "organ_at_risk",
        "Femoral Head Lt": "organ_at_risk",
        "Femoral Head RT": "organ_at_risk",
        "PTV": "target",
        "Rectum": "organ_at_risk",
    }
    # linked by ROI number: ROI 12 is 'Femoral Head Lt' with colour (128, 255, 255)
    assert result.structures["Femoral Head Lt"].color == (128, 255, 255)
    assert result.structures["Femoral Head RT"].color == (187, 255, 187)
    # volumes against Eclipse's own (header of its exported DVH table) and the shoelace sum
    eclipse_cc = {
        "BODY": 10593.0,
        "Bladder": 116.8,
        "Femoral Head Lt": 49.2,
        "Femoral Head RT": 50.0,
        "PTV": 48.6,
        "Rectum": 30.3,
    }
    for name, volume in eclipse_cc.items():
        structure = result.structures[name]
        assert structure.volume_cc == pytest.approx(volume, rel=0.02), name
        assert structure.volume_cc == pytest.approx(_shoelace_volume_cc(rs, name, 2.5), rel=0.02), (
            name
        )


def test_no_shared_file_is_modified(dicom_data, sha256_tree):
    folders = ["rtutils-mock", "pydicom-testfiles"]
    before = {f: sha256_tree(dicom_data / f) for f in folders}
    read_image_series(dicom_data / "rtutils-mock" / "oriented_data")
    read_image_series(dicom_data / "pydicom-testfiles" / "MR_small.dcm")
    with pytest.warns(RtwinWarning):
        read_dicom(
            dicom_data / "rtutils-mock" / "mock_data",
            rtstruct=dicom_data / "rtutils-mock" / "mock_data" / "invalid_reference_rt.dcm",
            repair=True,
        )
    assert {f: sha256_tree(dicom_data / f) for f in folders} == before
