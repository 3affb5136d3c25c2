"""Fluence optimization: objectives with analytic gradients with respect to dose.

Each objective names a structure, sees the doses of all that structure's
voxels (overlapping structures share voxels) and returns a weighted value
and its gradient; see ``docs/optimization.md`` for every formula.

Examples
--------
>>> import rtwin
>>> objective = rtwin.optimize.SquaredDeviation("PTV", dose_gy=50.0, weight=1000.0)
>>> print(objective)
PTV: squared deviation from 50 Gy (weight 1000)
>>> value, gradient = objective.value_and_gradient([49.0, 51.0])
>>> value, gradient.tolist()
(1000.0, [-1000.0, 1000.0])
"""

from rtwin.optimize._objectives import (
    GEUD,
    MaxDose,
    MaxDVH,
    MeanDose,
    MinDose,
    MinDVH,
    Objective,
    SquaredDeviation,
    SquaredOverdose,
    SquaredUnderdose,
)
from rtwin.optimize._optimizer import IterationState, OptimizationResult, optimize_fluence
from rtwin.optimize._plan import Plan, Prescription
from rtwin.optimize._problem import FluenceProblem

__all__ = [
    "GEUD",
    "FluenceProblem",
    "IterationState",
    "MaxDVH",
    "MaxDose",
    "MeanDose",
    "MinDVH",
    "MinDose",
    "Objective",
    "OptimizationResult",
    "Plan",
    "Prescription",
    "SquaredDeviation",
    "SquaredOverdose",
    "SquaredUnderdose",
    "optimize_fluence",
]
