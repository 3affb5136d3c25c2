"""A small comparison for the figure tests: two synthetic plans on the coarse prostate phantom."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

import rtwin
from rtwin.evaluation import GoalSet

PRESCRIPTION_GY = 78.0
GOALS = (
    "PTV D95% >= 74 Gy ± 1 Gy",
    "Rectum V50Gy < 10 %",
    "Bladder Dmean <= 40 Gy",
    "FemoralHead_L Dmax < 50 Gy",
    "SpinalCord Dmax < 45 Gy",
)


def falloff_dose(
    patient: rtwin.Patient, falloff_mm: float, *, scale: float = 1.0
) -> rtwin.dose.Dose:
    """``scale × 78 Gy`` in the PTV, ``× exp(−distance / falloff_mm)`` outside."""
    ptv = patient.structures["PTV"]
    outside_mm = ndimage.distance_transform_edt(~ptv.mask, sampling=patient.grid.spacing_mm[::-1])
    values = np.where(ptv.mask, 1.0, np.exp(-outside_mm / falloff_mm)) * PRESCRIPTION_GY * scale
    return rtwin.dose.Dose(values=values, grid=patient.grid, description=f"falloff {falloff_mm} mm")


def comparison(patient: rtwin.Patient) -> rtwin.PlanComparison:
    """Conformal (all pass), Wide (rectum V50Gy fails), Cool (coverage within tolerance)."""
    doses = {
        "Conformal": falloff_dose(patient, 8.0),
        "Wide": falloff_dose(patient, 20.0),
        "Cool": falloff_dose(patient, 8.0, scale=0.94),
    }
    return rtwin.compare_plans(
        doses, patient.structures, GoalSet.parse(GOALS), prescription_gy=PRESCRIPTION_GY
    )


@pytest.fixture(scope="session", name="patient")
def patient_fixture() -> rtwin.Patient:
    return rtwin.phantoms.prostate(voxel_mm=6.0, pelvic_bones=False)


@pytest.fixture(scope="session", name="comparison")
def comparison_fixture(patient) -> rtwin.PlanComparison:
    return comparison(patient)
