"""Treatment machines: the photon pencil-beam beam model, its commissioning fit and data.

A :class:`PhotonMachine` holds the few numbers of rtwin's finite-size
pencil-beam model (depth functions and lateral kernel widths), calibrated so
that the dose engine's output is in Gy per unit bixel weight.
:func:`fit_photon_machine` commissions it from measured depth doses and
profiles; :func:`generic_6mv` is the machine rtwin ships, fitted to the BJR
Supplement 25 6 MV depth doses.

Examples
--------
>>> from rtwin.machines import generic_6mv
>>> machine = generic_6mv()
>>> machine.central_axis_pdd(field_size_cm=10, depths_cm=[10.0]).round(1).tolist()
[67.7]
"""

from rtwin.machines._errors import MachineError
from rtwin.machines._fit import (
    DEFAULT_BOUNDS,
    FitPoint,
    FittedParameter,
    MachineFit,
    Prior,
    default_priors,
    fit_photon_machine,
    typical_dmax_cm,
)
from rtwin.machines._machine import (
    CALIBRATION_CONVENTION,
    KernelTables,
    PhotonMachine,
    generic_6mv,
    read_photon_machine,
)
from rtwin.machines._measurements import BJR25_SOURCE, DepthDose, Profile, bjr25_depth_doses
from rtwin.machines._model import (
    COMPONENT_NAMES,
    MODEL_ID,
    PARAMETER_NAMES,
    SCATTER_WEIGHTS,
    SCATTER_WIDTH_FACTORS,
    PhotonKernelParameters,
)

__all__ = [
    "BJR25_SOURCE",
    "CALIBRATION_CONVENTION",
    "COMPONENT_NAMES",
    "DEFAULT_BOUNDS",
    "MODEL_ID",
    "PARAMETER_NAMES",
    "SCATTER_WEIGHTS",
    "SCATTER_WIDTH_FACTORS",
    "DepthDose",
    "FitPoint",
    "FittedParameter",
    "KernelTables",
    "MachineError",
    "MachineFit",
    "PhotonKernelParameters",
    "PhotonMachine",
    "Prior",
    "Profile",
    "bjr25_depth_doses",
    "default_priors",
    "fit_photon_machine",
    "generic_6mv",
    "read_photon_machine",
    "typical_dmax_cm",
]
