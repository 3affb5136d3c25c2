"""Conformity, homogeneity and gradient indices on cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from _analytic import FIELDS, RADIUS_MM, cap_position, sphere_dvh

from rtwin.anatomy import Structure
from rtwin.dose import Dose
from rtwin.errors import EvaluationError
from rtwin.evaluation import (
    DVH,
    gradient_index,
    homogeneity_index,
    isodose_volume_cc,
    paddick_conformity_index,
)
from rtwin.geometry import Grid

CUBES = Grid.from_spacing((10, 10, 10), spacing_mm=10.0)  # 1 cc voxels


def _box(k, j, i, name="Target"):
    mask = np.zeros(CUBES.shape, dtype=bool)
    mask[k, j, i] = True
    return Structure(name=name, mask=mask, grid=CUBES)


def _dose(*boxes, gy=60.0):
    values = np.zeros(CUBES.shape)
    for box in boxes:
        values[box] = gy
    return Dose(values=values, grid=CUBES)


TARGET = _box(slice(4, 6), slice(4, 6), slice(4, 6))  # 8 cc


def test_conformity_is_one_when_the_prescription_isodose_is_the_target():
    dose = _dose((slice(4, 6), slice(4, 6), slice(4, 6)))
    assert paddick_conformity_index(dose, TARGET, 60.0) == 1.0


def test_conformity_with_spill():
    # 27 cc at the prescription around the 8 cc target: CI = 8² / (8 × 27)
    dose = _dose((slice(3, 6), slice(3, 6), slice(3, 6)))
    assert paddick_conformity_index(dose, TARGET, 60.0) == pytest.approx(64 / (8 * 27))


def test_conformity_with_under_coverage():
    # half the target covered, nothing else: CI = 4² / (8 × 4)
    dose = _dose((slice(4, 6), slice(4, 6), slice(4, 5)))
    assert paddick_conformity_index(dose, TARGET, 60.0) == pytest.approx(0.5)


def test_conformity_counts_spill_only_inside_the_body():
    dose = _dose((slice(3, 6), slice(3, 6), slice(3, 6)))
    body = _box(slice(None), slice(None), slice(4, 10), name="Body")  # excludes the i = 3 layer
    # PIV inside the body: 3 × 3 × 2 = 18 cc
    assert paddick_conformity_index(dose, TARGET, 60.0, body=body) == pytest.approx(64 / (8 * 18))
    other = Structure(
        name="Body",
        mask=np.ones((5, 5, 5), bool),
        grid=Grid.from_spacing((5, 5, 5), spacing_mm=1.0),
    )
    with pytest.raises(Exception, match="different grids"):
        paddick_conformity_index(dose, TARGET, 60.0, body=other)


def test_conformity_of_concentric_spheres():
    """Prescription isodose = sphere of 12 mm around a 10 mm target: CI = (10 / 12)³."""
    grid = Grid.from_spacing((30, 30, 30), spacing_mm=1.0, origin_mm=-14.5)
    target = Structure.from_function("PTV", grid, lambda x, y, z: x**2 + y**2 + z**2 <= 10.0**2)
    r = np.linalg.norm(grid.voxel_centers_mm(), axis=-1)
    dose = Dose(values=np.where(r <= 12.0, 60.0, 30.0), grid=grid)
    index = paddick_conformity_index(dose, target, 60.0)
    assert index == pytest.approx(target.n_voxels / np.count_nonzero(r <= 12.0), rel=1e-12)
    assert index == pytest.approx((10 / 12) ** 3, rel=0.02)  # 1 mm voxels: 0.586 vs 0.579
    assert paddick_conformity_index(dose, target, 70.0) == 0.0  # nothing at the prescription


def test_homogeneity_index():
    assert homogeneity_index(DVH(name="PTV", doses_gy=[60.0], volumes_cc=[30.0])) == 0.0
    # linear dose a + b x across a sphere: D2 - D98 = 2 b R t(0.02), D50 = a
    field = FIELDS["linear, oblique (1, 2, 2)/3"]
    dvh, _ = sphere_dvh(field, spacing_mm=2.0, offset=(0.2, -0.1, 0.3))
    expected = 2 * field.b_gy_per_mm * RADIUS_MM * cap_position(0.02) / field.a_gy
    assert homogeneity_index(dvh) == pytest.approx(expected, rel=0.01)
    with pytest.raises(EvaluationError, match="D50% is 0 Gy"):
        homogeneity_index(DVH(name="PTV", doses_gy=[0.0], volumes_cc=[1.0]))
    with pytest.raises(EvaluationError, match="needs a DVH"):
        homogeneity_index(np.zeros(3))


def test_gradient_index_of_nested_boxes():
    values = np.zeros(CUBES.shape)
    values[2:6, 2:6, 2:6] = 30.0  # 64 cc at >= 30 Gy
    values[3:5, 3:5, 3:5] = 60.0  # 8 cc at 60 Gy
    dose = Dose(values=values, grid=CUBES)
    assert gradient_index(dose, 60.0) == 8.0
    body = _box(slice(None), slice(None), slice(0, 4), name="Body")  # i < 4
    # inside the body: 4 × 4 × 2 = 32 cc at >= 30 Gy, 2 × 2 × 1 = 4 cc at 60 Gy
    assert gradient_index(dose, 60.0, body=body) == 8.0
    with pytest.raises(EvaluationError, match="nothing receives the prescription 70 Gy"):
        gradient_index(dose, 70.0)


def test_gradient_index_of_a_point_source():
    """d = Rx · r1 / r: half the prescription at twice the radius, GI = 2³ = 8."""
    grid = Grid.from_spacing((40, 40, 40), spacing_mm=1.0, origin_mm=-19.5)
    r = np.linalg.norm(grid.voxel_centers_mm(), axis=-1)
    dose = Dose(values=60.0 * 8.0 / np.maximum(r, 0.5), grid=grid)
    assert gradient_index(dose, 60.0) == pytest.approx(8.0, rel=0.03)


def test_isodose_volume_matches_the_dvh_of_the_region():
    rng = np.random.default_rng(4)
    dose_grid = Grid.from_spacing((8, 9, 10), spacing_mm=(4.0, 4.0, 5.0), origin_mm=(-20, -18, -20))
    dose = Dose(values=rng.uniform(0, 70, dose_grid.shape), grid=dose_grid)
    grid = Grid.from_spacing((20, 20, 16), spacing_mm=(2.0, 2.0, 2.5), origin_mm=(-19, -19, -19))
    region = Structure.from_function("Body", grid, lambda x, y, z: x**2 + y**2 < 15.0**2)
    for level in (20.0, 50.0, 65.0):
        expected = DVH.compute(dose, region).volume_at_dose_cc(level)
        assert isodose_volume_cc(dose, level, region=region) == pytest.approx(expected, rel=1e-12)
    assert isodose_volume_cc(dose, 80.0, region=region) == 0.0
    hot = dose.values >= 50.0
    assert isodose_volume_cc(dose, 50.0) == pytest.approx(hot.sum() * 80.0 / 1000)


def test_index_argument_errors():
    dose = _dose((slice(4, 6), slice(4, 6), slice(4, 6)))
    with pytest.raises(
        EvaluationError, match=r"prescription_gy must be a finite number > 0; got 0"
    ):
        paddick_conformity_index(dose, TARGET, 0.0)
    empty = Structure(name="GTV", mask=np.zeros(CUBES.shape, bool), grid=CUBES)
    with pytest.raises(EvaluationError, match="target structure 'GTV' is empty"):
        paddick_conformity_index(dose, empty, 60.0)
    with pytest.raises(EvaluationError, match="region must be a rtwin Structure"):
        isodose_volume_cc(dose, 60.0, region="Body")
    with pytest.raises(EvaluationError, match="isodose level"):
        isodose_volume_cc(dose, -1.0)
