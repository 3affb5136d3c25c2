"""Resampling between grids: exact on linear fields, nearest picks voxels, fill outside."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from rtwin.errors import GeometryError
from rtwin.geometry import Grid, resample_array


def _linear_field(grid: Grid, gradient=(0.3, -0.2, 0.7), offset=5.0):
    return grid.voxel_centers_mm() @ np.asarray(gradient) + offset


@pytest.mark.parametrize("oblique", [False, True])
def test_linear_interpolation_is_exact_for_linear_fields(oblique):
    rotation = (
        Rotation.from_euler("xyz", (10, -20, 30), degrees=True).as_matrix() if oblique else None
    )
    source = Grid.from_spacing((20, 22, 24), spacing_mm=(1.0, 1.5, 2.0), direction=rotation)
    target = Grid.from_spacing(
        (8, 9, 10), spacing_mm=(2.3, 1.7, 2.9), origin_mm=source.center_mm - 8.0, direction=rotation
    )
    values = _linear_field(source)
    result = resample_array(values, source, target, method="linear", fill_value=np.nan)
    expected = _linear_field(target)
    inside = np.isfinite(result)
    assert inside.mean() > 0.5
    # inside the hull of source centres the trilinear interpolant of a linear field is exact
    index = source.patient_to_index(target.voxel_centers_mm())
    hull = np.all((index >= 0) & (index <= np.array(source.size_xyz) - 1), axis=-1)
    np.testing.assert_allclose(result[hull], expected[hull], atol=1e-9)


def test_nearest_picks_source_voxels_and_fills_outside():
    source = Grid.from_spacing((1, 1, 5), spacing_mm=2.0)
    target = Grid.from_spacing((1, 1, 7), spacing_mm=2.0, origin_mm=(-2.6, 0, 0))
    values = np.arange(5.0).reshape(1, 1, 5)
    result = resample_array(values, source, target, method="nearest", fill_value=-1.0)
    # target x = -2.6 (outside), -0.6, 1.4, 3.4, 5.4, 7.4, 9.4 (outside: extent ends at 9.0)
    assert result.ravel().tolist() == [-1.0, 0.0, 1.0, 2.0, 3.0, 4.0, -1.0]


def test_identity_and_errors():
    grid = Grid.from_spacing((2, 3, 4), spacing_mm=1.0)
    values = np.random.default_rng(1).normal(size=grid.shape)
    np.testing.assert_array_equal(resample_array(values, grid, grid), values)
    with pytest.raises(GeometryError, match="unknown resampling method 'cubic'"):
        resample_array(values, grid, grid, method="cubic")  # type: ignore[arg-type]
    with pytest.raises(GeometryError, match="shape"):
        resample_array(values[:1], grid, grid)


def test_downsample_mean_preserved_for_aligned_halving():
    fine = Grid.from_spacing((8, 8, 8), spacing_mm=1.0)
    coarse = fine.with_spacing(2.0)
    values = np.random.default_rng(2).uniform(size=fine.shape)
    result = resample_array(values, fine, coarse)
    # coarse centres sit between fine centres: trilinear = mean of the 2x2x2 block
    blocks = values.reshape(4, 2, 4, 2, 4, 2).mean(axis=(1, 3, 5))
    np.testing.assert_allclose(result, blocks, atol=1e-12)
