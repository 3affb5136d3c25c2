"""Reading a CT or MR DICOM image series into an :class:`~rtwin.anatomy.Image`."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rtwin.anatomy import Image, Modality
from rtwin.errors import DicomError
from rtwin.geometry import Grid
from rtwin.io._files import (
    IMAGE_SOP_CLASSES,
    MULTIFRAME_SOP_CLASSES,
    Header,
    instance_label,
    kind_of,
    log_notes,
    most_common,
    read_file,
    scan,
    summarize,
    text,
    warn_repairs,
)
from rtwin.patient import PatientPosition, Provenance

__all__ = ["ImageSeries", "read_image_series"]

logger = logging.getLogger(__name__)

#: Slice positions may deviate this much from a uniform spacing (and slices this much
#: in-plane from each other) and still count as one regular grid.
POSITION_TOLERANCE_MM = 0.01
#: Orientation cosines of slices of one series may differ this much.
_ORIENTATION_TOLERANCE = 1e-4
#: ImageOrientationPatient is renormalised when its vectors are this close to orthonormal.
_ORTHONORMAL_LIMIT = 1e-2
#: Slice spacing assumed (with repair=True) for a single slice that states none.
ASSUMED_SLICE_SPACING_MM = 1.0
#: With repair=True, resampling uneven slices may create at most this many times the slices.
_MAX_RESAMPLE_GROWTH = 4
#: Value given to padding voxels (PixelPaddingValue), by modality.
_PADDING_FILL = {Modality.CT: -1000.0, Modality.MR: 0.0}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ImageSeries:
    """An image series read from (or written to) DICOM files.

    :func:`read_image_series` returns it; :func:`write_image_series`
    returns it for the files it wrote. It is the image plus the DICOM
    identity a structure set needs to refer to it.

    Parameters
    ----------
    image
        The voxel values (HU for CT, scanner units for MR) on their grid.
    series_instance_uid, study_instance_uid
        UIDs of the series and its study.
    frame_of_reference_uid
        The series' frame of reference (``""`` when the files name none).
    patient_position
        ``PatientPosition`` of the files, or ``None`` when missing or not
        one rtwin knows.
    sop_class_uid
        SOP class of the slices (CT or MR Image Storage).
    slice_sop_instance_uids
        SOPInstanceUID of the file behind each slice ``k`` of the image;
        ``""`` for slices interpolated by a repair.
    files
        The files read (or written), sorted along the slice normal.
    notes
        Things handled on the way that changed no geometry or value (no
        preamble, padding replaced, ...), also logged at INFO. Files are
        named by SOP instance UID, never by file name.
    repairs
        Each repair made with ``repair=True`` or without asking (a wrong
        Modality tag); each was also emitted as a
        :class:`~rtwin.errors.RtwinWarning`.
    provenance
        SHA-256 of every file read and the steps, notes and repairs.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from rtwin.anatomy import Image
    >>> from rtwin.geometry import Grid
    >>> from rtwin.io import read_image_series, write_image_series
    >>> grid = Grid.from_spacing((4, 5, 6), spacing_mm=(0.9, 1.3, 2.5), origin_mm=(-10, 5, 0))
    >>> ct = Image(values=np.full(grid.shape, 40.0), grid=grid, modality="CT")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = write_image_series(ct, folder, patient_id="demo")
    ...     series = read_image_series(folder)
    >>> series.grid == grid, float(series.image.values.max())
    (True, 40.0)
    >>> len(series.slice_sop_instance_uids), series.repairs
    (4, ())
    """

    image: Image
    series_instance_uid: str
    study_instance_uid: str
    frame_of_reference_uid: str
    patient_position: PatientPosition | None
    sop_class_uid: str
    slice_sop_instance_uids: tuple[str, ...]
    files: tuple[Path, ...]
    notes: tuple[str, ...] = ()
    repairs: tuple[str, ...] = ()
    provenance: Provenance = field(default_factory=Provenance, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.image, Image):
            raise DicomError(f"ImageSeries.image must be an rtwin Image; got {type(self.image)}")
        uids = tuple(str(u) for u in self.slice_sop_instance_uids)
        if len(uids) != self.image.grid.shape[0]:
            raise DicomError(
                f"ImageSeries has {len(uids)} slice SOP instance UIDs for "
                f"{self.image.grid.shape[0]} slices; give one per slice ('' for interpolated ones)"
            )
        if self.patient_position is not None:
            object.__setattr__(self, "patient_position", PatientPosition(self.patient_position))
        object.__setattr__(self, "slice_sop_instance_uids", uids)
        object.__setattr__(self, "files", tuple(Path(p) for p in self.files))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "repairs", tuple(self.repairs))

    @property
    def grid(self) -> Grid:
        """The image's grid."""
        return self.image.grid

    @property
    def modality(self) -> Modality:
        """CT or MR."""
        return self.image.modality

    def __repr__(self) -> str:
        return (
            f"ImageSeries({self.image.modality.value} {self.series_instance_uid}, "
            f"{self.grid!r}, {len(self.files)} files, {len(self.repairs)} repairs)"
        )


def read_image_series(
    source: str | os.PathLike[str],
    *,
    series_uid: str | None = None,
    repair: bool = False,
    recursive: bool = True,
) -> ImageSeries:
    """Read a CT or MR DICOM series.

    Parameters
    ----------
    source
        A folder (searched recursively) or one DICOM file. Files that are
        not DICOM, and DICOM objects other than CT/MR images (structure
        sets, doses, plans), are ignored.
    series_uid
        SeriesInstanceUID of the series to read; needed when the folder
        holds several image series (the error lists them, as does
        :func:`list_series`).
    repair
        Repair what would otherwise raise: uneven or missing slices are
        resampled onto a uniform spacing (linear interpolation along the
        slice normal), exact duplicate slices are dropped, slices of a
        different size or orientation than the majority are dropped, a
        single slice without any spacing tag gets 1 mm, and missing
        RescaleSlope / RescaleIntercept (on a CT, or on some files of an MR
        series only) are taken as 1 and 0. Each repair is
        emitted as a :class:`~rtwin.errors.RtwinWarning` and recorded in
        ``ImageSeries.repairs`` and its provenance.
    recursive
        Search subfolders of ``source``.

    Returns
    -------
    ImageSeries
        ``.image`` holds the values (CT in HU); ``.frame_of_reference_uid``,
        ``.patient_position``, ``.slice_sop_instance_uids``, ``.files``,
        ``.notes``, ``.repairs`` and ``.provenance`` describe where they
        came from.

    Raises
    ------
    DicomError
        No image series, several and none named, a named one missing,
        missing geometry tags, slices of inconsistent size/orientation,
        uneven or missing slices, duplicate positions or missing rescale
        tags (without ``repair``), an unreadable RescaleSlope or
        RescaleIntercept (always), different images at one position, a sheared
        (gantry-tilted) series, compressed pixel data without a decoder,
        or enhanced multi-frame objects (not supported).

    Notes
    -----
    Files are classified by SOP class (CT / MR Image Storage), never by the
    Modality tag, and grouped by SeriesInstanceUID only (a series whose
    files disagree on StudyInstanceUID is still one series, noted). Slices
    are sorted by their position along the slice normal (row × column
    direction of ImageOrientationPatient), never by InstanceNumber, file
    name or SliceLocation; the slice spacing comes from those positions
    (tolerance 0.01 mm), not from SliceThickness. A single slice takes
    SpacingBetweenSlices, else SliceThickness. The grid's ``i`` axis runs
    along a row (DICOM PixelSpacing[1], the column spacing) and ``j`` down
    the columns (PixelSpacing[0]); ImageOrientationPatient is
    renormalised, so oblique series are read exactly. Values are
    ``stored × RescaleSlope + RescaleIntercept``. Both are Type 1 in the CT
    Image module: a CT file without them, or an MR series with them on some
    files only, is an error unless ``repair=True`` (then 1 and 0, reported);
    an MR series without them on every file is read as stored. A value
    that is not a number (``-1O24``) is always an error, never taken as
    missing. Voxels equal to PixelPaddingValue (or within PixelPaddingRangeLimit)
    become air (−1000 HU) for CT and 0 for MR, which is noted. No file is
    modified; each is read once, and its SHA-256 is that of the bytes
    parsed. Notes, repairs and provenance name files by SOP instance UID
    (or ``sha256:`` and a hash prefix), never by file name or path, which
    may hold the patient's name; error messages, which are not recorded,
    name the file.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from rtwin.anatomy import Image
    >>> from rtwin.geometry import Grid
    >>> from rtwin.io import read_image_series, write_image_series
    >>> grid = Grid.from_spacing((3, 4, 5), spacing_mm=(0.8, 1.2, 3.0))
    >>> ct = Image(values=np.arange(60.0).reshape(grid.shape), grid=grid, modality="CT")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     _ = write_image_series(ct, folder, patient_id="demo")
    ...     series = read_image_series(folder)
    >>> series.image.grid.spacing_mm.tolist(), series.image.modality.value
    ([0.8, 1.2, 3.0], 'CT')
    >>> bool(np.array_equal(series.image.values, ct.values))
    True
    """
    headers = scan(source, recursive=recursive)
    chosen = select_image_series(headers, series_uid, Path(source))
    series = build_series(chosen, repair=repair)
    log_notes(series.notes)
    warn_repairs(series.repairs)
    return series


# ---------------------------------------------------------------------- choosing a series
def select_image_series(
    headers: Sequence[Header], series_uid: str | None, where: Path
) -> list[Header]:
    """The headers of the one image series to read (private)."""
    images: dict[str, list[Header]] = {}
    for header in headers:
        if header.sop_class_uid in IMAGE_SOP_CLASSES or header.sop_class_uid in (
            MULTIFRAME_SOP_CLASSES
        ):
            images.setdefault(header.series_instance_uid, []).append(header)
    image_summaries = summarize([h for group in images.values() for h in group])
    listing = "; ".join(s.describe() for s in image_summaries)
    if series_uid is not None:
        series_uid = str(series_uid).strip()
        if series_uid not in images:
            others = [s for s in summarize(headers) if s.series_instance_uid == series_uid]
            if others:
                raise DicomError(
                    f"series {series_uid} in {where} is {others[0].modality}, not a CT or MR "
                    f"image series; image series there: {listing or 'none'}"
                )
            raise DicomError(
                f"series {series_uid} not found in {where}; image series there: {listing or 'none'}"
            )
        group = images[series_uid]
    elif not images:
        found = "; ".join(s.describe() for s in summarize(headers))
        raise DicomError(
            f"no CT or MR image series in {where}; DICOM series found: "
            f"{found or 'none (no DICOM files)'}"
        )
    elif len(images) > 1:
        raise DicomError(
            f"{where} holds {len(images)} image series; choose one with series_uid=...: {listing}"
        )
    else:
        group = next(iter(images.values()))
    multiframe = [h for h in group if h.sop_class_uid in MULTIFRAME_SOP_CLASSES]
    if multiframe:
        raise DicomError(
            f"series {group[0].series_instance_uid} is {kind_of(multiframe[0].sop_class_uid)} "
            f"({multiframe[0].path.name}); rtwin reads classic single-frame CT and MR Image "
            "Storage only. Convert it to single-frame images first (e.g. dcmtk's or "
            "highdicom's legacy conversion)"
        )
    return group


# ---------------------------------------------------------------------- reading slices
@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class _Slice:
    path: Path
    sha256: str
    sop_instance_uid: str
    position: NDArray[np.float64]
    orientation: NDArray[np.float64]
    pixel_spacing: NDArray[np.float64]
    rows: int
    columns: int
    values: NDArray[np.float64]
    padded: int
    has_slope: bool
    has_intercept: bool
    study_uid: str
    frame_uid: str
    patient_position: str
    spacing_between_slices: float
    slice_thickness: float
    modality_tag: str
    description: str
    has_preamble: bool
    pydicom_messages: tuple[str, ...]


def _floats(dataset: Any, keyword: str, count: int, path: Path) -> NDArray[np.float64]:
    value = dataset.get(keyword, None)
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        raise DicomError(
            f"{path.name}: {keyword} is missing; it is needed to place the image in the patient, "
            "so this file cannot be a slice of a 3-D series"
        )
    try:
        numbers = np.array([float(v) for v in value], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DicomError(f"{path.name}: {keyword} {value!r} is not {count} numbers") from error
    if numbers.shape != (count,) or not np.all(np.isfinite(numbers)):
        raise DicomError(f"{path.name}: {keyword} must be {count} finite numbers; got {value!r}")
    return numbers


def _optional_float(dataset: Any, keyword: str) -> float | None:
    value = dataset.get(keyword, None)
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _rescale_value(dataset: Any, keyword: str, path: Path) -> float | None:
    """RescaleSlope or RescaleIntercept: None when absent or empty, a DicomError when unreadable.

    An unreadable value is never taken as missing: a default would shift or
    scale every value of the slice (an intercept of 0 instead of -1024 makes
    water read as +1024 HU).
    """
    value = dataset.get(keyword, None)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) and hasattr(value, "__len__") and len(value) == 0:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number):
        raise DicomError(
            f"{path.name}: {keyword} {str(value)!r} is not a finite number, so the stored values "
            "of this slice cannot be rescaled without guessing; correct the tag in (a copy of) "
            "the file, e.g. with pydicom, and read it again"
        )
    return number


def _read_slice(header: Header, modality: Modality) -> _Slice:
    path = header.path
    dataset, digest, messages = read_file(path)
    frames = _optional_float(dataset, "NumberOfFrames")
    if frames is not None and frames > 1:
        raise DicomError(
            f"{path.name}: {int(frames)} frames in one CT/MR image; rtwin reads single-frame "
            "images only"
        )
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    photometric = text(dataset, "PhotometricInterpretation", "MONOCHROME2")
    if samples != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise DicomError(
            f"{path.name}: a {photometric} image with {samples} samples per pixel; CT and MR "
            "slices must be grey-scale (MONOCHROME1/2)"
        )
    position = _floats(dataset, "ImagePositionPatient", 3, path)
    orientation = _floats(dataset, "ImageOrientationPatient", 6, path)
    spacing = _floats(dataset, "PixelSpacing", 2, path)
    if np.any(spacing <= 0):
        raise DicomError(f"{path.name}: PixelSpacing must be positive; got {spacing.tolist()}")
    if "PixelData" not in dataset:
        raise DicomError(f"{path.name}: no PixelData; it is not an image")
    try:
        stored = np.asarray(dataset.pixel_array)
    except Exception as error:
        syntax = text(getattr(dataset, "file_meta", {}), "TransferSyntaxUID", "unknown")
        raise DicomError(
            f"{path.name}: cannot decode its pixel data (transfer syntax {syntax}): {error}. "
            "Compressed images need a decoder plugin such as pylibjpeg with its libjpeg / "
            "openjpeg / rle packages, or python-gdcm"
        ) from error
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    if stored.shape != (rows, columns):
        raise DicomError(
            f"{path.name}: pixel data has shape {stored.shape} but Rows x Columns is "
            f"{rows} x {columns}"
        )
    slope = _rescale_value(dataset, "RescaleSlope", path)
    intercept = _rescale_value(dataset, "RescaleIntercept", path)
    if slope == 0:
        raise DicomError(f"{path.name}: RescaleSlope is 0; the stored values cannot be rescaled")
    values = stored.astype(np.float64) * (1.0 if slope is None else slope) + (
        0.0 if intercept is None else intercept
    )
    padded = 0
    padding = _optional_float(dataset, "PixelPaddingValue")
    if padding is not None:
        limit = _optional_float(dataset, "PixelPaddingRangeLimit")
        low, high = (padding, padding) if limit is None else sorted((padding, limit))
        is_padding = (stored >= low) & (stored <= high)
        padded = int(np.count_nonzero(is_padding))
        if padded:
            values[is_padding] = _PADDING_FILL[modality]
    return _Slice(
        path=path,
        sha256=digest,
        sop_instance_uid=text(dataset, "SOPInstanceUID"),
        position=position,
        orientation=orientation,
        pixel_spacing=spacing,
        rows=rows,
        columns=columns,
        values=values,
        padded=padded,
        has_slope=slope is not None,
        has_intercept=intercept is not None,
        study_uid=text(dataset, "StudyInstanceUID"),
        frame_uid=text(dataset, "FrameOfReferenceUID"),
        patient_position=text(dataset, "PatientPosition").upper(),
        spacing_between_slices=_optional_float(dataset, "SpacingBetweenSlices") or 0.0,
        slice_thickness=_optional_float(dataset, "SliceThickness") or 0.0,
        modality_tag=text(dataset, "Modality"),
        description=text(dataset, "SeriesDescription"),
        has_preamble=header.has_preamble,
        pydicom_messages=tuple(messages),
    )


def _names(slices: Sequence[_Slice], limit: int = 4) -> str:
    """File names, for error messages only (notes, repairs and provenance use :func:`_ids`)."""
    names = [s.path.name for s in slices[:limit]]
    more = f" and {len(slices) - limit} more" if len(slices) > limit else ""
    return ", ".join(names) + more


def _ids(slices: Sequence[_Slice], limit: int = 4) -> str:
    """SOP instance UIDs (or content hashes) of slices, for notes, repairs and provenance.

    File names and paths may hold a patient's name; they never reach the
    notes, repairs or provenance.
    """
    labels = [instance_label(s.sop_instance_uid, s.sha256) for s in slices[:limit]]
    more = f" and {len(slices) - limit} more" if len(slices) > limit else ""
    return ", ".join(labels) + more


# ---------------------------------------------------------------------- building the image
def build_series(headers: Sequence[Header], *, repair: bool) -> ImageSeries:
    """Read the files of one image series into an ImageSeries (private; no warnings emitted)."""
    sop_class = headers[0].sop_class_uid
    modality = Modality(IMAGE_SOP_CLASSES[sop_class])
    mixed = {h.sop_class_uid for h in headers}
    if len(mixed) > 1:
        raise DicomError(
            f"series {headers[0].series_instance_uid} mixes SOP classes "
            f"{sorted(kind_of(c) for c in mixed)}; pick the files of one modality"
        )
    series_uid = headers[0].series_instance_uid
    notes: list[str] = []
    repairs: list[str] = []
    slices = [_read_slice(h, modality) for h in sorted(headers, key=lambda h: str(h.path))]
    inputs = tuple(
        (f"{modality.value} {instance_label(s.sop_instance_uid, s.sha256)}", s.sha256)
        for s in slices
    )

    _collect_file_notes(slices, modality, notes, repairs)
    _check_rescale(slices, modality, series_uid, repair, repairs)
    slices = _consistent_slices(slices, series_uid, repair, repairs)
    row, column, normal, renormalised = _directions(slices[0])
    if renormalised:
        notes.append(
            f"ImageOrientationPatient of series {series_uid} renormalised to orthonormal "
            f"direction cosines (changed by up to {renormalised:.2g})"
        )
    positions = np.array([s.position for s in slices])
    along = positions @ normal
    _check_in_plane(positions, row, column, slices, series_uid)
    order = np.argsort(along, kind="stable")
    slices = [slices[i] for i in order]
    along = along[order]
    slices, along = _drop_duplicates(slices, along, series_uid, repair, repairs)
    values, sop_uids, spacing = _regular_slices(slices, along, series_uid, repair, repairs)

    pixel_spacing = slices[0].pixel_spacing
    grid = Grid.from_spacing(
        values.shape,
        spacing_mm=(pixel_spacing[1], pixel_spacing[0], spacing),
        origin_mm=slices[0].position,
        direction=np.column_stack((row, column, normal)),
    )
    frame_uid = _frame_of_reference(slices, series_uid, notes)
    study_uid, n_studies = most_common(s.study_uid for s in slices)
    if n_studies > 1:
        notes.append(
            f"the files of series {series_uid} name {n_studies} different StudyInstanceUIDs; "
            f"they are read as one series (grouped by SeriesInstanceUID), study {study_uid}"
        )
    position = _patient_position(slices, series_uid, notes)
    description = most_common(s.description for s in slices)[0]
    image = Image(values=values, grid=grid, modality=modality, description=description)
    nz, ny, nx = grid.shape
    step = (
        f"read {modality.value} series {series_uid}: {len(slices)} files -> {nz} slices of "
        f"{ny} x {nx}, spacing (i, j, k) = "
        f"({', '.join(f'{s:.6g}' for s in grid.spacing_mm)}) mm"
    )
    provenance = Provenance(
        inputs=inputs,
        steps=(step, *(f"note: {n}" for n in notes), *(f"repaired: {r}" for r in repairs)),
    )
    return ImageSeries(
        image=image,
        series_instance_uid=series_uid,
        study_instance_uid=study_uid,
        frame_of_reference_uid=frame_uid,
        patient_position=position,
        sop_class_uid=sop_class,
        slice_sop_instance_uids=sop_uids,
        files=tuple(s.path for s in slices),
        notes=tuple(notes),
        repairs=tuple(repairs),
        provenance=provenance,
    )


def _collect_file_notes(
    slices: Sequence[_Slice], modality: Modality, notes: list[str], repairs: list[str]
) -> None:
    no_preamble = [s for s in slices if not s.has_preamble]
    if no_preamble:
        notes.append(
            f"{len(no_preamble)} file(s) have no DICOM preamble/file meta ({_ids(no_preamble)}); "
            "read as raw data sets"
        )
    wrong = [s for s in slices if s.modality_tag and s.modality_tag != modality.value]
    if wrong:
        tags = sorted({s.modality_tag for s in wrong})
        repairs.append(
            f"{len(wrong)} file(s) ({_ids(wrong)}) have Modality {', '.join(map(repr, tags))} "
            f"but SOP class {modality.value} Image Storage; read as {modality.value} (the SOP "
            "class decides)"
        )
    padded = sum(s.padded for s in slices)
    if padded:
        fill = _PADDING_FILL[modality]
        notes.append(
            f"{padded} padding voxels (PixelPaddingValue, outside the scanned field of view) "
            f"set to {fill:g}{' HU (air)' if modality is Modality.CT else ''}"
        )
    messages = sorted({m for s in slices for m in s.pydicom_messages})
    for message in messages:
        notes.append(f"pydicom: {message}")


def _check_rescale(
    slices: Sequence[_Slice],
    modality: Modality,
    series_uid: str,
    repair: bool,
    repairs: list[str],
) -> None:
    """Missing rescale tags: an error unless ``repair`` (then slope 1 / intercept 0, reported).

    RescaleSlope and RescaleIntercept are Type 1 in the CT Image module, so a
    CT slice without them is incomplete; an MR series (whose module does not
    define them) may omit them, but not on some slices only.
    """
    if modality is Modality.CT:
        lacking = [s for s in slices if not (s.has_slope and s.has_intercept)]
        why = "they are Type 1 in the CT Image module"
    else:
        patterns = {(s.has_slope, s.has_intercept) for s in slices}
        if len(patterns) == 1:
            return
        full = max(patterns, key=lambda p: (sum(p), p))
        lacking = [s for s in slices if (s.has_slope, s.has_intercept) != full]
        why = "the other files of the series have them"
    if not lacking:
        return
    tags = [
        tag
        for tag, present in (
            ("RescaleSlope", all(s.has_slope for s in lacking)),
            ("RescaleIntercept", all(s.has_intercept for s in lacking)),
        )
        if not present
    ]
    problem = (
        f"series {series_uid}: {len(lacking)} {modality.value} file(s) lack "
        f"{'/'.join(tags)} ({why})"
    )
    if not repair:
        raise DicomError(
            f"{problem}: {_names(lacking)}. Their values cannot be converted to "
            f"{'HU' if modality is Modality.CT else 'the series units'} without guessing; pass "
            "repair=True to assume slope 1 and intercept 0 (reported), or fix the files"
        )
    repairs.append(
        f"{problem} ({_ids(lacking)}); slope 1 and intercept 0 assumed for the missing tags"
    )


def _directions(reference: _Slice) -> tuple[NDArray[np.float64], ...]:
    row = reference.orientation[:3].copy()
    column = reference.orientation[3:].copy()
    norms = np.linalg.norm(row), np.linalg.norm(column)
    if (
        abs(norms[0] - 1) > _ORTHONORMAL_LIMIT
        or abs(norms[1] - 1) > _ORTHONORMAL_LIMIT
        or abs(float(row @ column)) > _ORTHONORMAL_LIMIT * max(norms)
    ):
        raise DicomError(
            f"{reference.path.name}: ImageOrientationPatient "
            f"{reference.orientation.tolist()} is not two orthogonal unit vectors (norms "
            f"{norms[0]:.4g}, {norms[1]:.4g}, dot {float(row @ column):.3g}); the file is corrupt"
        )
    new_row = row / norms[0]
    new_column = column - (column @ new_row) * new_row
    new_column /= np.linalg.norm(new_column)
    normal = np.cross(new_row, new_column)
    change = float(max(np.max(np.abs(new_row - row)), np.max(np.abs(new_column - column))))
    return new_row, new_column, normal, change if change > 1e-6 else 0.0


def _same_geometry(a: _Slice, b: _Slice) -> bool:
    return (
        a.rows == b.rows
        and a.columns == b.columns
        and bool(np.allclose(a.orientation, b.orientation, atol=_ORIENTATION_TOLERANCE))
        and bool(np.allclose(a.pixel_spacing, b.pixel_spacing, rtol=1e-5, atol=1e-6))
    )


def _describe_geometry(s: _Slice) -> str:
    return (
        f"{s.rows}x{s.columns} pixels of {s.pixel_spacing.tolist()} mm, orientation "
        f"{np.round(s.orientation, 4).tolist()}"
    )


def _consistent_slices(
    slices: list[_Slice], series_uid: str, repair: bool, repairs: list[str]
) -> list[_Slice]:
    groups: list[list[_Slice]] = []
    for s in slices:
        for group in groups:
            if _same_geometry(group[0], s):
                group.append(s)
                break
        else:
            groups.append([s])
    if len(groups) == 1:
        return slices
    groups.sort(key=len, reverse=True)
    listing = "; ".join(
        f"{len(g)} file(s) with {_describe_geometry(g[0])} ({_names(g)})" for g in groups
    )
    if not repair or len(groups[0]) == len(groups[1]):
        hint = (
            " Pass repair=True to keep the largest group and drop the others (e.g. localizers)"
            if len(groups[0]) != len(groups[1])
            else " No group is the majority, so repair cannot choose; select the files yourself"
        )
        raise DicomError(
            f"series {series_uid}: its slices differ in size, pixel spacing or orientation, so "
            f"they do not form one volume: {listing}.{hint}"
        )
    dropped = [s for g in groups[1:] for s in g]
    repairs.append(
        f"series {series_uid}: dropped {len(dropped)} file(s) whose size, pixel spacing or "
        f"orientation differ from the other {len(groups[0])} ({_ids(dropped)}: "
        f"{_describe_geometry(dropped[0])})"
    )
    return groups[0]


def _check_in_plane(
    positions: NDArray[np.float64],
    row: NDArray[np.float64],
    column: NDArray[np.float64],
    slices: Sequence[_Slice],
    series_uid: str,
) -> None:
    offsets = positions - positions[0]
    drift = max(float(np.ptp(offsets @ row)), float(np.ptp(offsets @ column)))
    if drift > POSITION_TOLERANCE_MM:
        raise DicomError(
            f"series {series_uid}: the slice origins shift by up to {drift:.3g} mm within the "
            "image plane from slice to slice (a gantry-tilted or sheared acquisition); rtwin grids "
            "are orthogonal, so resample the series onto an orthogonal grid first (e.g. with "
            f"3D Slicer or SimpleITK). Files: {_names(list(slices))}"
        )


def _drop_duplicates(
    slices: list[_Slice],
    along: NDArray[np.float64],
    series_uid: str,
    repair: bool,
    repairs: list[str],
) -> tuple[list[_Slice], NDArray[np.float64]]:
    keep: list[int] = []
    duplicates: list[tuple[float, list[_Slice]]] = []
    start = 0
    n = len(slices)
    while start < n:
        stop = start + 1
        while stop < n and along[stop] - along[start] <= POSITION_TOLERANCE_MM:
            stop += 1
        keep.append(start)
        if stop - start > 1:
            group = slices[start:stop]
            if not all(np.array_equal(group[0].values, other.values) for other in group[1:]):
                raise DicomError(
                    f"series {series_uid}: {len(group)} images at the same position "
                    f"{along[start]:.3f} mm along the slice normal hold different pixel values "
                    f"({_names(group)}); the series mixes acquisitions (e.g. respiratory or "
                    "contrast phases; see AcquisitionNumber / TemporalPositionIdentifier). "
                    "Copy the files of one acquisition to their own folder and read that"
                )
            duplicates.append((float(along[start]), group))
        start = stop
    if not duplicates:
        return slices, along
    count = sum(len(g) - 1 for _, g in duplicates)
    positions = ", ".join(f"{p:.3f}" for p, _ in duplicates[:5])
    repeated = [s for _, g in duplicates for s in g[1:]]
    if not repair:
        raise DicomError(
            f"series {series_uid}: {count} duplicate image(s) at positions {positions} mm along "
            f"the slice normal ({_names(repeated)} repeat other files exactly). Pass repair=True "
            "to drop the duplicates"
        )
    repairs.append(
        f"series {series_uid}: dropped {count} exact duplicate image(s) at positions {positions} "
        f"mm ({_ids(repeated)})"
    )
    return [slices[i] for i in keep], along[keep]


def _regular_slices(
    slices: list[_Slice],
    along: NDArray[np.float64],
    series_uid: str,
    repair: bool,
    repairs: list[str],
) -> tuple[NDArray[np.float64], tuple[str, ...], float]:
    """Stack slices on a uniform spacing; returns values, SOP UIDs per slice and the spacing."""
    values = [s.values for s in slices]
    uids = [s.sop_instance_uid for s in slices]
    n = len(slices)
    if n == 1:
        only = slices[0]
        spacing = only.spacing_between_slices or only.slice_thickness
        if spacing <= 0:
            if not repair:
                raise DicomError(
                    f"series {series_uid} has a single slice ({only.path.name}) and neither "
                    "SpacingBetweenSlices nor SliceThickness, so its slice spacing is unknown; "
                    f"pass repair=True to assume {ASSUMED_SLICE_SPACING_MM:g} mm"
                )
            spacing = ASSUMED_SLICE_SPACING_MM
            repairs.append(
                f"series {series_uid} is a single slice without SpacingBetweenSlices or "
                f"SliceThickness; its slice spacing is assumed to be {spacing:g} mm (volumes "
                "scale with it)"
            )
        return np.stack(values), tuple(uids), float(spacing)
    span = float(along[-1] - along[0])
    uniform = span / (n - 1)
    deviation = float(np.max(np.abs(along - (along[0] + uniform * np.arange(n)))))
    if deviation <= POSITION_TOLERANCE_MM:
        return np.stack(values), tuple(uids), uniform
    gaps = np.diff(along)
    smallest = float(gaps.min())
    multiples = np.round(gaps / smallest)
    if np.all(np.abs(gaps - multiples * smallest) <= 2 * POSITION_TOLERANCE_MM):
        missing = int(np.sum(multiples - 1))
        where = ", ".join(
            f"{along[i]:.3f} to {along[i + 1]:.3f}" for i in np.flatnonzero(multiples > 1)[:5]
        )
        problem = (
            f"{missing} missing slice(s) in a {smallest:.4g} mm series (gaps between {where} mm "
            "along the slice normal)"
        )
    else:
        problem = (
            f"uneven slice gaps from {smallest:.4g} to {float(gaps.max()):.4g} mm along the "
            "slice normal"
        )
    if not repair:
        raise DicomError(
            f"series {series_uid}: {problem}, so its slices do not form a regular grid. Pass "
            f"repair=True to resample it onto a uniform {smallest:.4g} mm spacing by linear "
            "interpolation between neighbouring slices (each repair is reported)"
        )
    n_new = round(span / smallest) + 1
    if n_new > _MAX_RESAMPLE_GROWTH * n + 8:
        raise DicomError(
            f"series {series_uid}: {problem}; resampling onto the smallest gap would turn {n} "
            f"slices into {n_new}, so the series is too irregular to repair. Select evenly "
            "spaced files yourself"
        )
    spacing = span / (n_new - 1)
    targets = along[0] + spacing * np.arange(n_new)
    stack = np.stack(values)
    new_values = np.empty((n_new, *stack.shape[1:]), dtype=np.float64)
    new_uids: list[str] = []
    interpolated = 0
    for m, target in enumerate(targets):
        nearest = int(np.argmin(np.abs(along - target)))
        if abs(along[nearest] - target) <= POSITION_TOLERANCE_MM:
            new_values[m] = stack[nearest]
            new_uids.append(uids[nearest])
            continue
        upper = int(np.searchsorted(along, target))
        lower = upper - 1
        weight = (target - along[lower]) / (along[upper] - along[lower])
        new_values[m] = (1.0 - weight) * stack[lower] + weight * stack[upper]
        new_uids.append("")
        interpolated += 1
    repairs.append(
        f"series {series_uid}: {problem}; resampled {n} slices onto {n_new} at a uniform "
        f"{spacing:.4g} mm spacing by linear interpolation along the slice normal "
        f"({interpolated} slice(s) interpolated, {n_new - interpolated} kept as read)"
    )
    return new_values, tuple(new_uids), spacing


def _frame_of_reference(slices: Sequence[_Slice], series_uid: str, notes: list[str]) -> str:
    frames = {s.frame_uid for s in slices if s.frame_uid}
    if len(frames) > 1:
        raise DicomError(
            f"series {series_uid}: its files name {len(frames)} different FrameOfReferenceUIDs "
            f"({', '.join(sorted(frames))}), so their positions are not in one coordinate system"
        )
    if not frames:
        notes.append(
            f"series {series_uid} names no FrameOfReferenceUID; structure sets cannot be checked "
            "against its frame of reference"
        )
        return ""
    if any(not s.frame_uid for s in slices):
        notes.append(
            f"some files of series {series_uid} lack FrameOfReferenceUID; the others' is used"
        )
    return frames.pop()


def _patient_position(
    slices: Sequence[_Slice], series_uid: str, notes: list[str]
) -> PatientPosition | None:
    value, distinct = most_common(s.patient_position for s in slices)
    if distinct > 1:
        raise DicomError(
            f"series {series_uid}: its files name {distinct} different PatientPosition values; "
            "one series is acquired in one patient position"
        )
    if not value:
        notes.append(f"series {series_uid} has no PatientPosition")
        return None
    try:
        return PatientPosition(value)
    except ValueError:
        notes.append(
            f"series {series_uid}: PatientPosition {value!r} is not one of "
            f"{[p.value for p in PatientPosition]}; treated as unknown"
        )
        return None
