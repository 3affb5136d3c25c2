"""Resampling arrays from one grid onto another (pure geometry, any orientation)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from rtwin.errors import GeometryError
from rtwin.geometry._grid import Grid

__all__ = ["RESAMPLING_METHODS", "resample_array"]

RESAMPLING_METHODS = ("linear", "nearest")


def resample_array(
    values: NDArray[np.floating] | NDArray[np.integer] | NDArray[np.bool_],
    source: Grid,
    target: Grid,
    *,
    method: Literal["linear", "nearest"] = "linear",
    fill_value: float = 0.0,
) -> NDArray[np.float64]:
    """Sample ``values`` (on ``source``) at the voxel centres of ``target``.

    Parameters
    ----------
    values
        Array of shape ``source.shape``.
    source, target
        The grids; any position, spacing and orthonormal orientation.
    method
        ``"linear"`` (trilinear) or ``"nearest"``.
    fill_value
        Value of target voxels whose centre lies outside the source extent.
        Inside the extent but beyond the outer voxel centres (the half-voxel
        rim) the edge value is used, not a blend with ``fill_value``.

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``target.shape``.

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.geometry import Grid, resample_array
    >>> fine = Grid.from_spacing((1, 1, 4), spacing_mm=1.0)
    >>> coarse = fine.with_spacing((2.0, 1.0, 1.0))
    >>> resample_array(np.arange(4.0).reshape(1, 1, 4), fine, coarse)
    array([[[0.5, 2.5]]])
    """
    from scipy import ndimage

    if method not in RESAMPLING_METHODS:
        raise GeometryError(
            f"unknown resampling method {method!r}; use one of {RESAMPLING_METHODS}"
        )
    array = np.asarray(values)
    if array.shape != source.shape:
        raise GeometryError(f"values have shape {array.shape} but the grid is {source.shape}")
    array = array.astype(np.float64, copy=False)
    if source.is_same_as(target, tolerance_mm=1e-6):
        return array.copy()
    order = 1 if method == "linear" else 0
    # target (i, j, k) -> source (i, j, k)
    mapping = np.linalg.inv(source.affine) @ target.affine
    matrix_ijk, offset_ijk = mapping[:3, :3], mapping[:3, 3]
    # scipy works in array order (k, j, i)
    permute = np.eye(3)[::-1]
    matrix_kji = permute @ matrix_ijk @ permute
    offset_kji = permute @ offset_ijk
    upper = np.asarray(source.shape, dtype=np.float64) - 1.0
    if np.allclose(matrix_kji, np.diag(np.diag(matrix_kji)), atol=1e-9):
        scale = np.diag(matrix_kji)
        axes = [scale[a] * np.arange(target.shape[a]) + offset_kji[a] for a in range(3)]
        inside = [(c >= -0.5 - 1e-9) & (c <= upper[a] + 0.5 + 1e-9) for a, c in enumerate(axes)]
        clipped = [np.clip(c, 0.0, upper[a]) for a, c in enumerate(axes)]
        if method == "nearest":
            picked = [
                np.clip(np.floor(c + 0.5), 0, upper[a]).astype(np.intp) for a, c in enumerate(axes)
            ]
            result = array[np.ix_(*picked)].astype(np.float64)
        else:
            result = _separable_linear(array, clipped)
        valid = inside[0][:, None, None] & inside[1][None, :, None] & inside[2][None, None, :]
    else:
        k, j, i = np.indices(target.shape, dtype=np.float64)
        coordinates = (
            np.einsum("ab,b...->a...", matrix_kji, np.stack((k, j, i)))
            + offset_kji[:, None, None, None]
        )
        valid = np.all(
            (coordinates >= -0.5 - 1e-9) & (coordinates <= upper[:, None, None, None] + 0.5 + 1e-9),
            axis=0,
        )
        np.clip(coordinates, 0.0, upper[:, None, None, None], out=coordinates)
        result = ndimage.map_coordinates(array, coordinates, order=order, mode="nearest")
    result[~valid] = fill_value
    return result


def _separable_linear(
    array: NDArray[np.float64], axes: list[NDArray[np.float64]]
) -> NDArray[np.float64]:
    """Trilinear interpolation on an axis-aligned mapping, one axis at a time."""
    result = array
    for axis, coordinates in enumerate(axes):
        n = result.shape[axis]
        if n == 1:
            result = np.take(result, np.zeros(coordinates.shape, dtype=np.intp), axis=axis)
            continue
        lower = np.clip(np.floor(coordinates).astype(np.intp), 0, n - 2)
        weight = coordinates - lower
        shape = [1, 1, 1]
        shape[axis] = -1
        weight = weight.reshape(shape)
        result = (
            np.take(result, lower, axis=axis) * (1.0 - weight)
            + np.take(result, lower + 1, axis=axis) * weight
        )
    return result
