"""CandidatePlan and plan_candidates: validation, progress, normalization."""

from __future__ import annotations

import pytest

import rtwin
from rtwin.errors import OptimizationError
from rtwin.evaluation import DVH
from rtwin.optimize import Prescription, SquaredDeviation
from rtwin.planning import CandidatePlan, plan_candidates


@pytest.fixture(scope="module")
def patient():
    return rtwin.phantoms.water_box(size_mm=120, voxel_mm=6, target_radius_mm=12)


def _objectives(patient):
    return [SquaredDeviation(patient.structures.targets[0].name, dose_gy=60.0)]


def test_equispaced_angles_and_modalities(patient):
    photon = CandidatePlan.equispaced("4", 4, objectives=_objectives(patient), start_deg=45)
    assert photon.gantry_deg == (45.0, 135.0, 225.0, 315.0)
    proton = CandidatePlan.equispaced(
        "p", 2, modality="proton", start_deg=90, objectives=_objectives(patient)
    )
    assert [b.modality.value for b in proton.beams((0, 0, 0))] == ["proton", "proton"]
    assert type(proton.engine()).__name__ == "ProtonPencilBeam"


def test_bad_candidates_are_refused(patient):
    with pytest.raises(OptimizationError, match="modality must be one of"):
        CandidatePlan(
            name="x", modality="electron", gantry_deg=(0,), objectives=_objectives(patient)
        )
    with pytest.raises(OptimizationError, match="at least one objective"):
        CandidatePlan(name="x", gantry_deg=(0,), objectives=())
    with pytest.raises(OptimizationError, match="beamlet_mm"):
        CandidatePlan(name="x", gantry_deg=(0,), objectives=_objectives(patient), beamlet_mm=0)
    candidate = CandidatePlan.equispaced("same", 3, objectives=_objectives(patient))
    with pytest.raises(OptimizationError, match="unique"):
        plan_candidates(
            patient,
            [candidate, candidate],
            prescription=Prescription(target="Target", dose_per_fraction_gy=2, fractions=30),
        )


def test_plans_are_normalized_and_progress_is_reported(patient):
    steps = []
    candidates = [
        CandidatePlan.equispaced("3-field", 3, objectives=_objectives(patient), max_iterations=40),
        CandidatePlan.equispaced(
            "IMPT",
            2,
            modality="proton",
            start_deg=90,
            objectives=_objectives(patient),
            max_iterations=40,
        ),
    ]
    prescription = Prescription(target="Target", dose_per_fraction_gy=2, fractions=30)
    plans = plan_candidates(patient, candidates, prescription=prescription, progress=steps.append)
    assert [p.name for p in plans] == ["3-field", "IMPT"]
    assert [(s.done, s.total) for s in steps] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert steps[1].result is not None and "optimized" in steps[1].message
    for plan in plans:
        d95 = DVH.compute(plan.dose(), patient.structures["Target"]).dose_at_volume(0.95)
        assert d95 == pytest.approx(60.0, rel=1e-4)
