"""Image: validation, read-only values, resampling."""

from __future__ import annotations

import numpy as np
import pytest

from rtwin.anatomy import Image, Modality
from rtwin.errors import GeometryError
from rtwin.geometry import Grid


def test_image_contract():
    grid = Grid.from_spacing((2, 3, 4), spacing_mm=1.0)
    values = np.zeros((2, 3, 4))
    image = Image(values=values, grid=grid, modality="CT")
    values[0, 0, 0] = 99
    assert image.values[0, 0, 0] == 0
    assert image.values.dtype == np.float32
    assert image.modality is Modality.CT and image.units == "HU"
    with pytest.raises(ValueError, match="read-only"):
        image.values[0, 0, 0] = 1


@pytest.mark.parametrize(
    ("values", "modality", "message"),
    [
        (np.zeros((2, 3)), "CT", r"shape \(2, 3\) but the grid is \(2, 3, 4\)"),
        (np.zeros((2, 3, 4)), "PET", "unknown image modality 'PET'"),
        (np.full((2, 3, 4), np.nan), "CT", "NaN"),
    ],
)
def test_bad_images(values, modality, message):
    grid = Grid.from_spacing((2, 3, 4), spacing_mm=1.0)
    with pytest.raises(GeometryError, match=message):
        Image(values=values, grid=grid, modality=modality)


def test_resampling_fills_air_for_ct_outside():
    grid = Grid.from_spacing((1, 1, 4), spacing_mm=1.0)
    image = Image(values=np.array([[[0, 10, 20, 30]]]), grid=grid, modality="CT")
    wider = Grid.from_spacing((1, 1, 6), spacing_mm=1.0, origin_mm=(-1, 0, 0))
    resampled = image.resampled(wider)
    assert resampled.values.ravel().tolist() == [-1000, 0, 10, 20, 30, -1000]
    nearest = image.resampled(grid.with_spacing((2.0, 1.0, 1.0)), method="nearest")
    assert nearest.values.ravel().tolist() in ([10, 30], [0, 20])
