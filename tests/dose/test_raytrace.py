"""Siddon ray tracing: exact on slabs, kernel vs brute-force twin, oblique grids, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import rtwin
from rtwin.anatomy import Image
from rtwin.dose import radiological_depth
from rtwin.errors import GeometryError
from rtwin.geometry import Grid


def _brute_force(values, grid, source, end, samples=20000):
    """Twin: midpoint-rule sampling along the ray with nearest-voxel lookup (zero outside)."""
    t = (np.arange(samples) + 0.5) / samples
    points = source + t[:, None] * (end - source)
    index = np.floor(grid.patient_to_index(points) + 0.5).astype(int)
    size = np.array(grid.size_xyz)
    inside = np.all((index >= 0) & (index < size), axis=1)
    sampled = np.zeros(samples)
    sampled[inside] = values[index[inside, 2], index[inside, 1], index[inside, 0]]
    return sampled.mean() * np.linalg.norm(end - source)


def test_slab_phantom_matches_analytic_path_length():
    """Acceptance 1: through lung and bone slabs the path equals sum(RED * thickness) to 1e-5."""
    slabs = (
        rtwin.phantoms.Slab(material="lung", depth_mm=30.0, thickness_mm=60.0),
        rtwin.phantoms.Slab(material="bone", depth_mm=120.0, thickness_mm=20.0),
    )
    patient = rtwin.phantoms.slab(
        slabs=slabs, depth_mm=200.0, width_mm=60.0, voxel_mm=(2.0, 2.5, 3.0)
    )
    red = patient.relative_electron_density
    calibration = patient.calibration
    water, lung, bone = (
        calibration.relative_electron_density([patient.image.values[0, j, 15]])[0]
        for j in (4, 30, 52)  # voxel rows inside water, lung and bone (y = -100 + 2.5 j + 1.25)
    )
    # analytic: 30 water + 60 lung + 30 water + 20 bone + 60 water (entrance at y = -100)
    expected = (30 + 30 + 60) * water + 60 * lung + 20 * bone
    source = np.array([0.4, -1000.0, 0.3])
    end = np.array([0.4, 100.0, 0.3])
    depth = radiological_depth(red, source, end)
    assert depth == pytest.approx(expected, rel=1e-5)
    assert lung == pytest.approx(
        rtwin.phantoms.slab_material("lung").relative_electron_density, rel=1e-4
    )
    # an oblique ray through the same slabs scales with 1/cos(angle)
    tilted_end = np.array([0.4 + 1100 * np.tan(np.deg2rad(1.0)), 100.0, 0.3])
    tilted = radiological_depth(red, source, tilted_end)
    assert tilted == pytest.approx(expected / np.cos(np.deg2rad(1.0)), rel=1e-5)


@pytest.mark.parametrize("seed", range(3))
def test_random_rays_match_brute_force_sampling(seed):
    rng = np.random.default_rng(seed)
    rotation = Rotation.random(random_state=seed).as_matrix()
    grid = Grid.from_spacing(
        (7, 9, 11), spacing_mm=(1.5, 2.0, 3.0), origin_mm=(-8, -9, -10), direction=rotation
    )
    values = rng.uniform(0.0, 2.0, size=grid.shape)
    image = Image(values=values, grid=grid, modality="density")
    center = grid.center_mm
    for _ in range(10):
        source = center + rng.normal(size=3) * 60
        end = center + rng.normal(size=3) * 8
        fast = radiological_depth(image, source, end)
        slow = _brute_force(image.values.astype(np.float64), grid, source, end)
        assert fast == pytest.approx(slow, rel=2e-3, abs=2e-3)


def test_rays_outside_and_inside_the_grid():
    grid = Grid.from_spacing((4, 4, 4), spacing_mm=1.0)
    image = Image(values=np.ones(grid.shape), grid=grid, modality="density")
    # entirely outside: nothing
    assert radiological_depth(image, (10.0, 10.0, 10.0), (20.0, 10.0, 10.0)) == 0.0
    # starting inside: only the part inside counts
    assert radiological_depth(image, (1.0, 1.0, 1.0), (1.0, 1.0, 100.0)) == pytest.approx(2.5)
    # along a voxel boundary plane the ray still sees the unit density
    assert radiological_depth(image, (-5.0, 0.5, 1.0), (10.0, 0.5, 1.0)) == pytest.approx(4.0)
    many = radiological_depth(
        image, (-5.0, 1.0, 1.0), np.broadcast_to(np.array([10.0, 1.0, 1.0]), (2, 3, 3))
    )
    assert many.shape == (2, 3) and np.allclose(many, 4.0)


def test_bad_input():
    grid = Grid.from_spacing((2, 2, 2), spacing_mm=1.0)
    image = Image(values=np.ones(grid.shape), grid=grid, modality="density")
    with pytest.raises(GeometryError, match="source_mm"):
        radiological_depth(image, (0.0, 0.0), [(1.0, 1.0, 1.0)])
    with pytest.raises(GeometryError, match="non-negative"):
        radiological_depth(image.with_values(-np.ones(grid.shape)), (0, 0, 0), [(1.0, 1.0, 1.0)])
