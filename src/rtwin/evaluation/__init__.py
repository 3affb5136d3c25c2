"""Plan evaluation: DVHs, the metric grammar, clinical goals and plan-quality indices.

Examples
--------
>>> import numpy as np
>>> import rtwin
>>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
>>> dose = rtwin.dose.Dose(values=np.full(patient.grid.shape, 2.0), grid=patient.grid)
>>> dvh = rtwin.evaluation.DVH.compute(dose, patient.structures["Target"])
>>> dvh.dose_at_volume(0.95), rtwin.evaluation.Metric.parse("V2Gy").evaluate(dvh)
(2.0, 100.0)
"""

from rtwin.evaluation._dvh import DVH
from rtwin.evaluation._gamma import GammaResult, gamma
from rtwin.evaluation._goals import (
    ClinicalGoal,
    Comparator,
    GoalResult,
    GoalResults,
    GoalSet,
    GoalStatus,
)
from rtwin.evaluation._indices import (
    gradient_index,
    homogeneity_index,
    isodose_volume_cc,
    paddick_conformity_index,
)
from rtwin.evaluation._metric import Metric, MetricKind

__all__ = [
    "DVH",
    "ClinicalGoal",
    "Comparator",
    "GammaResult",
    "GoalResult",
    "GoalResults",
    "GoalSet",
    "GoalStatus",
    "Metric",
    "MetricKind",
    "gamma",
    "gradient_index",
    "homogeneity_index",
    "isodose_volume_cc",
    "paddick_conformity_index",
]
