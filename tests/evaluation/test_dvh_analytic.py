"""DVH accuracy against closed-form DVHs of a 20 mm sphere (formulas in _analytic.py).

Measured over 24 random sphere positions (``python tests/evaluation/_analytic.py``,
table in docs/evaluation.md), the largest D95 % error on 2 mm structure voxels
is 0.14 Gy (0.3 %) for a linear dose and 0.05 Gy (0.1 %) for a cone; the tests
below hold every Dx to 1 % on a few positions and the volume to the mask's own.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _analytic import (
    FIELDS,
    FRACTIONS,
    RADIUS_MM,
    ConeDose,
    boundary_supersampled_dvh,
    cap_position,
    errors,
    sphere_dvh,
)

OFFSETS = [(0.0, 0.0, 0.0), (0.31, -0.17, 0.44), (-0.42, 0.25, 0.08)]


@pytest.mark.parametrize("fraction", [0.0, 0.02, 0.3, 0.5, 0.95, 1.0])
def test_cap_formula_inverts_the_cap_volume(fraction):
    t = cap_position(fraction)
    height = RADIUS_MM * (1 - t)
    cap = math.pi * height**2 * (3 * RADIUS_MM - height) / 3
    assert cap / (4 / 3 * math.pi * RADIUS_MM**3) == pytest.approx(fraction, abs=1e-12)


@pytest.mark.parametrize("label", list(FIELDS))
@pytest.mark.parametrize("offset", OFFSETS)
def test_dx_within_one_percent_on_2mm_voxels(label, offset):
    field = FIELDS[label]
    dvh, ball = sphere_dvh(field, spacing_mm=2.0, offset=offset)
    assert dvh.volume_cc == pytest.approx(ball.volume_cc, rel=1e-12)
    found = errors(field, dvh)
    for fraction in FRACTIONS:
        key = f"D{round(100 * fraction)}%"
        assert abs(found[key]) <= 0.01 * field.dose_at_volume(fraction), key
    assert abs(found["D95%"]) <= 0.15  # Gy; 0.10 Gy largest measured over 24 positions
    assert abs(found["Dmean"]) <= 0.002 * field.mean_gy
    assert abs(found["volume %"]) <= 1.0  # the 2 mm mask itself


@pytest.mark.parametrize("offset", OFFSETS[1:])
def test_linear_dose_on_a_coarser_dose_grid(offset):
    """A 4 mm dose grid reproduces a linear dose exactly (trilinear), so the DVH keeps its accuracy."""
    field = FIELDS["linear, oblique (1, 2, 2)/3"]
    dvh, _ = sphere_dvh(field, spacing_mm=2.0, dose_spacing_mm=4.0, offset=offset)
    found = errors(field, dvh)
    for fraction in FRACTIONS:
        assert abs(found[f"D{round(100 * fraction)}%"]) <= 0.01 * field.dose_at_volume(fraction)


@pytest.mark.parametrize(
    ("label", "tolerance"),
    # V(D) counts whole voxels: a dose varying along a grid axis (or a lattice plane) moves it
    # in steps of one slab, so the error is up to half a slab; 24-position maxima 3.75 % and 1.37 %.
    [("linear, along x", 0.04), ("linear, oblique (1, 2, 2)/3", 0.015)],
)
def test_volume_at_dose_follows_the_cap_fraction(label, tolerance):
    field = FIELDS[label]
    dvh, _ = sphere_dvh(field, spacing_mm=2.0, offset=OFFSETS[1])
    for gy in (42.0, 46.0, 50.0, 54.0, 58.0):
        assert dvh.volume_at_dose(gy) == pytest.approx(field.volume_at_dose(gy), abs=tolerance)


def test_volume_at_dose_follows_the_cone():
    field = ConeDose()
    dvh, _ = sphere_dvh(field, spacing_mm=2.0, offset=OFFSETS[2])
    for gy in (42.0, 45.0, 50.0, 55.0):
        assert dvh.volume_at_dose(gy) == pytest.approx(field.volume_at_dose(gy), abs=0.01)


def test_structure_coarser_than_the_dose_is_refined_inside():
    """4 mm structure voxels in a 2 mm dose: interior voxels are sampled 2×2×2."""
    field = ConeDose()
    dvh, ball = sphere_dvh(field, spacing_mm=4.0, dose_spacing_mm=2.0, offset=OFFSETS[1])
    plain, _ = sphere_dvh(
        field, spacing_mm=4.0, dose_spacing_mm=2.0, offset=OFFSETS[1], supersampling=1
    )
    assert dvh.doses_gy.size > plain.doses_gy.size
    assert dvh.volume_cc == pytest.approx(ball.volume_cc, rel=1e-12)
    found = errors(field, dvh)
    for fraction in FRACTIONS:
        assert abs(found[f"D{round(100 * fraction)}%"]) <= 0.01 * field.dose_at_volume(fraction)


def test_boundary_supersampling_is_worse_at_a_radial_falloff():
    """Why DVH.compute samples boundary voxels at their centres (docs/evaluation.md)."""
    field = ConeDose()
    centre_errors = []
    boundary_errors = []
    for offset in OFFSETS:
        dvh, _ = sphere_dvh(field, spacing_mm=2.0, offset=offset)
        centre_errors.append(errors(field, dvh)["D98%"])
        alternative = boundary_supersampled_dvh(field, spacing_mm=2.0, offset=offset)
        boundary_errors.append(errors(field, alternative)["D98%"])
    assert max(np.abs(centre_errors)) < 0.06
    assert min(boundary_errors) < -0.3  # staircase corners reach past the surface: too cold
