"""Dose distributions: Gy on a grid."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin._arrays import frozen
from rtwin.errors import GeometryError
from rtwin.geometry import Grid, resample_array

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = ["Dose"]


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Dose:
    """Absorbed dose in Gy on a grid.

    Parameters
    ----------
    values
        Array ``(nz, ny, nx)`` in Gy, stored as a read-only float32 copy.
    grid
        The dose grid.
    description
        Free text (plan name, fraction, ...).

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.geometry import Grid
    >>> grid = Grid.from_spacing((2, 2, 2), spacing_mm=5.0)
    >>> dose = Dose(values=np.full((2, 2, 2), 2.0), grid=grid)
    >>> dose.max_gy, dose.resampled(grid.with_spacing(2.5)).values.shape
    (2.0, (4, 4, 4))
    """

    values: NDArray[np.float32] = field(repr=False)
    grid: Grid
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.grid, Grid):
            raise GeometryError(f"Dose grid must be a rtwin Grid; got {type(self.grid).__name__}")
        values = np.array(self.values, dtype=np.float32, copy=True, order="C")
        if values.shape != self.grid.shape:
            raise GeometryError(
                f"dose values have shape {values.shape} but the grid is {self.grid.shape}"
            )
        if not np.all(np.isfinite(values)):
            raise GeometryError("dose values must be finite")
        object.__setattr__(self, "values", frozen(values))

    @property
    def max_gy(self) -> float:
        """Highest voxel dose."""
        return float(self.values.max())

    def resampled(self, grid: Grid, *, method: Literal["linear", "nearest"] = "linear") -> Dose:
        """The dose on another grid (zero outside this dose grid's extent)."""
        values = resample_array(self.values, self.grid, grid, method=method, fill_value=0.0)
        return replace(self, values=values, grid=grid)

    def scaled(self, factor: float) -> Dose:
        """The dose times a number (e.g. a normalization)."""
        if not np.isfinite(factor) or factor < 0:
            raise GeometryError(f"dose scale factor must be finite and >= 0; got {factor!r}")
        return replace(self, values=self.values * np.float32(factor))

    def normalized(self, structure: Any, *, at_volume: float = 0.95, to_gy: float) -> Dose:
        """The dose scaled so that ``structure`` receives ``to_gy`` at ``at_volume``.

        The usual target normalization: ``dose.normalized(ptv, to_gy=50)``
        makes D95 % of the PTV 50 Gy. The DVH is computed on the structure's
        own grid (:meth:`rtwin.evaluation.DVH.compute`), so a structure on
        the CT grid is evaluated there, not on the coarser dose grid.

        Raises
        ------
        GeometryError
            ``at_volume`` outside (0, 1], ``to_gy`` not positive, or the
            structure receives no dose at that volume.

        Examples
        --------
        >>> import numpy as np, rtwin
        >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
        >>> dose = Dose(values=np.full(patient.grid.shape, 1.6), grid=patient.grid)
        >>> round(dose.normalized(patient.structures["Target"], to_gy=2.0).max_gy, 4)
        2.0
        """
        from rtwin.evaluation import DVH

        if not (0.0 < at_volume <= 1.0):
            raise GeometryError(f"at_volume must be a fraction in (0, 1]; got {at_volume!r}")
        if not (np.isfinite(to_gy) and to_gy > 0):
            raise GeometryError(f"to_gy must be a positive dose; got {to_gy!r}")
        current = DVH.compute(self, structure).dose_at_volume(at_volume)
        if not current > 0:
            raise GeometryError(
                f"structure {structure.name!r} receives no dose at {at_volume:.0%} of its volume; "
                "cannot normalize"
            )
        return self.scaled(to_gy / current)

    def __add__(self, other: Dose) -> Dose:
        if not isinstance(other, Dose):
            return NotImplemented
        self.grid.require_same(other.grid, "the two doses")
        return replace(self, values=self.values + other.values)

    def at(self, points_mm: ArrayLike) -> NDArray[np.float64]:
        """Dose at patient points ``(..., 3)`` by trilinear interpolation (0 outside)."""
        from scipy import ndimage

        points = np.asarray(points_mm, dtype=np.float64)
        index = self.grid.patient_to_index(points.reshape(-1, 3))
        inside = self.grid.contains(points.reshape(-1, 3))
        upper = np.array(self.grid.size_xyz, dtype=np.float64) - 1
        clipped = np.clip(index, 0.0, upper)[:, ::-1].T
        values = ndimage.map_coordinates(
            self.values.astype(np.float64), clipped, order=1, mode="nearest"
        )
        values[~inside] = 0.0
        return values.reshape(points.shape[:-1])

    def plot(
        self,
        structures: Mapping[str, Any] | None = None,
        *,
        plane: str | Sequence[str] = "axial",
        through: str | ArrayLike | None = None,
        **options: Any,
    ) -> Figure:
        """A dose colour wash with structure contours; see :func:`rtwin.plotting.plot_dose_wash`.

        Examples
        --------
        >>> import numpy as np, rtwin
        >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
        >>> dose = Dose(values=np.full(patient.grid.shape, 2.0), grid=patient.grid)
        >>> figure = dose.plot(patient.structures, image=patient.image)
        >>> figure.axes[0].get_title()
        'Axial plane through Target (z = 0.0 mm)'
        """
        from rtwin.plotting import plot_dose_wash

        return plot_dose_wash(self, structures, plane=plane, through=through, **options)

    def __repr__(self) -> str:
        return f"Dose({self.grid!r}, max {self.max_gy:.3g} Gy)"
