"""Constants, kinematics and input validation shared by the proton physics modules.

The proton physics of rtwin is split into private modules:

* :mod:`._range_energy` — PSTAR range–energy relation in water;
* :mod:`._bragg` — Bortfeld's analytical Bragg curve, R80, WED along SPR profiles;
* :mod:`._scattering` — multiple Coulomb scattering (Highland/PDG, Fermi–Eyges);
* :mod:`._machine` — the generic spot-scanning machine and the engine's depth tables.

This module holds what they share: physical constants (each with its source),
relativistic kinematics of the proton, the exception class and the validators
that turn public arguments into float arrays with messages that name the value.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.errors import RtwinError

__all__ = [
    "GY_PER_MEV_PER_MM3_WATER",
    "HIGHLAND_ENERGY_MEV",
    "HIGHLAND_LOG_COEFFICIENT",
    "PROTON_MASS_MEV",
    "WATER_RADIATION_LENGTH_MM",
    "ProtonPhysicsError",
]

#: Proton rest energy m_p c² in MeV (CODATA 2018; the reference file lists 938.272).
PROTON_MASS_MEV = 938.27208816

#: Radiation length of liquid water, 36.08 g/cm² (PDG atomic and nuclear properties),
#: as a length in mm for ρ = 1 g/cm³.
WATER_RADIATION_LENGTH_MM = 360.8

#: Highland/PDG multiple-scattering energy constant E_s = 13.6 MeV (PDG RPP,
#: "Passage of particles through matter"; Lynch & Dahl 1991).
HIGHLAND_ENERGY_MEV = 13.6

#: Coefficient of the logarithmic path-length correction of the PDG form, 0.038.
HIGHLAND_LOG_COEFFICIENT = 0.038

#: Dose to water in Gy of 1 MeV deposited in 1 mm³ of unit-density water:
#: 1.602176634e-13 J / 1e-6 kg (the SI value of the electronvolt is exact).
GY_PER_MEV_PER_MM3_WATER = 1.602176634e-7


class ProtonPhysicsError(RtwinError, ValueError):
    """A proton physics input (energy, range, depth, machine data) is invalid or out of range.

    Examples
    --------
    >>> from rtwin.dose.proton import ProtonPhysicsError, csda_range_mm
    >>> try:
    ...     csda_range_mm(5.0)
    ... except ProtonPhysicsError as error:
    ...     print(str(error).split(";")[0])
    energy_mev 5 MeV is outside the PSTAR table (10 to 300 MeV)
    """


def beta_squared(energy_mev: NDArray[np.float64]) -> NDArray[np.float64]:
    """β² = 1 − (m/(T+m))² of a proton of kinetic energy T (MeV)."""
    ratio = PROTON_MASS_MEV / (energy_mev + PROTON_MASS_MEV)
    return 1.0 - ratio * ratio


def momentum_velocity_mev(energy_mev: NDArray[np.float64]) -> NDArray[np.float64]:
    """p·v (MeV) of a proton of kinetic energy T: T (T + 2m) / (T + m)."""
    return energy_mev * (energy_mev + 2.0 * PROTON_MASS_MEV) / (energy_mev + PROTON_MASS_MEV)


def as_float_array(
    name: str,
    value: ArrayLike,
    *,
    unit: str,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    hint: str = "",
) -> NDArray[np.float64]:
    """``value`` as a float64 array (a copy), checked to be finite and within bounds.

    Raises :class:`ProtonPhysicsError` naming ``name``, the first offending
    value, the expected interval and ``hint`` (how to fix it).
    """
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ProtonPhysicsError(
            f"{name} must be a number or an array of numbers in {unit}; got {value!r}"
        ) from None
    if array.size == 0:
        raise ProtonPhysicsError(f"{name} is empty; give at least one value in {unit}")
    bad = ~np.isfinite(array)
    if np.any(bad):
        raise ProtonPhysicsError(
            f"{name} holds a non-finite value ({array[bad].flat[0]!r}); give finite values in {unit}"
        )
    low_bad = np.zeros(array.shape, dtype=bool)
    if minimum is not None:
        low_bad = array <= minimum if strict_minimum else array < minimum
    high_bad = array > maximum if maximum is not None else np.zeros(array.shape, dtype=bool)
    if np.any(low_bad | high_bad):
        offending = float(array[low_bad | high_bad].flat[0])
        low = "-inf" if minimum is None else f"{minimum:g}"
        high = "inf" if maximum is None else f"{maximum:g}"
        bracket = "(" if strict_minimum else "["
        unit_text = f" {unit}" if unit else ""
        message = (
            f"{name} {offending:g}{unit_text} is outside the allowed interval "
            f"{bracket}{low}, {high}]"
        )
        raise ProtonPhysicsError(message + (f"; {hint}" if hint else ""))
    return array


def as_scalar(
    name: str,
    value: object,
    *,
    unit: str,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_minimum: bool = False,
    hint: str = "",
) -> float:
    """``value`` as a Python float with the checks of :func:`as_float_array`."""
    if isinstance(value, bool) or np.ndim(value) != 0:  # type: ignore[arg-type]
        raise ProtonPhysicsError(f"{name} must be one number in {unit}; got {value!r}")
    array = as_float_array(
        name,
        value,  # type: ignore[arg-type]
        unit=unit,
        minimum=minimum,
        maximum=maximum,
        strict_minimum=strict_minimum,
        hint=hint,
    )
    return float(array)
