"""TG-119 C-shape on the CORT phantom: the goals met on the CT grid (needs ../shared).

Goals (AAPM TG-119, C-shape, as commonly cited and as the CORT objectives
encode them): after normalizing OuterTarget D95 to 50 Gy, OuterTarget D10
≤ 55 Gy and Core D10 ≤ 25 Gy. Evaluated on the CT grid — the dose resampled
to the CT and the file's own masks — not on the optimizer's dose grid.
"""

from __future__ import annotations

import numpy as np
import pytest

import rtwin
from rtwin.optimize import SquaredDeviation, SquaredOverdose, optimize_fluence

pytestmark = pytest.mark.shared_data


def dose_at_volume(values: np.ndarray, fraction: float) -> float:
    """Dose received by at least ``fraction`` of the voxels (equal voxel volumes)."""
    ordered = np.sort(values)[::-1]
    return float(ordered[int(np.ceil(fraction * ordered.size)) - 1])


@pytest.fixture(scope="module")
def tg119(cort_tg119):
    return rtwin.io.read_matrad(cort_tg119)


def _objectives(path):
    """The objectives as the CORT file ships them (checked, then built)."""
    shipped = {
        (o.structure, o.class_name.rsplit("_", 1)[-1], o.parameters, o.penalty)
        for o in rtwin.io.read_matrad_objectives(path)
    }
    assert shipped == {
        ("OuterTarget", "SquaredDeviation", (50.0,), 1000.0),
        ("Core", "SquaredOverdosing", (25.0,), 300.0),
        ("BODY", "SquaredOverdosing", (30.0,), 100.0),
    }
    return [
        SquaredDeviation("OuterTarget", dose_gy=50.0, weight=1000.0),
        SquaredOverdose("Core", dose_gy=25.0, weight=300.0),
        SquaredOverdose("BODY", dose_gy=30.0, weight=100.0),
    ]


def assert_c_shape_goals(patient, dose):
    """Normalize OuterTarget D95 to 50 Gy on the CT grid, then check the two goals."""
    on_ct = dose.resampled(patient.grid)
    target = on_ct.values[patient.structures["OuterTarget"].mask]
    core = on_ct.values[patient.structures["Core"].mask]
    scale = 50.0 / dose_at_volume(target, 0.95)
    assert dose_at_volume(target * scale, 0.10) <= 55.0
    assert dose_at_volume(core * scale, 0.10) <= 25.0


@pytest.mark.parametrize("spacing_mm", [5.0, 3.0])
def test_photon_imrt_meets_the_c_shape_goals_on_the_ct_grid(tg119, cort_tg119, spacing_mm):
    patient = tg119
    beams = rtwin.beams.equispaced(9, patient.structures["OuterTarget"].centroid_mm)
    influence = rtwin.dose.PhotonPencilBeam().influence(
        patient, beams, dose_grid=patient.grid.with_spacing(spacing_mm)
    )
    # 100 iterations suffice at 5 mm, 120 at 3 mm (the run continues to improve
    # slowly; docs/optimization.md lists the values after 300-500 iterations)
    iterations = 100 if spacing_mm == 5.0 else 120
    result = optimize_fluence(
        influence, patient.structures, _objectives(cort_tg119), max_iterations=iterations
    )
    assert_c_shape_goals(patient, result.dose)


def test_two_beam_impt_meets_the_c_shape_goals_on_the_ct_grid(tg119, cort_tg119):
    patient = tg119
    beams = rtwin.beams.equispaced(
        2, patient.structures["OuterTarget"].centroid_mm, modality="proton", start_deg=90
    )
    assert [b.gantry_deg for b in beams] == [90.0, 270.0]
    influence = rtwin.dose.ProtonPencilBeam().influence(
        patient, beams, dose_grid=patient.grid.with_spacing(5.0)
    )
    result = optimize_fluence(
        influence, patient.structures, _objectives(cort_tg119), max_iterations=100
    )
    assert_c_shape_goals(patient, result.dose)
