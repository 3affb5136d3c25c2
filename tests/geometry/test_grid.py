"""Grid: contracts, error messages and index↔patient round trips (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from rtwin.errors import GeometryError
from rtwin.geometry import Grid

spacings = st.tuples(*[st.floats(0.1, 10.0) for _ in range(3)])
origins = st.tuples(*[st.floats(-500.0, 500.0) for _ in range(3)])
shapes = st.tuples(*[st.integers(1, 300) for _ in range(3)])
rotations = st.integers(0, 2**32 - 1).map(
    lambda seed: Rotation.random(random_state=seed).as_matrix()
)


@given(shape=shapes, spacing=spacings, origin=origins, rotation=rotations)
@settings(max_examples=200, deadline=None)
def test_index_patient_round_trip_oblique_anisotropic(shape, spacing, origin, rotation):
    grid = Grid.from_spacing(shape, spacing_mm=spacing, origin_mm=origin, direction=rotation)
    rng = np.random.default_rng(0)
    index = rng.uniform(-2, 1, size=(20, 3)) * np.array(grid.size_xyz)
    back = grid.patient_to_index(grid.index_to_patient(index))
    np.testing.assert_allclose(back, index, atol=1e-8 * (1 + np.abs(index).max()))


@given(shape=shapes, spacing=spacings, origin=origins, rotation=rotations)
@settings(max_examples=100, deadline=None)
def test_derived_spacing_origin_direction(shape, spacing, origin, rotation):
    grid = Grid.from_spacing(shape, spacing_mm=spacing, origin_mm=origin, direction=rotation)
    np.testing.assert_allclose(grid.spacing_mm, spacing, rtol=1e-12)
    np.testing.assert_allclose(grid.origin_mm, origin, atol=1e-9)
    np.testing.assert_allclose(grid.direction, rotation, atol=1e-12)
    assert grid.voxel_volume_mm3 == pytest.approx(np.prod(spacing), rel=1e-9)
    # one step along i moves by spacing[0] along the first direction column
    step = grid.index_to_patient([1.0, 0.0, 0.0]) - grid.index_to_patient([0.0, 0.0, 0.0])
    np.testing.assert_allclose(step, rotation[:, 0] * spacing[0], atol=1e-9)


@given(shape=shapes, spacing=spacings, rotation=rotations, new=spacings)
@settings(max_examples=100, deadline=None)
def test_with_spacing_covers_same_extent_and_centre(shape, spacing, rotation, new):
    grid = Grid.from_spacing(
        shape, spacing_mm=spacing, origin_mm=(3.0, -7.0, 11.0), direction=rotation
    )
    coarse = grid.with_spacing(new)
    np.testing.assert_allclose(coarse.center_mm, grid.center_mm, atol=1e-7)
    np.testing.assert_allclose(coarse.spacing_mm, new, rtol=1e-12)
    old_extent = np.array(grid.size_xyz) * grid.spacing_mm
    new_extent = np.array(coarse.size_xyz) * coarse.spacing_mm
    assert np.all(new_extent >= old_extent - 1e-6)
    assert np.all(new_extent < old_extent + np.asarray(new) + 1e-6)


def test_contains_half_voxel_rim():
    grid = Grid.from_spacing((1, 1, 4), spacing_mm=2.0, origin_mm=(0.0, 0.0, 0.0))
    inside = grid.contains([[-0.99, 0.0, 0.0], [6.99, 0.0, 0.0], [3.0, 0.9, -0.9]])
    outside = grid.contains([[-1.01, 0.0, 0.0], [7.01, 0.0, 0.0], [3.0, 1.1, 0.0]])
    assert inside.tolist() == [True, True, True]
    assert outside.tolist() == [False, False, False]


def test_dicom_like_axis_conventions():
    # (nz, ny, nx) arrays; spacing and origin in (x, y, z) order
    grid = Grid.from_spacing((3, 4, 5), spacing_mm=(0.5, 0.75, 2.0), origin_mm=(-10, 20, 30))
    assert grid.size_xyz == (5, 4, 3)
    x, y, z = grid.axis_coordinates_mm()
    assert len(x) == 5 and len(y) == 4 and len(z) == 3
    centers = grid.voxel_centers_mm()
    assert centers.shape == (3, 4, 5, 3)
    np.testing.assert_allclose(centers[2, 3, 4], [x[4], y[3], z[2]])
    np.testing.assert_allclose(centers[2, 3, 4], [-10 + 4 * 0.5, 20 + 3 * 0.75, 30 + 2 * 2.0])


def test_subgrid_and_padded_positions():
    grid = Grid.from_spacing((10, 10, 10), spacing_mm=(1.0, 2.0, 3.0), origin_mm=(5, 5, 5))
    sub = grid.subgrid((slice(2, 5), slice(1, 3), slice(4, 10)))
    assert sub.shape == (3, 2, 6)
    np.testing.assert_allclose(sub.origin_mm, grid.index_to_patient([4, 1, 2]))
    padded = grid.padded(2)
    np.testing.assert_allclose(padded.index_to_patient([2, 2, 2]), grid.origin_mm)
    assert padded.shape == (14, 14, 14)


def test_equality_with_tolerance():
    a = Grid.from_spacing((2, 2, 2), spacing_mm=1.0)
    b = Grid.from_spacing((2, 2, 2), spacing_mm=1.0, origin_mm=(1e-5, 0, 0))
    c = Grid.from_spacing((2, 2, 2), spacing_mm=1.0, origin_mm=(0.1, 0, 0))
    assert a == b
    assert a != c
    with pytest.raises(GeometryError, match="different grids.*resample"):
        a.require_same(c)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"shape": (0, 2, 2), "spacing_mm": 1.0}, "positive integers"),
        ({"shape": (2, 2), "spacing_mm": 1.0}, "three positive integers"),
        ({"shape": (2, 2, 2), "spacing_mm": -1.0}, "spacing_mm must be positive"),
        ({"shape": (2, 2, 2), "spacing_mm": (1.0, 2.0)}, "3 finite numbers"),
        ({"shape": (2, 2, 2), "spacing_mm": 1.0, "origin_mm": (0, np.nan, 0)}, "origin_mm"),
        (
            {
                "shape": (2, 2, 2),
                "spacing_mm": 1.0,
                "direction": [[1, 0.3, 0], [0, 1, 0], [0, 0, 1]],
            },
            "orthonormal",
        ),
    ],
)
def test_bad_grids_raise_clear_errors(kwargs, message):
    shape = kwargs.pop("shape")
    with pytest.raises(GeometryError, match=message):
        Grid.from_spacing(shape, **kwargs)


def test_affine_is_read_only():
    grid = Grid.from_spacing((2, 2, 2), spacing_mm=1.0)
    with pytest.raises(ValueError, match="read-only"):
        grid.affine[0, 0] = 5.0
    with pytest.raises(AttributeError):
        grid.shape = (1, 1, 1)  # type: ignore[misc]


def test_is_a_value_error():
    with pytest.raises(ValueError):
        Grid.from_spacing((1, 1, 1), spacing_mm=0.0)
