"""read_rtstruct on structure sets written by rtwin and edited into odd but realistic shapes."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from rtwin.anatomy import Image, Structure, StructureSet
from rtwin.errors import DicomError, RtwinWarning
from rtwin.geometry import Grid
from rtwin.io import read_image_series, read_rtstruct, role_of, write_rtstruct


@pytest.fixture
def written(phantom_folder):
    folder, _, structures, series = phantom_folder
    return folder / "RS.dcm", series, structures


def test_reads_on_series_image_and_grid(written):
    path, series, structures = written
    for reference in (series, series.image, series.grid):
        result = read_rtstruct(path, reference)
        assert list(result.structures) == ["Body", "PTV", "Ring"]
        for name, structure in structures.items():
            np.testing.assert_array_equal(result.structures[name].mask, structure.mask)
    assert result.structures["Body"].role.value == "external"
    assert result.structures["PTV"].role.value == "target"
    assert result.structures["Ring"].role.value == "organ_at_risk"
    assert result.structures["Body"].color == (10, 200, 30)
    assert result.skipped == () and result.repairs == ()
    assert result.frame_of_reference_uid == series.frame_of_reference_uid
    assert result.referenced_series_uids == (series.series_instance_uid,)


def test_ring_has_a_hole(written):
    path, series, _ = written
    ring = read_rtstruct(path, series).structures["Ring"]
    k, j, i = (n // 2 for n in series.grid.shape)
    assert ring.mask[k].any() and not ring.mask[k, j, i]  # the centre is in the hole


def test_links_by_roi_number_not_position(written):
    path, series, structures = written
    dataset = pydicom.dcmread(path)
    dataset.ROIContourSequence = Sequence(list(reversed(dataset.ROIContourSequence)))
    first, *rest = dataset.RTROIObservationsSequence
    dataset.RTROIObservationsSequence = Sequence([*rest, first])
    renumber = {1: 7, 2: 3, 3: 12}
    for item in dataset.StructureSetROISequence:
        item.ROINumber = renumber[item.ROINumber]
    for item in [*dataset.ROIContourSequence, *dataset.RTROIObservationsSequence]:
        item.ReferencedROINumber = renumber[item.ReferencedROINumber]
    dataset.save_as(path, enforce_file_format=True)
    result = read_rtstruct(path, series)
    assert list(result.structures) == ["Body", "PTV", "Ring"]
    assert result.structures["Body"].role.value == "external"
    assert result.structures["Body"].color == (10, 200, 30)
    np.testing.assert_array_equal(result.structures["Ring"].mask, structures["Ring"].mask)


def test_frame_of_reference_mismatch_names_both(written):
    path, series, _ = written
    dataset = pydicom.dcmread(path)
    other = "1.2.826.0.1.3680043.8.498.1"
    dataset.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = other
    for item in dataset.StructureSetROISequence:
        item.ReferencedFrameOfReferenceUID = other
    dataset.save_as(path, enforce_file_format=True)
    with pytest.raises(DicomError) as error:
        read_rtstruct(path, series)
    message = str(error.value)
    assert other in message and series.frame_of_reference_uid in message
    assert "ignore_frame_of_reference=True" in message and "may be wrong" in message
    with pytest.warns(RtwinWarning, match="differs from the image's"):
        result = read_rtstruct(path, series, ignore_frame_of_reference=True)
    assert len(result.structures) == 3
    # a Grid has no frame of reference: checked only against an explicit UID
    assert len(read_rtstruct(path, series.grid).structures) == 3
    with pytest.raises(DicomError, match="frame of reference"):
        read_rtstruct(path, series.grid, frame_of_reference_uid=series.frame_of_reference_uid)


def test_empty_frame_of_reference_means_unknown(written):
    path, series, _ = written
    dataset = pydicom.dcmread(path)
    del dataset.ReferencedFrameOfReferenceSequence
    for item in dataset.StructureSetROISequence:
        item.ReferencedFrameOfReferenceUID = ""
    dataset.save_as(path, enforce_file_format=True)
    result = read_rtstruct(path, series)
    assert len(result.structures) == 3
    assert any("frame of reference not checked" in note for note in result.notes)


def _add_roi(dataset, number, name, kind, contours, interpreted=""):
    roi = Dataset()
    roi.ROINumber = number
    roi.ReferencedFrameOfReferenceUID = dataset.StructureSetROISequence[
        0
    ].ReferencedFrameOfReferenceUID
    roi.ROIName = name
    dataset.StructureSetROISequence.append(roi)
    item = Dataset()
    item.ReferencedROINumber = number
    item.ROIDisplayColor = [1, 2, 3]
    if contours is not None:
        sequence = []
        for points in contours:
            contour = Dataset()
            contour.ContourGeometricType = kind
            contour.NumberOfContourPoints = len(points)
            contour.ContourData = [f"{v:.4f}" for v in np.ravel(points)]
            sequence.append(contour)
        item.ContourSequence = Sequence(sequence)
    dataset.ROIContourSequence.append(item)
    observation = Dataset()
    observation.ObservationNumber = number
    observation.ReferencedROINumber = number
    observation.RTROIInterpretedType = interpreted
    observation.ROIInterpreter = ""
    dataset.RTROIObservationsSequence.append(observation)


def test_points_open_and_empty_rois_are_skipped(written):
    path, series, _ = written
    center = series.grid.center_mm
    dataset = pydicom.dcmread(path)
    _add_roi(dataset, 10, "Iso", "POINT", [center[None, :]], "ISOCENTER")
    line = center + np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [5.0, 5.0, 0.0]])
    _add_roi(dataset, 11, "Line", "OPEN_PLANAR", [line])
    _add_roi(dataset, 12, "Empty", "CLOSED_PLANAR", None, "CTV")
    dataset.save_as(path, enforce_file_format=True)
    result = read_rtstruct(path, series)
    assert list(result.structures) == ["Body", "PTV", "Ring"]
    skipped = {s.name: s for s in result.skipped}
    assert skipped["Iso"].number == 10 and "POINT" in skipped["Iso"].reason
    assert "open contours" in skipped["Line"].reason
    assert "no contours" in skipped["Empty"].reason


def test_degenerate_contours_and_closing_points(written):
    path, series, structures = written
    center = series.grid.center_mm
    dataset = pydicom.dcmread(path)
    body = dataset.ROIContourSequence[0].ContourSequence
    first = body[0]
    points = np.array([float(v) for v in first.ContourData]).reshape(-1, 3)
    first.ContourData = [f"{v:.6f}" for v in np.vstack([points, points[:1]]).ravel()]
    first.NumberOfContourPoints = len(points) + 1
    flat = Dataset()
    flat.ContourGeometricType = "CLOSED_PLANAR"
    z = points[0, 2]
    line = np.array(
        [[center[0], center[1], z], [center[0] + 5, center[1], z], [center[0] + 10, center[1], z]]
    )
    flat.ContourData = [f"{v:.4f}" for v in line.ravel()]
    flat.NumberOfContourPoints = 3
    body.append(flat)
    dataset.save_as(path, enforce_file_format=True)
    result = read_rtstruct(path, series)
    np.testing.assert_array_equal(result.structures["Body"].mask, structures["Body"].mask)
    assert any("degenerate" in note for note in result.notes)
    assert any("closing point" in note for note in result.notes)


def test_duplicate_and_missing_names_are_reported_repairs(written):
    path, series, _ = written
    dataset = pydicom.dcmread(path)
    dataset.StructureSetROISequence[1].ROIName = "Body"
    dataset.StructureSetROISequence[2].ROIName = ""
    dataset.save_as(path, enforce_file_format=True)
    with pytest.warns(RtwinWarning) as caught:
        result = read_rtstruct(path, series)
    assert list(result.structures) == ["Body (ROI 1)", "Body (ROI 2)", "ROI 3"]
    assert len(caught) == 3


def test_wrong_modality_tag_is_read_by_sop_class(written):
    path, series, _ = written
    dataset = pydicom.dcmread(path)
    dataset.Modality = "RTDOSE"
    dataset.save_as(path, enforce_file_format=True)
    with pytest.warns(RtwinWarning, match="Modality 'RTDOSE' but SOP class RT Structure Set"):
        result = read_rtstruct(path, series)
    assert len(result.structures) == 3


def test_not_a_structure_set(written):
    _, series, _ = written
    with pytest.raises(DicomError, match="not an RT Structure Set"):
        read_rtstruct(series.files[0], series)
    with pytest.raises(DicomError, match="needs the image"):
        read_rtstruct(written[0], "not an image")


def test_contours_outside_the_grid(written):
    path, series, structures = written
    cropped = series.grid.subgrid((slice(2, 14), slice(0, 60), slice(0, 90)))
    with pytest.raises(DicomError) as error:
        read_rtstruct(path, cropped)
    assert "outside the image grid" in str(error.value) and "repair=True" in str(error.value)
    with pytest.warns(RtwinWarning, match="clipped to the image grid"):
        result = read_rtstruct(path, cropped, repair=True)
    np.testing.assert_array_equal(result.structures["Body"].mask, structures["Body"].mask[2:14])


def test_missing_referenced_images(written):
    path, series, _ = written
    dataset = pydicom.dcmread(path)
    images = dataset.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    missing = Dataset()
    missing.ReferencedSOPClassUID = pydicom.uid.CTImageStorage
    missing.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.99"
    images.RTReferencedSeriesSequence[0].ContourImageSequence.append(missing)
    dataset.save_as(path, enforce_file_format=True)
    with pytest.raises(DicomError, match="references 1 image.*not in series"):
        read_rtstruct(path, series)
    with pytest.warns(RtwinWarning, match="references 1 image"):
        assert len(read_rtstruct(path, series, repair=True).structures) == 3


def test_contours_between_slices_take_the_nearest_plane(tmp_path):
    grid = Grid.from_spacing((5, 20, 20), spacing_mm=(1.0, 1.0, 2.0))
    square = [
        [3.5, 3.5, 0.6],
        [13.5, 3.5, 0.6],
        [13.5, 13.5, 0.6],
        [3.5, 13.5, 0.6],
    ]  # 0.3 slice off k=0
    dataset = _minimal_rtstruct([np.array(square, dtype=float)])
    path = tmp_path / "rs.dcm"
    dataset.save_as(path, enforce_file_format=True)
    result = read_rtstruct(path, grid)
    mask = result.structures["Square"].mask
    assert mask[0].sum() == 100 and mask[1:].sum() == 0
    assert any("nearest contour plane" in note for note in result.notes)


def test_contours_fill_slabs_of_the_contour_spacing_on_a_finer_grid(tmp_path):
    def square(z):
        return np.array([[3.5, 3.5, z], [13.5, 3.5, z], [13.5, 13.5, z], [3.5, 13.5, z]])

    # planes every 2 mm (0-4 mm) and a separate lesion at 20 mm: on a 0.5 mm grid each
    # plane fills [p - 1, p + 1) mm; the gap to the lesion stays empty
    planes = [square(z) for z in (0.0, 2.0, 4.0, 20.0, 22.0)]
    path = tmp_path / "rs.dcm"
    _minimal_rtstruct(planes).save_as(path, enforce_file_format=True)
    fine = Grid.from_spacing((56, 20, 20), spacing_mm=(1.0, 1.0, 0.5), origin_mm=(0, 0, -2.75))
    result = read_rtstruct(path, fine)
    slice_z = -2.75 + 0.5 * np.arange(56)
    filled = slice_z[result.structures["Square"].mask.any(axis=(1, 2))]
    expected = np.concatenate([np.arange(-0.75, 5.0, 0.5), np.arange(19.25, 23.0, 0.5)])
    np.testing.assert_allclose(filled, expected)
    assert any("each contour fills a 2 mm slab" in note for note in result.notes)
    # on the grid the contours were drawn on, one slice per plane as before
    coarse = Grid.from_spacing((12, 20, 20), spacing_mm=(1.0, 1.0, 2.0))
    mask = read_rtstruct(path, coarse).structures["Square"].mask
    assert np.flatnonzero(mask.any(axis=(1, 2))).tolist() == [0, 1, 2, 10, 11]
    assert result.structures["Square"].volume_cc == pytest.approx(
        read_rtstruct(path, coarse).structures["Square"].volume_cc
    )


def _minimal_rtstruct(contours):
    dataset = Dataset()
    dataset.file_meta = pydicom.dataset.FileMetaDataset()
    dataset.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    dataset.file_meta.MediaStorageSOPClassUID = pydicom.uid.RTStructureSetStorage
    dataset.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    dataset.SOPClassUID = pydicom.uid.RTStructureSetStorage
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID
    dataset.Modality = "RTSTRUCT"
    dataset.StructureSetROISequence = Sequence()
    dataset.ROIContourSequence = Sequence()
    dataset.RTROIObservationsSequence = Sequence()
    roi = Dataset()
    roi.ROINumber = 1
    roi.ReferencedFrameOfReferenceUID = ""
    roi.ROIName = "Square"
    dataset.StructureSetROISequence.append(roi)
    item = Dataset()
    item.ReferencedROINumber = 1
    sequence = []
    for points in contours:
        contour = Dataset()
        contour.ContourGeometricType = "CLOSED_PLANAR"
        contour.NumberOfContourPoints = len(points)
        contour.ContourData = [f"{v:.4f}" for v in points.ravel()]
        sequence.append(contour)
    item.ContourSequence = Sequence(sequence)
    dataset.ROIContourSequence.append(item)
    return dataset


@pytest.mark.parametrize(
    ("kind", "role"),
    [
        ("EXTERNAL", "external"),
        ("PTV", "target"),
        ("ctv", "target"),
        ("GTV", "target"),
        ("ORGAN", "organ_at_risk"),
        ("AVOIDANCE", "organ_at_risk"),
        ("SUPPORT", "support"),
        ("FIXATION", "support"),
        ("BOLUS", "support"),
        ("MARKER", "other"),
        ("ISOCENTER", "other"),
        ("", "other"),
    ],
)
def test_role_of(kind, role):
    assert role_of(kind).value == role


# ---------------------------------------------------------------------- writing
def test_written_structure_set_is_valid_and_references_the_series(written):
    path, series, _ = written
    assert path.read_bytes()[128:132] == b"DICM"
    dataset = pydicom.dcmread(path)  # no force: a proper Part 10 file
    meta = dataset.file_meta
    assert meta.MediaStorageSOPClassUID == pydicom.uid.RTStructureSetStorage
    assert meta.MediaStorageSOPInstanceUID == dataset.SOPInstanceUID
    assert meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    for uid in (dataset.SOPInstanceUID, dataset.SeriesInstanceUID, dataset.StudyInstanceUID):
        assert pydicom.uid.UID(uid).is_valid
    assert dataset.Modality == "RTSTRUCT" and dataset.StructureSetLabel == "rtwin"
    assert dataset.StudyInstanceUID == series.study_instance_uid
    assert dataset.PatientID == "MRN-REAL-0042"  # copied from the series
    frame = dataset.ReferencedFrameOfReferenceSequence[0]
    assert frame.FrameOfReferenceUID == series.frame_of_reference_uid
    study = frame.RTReferencedStudySequence[0]
    assert study.ReferencedSOPInstanceUID == series.study_instance_uid
    referenced = study.RTReferencedSeriesSequence[0]
    assert referenced.SeriesInstanceUID == series.series_instance_uid
    assert [c.ReferencedSOPInstanceUID for c in referenced.ContourImageSequence] == list(
        series.slice_sop_instance_uids
    )
    positions = {
        uid: k for k, uid in enumerate(series.slice_sop_instance_uids)
    }  # each contour names the image of its own slice
    for roi_contour in dataset.ROIContourSequence:
        for contour in roi_contour.ContourSequence:
            points = np.array([float(v) for v in contour.ContourData]).reshape(-1, 3)
            assert contour.NumberOfContourPoints == len(points)
            k = series.grid.patient_to_index(points)[:, 2]
            image = contour.ContourImageSequence[0]
            assert image.ReferencedSOPClassUID == pydicom.uid.CTImageStorage
            np.testing.assert_allclose(k, positions[image.ReferencedSOPInstanceUID], atol=1e-6)
    types = [o.RTROIInterpretedType for o in dataset.RTROIObservationsSequence]
    assert types == ["EXTERNAL", "PTV", "ORGAN"]
    numbers = [r.ROINumber for r in dataset.StructureSetROISequence]
    assert numbers == [c.ReferencedROINumber for c in dataset.ROIContourSequence] == [1, 2, 3]


def test_write_rtstruct_refuses_to_overwrite_and_other_grids(written, tmp_path):
    path, series, structures = written
    before = path.read_bytes()
    with pytest.raises(DicomError, match="already exist.*overwrite=True"):
        write_rtstruct(structures, series, path)
    assert path.read_bytes() == before
    write_rtstruct(structures, series, path, overwrite=True, label="second")
    assert pydicom.dcmread(path).StructureSetLabel == "second"
    other = Grid.from_spacing((3, 4, 5), spacing_mm=1.0)
    box = Structure(name="Box", mask=np.ones(other.shape, bool), grid=other)
    with pytest.raises(DicomError, match="resample them first"):
        write_rtstruct(StructureSet([box]), series, tmp_path / "x.dcm")
    with pytest.raises(DicomError, match="label 'a label longer than 16'.*at most 16"):
        write_rtstruct(structures, series, tmp_path / "y.dcm", label="a label longer than 16")
    assert not (tmp_path / "y.dcm").exists()


def test_write_rtstruct_from_a_series_folder(written, tmp_path):
    _, series, structures = written
    target = tmp_path / "again.dcm"
    write_rtstruct(structures, series.files[0].parent, target)
    result = read_rtstruct(target, read_image_series(series.files[0].parent))
    for name, structure in structures.items():
        np.testing.assert_array_equal(result.structures[name].mask, structure.mask)


def test_empty_structure_is_written_without_contours(written, tmp_path):
    _, series, structures = written
    empty = Structure(name="Nothing", mask=np.zeros(series.grid.shape, bool), grid=series.grid)
    target = tmp_path / "rs.dcm"
    write_rtstruct(structures.with_structures(empty), series, target)
    result = read_rtstruct(target, series)
    assert [s.name for s in result.skipped] == ["Nothing"]
    assert "Nothing" not in result.structures


def test_write_image_series_refuses_to_overwrite(write_series, small_grid, slice_coded_ct):
    ct = slice_coded_ct(small_grid)
    first = write_series(ct)
    before = first.files[0].read_bytes()
    with pytest.raises(DicomError, match="6 file\\(s\\) to be written already exist"):
        write_series(ct)
    assert first.files[0].read_bytes() == before
    again = write_series(ct, overwrite=True)
    assert again.series_instance_uid != first.series_instance_uid
    density = Image(values=np.ones(small_grid.shape), grid=small_grid, modality="density")
    with pytest.raises(DicomError, match="only CT and MR"):
        write_series(density, "density")
    with pytest.raises(DicomError, match="not a valid DICOM UID"):
        write_series(ct, "bad", frame_of_reference_uid="1.02.x")
    with pytest.raises(DicomError, match="patient_id 'x+' .*at most 64"):
        write_series(ct, "long", patient_id="x" * 80)


def test_written_image_files_are_valid(write_series, small_grid, slice_coded_ct):
    series = write_series(slice_coded_ct(small_grid), series_description="planning")
    for k, path in enumerate(series.files):
        assert path.read_bytes()[128:132] == b"DICM"
        dataset = pydicom.dcmread(path)
        pydicom.dataset.validate_file_meta(dataset.file_meta, enforce_standard=True)
        assert dataset.SOPClassUID == pydicom.uid.CTImageStorage
        assert dataset.SOPInstanceUID == series.slice_sop_instance_uids[k]
        assert dataset.InstanceNumber == k + 1
        assert dataset.RescaleSlope == 1 and dataset.RescaleType == "HU"
        assert dataset.pixel_array.dtype == np.int16
        assert dataset.PixelRepresentation == 1
        for keyword in ("FrameOfReferenceUID", "StudyInstanceUID", "SeriesInstanceUID"):
            assert pydicom.uid.UID(dataset[keyword].value).is_valid
        np.testing.assert_allclose(
            [float(v) for v in dataset.ImagePositionPatient],
            small_grid.index_to_patient([0, 0, k]),
        )


def test_float_values_quantised_within_half_a_step(write_series, small_grid):
    rng = np.random.default_rng(1)
    ct = Image(values=rng.normal(0, 300, small_grid.shape), grid=small_grid, modality="CT")
    written = write_series(ct, "ct")
    read = read_image_series(written.files[0].parent)
    assert np.max(np.abs(read.image.values - ct.values)) <= 0.5 + 1e-4
    np.testing.assert_array_equal(read.image.values, written.image.values)
    mr = Image(values=rng.uniform(0, 1, small_grid.shape), grid=small_grid, modality="MR")
    written = write_series(mr, "mr")
    slope = float(pydicom.dcmread(written.files[0]).RescaleSlope)
    read = read_image_series(written.files[0].parent)
    assert slope < 1e-4
    assert np.max(np.abs(read.image.values - mr.values)) <= slope / 2 + 1e-6


# ---------------------------------------------------------------------- unreadable and split contours
def _patch_contour_data(path, roi_index: int, contour_index: int, corrupt) -> str:
    """Corrupt one contour's ContourData in the file's bytes; returns its ContourNumber."""
    dataset = pydicom.dcmread(path)
    contour = dataset.ROIContourSequence[roi_index].ContourSequence[contour_index]
    original = "\\".join(str(v) for v in contour.ContourData).encode()
    data = path.read_bytes()
    assert data.count(original) == 1
    path.write_bytes(data.replace(original, corrupt(original), 1))
    return str(contour.ContourNumber)


def test_one_unreadable_contour_is_an_error_or_a_reported_repair(written):
    path, series, structures = written
    ptv = structures["PTV"]
    k_of_third = 2  # the PTV's third contour lies on one slice of the ball
    dataset = pydicom.dcmread(path)
    third = dataset.ROIContourSequence[1].ContourSequence[k_of_third]
    points = np.array([float(v) for v in third.ContourData]).reshape(-1, 3)
    k = round(float(series.grid.patient_to_index(points)[0, 2]))
    number = _patch_contour_data(path, 1, k_of_third, lambda b: b.replace(b".", b",", 1))
    with pytest.raises(DicomError) as error:
        read_rtstruct(path, series)
    message = str(error.value)
    assert "'PTV'" in message and f"ContourNumber {number}" in message
    assert "repair=True" in message
    with pytest.warns(RtwinWarning, match=rf"ROI 'PTV'.*unreadable.*ContourNumber {number}"):
        result = read_rtstruct(path, series, repair=True)
    read = result.structures["PTV"].mask
    assert not read[k].any() and ptv.mask[k].any()  # the broken contour's plane is lost ...
    others = np.ones(series.grid.shape[0], bool)
    others[k] = False
    np.testing.assert_array_equal(read[others], ptv.mask[others])  # ... and only that one
    assert any(f"ContourNumber {number}" in r for r in result.repairs)
    np.testing.assert_array_equal(result.structures["Body"].mask, structures["Body"].mask)


def test_roi_contour_items_for_one_roi_are_merged_as_a_repair(written):
    path, series, structures = written
    dataset = pydicom.dcmread(path)
    item = dataset.ROIContourSequence[1]  # PTV
    contours = list(item.ContourSequence)
    half = len(contours) // 2
    second = Dataset()
    second.ReferencedROINumber = item.ReferencedROINumber
    second.ROIDisplayColor = list(item.ROIDisplayColor)
    # the second item repeats the first contour exactly and holds the rest
    second.ContourSequence = Sequence([contours[0], *contours[half:]])
    item.ContourSequence = Sequence(contours[:half])
    dataset.ROIContourSequence.append(second)
    dataset.save_as(path, enforce_file_format=True)
    with pytest.warns(RtwinWarning, match=r"ROI 'PTV' \(number 2\) has 2 ROIContourSequence items"):
        result = read_rtstruct(path, series)
    np.testing.assert_array_equal(result.structures["PTV"].mask, structures["PTV"].mask)
    assert any("merged" in r and "1 contour repeated" in r for r in result.repairs)
