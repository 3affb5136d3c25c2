"""Reading and writing DICOM RT Dose: a :class:`~rtwin.dose.Dose` and what the file says about it."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rtwin.dose import Dose
from rtwin.errors import DicomError
from rtwin.geometry import Grid
from rtwin.io._files import (
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
from rtwin.io._series import ASSUMED_SLICE_SPACING_MM, POSITION_TOLERANCE_MM, ImageSeries
from rtwin.io._write import (
    _check_text,
    _check_uid,
    _ds,
    _ds_list,
    _file_meta,
    _now,
    _patient_and_study,
    _pydicom,
    _refuse_existing,
    _save,
    _strict,
)
from rtwin.patient import Patient, Provenance, hash_file

__all__ = ["RTDose", "read_rtdose", "write_rtdose"]

logger = logging.getLogger(__name__)

RT_DOSE_STORAGE = "1.2.840.10008.5.1.4.1.1.481.2"
RT_PLAN_STORAGE = "1.2.840.10008.5.1.4.1.1.481.5"
#: Largest value of the uint32 pixel data rtwin writes.
_UINT32_MAX = 2**32 - 1
#: DoseSummationType defined terms (DICOM PS3.3 C.8.8.3).
SUMMATION_TYPES = (
    "PLAN",
    "MULTI_PLAN",
    "FRACTION",
    "BEAM",
    "BRACHY",
    "FRACTION_SESSION",
    "BEAM_SESSION",
    "BRACHY_SESSION",
    "CONTROL_POINT",
    "RECORD",
)
DOSE_TYPES = ("PHYSICAL", "EFFECTIVE", "ERROR")
#: With repair=True, resampling uneven frames may create at most this many times the frames.
_MAX_RESAMPLE_GROWTH = 4
_AXIAL = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0])


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class RTDose:
    """A dose read from (or written to) a DICOM RT Dose file.

    :func:`read_rtdose` returns it; :func:`write_rtdose` returns it for the
    file it wrote (``.dose`` then holds the values as they read back).

    Parameters
    ----------
    dose
        The dose grid in Gy (float32) on its :class:`~rtwin.geometry.Grid`.
    dose_units
        DoseUnits of the file: ``"GY"``, or ``"RELATIVE"`` (then ``.dose``
        is the relative dose times the ``reference_dose_gy`` given to
        :func:`read_rtdose`).
    dose_type
        DoseType: ``"PHYSICAL"``, ``"EFFECTIVE"`` (e.g. RBE-weighted) or
        ``"ERROR"`` (a dose difference).
    summation_type
        DoseSummationType (``"PLAN"``, ``"BEAM"``, ``"FRACTION"``, ...;
        ``""`` when missing).
    frame_of_reference_uid
        FrameOfReferenceUID (``""`` when missing): the link to the CT and
        structure set the dose belongs to.
    referenced_plan_uids
        SOP instance UIDs of the RT Plans in ReferencedRTPlanSequence (one,
        or several for MULTI_PLAN; empty when none is referenced).
    dose_grid_scaling
        DoseGridScaling: Gy (or relative units) per stored pixel value.
    sop_instance_uid, series_instance_uid, study_instance_uid
        UIDs of the file.
    path
        The file read or written.
    notes, repairs
        As for :class:`ImageSeries`: notes are logged; each repair was also
        emitted as a :class:`~rtwin.errors.RtwinWarning`.
    provenance
        SHA-256 of the file and the steps, notes and repairs.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from rtwin.dose import Dose
    >>> from rtwin.geometry import Grid
    >>> from rtwin.io import read_rtdose, write_rtdose
    >>> grid = Grid.from_spacing((3, 4, 5), spacing_mm=(2.0, 2.5, 3.0), origin_mm=(-4, -4, 0))
    >>> dose = Dose(values=np.linspace(0, 60, 60).reshape(grid.shape), grid=grid)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = write_rtdose(dose, Path(folder) / "RD.dcm", patient_id="demo")
    ...     read = read_rtdose(written.path)
    >>> read.dose.grid == grid, read.dose_units, read.summation_type
    (True, 'GY', 'PLAN')
    >>> bool(np.array_equal(read.dose.values, written.dose.values))
    True
    """

    dose: Dose
    dose_units: str
    dose_type: str
    summation_type: str
    frame_of_reference_uid: str
    referenced_plan_uids: tuple[str, ...]
    dose_grid_scaling: float
    sop_instance_uid: str
    series_instance_uid: str
    study_instance_uid: str
    path: Path
    notes: tuple[str, ...] = ()
    repairs: tuple[str, ...] = ()
    provenance: Provenance = field(default_factory=Provenance, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.dose, Dose):
            raise DicomError(f"RTDose.dose must be an rtwin Dose; got {type(self.dose).__name__}")
        object.__setattr__(self, "referenced_plan_uids", tuple(self.referenced_plan_uids))
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "repairs", tuple(self.repairs))

    @property
    def grid(self) -> Grid:
        """The dose grid."""
        return self.dose.grid

    def __repr__(self) -> str:
        return (
            f"RTDose({self.summation_type or 'no summation type'} {self.dose_type} dose in "
            f"{self.dose_units}, {self.grid!r}, max {self.dose.max_gy:.4g} Gy, "
            f"{len(self.repairs)} repairs)"
        )


# ---------------------------------------------------------------------- reading
def read_rtdose(
    path: str | os.PathLike[str],
    *,
    reference_dose_gy: float | None = None,
    repair: bool = False,
) -> RTDose:
    """Read the dose grid of a DICOM RT Dose file.

    Parameters
    ----------
    path
        The RTDOSE file (a file without preamble is read too).
    reference_dose_gy
        For a file with DoseUnits ``RELATIVE`` only: the dose in Gy that
        relative value 1 stands for (the file does not say). Relative
        doses are refused without it; it is refused for doses in Gy.
    repair
        Repair what would otherwise raise: frames at uneven offsets are
        resampled onto a uniform spacing (the smallest gap) by linear
        interpolation between neighbouring frames; a GridFrameOffsetVector
        whose first value is neither 0 nor the z of ImagePositionPatient is
        read as relative to ImagePositionPatient; a single frame without
        SliceThickness gets 1 mm; a missing DoseGridScaling is taken as 1
        and missing DoseUnits as GY. Each repair is reported.

    Returns
    -------
    RTDose
        ``.dose`` (Gy, float32, on a Grid in LPS mm) with
        ``.frame_of_reference_uid``, ``.referenced_plan_uids``,
        ``.summation_type``, ``.dose_units``, ``.dose_type``,
        ``.dose_grid_scaling``, ``.notes``, ``.repairs``, ``.provenance``.

    Raises
    ------
    DicomError
        Not an RT Dose object (by SOP class), no pixel data (a DVH-only
        RT Dose), missing or unreadable geometry, a GridFrameOffsetVector
        that does not match the frames, repeated frame offsets, uneven or
        unexplained offsets (without ``repair``), a missing or
        non-positive DoseGridScaling (without ``repair``), unknown
        DoseUnits, RELATIVE units without ``reference_dose_gy``.

    Notes
    -----
    - Values are ``stored × DoseGridScaling`` (× ``reference_dose_gy`` for
      RELATIVE doses), computed in float64 and stored as float32.
    - Geometry: the grid's ``i`` axis runs along a row
      (ImageOrientationPatient[:3], spacing PixelSpacing[1]), ``j`` down a
      column (IOP[3:], spacing PixelSpacing[0] — DICOM's PixelSpacing is
      *row spacing, column spacing*), ``k`` along the normal ``n = row ×
      column``. Frame ``f`` lies at ``ImagePositionPatient + offset_f · n``
      with the GridFrameOffsetVector read relative to ImagePositionPatient
      (first value 0); a vector whose first value equals the z of
      ImagePositionPatient, in an axial (identity) orientation, is read as
      absolute z positions (DICOM allows both). Frames are sorted along
      ``n`` (a file with decreasing offsets is read in increasing order,
      noted); the spacing comes from the offsets (uniform within 0.01 mm).
    - A single frame takes its spacing from SliceThickness.
    - Nothing that identifies the patient is read into the result; the
      frame of reference UID links the dose to its CT and structures.
      Notes, repairs and provenance name the file by its SOP instance UID.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from rtwin.dose import Dose
    >>> from rtwin.geometry import Grid
    >>> from rtwin.io import read_rtdose, write_rtdose
    >>> grid = Grid.from_spacing((4, 6, 8), spacing_mm=(2.5, 2.0, 3.0), origin_mm=(-9, -5, -4.5))
    >>> dose = Dose(values=np.full(grid.shape, 2.0), grid=grid)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = write_rtdose(dose, Path(folder) / "RD.dcm", patient_id="demo").path
    ...     rtdose = read_rtdose(path)
    >>> float(rtdose.dose.values.max()), rtdose.grid.spacing_mm.tolist()
    (2.0, [2.5, 2.0, 3.0])
    """
    result = _parse_rtdose(path, reference_dose_gy=reference_dose_gy, repair=repair)
    log_notes(result.notes)
    warn_repairs(result.repairs)
    return result


def _numbers(dataset: Any, keyword: str, count: int | None, where: str) -> NDArray[np.float64]:
    value = dataset.get(keyword, None)
    if value is None or (hasattr(value, "__len__") and len(value) == 0):
        raise DicomError(
            f"{where}: {keyword} is missing; the dose grid cannot be placed without it"
        )
    items = [value] if isinstance(value, str | bytes) or not hasattr(value, "__iter__") else value
    try:
        numbers = np.array([float(v) for v in items], dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DicomError(f"{where}: {keyword} {value!r} is not a list of numbers") from error
    if (count is not None and numbers.shape != (count,)) or not np.all(np.isfinite(numbers)):
        expected = f"{count} finite numbers" if count is not None else "finite numbers"
        raise DicomError(f"{where}: {keyword} must be {expected}; got {value!r}")
    return numbers


def _optional_number(dataset: Any, keyword: str) -> float | None:
    value = dataset.get(keyword, None)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if np.isfinite(number) else None


def _orientation(iop: NDArray[np.float64], where: str) -> tuple[NDArray[np.float64], ...]:
    row, column = iop[:3], iop[3:]
    norms = np.linalg.norm(row), np.linalg.norm(column)
    if abs(norms[0] - 1) > 1e-2 or abs(norms[1] - 1) > 1e-2 or abs(float(row @ column)) > 1e-2:
        raise DicomError(
            f"{where}: ImageOrientationPatient {iop.tolist()} is not two orthogonal unit vectors; "
            "the file is corrupt"
        )
    row = row / norms[0]
    column = column - (column @ row) * row
    column = column / np.linalg.norm(column)
    return row, column, np.cross(row, column)


def _parse_rtdose(
    path: str | os.PathLike[str], *, reference_dose_gy: float | None, repair: bool
) -> RTDose:
    """Read an RT Dose file (private; returns notes and repairs without emitting warnings)."""
    file = as_path(path, "RTDOSE file")
    notes: list[str] = []
    repairs: list[str] = []
    preamble = sniff(file)
    dataset, digest, messages = read_file(file)
    sop_uid = text(dataset, "SOPInstanceUID")
    name = f"RT dose {instance_label(sop_uid, digest)}"
    where = file.name
    sop_class = _sop_class(dataset)
    modality = text(dataset, "Modality")
    if sop_class != RT_DOSE_STORAGE:
        if sop_class or modality != "RTDOSE":
            raise DicomError(
                f"{where} is {kind_of(sop_class) if sop_class else 'a DICOM object without SOP class'}"
                f" (SOP class {sop_class or 'missing'}), not an RT Dose Storage object"
            )
        repairs.append(f"{name} has no SOPClassUID; read as an RT Dose (Modality RTDOSE)")
    elif modality != "RTDOSE":
        repairs.append(
            f"{name} has Modality {modality!r} but SOP class RT Dose Storage; read as a dose "
            "(the SOP class decides)"
        )
    if preamble is False:
        notes.append(f"{name} has no DICOM preamble/file meta; read as a raw data set")
    notes.extend(f"pydicom ({name}): {m}" for m in dict.fromkeys(messages))
    if "PixelData" not in dataset:
        raise DicomError(
            f"{where} holds no dose grid (no PixelData; an RT Dose with DVHs or points only)"
        )

    # ------------------------------------------------------------- units and scaling
    units = text(dataset, "DoseUnits").upper()
    if not units:
        if not repair:
            raise DicomError(
                f"{where}: DoseUnits is missing (Type 1), so Gy and relative dose cannot be told "
                "apart; pass repair=True to read it as GY (reported)"
            )
        units = "GY"
        repairs.append(f"{name} has no DoseUnits; read as GY")
    if units not in ("GY", "RELATIVE"):
        raise DicomError(
            f"{where}: DoseUnits {units!r} is not one DICOM defines ('GY' or 'RELATIVE')"
        )
    factor = 1.0
    if units == "RELATIVE":
        if reference_dose_gy is None:
            raise DicomError(
                f"{where} holds RELATIVE dose (DoseUnits RELATIVE: relative to a reference value "
                "the file does not state); pass reference_dose_gy=<the dose in Gy that relative "
                "value 1 stands for> to read it in Gy"
            )
        try:
            factor = float(reference_dose_gy)
        except (TypeError, ValueError):
            factor = float("nan")
        if isinstance(reference_dose_gy, bool) or not np.isfinite(factor) or factor <= 0:
            raise DicomError(f"reference_dose_gy must be a number > 0; got {reference_dose_gy!r}")
        notes.append(
            f"{name} holds RELATIVE dose; relative value 1 read as {factor:g} Gy "
            "(reference_dose_gy)"
        )
    elif reference_dose_gy is not None:
        raise DicomError(
            f"reference_dose_gy applies to RELATIVE doses only; {where} is in {units}, so omit it"
        )
    dose_type = text(dataset, "DoseType").upper()
    if dose_type and dose_type not in DOSE_TYPES:
        notes.append(f"{name} has DoseType {dose_type!r}, not one of {list(DOSE_TYPES)}")
    if dose_type == "EFFECTIVE":
        notes.append(f"{name} is an EFFECTIVE dose (physical dose times a biological factor)")
    summation = text(dataset, "DoseSummationType").upper()
    if not summation:
        notes.append(f"{name} has no DoseSummationType")
    scaling = _optional_number(dataset, "DoseGridScaling")
    if scaling is None or scaling <= 0:
        raw = text(dataset, "DoseGridScaling")
        if raw and scaling is None:
            raise DicomError(
                f"{where}: DoseGridScaling {raw!r} is not a finite number, so the stored values "
                "cannot be converted to dose without guessing"
            )
        if scaling is not None:
            raise DicomError(f"{where}: DoseGridScaling must be > 0; got {raw!r}")
        if not repair:
            raise DicomError(
                f"{where}: DoseGridScaling is missing (Type 1C with pixel data), so the stored "
                "values cannot be converted to dose; pass repair=True to assume 1 (reported)"
            )
        scaling = 1.0
        repairs.append(f"{name} has no DoseGridScaling; 1 assumed (stored values read as dose)")

    # ------------------------------------------------------------- pixels
    rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
    frames = int(_optional_number(dataset, "NumberOfFrames") or 1)
    samples = int(dataset.get("SamplesPerPixel", 1) or 1)
    if samples != 1:
        raise DicomError(f"{where}: {samples} samples per pixel; a dose grid has one")
    try:
        stored = np.asarray(dataset.pixel_array)
    except Exception as error:
        syntax = text(getattr(dataset, "file_meta", {}), "TransferSyntaxUID", "unknown")
        raise DicomError(
            f"{where}: cannot decode its pixel data (transfer syntax {syntax}): {error}"
        ) from error
    stored = stored.reshape((1, *stored.shape)) if stored.ndim == 2 else stored
    if stored.shape != (frames, rows, columns):
        raise DicomError(
            f"{where}: pixel data has shape {stored.shape} but NumberOfFrames x Rows x Columns is "
            f"{frames} x {rows} x {columns}"
        )
    values = stored.astype(np.float64) * (scaling * factor)

    # ------------------------------------------------------------- geometry
    position = _numbers(dataset, "ImagePositionPatient", 3, where)
    iop = _numbers(dataset, "ImageOrientationPatient", 6, where)
    pixel_spacing = _numbers(dataset, "PixelSpacing", 2, where)
    if np.any(pixel_spacing <= 0):
        raise DicomError(f"{where}: PixelSpacing must be positive; got {pixel_spacing.tolist()}")
    row, column, normal = _orientation(iop, where)
    offsets, values, spacing = _frames(
        dataset, values, position, iop, name, where, repair, notes, repairs
    )
    grid = Grid.from_spacing(
        values.shape,
        spacing_mm=(pixel_spacing[1], pixel_spacing[0], spacing),
        origin_mm=position + offsets[0] * normal,
        direction=np.column_stack((row, column, normal)),
    )
    description = text(dataset, "SeriesDescription") or f"RTDOSE {summation or ''}".rstrip()
    dose = Dose(values=values, grid=grid, description=description)

    # ------------------------------------------------------------- references
    plans = tuple(
        uid
        for uid in (
            text(item, "ReferencedSOPInstanceUID")
            for item in dataset.get("ReferencedRTPlanSequence", None) or ()
        )
        if uid
    )
    frame_uid = text(dataset, "FrameOfReferenceUID")
    if not frame_uid:
        notes.append(f"{name} has no FrameOfReferenceUID; it cannot be matched to a CT by UID")
    nz, ny, nx = grid.shape
    step = (
        f"read {name}: {nz} frames of {ny} x {nx}, spacing (i, j, k) = "
        f"({', '.join(f'{s:.6g}' for s in grid.spacing_mm)}) mm, DoseGridScaling {scaling:g}, "
        f"{units}, {dose_type or 'no DoseType'}, {summation or 'no DoseSummationType'}"
    )
    provenance = Provenance(
        inputs=((f"RTDOSE {instance_label(sop_uid, digest)}", digest),),
        steps=(step, *(f"note: {n}" for n in notes), *(f"repaired: {r}" for r in repairs)),
    )
    return RTDose(
        dose=dose,
        dose_units=units,
        dose_type=dose_type,
        summation_type=summation,
        frame_of_reference_uid=frame_uid,
        referenced_plan_uids=plans,
        dose_grid_scaling=float(scaling),
        sop_instance_uid=sop_uid,
        series_instance_uid=text(dataset, "SeriesInstanceUID"),
        study_instance_uid=text(dataset, "StudyInstanceUID"),
        path=file,
        notes=tuple(notes),
        repairs=tuple(repairs),
        provenance=provenance,
    )


def _frames(
    dataset: Any,
    values: NDArray[np.float64],
    position: NDArray[np.float64],
    iop: NDArray[np.float64],
    name: str,
    where: str,
    repair: bool,
    notes: list[str],
    repairs: list[str],
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Frame offsets along the normal (relative to IPP, ascending), the values in that order,
    and the uniform frame spacing."""
    n = values.shape[0]
    given = dataset.get("GridFrameOffsetVector", None)
    if given is not None and not (hasattr(given, "__len__") and len(given) == 0):
        offsets = _numbers(dataset, "GridFrameOffsetVector", None, where)
    elif n == 1:
        offsets = np.zeros(1)
    else:
        raise DicomError(
            f"{where}: {n} frames but no GridFrameOffsetVector (Type 1C for multi-frame doses); "
            "the frames cannot be placed"
        )
    if offsets.size != n:
        raise DicomError(
            f"{where}: GridFrameOffsetVector has {offsets.size} values for {n} frames; it needs "
            "one per frame"
        )
    if offsets[0] != 0:
        axial = bool(np.allclose(iop, _AXIAL, atol=1e-6))
        if axial and abs(offsets[0] - position[2]) <= POSITION_TOLERANCE_MM:
            notes.append(
                f"{name}: GridFrameOffsetVector holds absolute z positions (its first value is "
                "the z of ImagePositionPatient); read as offsets from it"
            )
            offsets = offsets - position[2]
        elif not repair:
            raise DicomError(
                f"{where}: GridFrameOffsetVector starts at {offsets[0]:g} mm, neither 0 (offsets "
                "relative to ImagePositionPatient) nor the z of ImagePositionPatient "
                f"({position[2]:g} mm, absolute positions in an axial dose); pass repair=True to "
                "read the offsets as relative to ImagePositionPatient (reported)"
            )
        else:
            repairs.append(
                f"{name}: GridFrameOffsetVector starts at {offsets[0]:g} mm, neither 0 nor the z "
                "of ImagePositionPatient; read as offsets relative to ImagePositionPatient (the "
                f"first frame {offsets[0]:g} mm from it along the normal)"
            )
    if n == 1:
        spacing = _optional_number(dataset, "SliceThickness") or 0.0
        if spacing <= 0:
            if not repair:
                raise DicomError(
                    f"{where} is a single dose plane without SliceThickness, so its thickness is "
                    f"unknown; pass repair=True to assume {ASSUMED_SLICE_SPACING_MM:g} mm"
                )
            spacing = ASSUMED_SLICE_SPACING_MM
            repairs.append(
                f"{name} is a single dose plane without SliceThickness; {spacing:g} mm assumed"
            )
        return offsets, values, float(spacing)
    order = np.argsort(offsets, kind="stable")
    if np.any(order != np.arange(n)):
        if np.all(order == np.arange(n)[::-1]):
            notes.append(
                f"{name}: frames are stored in decreasing order along the normal; read in "
                "increasing order"
            )
        else:
            notes.append(f"{name}: frames are stored out of order; sorted by their offset")
        offsets, values = offsets[order], values[order]
    gaps = np.diff(offsets)
    if np.any(gaps <= POSITION_TOLERANCE_MM):
        repeated = offsets[1:][gaps <= POSITION_TOLERANCE_MM]
        raise DicomError(
            f"{where}: several frames at the same offset ({', '.join(f'{v:g}' for v in repeated[:4])}"
            " mm) in GridFrameOffsetVector; the frames do not form a grid"
        )
    span = float(offsets[-1] - offsets[0])
    uniform = span / (n - 1)
    deviation = float(np.max(np.abs(offsets - (offsets[0] + uniform * np.arange(n)))))
    if deviation <= POSITION_TOLERANCE_MM:
        return offsets, values, uniform
    smallest = float(gaps.min())
    problem = (
        f"GridFrameOffsetVector has uneven gaps from {smallest:.4g} to {float(gaps.max()):.4g} mm"
    )
    if not repair:
        raise DicomError(
            f"{where}: {problem}, so the frames do not form a regular grid. Pass repair=True to "
            f"resample the dose onto a uniform {smallest:.4g} mm spacing by linear interpolation "
            "between neighbouring frames (reported)"
        )
    n_new = round(span / smallest) + 1
    if n_new > _MAX_RESAMPLE_GROWTH * n + 8:
        raise DicomError(
            f"{where}: {problem}; resampling onto the smallest gap would turn {n} frames into "
            f"{n_new}, so the dose is too irregular to repair"
        )
    spacing = span / (n_new - 1)
    targets = offsets[0] + spacing * np.arange(n_new)
    index = np.interp(targets, offsets, np.arange(n, dtype=np.float64))
    lower = np.clip(np.floor(index).astype(np.int64), 0, n - 2)
    weight = (index - lower)[:, None, None]
    resampled = (1.0 - weight) * values[lower] + weight * values[lower + 1]
    repairs.append(
        f"{name}: {problem}; resampled {n} frames onto {n_new} at a uniform {spacing:.4g} mm by "
        "linear interpolation between neighbouring frames"
    )
    return targets, resampled, spacing


# ---------------------------------------------------------------------- writing
def _scaling(max_gy: float) -> float:
    """The DoseGridScaling rtwin writes: a DS value ``s`` with ``max_gy / s <= 2**32 - 1``.

    ``max_gy / (2**32 - 1)`` rounded *up* to what a 16-character decimal
    string holds, so the maximum fits uint32 and the writer quantizes with
    exactly the value a reader will parse.
    """
    if max_gy <= 0:
        return 1.0
    scale = max_gy / _UINT32_MAX
    for _ in range(8):
        written = float(_ds(scale))
        if written * _UINT32_MAX >= max_gy:
            return written
        scale *= 1.0 + 1e-9
    raise DicomError(f"cannot find a DoseGridScaling for a maximum dose of {max_gy!r} Gy")


def _quantize(values: NDArray[np.float32]) -> tuple[NDArray[np.uint32], float]:
    data = np.asarray(values, dtype=np.float64)
    scaling = _scaling(float(data.max()))
    stored = np.clip(np.rint(data / scaling), 0, _UINT32_MAX).astype(np.uint32)
    return stored, scaling


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str) or value.strip().upper() not in allowed:
        raise DicomError(f"unknown {what} {value!r}; use one of {list(allowed)}")
    return value.strip().upper()


def write_rtdose(
    dose: Dose,
    path: str | os.PathLike[str],
    *,
    reference: ImageSeries | Patient | None = None,
    patient_id: str | None = None,
    frame_of_reference_uid: str | None = None,
    study_instance_uid: str | None = None,
    referenced_plan_uid: str | None = None,
    summation_type: str = "PLAN",
    dose_type: str = "PHYSICAL",
    series_description: str = "",
    copy_patient_identity: bool = False,
    overwrite: bool = False,
) -> RTDose:
    """Write a dose as a DICOM RT Dose file (uint32 pixels with DoseGridScaling).

    Parameters
    ----------
    dose
        The dose in Gy, >= 0, on any grid (usually not the CT's).
    path
        The file to write; its folder must exist.
    reference
        What the dose belongs to:

        - an :class:`ImageSeries` (from :func:`write_image_series` or
          :func:`read_image_series`): the dose joins its study and frame of
          reference, and its PatientID is copied (as :func:`write_rtstruct`
          does);
        - a :class:`~rtwin.patient.Patient`: its (pseudonymous)
          ``patient_id`` and its ``frame_of_reference_uid`` (a new one when
          it has none, as a phantom) are written, in a new study;
        - ``None``: give ``patient_id``; a new study and frame of reference
          are made unless given.
    patient_id
        A (pseudonymous) PatientID, also written as PatientName; overrides
        the reference's. Required without a reference.
    frame_of_reference_uid, study_instance_uid
        UIDs to use when the reference has none; new ones are generated
        otherwise. A UID that contradicts the reference's is an error.
    referenced_plan_uid
        SOP instance UID of the RT Plan the dose was calculated for,
        written in ReferencedRTPlanSequence.
    summation_type
        DoseSummationType: ``"PLAN"`` (default; the dose of all beams and
        fractions), ``"FRACTION"``, ``"BEAM"``, ... (DICOM's defined terms).
    dose_type
        ``"PHYSICAL"`` (default), ``"EFFECTIVE"`` (e.g. RBE-weighted or
        EQD2) or ``"ERROR"``.
    series_description
        SeriesDescription (at most 64 characters).
    copy_patient_identity
        With an ImageSeries reference: copy its patient and study
        attributes (name, birth date, sex, ...), as in
        :func:`write_rtstruct`. Not with ``patient_id`` or another
        reference.
    overwrite
        Replace an existing file; without it an existing file is an error.

    Returns
    -------
    RTDose
        What a reader will read back: ``.dose`` holds the quantized values,
        ``.dose_grid_scaling`` the scaling, ``.path`` the file.

    Raises
    ------
    DicomError
        Negative doses, the file exists (without ``overwrite``), no
        ``patient_id`` without a reference, an unknown summation or dose
        type, contradicting or invalid UIDs, values DICOM cannot hold.

    Notes
    -----
    **Values.** Stored as uint32 with DoseGridScaling ``s =
    max / (2³² − 1)``, rounded up to a 16-character decimal string (the
    writer quantizes with the value written, not the unrounded one), so
    every voxel reads back within ``s / 2`` of its float32 dose. The
    quantization step is 2⁻³² of the maximum, 256 times finer than float32
    resolution near the maximum: every voxel above 1/256 of the maximum
    reads back bit-identical in float32.

    **Geometry.** ImagePositionPatient is the centre of voxel ``(0, 0,
    0)``; ImageOrientationPatient holds the grid's ``i`` and ``j``
    directions; PixelSpacing is (``j``, ``i``) spacing (DICOM's row,
    column order); GridFrameOffsetVector is relative (first value 0):
    ``k · spacing_k`` along ``n = i × j``, negative when the grid's ``k``
    axis points against ``n`` (such a grid reads back with its frames in
    increasing order: the same voxels on an equivalent grid).

    **Plan reference.** DICOM requires ReferencedRTPlanSequence for
    every DoseSummationType except RECORD (which requires a treatment
    record instead): it has no term for a dose without a plan. rtwin does
    not invent one; without ``referenced_plan_uid`` the sequence is left
    out (noted in ``.notes``), which readers accept but an IOD validator
    (dciodvfy) reports.

    **Identity.** As :func:`write_rtstruct`: nothing identifying is
    written unless asked. The file holds PatientID (also as PatientName)
    and, with an ImageSeries reference, its StudyDate and StudyTime; birth
    date, sex, accession number, study ID and physicians stay empty unless
    ``copy_patient_identity=True``.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import rtwin
    >>> from rtwin.io import read_rtdose, write_rtdose
    >>> patient = rtwin.phantoms.water_box(size_mm=40, voxel_mm=5)
    >>> dose = rtwin.dose.Dose(values=np.full(patient.grid.shape, 1.8), grid=patient.grid)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = write_rtdose(dose, Path(folder) / "RD.dcm", reference=patient)
    ...     read = read_rtdose(written.path)
    >>> read.frame_of_reference_uid == written.frame_of_reference_uid
    True
    >>> float(np.abs(read.dose.values - dose.values).max()) <= read.dose_grid_scaling / 2
    True
    """
    if not isinstance(dose, Dose):
        raise DicomError(f"write_rtdose needs an rtwin Dose; got {type(dose).__name__}")
    if float(dose.values.min()) < 0:
        raise DicomError(
            f"the dose has negative values (down to {float(dose.values.min()):g} Gy); RT Dose "
            "pixel data are unsigned. Clip them first: Dose(values=dose.values.clip(0), "
            "grid=dose.grid)"
        )
    dose_kind = _choice(dose_type, DOSE_TYPES, "dose_type")
    if referenced_plan_uid is not None:
        plan_uid = _check_uid(referenced_plan_uid, "referenced_plan_uid")
    else:
        plan_uid = ""
    summation = _choice(summation_type, SUMMATION_TYPES, "summation_type")
    _check_text(series_description, "series_description", "LO")
    if patient_id is not None:
        _check_text(patient_id, "patient_id", "LO")
    target = Path(path)
    if not target.parent.is_dir():
        raise DicomError(f"folder {target.parent} does not exist; create it first")
    _refuse_existing([target], overwrite)

    # ------------------------------------------------------------- who and where
    if isinstance(reference, ImageSeries):
        patient = _patient_and_study(reference, patient_id, copy_patient_identity)
        if not reference.frame_of_reference_uid:
            raise DicomError(
                f"series {reference.series_instance_uid} has no FrameOfReferenceUID, so the dose "
                "cannot be tied to it; write the image with write_image_series (which sets one) "
                "and reference that"
            )
        frame_uid = _agree(
            reference.frame_of_reference_uid, frame_of_reference_uid, "frame_of_reference_uid"
        )
        study_uid = _agree(reference.study_instance_uid, study_instance_uid, "study_instance_uid")
    elif isinstance(reference, Patient) or reference is None:
        if copy_patient_identity:
            raise DicomError(
                "copy_patient_identity=True copies the identity from an ImageSeries reference; "
                "a Patient holds only its pseudonymous ID"
            )
        if reference is None and patient_id is None:
            raise DicomError(
                "write_rtdose needs to know whose dose it is: pass reference= (the ImageSeries "
                "or Patient the dose belongs to) or patient_id=... (a pseudonym)"
            )
        chosen_id = patient_id if patient_id is not None else reference.patient_id  # type: ignore[union-attr]
        _check_text(chosen_id, "patient_id", "LO")
        patient = dict.fromkeys(
            (
                "PatientName",
                "PatientID",
                "PatientBirthDate",
                "PatientSex",
                "StudyDate",
                "StudyTime",
                "StudyID",
                "AccessionNumber",
                "ReferringPhysicianName",
            ),
            "",
        )
        patient["PatientID"] = patient["PatientName"] = chosen_id
        own_frame = reference.frame_of_reference_uid if reference is not None else ""
        frame_uid = (
            _agree(own_frame, frame_of_reference_uid, "frame_of_reference_uid")
            if own_frame
            else _check_uid(frame_of_reference_uid, "frame_of_reference_uid")
        )
        study_uid = _check_uid(study_instance_uid, "study_instance_uid")
    else:
        raise DicomError(
            "write_rtdose's reference must be the ImageSeries or Patient the dose belongs to, or "
            f"None; got {type(reference).__name__}"
        )

    # ------------------------------------------------------------- the data set
    pydicom = _pydicom()
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence
    from pydicom.tag import Tag

    grid = dose.grid
    nz, ny, nx = grid.shape
    direction = grid.direction
    spacing = grid.spacing_mm
    normal = np.cross(direction[:, 0], direction[:, 1])
    step_along_normal = spacing[2] * float(np.sign(direction[:, 2] @ normal))
    offsets = np.arange(nz, dtype=np.float64) * step_along_normal
    stored, scaling = _quantize(dose.values)
    date, time = _now()
    sop_uid = str(pydicom.uid.generate_uid())
    series_uid = str(pydicom.uid.generate_uid())
    with _strict(f"RT dose {target.name}"):
        ds = Dataset()
        ds.file_meta = _file_meta(RT_DOSE_STORAGE, sop_uid)
        ds.SpecificCharacterSet = "ISO_IR 192"
        ds.InstanceCreationDate = date
        ds.InstanceCreationTime = time
        ds.SOPClassUID = RT_DOSE_STORAGE
        ds.SOPInstanceUID = sop_uid
        for key, value in patient.items():
            setattr(ds, key, value)
        ds.Modality = "RTDOSE"
        ds.Manufacturer = "rtwin"
        ds.SeriesDescription = series_description
        ds.OperatorsName = ""
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 1
        ds.InstanceNumber = 1
        ds.FrameOfReferenceUID = frame_uid
        ds.PositionReferenceIndicator = ""
        ds.ImagePositionPatient = _ds_list(grid.index_to_patient(np.zeros(3)))
        ds.ImageOrientationPatient = _ds_list(np.concatenate((direction[:, 0], direction[:, 1])))
        ds.PixelSpacing = _ds_list(np.array([spacing[1], spacing[0]]))
        ds.SliceThickness = _ds(spacing[2])
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.NumberOfFrames = nz
        ds.FrameIncrementPointer = Tag("GridFrameOffsetVector")
        ds.Rows = ny
        ds.Columns = nx
        ds.BitsAllocated = 32
        ds.BitsStored = 32
        ds.HighBit = 31
        ds.PixelRepresentation = 0
        ds.DoseUnits = "GY"
        ds.DoseType = dose_kind
        ds.DoseSummationType = summation
        ds.GridFrameOffsetVector = _ds_list(offsets)
        ds.DoseGridScaling = _ds(scaling)
        if plan_uid:
            plan = Dataset()
            plan.ReferencedSOPClassUID = RT_PLAN_STORAGE
            plan.ReferencedSOPInstanceUID = plan_uid
            ds.ReferencedRTPlanSequence = Sequence([plan])
        ds.PixelData = np.ascontiguousarray(stored, dtype="<u4").tobytes()
    _save(ds, target, overwrite)
    logger.info("wrote RT dose %s (%d x %d x %d) to %s", sop_uid, nz, ny, nx, target)
    read_back = Dose(
        values=stored.astype(np.float64) * scaling,
        grid=grid,
        description=series_description or f"RTDOSE {summation}",
    )
    step = (
        f"wrote RT dose {sop_uid}: {nz} frames of {ny} x {nx}, uint32 with DoseGridScaling "
        f"{scaling:.10g}, {summation}"
    )
    notes = (
        ()
        if plan_uid
        else (
            f"RT dose {sop_uid} references no RT Plan (no referenced_plan_uid); DICOM requires "
            f"ReferencedRTPlanSequence for DoseSummationType {summation}, so validators report it",
        )
    )
    return RTDose(
        dose=read_back,
        dose_units="GY",
        dose_type=dose_kind,
        summation_type=summation,
        frame_of_reference_uid=frame_uid,
        referenced_plan_uids=(plan_uid,) if plan_uid else (),
        dose_grid_scaling=scaling,
        sop_instance_uid=sop_uid,
        series_instance_uid=series_uid,
        study_instance_uid=study_uid,
        path=target,
        notes=notes,
        provenance=Provenance(
            inputs=((f"RTDOSE {sop_uid}", hash_file(target)),),
            steps=(step, *(f"note: {n}" for n in notes)),
        ),
    )


def _agree(own: str, given: str | None, name: str) -> str:
    """The reference's UID; a given one must be the same."""
    if given is not None and str(given).strip() != own:
        raise DicomError(
            f"{name} {given!r} contradicts the reference's {own!r}; omit it to use the reference's"
        )
    return own
