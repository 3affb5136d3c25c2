"""Contour rasterization (kernel vs numpy twin, even-odd holes, areas) and mask → contours."""

from __future__ import annotations

import numpy as np
import pytest

from rtwin.anatomy import Structure, contours_from_mask, rasterize_contours
from rtwin.anatomy._kernels import scanline_fill_fraction
from rtwin.errors import StructureError
from rtwin.geometry import Grid


def _naive_fill_fraction(polygons, n_rows, n_columns, subsamples):
    """Obviously correct twin: test every sub-sample point with an even-odd ray cast."""
    offsets = (np.arange(subsamples) + 0.5) / subsamples - 0.5
    fraction = np.zeros((n_rows, n_columns))
    for row in range(n_rows):
        for column in range(n_columns):
            inside = 0
            for dy in offsets:
                for dx in offsets:
                    x, y = column + dx, row + dy
                    crossings = 0
                    for polygon in polygons:
                        for a, b in zip(polygon, np.roll(polygon, -1, axis=0), strict=True):
                            if (a[1] <= y < b[1]) or (b[1] <= y < a[1]):
                                if x < a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]):
                                    crossings += 1
                    inside += crossings % 2
            fraction[row, column] = inside / subsamples**2
    return fraction


@pytest.mark.parametrize("seed", range(4))
def test_kernel_matches_naive_twin(seed):
    rng = np.random.default_rng(seed)
    polygons = [rng.uniform(-1, 9, size=(rng.integers(3, 9), 2)) for _ in range(rng.integers(1, 3))]
    starts = np.concatenate(polygons)
    ends = np.concatenate([np.roll(p, -1, axis=0) for p in polygons])
    fast = scanline_fill_fraction(
        starts[:, 0].copy(), starts[:, 1].copy(), ends[:, 0].copy(), ends[:, 1].copy(), 8, 8, 3
    )
    slow = _naive_fill_fraction(polygons, 8, 8, 3)
    np.testing.assert_allclose(fast, slow, atol=1e-12)


def test_polygon_area_recovered_with_subvoxel_sampling():
    grid = Grid.from_spacing((1, 100, 100), spacing_mm=(0.7, 1.3, 2.0), origin_mm=(-30, -60, 0))
    angles = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    radius = 25.0
    circle = np.column_stack(
        (5 + radius * np.cos(angles), -3 + radius * np.sin(angles), np.zeros_like(angles))
    )
    mask = rasterize_contours(grid, [circle])
    area = mask.sum() * 0.7 * 1.3
    polygon_area = 0.5 * 200 * radius**2 * np.sin(2 * np.pi / 200)
    assert area == pytest.approx(polygon_area, rel=0.01)


def test_nested_contours_make_holes_and_islands():
    grid = Grid.from_spacing((1, 30, 30), spacing_mm=1.0)
    square = lambda lo, hi: np.array([[lo, lo, 0], [hi, lo, 0], [hi, hi, 0], [lo, hi, 0]], float)  # noqa: E731
    mask = rasterize_contours(grid, [square(-0.5, 19.5), square(4.5, 14.5), square(7.5, 11.5)])
    assert mask.sum() == 400 - 100 + 16
    assert mask[0, 9, 9] and not mask[0, 6, 6] and mask[0, 2, 2]


def test_contour_planes_fill_their_own_slices_only():
    grid = Grid.from_spacing((9, 10, 10), spacing_mm=(1.0, 1.0, 1.0))
    square = lambda z: np.array([[1.5, 1.5, z], [6.5, 1.5, z], [6.5, 6.5, z], [1.5, 6.5, z]])  # noqa: E731
    planes = [square(2.0), square(4.0), square(6.0)]
    filled = rasterize_contours(grid, planes).any(axis=(1, 2)).tolist()
    assert filled == [False, False, True, False, True, False, True, False, False]
    # contours every 2 mm on a 1 mm grid: each plane stands for a 2 mm slab [p - 1, p + 1)
    slabs = rasterize_contours(grid, planes, plane_thickness_mm=2.0).any(axis=(1, 2)).tolist()
    assert slabs == [False, True, True, True, True, True, True, False, False]


def test_separate_lesions_in_one_roi_stay_separate():
    grid = Grid.from_spacing((40, 10, 10), spacing_mm=(1.0, 1.0, 3.0))
    square = lambda z: np.array([[1.5, 1.5, z], [6.5, 1.5, z], [6.5, 6.5, z], [1.5, 6.5, z]])  # noqa: E731
    mask = rasterize_contours(grid, [square(30.0), square(90.0)])
    assert np.flatnonzero(mask.any(axis=(1, 2))).tolist() == [10, 30]


def test_mask_to_contours_to_mask_is_exact_for_holes_and_islands():
    grid = Grid.from_spacing((1, 12, 12), spacing_mm=(0.8, 1.1, 2.0))
    rng = np.random.default_rng(3)
    for _ in range(50):
        mask = rng.uniform(size=(1, 12, 12)) < 0.5
        back = rasterize_contours(grid, contours_from_mask(mask, grid))
        np.testing.assert_array_equal(back, mask)


def test_non_planar_contour_rejected():
    grid = Grid.from_spacing((5, 10, 10), spacing_mm=1.0)
    tilted = np.array([[1, 1, 0], [5, 1, 1], [5, 5, 2]], float)
    with pytest.raises(StructureError, match="not in one plane"):
        rasterize_contours(grid, [tilted], name="Tilted")
    with pytest.raises(StructureError, match=r"\(n >= 3, 3\)"):
        rasterize_contours(grid, [np.zeros((2, 3))])


def test_mask_contour_round_trip_anisotropic_oblique():
    from scipy.spatial.transform import Rotation

    rotation = Rotation.from_euler("z", 20, degrees=True).as_matrix()
    grid = Grid.from_spacing(
        (12, 40, 50), spacing_mm=(0.9, 1.3, 2.5), origin_mm=(-20.5, 7.2, -13.0), direction=rotation
    )
    center = grid.center_mm
    ring = Structure.from_function(
        "Ring",
        grid,
        lambda x, y, z: (
            ((x - center[0]) ** 2 + (y - center[1]) ** 2 <= 15**2)
            & ((x - center[0]) ** 2 + (y - center[1]) ** 2 >= 6**2)
            & (np.abs(z - center[2]) < 12)
        ),
    )
    mask = rasterize_contours(grid, contours_from_mask(ring.mask, grid))
    dice = 2 * np.sum(mask & ring.mask) / (mask.sum() + ring.mask.sum())
    assert dice >= 0.99
