"""Compiled kernels of the proton engine against plain numpy/scipy twins on small random inputs.

The twins are the public, numpy-based functions the kernels replace inside
``ProtonPencilBeam.influence`` (``scipy.special.pbdv``, ``BraggCurve``,
``lateral_sigma_mcs_mm``, ``BeamFrame.to_beam``, ``np.exp``,
``Structure.resampled``, ``radiological_depth``) or a few lines of numpy
written out here. The count/fill kernels are compared with the dense twin
of ``test_engine_proton.py``. Shared dose helpers that the proton engine
brought in (``affine_points``, the multi-source,
depth-limited ray trace) are tested here too.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gamma, pbdv

import rtwin
from rtwin.anatomy import Image, Modality
from rtwin.dose._common import affine_points, voxel_centres_mm
from rtwin.dose._raytrace import radiological_depths
from rtwin.dose.proton import ProtonMachine, lateral_sigma_mcs_mm
from rtwin.dose.proton._engine import _balanced_chunks
from rtwin.dose.proton._kernels import (
    beam_coordinates,
    exp_nonpositive,
    gamma_function,
    mark_layers,
    parabolic_cylinder_d,
    pcf_constants,
    rows_in_reach,
)
from rtwin.dose.proton._physics import GY_PER_MEV_PER_MM3_WATER
from rtwin.dose.proton._tables import (
    BraggCurves,
    engine_tables,
    peak_depths_mm,
    sigma_mcs_table_mm,
)
from rtwin.geometry import Grid

MACHINE = ProtonMachine.generic()
P = 1.77  # Bortfeld's p: the orders of the parabolic cylinder functions are −1/p, −1/p − 1


# ---------------------------------------------------------------------- special functions
def test_gamma_function_is_zhang_and_jins_gamma2():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.uniform(-12.0, 30.0, 400), np.arange(1.0, 20.0), [0.5, -0.5, 1e-3]])
    x = x[(np.abs(x - np.round(x)) > 1e-6) | (x > 0)]
    ours = np.array([gamma_function(float(value)) for value in x])
    np.testing.assert_allclose(ours, gamma(x), rtol=1e-11)
    assert gamma_function(0.0) == 1e300 and gamma_function(-3.0) == 1e300  # GAMMA2's poles


@pytest.mark.parametrize("order", [-1 / P, -1 / P - 1.0, -1.0, -2.0, -0.3, -1.45, -2.7])
def test_parabolic_cylinder_function_matches_scipy_pbdv(order):
    rng = np.random.default_rng(abs(hash(order)) % 2**32)
    x = np.concatenate([rng.uniform(-20.0, 10.0, 300), [-5.8, -2.0, 0.0, 2.0, 5.8, 6.0]])
    constants = pcf_constants(order)
    ours = np.array([parabolic_cylinder_d(float(value), order, *constants) for value in x])
    reference = pbdv(order, x)[0]
    relative = np.abs(ours - reference) / np.abs(reference)
    # Same algorithm: rounding only. For 2 < x <= 5.8 its power series cancels (terms up to
    # ~1e7 times the sum), so both carry ~1e-9 relative error there and differ by as much.
    assert np.max(relative[x <= 2.0]) < 1e-11
    assert np.max(relative) < 1e-7


# ---------------------------------------------------------------------- Bragg curves and tables
@pytest.fixture(scope="module")
def energies():
    rng = np.random.default_rng(7)
    return np.sort(rng.uniform(70.0, 230.0, 6))


def test_idd_table_matches_bragg_curve(energies):
    depths = np.arange(0.0, 340.0, 0.5)
    table = BraggCurves.of(MACHINE, energies).idd_table(depths)
    for row, energy in zip(table, energies, strict=True):
        reference = MACHINE.bragg_curve(float(energy)).idd_mev_per_mm(depths)
        assert np.array_equal(row == 0.0, reference == 0.0)
        np.testing.assert_allclose(row, reference, rtol=1e-7, atol=1e-13 * reference.max())
        significant = (reference > 1e-3 * reference.max()) & (depths < 0.98 * depths[row > 0][-1])
        np.testing.assert_allclose(row[significant], reference[significant], rtol=1e-11)


def test_sigma_table_matches_lateral_sigma_mcs(energies):
    depths = np.arange(0.0, 340.0, 0.5)
    ours = sigma_mcs_table_mm(energies, depths)
    reference = lateral_sigma_mcs_mm(depths[None, :], energies[:, None])
    np.testing.assert_allclose(ours, reference, rtol=1e-13, atol=0.0)


def test_engine_tables_are_the_depth_dose_table_numbers(energies):
    scale = GY_PER_MEV_PER_MM3_WATER * 1e6
    ours = engine_tables(MACHINE, energies, depth_step_mm=0.5, scale=scale)
    table = MACHINE.depth_dose_table(energies, depth_step_mm=0.5)
    assert ours.depth_step_mm == table.depth_step_mm
    assert ours.idd.shape == table.idd_mev_per_mm.shape
    reference = table.idd_mev_per_mm * scale
    np.testing.assert_allclose(ours.idd, reference, rtol=1e-7, atol=1e-13 * reference.max())
    np.testing.assert_allclose(ours.sigma, table.lateral_sigma_mm, rtol=1e-13)
    np.testing.assert_array_equal(
        ours.last_depth, np.minimum(table.max_depth_mm, table.depths_mm[-1])
    )
    with pytest.raises(rtwin.dose.proton.ProtonPhysicsError, match="energy_mev 60 MeV"):
        engine_tables(MACHINE, [60.0], depth_step_mm=0.5, scale=1.0)


def test_peak_depths_match_bragg_curve(energies):
    ours = peak_depths_mm(MACHINE, energies)
    reference = [MACHINE.bragg_curve(float(energy)).peak_depth_mm for energy in energies]
    # the maximum is flat: the search lands within rounding noise of scipy's (measured 6e-10)
    np.testing.assert_allclose(ours, reference, rtol=0.0, atol=1e-6)


def test_exp_nonpositive_is_within_one_ulp_of_numpy():
    rng = np.random.default_rng(3)
    x = np.concatenate(
        [
            -rng.uniform(0.0, 8.0, 2000),
            -rng.uniform(0.0, 760.0, 2000),
            -(10.0 ** rng.uniform(-300, 0, 200)),
            [0.0, -0.0, -708.0, -708.5, -745.0, -746.0, -np.inf],
        ]
    )
    ours = np.array([exp_nonpositive(float(value)) for value in x])
    reference = np.exp(x)
    assert np.all(np.abs(ours - reference) <= np.spacing(reference))


# ---------------------------------------------------------------------- geometry and layout
@pytest.mark.parametrize(
    ("gantry", "couch", "collimator"), [(90.0, 0.0, 0.0), (33.3, 15.0, 10.0), (270.0, 350.0, 5.0)]
)
def test_beam_coordinates_match_beam_frame(gantry, couch, collimator):
    beam = rtwin.beams.Beam(
        modality="proton",
        gantry_deg=gantry,
        couch_deg=couch,
        collimator_deg=collimator,
        isocenter_mm=(3.0, -2.0, 7.5),
    )
    frame = beam.frame("HFS")
    points = np.random.default_rng(5).uniform(-250.0, 250.0, (500, 3))
    ours = beam_coordinates(points, frame.source_mm, frame.u, frame.v, frame.direction)
    np.testing.assert_allclose(ours.T, frame.to_beam(points), rtol=0.0, atol=1e-12)


def test_mark_layers_matches_numpy_repeat():
    rng = np.random.default_rng(11)
    n = 300
    first = rng.integers(0, 8, n)
    last = first + rng.integers(-1, 4, n)  # some samples meet no layer
    last = np.minimum(last, 9)
    cells = rng.integers(-3, 6, (n, 2))
    low = cells.min(axis=0)
    shape = (10, *(cells.max(axis=0) - low + 1))
    ours = np.zeros(shape, dtype=bool)
    mark_layers(first, last, np.ascontiguousarray(cells.T), low, ours)
    repeats = np.maximum(last - first + 1, 0)
    layer = np.repeat(first, repeats) + (
        np.arange(repeats.sum()) - np.repeat(np.cumsum(repeats) - repeats, repeats)
    )
    cell = np.repeat(cells, repeats, axis=0) - low
    twin = np.zeros(shape, dtype=bool)
    twin[layer, cell[:, 0], cell[:, 1]] = True
    np.testing.assert_array_equal(ours, twin)


def test_rows_in_reach_is_a_box_query():
    rng = np.random.default_rng(13)
    spacing, reach = 5.0, 7.0
    cells = np.unique(rng.integers(-4, 5, (25, 2)), axis=0)
    origin = cells.min(axis=0)
    occupied = np.zeros(tuple((cells.max(axis=0) - origin + 1)[::-1]), dtype=np.int64)
    occupied[cells[:, 1] - origin[1], cells[:, 0] - origin[0]] = 1
    covered = np.zeros((occupied.shape[0] + 1, occupied.shape[1] + 1), dtype=np.int64)
    covered[1:, 1:] = occupied.cumsum(axis=0).cumsum(axis=1)
    n = 400
    uvg = np.vstack(
        (rng.uniform(-50.0, 50.0, n), rng.uniform(-50.0, 50.0, n), rng.uniform(-0.1, 1.2, n))
    )
    ours = rows_in_reach(uvg, covered, int(origin[0]), int(origin[1]), spacing, reach)
    u, v, g = uvg
    with np.errstate(divide="ignore", invalid="ignore"):
        r = reach / g
        u_low, u_high = np.floor((u - r) / spacing) - 1, np.ceil((u + r) / spacing) + 1
        v_low, v_high = np.floor((v - r) / spacing) - 1, np.ceil((v + r) / spacing) + 1
    inside = (
        (cells[None, :, 0] >= u_low[:, None])
        & (cells[None, :, 0] <= u_high[:, None])
        & (cells[None, :, 1] >= v_low[:, None])
        & (cells[None, :, 1] <= v_high[:, None])
    )
    twin = (g > 0) & inside.any(axis=1)
    np.testing.assert_array_equal(ours, twin)
    # conservative: every row with a spot within reach / g (isocentre plane) is kept
    distance = np.hypot(
        u[:, None] - cells[None, :, 0] * spacing, v[:, None] - cells[None, :, 1] * spacing
    )
    with np.errstate(divide="ignore"):
        near = (g > 0) & (distance <= (reach / np.where(g > 0, g, 1.0))[:, None]).any(axis=1)
    assert np.all(ours[near])


def test_balanced_chunks_cover_the_rows_in_order():
    counts = np.random.default_rng(2).integers(0, 50, 1000) * (np.arange(1000) % 7 == 0)
    bounds = _balanced_chunks(counts)
    assert bounds[0] == 0 and bounds[-1] == counts.size and np.all(np.diff(bounds) >= 0)
    work = np.add.reduceat(counts + 8 * (counts > 0), bounds[:-1][np.diff(bounds) > 0])
    assert work.max() <= (counts + 8 * (counts > 0)).sum() / (bounds.size - 1) + 8 + counts.max()
    assert _balanced_chunks(np.zeros(0, dtype=np.int64)).tolist() == [0, 0]


# ---------------------------------------------------------------------- shared dose helpers
def test_affine_points_and_voxel_centres_match_the_grid():
    rng = np.random.default_rng(4)
    grid = Grid.from_spacing((7, 8, 9), spacing_mm=(3.0, 2.0, 2.5), origin_mm=(-10.0, 4.0, 1.0))
    rows = rng.choice(grid.n_voxels, 50, replace=False)
    k, j, i = np.unravel_index(rows, grid.shape)
    expected = grid.index_to_patient(np.column_stack((i, j, k)).astype(np.float64))
    np.testing.assert_array_equal(voxel_centres_mm(grid, rows), expected)
    points = rng.uniform(-50.0, 50.0, (100, 3))
    inverse = np.linalg.inv(grid.affine)
    np.testing.assert_array_equal(affine_points(inverse, points), grid.patient_to_index(points))
    tilted = np.eye(4)
    tilted[:3, :3] = np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) * 2.0
    tilted[:3, 3] = (1.0, 2.0, 3.0)
    np.testing.assert_allclose(
        affine_points(tilted, points), points @ tilted[:3, :3].T + tilted[:3, 3], atol=1e-12
    )


def test_radiological_depths_from_several_sources_and_with_limits():
    rng = np.random.default_rng(8)
    grid = Grid.from_spacing((14, 15, 16), spacing_mm=2.0, origin_mm=(-16.0, -15.0, -14.0))
    image = Image(values=rng.uniform(0.0, 1.8, grid.shape), grid=grid, modality=Modality.DENSITY)
    sources = [np.array([0.0, -500.0, 3.0]), np.array([400.0, 10.0, -2.0])]
    points = [rng.uniform(-14.0, 14.0, (200, 3)), rng.uniform(-14.0, 14.0, (7, 2, 3))]
    single = [
        rtwin.dose.radiological_depth(image, s, p) for s, p in zip(sources, points, strict=True)
    ]
    several = radiological_depths(image, sources, points)
    for one, both in zip(single, several, strict=True):
        np.testing.assert_array_equal(one, both)
    limits = [10.0, 5.0]
    limited = radiological_depths(image, sources, points, limits)
    for full, capped, limit in zip(single, limited, limits, strict=True):
        below = full < limit
        assert np.any(below) and np.any(~below)
        np.testing.assert_array_equal(capped[below], full[below])
        assert np.all(capped[~below] >= limit) and np.all(capped[~below] <= full[~below])


def test_bragg_curves_reproduce_bragg_curve_numbers(energies):
    curves = BraggCurves.of(MACHINE, energies)
    for index, energy in enumerate(energies):
        curve = MACHINE.bragg_curve(float(energy))
        model = curve._model()
        assert curves.range_cm[index] == model.range_cm
        assert curves.sigma_cm[index] == model.sigma_cm
        assert curves.max_depth_mm[index] == pytest.approx(curve.max_depth_mm, rel=1e-15)
    assert math.isclose(curves.order[0], -1 / P) and math.isclose(curves.order[1], -1 / P - 1)
