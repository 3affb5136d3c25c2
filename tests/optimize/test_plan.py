"""Plan, Prescription and Dose.normalized."""

from __future__ import annotations

import numpy as np
import pytest

import rtwin
from rtwin.errors import GeometryError, OptimizationError
from rtwin.evaluation import DVH
from rtwin.optimize import Plan, Prescription, SquaredDeviation, optimize_fluence


@pytest.fixture(scope="module")
def plan():
    patient = rtwin.phantoms.water_box(size_mm=80, voxel_mm=4, target_radius_mm=12)
    influence = rtwin.dose.PhotonPencilBeam().influence(
        patient, rtwin.beams.equispaced(4, isocenter_mm=(0.0, 0.0, 0.0))
    )
    target = patient.structures.targets[0].name
    result = optimize_fluence(
        influence, patient.structures, [SquaredDeviation(target, dose_gy=50.0)]
    )
    return Plan(
        name="4-field",
        patient=patient,
        influence=influence,
        weights=result.weights,
        prescription=Prescription(target=target, dose_per_fraction_gy=2.5, fractions=24),
    )


def test_normalized_plan_meets_its_prescription(plan):
    normalized = plan.normalized()
    target = plan.patient.structures[plan.prescription.target]
    assert DVH.compute(normalized.dose(), target).dose_at_volume(0.95) == pytest.approx(
        60.0, rel=1e-5
    )
    # normalization is a scaling of the weights
    ratio = normalized.weights / np.where(plan.weights > 0, plan.weights, 1.0)
    assert np.ptp(ratio[plan.weights > 1e-9 * plan.weights.max()]) < 1e-9 * ratio.max()


def test_dose_per_fraction_is_the_course_dose_over_fractions(plan):
    course = plan.dose().values
    np.testing.assert_allclose(plan.dose_per_fraction().values * 24, course, rtol=1e-6)


def test_plan_describes_itself(plan):
    assert plan.modality == "photon" and len(plan.beams) == 4
    assert "60 Gy in 24 fractions of 2.5 Gy" in repr(plan)


def test_dose_normalized_matches_the_dvh(plan):
    target = plan.patient.structures[plan.prescription.target]
    dose = plan.dose().normalized(target, at_volume=0.5, to_gy=10.0)
    assert DVH.compute(dose, target).dose_at_volume(0.5) == pytest.approx(10.0, rel=1e-5)
    with pytest.raises(GeometryError, match="at_volume"):
        plan.dose().normalized(target, at_volume=1.5, to_gy=10.0)


def test_bad_plans_and_prescriptions_raise(plan):
    with pytest.raises(OptimizationError, match="weights must have shape"):
        plan.with_weights([1.0])
    with pytest.raises(OptimizationError, match=">= 0"):
        plan.with_weights(-np.ones(plan.influence.n_beamlets))
    with pytest.raises(OptimizationError, match="fractions"):
        Prescription(target="PTV", dose_per_fraction_gy=2.0, fractions=0)
    with pytest.raises(OptimizationError, match="no prescription"):
        Plan(
            name="x", patient=plan.patient, influence=plan.influence, weights=plan.weights
        ).normalized()
