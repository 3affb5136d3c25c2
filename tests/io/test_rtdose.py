"""RT Dose: round trips within the uint32 scaling, header geometry, real files, odd files, identity."""

from __future__ import annotations

import shutil
import subprocess
import warnings

import numpy as np
import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from rtwin.anatomy import Image
from rtwin.dose import Dose
from rtwin.errors import DicomError, RtwinWarning
from rtwin.geometry import Grid
from rtwin.io import RTDose, read_rtdose, write_image_series, write_rtdose

DCIODVFY = shutil.which("dciodvfy")


def _smooth_dose(grid: Grid, peak_gy: float = 62.0) -> Dose:
    """A Gaussian-ish dose with a long low tail (small values exercise the scaling)."""
    centre = grid.center_mm
    points = grid.voxel_centers_mm() - centre
    r2 = np.sum(points**2, axis=-1)
    return Dose(values=peak_gy * np.exp(-r2 / (2 * 12.0**2)) + 1e-4, grid=grid, description="test")


def _file_values(path) -> tuple[np.ndarray, float]:
    """Dose in the file, computed with pydicom alone: stored x DoseGridScaling (float64)."""
    dataset = pydicom.dcmread(path)
    scaling = float(dataset.DoseGridScaling)
    return dataset.pixel_array.astype(np.float64) * scaling, scaling


def _check_round_trip(dose: Dose, path) -> RTDose:
    written = write_rtdose(dose, path, patient_id="pseudo-1", referenced_plan_uid="1.2.3.4")
    read = read_rtdose(path)
    assert read.grid == dose.grid
    original = dose.values.astype(np.float64)
    # the file holds every voxel within DoseGridScaling / 2 (the uint32 quantization)
    in_file, scaling = _file_values(path)
    assert scaling == read.dose_grid_scaling == written.dose_grid_scaling
    assert np.abs(in_file - original).max() <= scaling / 2
    # read back as float32: within scaling / 2 plus the float32 rounding of the value read,
    # bit-identical wherever float32 is coarser than the scaling (above max / 256)
    back = read.dose.values.astype(np.float64)
    assert np.all(np.abs(back - original) <= scaling / 2 + np.spacing(dose.values))
    high = dose.values > dose.max_gy / 256
    np.testing.assert_array_equal(read.dose.values[high], dose.values[high])
    np.testing.assert_array_equal(read.dose.values, written.dose.values)
    assert read.dose.description == written.dose.description
    assert read.dose_units == "GY" and read.summation_type == "PLAN"
    assert read.referenced_plan_uids == ("1.2.3.4",)
    assert read.repairs == ()
    return read


# ---------------------------------------------------------------- round trips
def test_round_trip_non_square_pixels_off_origin(tmp_path):
    grid = Grid.from_spacing(
        (7, 9, 11), spacing_mm=(0.9, 1.3, 2.5), origin_mm=(-100.5, 37.2, -20.0)
    )
    read = _check_round_trip(_smooth_dose(grid), tmp_path / "RD.dcm")
    assert read.dose.description == "RTDOSE PLAN"  # no SeriesDescription written
    assert read.dose.values.dtype == np.float32


def test_round_trip_oblique_grid(tmp_path):
    direction = Rotation.from_euler("zyx", [25.0, 10.0, -5.0], degrees=True).as_matrix()
    grid = Grid.from_spacing(
        (5, 8, 6), spacing_mm=(2.0, 3.0, 2.5), origin_mm=(10.0, -4.0, 3.0), direction=direction
    )
    _check_round_trip(_smooth_dose(grid), tmp_path / "RD.dcm")


def test_left_handed_grid_reads_back_as_the_same_voxels(tmp_path):
    grid = Grid.from_spacing(
        (4, 5, 6), spacing_mm=(2.0, 2.0, 3.0), origin_mm=(0, 0, 9.0), direction=np.diag([1, 1, -1])
    )
    k = np.indices(grid.shape)[0]
    dose = Dose(values=10.0 + k, grid=grid)
    write_rtdose(dose, tmp_path / "RD.dcm", patient_id="p")
    assert [float(v) for v in pydicom.dcmread(tmp_path / "RD.dcm").GridFrameOffsetVector] == [
        0.0,
        -3.0,
        -6.0,
        -9.0,
    ]
    read = read_rtdose(tmp_path / "RD.dcm")
    assert "decreasing order" in " ".join(read.notes)
    np.testing.assert_allclose(read.grid.origin_mm, [0, 0, 0])
    np.testing.assert_allclose(read.grid.direction, np.eye(3))
    np.testing.assert_allclose(read.dose.values, dose.values[::-1], rtol=1e-7)
    points = grid.voxel_centers_mm().reshape(-1, 3)
    np.testing.assert_allclose(read.dose.at(points), dose.at(points), rtol=1e-6)


def test_zero_dose_and_single_frame(tmp_path):
    grid = Grid.from_spacing((1, 3, 4), spacing_mm=(2.0, 2.0, 4.0))
    zero = Dose(values=np.zeros(grid.shape), grid=grid)
    read = read_rtdose(write_rtdose(zero, tmp_path / "zero.dcm", patient_id="p").path)
    assert read.dose_grid_scaling == 1.0 and read.dose.max_gy == 0.0
    assert read.grid == grid  # a single frame takes its thickness from SliceThickness


def test_header_geometry_is_the_grid(tmp_path):
    grid = Grid.from_spacing((3, 4, 5), spacing_mm=(0.9, 1.3, 2.5), origin_mm=(-100.5, 37.2, -20.0))
    write_rtdose(_smooth_dose(grid), tmp_path / "RD.dcm", patient_id="p")
    ds = pydicom.dcmread(tmp_path / "RD.dcm")
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.481.2" and ds.Modality == "RTDOSE"
    assert [float(v) for v in ds.ImagePositionPatient] == [-100.5, 37.2, -20.0]
    assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert [float(v) for v in ds.PixelSpacing] == [1.3, 0.9]  # (row spacing = j, column = i)
    assert [float(v) for v in ds.GridFrameOffsetVector] == [0.0, 2.5, 5.0]
    assert (ds.NumberOfFrames, ds.Rows, ds.Columns) == (3, 4, 5)
    assert (ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation) == (32, 32, 31, 0)
    assert ds.FrameIncrementPointer == pydicom.tag.Tag("GridFrameOffsetVector")
    assert (ds.DoseUnits, ds.DoseType, ds.DoseSummationType) == ("GY", "PHYSICAL", "PLAN")
    assert ds.pixel_array.dtype == np.uint32 and int(ds.pixel_array.max()) == 2**32 - 1
    assert len(str(ds.DoseGridScaling)) <= 16


@given(st.floats(min_value=1e-6, max_value=1e4))
def test_scaling_fits_uint32_and_is_tight(max_gy):
    from rtwin.io._rtdose import _scaling
    from rtwin.io._write import _ds

    scaling = _scaling(max_gy)
    assert float(_ds(scaling)) == scaling  # the value written is the value used
    assert len(_ds(scaling)) <= 16
    assert round(max_gy / scaling) <= 2**32 - 1
    assert scaling <= max_gy / (2**32 - 1) * (1 + 1e-8)


# ---------------------------------------------------------------- identity and references
@pytest.fixture
def identified_series(tmp_path):
    grid = Grid.from_spacing((3, 6, 8), spacing_mm=(2.0, 2.0, 3.0))
    ct = Image(values=np.zeros(grid.shape), grid=grid, modality="CT")
    series = write_image_series(ct, tmp_path / "ct", patient_id="MRN-12345")
    for path in series.files:
        dataset = pydicom.dcmread(path)
        dataset.PatientName = "Doe^Jane"
        dataset.PatientBirthDate = "19600101"
        dataset.AccessionNumber = "ACC-998877"
        dataset.ReferringPhysicianName = "House^Gregory"
        dataset.save_as(path, enforce_file_format=True)
    return series


def _dose_on(grid: Grid) -> Dose:
    return Dose(values=np.full(grid.shape, 2.0), grid=grid)


def test_series_reference_copies_only_the_patient_id(identified_series, tmp_path):
    series = identified_series
    written = write_rtdose(_dose_on(series.grid), tmp_path / "RD.dcm", reference=series)
    ds = pydicom.dcmread(written.path)
    assert ds.PatientID == "MRN-12345" and str(ds.PatientName) == "MRN-12345"
    assert ds.FrameOfReferenceUID == series.frame_of_reference_uid == written.frame_of_reference_uid
    assert ds.StudyInstanceUID == series.study_instance_uid
    data = written.path.read_bytes()
    for secret in ("Doe^Jane", "19600101", "ACC-998877", "House^Gregory"):
        assert secret.encode() not in data
    pseudonymous = write_rtdose(
        _dose_on(series.grid), tmp_path / "RD2.dcm", reference=series, patient_id="a1b2"
    )
    ds = pydicom.dcmread(pseudonymous.path)
    assert ds.PatientID == "a1b2" and b"MRN-12345" not in pseudonymous.path.read_bytes()
    copied = write_rtdose(
        _dose_on(series.grid), tmp_path / "RD3.dcm", reference=series, copy_patient_identity=True
    )
    ds = pydicom.dcmread(copied.path)
    assert (str(ds.PatientName), ds.PatientBirthDate, ds.AccessionNumber) == (
        "Doe^Jane",
        "19600101",
        "ACC-998877",
    )


def test_patient_reference_and_uids(tmp_path):
    import rtwin

    patient = rtwin.phantoms.water_box(size_mm=40, voxel_mm=5)
    written = write_rtdose(_dose_on(patient.grid), tmp_path / "RD.dcm", reference=patient)
    ds = pydicom.dcmread(written.path)
    assert ds.PatientID == patient.patient_id
    assert written.frame_of_reference_uid  # the phantom has none: a new frame
    assert "references no RT Plan" in written.notes[0]
    framed = rtwin.patient.Patient(
        image=patient.image,
        structures=patient.structures,
        patient_id="pseudo-7",
        frame_of_reference_uid="1.2.3.99",
    )
    read = read_rtdose(
        write_rtdose(_dose_on(patient.grid), tmp_path / "RD2.dcm", reference=framed).path
    )
    assert read.frame_of_reference_uid == "1.2.3.99"
    assert read.referenced_plan_uids == () and read.summation_type == "PLAN"
    with pytest.raises(DicomError, match="frame_of_reference_uid '1.2.3.5' contradicts"):
        write_rtdose(
            _dose_on(patient.grid),
            tmp_path / "RD3.dcm",
            reference=framed,
            frame_of_reference_uid="1.2.3.5",
        )
    given = write_rtdose(
        _dose_on(patient.grid),
        tmp_path / "RD4.dcm",
        patient_id="p",
        frame_of_reference_uid="1.2.7",
        study_instance_uid="1.2.8",
        summation_type="fraction",
        referenced_plan_uid="1.2.9",
    )
    read = read_rtdose(given.path)
    assert (read.frame_of_reference_uid, read.study_instance_uid) == ("1.2.7", "1.2.8")
    assert (read.summation_type, read.referenced_plan_uids) == ("FRACTION", ("1.2.9",))
    assert pydicom.dcmread(given.path).ReferencedRTPlanSequence[0].ReferencedSOPClassUID == (
        "1.2.840.10008.5.1.4.1.1.481.5"
    )


def test_writer_errors(tmp_path, identified_series):
    grid = Grid.from_spacing((2, 3, 4), spacing_mm=2.0)
    dose = _dose_on(grid)
    with pytest.raises(DicomError, match="whose dose"):
        write_rtdose(dose, tmp_path / "RD.dcm")
    with pytest.raises(DicomError, match="negative values .* Clip them"):
        write_rtdose(
            Dose(values=np.full(grid.shape, -0.5), grid=grid), tmp_path / "RD.dcm", patient_id="p"
        )
    with pytest.raises(DicomError, match="unknown summation_type 'TOTAL'; use one of"):
        write_rtdose(dose, tmp_path / "RD.dcm", patient_id="p", summation_type="TOTAL")
    with pytest.raises(DicomError, match="unknown dose_type"):
        write_rtdose(dose, tmp_path / "RD.dcm", patient_id="p", dose_type="BIOLOGICAL")
    with pytest.raises(DicomError, match="not a valid DICOM UID"):
        write_rtdose(dose, tmp_path / "RD.dcm", patient_id="p", referenced_plan_uid="plan-1")
    with pytest.raises(DicomError, match="patient_id .* backslash"):
        write_rtdose(dose, tmp_path / "RD.dcm", patient_id="a\\b")
    with pytest.raises(DicomError, match="copy_patient_identity"):
        write_rtdose(dose, tmp_path / "RD.dcm", patient_id="p", copy_patient_identity=True)
    with pytest.raises(DicomError, match="either patient_id"):
        write_rtdose(
            dose,
            tmp_path / "RD.dcm",
            reference=identified_series,
            patient_id="p",
            copy_patient_identity=True,
        )
    with pytest.raises(DicomError, match="does not exist"):
        write_rtdose(dose, tmp_path / "missing" / "RD.dcm", patient_id="p")
    with pytest.raises(DicomError, match="needs an rtwin Dose"):
        write_rtdose(np.zeros((2, 3, 4)), tmp_path / "RD.dcm", patient_id="p")
    assert not (tmp_path / "RD.dcm").exists()


def test_refuses_to_overwrite(tmp_path):
    grid = Grid.from_spacing((2, 3, 4), spacing_mm=2.0)
    path = write_rtdose(_dose_on(grid), tmp_path / "RD.dcm", patient_id="p").path
    before = path.read_bytes()
    with pytest.raises(DicomError, match="already exist.*overwrite=True"):
        write_rtdose(_dose_on(grid).scaled(2.0), path, patient_id="p")
    assert path.read_bytes() == before
    write_rtdose(_dose_on(grid).scaled(2.0), path, patient_id="p", overwrite=True)
    assert read_rtdose(path).dose.max_gy == 4.0


# ---------------------------------------------------------------- odd files
def _written(tmp_path, grid=None, values=None, name="RD.dcm"):
    grid = grid or Grid.from_spacing((5, 3, 4), spacing_mm=(2.0, 2.0, 3.0), origin_mm=(0, 0, -6))
    if values is None:
        values = 10.0 + np.indices(grid.shape)[0] * np.ones(grid.shape)  # 10 + k
    path = tmp_path / name
    write_rtdose(Dose(values=values, grid=grid), path, patient_id="p")
    return path, grid


def _edit(path, change):
    dataset = pydicom.dcmread(path)
    change(dataset)
    dataset.save_as(path, enforce_file_format=True)


def test_uneven_frames_error_or_resample(tmp_path, sha256_tree):
    path, _ = _written(tmp_path)
    _edit(path, lambda ds: setattr(ds, "GridFrameOffsetVector", [0, 3, 6, 12, 15]))
    before = sha256_tree(path)
    with pytest.raises(DicomError, match="uneven gaps from 3 to 6 mm.*repair=True"):
        read_rtdose(path)
    with pytest.warns(RtwinWarning, match="resampled 5 frames onto 6 at a uniform 3 mm"):
        read = read_rtdose(path, repair=True)
    assert sha256_tree(path) == before
    assert read.grid.shape == (6, 3, 4)
    np.testing.assert_allclose(read.grid.spacing_mm, [2.0, 2.0, 3.0])
    # frames 10, 11, 12 at 0, 3, 6 mm, 13 at 12 mm, 14 at 15 mm; 9 mm interpolated: 12.5
    np.testing.assert_allclose(read.dose.values[:, 0, 0], [10, 11, 12, 12.5, 13, 14], rtol=1e-7)
    assert read.provenance.steps[-1].startswith("repaired: ")


def test_absolute_and_unexplained_frame_offsets(tmp_path):
    path, grid = _written(tmp_path)
    _edit(path, lambda ds: setattr(ds, "GridFrameOffsetVector", [-6, -3, 0, 3, 6]))  # absolute z
    read = read_rtdose(path)
    assert read.grid == grid
    assert "absolute z positions" in " ".join(read.notes)
    _edit(path, lambda ds: setattr(ds, "GridFrameOffsetVector", [5, 8, 11, 14, 17]))
    with pytest.raises(DicomError, match="starts at 5 mm, neither 0 .* nor the z"):
        read_rtdose(path)
    with pytest.warns(RtwinWarning, match="read as offsets relative to ImagePositionPatient"):
        read = read_rtdose(path, repair=True)
    np.testing.assert_allclose(read.grid.origin_mm, [0, 0, -1.0])
    _edit(path, lambda ds: setattr(ds, "GridFrameOffsetVector", [0, 3, 3, 6, 9]))
    with pytest.raises(DicomError, match="same offset"):
        read_rtdose(path)
    _edit(path, lambda ds: setattr(ds, "GridFrameOffsetVector", [0, 3, 6]))
    with pytest.raises(DicomError, match="3 values for 5 frames"):
        read_rtdose(path)
    _edit(path, lambda ds: delattr(ds, "GridFrameOffsetVector"))
    with pytest.raises(DicomError, match="no GridFrameOffsetVector"):
        read_rtdose(path)


def test_frames_out_of_order_are_sorted(tmp_path):
    path, grid = _written(tmp_path)
    _edit(path, lambda ds: setattr(ds, "GridFrameOffsetVector", [0, 6, 3, 9, 12]))
    read = read_rtdose(path)
    assert read.grid == grid
    np.testing.assert_allclose(read.dose.values[:, 0, 0], [10, 12, 11, 13, 14], rtol=1e-7)
    assert "out of order" in " ".join(read.notes)


def test_scaling_units_and_single_plane_problems(tmp_path):
    path, _ = _written(tmp_path)
    _edit(path, lambda ds: delattr(ds, "DoseGridScaling"))
    with pytest.raises(DicomError, match="DoseGridScaling is missing.*repair=True"):
        read_rtdose(path)
    with pytest.warns(RtwinWarning, match="no DoseGridScaling; 1 assumed"):
        assert read_rtdose(path, repair=True).dose.max_gy == float(np.float32(2**32 - 1))
    _edit(path, lambda ds: setattr(ds, "DoseGridScaling", "-1e-6"))
    with pytest.raises(DicomError, match="must be > 0"):
        read_rtdose(path)
    _edit(path, lambda ds: setattr(ds, "DoseGridScaling", "1e-8"))
    _edit(path, lambda ds: setattr(ds, "DoseUnits", "CGY"))
    with pytest.raises(DicomError, match="DoseUnits 'CGY' is not one DICOM defines"):
        read_rtdose(path)
    _edit(path, lambda ds: delattr(ds, "DoseUnits"))
    with pytest.raises(DicomError, match="DoseUnits is missing"):
        read_rtdose(path)
    with pytest.warns(RtwinWarning, match="no DoseUnits; read as GY"):
        read_rtdose(path, repair=True)
    grid = Grid.from_spacing((1, 3, 4), spacing_mm=2.0)
    single, _ = _written(tmp_path, grid=grid, values=np.ones(grid.shape), name="single.dcm")
    _edit(single, lambda ds: setattr(ds, "SliceThickness", ""))
    with pytest.raises(DicomError, match="single dose plane without SliceThickness"):
        read_rtdose(single)
    with pytest.warns(RtwinWarning, match="1 mm assumed"):
        assert read_rtdose(single, repair=True).grid.spacing_mm[2] == 1.0


def test_sixteen_bit_pixels_and_wrong_modality(tmp_path):
    path, _ = _written(tmp_path)

    def sixteen_bit(ds):
        stored = np.arange(60, dtype=np.uint16).reshape(5, 3, 4)
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelData = stored.astype("<u2").tobytes()
        ds.DoseGridScaling = "0.25"
        ds.Modality = "CT"

    _edit(path, sixteen_bit)
    with pytest.warns(RtwinWarning, match="Modality 'CT' but SOP class RT Dose Storage"):
        read = read_rtdose(path)
    np.testing.assert_array_equal(read.dose.values, np.arange(60).reshape(5, 3, 4) * 0.25)


def test_not_a_dose(tmp_path):
    grid = Grid.from_spacing((2, 3, 4), spacing_mm=2.0)
    series = write_image_series(
        Image(values=np.zeros(grid.shape), grid=grid, modality="CT"),
        tmp_path / "ct",
        patient_id="p",
    )
    with pytest.raises(DicomError, match="is CT .* not an RT Dose Storage object"):
        read_rtdose(series.files[0])
    path, _ = _written(tmp_path)
    _edit(path, lambda ds: delattr(ds, "PixelData"))
    with pytest.raises(DicomError, match="holds no dose grid"):
        read_rtdose(path)
    with pytest.raises(DicomError, match="does not exist"):
        read_rtdose(tmp_path / "nothing.dcm")


def test_reference_dose_only_for_relative_units(tmp_path):
    path, _ = _written(tmp_path)
    with pytest.raises(DicomError, match="applies to RELATIVE doses only"):
        read_rtdose(path, reference_dose_gy=2.0)


@pytest.mark.skipif(DCIODVFY is None, reason="dciodvfy (dicom3tools) is not installed")
def test_written_rtdose_passes_dciodvfy(tmp_path):
    """dicom3tools (2022) asserts on 32-bit pixel data, so the header is checked on a copy
    whose pixel data are re-encoded as 16 bits; everything else is the written file."""
    grid = Grid.from_spacing((3, 4, 5), spacing_mm=(0.9, 1.3, 2.5))
    path = write_rtdose(
        _smooth_dose(grid), tmp_path / "RD.dcm", patient_id="p", referenced_plan_uid="1.2.3.4"
    ).path
    dataset = pydicom.dcmread(path)
    stored = dataset.pixel_array
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 16, 15
    dataset.PixelData = (stored >> 16).astype("<u2").tobytes()
    copy = tmp_path / "RD16.dcm"
    dataset.save_as(copy, enforce_file_format=True)
    run = subprocess.run(
        [DCIODVFY, str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
    assert errors == []


# ---------------------------------------------------------------- real files
@pytest.mark.shared_data
def test_pydicom_rtdose_relative_units(dicom_data, sha256_tree):
    path = dicom_data / "pydicom-testfiles" / "rtdose.dcm"
    before = sha256_tree(path)
    with pytest.raises(DicomError, match="RELATIVE dose.*reference_dose_gy"):
        read_rtdose(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RtwinWarning and no pydicom warning escapes
        read = read_rtdose(path, reference_dose_gy=50.0)
    assert sha256_tree(path) == before
    # geometry from the header, computed here independently
    ds = pydicom.dcmread(path, force=True)
    ipp = np.array([float(v) for v in ds.ImagePositionPatient])
    offsets = np.array([float(v) for v in ds.GridFrameOffsetVector])
    assert read.grid.shape == (int(ds.NumberOfFrames), ds.Rows, ds.Columns) == (15, 10, 10)
    np.testing.assert_allclose(read.grid.origin_mm, ipp)
    np.testing.assert_allclose(
        read.grid.spacing_mm,
        [float(ds.PixelSpacing[1]), float(ds.PixelSpacing[0]), offsets[1] - offsets[0]],
    )
    np.testing.assert_allclose(
        read.grid.index_to_patient([3, 7, 11]), ipp + np.array([30.0, 70.0, 55.0])
    )
    # a dose value: raw pixel x DoseGridScaling x the reference dose
    raw = ds.pixel_array
    k, j, i = np.unravel_index(np.argmax(raw), raw.shape)
    expected = float(raw[k, j, i]) * float(ds.DoseGridScaling) * 50.0
    assert read.dose.values[k, j, i] == pytest.approx(expected, rel=1e-7)
    assert read.dose.values[4, 2, 7] == pytest.approx(raw[4, 2, 7] * 1e-6 * 50.0, rel=1e-7)
    assert (read.dose_units, read.dose_type, read.summation_type) == (
        "RELATIVE",
        "PHYSICAL",
        "BEAM",
    )
    assert read.frame_of_reference_uid == ds.FrameOfReferenceUID
    assert read.referenced_plan_uids == ("1.2.123.456.78.9.0123.4567.89012345678901",)
    assert any("Invalid value for VR UI" in n for n in read.notes)  # pydicom's complaint, as a note
    assert read.provenance.inputs[0][1] == before[str(path)]


@pytest.mark.shared_data
def test_eclipse_ent_dose_round_trip(shared_data, tmp_path):
    """A real Eclipse dose (NRRD, 176 x 88 x 136, max 62.6 Gy) through RTDOSE and back."""
    import SimpleITK as sitk

    source = shared_data / "dicom" / "slicerrt-eclipse-ent-gamma" / "EclipseEnt_Dose.nrrd"
    if not source.is_file():
        pytest.skip("EclipseEnt_Dose.nrrd is not present")
    image = sitk.ReadImage(str(source))
    grid = Grid.from_spacing(
        sitk.GetArrayViewFromImage(image).shape,
        spacing_mm=image.GetSpacing(),
        origin_mm=image.GetOrigin(),
        direction=np.array(image.GetDirection()).reshape(3, 3),
    )
    dose = Dose(values=sitk.GetArrayFromImage(image), grid=grid)
    assert dose.max_gy == pytest.approx(62.61, abs=0.01)
    read = _check_round_trip(dose, tmp_path / "RD.dcm")
    assert read.dose_grid_scaling == pytest.approx(62.612713 / (2**32 - 1), rel=1e-6)
    ds = pydicom.dcmread(tmp_path / "RD.dcm")
    np.testing.assert_allclose(
        [float(v) for v in ds.ImagePositionPatient], image.GetOrigin(), atol=1e-9
    )
