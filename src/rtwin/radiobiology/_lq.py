"""Linear-quadratic fractionation: BED and EQD2, voxel-wise and on DVHs, and their inverses."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import replace
from typing import overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.dose import Dose
from rtwin.errors import RadiobiologyError
from rtwin.evaluation import DVH

__all__ = ["bed", "eqd2", "physical_dose_from_bed", "physical_dose_from_eqd2"]

_Transform = Callable[[NDArray[np.float64], int, float], NDArray[np.float64]]


# ---------------------------------------------------------------------- validation
def check_fractions(n_fractions: object, what: str = "n_fractions") -> int:
    """``n_fractions`` as a positive int, or a RadiobiologyError naming the value."""
    if isinstance(n_fractions, bool) or not isinstance(n_fractions, numbers.Real):
        raise RadiobiologyError(
            f"{what} must be a positive integer (the number of equal fractions); got "
            f"{n_fractions!r}"
        )
    number = float(n_fractions)
    if not math.isfinite(number) or number < 1 or not number.is_integer():
        raise RadiobiologyError(
            f"{what} must be a positive integer (the number of equal fractions); got "
            f"{n_fractions!r}"
        )
    return int(number)


def check_positive(value: object, what: str) -> float:
    """``value`` as a finite float > 0, or a RadiobiologyError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise RadiobiologyError(f"{what} must be a number > 0; got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise RadiobiologyError(f"{what} must be a finite number > 0; got {value!r}")
    return number


def _doses(values: ArrayLike, what: str) -> NDArray[np.float64]:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise RadiobiologyError(f"{what} must be numbers in Gy; got {values!r}") from None
    if not np.all(np.isfinite(array)):
        raise RadiobiologyError(f"{what} must be finite")
    if array.size and float(array.min()) < 0:
        raise RadiobiologyError(
            f"{what} must be >= 0 Gy for the linear-quadratic model; the lowest is "
            f"{float(array.min()):g} Gy"
        )
    return array


# ---------------------------------------------------------------------- the formulas
def _bed(total: NDArray[np.float64], n: int, alpha_beta: float) -> NDArray[np.float64]:
    return total * (1.0 + (total / n) / alpha_beta)


def _eqd2(total: NDArray[np.float64], n: int, alpha_beta: float) -> NDArray[np.float64]:
    # D (d + α/β) / (2 + α/β), written so that d = 2 Gy gives exactly D.
    return total * ((total / n + alpha_beta) / (2.0 + alpha_beta))


def _from_bed(bed_gy: NDArray[np.float64], n: int, alpha_beta: float) -> NDArray[np.float64]:
    # D² / (n α/β) + D − BED = 0, the positive root in a form without cancellation.
    return 2.0 * bed_gy / (1.0 + np.sqrt(1.0 + 4.0 * bed_gy / (n * alpha_beta)))


def _from_eqd2(eqd2_gy: NDArray[np.float64], n: int, alpha_beta: float) -> NDArray[np.float64]:
    return _from_bed(eqd2_gy * (1.0 + 2.0 / alpha_beta), n, alpha_beta)


# ---------------------------------------------------------------------- dispatch
def _apply(
    dose: Dose | DVH | ArrayLike,
    n_fractions: int,
    alpha_beta_gy: float,
    transform: _Transform,
    label: str,
    what: str,
) -> Dose | DVH | NDArray[np.float64] | float:
    n = check_fractions(n_fractions)
    alpha_beta = check_positive(alpha_beta_gy, "alpha_beta_gy (α/β in Gy)")
    setting = f"α/β = {alpha_beta:g} Gy, {n} fraction{'s' if n != 1 else ''}"
    if isinstance(dose, Dose):
        values = _doses(dose.values, f"the dose {dose.description or ''}".rstrip())
        converted = transform(values, n, alpha_beta)
        description = f"{label} ({setting})" + (
            f" of {dose.description}" if dose.description else ""
        )
        return replace(dose, values=converted, description=description)
    if isinstance(dose, DVH):
        values = _doses(dose.doses_gy, f"the doses of DVH {dose.name!r}")
        return DVH(
            name=dose.name, doses_gy=transform(values, n, alpha_beta), volumes_cc=dose.volumes_cc
        )
    values = _doses(dose, what)
    result = transform(values, n, alpha_beta)
    return float(result) if result.ndim == 0 else result


@overload
def bed(dose: Dose, *, n_fractions: int, alpha_beta_gy: float) -> Dose: ...
@overload
def bed(dose: DVH, *, n_fractions: int, alpha_beta_gy: float) -> DVH: ...
@overload
def bed(dose: float, *, n_fractions: int, alpha_beta_gy: float) -> float: ...
@overload
def bed(
    dose: ArrayLike, *, n_fractions: int, alpha_beta_gy: float
) -> NDArray[np.float64] | float: ...
def bed(
    dose: Dose | DVH | ArrayLike, *, n_fractions: int, alpha_beta_gy: float
) -> Dose | DVH | NDArray[np.float64] | float:
    """Biologically effective dose of a physical dose given in equal fractions.

    Parameters
    ----------
    dose
        Total physical dose in Gy, delivered in ``n_fractions`` equal
        fractions: a number or an array (voxel-wise, any shape), a
        :class:`~rtwin.dose.Dose` or a :class:`~rtwin.evaluation.DVH`
        (each of its doses is the total dose of its volume).
    n_fractions
        Number of equal fractions (a positive integer).
    alpha_beta_gy
        α/β of the tissue in Gy (> 0). See
        :func:`alpha_beta_values` for published values.

    Returns
    -------
    float, numpy.ndarray, Dose or DVH
        The BED in Gy, of the same kind as ``dose``: a float for a
        number, a float64 array of the same shape for an array, a
        ``Dose`` on the same grid (float32, its description naming the
        conversion) or a ``DVH`` with the same name and volumes.

    Raises
    ------
    RadiobiologyError
        Negative or non-finite doses, ``n_fractions`` not a positive
        integer, ``alpha_beta_gy`` not > 0.

    Notes
    -----
    .. math:: \\mathrm{BED} = D\\,\\left(1 + \\frac{d}{\\alpha/\\beta}\\right),
              \\qquad d = D / n

    The linear-quadratic model without repopulation or incomplete repair:
    every voxel (or DVH bin) receives its own dose per fraction ``d = D /
    n``. It is the usual planning approximation for 1–10 Gy per fraction
    and is less reliable for single doses well above 10 Gy.

    References
    ----------
    Fowler JF. The linear-quadratic formula and progress in fractionated
    radiotherapy. Br J Radiol 62(740):679-694 (1989).

    Examples
    --------
    >>> from rtwin.radiobiology import bed
    >>> round(bed(60.0, n_fractions=30, alpha_beta_gy=3.0), 9)   # 30 x 2 Gy
    100.0
    >>> bed([0.0, 8.0], n_fractions=1, alpha_beta_gy=10.0).tolist()
    [0.0, 14.4]
    """
    return _apply(dose, n_fractions, alpha_beta_gy, _bed, "BED", "doses")


@overload
def eqd2(dose: Dose, *, n_fractions: int, alpha_beta_gy: float) -> Dose: ...
@overload
def eqd2(dose: DVH, *, n_fractions: int, alpha_beta_gy: float) -> DVH: ...
@overload
def eqd2(dose: float, *, n_fractions: int, alpha_beta_gy: float) -> float: ...
@overload
def eqd2(
    dose: ArrayLike, *, n_fractions: int, alpha_beta_gy: float
) -> NDArray[np.float64] | float: ...
def eqd2(
    dose: Dose | DVH | ArrayLike, *, n_fractions: int, alpha_beta_gy: float
) -> Dose | DVH | NDArray[np.float64] | float:
    """Equivalent dose in 2 Gy fractions of a physical dose given in equal fractions.

    Parameters
    ----------
    dose
        Total physical dose in Gy in ``n_fractions`` equal fractions: a
        number, an array, a :class:`~rtwin.dose.Dose` or a
        :class:`~rtwin.evaluation.DVH` (as for :func:`bed`).
    n_fractions
        Number of equal fractions (a positive integer).
    alpha_beta_gy
        α/β of the tissue in Gy (> 0).

    Returns
    -------
    float, numpy.ndarray, Dose or DVH
        EQD2 in Gy, of the same kind as ``dose`` (see :func:`bed`).

    Raises
    ------
    RadiobiologyError
        As :func:`bed`.

    Notes
    -----
    .. math:: \\mathrm{EQD2} = \\frac{\\mathrm{BED}}{1 + 2/(\\alpha/\\beta)}
              = D\\,\\frac{d + \\alpha/\\beta}{2 + \\alpha/\\beta}, \\qquad d = D / n

    The total dose in 2 Gy fractions that has the same BED. A dose given in
    2 Gy fractions is its own EQD2 (exactly, here). Same model and limits
    as :func:`bed`.

    References
    ----------
    Withers HR, Thames HD, Peters LJ. A new isoeffect curve for change in
    dose per fraction. Radiother Oncol 1(2):187-191 (1983).

    Fowler JF. The linear-quadratic formula and progress in fractionated
    radiotherapy. Br J Radiol 62(740):679-694 (1989).

    Examples
    --------
    >>> from rtwin.radiobiology import eqd2
    >>> eqd2(70.0, n_fractions=35, alpha_beta_gy=3.0)   # 2 Gy fractions: unchanged
    70.0
    >>> eqd2(40.0, n_fractions=5, alpha_beta_gy=3.0)    # 5 x 8 Gy
    88.0
    """
    return _apply(dose, n_fractions, alpha_beta_gy, _eqd2, "EQD2", "doses")


@overload
def physical_dose_from_bed(bed_gy: Dose, *, n_fractions: int, alpha_beta_gy: float) -> Dose: ...
@overload
def physical_dose_from_bed(bed_gy: DVH, *, n_fractions: int, alpha_beta_gy: float) -> DVH: ...
@overload
def physical_dose_from_bed(bed_gy: float, *, n_fractions: int, alpha_beta_gy: float) -> float: ...
@overload
def physical_dose_from_bed(
    bed_gy: ArrayLike, *, n_fractions: int, alpha_beta_gy: float
) -> NDArray[np.float64] | float: ...
def physical_dose_from_bed(
    bed_gy: Dose | DVH | ArrayLike, *, n_fractions: int, alpha_beta_gy: float
) -> Dose | DVH | NDArray[np.float64] | float:
    """The total physical dose in ``n_fractions`` equal fractions that has a given BED.

    The inverse of :func:`bed` (same argument kinds and return kinds):
    the positive root of ``D²/(n α/β) + D − BED = 0``,

    .. math:: D = \\frac{2\\,\\mathrm{BED}}{1 + \\sqrt{1 + 4\\,\\mathrm{BED} / (n\\,\\alpha/\\beta)}}

    Raises
    ------
    RadiobiologyError
        As :func:`bed` (a negative BED included).

    Examples
    --------
    >>> from rtwin.radiobiology import physical_dose_from_bed
    >>> physical_dose_from_bed(100.0, n_fractions=30, alpha_beta_gy=3.0)
    60.0
    """
    return _apply(bed_gy, n_fractions, alpha_beta_gy, _from_bed, "physical dose", "BED values")


@overload
def physical_dose_from_eqd2(eqd2_gy: Dose, *, n_fractions: int, alpha_beta_gy: float) -> Dose: ...
@overload
def physical_dose_from_eqd2(eqd2_gy: DVH, *, n_fractions: int, alpha_beta_gy: float) -> DVH: ...
@overload
def physical_dose_from_eqd2(eqd2_gy: float, *, n_fractions: int, alpha_beta_gy: float) -> float: ...
@overload
def physical_dose_from_eqd2(
    eqd2_gy: ArrayLike, *, n_fractions: int, alpha_beta_gy: float
) -> NDArray[np.float64] | float: ...
def physical_dose_from_eqd2(
    eqd2_gy: Dose | DVH | ArrayLike, *, n_fractions: int, alpha_beta_gy: float
) -> Dose | DVH | NDArray[np.float64] | float:
    """The total physical dose in ``n_fractions`` equal fractions that has a given EQD2.

    The inverse of :func:`eqd2` (same argument kinds and return kinds):
    the BED ``EQD2 (1 + 2/(α/β))`` converted back with
    :func:`physical_dose_from_bed`. Use it to find, e.g., the 5-fraction
    dose equivalent to 78 Gy in 2 Gy fractions.

    Raises
    ------
    RadiobiologyError
        As :func:`bed` (a negative EQD2 included).

    Examples
    --------
    >>> from rtwin.radiobiology import physical_dose_from_eqd2
    >>> physical_dose_from_eqd2(88.0, n_fractions=5, alpha_beta_gy=3.0)
    40.0
    """
    return _apply(eqd2_gy, n_fractions, alpha_beta_gy, _from_eqd2, "physical dose", "EQD2 values")
