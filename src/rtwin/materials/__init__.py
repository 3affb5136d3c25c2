"""Materials: CT calibration (HU → electron density, mass density, SPR) and tissues.

Examples
--------
>>> from rtwin.materials import default_calibration
>>> default_calibration().relative_electron_density([0.0]).tolist()
[1.0]
"""

from rtwin.materials._calibration import (
    CalibrationCurve,
    HUCalibration,
    Quantity,
    default_calibration,
)
from rtwin.materials._tissues import (
    AIR,
    CLASS_PATTERNS,
    DEFAULT_ASSIGNMENTS,
    SPR_REFERENCE_ENERGY_MEV,
    Tissue,
    synthetic_ct,
    tissue,
    tissues,
)

__all__ = [
    "AIR",
    "CLASS_PATTERNS",
    "DEFAULT_ASSIGNMENTS",
    "SPR_REFERENCE_ENERGY_MEV",
    "CalibrationCurve",
    "HUCalibration",
    "Quantity",
    "Tissue",
    "default_calibration",
    "synthetic_ct",
    "tissue",
    "tissues",
]
