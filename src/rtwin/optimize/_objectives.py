"""Objective functions of fluence optimization: a value and its gradient with respect to dose.

Every objective names one structure and sees the doses of all the voxels of
that structure (overlapping structures share voxels; nothing is assigned to
one structure only). Its value is a weighted, non-negative penalty in Gy²;
its gradient is the derivative of that value with respect to each voxel's
dose. The optimizer chains it with the influence matrix (``Dᵀ·g``).
"""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, fields
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.errors import OptimizationError

__all__ = [
    "GEUD",
    "MaxDVH",
    "MaxDose",
    "MeanDose",
    "MinDVH",
    "MinDose",
    "Objective",
    "SquaredDeviation",
    "SquaredOverdose",
    "SquaredUnderdose",
]

#: Relative tolerance on volumes when a DVH objective decides which voxels fit in the
#: allowed (MaxDVH) or required (MinDVH) volume: a voxel that fits exactly is not penalized.
_VOLUME_TOLERANCE = 1e-9
#: gEUD with a < 1 treats doses below this as this (d^a or its derivative is infinite at 0).
_GEUD_FLOOR_GY = 1e-6

# field name -> (test, what is expected, how to fix)
_FIELD_RULES: dict[str, tuple[Callable[[float], bool], str, str]] = {
    "dose_gy": (
        lambda x: x >= 0.0,
        "a finite dose in Gy >= 0",
        "give the dose level in Gy, e.g. dose_gy=50.0",
    ),
    "weight": (
        lambda x: x > 0.0,
        "a finite number > 0",
        "the weight scales this objective's share of the total; use e.g. weight=1.0, "
        "or leave the objective out",
    ),
    "volume_fraction": (
        lambda x: 0.0 < x <= 1.0,
        "a fraction of the structure's volume in (0, 1]",
        "write 95 % as volume_fraction=0.95",
    ),
    "a": (
        lambda x: x != 0.0,
        "a finite non-zero number",
        "use a > 0 for organs at risk (a = 1 is the mean dose, large a approaches the "
        "maximum) and a < 0 for targets (e.g. a = -10)",
    ),
}


class Objective(abc.ABC):
    """Base class of the objectives: a structure, a weight, a value and its gradient.

    Subclasses are frozen dataclasses whose first field is ``structure``
    and which implement :meth:`describe` and ``_evaluate(dose, volumes)``;
    the base validates the fields named ``dose_gy``, ``weight``,
    ``volume_fraction`` and ``a``, and the arrays handed to the public
    methods.

    Notes
    -----
    ``dose`` is the 1-D float array of the doses (Gy) of the structure's
    voxels, in any order; ``volumes`` (optional, same shape, ≥ 0) is the
    relative volume of each voxel in the structure (e.g. the fraction of a
    boundary voxel inside it). Only ratios of volumes matter; ``None``
    means all voxels count equally. Averages over the structure are
    volume-weighted averages, so an objective's value does not depend on
    the number of voxels of the structure (as in matRad).

    Where an objective is not differentiable (a DVH objective when two
    voxels swap ranks at the edge of the allowed volume) the gradient
    returned is the derivative on one side of the kink: a subgradient-like
    element of the generalized gradient, which is what L-BFGS-B needs.
    """

    __slots__ = ()

    structure: str
    weight: float

    def __post_init__(self) -> None:
        kind = type(self).__name__
        if not isinstance(self.structure, str) or not self.structure.strip():
            raise OptimizationError(
                f"{kind}: structure must be a non-empty structure name (str); "
                f"got {self.structure!r}"
            )
        for field in fields(self):  # type: ignore[arg-type]
            rule = _FIELD_RULES.get(field.name)
            if rule is None:
                continue
            check, expected, fix = rule
            raw = getattr(self, field.name)
            number = float(raw) if _is_real(raw) else math.nan
            if not (math.isfinite(number) and check(number)):
                raise OptimizationError(
                    f"{kind}({self.structure!r}): {field.name} must be {expected}; "
                    f"got {raw!r}. Fix: {fix}"
                )
            object.__setattr__(self, field.name, number)

    # ------------------------------------------------------------------ public
    def value(self, dose: ArrayLike, volumes: ArrayLike | None = None) -> float:
        """The objective's value (weight included, ≥ 0) for the structure's voxel doses.

        Parameters
        ----------
        dose
            Doses in Gy of the structure's voxels, shape ``(n,)``, ``n ≥ 1``.
        volumes
            Relative voxel volumes, shape ``(n,)``, ≥ 0 with a positive sum;
            ``None`` (default) for equal volumes.

        Raises
        ------
        OptimizationError
            When ``dose`` is empty (the structure has no voxels), not 1-D or
            not finite, or ``volumes`` does not fit.
        """
        return self.value_and_gradient(dose, volumes)[0]

    def gradient(self, dose: ArrayLike, volumes: ArrayLike | None = None) -> NDArray[np.float64]:
        """∂value/∂dose for each voxel (Gy⁻¹ × the value's units), same shape as ``dose``.

        Parameters and errors as :meth:`value`.
        """
        return self.value_and_gradient(dose, volumes)[1]

    def value_and_gradient(
        self, dose: ArrayLike, volumes: ArrayLike | None = None
    ) -> tuple[float, NDArray[np.float64]]:
        """The value and the gradient in one pass (what the optimizer calls).

        Parameters and errors as :meth:`value`. The gradient is a new
        float64 array of the shape of ``dose``.
        """
        checked_dose, checked_volumes = self._checked(dose, volumes)
        value, gradient = self._evaluate(checked_dose, checked_volumes)
        return float(value), gradient

    def _zero_up_to_gy(self) -> float | None:
        """A dose ``D`` at or below which every voxel adds 0 to the value and gets 0 gradient.

        Only for objectives whose value is unchanged by the doses of such
        voxels; ``None`` otherwise. :class:`FluenceProblem` skips rows that
        provably stay at or below ``D`` (see ``screened_matvec``).
        """
        return None

    @abc.abstractmethod
    def describe(self) -> str:
        """A short sentence for people, e.g. ``"PTV: squared deviation from 50 Gy (weight 1000)"``."""

    def __str__(self) -> str:
        return self.describe()

    # ------------------------------------------------------------------ private
    @abc.abstractmethod
    def _evaluate(
        self, dose: NDArray[np.float64], volumes: NDArray[np.float64] | None
    ) -> tuple[float, NDArray[np.float64]]:
        """Value and gradient on checked arrays (``volumes`` None: all equal)."""

    def _checked(
        self, dose: ArrayLike, volumes: ArrayLike | None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        label = f"{type(self).__name__} on structure {self.structure!r}"
        dose = np.asarray(dose, dtype=np.float64)
        if dose.ndim != 1:
            raise OptimizationError(
                f"{label}: dose must be a 1-D array of the structure's voxel doses in Gy; "
                f"got shape {dose.shape}. Pass the doses of the structure's voxels, "
                "e.g. dose_values.ravel()[mask.ravel()]"
            )
        if dose.size == 0:
            raise OptimizationError(
                f"{label}: the structure has no voxels (the dose array is empty). Check that "
                f"{self.structure!r} overlaps the dose grid, or remove the objective"
            )
        if not math.isfinite(float(dose.sum())):
            raise OptimizationError(f"{label}: dose contains NaN or infinite values")
        if volumes is None:
            return dose, None
        volumes = np.asarray(volumes, dtype=np.float64)
        if volumes.shape != dose.shape:
            raise OptimizationError(
                f"{label}: volumes must have the shape of dose {dose.shape}; "
                f"got {volumes.shape}. Give one relative volume per voxel, or None"
            )
        total = float(volumes.sum())
        if not math.isfinite(total) or volumes.min() < 0.0:
            raise OptimizationError(
                f"{label}: volumes must be finite and >= 0; got values in "
                f"[{volumes.min()!r}, {volumes.max()!r}]"
            )
        if total <= 0.0:
            raise OptimizationError(
                f"{label}: volumes sum to zero; at least one voxel must have a positive volume"
            )
        return dose, volumes


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _fractions(volumes: NDArray[np.float64] | None, n: int) -> float | NDArray[np.float64]:
    """Each voxel's share of the structure's volume (the scalar 1/n when all are equal)."""
    return 1.0 / n if volumes is None else volumes / volumes.sum()


def _dot(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """``a · b`` without BLAS: a BLAS dot over ~10⁵ voxels starts OpenBLAS threads that
    then spin on the cores the optimizer's numba kernels need (2.5× slower runs)."""
    return float(np.multiply(a, b).sum())


def _average(values: NDArray[np.float64], fractions: float | NDArray[np.float64]) -> float:
    if isinstance(fractions, float):
        return float(values.mean())
    return _dot(fractions, values)


def _mean_square(
    deviation: NDArray[np.float64], volumes: NDArray[np.float64] | None, weight: float
) -> tuple[float, NDArray[np.float64]]:
    """``w Σ vᵢ δᵢ²`` (volume fractions vᵢ) and its gradient ``2 w vᵢ δᵢ``."""
    weighted = _fractions(volumes, deviation.size) * deviation
    return weight * _dot(weighted, deviation), 2.0 * weight * weighted


def _number(value: float) -> str:
    return f"{value:g}"


def _percent(fraction: float) -> str:
    return f"{100.0 * fraction:g} %"


def _soft_max_penalty(
    excess: NDArray[np.float64], volumes: NDArray[np.float64] | None, weight: float, p: int
) -> tuple[float, NDArray[np.float64]]:
    """``w (Σ uᵢ eᵢᵖ)^(2/p)`` for excesses ``eᵢ ≥ 0``, ``uᵢ = vᵢ / max v``, and its gradient.

    Computed as ``m² s^(2/p)`` with ``m = max e`` and ``s = Σ uᵢ (eᵢ/m)ᵖ`` so
    that no power overflows; the gradient is ``2 w m s^(2/p − 1) uᵢ (eᵢ/m)^(p−1)``.
    """
    if volumes is None:
        relative: float | NDArray[np.float64] = 1.0
    else:
        relative = volumes / volumes.max()
        excess = np.where(relative > 0.0, excess, 0.0)  # zero-volume voxels do not count
    peak = float(excess.max())
    if peak == 0.0:
        return 0.0, np.zeros_like(excess)
    ratio = excess / peak
    ratio_p_minus_1 = ratio ** (p - 1)
    terms = relative * ratio_p_minus_1
    total = _dot(terms, ratio)  # Σ uᵢ rᵢᵖ ≥ 1 (the peak voxel has u = 1 when volumes are None)
    value = weight * peak * peak * total ** (2.0 / p)
    gradient = (2.0 * weight * peak * total ** (2.0 / p - 1.0)) * terms
    return value, gradient


# --------------------------------------------------------------------------- voxel-wise
@dataclass(frozen=True, slots=True)
class SquaredDeviation(Objective):
    """Squared deviation from a dose: ``w · Σᵢ vᵢ (dᵢ − D)²`` (the usual target objective).

    Parameters
    ----------
    structure
        Name of the structure.
    dose_gy
        The dose ``D`` (Gy, ≥ 0) every voxel should receive.
    weight
        ``w`` (> 0); the value is in ``w`` × Gy².

    Notes
    -----
    ``vᵢ`` is voxel ``i``'s share of the structure's volume (``1/N`` for
    ``N`` equal voxels), so the value is ``w`` times the mean squared
    deviation and does not grow with the structure's size (as in matRad).
    Gradient: ``∂f/∂dᵢ = 2 w vᵢ (dᵢ − D)``. Smooth everywhere; zero only
    when every voxel receives exactly ``D``.

    Examples
    --------
    >>> objective = SquaredDeviation("PTV", dose_gy=50.0, weight=2.0)
    >>> print(objective)
    PTV: squared deviation from 50 Gy (weight 2)
    >>> objective.value([48.0, 50.0, 52.0, 50.0])   # 2 · (4 + 0 + 4 + 0) / 4
    4.0
    >>> objective.gradient([48.0, 50.0, 52.0, 50.0])   # 2 · 2 · (d − 50) / 4
    array([-2.,  0.,  2.,  0.])
    """

    structure: str
    _: KW_ONLY
    dose_gy: float
    weight: float = 1.0

    def describe(self) -> str:
        return (
            f"{self.structure}: squared deviation from {_number(self.dose_gy)} Gy "
            f"(weight {_number(self.weight)})"
        )

    def _evaluate(self, dose, volumes):
        return _mean_square(dose - self.dose_gy, volumes, self.weight)


@dataclass(frozen=True, slots=True)
class SquaredOverdose(Objective):
    """Squared overdose: ``w · Σᵢ vᵢ max(dᵢ − D, 0)²`` (organs at risk, the body).

    Parameters
    ----------
    structure
        Name of the structure.
    dose_gy
        The dose ``D`` (Gy, ≥ 0) no voxel should exceed.
    weight
        ``w`` (> 0); the value is in ``w`` × Gy².

    Notes
    -----
    ``vᵢ`` is voxel ``i``'s share of the structure's volume (``1/N`` for
    equal voxels): the value is ``w`` times the mean squared overdose over
    *all* voxels of the structure, so a hot spot in a few voxels of a large
    structure weighs little — use :class:`MaxDose` to limit the maximum.
    Gradient: ``∂f/∂dᵢ = 2 w vᵢ max(dᵢ − D, 0)``; continuously
    differentiable. The value is zero exactly when no voxel exceeds ``D``.

    Examples
    --------
    >>> objective = SquaredOverdose("Core", dose_gy=25.0, weight=300.0)
    >>> print(objective)
    Core: squared overdose above 25 Gy (weight 300)
    >>> objective.value([20.0, 24.0, 27.0, 25.0])   # 300 · (0 + 0 + 2² + 0) / 4
    300.0
    >>> objective.value([20.0, 24.0])
    0.0
    """

    structure: str
    _: KW_ONLY
    dose_gy: float
    weight: float = 1.0

    def _zero_up_to_gy(self) -> float | None:
        # not for subclasses that change the formula
        return float(self.dose_gy) if type(self)._evaluate is SquaredOverdose._evaluate else None

    def describe(self) -> str:
        return (
            f"{self.structure}: squared overdose above {_number(self.dose_gy)} Gy "
            f"(weight {_number(self.weight)})"
        )

    def _evaluate(self, dose, volumes):
        return _mean_square(np.maximum(dose - self.dose_gy, 0.0), volumes, self.weight)


@dataclass(frozen=True, slots=True)
class SquaredUnderdose(Objective):
    """Squared underdose: ``w · Σᵢ vᵢ min(dᵢ − D, 0)²`` (targets).

    Parameters
    ----------
    structure
        Name of the structure.
    dose_gy
        The dose ``D`` (Gy, ≥ 0) every voxel should reach.
    weight
        ``w`` (> 0); the value is in ``w`` × Gy².

    Notes
    -----
    The mirror image of :class:`SquaredOverdose`: ``vᵢ`` is voxel ``i``'s
    share of the volume, gradient ``∂f/∂dᵢ = 2 w vᵢ min(dᵢ − D, 0)``
    (≤ 0: raising the dose lowers the value). Zero exactly when every
    voxel reaches ``D``.

    Examples
    --------
    >>> objective = SquaredUnderdose("PTV", dose_gy=50.0)
    >>> objective.value([47.0, 50.0, 53.0])   # (3² + 0 + 0) / 3
    3.0
    >>> objective.gradient([47.0, 50.0, 53.0])   # 2 · (−3) / 3 on the cold voxel
    array([-2.,  0.,  0.])
    """

    structure: str
    _: KW_ONLY
    dose_gy: float
    weight: float = 1.0

    def describe(self) -> str:
        return (
            f"{self.structure}: squared underdose below {_number(self.dose_gy)} Gy "
            f"(weight {_number(self.weight)})"
        )

    def _evaluate(self, dose, volumes):
        return _mean_square(np.minimum(dose - self.dose_gy, 0.0), volumes, self.weight)


# --------------------------------------------------------------------------- max / min
@dataclass(frozen=True, slots=True)
class MaxDose(Objective):
    """Maximum-dose penalty: a smooth stand-in for ``w · max(maxᵢ dᵢ − D, 0)²``.

    Parameters
    ----------
    structure
        Name of the structure.
    dose_gy
        The limit ``D`` (Gy, ≥ 0) on the structure's maximum dose.
    weight
        ``w`` (> 0); the value is in ``w`` × Gy².

    Notes
    -----
    With the overdoses ``eᵢ = max(dᵢ − D, 0)`` and ``uᵢ = vᵢ / maxⱼ vⱼ``
    (1 for full voxels)::

        f = w · (Σᵢ uᵢ eᵢᵖ)^(2/p),    p = MaxDose.exponent = 8
        ∂f/∂dᵢ = 2 w (Σⱼ uⱼ eⱼᵖ)^(2/p − 1) uᵢ eᵢ^(p−1)

    i.e. ``w`` times the squared p-norm of the overdose vector — a soft
    maximum of the overdose. Why this form: the squared overdose of the
    true maximum is not differentiable where the hottest voxel changes;
    a log-sum-exp soft maximum of the dose needs a temperature in Gy and
    is positive even when every voxel is below the limit. The p-norm of
    the overdoses is continuously differentiable, has no dose scale, and
    is zero exactly when the maximum dose is at most ``D``. It never
    underestimates: ``w (max overdose)² ≤ f ≤ w n^(2/p) (max overdose)²``
    with ``n`` the (full-voxel) number of overdosed voxels — equal when a
    single voxel is too hot. The gradient concentrates on the hottest
    voxels (∝ ``eᵢ⁷``), unlike :class:`SquaredOverdose` (∝ ``eᵢ``,
    averaged over the whole structure), so weights of comparable strength
    are smaller than those of a squared overdose. The value is not an
    average: it does not shrink as the structure grows.

    Examples
    --------
    >>> objective = MaxDose("Cord", dose_gy=45.0, weight=10.0)
    >>> print(objective)
    Cord: maximum dose at most 45 Gy (smooth penalty, weight 10)
    >>> objective.value([30.0, 44.0, 47.0])   # one voxel 2 Gy over: 10 · 2²
    40.0
    >>> objective.value([30.0, 44.0, 45.0])
    0.0
    """

    exponent: ClassVar[int] = 8

    structure: str
    _: KW_ONLY
    dose_gy: float
    weight: float = 1.0

    def _zero_up_to_gy(self) -> float | None:
        # not for subclasses that change the formula
        return float(self.dose_gy) if type(self)._evaluate is MaxDose._evaluate else None

    def describe(self) -> str:
        return (
            f"{self.structure}: maximum dose at most {_number(self.dose_gy)} Gy "
            f"(smooth penalty, weight {_number(self.weight)})"
        )

    def _evaluate(self, dose, volumes):
        excess = np.maximum(dose - self.dose_gy, 0.0)
        return _soft_max_penalty(excess, volumes, self.weight, self.exponent)


@dataclass(frozen=True, slots=True)
class MinDose(Objective):
    """Minimum-dose penalty: a smooth stand-in for ``w · max(D − minᵢ dᵢ, 0)²``.

    Parameters
    ----------
    structure
        Name of the structure.
    dose_gy
        The dose ``D`` (Gy, ≥ 0) the structure's minimum dose should reach.
    weight
        ``w`` (> 0); the value is in ``w`` × Gy².

    Notes
    -----
    The mirror image of :class:`MaxDose`, on the underdoses
    ``eᵢ = max(D − dᵢ, 0)``::

        f = w · (Σᵢ uᵢ eᵢᵖ)^(2/p),    p = MinDose.exponent = 8
        ∂f/∂dᵢ = −2 w (Σⱼ uⱼ eⱼᵖ)^(2/p − 1) uᵢ eᵢ^(p−1)

    with ``uᵢ = vᵢ / maxⱼ vⱼ``. Zero exactly when the minimum dose is at
    least ``D``; ``w (max underdose)² ≤ f ≤ w n^(2/p) (max underdose)²``.

    Examples
    --------
    >>> objective = MinDose("PTV", dose_gy=47.5, weight=10.0)
    >>> objective.value([44.5, 50.0, 52.0])   # one voxel 3 Gy under: 10 · 3²
    90.0
    >>> objective.gradient([44.5, 50.0, 52.0])   # −2 · 10 · 3 on that voxel
    array([-60.,   0.,   0.])
    """

    exponent: ClassVar[int] = 8

    structure: str
    _: KW_ONLY
    dose_gy: float
    weight: float = 1.0

    def describe(self) -> str:
        return (
            f"{self.structure}: minimum dose at least {_number(self.dose_gy)} Gy "
            f"(smooth penalty, weight {_number(self.weight)})"
        )

    def _evaluate(self, dose, volumes):
        deficit = np.maximum(self.dose_gy - dose, 0.0)
        value, gradient = _soft_max_penalty(deficit, volumes, self.weight, self.exponent)
        return value, -gradient + 0.0  # + 0.0: no −0.0 entries


# --------------------------------------------------------------------------- mean, gEUD
@dataclass(frozen=True, slots=True)
class MeanDose(Objective):
    """Mean-dose limit: ``w · max(d̄ − D, 0)²`` with ``d̄ = Σᵢ vᵢ dᵢ``.

    Parameters
    ----------
    structure
        Name of the structure.
    dose_gy
        The limit ``D`` (Gy, ≥ 0) on the structure's (volume-weighted) mean
        dose; ``0`` minimizes the mean dose.
    weight
        ``w`` (> 0); the value is in ``w`` × Gy².

    Notes
    -----
    Gradient: ``∂f/∂dᵢ = 2 w max(d̄ − D, 0) vᵢ``; continuously
    differentiable, zero exactly when the mean dose is at most ``D``.

    One-sided on purpose: a mean-dose goal is a limit (parotid mean
    ≤ 26 Gy), and a two-sided penalty would push the dose of an organ at
    risk *up* towards ``D`` once its mean is below. matRad's ``MeanDose``
    penalizes ``(d̄ − D)²`` on both sides; the two agree when the mean is
    above ``D`` and for ``D = 0`` (matRad's usual use). For a target, use
    :class:`SquaredDeviation` or :class:`SquaredUnderdose`.

    Examples
    --------
    >>> objective = MeanDose("Parotid", dose_gy=26.0)
    >>> print(objective)
    Parotid: mean dose at most 26 Gy (weight 1)
    >>> objective.value([20.0, 30.0, 34.0])   # mean 28 Gy: (28 − 26)²
    4.0
    >>> objective.value([10.0, 30.0])   # mean 20 Gy: below the limit
    0.0
    """

    structure: str
    _: KW_ONLY
    dose_gy: float
    weight: float = 1.0

    def describe(self) -> str:
        return (
            f"{self.structure}: mean dose at most {_number(self.dose_gy)} Gy "
            f"(weight {_number(self.weight)})"
        )

    def _evaluate(self, dose, volumes):
        fractions = _fractions(volumes, dose.size)
        excess = max(_average(dose, fractions) - self.dose_gy, 0.0)
        gradient = np.empty_like(dose)
        gradient[...] = (2.0 * self.weight * excess) * fractions
        return self.weight * excess * excess, gradient


@dataclass(frozen=True, slots=True)
class GEUD(Objective):
    """Generalized equivalent uniform dose limit: ``w · (gEUD − D)²`` on the violating side.

    Parameters
    ----------
    structure
        Name of the structure.
    dose_gy
        The gEUD level ``D`` in Gy (≥ 0): an upper limit when ``a > 0``, a
        lower limit when ``a < 0``.
    a
        Niemierko's volume-effect parameter (finite, non-zero): ``a = 1``
        is the mean dose, large ``a`` approaches the maximum (serial
        organs, e.g. 8–20 for spinal cord), small positive ``a`` suits
        parallel organs, negative ``a`` (e.g. −10) targets, where cold spots
        dominate.
    weight
        ``w`` (> 0); the value is in ``w`` × Gy².

    Notes
    -----
    ::

        gEUD = (Σᵢ vᵢ dᵢᵃ)^(1/a)                        (vᵢ: volume fractions)
        f = w · max(gEUD − D, 0)²   if a > 0 (organ at risk: penalized above D)
        f = w · min(gEUD − D, 0)²   if a < 0 (target: penalized below D)
        ∂f/∂dᵢ = 2 w (gEUD − D) · vᵢ (dᵢ / gEUD)^(a−1)   where f > 0, else 0

    The side follows the sign of ``a``, so one parameter says whether the
    structure is treated as an organ at risk or as a target. Continuously
    differentiable. Powers are computed relative to the largest (``a > 0``)
    or smallest (``a < 0``) dose, so any ``|a|`` is safe. Doses are
    clamped to ≥ 0, and for ``a < 1`` (where ``dᵃ`` or its derivative is
    infinite at zero dose) to ≥ 10⁻⁶ Gy; at clamped voxels the gradient is
    the one at the clamp, which still tells the optimizer to raise the dose
    of a cold target voxel.

    References
    ----------
    A. Niemierko, "A generalized concept of equivalent uniform dose (EUD)",
    Med. Phys. 26, 1100 (1999).
    Q. Wu, R. Mohan, A. Niemierko, R. Schmidt-Ullrich, "Optimization of
    intensity-modulated radiotherapy plans based on the equivalent uniform
    dose", Int. J. Radiat. Oncol. Biol. Phys. 52, 224–235 (2002).

    Examples
    --------
    >>> objective = GEUD("Cord", dose_gy=20.0, a=2.0)
    >>> print(objective)
    Cord: gEUD (a = 2) at most 20 Gy (weight 1)
    >>> round(objective.value([10.0, 30.0]), 4)   # gEUD = √((10² + 30²)/2) = √500; (√500 − 20)²
    5.5728
    >>> GEUD("PTV", dose_gy=50.0, a=-10.0).value([52.0, 55.0])   # both above: gEUD > 50
    0.0
    """

    structure: str
    _: KW_ONLY
    dose_gy: float
    a: float
    weight: float = 1.0

    def describe(self) -> str:
        side = "at most" if self.a > 0 else "at least"
        return (
            f"{self.structure}: gEUD (a = {_number(self.a)}) {side} {_number(self.dose_gy)} Gy "
            f"(weight {_number(self.weight)})"
        )

    def _evaluate(self, dose, volumes):
        a = self.a
        clamped = np.maximum(dose, _GEUD_FLOOR_GY if a < 1.0 else 0.0)
        if volumes is not None:
            # zero-volume voxels count for nothing; give them a harmless dose
            counted = volumes > 0.0
            reference = clamped[counted].max() if a > 0 else clamped[counted].min()
            clamped = np.where(counted, clamped, reference)
        else:
            reference = clamped.max() if a > 0 else clamped.min()
        if reference == 0.0:  # a ≥ 1 and no dose: gEUD = 0 ≤ D
            return 0.0, np.zeros_like(dose)
        fractions = _fractions(volumes, dose.size)
        ratio = clamped / reference  # ≤ 1 for a > 0, ≥ 1 for a < 0
        ratio_a_minus_1 = ratio ** (a - 1.0)
        mean_power = _average(ratio_a_minus_1 * ratio, fractions)
        geud = float(reference) * mean_power ** (1.0 / a)
        deviation = geud - self.dose_gy
        if (a > 0 and deviation <= 0.0) or (a < 0 and deviation >= 0.0):
            return 0.0, np.zeros_like(dose)
        scale = 2.0 * self.weight * deviation * mean_power ** (1.0 / a - 1.0)
        gradient = np.empty_like(dose)
        gradient[...] = scale * fractions * ratio_a_minus_1
        return self.weight * deviation * deviation, gradient


# --------------------------------------------------------------------------- DVH
@dataclass(frozen=True, slots=True)
class MaxDVH(Objective):
    """Maximum dose–volume objective (Wu–Mohan): at most ``V`` of the volume above ``D``.

    Parameters
    ----------
    structure
        Name of the structure.
    dose_gy
        The dose level ``D`` in Gy (≥ 0).
    volume_fraction
        ``V`` in (0, 1]: the largest share of the structure's volume that
        may receive more than ``D`` (0.2 for "V60Gy ≤ 20 %").
    weight
        ``w`` (> 0); the value is in ``w`` × Gy².

    Notes
    -----
    Rank the voxels above ``D`` from the hottest down; the first ones,
    whose cumulative volume fraction stays within ``V``, are allowed. The
    others, with doses between ``D`` and ``D_V`` (the dose at which the
    DVH reaches ``V``), are the voxels that must come down to ``D``, and
    only they are penalized::

        f = w · Σ_{i ∈ P} vᵢ (dᵢ − D)²,    ∂f/∂dᵢ = 2 w vᵢ (dᵢ − D) for i ∈ P, else 0

    ``vᵢ`` are volume fractions (``1/N`` for equal voxels), as in
    :class:`SquaredOverdose`. A voxel counts as allowed when it fits
    entirely in ``V`` (a boundary voxel that straddles ``V`` is penalized),
    so ``f`` is zero exactly when the goal is met. The value is continuous;
    the penalized set changes when two voxels swap ranks, where the
    gradient jumps and the one returned is that of the current set (a
    subgradient-like choice, as in Wu & Mohan and matRad). Sorting the
    voxels above ``D`` costs O(n log n).

    References
    ----------
    Q. Wu, R. Mohan, "Algorithms and functionality of an intensity modulated
    radiotherapy optimization system", Med. Phys. 27, 701–711 (2000),
    https://doi.org/10.1118/1.598932

    Examples
    --------
    >>> objective = MaxDVH("Rectum", dose_gy=60.0, volume_fraction=0.25)
    >>> print(objective)
    Rectum: at most 25 % of the volume above 60 Gy (weight 1)
    >>> # 2 of 4 voxels above 60 Gy, 1 allowed: the cooler one (62 Gy) is penalized
    >>> objective.value([50.0, 62.0, 70.0, 55.0])   # (62 − 60)² / 4
    1.0
    """

    structure: str
    _: KW_ONLY
    dose_gy: float
    volume_fraction: float
    weight: float = 1.0

    def describe(self) -> str:
        return (
            f"{self.structure}: at most {_percent(self.volume_fraction)} of the volume above "
            f"{_number(self.dose_gy)} Gy (weight {_number(self.weight)})"
        )

    def _evaluate(self, dose, volumes):
        hot = np.flatnonzero(dose > self.dose_gy)
        deviation = np.zeros_like(dose)
        if hot.size:
            hot = hot[np.argsort(-dose[hot], kind="stable")]
            if volumes is None:
                total, cumulative = float(dose.size), np.arange(1.0, hot.size + 1.0)
            else:
                total, cumulative = float(volumes.sum()), np.cumsum(volumes[hot])
            allowed = self.volume_fraction * total + _VOLUME_TOLERANCE * total
            penalized = hot[cumulative > allowed]
            deviation[penalized] = dose[penalized] - self.dose_gy
        return _mean_square(deviation, volumes, self.weight)


@dataclass(frozen=True, slots=True)
class MinDVH(Objective):
    """Minimum dose–volume objective (Wu–Mohan): at least ``V`` of the volume at ``D`` or more.

    Parameters
    ----------
    structure
        Name of the structure.
    dose_gy
        The dose level ``D`` in Gy (≥ 0).
    volume_fraction
        ``V`` in (0, 1]: the share of the structure's volume that must
        receive at least ``D`` (0.95 for "D95 ≥ 50 Gy").
    weight
        ``w`` (> 0); the value is in ``w`` × Gy².

    Notes
    -----
    Rank all voxels from the hottest down; the ones that start within the
    hottest ``V`` of the volume are required to reach ``D``. Those of them
    below ``D`` — doses between ``D_V`` (the dose at which the DVH reaches
    ``V``) and ``D`` — are the voxels that must come up, and only they are
    penalized::

        f = w · Σ_{i ∈ P} vᵢ (dᵢ − D)²,    ∂f/∂dᵢ = 2 w vᵢ (dᵢ − D) for i ∈ P, else 0

    with volume fractions ``vᵢ``. Zero exactly when the goal is met; with
    ``V = 1`` it equals :class:`SquaredUnderdose`. Continuity, kinks and
    cost as for :class:`MaxDVH`.

    References
    ----------
    Q. Wu, R. Mohan, "Algorithms and functionality of an intensity modulated
    radiotherapy optimization system", Med. Phys. 27, 701–711 (2000),
    https://doi.org/10.1118/1.598932

    Examples
    --------
    >>> objective = MinDVH("PTV", dose_gy=50.0, volume_fraction=0.75)
    >>> print(objective)
    PTV: at least 75 % of the volume at or above 50 Gy (weight 1)
    >>> # 3 of 4 voxels must reach 50 Gy; 2 do: the warmer cold voxel (48 Gy) is penalized
    >>> objective.value([51.0, 48.0, 44.0, 53.0])   # (48 − 50)² / 4
    1.0
    """

    structure: str
    _: KW_ONLY
    dose_gy: float
    volume_fraction: float
    weight: float = 1.0

    def describe(self) -> str:
        return (
            f"{self.structure}: at least {_percent(self.volume_fraction)} of the volume at or "
            f"above {_number(self.dose_gy)} Gy (weight {_number(self.weight)})"
        )

    def _evaluate(self, dose, volumes):
        cold = np.flatnonzero(dose < self.dose_gy)
        deviation = np.zeros_like(dose)
        if cold.size:
            cold = cold[np.argsort(-dose[cold], kind="stable")]
            if volumes is None:
                total = float(dose.size)
                before = (dose.size - cold.size) + np.arange(float(cold.size))
            else:
                total = float(volumes.sum())
                cold_volumes = volumes[cold]
                before = (total - float(cold_volumes.sum())) + (
                    np.cumsum(cold_volumes) - cold_volumes
                )
            required = self.volume_fraction * total - _VOLUME_TOLERANCE * total
            penalized = cold[before < required]
            deviation[penalized] = dose[penalized] - self.dose_gy
        return _mean_square(deviation, volumes, self.weight)
