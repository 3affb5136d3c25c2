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


@pytest.mark.parametrize("radius_mm", [10.0, 15.0, 20.0])
def test_five_mm_expansion_on_anisotropic_grid_matches_analytic_sphere(grid_1x1x3, radius_mm):
    """Acceptance: a 5 mm margin on 1x1x3 mm voxels gives the bigger sphere's volume within 3 %."""
    sphere = _sphere(grid_1x1x3, radius_mm)
    expanded = sphere.expanded(5.0)
    assert expanded.volume_cc == pytest.approx(_sphere_cc(radius_mm + 5.0), rel=0.03)
    # and it is isotropic: the extent grows by 5 mm along x and along z alike
    k, j, i = np.nonzero(expanded.mask)
    points = grid_1x1x3.index_to_patient(np.column_stack((i, j, k)).astype(float))
    assert points[:, 0].max() == pytest.approx(radius_mm + 5.0, abs=1.0)
    assert points[:, 2].max() == pytest.approx(radius_mm + 5.0, abs=3.0)


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
