"""Plan-quality indices: conformity, homogeneity, gradient."""

from __future__ import annotations

import math

import numpy as np

from rtwin.anatomy import Structure
from rtwin.dose import Dose
from rtwin.errors import EvaluationError
from rtwin.evaluation._dvh import DVH
from rtwin.geometry import Grid

__all__ = ["gradient_index", "homogeneity_index", "isodose_volume_cc", "paddick_conformity_index"]


def isodose_volume_cc(
    dose: Dose,
    level_gy: float,
    *,
    region: Structure | None = None,
    supersampling: int | None = None,
) -> float:
    """Volume in cm³ receiving at least ``level_gy``.

    Parameters
    ----------
    dose
        The dose.
    level_gy
        The isodose level in Gy (> 0).
    region
        Count only inside this structure (typically the body); its grid is
        the sampling grid. Without it, the dose grid's own voxels are
        counted.
    supersampling
        As in :meth:`DVH.compute`.

    Notes
    -----
    The volume is that of the region's voxels whose (interpolated) dose is
    at least the level — the same sampling as :meth:`DVH.compute`, so
    ``isodose_volume_cc(dose, d, region=s)`` equals
    ``DVH.compute(dose, s).volume_at_dose_cc(d)``. Only the box around
    the dose-grid voxels at or above the level is sampled (trilinear
    interpolation cannot exceed the largest of its eight corners).

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.dose import Dose
    >>> from rtwin.evaluation import isodose_volume_cc
    >>> from rtwin.geometry import Grid
    >>> grid = Grid.from_spacing((10, 10, 10), spacing_mm=10.0)
    >>> values = np.zeros(grid.shape)
    >>> values[2:5, 2:5, 2:5] = 60.0
    >>> isodose_volume_cc(Dose(values=values, grid=grid), 60.0)   # 27 voxels of 1 cc
    27.0
    """
    if not isinstance(dose, Dose):
        raise EvaluationError(f"isodose_volume_cc needs a rtwin Dose; got {type(dose).__name__}")
    level = _positive(level_gy, "isodose level (Gy)")
    if region is not None and not isinstance(region, Structure):
        raise EvaluationError(f"region must be a rtwin Structure; got {type(region).__name__}")
    hot = dose.values >= level
    if not hot.any():
        return 0.0
    grid = dose.grid if region is None else region.grid
    box = _box_around(hot, dose.grid, grid)
    if box is None:
        return 0.0
    mask = np.zeros(grid.shape, dtype=bool)
    mask[box] = True
    if region is not None:
        mask &= region.mask
        if not mask.any():
            return 0.0
    sampled = Structure(name=f"{level:g} Gy isodose", mask=mask, grid=grid)
    return DVH.compute(dose, sampled, supersampling=supersampling).volume_at_dose_cc(level)


def paddick_conformity_index(
    dose: Dose,
    target: Structure,
    prescription_gy: float,
    *,
    body: Structure | None = None,
    supersampling: int | None = None,
) -> float:
    """Paddick conformity index ``CI = TV_PIV² / (TV × PIV)``.

    ``TV`` is the target volume, ``PIV`` the prescription isodose volume
    (everything receiving at least the prescription) and ``TV_PIV`` the
    part of the target inside it. 1 is perfect; it drops both when the
    target is under-covered and when healthy tissue is irradiated.

    Parameters
    ----------
    dose
        The dose.
    target
        The target (its grid is the sampling grid).
    prescription_gy
        The prescription dose (> 0).
    body
        Count the isodose volume only inside the body (on the target's
        grid). Without it, everywhere on the target's grid.
    supersampling
        As in :meth:`DVH.compute`.

    Notes
    -----
    ``TV_PIV`` comes from the target's DVH and ``PIV = TV_PIV +`` the
    isodose volume outside the target, both with the sampling of
    :meth:`DVH.compute`, so ``CI <= 1`` always and a dose equal to the
    prescription exactly on the target's voxels gives 1. 0 when nothing
    receives the prescription.

    References
    ----------
    Paddick I. A simple scoring ratio to index the conformity of
    radiosurgical treatment plans. J Neurosurg 93(Suppl 3):219-222 (2000).
    doi:10.3171/jns.2000.93.supplement_3.0219

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.anatomy import Structure
    >>> from rtwin.dose import Dose
    >>> from rtwin.evaluation import paddick_conformity_index
    >>> from rtwin.geometry import Grid
    >>> grid = Grid.from_spacing((20, 20, 20), spacing_mm=2.0, origin_mm=(-19, -19, -19))
    >>> ball = Structure.from_function("PTV", grid, lambda x, y, z: x**2 + y**2 + z**2 <= 12.0**2)
    >>> dose = Dose(values=np.where(ball.mask, 60.0, 0.0), grid=grid)
    >>> paddick_conformity_index(dose, ball, 60.0)
    1.0
    """
    _check(dose, target, "target")
    prescription = _positive(prescription_gy, "prescription_gy")
    target_dvh = DVH.compute(dose, target, supersampling=supersampling)
    target_volume = target_dvh.volume_cc
    covered = target_dvh.volume_at_dose_cc(prescription)
    outside = ~target.mask
    if body is not None:
        _check(dose, body, "body")
        target.grid.require_same(body.grid, f"target {target.name!r} and body {body.name!r}")
        outside &= body.mask
    spill = 0.0
    if outside.any():
        region = Structure(name=f"outside {target.name}", mask=outside, grid=target.grid)
        spill = isodose_volume_cc(dose, prescription, region=region, supersampling=supersampling)
    isodose = covered + spill
    if isodose == 0:
        return 0.0
    return covered**2 / (target_volume * isodose)


def homogeneity_index(dvh: DVH) -> float:
    """ICRU 83 homogeneity index ``HI = (D2% − D98%) / D50%`` of a target's DVH.

    0 is a perfectly uniform dose; larger is less homogeneous. ``D2%``,
    ``D98%`` and ``D50%`` are read as :meth:`DVH.dose_at_volume`.

    Raises
    ------
    EvaluationError
        ``D50%`` is 0 (no dose in the target).

    References
    ----------
    ICRU Report 83: Prescribing, recording, and reporting photon-beam
    intensity-modulated radiation therapy (IMRT). J ICRU 10(1) (2010).

    Examples
    --------
    >>> from rtwin.evaluation import DVH, homogeneity_index
    >>> homogeneity_index(DVH(name="PTV", doses_gy=[60.0], volumes_cc=[30.0]))
    0.0
    """
    if not isinstance(dvh, DVH):
        raise EvaluationError(f"homogeneity_index needs a DVH; got {type(dvh).__name__}")
    median = dvh.dose_at_volume(0.50)
    if median == 0:
        raise EvaluationError(
            f"homogeneity index of {dvh.name!r} is undefined: D50% is 0 Gy (no dose in the target)"
        )
    return (dvh.dose_at_volume(0.02) - dvh.dose_at_volume(0.98)) / median


def gradient_index(
    dose: Dose,
    prescription_gy: float,
    *,
    body: Structure | None = None,
    supersampling: int | None = None,
) -> float:
    """Paddick gradient index ``GI = V(50 % Rx) / V(100 % Rx)``.

    The volume receiving half the prescription over the volume receiving
    the prescription (:func:`isodose_volume_cc`): the steeper the fall-off
    outside the target, the closer to 1 (radiosurgery plans reach 2.5–3.5).

    Parameters
    ----------
    dose
        The dose.
    prescription_gy
        The prescription dose (> 0).
    body
        Count the isodose volumes only inside the body (on its grid).
        Without it, on the dose grid.
    supersampling
        As in :meth:`DVH.compute`.

    Raises
    ------
    EvaluationError
        Nothing receives the prescription (the ratio is undefined).

    References
    ----------
    Paddick I, Lippitz B. A simple dose gradient measurement tool to
    complement the conformity index. J Neurosurg 105(Suppl):194-201 (2006).
    doi:10.3171/sup.2006.105.7.194

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.dose import Dose
    >>> from rtwin.evaluation import gradient_index
    >>> from rtwin.geometry import Grid
    >>> grid = Grid.from_spacing((10, 10, 10), spacing_mm=10.0)
    >>> values = np.zeros(grid.shape)
    >>> values[2:6, 2:6, 2:6] = 30.0     # 64 cc at half the prescription ...
    >>> values[3:5, 3:5, 3:5] = 60.0     # ... around 8 cc at the prescription
    >>> gradient_index(Dose(values=values, grid=grid), 60.0)
    8.0
    """
    prescription = _positive(prescription_gy, "prescription_gy")
    if body is not None:
        _check(dose, body, "body")
    full = isodose_volume_cc(dose, prescription, region=body, supersampling=supersampling)
    if full == 0:
        raise EvaluationError(
            f"gradient index is undefined: nothing receives the prescription {prescription:g} Gy "
            f"(maximum dose {dose.max_gy:.4g} Gy)"
        )
    half = isodose_volume_cc(dose, prescription / 2, region=body, supersampling=supersampling)
    return half / full


def _positive(value: float, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EvaluationError(f"{what} must be a number; got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise EvaluationError(f"{what} must be a finite number > 0; got {value!r}")
    return number


def _check(dose: Dose, structure: Structure, role: str) -> None:
    if not isinstance(dose, Dose):
        raise EvaluationError(f"needs a rtwin Dose; got {type(dose).__name__}")
    if not isinstance(structure, Structure):
        raise EvaluationError(f"{role} must be a rtwin Structure; got {type(structure).__name__}")
    if structure.is_empty:
        raise EvaluationError(f"{role} structure {structure.name!r} is empty")


def _box_around(hot: np.ndarray, dose_grid: Grid, grid: Grid) -> tuple[slice, slice, slice] | None:
    """Slices of ``grid`` covering the dose-grid voxels in ``hot`` plus one voxel around."""
    k, j, i = np.nonzero(hot)
    low = np.array([i.min(), j.min(), k.min()], dtype=np.float64) - 1.0
    high = np.array([i.max(), j.max(), k.max()], dtype=np.float64) + 1.0
    corners = np.array(
        [[x, y, z] for x in (low[0], high[0]) for y in (low[1], high[1]) for z in (low[2], high[2])]
    )
    index = grid.patient_to_index(dose_grid.index_to_patient(corners))
    start = np.maximum(np.floor(index.min(axis=0)).astype(int) - 1, 0)
    stop = np.minimum(np.ceil(index.max(axis=0)).astype(int) + 2, np.array(grid.size_xyz))
    if np.any(stop <= start):
        return None
    return (slice(start[2], stop[2]), slice(start[1], stop[1]), slice(start[0], stop[0]))
