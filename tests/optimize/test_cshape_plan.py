"""The embedded C-shape phantom is a real planning problem: the TG-119 goals are met.

Goals as in test_tg119.py (OuterTarget D95 normalized to 50 Gy on the
phantom's grid; OuterTarget D10 ≤ 55 Gy, Core D10 ≤ 25 Gy). The objectives
are the CORT ones except the Core limit, 23 Gy instead of 25 Gy: with 25 Gy
the optimum leaves Core D10 at 25.5 Gy after normalization on this phantom
(its core reaches 1.5 mm closer to the target than CORT's), a margin any
planner would add. The dose grid is the phantom's own 4 mm grid: on a 5 mm
grid over its 3 × 3 × 2.5 mm anatomy the interpolated dose across the 6 mm
core–target gap raises OuterTarget D10 to 56 Gy (see docs/optimization.md).
"""

from __future__ import annotations

import numpy as np

import rtwin
from rtwin.evaluation import DVH
from rtwin.optimize import SquaredDeviation, SquaredOverdose, optimize_fluence


def test_nine_field_imrt_meets_the_c_shape_goals():
    patient = rtwin.phantoms.cshape(voxel_mm=4.0)
    beams = rtwin.beams.equispaced(9, patient.structures["OuterTarget"].centroid_mm)
    influence = rtwin.dose.PhotonPencilBeam().influence(patient, beams)
    result = optimize_fluence(
        influence,
        patient.structures,
        [
            SquaredDeviation("OuterTarget", dose_gy=50.0, weight=1000.0),
            SquaredOverdose("Core", dose_gy=23.0, weight=300.0),
            SquaredOverdose("BODY", dose_gy=30.0, weight=100.0),
        ],
        max_iterations=80,
    )
    dose = result.dose.normalized(patient.structures["OuterTarget"], at_volume=0.95, to_gy=50.0)
    target = DVH.compute(dose, patient.structures["OuterTarget"])
    core = DVH.compute(dose, patient.structures["Core"])
    assert np.isclose(target.dose_at_volume(0.95), 50.0, rtol=1e-4)
    assert target.dose_at_volume(0.10) <= 55.0
    assert core.dose_at_volume(0.10) <= 25.0
