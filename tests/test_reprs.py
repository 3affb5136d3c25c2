"""Concise reprs and HTML reprs of the main result objects (notebooks)."""

from __future__ import annotations

import rtwin
from rtwin.optimize import Plan, Prescription, SquaredDeviation, optimize_fluence


def test_main_objects_have_short_reprs_and_html():
    patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=6, target_radius_mm=10)
    influence = rtwin.dose.PhotonPencilBeam().influence(
        patient, rtwin.beams.equispaced(3, isocenter_mm=(0, 0, 0))
    )
    result = optimize_fluence(
        influence, patient.structures, [SquaredDeviation("Target", dose_gy=2.0)], max_iterations=5
    )
    plan = Plan(
        name="3-field",
        patient=patient,
        influence=influence,
        weights=result.weights,
        prescription=Prescription(target="Target", dose_per_fraction_gy=2, fractions=1),
    )
    dvh = rtwin.evaluation.DVH.compute(result.dose, patient.structures["Target"])
    for obj, word in [
        (patient, "Target"),
        (influence, "beamlets"),
        (result, "iterations"),
        (plan, "3-field"),
        (dvh, "Target"),
    ]:
        assert len(repr(obj)) < 300
        page = obj._repr_html_()
        assert page.startswith("<") and word in page
