"""Images: voxel values on a grid with a modality and units."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin._arrays import frozen
from rtwin.errors import GeometryError
from rtwin.geometry import Grid, resample_array

__all__ = ["Image", "Modality"]


class Modality(StrEnum):
    """What an image's values mean."""

    CT = "CT"
    """Hounsfield units (HU)."""
    MR = "MR"
    """MR signal in arbitrary units."""
    DENSITY = "density"
    """A physical quantity derived from CT: mass density, relative electron density or SPR."""


_DEFAULT_UNITS = {Modality.CT: "HU", Modality.MR: "a.u.", Modality.DENSITY: "g/cm3"}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Image:
    """Voxel values on a :class:`~rtwin.geometry.Grid`.

    Parameters
    ----------
    values
        Array of shape ``grid.shape`` (``(nz, ny, nx)``); stored as a
        read-only float32 copy (float32 holds HU and MR values exactly
        enough; computations upcast as needed).
    grid
        Where the voxels are.
    modality
        :class:`Modality` (``"CT"``, ``"MR"`` or ``"density"``).
    units
        Units of the values (``"HU"``, ``"g/cm3"``, ``"1"`` for ratios, ...);
        defaults by modality.
    description
        Free text (e.g. ``"relative electron density"``).

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.anatomy import Image
    >>> from rtwin.geometry import Grid
    >>> grid = Grid.from_spacing((2, 2, 2), spacing_mm=2.0)
    >>> ct = Image(values=np.zeros((2, 2, 2)), grid=grid, modality="CT")
    >>> ct.units, ct.values.flags.writeable
    ('HU', False)
    >>> ct.resampled(grid.with_spacing(1.0)).values.shape
    (4, 4, 4)
    """

    values: NDArray[np.float32] = field(repr=False)
    grid: Grid
    modality: Modality
    units: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.grid, Grid):
            raise GeometryError(f"Image grid must be a rtwin Grid; got {type(self.grid).__name__}")
        try:
            modality = Modality(self.modality)
        except ValueError:
            raise GeometryError(
                f"unknown image modality {self.modality!r}; use one of "
                f"{[m.value for m in Modality]}"
            ) from None
        values = np.array(self.values, dtype=np.float32, copy=True, order="C")
        if values.shape != self.grid.shape:
            raise GeometryError(
                f"image values have shape {values.shape} but the grid is {self.grid.shape} "
                "(arrays are (nz, ny, nx))"
            )
        if not np.all(np.isfinite(values)):
            raise GeometryError(
                f"image values hold {int(np.count_nonzero(~np.isfinite(values)))} NaN or "
                "infinite voxels; replace them (e.g. with the air value) before building an Image"
            )
        object.__setattr__(self, "values", frozen(values))
        object.__setattr__(self, "modality", modality)
        object.__setattr__(self, "units", self.units or _DEFAULT_UNITS[modality])

    def resampled(
        self,
        grid: Grid,
        *,
        method: Literal["linear", "nearest"] = "linear",
        fill_value: float | None = None,
    ) -> Image:
        """This image on another grid.

        Parameters
        ----------
        grid
            Target grid.
        method
            ``"linear"`` or ``"nearest"``.
        fill_value
            Value outside this image's extent; by default −1000 HU for CT
            (air) and 0 otherwise.
        """
        if fill_value is None:
            fill_value = -1000.0 if self.modality is Modality.CT else 0.0
        values = resample_array(self.values, self.grid, grid, method=method, fill_value=fill_value)
        return replace(self, values=values, grid=grid)

    def with_values(self, values: ArrayLike, **changes: str) -> Image:
        """A new image on the same grid with other values (and optionally modality/units)."""
        return replace(self, values=np.asarray(values), **changes)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        low, high = (float(self.values.min()), float(self.values.max()))
        return (
            f"Image({self.modality.value}, {self.grid!r}, range=[{low:g}, {high:g}] {self.units})"
        )
