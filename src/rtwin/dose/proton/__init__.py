"""Protons: range–energy, Bragg curve, scattering, machine, spot layouts and the pencil-beam engine.

The physics is for protons in water; the engine (:class:`ProtonPencilBeam`)
handles heterogeneity through the water-equivalent depth. See
``docs/physics_protons.md``.

Examples
--------
>>> from rtwin.dose.proton import BraggCurve, csda_range_mm, lateral_sigma_mcs_mm
>>> round(float(csda_range_mm(150.0)), 1)
157.7
>>> curve = BraggCurve(energy_mev=150.0)
>>> abs(curve.r80_mm - curve.range_mm) < 0.5
True
"""

from rtwin.dose.proton._bragg import (
    BortfeldParameters,
    BraggCurve,
    bragg_peak_depth_mm,
    idd_along_spr,
    r80_mm,
    water_equivalent_depth_mm,
)
from rtwin.dose.proton._engine import PROTONS_PER_WEIGHT, ProtonPencilBeam
from rtwin.dose.proton._layout import SpotLayout, proton_spot_layout
from rtwin.dose.proton._machine import DepthDoseTable, ProtonMachine
from rtwin.dose.proton._physics import (
    GY_PER_MEV_PER_MM3_WATER,
    HIGHLAND_ENERGY_MEV,
    HIGHLAND_LOG_COEFFICIENT,
    PROTON_MASS_MEV,
    WATER_RADIATION_LENGTH_MM,
    ProtonPhysicsError,
)
from rtwin.dose.proton._range_energy import (
    PSTAR_ENERGY_RANGE_MEV,
    csda_range_mm,
    energy_for_csda_range,
    mass_stopping_power_water,
)
from rtwin.dose.proton._scattering import highland_theta0_rad, lateral_sigma_mcs_mm

__all__ = [
    "GY_PER_MEV_PER_MM3_WATER",
    "HIGHLAND_ENERGY_MEV",
    "HIGHLAND_LOG_COEFFICIENT",
    "PROTONS_PER_WEIGHT",
    "PROTON_MASS_MEV",
    "PSTAR_ENERGY_RANGE_MEV",
    "WATER_RADIATION_LENGTH_MM",
    "BortfeldParameters",
    "BraggCurve",
    "DepthDoseTable",
    "ProtonMachine",
    "ProtonPencilBeam",
    "ProtonPhysicsError",
    "SpotLayout",
    "bragg_peak_depth_mm",
    "csda_range_mm",
    "energy_for_csda_range",
    "highland_theta0_rad",
    "idd_along_spr",
    "lateral_sigma_mcs_mm",
    "mass_stopping_power_water",
    "proton_spot_layout",
    "r80_mm",
    "water_equivalent_depth_mm",
]
