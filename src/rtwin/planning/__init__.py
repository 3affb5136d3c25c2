"""Making candidate plans: describe them, then compute, optimize and normalize them.

Examples
--------
>>> import rtwin
>>> rtwin.planning.CandidatePlan.equispaced(
...     "IMPT", 2, modality="proton", start_deg=90,
...     objectives=[rtwin.optimize.SquaredDeviation("PTV", dose_gy=60)]).gantry_deg
(90.0, 270.0)
"""

from rtwin.planning._candidates import CandidatePlan, PlanningStep, plan_candidates
from rtwin.planning._spec import StudyOutcome, StudySpec, run_study

__all__ = [
    "CandidatePlan",
    "PlanningStep",
    "StudyOutcome",
    "StudySpec",
    "plan_candidates",
    "run_study",
]
