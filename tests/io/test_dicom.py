"""read_dicom: round trip, structure-set choice, pseudonymization, provenance, MR."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pydicom
import pytest

from rtwin.anatomy import Image, StructureSet
from rtwin.errors import DicomError, RtwinWarning
from rtwin.geometry import Grid
from rtwin.io import (
    pseudonymize_id,
    read_dicom,
    read_image_series,
    read_rtstruct,
    write_image_series,
    write_rtstruct,
)
from rtwin.patient import hash_file


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def test_round_trip_dice_volume_and_values(phantom_folder, sha256_tree):
    """Acceptance: write_image_series + write_rtstruct -> read_dicom gives every structure
    Dice >= 0.98 and volume within 2 %; values within the int16 quantisation."""
    folder, ct, structures, series = phantom_folder
    before = sha256_tree(folder)
    patient = read_dicom(folder)
    assert sha256_tree(folder) == before  # nothing modified
    assert patient.grid.is_same_as(ct.grid, tolerance_mm=1e-6)
    np.testing.assert_allclose(patient.grid.spacing_mm, [0.9, 1.3, 2.5])
    np.testing.assert_allclose(patient.grid.origin_mm, [-100.5, 37.2, -20.0])
    assert np.max(np.abs(patient.image.values - ct.values)) <= 0.5 + 1e-4
    assert list(patient.structures) == list(structures)
    for name, structure in structures.items():
        read = patient.structures[name]
        assert _dice(read.mask, structure.mask) >= 0.98, name
        assert read.volume_cc == pytest.approx(structure.volume_cc, rel=0.02), name
        assert read.role == structure.role
    assert patient.frame_of_reference_uid == series.frame_of_reference_uid
    assert patient.position.value == "HFS"


def test_round_trip_on_an_oblique_grid(tmp_path, ball_structures):
    angle = np.deg2rad(25.0)
    direction = np.array(
        [[np.cos(angle), -np.sin(angle), 0.0], [np.sin(angle), np.cos(angle), 0.0], [0, 0, 1.0]]
    )
    grid = Grid.from_spacing(
        (12, 50, 70), spacing_mm=(1.1, 1.4, 3.0), origin_mm=(12.0, -40.0, 7.5), direction=direction
    )
    structures = ball_structures(grid)
    ct = Image(values=np.where(structures["Body"].mask, 0.0, -1000.0), grid=grid, modality="CT")
    series = write_image_series(ct, tmp_path, patient_id="oblique")
    write_rtstruct(structures, series, tmp_path / "RS.dcm")
    patient = read_dicom(tmp_path)
    assert patient.grid.is_same_as(grid, tolerance_mm=1e-4)
    for name, structure in structures.items():
        assert _dice(patient.structures[name].mask, structure.mask) >= 0.98


def test_pseudonymized_and_provenance(phantom_folder):
    folder, _, _, _ = phantom_folder
    keyed = read_dicom(folder, pseudonym_key="site secret")
    assert keyed.patient_id == pseudonymize_id("MRN-REAL-0042", key="site secret")
    assert read_dicom(folder, pseudonym_key=b"site secret").patient_id == keyed.patient_id
    unkeyed = [read_dicom(folder).patient_id for _ in range(2)]
    assert unkeyed[0] != unkeyed[1]  # a random key per call: not linkable
    assert keyed.patient_id not in unkeyed
    text = repr(keyed) + repr(keyed.provenance.to_dict()) + keyed.image.description
    for secret in ("MRN-REAL-0042", "Doe", "Jane"):
        assert secret not in text
    files = sorted(p for p in folder.rglob("*.dcm"))
    assert sorted(d for _, d in keyed.provenance.inputs) == sorted(hash_file(p) for p in files)
    assert any("pseudonymized PatientID" in step for step in keyed.provenance.steps)
    rs_uid = pydicom.dcmread(folder / "RS.dcm").SOPInstanceUID
    assert any(
        step.startswith(f"structure set chosen: {rs_uid}") for step in keyed.provenance.steps
    )


def test_several_structure_sets_listed_then_named(phantom_folder):
    folder, _, structures, _ = phantom_folder
    shutil.copy(folder / "RS.dcm", folder / "RS_copy.dcm")
    with pytest.raises(DicomError) as error:
        read_dicom(folder)
    message = str(error.value)
    assert "2 structure sets could belong" in message and "rtstruct=" in message
    assert "RS.dcm" in message and "RS_copy.dcm" in message
    patient = read_dicom(folder, rtstruct=folder / "RS_copy.dcm")
    assert list(patient.structures) == list(structures)


def test_structure_set_referencing_the_series_wins(phantom_folder, caplog):
    folder, _, _, _ = phantom_folder
    other = folder / "RS_frame_only.dcm"
    dataset = pydicom.dcmread(folder / "RS.dcm")
    del dataset.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = (
        pydicom.uid.generate_uid()
    )
    dataset.save_as(other, enforce_file_format=True)
    with caplog.at_level("INFO", logger="rtwin.io"):
        patient = read_dicom(folder)
    chosen = pydicom.dcmread(folder / "RS.dcm").SOPInstanceUID
    assert any(s.startswith(f"structure set chosen: {chosen}") for s in patient.provenance.steps)
    assert f"also found and not used: {dataset.SOPInstanceUID}" in caplog.text


def test_structure_set_of_another_series_is_not_used(phantom_folder):
    folder, _, _, _ = phantom_folder
    rs = folder / "RS.dcm"
    dataset = pydicom.dcmread(rs)
    frame = dataset.ReferencedFrameOfReferenceSequence[0]
    frame.FrameOfReferenceUID = "1.2.3.4"
    frame.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0].SeriesInstanceUID = "1.2.3.5"
    for item in dataset.StructureSetROISequence:
        item.ReferencedFrameOfReferenceUID = "1.2.3.4"
    dataset.save_as(rs, enforce_file_format=True)
    with pytest.warns(RtwinWarning, match=f"structure set {dataset.SOPInstanceUID} was not used"):
        patient = read_dicom(folder)
    assert len(patient.structures) == 0
    with pytest.raises(DicomError, match="frame of reference 1.2.3.4"):
        read_dicom(folder, rtstruct=rs)


def test_unlinked_structure_set_and_missing_position_are_repairs(phantom_folder, edit_files):
    folder, _, structures, series = phantom_folder
    rs = folder / "RS.dcm"
    dataset = pydicom.dcmread(rs)
    del dataset.ReferencedFrameOfReferenceSequence
    for item in dataset.StructureSetROISequence:
        item.ReferencedFrameOfReferenceUID = ""
    dataset.Modality = "RTDOSE"
    dataset.save_as(rs, enforce_file_format=True)
    edit_files(series.files, lambda d, i: delattr(d, "PatientPosition"))
    with pytest.warns(RtwinWarning) as caught:
        patient = read_dicom(folder)
    messages = "\n".join(str(w.message) for w in caught)
    assert "Modality 'RTDOSE'" in messages
    assert "references no image series and no frame of reference; assumed" in messages
    assert "assumed HFS" in messages
    assert "RS.dcm" not in messages and dataset.SOPInstanceUID in messages
    assert list(patient.structures) == list(structures)
    repaired = [s for s in patient.provenance.steps if s.startswith("repaired:")]
    assert len(repaired) == 3


def test_no_structure_set_gives_an_empty_set(tmp_path, small_grid, slice_coded_ct):
    write_image_series(slice_coded_ct(small_grid), tmp_path, patient_id="x")
    patient = read_dicom(tmp_path)
    assert len(patient.structures) == 0


def test_mr_needs_a_synthetic_ct(tmp_path, ball_structures):
    grid = Grid.from_spacing((8, 40, 50), spacing_mm=(1.5, 1.5, 3.0), origin_mm=(-37, -29, -12))
    structures = ball_structures(grid)
    mr = Image(values=np.where(structures["Body"].mask, 400.0, 0.0), grid=grid, modality="MR")
    series = write_image_series(mr, tmp_path, patient_id="mr")
    write_rtstruct(structures, series, tmp_path / "RS.dcm")
    with pytest.raises(DicomError, match="synthetic_ct=True"):
        read_dicom(tmp_path)
    patient = read_dicom(tmp_path, synthetic_ct=True)
    assert patient.image.modality.value == "CT" and patient.mr is not None
    np.testing.assert_array_equal(patient.mr.values, mr.values)
    assert patient.image.values[~structures["Body"].mask].max() == -1000.0
    assert any("synthetic CT" in step for step in patient.provenance.steps)

    without_body = StructureSet([structures["PTV"]])
    (tmp_path / "RS.dcm").unlink()
    write_rtstruct(without_body, series, tmp_path / "RS.dcm")
    with pytest.raises(DicomError, match="EXTERNAL"):
        read_dicom(tmp_path, synthetic_ct=True)


def test_series_in_a_subfolder_and_other_files_ignored(phantom_folder):
    folder, _, _, _ = phantom_folder
    (folder / "README.txt").write_text("not DICOM")
    (folder / "CT" / "empty.dcm").write_bytes(b"")
    patient = read_dicom(folder)
    assert len(patient.structures) == 3


def test_pseudonym_key_must_not_be_empty():
    with pytest.raises(DicomError, match="non-empty"):
        pseudonymize_id("x", key="")


def test_read_image_series_on_the_written_folder(phantom_folder):
    folder, ct, _, _ = phantom_folder
    series = read_image_series(folder)  # the RTSTRUCT beside it is ignored
    assert series.grid.is_same_as(ct.grid)


def test_file_names_never_reach_notes_repairs_warnings_or_provenance(phantom_folder, caplog):
    """Exported file names often hold the patient's name; the provenance travels with the
    pseudonymized patient, so files are named by SOP instance UID (or a hash) instead."""
    folder, _, structures, series = phantom_folder
    ct = folder / "CT"
    for k, path in enumerate(series.files):  # CT_0001.dcm -> Doe_Jane_000.dcm ...
        path.rename(ct / f"Doe_Jane_{k:03d}.dcm")
    ct_files = sorted(ct.glob("*.dcm"))
    dataset = pydicom.dcmread(ct_files[0])  # a file without preamble: a note naming it
    del dataset.file_meta
    dataset.preamble = None
    pydicom.dcmwrite(ct_files[0], dataset, implicit_vr=True, little_endian=True)
    dataset = pydicom.dcmread(ct_files[1])  # a wrong Modality tag: a repair naming it
    dataset.Modality = "OT"
    dataset.save_as(ct_files[1], enforce_file_format=True)

    original = pydicom.dcmread(folder / "RS.dcm")
    (folder / "RS.dcm").unlink()
    chosen = copy.deepcopy(original)
    chosen.Modality = "RTDOSE"  # a repair naming the structure set
    chosen.save_as(folder / "RS_Doe.dcm", enforce_file_format=True)
    frame_only = copy.deepcopy(original)  # same frame, no series reference: "also found" note
    del frame_only.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence
    frame_only.SOPInstanceUID = frame_only.file_meta.MediaStorageSOPInstanceUID = (
        pydicom.uid.generate_uid()
    )
    frame_only.save_as(folder / "RS_Doe_frame.dcm", enforce_file_format=True)
    other = copy.deepcopy(original)  # another series and frame: a warning naming it
    other.ReferencedFrameOfReferenceSequence[0].FrameOfReferenceUID = "1.2.3.4"
    other.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[
        0
    ].RTReferencedSeriesSequence[0].SeriesInstanceUID = "1.2.3.5"
    for item in other.StructureSetROISequence:
        item.ReferencedFrameOfReferenceUID = "1.2.3.4"
    other.SOPInstanceUID = other.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    other.save_as(folder / "RS_Doe_other.dcm", enforce_file_format=True)

    with caplog.at_level("DEBUG", logger="rtwin.io"), pytest.warns(RtwinWarning) as caught:
        patient = read_dicom(folder)
    assert list(patient.structures) == list(structures)
    warned = [str(w.message) for w in caught]
    recorded = [
        *patient.provenance.steps,
        *(label for label, _ in patient.provenance.inputs),
        *warned,
    ]
    assert any("no DICOM preamble" in r for r in recorded)
    assert any("Modality 'OT'" in r for r in recorded)
    assert any("Modality 'RTDOSE'" in r for r in recorded)
    assert any(f"also found and not used: {frame_only.SOPInstanceUID}" in r for r in recorded)
    assert any(f"structure set {other.SOPInstanceUID} was not used" in r for r in warned)
    assert any(f"structure set chosen: {chosen.SOPInstanceUID}" in r for r in recorded)
    for entry in recorded:
        assert "Doe" not in entry and ".dcm" not in entry and str(folder) not in entry, entry
    notes = [r.getMessage() for r in caplog.records if r.levelname == "INFO"]
    for note in notes:
        assert "Doe" not in note and ".dcm" not in note, note

    # The readers called on their own name files the same way.
    with pytest.warns(RtwinWarning):
        series_read = read_image_series(ct)
    rtstruct = read_rtstruct(folder / "RS_Doe_frame.dcm", series_read)
    for entry in (
        *series_read.notes,
        *series_read.repairs,
        *series_read.provenance.steps,
        *(label for label, _ in series_read.provenance.inputs),
        *rtstruct.notes,
        *rtstruct.provenance.steps,
        *(label for label, _ in rtstruct.provenance.inputs),
    ):
        assert "Doe" not in entry and ".dcm" not in entry, entry
