"""Structures: volumes, centroids, margins with anisotropic voxels, booleans, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from rtwin.anatomy import Structure, StructureRole
from rtwin.errors import GeometryError, StructureError
from rtwin.geometry import Grid


def _sphere(grid: Grid, radius_mm: float, center=(0.0, 0.0, 0.0), name="Sphere") -> Structure:
    cx, cy, cz = center
    return Structure.from_function(
        name, grid, lambda x, y, z: (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= radius_mm**2
    )


def _sphere_cc(radius_mm: float) -> float:
    return 4.0 / 3.0 * np.pi * radius_mm**3 / 1000.0


@pytest.fixture
def grid_1x1x3() -> Grid:
    # 1 x 1 x 3 mm voxels (x, y, z); an origin off the voxel lattice avoids symmetric ties
    return Grid.from_spacing(
        (40, 90, 90), spacing_mm=(1.0, 1.0, 3.0), origin_mm=(-44.7, -44.9, -58.3)
    )


@pytest.mark.parametrize("radius_mm", [10.0, 20.0, 40.0])
def test_five_mm_expansion_of_spheres_on_anisotropic_grid(radius_mm):
    """A 5 mm margin on 1x1x3 mm voxels: the analytic bigger sphere plus at most 0.5 mm of radius.

    The staircase of 3 mm slices adds a constant ~0.37 mm to the radius (see
    Structure.expanded), so the volume error shrinks with size: within 3 %
    from 35 mm radius on (acceptance: a 40 mm sphere).
    """
    margin = radius_mm + 12.0
    grid = Grid.from_spacing(
        (int(2 * margin / 3), int(2 * margin), int(2 * margin)),
        spacing_mm=(1.0, 1.0, 3.0),
        origin_mm=(-margin + 0.3, -margin + 0.1, -margin + 0.7),
    )
    sphere = _sphere(grid, radius_mm)
    expanded = sphere.expanded(5.0)
    analytic = _sphere_cc(radius_mm + 5.0)
    radius_excess = (radius_mm + 5.0) * ((expanded.volume_cc / analytic) ** (1 / 3) - 1)
    assert -0.1 < radius_excess < 0.5
    if radius_mm >= 35.0:
        assert expanded.volume_cc == pytest.approx(analytic, rel=0.03)


def test_margins_are_exact_on_voxel_faces_in_every_direction():
    grid = Grid.from_spacing((9, 21, 41), spacing_mm=(1.0, 1.0, 3.0))
    rod = np.zeros(grid.shape, bool)
    rod[4, 10, 5:36] = True  # one voxel thick: 1 mm in y, 3 mm in z
    grown = Structure(name="Rod", mask=rod, grid=grid).expanded(2.0).mask
    # the rod's faces are 0.5 mm (y) and 1.5 mm (z) from its centre line:
    # centres 1 mm and 2 mm away in y and 3 mm away in z are within 2 mm of the faces
    assert grown[4, 8:13, 20].all() and not grown[4, 7, 20]
    assert grown[3, 10, 20] and grown[5, 10, 20] and not grown[6, 10, 20]
    assert grown[4, 10, 3:38].all() and not grown[4, 10, 2]
    slab = np.zeros(grid.shape, bool)
    slab[3:6, 0:21, 10:31] = True
    shrunk = Structure(name="Slab", mask=slab, grid=grid).contracted(2.0).mask
    # 3 slices of 3 mm: only the middle slice's centres are more than 2 mm from the faces
    assert shrunk[4].any() and not shrunk[3].any() and not shrunk[5].any()


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 3.0), (2.5, 2.5, 2.5), (3.0, 3.0, 2.5)])
def test_contraction_matches_analytic_sphere(spacing):
    grid = Grid.from_spacing(
        tuple(int(100 / s) for s in spacing[::-1]),
        spacing_mm=spacing,
        origin_mm=(-49.7, -49.9, -49.3),
    )
    sphere = _sphere(grid, 25.0)
    contracted = sphere.contracted(5.0)
    # within half a voxel of radius: (20 +- s/2)^3
    half = max(spacing) / 2
    assert _sphere_cc(20.0 - half) < contracted.volume_cc < _sphere_cc(20.0 + half)
    assert not np.any(contracted.mask & ~sphere.mask)


def test_margin_zero_and_errors(grid_1x1x3):
    sphere = _sphere(grid_1x1x3, 10.0)
    assert sphere.expanded(0.0).n_voxels == sphere.n_voxels
    assert sphere.expanded(2.0).name == "Sphere+2mm"
    with pytest.raises(StructureError, match=r"margin .* >= 0.*contracted"):
        sphere.expanded(-1.0)


def test_volume_and_centroid(grid_1x1x3):
    sphere = _sphere(grid_1x1x3, 12.0, center=(3.0, -4.0, 6.0))
    assert sphere.volume_cc == pytest.approx(_sphere_cc(12.0), rel=0.02)
    np.testing.assert_allclose(sphere.centroid_mm, (3.0, -4.0, 6.0), atol=0.3)
    assert sphere.n_voxels * 3.0 / 1000 == pytest.approx(sphere.volume_cc)


def test_boolean_algebra():
    grid = Grid.from_spacing((1, 1, 10), spacing_mm=1.0)
    a = Structure(name="A", mask=np.arange(10).reshape(1, 1, 10) < 6, grid=grid)
    b = Structure(name="B", mask=np.arange(10).reshape(1, 1, 10) >= 4, grid=grid)
    assert (a | b).n_voxels == 10
    assert (a & b).n_voxels == 2
    assert (a - b).n_voxels == 4
    assert a.union(b, name="AB").name == "AB"
    other = Structure(
        name="C",
        mask=np.zeros((1, 1, 10), bool),
        grid=Grid.from_spacing((1, 1, 10), spacing_mm=2.0),
    )
    with pytest.raises(GeometryError, match="different grids"):
        a | other


def test_resampling_preserves_volume():
    fine = Grid.from_spacing((60, 60, 60), spacing_mm=1.0, origin_mm=(-29.5, -29.5, -29.5))
    sphere = _sphere(fine, 20.0)
    coarse = sphere.resampled(fine.with_spacing((2.0, 2.0, 3.0)))
    # 3 mm slices through a 20 mm sphere: a few percent of discretization either way
    assert coarse.volume_cc == pytest.approx(_sphere_cc(20.0), rel=0.05)
    assert coarse.grid.spacing_mm.tolist() == [2.0, 2.0, 3.0]


def test_validation_messages():
    grid = Grid.from_spacing((2, 2, 2), spacing_mm=1.0)
    with pytest.raises(StructureError, match="mask shape"):
        Structure(name="X", mask=np.zeros((2, 2)), grid=grid)
    with pytest.raises(StructureError, match="unknown role 'tumour'"):
        Structure(name="X", mask=np.zeros((2, 2, 2)), grid=grid, role="tumour")  # type: ignore[arg-type]
    with pytest.raises(StructureError, match="non-empty string"):
        Structure(name=" ", mask=np.zeros((2, 2, 2)), grid=grid)
    with pytest.raises(StructureError, match="boolean"):
        Structure(name="X", mask=np.full((2, 2, 2), 3), grid=grid)
    empty = Structure(name="Empty", mask=np.zeros((2, 2, 2)), grid=grid)
    assert empty.volume_cc == 0.0
    with pytest.raises(StructureError, match="'Empty' is empty"):
        empty.centroid_mm


def test_mask_is_a_read_only_copy():
    grid = Grid.from_spacing((2, 2, 2), spacing_mm=1.0)
    source = np.zeros((2, 2, 2), bool)
    structure = Structure(name="X", mask=source, grid=grid, role=StructureRole.TARGET)
    source[0, 0, 0] = True
    assert structure.n_voxels == 0
    with pytest.raises(ValueError, match="read-only"):
        structure.mask[0, 0, 0] = True


def test_upsampling_keeps_the_volume_of_voxel_aligned_shapes():
    coarse = Grid.from_spacing((10, 10, 10), spacing_mm=3.0)
    cube = np.zeros(coarse.shape, bool)
    cube[3:7, 3:7, 3:7] = True  # a 12 mm cube of 3 mm voxels
    structure = Structure(name="Cube", mask=cube, grid=coarse)
    fine = structure.resampled(coarse.with_spacing(1.0))
    assert fine.volume_cc == pytest.approx(1.728, abs=1e-9)


def _random_structure(rng, grid, name="S"):
    mask = np.zeros(grid.shape, dtype=bool)
    nz, ny, nx = grid.shape
    k, j, i = np.indices(grid.shape)
    centre = rng.uniform(0.3, 0.7, 3) * np.array([nx, ny, nz])
    radius = rng.uniform(0.2, 0.35) * min(nx, ny, nz)
    mask |= (i - centre[0]) ** 2 + (j - centre[1]) ** 2 + (k - centre[2]) ** 2 < radius**2
    mask &= rng.uniform(size=grid.shape) < 0.9  # ragged
    return Structure(name=name, mask=mask, grid=grid)


@pytest.mark.parametrize("seed", range(4))
def test_axis_aligned_occupancy_matches_mapping_every_point(seed):
    """The axis-aligned fast path of Structure.occupancy equals the general one exactly."""
    rng = np.random.default_rng(seed)
    grid = Grid.from_spacing(
        tuple(rng.integers(12, 20, 3)),
        spacing_mm=rng.choice([1.0, 2.0, 2.5, 3.0], 3),
        origin_mm=rng.uniform(-20.0, 0.0, 3),
    )
    structure = _random_structure(rng, grid)
    for spacing in (rng.uniform(1.5, 6.0), 5.0, (3.0, 2.0, 4.0)):
        target = grid.with_spacing(spacing)
        np.testing.assert_array_equal(
            structure.occupancy(target), structure._occupancy_by_points(target)
        )
        np.testing.assert_array_equal(
            structure.resampled(target).mask, structure._occupancy_by_points(target) >= 0.5 - 1e-9
        )
    rotation = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    turned = Grid.from_spacing((10, 11, 12), spacing_mm=3.0, origin_mm=(20.0, -15.0, -5.0),
                               direction=rotation)  # fmt: skip
    np.testing.assert_array_equal(
        structure.occupancy(turned), structure._occupancy_by_points(turned)
    )
