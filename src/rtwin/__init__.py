"""rtwin: radiotherapy planning simulation on a patient's digital twin.

Subpackages load on first use, so ``import rtwin`` is quick and compiles
nothing::

    >>> import rtwin
    >>> patient = rtwin.phantoms.cshape(voxel_mm=6.0)
    >>> sorted(patient.structures)
    ['BODY', 'Core', 'OuterTarget']

See ``docs/`` for the conventions (DICOM LPS millimetres, ``(k, j, i)``
arrays) and the physics models.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from rtwin._version import __version__

__all__ = [
    "Grid",
    "Image",
    "Patient",
    "Plan",
    "PlanComparison",
    "Prescription",
    "Structure",
    "StructureSet",
    "__version__",
    "anatomy",
    "beams",
    "compare",
    "compare_plans",
    "dose",
    "errors",
    "evaluation",
    "geometry",
    "io",
    "machines",
    "materials",
    "optimize",
    "patient",
    "phantoms",
    "planning",
    "plotting",
    "radiobiology",
    "report",
]

_SUBMODULES = {
    "anatomy",
    "beams",
    "compare",
    "dose",
    "errors",
    "evaluation",
    "geometry",
    "io",
    "machines",
    "materials",
    "optimize",
    "patient",
    "phantoms",
    "planning",
    "plotting",
    "radiobiology",
    "report",
}
_NAMES = {
    "Grid": "rtwin.geometry",
    "Image": "rtwin.anatomy",
    "Structure": "rtwin.anatomy",
    "StructureSet": "rtwin.anatomy",
    "Patient": "rtwin.patient",
    "Plan": "rtwin.optimize",
    "Prescription": "rtwin.optimize",
    "PlanComparison": "rtwin.compare",
    "compare_plans": "rtwin.compare",
}

if TYPE_CHECKING:  # pragma: no cover
    from rtwin import (
        anatomy,
        beams,
        compare,
        dose,
        errors,
        evaluation,
        geometry,
        io,
        machines,
        materials,
        optimize,
        patient,
        phantoms,
        planning,
        plotting,
        radiobiology,
        report,
    )
    from rtwin.anatomy import Image, Structure, StructureSet
    from rtwin.compare import PlanComparison, compare_plans
    from rtwin.geometry import Grid
    from rtwin.optimize import Plan, Prescription
    from rtwin.patient import Patient


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"rtwin.{name}")
        globals()[name] = module
        return module
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rtwin' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
