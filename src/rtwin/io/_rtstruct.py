"""Reading a DICOM RT Structure Set into a :class:`~rtwin.anatomy.StructureSet`."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rtwin.anatomy import Image, Structure, StructureRole, StructureSet, rasterize_contours
from rtwin.errors import DicomError, StructureError
from rtwin.geometry import Grid
from rtwin.io._files import (
    RT_STRUCTURE_SET_STORAGE,
    _sop_class,
    as_path,
    instance_label,
    kind_of,
    log_notes,
    read_file,
    sniff,
    text,
    warn_repairs,
)
from rtwin.io._series import ImageSeries
from rtwin.patient import Provenance

__all__ = ["RTStruct", "SkippedROI", "read_rtstruct", "role_of"]

logger = logging.getLogger(__name__)

#: RTROIInterpretedType → StructureRole; any other type (or none) is ``other``.
_ROLES = {
    "EXTERNAL": StructureRole.EXTERNAL,
    "PTV": StructureRole.TARGET,
    "CTV": StructureRole.TARGET,
    "GTV": StructureRole.TARGET,
    "ORGAN": StructureRole.ORGAN_AT_RISK,
    "AVOIDANCE": StructureRole.ORGAN_AT_RISK,
    "SUPPORT": StructureRole.SUPPORT,
    "FIXATION": StructureRole.SUPPORT,
    "BOLUS": StructureRole.SUPPORT,
}
#: Contour points may lie this far (in voxels) beyond the grid's extent in-plane.
_IN_PLANE_MARGIN_VOXELS = 0.5
#: Contour planes may lie this far (in slices) beyond the grid's extent along the normal.
_PLANE_MARGIN_SLICES = 1e-3
#: Contour planes closer than this (in slices) are one plane (as in ``rasterize_contours``).
_SAME_PLANE_SLICES = 0.05
#: Contours whose in-plane area is below this are degenerate (mm²).
_DEGENERATE_AREA_MM2 = 1e-6


def role_of(interpreted_type: str) -> StructureRole:
    """The :class:`~rtwin.anatomy.StructureRole` of a DICOM RTROIInterpretedType.

    EXTERNAL → external; PTV, CTV, GTV → target; ORGAN, AVOIDANCE →
    organ_at_risk; SUPPORT, FIXATION, BOLUS → support; anything else
    (MARKER, ISOCENTER, CAVITY, empty, ...) → other.

    Examples
    --------
    >>> from rtwin.io import role_of
    >>> role_of("AVOIDANCE").value, role_of("MARKER").value
    ('organ_at_risk', 'other')
    """
    return _ROLES.get(str(interpreted_type).strip().upper(), StructureRole.OTHER)


@dataclass(frozen=True, slots=True, kw_only=True)
class SkippedROI:
    """An ROI of a structure set that did not become a structure.

    Parameters
    ----------
    number
        ROINumber in the file.
    name
        ROIName in the file.
    reason
        Why, in words (``"POINT contours (a marker, not a volume)"``,
        ``"no contours"``, ...).

    Examples
    --------
    >>> from rtwin.io import SkippedROI
    >>> SkippedROI(number=3, name="Isocenter", reason="POINT contours (a marker, not a volume)")
    SkippedROI(number=3, name='Isocenter', reason='POINT contours (a marker, not a volume)')
    """

    number: int
    name: str
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RTStruct:
    """A structure set read from a DICOM RTSTRUCT file (see :func:`read_rtstruct`).

    Parameters
    ----------
    structures
        The ROIs with closed planar contours, as masks on the reference grid.
    skipped
        ROIs that did not become structures, with the reason.
    frame_of_reference_uid
        The frame of reference the file names (``""`` when none).
    referenced_series_uids
        Series the file says its contours were drawn on.
    sop_instance_uid, label
        The file's SOPInstanceUID and StructureSetLabel.
    path
        The file read.
    notes, repairs
        As for :class:`ImageSeries`: notes are logged, each repair was also
        emitted as a :class:`~rtwin.errors.RtwinWarning`.
    provenance
        SHA-256 of the file and the steps, notes and repairs.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from rtwin.anatomy import Image, Structure, StructureSet
    >>> from rtwin.geometry import Grid
    >>> from rtwin.io import read_rtstruct, write_image_series, write_rtstruct
    >>> grid = Grid.from_spacing((4, 16, 16), spacing_mm=2.0, origin_mm=(-15, -15, -3))
    >>> body = Structure.from_function("Body", grid, lambda x, y, z: x**2 + y**2 < 100, role="external")
    >>> empty = Structure(name="Empty", mask=np.zeros(grid.shape, bool), grid=grid)
    >>> ct = Image(values=np.zeros(grid.shape), grid=grid, modality="CT")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     series = write_image_series(ct, folder, patient_id="demo")
    ...     path = write_rtstruct(StructureSet([body, empty]), series, Path(folder) / "RS.dcm")
    ...     result = read_rtstruct(path, series)
    >>> list(result.structures), [s.name for s in result.skipped], result.repairs
    (['Body'], ['Empty'], ())
    """

    structures: StructureSet
    skipped: tuple[SkippedROI, ...]
    frame_of_reference_uid: str
    referenced_series_uids: tuple[str, ...]
    sop_instance_uid: str
    label: str
    path: Path
    notes: tuple[str, ...] = ()
    repairs: tuple[str, ...] = ()
    provenance: Provenance = field(default_factory=Provenance, repr=False)

    def __repr__(self) -> str:
        return (
            f"RTStruct({self.label!r}, structures: {', '.join(self.structures) or 'none'}; "
            f"{len(self.skipped)} skipped, {len(self.repairs)} repairs)"
        )


def read_rtstruct(
    path: str | os.PathLike[str],
    reference: ImageSeries | Image | Grid,
    *,
    frame_of_reference_uid: str | None = None,
    ignore_frame_of_reference: bool = False,
    repair: bool = False,
) -> RTStruct:
    """Read an RT Structure Set's closed planar contours as masks on an image grid.

    Parameters
    ----------
    path
        The RTSTRUCT file (a file without preamble is read too).
    reference
        Where to put the masks: an :class:`ImageSeries` (best: its frame of
        reference and SOP instances are checked), an
        :class:`~rtwin.anatomy.Image` or a :class:`~rtwin.geometry.Grid`.
        The contours must be parallel to its slices.
    frame_of_reference_uid
        The frame of reference the reference grid is in; defaults to the
        ImageSeries' own. With an Image or Grid and no UID the frame of
        reference is not checked (noted).
    ignore_frame_of_reference
        Read the contours even when the file names another frame of
        reference than the reference (reported as a repair). Only when you
        know the UID in the file is wrong.
    repair
        Read the contours even when the file references images missing from
        the series, clip contours that lie outside the grid (the part
        outside is lost; ROIs left empty are skipped), and drop contours
        whose ContourData is unreadable (that plane of the ROI is lost).
        Each repair is reported.

    Returns
    -------
    RTStruct
        ``.structures`` (a StructureSet on the reference grid),
        ``.skipped``, ``.notes``, ``.repairs``, ``.provenance``.

    Raises
    ------
    DicomError
        Not an RT Structure Set (by SOP class), unreadable, a frame of
        reference mismatch (naming both UIDs), references to images missing
        from the series, contours outside the grid or unreadable
        ContourData (without ``repair``), duplicate ROI numbers, or
        contours not parallel to the grid's slices.

    Notes
    -----
    - ROIs, their contours (ROIContourSequence) and observations
      (RTROIObservationsSequence) are linked by ROINumber, never by their
      position in the sequences. The structures keep the order of
      StructureSetROISequence and the ROIDisplayColor.
    - RTROIInterpretedType gives the role (:func:`role_of`); missing → other.
    - All CLOSED_PLANAR contours of one plane are combined with the
      even-odd rule (a contour inside another is a hole) and voxelised with
      :func:`~rtwin.anatomy.rasterize_contours` (a voxel is inside when at
      least half of its in-plane area is); each slice takes the nearest
      contour plane. Volumes are computed from the masks; the ROIVolume
      tag is not trusted.
    - Each contour plane stands for a slab one contour spacing thick (the
      commonest gap between neighbouring planes of the structure set),
      half a spacing on either side, as planning systems model a contour
      stack (the first and last contours get half-slice "end caps"). On
      the image the contours were drawn on this is one slice per plane; on
      a grid with thinner slices every slice of the slab is filled (noted),
      so a finer reference grid refines the mask instead of striping it.
      A gap larger than the spacing (separate lesions) stays empty.
    - Skipped (listed in ``.skipped`` and logged): ROIs without contours,
      POINT ROIs (markers, isocentres) and OPEN_PLANAR / OPEN_NONPLANAR
      ROIs (lines, not regions). In an ROI that mixes them, only the
      closed contours count (noted).
    - Dropped without a repair (noted): a repeated closing point,
      degenerate contours (fewer than three points or zero area).
    - Repaired always (a harmless fix, reported): a Modality tag other than
      RTSTRUCT on an RT Structure Set Storage object, missing or duplicate
      ROI names (duplicates get `` (ROI n)`` appended), several
      ROIContourSequence items for one ROI number (their contours are
      merged; a contour repeated exactly in two items is kept once).
    - Notes, repairs and provenance name the file by its SOP instance UID,
      never by its name or path; error messages name the file.
    - An empty FrameOfReferenceUID on either side means "unknown": the
      check is skipped and noted, not failed.
    - Contour points may lie up to half a voxel beyond the grid's extent
      in-plane without counting as outside.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from rtwin.anatomy import Image, Structure, StructureSet
    >>> from rtwin.geometry import Grid
    >>> from rtwin.io import read_rtstruct, write_image_series, write_rtstruct
    >>> grid = Grid.from_spacing((10, 30, 30), spacing_mm=(1.0, 1.0, 2.0), origin_mm=(-15, -15, -10))
    >>> ball = Structure.from_function("Ball", grid, lambda x, y, z: x**2 + y**2 + z**2 < 64)
    >>> ct = Image(values=np.zeros(grid.shape), grid=grid, modality="CT")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     series = write_image_series(ct, folder, patient_id="demo")
    ...     path = write_rtstruct(StructureSet([ball]), series, Path(folder) / "RS.dcm")
    ...     result = read_rtstruct(path, series)
    >>> result.structures["Ball"].n_voxels == ball.n_voxels
    True
    """
    parsed = parse_rtstruct(
        path,
        reference,
        frame_of_reference_uid=frame_of_reference_uid,
        ignore_frame_of_reference=ignore_frame_of_reference,
        repair=repair,
    )
    log_notes(parsed.notes)
    warn_repairs(parsed.repairs)
    return parsed


# ---------------------------------------------------------------------- parsing
@dataclass(slots=True)
class _Roi:
    number: int
    name: str
    frame_uid: str
    contour_items: list[Any] = field(default_factory=list)
    contours: list[Any] = field(default_factory=list)
    interpreted_type: str = ""


def _reference_grid(
    reference: ImageSeries | Image | Grid,
) -> tuple[Grid, ImageSeries | None]:
    if isinstance(reference, ImageSeries):
        return reference.grid, reference
    if isinstance(reference, Image):
        return reference.grid, None
    if isinstance(reference, Grid):
        return reference, None
    raise DicomError(
        "read_rtstruct needs the image to put the masks on: an ImageSeries (from "
        "read_image_series), an Image or a Grid; got "
        f"{type(reference).__name__}"
    )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_rtstruct(
    path: str | os.PathLike[str],
    reference: ImageSeries | Image | Grid,
    *,
    frame_of_reference_uid: str | None,
    ignore_frame_of_reference: bool,
    repair: bool,
) -> RTStruct:
    """Read a structure set (private; returns notes and repairs without emitting warnings)."""
    file = as_path(path, "RTSTRUCT file")
    grid, series = _reference_grid(reference)
    expected_frame = (frame_of_reference_uid or "").strip() or (
        series.frame_of_reference_uid if series is not None else ""
    )
    notes: list[str] = []
    repairs: list[str] = []
    preamble = sniff(file)
    dataset, digest, messages = read_file(file)
    sop_uid = text(dataset, "SOPInstanceUID")
    # Notes, repairs and provenance name the file by its SOP instance UID (file names may
    # hold a patient's name); error messages, which are not stored, name the file.
    name = f"structure set {instance_label(sop_uid, digest)}"
    where = file.name
    sop_class = _sop_class(dataset)
    modality_tag = text(dataset, "Modality")
    if sop_class != RT_STRUCTURE_SET_STORAGE:
        if sop_class or modality_tag != "RTSTRUCT" or "StructureSetROISequence" not in dataset:
            raise DicomError(
                f"{where} is {kind_of(sop_class) if sop_class else 'a DICOM object without SOP class'}"
                f" (SOP class {sop_class or 'missing'}), not an RT Structure Set Storage object"
            )
        repairs.append(
            f"{name} has no SOPClassUID; read as an RT Structure Set (Modality RTSTRUCT)"
        )
    elif modality_tag != "RTSTRUCT":
        repairs.append(
            f"{name} has Modality {modality_tag!r} but SOP class RT Structure Set Storage; read as "
            "a structure set (the SOP class decides)"
        )
    if preamble is False:
        notes.append(f"{name} has no DICOM preamble/file meta; read as a raw data set")
    notes.extend(f"pydicom ({name}): {m}" for m in dict.fromkeys(messages))

    # ------------------------------------------------------------- the ROI table
    rois: dict[int, _Roi] = {}
    for item in dataset.get("StructureSetROISequence", None) or ():
        number = _int(item.get("ROINumber", None))
        if number is None:
            notes.append(f"{name}: an StructureSetROISequence item without ROINumber was ignored")
            continue
        if number in rois:
            raise DicomError(
                f"{where}: ROINumber {number} appears twice in StructureSetROISequence "
                f"({rois[number].name!r} and {text(item, 'ROIName')!r}); ROIs cannot be linked "
                "to their contours unambiguously"
            )
        rois[number] = _Roi(
            number, text(item, "ROIName"), text(item, "ReferencedFrameOfReferenceUID")
        )
    skipped: list[SkippedROI] = []
    for item in dataset.get("ROIContourSequence", None) or ():
        number = _int(item.get("ReferencedROINumber", None))
        if number is None or number not in rois:
            skipped.append(
                SkippedROI(
                    number=-1 if number is None else number,
                    name=f"ROI {number}",
                    reason="contours of an ROI number missing from StructureSetROISequence",
                )
            )
            continue
        rois[number].contour_items.append(item)
    for roi in rois.values():
        roi.contours = _merged_contours(roi, name, repairs)
    observations = dataset.get("RTROIObservationsSequence", None) or ()
    if not observations and rois:
        notes.append(f"{name}: no RTROIObservationsSequence; every structure gets role 'other'")
    for item in observations:
        number = _int(item.get("ReferencedROINumber", None))
        kind = text(item, "RTROIInterpretedType").upper()
        if number in rois and kind and not rois[number].interpreted_type:
            rois[number].interpreted_type = kind

    # ------------------------------------------------------------- references
    frames: list[str] = []
    referenced_series: list[str] = []
    referenced_images: set[str] = set()
    for frame in dataset.get("ReferencedFrameOfReferenceSequence", None) or ():
        frames.append(text(frame, "FrameOfReferenceUID"))
        for study in frame.get("RTReferencedStudySequence", None) or ():
            for item in study.get("RTReferencedSeriesSequence", None) or ():
                referenced_series.append(text(item, "SeriesInstanceUID"))
                for image in item.get("ContourImageSequence", None) or ():
                    referenced_images.add(text(image, "ReferencedSOPInstanceUID"))
    file_frames = list(dict.fromkeys(f for f in frames if f))
    for roi in rois.values():
        if not roi.frame_uid and len(file_frames) == 1:
            roi.frame_uid = file_frames[0]
    for roi in rois.values():
        for contour in _contours_of(roi):
            for image in contour.get("ContourImageSequence", None) or ():
                referenced_images.add(text(image, "ReferencedSOPInstanceUID"))
    referenced_images.discard("")
    structure_frame = Counter(r.frame_uid for r in rois.values() if r.frame_uid).most_common(1)
    own_frame = (
        structure_frame[0][0] if structure_frame else (file_frames[0] if file_frames else "")
    )

    found: set[str] = set()
    if series is not None:
        found = referenced_images & set(series.slice_sop_instance_uids)
    _check_frame(
        name,
        where,
        rois,
        expected_frame,
        own_frame,
        series,
        found,
        ignore_frame_of_reference,
        notes,
        repairs,
    )
    if series is not None:
        _check_references(
            name,
            where,
            series,
            referenced_images,
            found,
            tuple(dict.fromkeys(referenced_series)),
            repair,
            notes,
            repairs,
        )

    # ------------------------------------------------------------- contours → masks
    prepared: list[tuple[_Roi, list[NDArray[np.float64]]]] = []
    outside: list[str] = []
    for roi in rois.values():
        polygons, reason = _polygons(roi, grid, name, where, repair, notes, repairs)
        if reason is not None:
            skipped.append(SkippedROI(number=roi.number, name=roi.name, reason=reason))
            continue
        kept, problem = _inside_grid(polygons, grid)
        if problem:
            outside.append(f"{roi.name!r} ({problem})")
            if repair:
                repairs.append(
                    f"{name}: ROI {roi.name!r} {problem}; clipped to the image grid (the part "
                    "outside is lost)"
                )
        prepared.append((roi, kept if repair else polygons))
    if outside and not repair:
        extent = _grid_extent(grid)
        raise DicomError(
            f"{where}: contours of {len(outside)} ROI(s) lie outside the image grid "
            f"({extent}): {'; '.join(outside)}. The structure set may belong to another "
            "image, or the image may be cropped; pass repair=True to clip the contours to "
            "the grid"
        )
    structures = _structures(prepared, grid, name, where, skipped, notes, repairs)
    label = text(dataset, "StructureSetLabel")
    for entry in skipped:
        logger.info(
            "%s: ROI %r (number %d) skipped: %s", name, entry.name, entry.number, entry.reason
        )
    step = (
        f"read structure set {label!r} ({sop_uid}): {len(structures)} structures, "
        f"{len(skipped)} ROIs skipped"
        + (f" ({', '.join(f'{s.name}: {s.reason}' for s in skipped)})" if skipped else "")
    )
    provenance = Provenance(
        inputs=((f"RTSTRUCT {instance_label(sop_uid, digest)}", digest),),
        steps=(step, *(f"note: {n}" for n in notes), *(f"repaired: {r}" for r in repairs)),
    )
    return RTStruct(
        structures=structures,
        skipped=tuple(skipped),
        frame_of_reference_uid=own_frame,
        referenced_series_uids=tuple(dict.fromkeys(s for s in referenced_series if s)),
        sop_instance_uid=sop_uid,
        label=label,
        path=file,
        notes=tuple(notes),
        repairs=tuple(repairs),
        provenance=provenance,
    )


def _contours_of(roi: _Roi) -> Sequence[Any]:
    return roi.contours


def _contour_key(contour: Any) -> tuple[str, ...]:
    """What makes two contours the same: geometric type and the ContourData as written."""
    data = contour.get("ContourData", None)
    values = [data] if isinstance(data, str) or data is None else list(data)
    return (text(contour, "ContourGeometricType").upper(), *(str(v) for v in values))


def _merged_contours(roi: _Roi, name: str, repairs: list[str]) -> list[Any]:
    """The contours of all ROIContourSequence items of one ROI (several items: a repair).

    A second item for the same ROI number would otherwise replace the
    first and silently lose its contours; they are merged instead, and a
    contour repeated exactly in several items is kept once (under the
    even-odd rule two copies would cancel each other out).
    """
    items = roi.contour_items
    if len(items) <= 1:
        return list(items[0].get("ContourSequence", None) or ()) if items else []
    merged: list[Any] = []
    seen: set[tuple[str, ...]] = set()
    repeated = 0
    for index, item in enumerate(items):
        for contour in item.get("ContourSequence", None) or ():
            key = _contour_key(contour)
            if index > 0 and key in seen:
                repeated += 1
                continue
            seen.add(key)
            merged.append(contour)
    counts = ", ".join(str(len(item.get("ContourSequence", None) or ())) for item in items)
    repairs.append(
        f"{name}: ROI {roi.name!r} (number {roi.number}) has {len(items)} ROIContourSequence "
        f"items ({counts} contours); their contours were merged into one ROI"
        + (f" ({repeated} contour repeated exactly in another item kept once)" if repeated else "")
    )
    return merged


def _check_frame(
    name: str,
    where: str,
    rois: dict[int, _Roi],
    expected: str,
    own: str,
    series: ImageSeries | None,
    found: set[str],
    ignore: bool,
    notes: list[str],
    repairs: list[str],
) -> None:
    if not expected or not own:
        missing = "the image names none" if not expected else f"{name} names none"
        notes.append(
            f"frame of reference not checked: {missing} (an empty FrameOfReferenceUID means "
            "unknown, not a mismatch)"
        )
        return
    mismatched = [r for r in rois.values() if r.frame_uid and r.frame_uid != expected]
    if not mismatched:
        return
    theirs = ", ".join(sorted({r.frame_uid for r in mismatched}))
    names = ", ".join(repr(r.name) for r in mismatched[:6]) + (
        f" and {len(mismatched) - 6} more" if len(mismatched) > 6 else ""
    )
    if ignore:
        repairs.append(
            f"{name}: frame of reference {theirs} differs from the image's {expected} (ROIs "
            f"{names}); read anyway because ignore_frame_of_reference=True"
        )
        return
    hint = ""
    if series is not None and found:
        hint = (
            f" It does reference {len(found)} image(s) of series {series.series_instance_uid}, "
            "so the UID in the file may be wrong."
        )
    raise DicomError(
        f"{where} is in frame of reference {theirs} but the image is in {expected} (ROIs "
        f"{names}); contours in another frame of reference are in another coordinate system."
        f"{hint} If you know the geometry matches, pass ignore_frame_of_reference=True"
    )


def _check_references(
    name: str,
    where: str,
    series: ImageSeries,
    referenced_images: set[str],
    found: set[str],
    referenced_series: tuple[str, ...],
    repair: bool,
    notes: list[str],
    repairs: list[str],
) -> None:
    if referenced_series and series.series_instance_uid not in referenced_series and not found:
        notes.append(
            f"{name} was drawn on series {', '.join(referenced_series)}, not on series "
            f"{series.series_instance_uid}; its contours are placed by their coordinates"
        )
        return
    missing = referenced_images - found
    if not missing or not (found or series.series_instance_uid in referenced_series):
        return
    example = sorted(missing)[0]
    message = (
        f"references {len(missing)} image(s) that are not in series "
        f"{series.series_instance_uid} (e.g. {example}); {len(found)} referenced image(s) are"
    )
    if not repair:
        raise DicomError(
            f"{where} {message}. The series may be incomplete, or the structure set may belong "
            "to other images; pass repair=True to read the contours anyway (contours outside "
            "the image are clipped)"
        )
    repairs.append(f"{name} {message}; contours read by their coordinates")


def _area(points: NDArray[np.float64]) -> float:
    x, y = points[:, 0], points[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _contour_id(contour: Any, position: int) -> str:
    number = _int(contour.get("ContourNumber", None))
    if number is not None:
        return f"ContourNumber {number}"
    return f"contour {position} (no ContourNumber)"


def _polygons(
    roi: _Roi,
    grid: Grid,
    name: str,
    where: str,
    repair: bool,
    notes: list[str],
    repairs: list[str],
) -> tuple[list[NDArray[np.float64]], str | None]:
    """Closed planar polygons of one ROI, or the reason the ROI is skipped.

    Unreadable ContourData (not numbers, not triplets, not finite) is an
    error unless ``repair``: dropping a contour silently would lose a slice
    of the structure.
    """
    contours = _contours_of(roi)
    if not roi.contour_items:
        return [], "no ROIContourSequence item (no contours)"
    if not contours:
        return [], "no contours"
    kinds: Counter[str] = Counter()
    untyped = 0
    polygons: list[NDArray[np.float64]] = []
    degenerate = 0
    closing = 0
    miscounted = 0
    broken: list[str] = []
    spacing = grid.spacing_mm
    for position, contour in enumerate(contours, start=1):
        kind = text(contour, "ContourGeometricType").upper()
        if not kind:
            kind = "CLOSED_PLANAR"
            untyped += 1
        kinds[kind] += 1
        if kind != "CLOSED_PLANAR":
            continue
        raw = contour.get("ContourData", None)
        if isinstance(raw, str):
            raw = [raw]
        try:
            values = np.array([float(v) for v in (raw or ())], dtype=np.float64)
        except (TypeError, ValueError):
            values = np.array([np.nan])
        if values.size == 0 or values.size % 3 or not np.all(np.isfinite(values)):
            shown = "\\".join(str(v) for v in (raw or ()))
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            broken.append(f"{_contour_id(contour, position)} ({shown!r})")
            continue
        points = values.reshape(-1, 3)
        stated = _int(contour.get("NumberOfContourPoints", None))
        if stated is not None and stated != len(points):
            miscounted += 1
        if len(points) > 1 and np.allclose(points[0], points[-1], atol=1e-6):
            points = points[:-1]
            closing += 1
        if len(points) < 3:
            degenerate += 1
            continue
        index = grid.patient_to_index(points)
        if _area(index[:, :2] * spacing[:2]) < _DEGENERATE_AREA_MM2:
            degenerate += 1
            continue
        polygons.append(points)
    label = f"{name}: ROI {roi.name!r}"
    others = {k: n for k, n in kinds.items() if k != "CLOSED_PLANAR"}
    if untyped:
        notes.append(f"{label}: {untyped} contour(s) without ContourGeometricType read as closed")
    if broken:
        listing = ", ".join(broken[:5]) + (
            f" and {len(broken) - 5} more" if len(broken) > 5 else ""
        )
        problem = (
            f"ROI {roi.name!r} (number {roi.number}): {len(broken)} of {len(contours)} contour(s) "
            f"have unreadable ContourData (not x, y, z triplets of finite numbers): {listing}"
        )
        if not repair:
            raise DicomError(
                f"{where}: {problem}. Dropping them would lose those planes of the structure; "
                "pass repair=True to read the ROI without them (reported), or fix the file"
            )
        repairs.append(f"{name}: {problem}; those contours were dropped")
    if miscounted:
        notes.append(
            f"{label}: NumberOfContourPoints disagrees with ContourData in {miscounted} "
            "contour(s); the data were used"
        )
    if closing:
        notes.append(f"{label}: repeated closing point removed from {closing} contour(s)")
    if degenerate:
        notes.append(f"{label}: {degenerate} degenerate contour(s) (< 3 points or no area) ignored")
    if not polygons:
        if kinds.get("POINT"):
            return [], "POINT contours (a marker, not a volume)"
        if kinds.get("OPEN_PLANAR") or kinds.get("OPEN_NONPLANAR"):
            return [], "open contours (a line, not a closed region)"
        if degenerate or broken:
            return [], "only degenerate or unreadable contours"
        return [], f"no closed planar contours ({', '.join(sorted(kinds))})"
    if others:
        listing = ", ".join(f"{n} {k}" for k, n in sorted(others.items()))
        notes.append(f"{label}: {listing} contour(s) ignored; its closed contours were used")
    return polygons, None


def _inside_grid(
    polygons: list[NDArray[np.float64]], grid: Grid
) -> tuple[list[NDArray[np.float64]], str]:
    """Polygons whose plane lies in the grid, and a description of what lies outside."""
    nz, ny, nx = grid.shape
    kept = []
    planes_out = 0
    points_out = 0
    for points in polygons:
        index = grid.patient_to_index(points)
        plane = float(np.mean(index[:, 2]))
        if plane < -0.5 - _PLANE_MARGIN_SLICES or plane > nz - 0.5 + _PLANE_MARGIN_SLICES:
            planes_out += 1
            continue
        low, high = (
            -0.5 - _IN_PLANE_MARGIN_VOXELS,
            np.array([nx, ny]) - 0.5 + _IN_PLANE_MARGIN_VOXELS,
        )
        if np.any(index[:, :2] < low) or np.any(index[:, :2] > high):
            points_out += 1
        kept.append(points)
    problems = []
    if planes_out:
        problems.append(f"{planes_out} of {len(polygons)} contour(s) on planes beyond the slices")
    if points_out:
        problems.append(f"{points_out} contour(s) reaching beyond the image's rows/columns")
    return kept, "; ".join(problems)


def _grid_extent(grid: Grid) -> str:
    nz, ny, nx = grid.shape
    corners = grid.index_to_patient(
        np.array(
            [
                [i, j, k]
                for i in (-0.5, nx - 0.5)
                for j in (-0.5, ny - 0.5)
                for k in (-0.5, nz - 0.5)
            ]
        )
    )
    low, high = corners.min(axis=0), corners.max(axis=0)
    return f"x {low[0]:.1f}..{high[0]:.1f}, y {low[1]:.1f}..{high[1]:.1f}, z {low[2]:.1f}..{high[2]:.1f} mm"


def _contour_spacing_mm(
    prepared: list[tuple[_Roi, list[NDArray[np.float64]]]], grid: Grid
) -> float | None:
    """The structure set's contour spacing: the commonest gap between neighbouring planes.

    Gaps are pooled over all ROIs (the contours of a structure set are
    drawn on one image series, so its slice spacing is by far the commonest
    gap; ROIs with a single plane or with lesions far apart do not decide
    it). ``None`` when no gap occurs at least twice.
    """
    step = float(grid.spacing_mm[2])
    gaps: list[float] = []
    for _, polygons in prepared:
        planes = np.sort([float(np.mean(grid.patient_to_index(p)[:, 2])) * step for p in polygons])
        differences = np.diff(planes)
        gaps.extend(differences[differences > _SAME_PLANE_SLICES * step].tolist())
    if not gaps:
        return None
    rounded = np.round(gaps, 2)
    values, counts = np.unique(rounded, return_counts=True)
    best = int(np.argmax(counts))
    if counts[best] < 2:
        return None
    return float(np.median(np.asarray(gaps)[rounded == values[best]]))


def _color(roi: _Roi, name: str, notes: list[str]) -> tuple[int, int, int] | None:
    raw = next(
        (c for c in (i.get("ROIDisplayColor", None) for i in roi.contour_items) if c is not None),
        None,
    )
    if raw is None:
        return None
    try:
        color = tuple(round(float(c)) for c in raw)
    except (TypeError, ValueError):
        color = ()
    if len(color) != 3 or not all(0 <= c <= 255 for c in color):
        notes.append(f"{name}: ROI {roi.name!r} has an invalid ROIDisplayColor {raw!r}; ignored")
        return None
    return color  # type: ignore[return-value]


def _structures(
    prepared: list[tuple[_Roi, list[NDArray[np.float64]]]],
    grid: Grid,
    name: str,
    where: str,
    skipped: list[SkippedROI],
    notes: list[str],
    repairs: list[str],
) -> StructureSet:
    used: set[str] = set()
    structures = []
    counts = Counter(roi.name for roi, _ in prepared)
    spacing = _contour_spacing_mm(prepared, grid)
    thickness = spacing if spacing is not None and spacing > grid.spacing_mm[2] * 1.001 else None
    if thickness is not None:
        notes.append(
            f"{name}: contour planes are {thickness:.4g} mm apart, the image slices "
            f"{grid.spacing_mm[2]:.4g} mm; each contour fills a {thickness:.4g} mm slab (half a "
            "contour spacing on either side, end caps included)"
        )
    for roi, polygons in prepared:
        title = roi.name
        if not title:
            title = f"ROI {roi.number}"
            repairs.append(f"{name}: ROI number {roi.number} has no ROIName; named {title!r}")
        elif counts[title] > 1 or title in used:
            title = f"{roi.name} (ROI {roi.number})"
            repairs.append(
                f"{name}: ROIName {roi.name!r} is used by {counts[roi.name]} ROIs; ROI number "
                f"{roi.number} renamed {title!r}"
            )
        used.add(title)
        if not polygons:
            skipped.append(
                SkippedROI(
                    number=roi.number, name=roi.name, reason="all contours outside the image grid"
                )
            )
            continue
        try:
            mask = rasterize_contours(grid, polygons, name=title, plane_thickness_mm=thickness)
        except StructureError as error:
            raise DicomError(f"{where}: ROI {roi.name!r} (number {roi.number}): {error}") from error
        if not mask.any():
            skipped.append(
                SkippedROI(
                    number=roi.number,
                    name=roi.name,
                    reason="its contours cover no voxel (smaller than half a voxel or between slices)",
                )
            )
            continue
        index_planes = np.array([float(np.mean(grid.patient_to_index(p)[:, 2])) for p in polygons])
        offset = float(np.max(np.abs(index_planes - np.round(index_planes))))
        if offset > 0.05:
            notes.append(
                f"{name}: ROI {title!r} has contour planes up to {offset:.2f} slice from the image "
                "slices; each slice took the nearest contour plane"
            )
        if not roi.interpreted_type:
            notes.append(f"{name}: ROI {title!r} has no RTROIInterpretedType; role 'other'")
        structures.append(
            Structure(
                name=title,
                mask=mask,
                grid=grid,
                role=role_of(roi.interpreted_type),
                color=_color(roi, name, notes),
            )
        )
    return StructureSet(structures)
