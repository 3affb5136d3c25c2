"""Synthetic plans on the coarse prostate phantom, built so the right ranking is known.

The dose is the prescription inside the PTV and falls off exponentially with
the distance outside it, ``78 Gy · exp(−d / λ)``: a small λ is a conformal
plan, a large λ a plan that spares the organs at risk less. Scaling a dose
down under-covers the target. The fixtures are imported by the test modules
(a conftest.py here would clash with the other test folders' under --doctest-modules).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import rtwin
from rtwin.evaluation import ClinicalGoal, GoalSet

PRESCRIPTION_GY = 78.0


def falloff_dose(
    patient: rtwin.Patient, falloff_mm: float, *, scale: float = 1.0
) -> rtwin.dose.Dose:
    """``scale × 78 Gy`` in the PTV, ``× exp(−distance / falloff_mm)`` outside."""
    ptv = patient.structures["PTV"]
    outside_mm = ndimage.distance_transform_edt(~ptv.mask, sampling=patient.grid.spacing_mm[::-1])
    values = np.where(ptv.mask, 1.0, np.exp(-outside_mm / falloff_mm)) * PRESCRIPTION_GY * scale
    return rtwin.dose.Dose(values=values, grid=patient.grid, description=f"falloff {falloff_mm} mm")


@pytest.fixture(scope="session", name="prostate")
def prostate_fixture() -> rtwin.Patient:
    return rtwin.phantoms.prostate(voxel_mm=5.0, pelvic_bones=False)


@pytest.fixture(scope="session", name="doses")
def doses_fixture(prostate: rtwin.Patient) -> dict[str, rtwin.dose.Dose]:
    """Best (conformal), Wide (passes all, spares less), Cold (fails the priority-1 coverage)."""
    best = falloff_dose(prostate, 8.0)
    return {
        "Wide": falloff_dose(prostate, 20.0),
        "Cold": falloff_dose(prostate, 8.0, scale=0.93),  # PTV D95% 72.54 Gy < 74 - 1 Gy
        "Best": best,
    }


@pytest.fixture(scope="session", name="goals")
def goals_fixture() -> GoalSet:
    return GoalSet(
        goals=(
            ClinicalGoal.parse("PTV D95% >= 74 Gy ± 1 Gy", priority=1),
            ClinicalGoal.parse("PTV D2% <= 82 Gy", priority=2),
            ClinicalGoal.parse("Rectum V50Gy < 50 %", priority=1),
            ClinicalGoal.parse("Rectum Dmean <= 45 Gy", priority=2),
            ClinicalGoal.parse("Bladder Dmean <= 40 Gy", priority=2),
            ClinicalGoal.parse("FemoralHead_L Dmax < 50 Gy", priority=3),
            ClinicalGoal.parse("FemoralHead_R Dmax < 50 Gy", priority=3),
            ClinicalGoal.parse("SpinalCord Dmax < 45 Gy", priority=1),  # no such structure
        ),
        name="Prostate 78 Gy",
    )


@pytest.fixture(scope="session", name="comparison")
def comparison_fixture(prostate, doses, goals) -> rtwin.PlanComparison:
    return rtwin.compare_plans(doses, prostate.structures, goals, prescription_gy=PRESCRIPTION_GY)
