"""read_image_series on synthetic series: geometry, ordering, rescale, padding, repairs."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pydicom
import pytest

from rtwin.anatomy import Image
from rtwin.errors import DicomError, RtwinWarning
from rtwin.geometry import Grid
from rtwin.io import list_series, read_image_series


def test_round_trip_geometry_and_values(write_series, small_grid, slice_coded_ct):
    ct = slice_coded_ct(small_grid)
    written = write_series(ct)
    series = read_image_series(written.files[0].parent)
    assert series.grid.shape == small_grid.shape
    assert series.grid.is_same_as(small_grid, tolerance_mm=1e-6)
    np.testing.assert_array_equal(series.image.values, ct.values)
    assert series.image.modality.value == "CT"
    assert series.series_instance_uid == written.series_instance_uid
    assert series.frame_of_reference_uid == written.frame_of_reference_uid
    assert series.slice_sop_instance_uids == written.slice_sop_instance_uids
    assert series.patient_position.value == "HFS"
    assert series.repairs == ()
    assert len(series.provenance.inputs) == small_grid.shape[0]


def test_pixel_spacing_is_row_then_column(write_series, small_grid, slice_coded_ct):
    """DICOM PixelSpacing = (row spacing, column spacing) = (j, i): non-square pixels."""
    written = write_series(slice_coded_ct(small_grid))
    dataset = pydicom.dcmread(written.files[0])
    assert [float(v) for v in dataset.PixelSpacing] == [1.3, 0.9]
    assert (dataset.Rows, dataset.Columns) == (10, 12)
    series = read_image_series(written.files[0].parent)
    np.testing.assert_allclose(series.grid.spacing_mm, [0.9, 1.3, 2.5])
    # column index i runs along x: the value of voxel (k, j, i) encodes i
    assert series.image.values[0, 0, 5] == 5.0


def test_sorted_by_position_not_instance_number_or_file_name(
    write_series, small_grid, slice_coded_ct, edit_files
):
    written = write_series(slice_coded_ct(small_grid))
    n = len(written.files)

    def scramble(dataset, index):
        dataset.InstanceNumber = n - index  # reversed
        dataset.SliceLocation = str(float(index % 2))  # nonsense

    edit_files(written.files, scramble)
    folder = written.files[0].parent
    for index, path in enumerate(written.files):  # file names in scrambled order
        path.rename(folder / f"IMG_{(index * 7) % n:03d}.dcm")
    series = read_image_series(folder)
    assert np.array_equal(series.image.values[:, 0, 0], 100.0 * np.arange(n))


def test_oblique_orientation_round_trip(write_series, slice_coded_ct):
    angle = np.deg2rad(20.0)
    rotation = np.array(
        [
            [np.cos(angle), 0.0, np.sin(angle)],
            [0.0, 1.0, 0.0],
            [-np.sin(angle), 0.0, np.cos(angle)],
        ]
    ) @ np.array(
        [[1.0, 0.0, 0.0], [0.0, np.cos(0.3), -np.sin(0.3)], [0.0, np.sin(0.3), np.cos(0.3)]]
    )
    grid = Grid.from_spacing(
        (4, 7, 9), spacing_mm=(3.5, 2.5, 4.5), origin_mm=(123, -432, 30), direction=rotation
    )
    written = write_series(slice_coded_ct(grid))
    series = read_image_series(written.files[0].parent)
    assert not series.grid.is_axis_aligned
    assert series.grid.is_same_as(grid, tolerance_mm=1e-4)
    np.testing.assert_array_equal(series.image.values, slice_coded_ct(grid).values)


def test_several_series_listed_and_chosen(write_series, small_grid, tmp_path, slice_coded_ct):
    first = write_series(slice_coded_ct(small_grid), "a", series_description="planning CT")
    mr = Image(values=np.ones(small_grid.shape), grid=small_grid, modality="MR")
    second = write_series(mr, "b", series_description="T2")
    with pytest.raises(DicomError) as error:
        read_image_series(tmp_path)
    message = str(error.value)
    assert "2 image series" in message and "series_uid=" in message
    assert first.series_instance_uid in message and second.series_instance_uid in message
    assert "(CT, 6 files, 'planning CT')" in message and "(MR, 6 files, 'T2')" in message
    chosen = read_image_series(tmp_path, series_uid=second.series_instance_uid)
    assert chosen.image.modality.value == "MR"
    assert {s.modality for s in list_series(tmp_path)} == {"CT", "MR"}
    with pytest.raises(DicomError, match="not found"):
        read_image_series(tmp_path, series_uid="1.2.3.4")


def test_no_image_series(tmp_path):
    (tmp_path / "notes.txt").write_text("not DICOM")
    with pytest.raises(DicomError, match="no CT or MR image series"):
        read_image_series(tmp_path)
    with pytest.raises(DicomError, match="does not exist"):
        read_image_series(tmp_path / "missing")


def test_rescale_and_missing_rescale(write_series, small_grid, slice_coded_ct, edit_files):
    written = write_series(slice_coded_ct(small_grid))

    def rescale(dataset, index):
        if index == 0:
            dataset.RescaleSlope = "2"
            dataset.RescaleIntercept = "-1000"
        elif index == 1:
            del dataset.RescaleSlope
            del dataset.RescaleIntercept

    edit_files(written.files, rescale)
    folder = written.files[0].parent
    # Rescale tags on some CT slices but not on others: never silently slope 1 / intercept 0.
    with pytest.raises(DicomError, match=r"lack RescaleSlope/RescaleIntercept.*repair=True"):
        read_image_series(folder)
    with pytest.warns(RtwinWarning, match=r"1 CT file\(s\) lack RescaleSlope/RescaleIntercept"):
        series = read_image_series(folder, repair=True)
    assert series.image.values[0, 0, 3] == 2 * 3 - 1000
    assert series.image.values[1, 0, 3] == 103  # slope 1, intercept 0 assumed (a repair)
    assert any("intercept 0 assumed" in repair for repair in series.repairs)
    uid = written.slice_sop_instance_uids[1]
    assert any(uid in repair for repair in series.repairs)  # named by SOP instance UID


def test_ct_without_any_rescale_tags_is_an_error(
    write_series, small_grid, slice_coded_ct, edit_files
):
    written = write_series(slice_coded_ct(small_grid))
    edit_files(
        written.files, lambda d, i: (delattr(d, "RescaleIntercept"), delattr(d, "RescaleType"))
    )
    folder = written.files[0].parent
    with pytest.raises(DicomError, match=r"6 CT file\(s\) lack RescaleIntercept.*Type 1"):
        read_image_series(folder)
    with pytest.warns(RtwinWarning, match="intercept 0 assumed"):
        series = read_image_series(folder, repair=True)
    np.testing.assert_array_equal(series.image.values, slice_coded_ct(small_grid).values)


def _patch_bytes(path, old: bytes, new: bytes) -> None:
    data = path.read_bytes()
    assert data.count(old) == 1
    path.write_bytes(data.replace(old, new))


@pytest.mark.parametrize(
    ("keyword", "written_value", "corrupt"),
    [
        ("RescaleIntercept", "-1024", b"-1O24"),  # a letter O: once read as intercept 0
        ("RescaleSlope", "1.5", b"1,5"),
    ],
)
def test_unreadable_rescale_value_is_an_error_naming_file_and_tag(
    write_series, small_grid, slice_coded_ct, edit_files, keyword, written_value, corrupt
):
    written = write_series(slice_coded_ct(small_grid))
    edit_files(written.files[2:3], lambda d, i: setattr(d, keyword, written_value))
    _patch_bytes(written.files[2], written_value.encode(), corrupt)
    folder = written.files[0].parent
    for repair in (False, True):
        with pytest.raises(DicomError) as error:
            read_image_series(folder, repair=repair)
        message = str(error.value)
        assert written.files[2].name in message and keyword in message
        assert corrupt.decode() in message


def test_mr_rescale_on_some_slices_only_is_an_error(write_series, small_grid, edit_files):
    k = np.indices(small_grid.shape)[0]
    mr = Image(values=10.0 * k + 0.5, grid=small_grid, modality="MR")  # not integral: rescaled
    written = write_series(mr)
    assert "RescaleSlope" in pydicom.dcmread(written.files[0])
    edit_files(
        written.files[4:5],
        lambda d, i: (delattr(d, "RescaleSlope"), delattr(d, "RescaleIntercept")),
    )
    with pytest.raises(DicomError, match=r"1 MR file\(s\) lack RescaleSlope/RescaleIntercept"):
        read_image_series(written.files[0].parent)
    with pytest.warns(RtwinWarning, match="RescaleSlope/RescaleIntercept"):
        read_image_series(written.files[0].parent, repair=True)


def test_padding_becomes_air(write_series, small_grid, slice_coded_ct, edit_files):
    written = write_series(slice_coded_ct(small_grid))

    def pad(dataset, index):
        pixels = dataset.pixel_array.copy()
        pixels[:2, :] = -2000
        dataset.PixelData = pixels.astype("<i2").tobytes()
        dataset.add_new(0x00280120, "SS", -2000)  # PixelPaddingValue

    edit_files(written.files, pad)
    series = read_image_series(written.files[0].parent)
    assert np.all(series.image.values[:, :2, :] == -1000.0)
    assert series.image.values[2, 5, 5] == 205.0
    assert any("padding" in note and "-1000" in note for note in series.notes)


def test_missing_slice_raises_then_repairs(write_series, small_grid, slice_coded_ct):
    written = write_series(slice_coded_ct(small_grid))
    written.files[2].unlink()
    folder = written.files[0].parent
    with pytest.raises(DicomError, match=r"1 missing slice.*repair=True"):
        read_image_series(folder)
    with pytest.warns(RtwinWarning, match="missing slice.*resampled 5 slices onto 6"):
        series = read_image_series(folder, repair=True)
    assert series.grid.is_same_as(small_grid, tolerance_mm=1e-6)
    np.testing.assert_allclose(series.image.values[2], slice_coded_ct(small_grid).values[2])
    assert series.slice_sop_instance_uids[2] == ""
    assert series.slice_sop_instance_uids[3] == written.slice_sop_instance_uids[3]
    assert any(step.startswith("repaired:") for step in series.provenance.steps)


def test_uneven_gaps_raise_then_resample(write_series, small_grid, slice_coded_ct, edit_files):
    written = write_series(slice_coded_ct(small_grid))

    def shift(dataset, index):
        if index == 3:
            position = [float(v) for v in dataset.ImagePositionPatient]
            dataset.ImagePositionPatient = [position[0], position[1], position[2] + 1.0]

    edit_files(written.files, shift)
    folder = written.files[0].parent
    with pytest.raises(DicomError, match="uneven slice gaps from 1.5 to 3.5 mm"):
        read_image_series(folder)
    with pytest.warns(RtwinWarning, match="uneven slice gaps.*linear interpolation"):
        series = read_image_series(folder, repair=True)
    np.testing.assert_allclose(series.grid.spacing_mm[2], 12.5 / 8)
    assert series.grid.shape[0] == 9
    # linear along the normal: halfway between slice 0 (z=-20) and slice 1 (z=-17.5)
    z = series.grid.index_to_patient([[0, 0, 1]])[0, 2]
    expected = 100.0 * (z + 20.0) / 2.5
    np.testing.assert_allclose(series.image.values[1, 0, 0], expected, atol=1e-6)


def test_tolerates_position_jitter(write_series, small_grid, slice_coded_ct, edit_files):
    written = write_series(slice_coded_ct(small_grid))

    def jitter(dataset, index):
        position = [float(v) for v in dataset.ImagePositionPatient]
        dataset.ImagePositionPatient = [
            position[0],
            position[1],
            position[2] + 2e-6 * (-1) ** index,
        ]

    edit_files(written.files, jitter)
    series = read_image_series(written.files[0].parent)
    assert series.repairs == ()
    np.testing.assert_allclose(series.grid.spacing_mm[2], 2.5, atol=1e-5)


def test_duplicates_raise_then_drop(write_series, small_grid, slice_coded_ct):
    written = write_series(slice_coded_ct(small_grid))
    folder = written.files[0].parent
    shutil.copy(written.files[1], folder / "copy_of_slice_2.dcm")
    with pytest.raises(DicomError, match="duplicate image"):
        read_image_series(folder)
    with pytest.warns(RtwinWarning, match="dropped 1 exact duplicate"):
        series = read_image_series(folder, repair=True)
    assert series.grid.shape == small_grid.shape


def test_different_images_at_one_position_always_raise(
    write_series, small_grid, slice_coded_ct, edit_files
):
    written = write_series(slice_coded_ct(small_grid))
    folder = written.files[0].parent
    other = folder / "other_phase.dcm"
    shutil.copy(written.files[1], other)

    def change(dataset, index):
        dataset.SOPInstanceUID = pydicom.uid.generate_uid()
        dataset.PixelData = (dataset.pixel_array + 1).astype("<i2").tobytes()

    edit_files([other], change)
    for repair in (False, True):
        with pytest.raises(DicomError, match="hold different pixel values"):
            read_image_series(folder, repair=repair)


def test_inconsistent_slices_raise_then_drop_minority(
    write_series, small_grid, slice_coded_ct, edit_files
):
    written = write_series(slice_coded_ct(small_grid))

    def localizer(dataset, index):
        if index == 5:
            dataset.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]

    edit_files(written.files, localizer)
    folder = written.files[0].parent
    with pytest.raises(DicomError, match="differ in size, pixel spacing or orientation"):
        read_image_series(folder)
    with pytest.warns(RtwinWarning, match="dropped 1 file"):
        series = read_image_series(folder, repair=True)
    assert series.grid.shape[0] == 5


def test_sheared_series_raises(write_series, small_grid, slice_coded_ct, edit_files):
    written = write_series(slice_coded_ct(small_grid))

    def tilt(dataset, index):
        position = [float(v) for v in dataset.ImagePositionPatient]
        dataset.ImagePositionPatient = [position[0], position[1] + 0.5 * index, position[2]]

    edit_files(written.files, tilt)
    with pytest.raises(DicomError, match="gantry-tilted"):
        read_image_series(written.files[0].parent, repair=True)


def test_single_slice_spacing(write_series, slice_coded_ct, edit_files):
    grid = Grid.from_spacing((1, 8, 8), spacing_mm=(1.0, 1.0, 5.0))
    written = write_series(slice_coded_ct(grid))
    path = written.files[0]
    assert read_image_series(path).grid.spacing_mm[2] == pytest.approx(5.0)  # SliceThickness

    edit_files([path], lambda d, i: setattr(d, "SpacingBetweenSlices", "3.0"))
    assert read_image_series(path).grid.spacing_mm[2] == pytest.approx(3.0)

    def strip(dataset, index):
        del dataset.SpacingBetweenSlices
        del dataset.SliceThickness

    edit_files([path], strip)
    with pytest.raises(DicomError, match="single slice.*repair=True"):
        read_image_series(path)
    with pytest.warns(RtwinWarning, match="assumed to be 1 mm"):
        assert read_image_series(path, repair=True).grid.spacing_mm[2] == 1.0


def test_wrong_modality_tag_is_a_reported_repair(
    write_series, small_grid, slice_coded_ct, edit_files
):
    written = write_series(slice_coded_ct(small_grid))
    edit_files(written.files, lambda d, i: setattr(d, "Modality", "OT"))
    with pytest.warns(RtwinWarning, match="Modality 'OT' but SOP class CT"):
        series = read_image_series(written.files[0].parent)
    assert series.image.modality.value == "CT"


def test_file_without_preamble(write_series, small_grid, tmp_path, slice_coded_ct):
    written = write_series(slice_coded_ct(small_grid))
    folder = written.files[0].parent
    for path in written.files:
        dataset = pydicom.dcmread(path)
        del dataset.file_meta
        dataset.preamble = None
        pydicom.dcmwrite(path, dataset, implicit_vr=True, little_endian=True)
        assert path.read_bytes()[128:132] != b"DICM"
    series = read_image_series(folder)
    np.testing.assert_array_equal(series.image.values, slice_coded_ct(small_grid).values)
    assert any("no DICOM preamble" in note for note in series.notes)


def test_mr_without_rescale_round_trips(write_series, small_grid):
    mr = Image(
        values=np.arange(np.prod(small_grid.shape)).reshape(small_grid.shape) % 900,
        grid=small_grid,
        modality="MR",
    )
    written = write_series(mr)
    dataset = pydicom.dcmread(written.files[0])
    assert "RescaleSlope" not in dataset and dataset.SOPClassUID == pydicom.uid.MRImageStorage
    series = read_image_series(written.files[0].parent)
    assert series.image.modality.value == "MR" and series.image.units == "a.u."
    np.testing.assert_array_equal(series.image.values, mr.values)


def test_readers_leave_files_untouched(write_series, small_grid, slice_coded_ct, sha256_tree):
    written = write_series(slice_coded_ct(small_grid))
    folder = written.files[0].parent
    before = sha256_tree(folder)
    series = read_image_series(folder)
    assert sha256_tree(folder) == before
    assert {digest for _, digest in series.provenance.inputs} == set(before.values())
    assert all(re.fullmatch(r"CT [0-9.]+", label) for label, _ in series.provenance.inputs)
