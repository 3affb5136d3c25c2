"""Plan comparison: several candidate plans, one goal set, a ranking with its reasons.

:func:`compare_plans` evaluates every plan (goal table, DVHs, target
indices, NTCP/TCP when parameters are given) and ranks the plans by a
fixed rule — failed goals by priority, then target coverage, then
organ-at-risk sparing — that :meth:`PlanComparison.explain` puts into
sentences. ``docs/comparison.md`` has the rule, an example explanation and
the JSON outline.

Examples
--------
>>> import numpy as np, rtwin
>>> from rtwin.evaluation import GoalSet
>>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
>>> doses = {name: rtwin.dose.Dose(values=np.full(patient.grid.shape, gy), grid=patient.grid)
...          for name, gy in (("A", 60.0), ("B", 57.0))}
>>> goals = GoalSet.parse(["Target D95% >= 58 Gy ± 1 Gy", "Body Dmax <= 61 Gy"])
>>> comparison = rtwin.compare.compare_plans(doses, patient.structures, goals)
>>> comparison
PlanComparison(2 plans, 2 goals; recommended 'A'; ranking 'A' > 'B')
"""

from rtwin.compare._comparison import (
    RULE,
    PlanComparison,
    PlanEvaluation,
    RadiobiologyResult,
    TargetIndices,
    compare_plans,
)
from rtwin.compare._ranking import Coverage, PlanScore, RankingStep

__all__ = [
    "RULE",
    "Coverage",
    "PlanComparison",
    "PlanEvaluation",
    "PlanScore",
    "RadiobiologyResult",
    "RankingStep",
    "TargetIndices",
    "compare_plans",
]
