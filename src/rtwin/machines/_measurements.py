"""Measured beam data a physicist commissions a machine from: depth doses and profiles."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.machines._errors import MachineError

__all__ = ["BJR25_SOURCE", "DepthDose", "Profile", "bjr25_depth_doses"]

BJR25_SOURCE = (
    "BJR Supplement 25 (1996), Central axis depth dose data for use in radiotherapy, "
    "Tables 5.2.1-5.5.1 (PDD at SSD 100 cm)"
)
"""Citation of the British Journal of Radiology Supplement 25 depth doses rtwin ships."""

FieldSize = float | tuple[float, float]


def field_pair(value: object, owner: str) -> tuple[float, float]:
    """A field size as ``(x, y)`` in cm from one number (square) or a pair."""
    if isinstance(value, bool):
        raise MachineError(f"{owner}: field_size_cm must be a number or (x, y); got {value!r}")
    if isinstance(value, int | float | np.integer | np.floating):
        pair = (float(value), float(value))
    else:
        try:
            items = [float(item) for item in value]  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise MachineError(
                f"{owner}: field_size_cm must be a number or (x, y) in cm; got {value!r}"
            ) from None
        if len(items) != 2:
            raise MachineError(
                f"{owner}: field_size_cm needs one side (square) or two (x, y); got {value!r}"
            )
        pair = (items[0], items[1])
    for side in pair:
        if not (math.isfinite(side) and 0.0 < side <= 60.0):
            raise MachineError(
                f"{owner}: field side {side!r} cm is outside (0, 60] cm; give the side in cm "
                f"at the isocentre plane (a 10 x 10 field is 10, not 100)"
            )
    return pair


def check_ssd(value: object, owner: str) -> float:
    """An SSD in cm, in (10, 500] (catches a value given in mm)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise MachineError(f"{owner}: ssd_cm must be a number in cm; got {value!r}")
    ssd = float(value)
    if not (math.isfinite(ssd) and 10.0 < ssd <= 500.0):
        raise MachineError(
            f"{owner}: ssd_cm = {ssd!r} is outside (10, 500] cm; give the SSD in cm (100, not 1000)"
        )
    return ssd


def _vector(value: ArrayLike, name: str, owner: str) -> NDArray[np.float64]:
    try:
        array = np.array(value, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise MachineError(f"{owner}: {name} must be numbers; got {value!r}") from None
    if array.size == 0:
        raise MachineError(f"{owner}: {name} is empty; give at least one point")
    if not np.all(np.isfinite(array)):
        raise MachineError(f"{owner}: {name} holds non-finite values")
    array.flags.writeable = False
    return array


def _percent(values: NDArray[np.float64], owner: str) -> None:
    if np.any(values <= 0.0):
        raise MachineError(f"{owner}: values_percent must be > 0; got minimum {values.min():g}")
    if values.max() <= 1.5:
        raise MachineError(
            f"{owner}: values_percent look like fractions (largest {values.max():g}); "
            f"give percent (67.5, not 0.675)"
        )
    if values.max() > 150.0:
        raise MachineError(
            f"{owner}: values_percent reach {values.max():g} %; expected percent of the "
            f"normalisation point (at most about 100 %)"
        )


def _uncertainty(value: object, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise MachineError(f"{owner}: uncertainty_pp must be a number; got {value!r}")
    result = float(value)
    if not (math.isfinite(result) and result > 0.0):
        raise MachineError(
            f"{owner}: uncertainty_pp = {result!r} must be > 0 percentage points (it weights "
            f"the points in the fit)"
        )
    return result


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class DepthDose:
    """A measured central-axis percentage depth dose (PDD) of an open field in water.

    Parameters
    ----------
    field_size_cm
        Side of a square field, or ``(x, y)``, in cm at the isocentre plane (the
        collimator setting; at SSD = SAD it is also the field size at the surface).
    ssd_cm
        Source-to-surface distance (cm).
    depths_cm
        Depths in water (cm), shape ``(n,)``; a single point or a few (e.g. BJR-25's
        10 and 20 cm) are accepted.
    values_percent
        Dose in percent of the maximum on the central axis of the same field and SSD.
    source
        Where the numbers come from (kept in the fitted machine's provenance).
    uncertainty_pp
        Standard uncertainty of each value in percentage points (weights the fit).

    Examples
    --------
    >>> pdd = DepthDose(field_size_cm=10, ssd_cm=100, depths_cm=[10, 20],
    ...                 values_percent=[67.5, 39.3], source="BJR-25")
    >>> pdd.field_size_cm, pdd.depths_cm.tolist()
    ((10.0, 10.0), [10.0, 20.0])
    """

    field_size_cm: tuple[float, float]
    ssd_cm: float
    depths_cm: NDArray[np.float64]
    values_percent: NDArray[np.float64]
    source: str = ""
    uncertainty_pp: float = 0.5

    def __post_init__(self) -> None:
        owner = "DepthDose"
        object.__setattr__(self, "field_size_cm", field_pair(self.field_size_cm, owner))
        object.__setattr__(self, "ssd_cm", check_ssd(self.ssd_cm, owner))
        depths = _vector(self.depths_cm, "depths_cm", owner)
        values = _vector(self.values_percent, "values_percent", owner)
        if depths.shape != values.shape:
            raise MachineError(
                f"{owner}: {depths.size} depths but {values.size} values; give one value per depth"
            )
        if np.any(depths < 0.0) or depths.max() > 50.0:
            raise MachineError(
                f"{owner}: depths_cm must lie in [0, 50] cm; got [{depths.min():g}, "
                f"{depths.max():g}] (give cm, not mm)"
            )
        if np.unique(depths).size != depths.size:
            raise MachineError(f"{owner}: depths_cm holds repeated depths; give each depth once")
        _percent(values, owner)
        object.__setattr__(self, "depths_cm", depths)
        object.__setattr__(self, "values_percent", values)
        object.__setattr__(self, "source", str(self.source))
        object.__setattr__(self, "uncertainty_pp", _uncertainty(self.uncertainty_pp, owner))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Profile:
    """A measured lateral dose profile of an open field in water.

    Parameters
    ----------
    field_size_cm
        Side of a square field, or ``(x, y)``, in cm at the isocentre plane.
    ssd_cm
        Source-to-surface distance (cm).
    depth_cm
        Depth of the profile in water (cm).
    off_axis_cm
        Positions along the profile (cm), measured in the plane at that depth
        (not projected to the isocentre), shape ``(n,)``.
    values_percent
        Dose in percent of the central-axis dose at the same depth.
    axis
        ``"x"`` (crossplane, along the field's x side) or ``"y"`` (inplane).
    source
        Where the numbers come from.
    uncertainty_pp
        Standard uncertainty of each value in percentage points (weights the fit).

    Examples
    --------
    >>> profile = Profile(field_size_cm=10, ssd_cm=100, depth_cm=10,
    ...                   off_axis_cm=[-6, 0, 6], values_percent=[5.0, 100.0, 5.0])
    >>> profile.axis
    'x'
    """

    field_size_cm: tuple[float, float]
    ssd_cm: float
    depth_cm: float
    off_axis_cm: NDArray[np.float64]
    values_percent: NDArray[np.float64]
    axis: Literal["x", "y"] = "x"
    source: str = ""
    uncertainty_pp: float = 0.5

    def __post_init__(self) -> None:
        owner = "Profile"
        object.__setattr__(self, "field_size_cm", field_pair(self.field_size_cm, owner))
        object.__setattr__(self, "ssd_cm", check_ssd(self.ssd_cm, owner))
        depth = self.depth_cm
        if isinstance(depth, bool) or not isinstance(depth, int | float | np.integer | np.floating):
            raise MachineError(f"{owner}: depth_cm must be a number in cm; got {depth!r}")
        if not (math.isfinite(float(depth)) and 0.0 < float(depth) <= 50.0):
            raise MachineError(f"{owner}: depth_cm = {depth!r} must lie in (0, 50] cm")
        object.__setattr__(self, "depth_cm", float(depth))
        positions = _vector(self.off_axis_cm, "off_axis_cm", owner)
        values = _vector(self.values_percent, "values_percent", owner)
        if positions.shape != values.shape:
            raise MachineError(
                f"{owner}: {positions.size} positions but {values.size} values; give one "
                f"value per position"
            )
        if np.abs(positions).max() > 60.0:
            raise MachineError(
                f"{owner}: off_axis_cm reaches {np.abs(positions).max():g} cm; give cm, not mm"
            )
        _percent(values, owner)
        if self.axis not in ("x", "y"):
            raise MachineError(f"{owner}: axis must be 'x' or 'y'; got {self.axis!r}")
        object.__setattr__(self, "off_axis_cm", positions)
        object.__setattr__(self, "values_percent", values)
        object.__setattr__(self, "source", str(self.source))
        object.__setattr__(self, "uncertainty_pp", _uncertainty(self.uncertainty_pp, owner))


Measurement = DepthDose | Profile


def bjr25_depth_doses(energy_mv: float) -> tuple[DepthDose, ...]:
    """The BJR Supplement 25 PDD(10) and PDD(20) points rtwin ships, one per field.

    Parameters
    ----------
    energy_mv
        Nominal energy: 4, 5, 6 or 8 (MV).

    Returns
    -------
    tuple of DepthDose
        For the 6, 7 and 10 cm square fields at SSD 100 cm, depths 10 and 20 cm.

    Raises
    ------
    MachineError
        For an energy the table does not hold.

    Notes
    -----
    Only these 24 numbers (PDD at 10 and 20 cm for 6, 7 and 10 cm fields) were
    found in an accessible transcription of BJR-25's tables; the full tables
    (build-up region, other fields) were not.

    References
    ----------
    British Journal of Radiology Supplement 25 (1996), *Central axis depth dose
    data for use in radiotherapy*, Tables 5.2.1-5.5.1.

    Examples
    --------
    >>> [(m.field_size_cm[0], m.values_percent.tolist()) for m in bjr25_depth_doses(6)]
    [(6.0, [64.9, 36.4]), (7.0, [65.7, 37.2]), (10.0, [67.5, 39.3])]
    """
    text = resources.files("rtwin.machines").joinpath("data/bjr25_pdd.csv").read_text("utf-8")
    rows = [
        row for row in csv.DictReader(io.StringIO(text)) if not row["energy_mv"].startswith("#")
    ]
    energies = sorted({float(row["energy_mv"]) for row in rows})
    try:
        wanted = float(energy_mv)
    except (TypeError, ValueError):
        raise MachineError(f"energy_mv must be a number (MV); got {energy_mv!r}") from None
    chosen = [row for row in rows if float(row["energy_mv"]) == wanted]
    if not chosen:
        raise MachineError(
            f"BJR-25 depth doses for {energy_mv!r} MV are not shipped; available: "
            f"{[f'{energy:g}' for energy in energies]} MV"
        )
    fields_cm = sorted({float(row["field_size_cm"]) for row in chosen})
    result: list[DepthDose] = []
    for field_cm in fields_cm:
        points = sorted(
            (float(row["depth_cm"]), float(row["pdd_percent"]), float(row["ssd_cm"]))
            for row in chosen
            if float(row["field_size_cm"]) == field_cm
        )
        result.append(
            DepthDose(
                field_size_cm=field_cm,
                ssd_cm=points[0][2],
                depths_cm=[point[0] for point in points],
                values_percent=[point[1] for point in points],
                source=f"{BJR25_SOURCE}, {wanted:g} MV",
            )
        )
    return tuple(result)


def check_measurements(measurements: object) -> tuple[Measurement, ...]:
    """Validate a sequence of :class:`DepthDose` / :class:`Profile` (at least one)."""
    if isinstance(measurements, DepthDose | Profile):
        return (measurements,)
    if not isinstance(measurements, Sequence) or isinstance(measurements, str):
        raise MachineError(
            f"measurements must be a sequence of DepthDose / Profile; got {type(measurements).__name__}"
        )
    items = tuple(measurements)
    for index, item in enumerate(items):
        if not isinstance(item, DepthDose | Profile):
            raise MachineError(
                f"measurements[{index}] is a {type(item).__name__}; expected DepthDose or Profile"
            )
    if not items:
        raise MachineError("measurements is empty; give at least one DepthDose")
    return items
