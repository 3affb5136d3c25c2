"""Reading a patient (image series + structure set) from a DICOM folder."""

from __future__ import annotations

import logging
import os
import secrets
import warnings
from collections.abc import Sequence
from pathlib import Path

from rtwin.anatomy import Image, Modality, StructureSet
from rtwin.errors import DicomError, RtwinWarning
from rtwin.io._files import (
    RT_STRUCTURE_SET_STORAGE,
    Header,
    as_path,
    dcmread_quietly,
    instance_label,
    log_notes,
    scan,
    text,
    warn_repairs,
)
from rtwin.io._pseudonymize import pseudonymize_id, random_key
from rtwin.io._rtstruct import parse_rtstruct
from rtwin.io._series import ImageSeries, build_series, select_image_series
from rtwin.patient import Patient, PatientPosition, Provenance, hash_file

__all__ = ["read_dicom"]

logger = logging.getLogger(__name__)


def read_dicom(
    folder: str | os.PathLike[str],
    *,
    series_uid: str | None = None,
    rtstruct: str | os.PathLike[str] | None = None,
    pseudonym_key: bytes | str | None = None,
    repair: bool = False,
    ignore_frame_of_reference: bool = False,
    synthetic_ct: bool = False,
) -> Patient:
    """Read a patient from a DICOM folder: an image series and its structure set.

    Parameters
    ----------
    folder
        Searched recursively. Other DICOM objects (doses, plans, other
        series) and non-DICOM files are ignored.
    series_uid
        The image series to read when the folder holds several (the error
        lists them; see :func:`list_series`).
    rtstruct
        The RTSTRUCT file to use when several fit the series (the error
        lists them), or to force one that does not reference it.
    pseudonym_key
        Secret for the keyed pseudonym of the PatientID (see
        :func:`pseudonymize_id`). Without a key a random key is drawn for
        this call, so the pseudonym cannot be linked to other imports.
    repair
        Repair what would otherwise raise (see :func:`read_image_series`
        and :func:`read_rtstruct`); each repair is warned and recorded.
    ignore_frame_of_reference
        Use a structure set whose frame of reference differs from the
        image's (see :func:`read_rtstruct`).
    synthetic_ct
        For an MR series: build a bulk-density synthetic CT from the
        structures (:func:`rtwin.materials.synthetic_ct`, needs an EXTERNAL
        structure) and keep the MR as ``patient.mr``. Without it an MR
        series raises.

    Returns
    -------
    Patient
        Image (CT in HU, or the synthetic CT), structures on its grid,
        pseudonymous ``patient_id``, the series' frame of reference and
        patient position, and provenance holding the SHA-256 of every file
        read plus each step, note and repair.

    Raises
    ------
    DicomError
        As :func:`read_image_series` and :func:`read_rtstruct`; several
        structure sets fit the series (listed); an MR series without
        ``synthetic_ct=True`` or without an EXTERNAL structure.

    Notes
    -----
    The structure set is chosen by what it references, in this order: the
    one that references the series (SeriesInstanceUID), else the one in the
    series' frame of reference, else one that names neither and references
    nothing else (assumed to belong, reported as a repair — e.g. an export
    without references). Structure sets that reference another series or
    frame of reference are not used (a warning names them); without any,
    the patient has no structures. A missing PatientPosition is taken as
    HFS (a repair).

    Pseudonymization: ``patient_id`` is ``pseudonymize_id(PatientID,
    key)``; no name, birth date or real ID reaches the Patient, and the
    provenance labels files by SOP instance UID, not by path. The frame of
    reference UID is kept so that later objects (doses, plans) still
    match.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from rtwin.anatomy import Image, Structure, StructureSet
    >>> from rtwin.geometry import Grid
    >>> from rtwin.io import pseudonymize_id, read_dicom, write_image_series, write_rtstruct
    >>> grid = Grid.from_spacing((8, 24, 24), spacing_mm=(2.0, 2.0, 3.0), origin_mm=(-23, -23, -10.5))
    >>> body = Structure.from_function("Body", grid, lambda x, y, z: x**2 + y**2 < 400, role="external")
    >>> ct = Image(values=np.where(body.mask, 0.0, -1000.0), grid=grid, modality="CT")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     series = write_image_series(ct, folder, patient_id="MRN-0042")
    ...     _ = write_rtstruct(StructureSet([body]), series, Path(folder) / "RS.dcm")
    ...     patient = read_dicom(folder, pseudonym_key="site secret")
    >>> patient.structures["Body"].n_voxels == body.n_voxels
    True
    >>> patient.patient_id == pseudonymize_id("MRN-0042", key="site secret")
    True
    """
    root = as_path(folder, "DICOM folder")
    headers = scan(root)
    chosen = select_image_series(headers, series_uid, root)
    series = build_series(chosen, repair=repair)
    notes = list(series.notes)
    repairs = list(series.repairs)
    cautions: list[str] = []
    steps = list(series.provenance.steps)
    inputs = list(series.provenance.inputs)

    notes_before, repairs_before = len(notes), len(repairs)
    path, how = _choose_rtstruct(headers, series, rtstruct, notes, repairs, cautions)
    steps.extend(f"note: {n}" for n in notes[notes_before:])
    steps.extend(f"repaired: {r}" for r in repairs[repairs_before:])
    structures = StructureSet()
    if path is not None:
        parsed = parse_rtstruct(
            path,
            series,
            frame_of_reference_uid=None,
            ignore_frame_of_reference=ignore_frame_of_reference,
            repair=repair,
        )
        structures = parsed.structures
        notes.extend(parsed.notes)
        repairs.extend(parsed.repairs)
        digest = parsed.provenance.inputs[0][1]
        steps.append(
            f"structure set chosen: {instance_label(parsed.sop_instance_uid, digest)} ({how})"
        )
        steps.extend(parsed.provenance.steps)
        inputs.extend(parsed.provenance.inputs)
    else:
        notes.append(f"no structure set for series {series.series_instance_uid}; no structures")
        steps.append(f"note: {notes[-1]}")

    position = series.patient_position
    if position is None:
        position = PatientPosition.HFS
        message = (
            f"series {series.series_instance_uid} has no (known) PatientPosition; assumed HFS. "
            "Check it: beam geometry depends on it"
        )
        repairs.append(message)
        steps.append(f"repaired: {message}")

    original_id = _original_patient_id(chosen)
    if original_id:
        key = random_key() if pseudonym_key is None else pseudonym_key
        patient_id = pseudonymize_id(original_id, key)
        how_keyed = "random per-call key (not linkable)" if pseudonym_key is None else "given key"
        steps.append(f"pseudonymized PatientID (HMAC-SHA256, {how_keyed})")
    else:
        patient_id = secrets.token_hex(16)
        notes.append("the series has no PatientID; a random pseudonym was drawn")
        steps.append(f"note: {notes[-1]}")

    image = series.image
    mr = None
    if series.modality is Modality.MR:
        image, mr = _synthetic_ct(series, structures, synthetic_ct)
        steps.append(
            "built a bulk-density synthetic CT from the MR and the structures "
            "(rtwin.materials.synthetic_ct); the MR is kept as patient.mr"
        )
    log_notes(notes)
    warn_repairs(repairs)
    for caution in cautions:
        warnings.warn(caution, RtwinWarning, stacklevel=2)
        steps.append(f"warning: {caution}")
    return Patient(
        image=image,
        structures=structures,
        patient_id=patient_id,
        frame_of_reference_uid=series.frame_of_reference_uid,
        position=position,
        mr=mr,
        provenance=Provenance(inputs=tuple(inputs), steps=tuple(steps)),
    )


def _describe(header: Header) -> str:
    """A structure set for an error message (which is not stored: it may name the path)."""
    label = f" label {header.label!r}," if header.label else ""
    return f"{header.path} ({label} SOP instance {header.sop_instance_uid})".replace("( ", "(")


def _label(header: Header) -> str:
    """A structure set for notes, repairs, warnings and provenance: never its file name."""
    if header.sop_instance_uid:
        return header.sop_instance_uid
    return instance_label("", hash_file(header.path))


def _choose_rtstruct(
    headers: Sequence[Header],
    series: ImageSeries,
    rtstruct: str | os.PathLike[str] | None,
    notes: list[str],
    repairs: list[str],
    cautions: list[str],
) -> tuple[Path | None, str]:
    if rtstruct is not None:
        return as_path(rtstruct, "RTSTRUCT file"), "named by the caller with rtstruct=..."
    uid = series.series_instance_uid
    frame = series.frame_of_reference_uid
    candidates = [h for h in headers if h.sop_class_uid == RT_STRUCTURE_SET_STORAGE]
    referencing, same_frame, unlinked, others = [], [], [], []
    for header in candidates:
        other_series = (
            bool(header.referenced_series_uids) and uid not in header.referenced_series_uids
        )
        frame_conflict = bool(frame and header.referenced_frame_uids) and (
            frame not in header.referenced_frame_uids
        )
        if uid in header.referenced_series_uids:
            referencing.append(header)
        elif frame and frame in header.referenced_frame_uids:
            same_frame.append(header)
        elif not other_series and not frame_conflict:
            unlinked.append(header)
        else:
            others.append(header)
    ranked = (
        (referencing, "it references the series"),
        (same_frame, "it is in the series' frame of reference"),
        (unlinked, "it is the only structure set that nothing links to another image"),
    )
    chosen: Header | None = None
    how = why = ""
    for rank, (group, reason) in enumerate(ranked):
        if len(group) > 1:
            plausible = [h for g, _ in ranked[rank:] for h in g]
            raise DicomError(
                f"{len(plausible)} structure sets could belong to series {uid}; name one with "
                f"rtstruct=...: {'; '.join(_describe(h) for h in plausible)}"
            )
        if group:
            chosen, why = group[0], reason
            how = reason
            if group is unlinked:
                repairs.append(
                    f"structure set {_label(chosen)} references no image series and no frame "
                    f"of reference; assumed to belong to series {uid} as {reason}"
                )
            break
    unused = [_label(h) for g, _ in ranked for h in g if h is not chosen]
    if chosen is not None and unused:
        notes.append(
            f"structure set {_label(chosen)} was chosen because {why}; also found and not used: "
            f"{', '.join(unused)} (name one with rtstruct=...)"
        )
    for header in others:
        if chosen is not None and header is chosen:
            continue
        cautions.append(
            f"structure set {_label(header)} was not used: it references series "
            f"{', '.join(header.referenced_series_uids) or '(none)'} / frame of reference "
            f"{', '.join(header.referenced_frame_uids) or '(none)'}, not series {uid} in "
            f"{frame or '(no frame of reference)'}. To use it anyway pass rtstruct=... (and "
            "ignore_frame_of_reference=True if you trust its geometry)"
        )
    return (None if chosen is None else chosen.path), how


def _original_patient_id(headers: Sequence[Header]) -> str:
    dataset, _ = dcmread_quietly(headers[0].path, stop_before_pixels=True, convert_all=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return text(dataset, "PatientID")


def _synthetic_ct(
    series: ImageSeries, structures: StructureSet, allowed: bool
) -> tuple[Image, Image]:
    if not allowed:
        raise DicomError(
            f"series {series.series_instance_uid} is MR; a Patient is planned on a CT in HU. "
            "Pass synthetic_ct=True to build a bulk-density synthetic CT from the structure set "
            "(rtwin.materials.synthetic_ct; needs an EXTERNAL structure), or read the MR with "
            "read_image_series and build the CT yourself"
        )
    if structures.external is None:
        names = ", ".join(repr(n) for n in structures) or "none"
        raise DicomError(
            f"a synthetic CT for MR series {series.series_instance_uid} needs a structure with "
            f"RTROIInterpretedType EXTERNAL (the body outline); structures read: {names}. Read "
            "the MR with read_image_series and build it with rtwin.materials.synthetic_ct after "
            "setting a role (structure.with_role('external'))"
        )
    from rtwin.materials import synthetic_ct

    return synthetic_ct(series.image, structures), series.image
