"""Dose-influence matrices: dose per unit weight of every beamlet on every dose voxel."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.beams import Beam
from rtwin.dose._dose import Dose
from rtwin.errors import GeometryError
from rtwin.geometry import Grid

__all__ = ["BeamletTable", "DoseInfluence"]


def _read_only(array: NDArray[Any]) -> NDArray[Any]:
    array = np.array(array, copy=True)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BeamletTable:
    """What each column of a dose-influence matrix is.

    Attributes
    ----------
    beams
        The beams, in order.
    beam_index
        ``(n,)`` int32: the beam of each beamlet.
    position_mm
        ``(n, 2)``: lateral position ``(u, v)`` of the beamlet's central ray
        in the isocentre plane, in the beam-limiting-device axes (mm).
    energy_mev
        ``(n,)``: proton energy; NaN for photon bixels.
    size_mm
        ``(n,)``: bixel width (photons) or spot spacing (protons) at the
        isocentre.
    """

    beams: tuple[Beam, ...]
    beam_index: NDArray[np.int32] = field(repr=False)
    position_mm: NDArray[np.float64] = field(repr=False)
    energy_mev: NDArray[np.float64] = field(repr=False)
    size_mm: NDArray[np.float64] = field(repr=False)

    def __post_init__(self) -> None:
        beam_index = np.asarray(self.beam_index, dtype=np.int32)
        n = beam_index.shape[0]
        position = np.asarray(self.position_mm, dtype=np.float64).reshape(n, 2)
        energy = np.asarray(self.energy_mev, dtype=np.float64).reshape(n)
        size = np.asarray(self.size_mm, dtype=np.float64).reshape(n)
        if n and (beam_index.min() < 0 or beam_index.max() >= len(self.beams)):
            raise GeometryError("beamlet table refers to beams that are not in it")
        object.__setattr__(self, "beams", tuple(self.beams))
        object.__setattr__(self, "beam_index", _read_only(beam_index))
        object.__setattr__(self, "position_mm", _read_only(position))
        object.__setattr__(self, "energy_mev", _read_only(energy))
        object.__setattr__(self, "size_mm", _read_only(size))

    def __len__(self) -> int:
        return int(self.beam_index.shape[0])

    def of_beam(self, beam: int) -> NDArray[np.intp]:
        """Column indices of one beam's beamlets."""
        return np.flatnonzero(self.beam_index == beam)

    @staticmethod
    def concatenate(parts: list[BeamletTable]) -> BeamletTable:
        """One table from per-beam tables (beam indices renumbered in order)."""
        beams: list[Beam] = []
        indices, positions, energies, sizes = [], [], [], []
        for part in parts:
            indices.append(part.beam_index + len(beams))
            beams.extend(part.beams)
            positions.append(part.position_mm)
            energies.append(part.energy_mev)
            sizes.append(part.size_mm)
        return BeamletTable(
            beams=tuple(beams),
            beam_index=np.concatenate(indices) if indices else np.zeros(0, np.int32),
            position_mm=np.concatenate(positions) if positions else np.zeros((0, 2)),
            energy_mev=np.concatenate(energies) if energies else np.zeros(0),
            size_mm=np.concatenate(sizes) if sizes else np.zeros(0),
        )


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class DoseInfluence:
    """Dose per unit beamlet weight: a sparse voxels × beamlets matrix (plus scatter).

    The dose of weights ``w`` is ``matrix @ w`` plus, for photon engines,
    ``scatter.forward(w)`` — the broad phantom-scatter components applied
    as a convolution instead of being stored (see
    :class:`~rtwin.dose.photon.ScatterConvolution`). Use :meth:`dose`,
    :meth:`forward` and :meth:`adjoint`, which include both parts; the
    ``matrix`` alone is the narrow part of the kernel when ``scatter`` is
    set.

    Parameters
    ----------
    matrix
        ``scipy.sparse.csr_array`` of shape ``(dose_grid.n_voxels, n_beamlets)``,
        float32 data and int32 indices; row ``r`` is the voxel with C-order
        flat index ``r`` on ``dose_grid``; values in Gy per unit weight.
    scatter
        ``None`` or an operator with ``rows``, ``forward(w)`` and
        ``adjoint(values_at_rows)`` of the same shape as ``matrix``.
    dose_grid
        The grid of the rows.
    beamlets
        What each column is.
    engine
        The engine (frozen configuration) that computed the matrix.
    provenance
        Plain facts about the computation (patient fingerprint, timings, the
        bound on the dose dropped by the lateral cutoff, ...).

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from rtwin.beams import Beam
    >>> from rtwin.geometry import Grid
    >>> grid = Grid.from_spacing((1, 1, 3), spacing_mm=5.0)
    >>> table = BeamletTable(beams=(Beam(modality="photon", gantry_deg=0, isocenter_mm=(0, 0, 0)),),
    ...     beam_index=[0, 0], position_mm=[[0, 0], [5, 0]], energy_mev=[np.nan, np.nan], size_mm=[5, 5])
    >>> matrix = sp.csr_array(np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], dtype=np.float32))
    >>> influence = DoseInfluence(matrix=matrix, dose_grid=grid, beamlets=table)
    >>> influence.dose([2.0, 4.0]).values.ravel().tolist()
    [2.0, 3.0, 4.0]
    """

    matrix: Any = field(repr=False)
    dose_grid: Grid
    scatter: Any = field(default=None, repr=False)
    beamlets: BeamletTable = field(repr=False)
    engine: Any = None
    provenance: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        import scipy.sparse as sparse

        matrix = self.matrix
        if not sparse.issparse(matrix):
            raise GeometryError("DoseInfluence.matrix must be a scipy sparse matrix")
        matrix = sparse.csr_array(matrix)
        if not matrix.has_canonical_format:
            # one entry per (row, column), sorted (never changing the caller's arrays)
            matrix = matrix.copy()
            matrix.sum_duplicates()
        if matrix.dtype != np.float32:
            matrix = matrix.astype(np.float32)
        matrix.indices = matrix.indices.astype(np.int32, copy=False)
        matrix.indptr = (
            matrix.indptr.astype(np.int32, copy=False) if matrix.nnz < 2**31 else matrix.indptr
        )
        if matrix.shape != (self.dose_grid.n_voxels, len(self.beamlets)):
            raise GeometryError(
                f"influence matrix shape {matrix.shape} does not match the dose grid "
                f"({self.dose_grid.n_voxels} voxels) and {len(self.beamlets)} beamlets"
            )
        if self.scatter is not None and (
            self.scatter.n_voxels != matrix.shape[0] or self.scatter.n_beamlets != matrix.shape[1]
        ):
            raise GeometryError(
                f"scatter operator is {self.scatter.n_voxels} × {self.scatter.n_beamlets}; "
                f"the matrix is {matrix.shape[0]} × {matrix.shape[1]}"
            )
        for array in (matrix.data, matrix.indices, matrix.indptr):
            array.flags.writeable = False
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "provenance", dict(self.provenance))

    @property
    def n_beamlets(self) -> int:
        """Number of columns."""
        return int(self.matrix.shape[1])

    @property
    def nnz(self) -> int:
        """Stored non-zero entries."""
        return int(self.matrix.nnz)

    @property
    def nbytes(self) -> int:
        """Memory of the matrix arrays (and of the scatter operator's) in bytes."""
        m = self.matrix
        scatter = 0 if self.scatter is None else int(self.scatter.nbytes)
        return int(m.data.nbytes + m.indices.nbytes + m.indptr.nbytes) + scatter

    def _weights(self, weights: ArrayLike) -> NDArray[np.float64]:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (self.n_beamlets,):
            raise GeometryError(f"weights must have shape ({self.n_beamlets},); got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise GeometryError("beamlet weights must be finite and non-negative")
        return w

    def forward(self, weights: ArrayLike) -> NDArray[np.float64]:
        """Dose (Gy) of beamlet weights as a flat float64 ``(n_voxels,)`` vector."""
        w = self._weights(weights)
        # float32 weights keep scipy from converting the whole float32 matrix to float64
        values = (self.matrix @ w.astype(np.float32)).astype(np.float64)
        if self.scatter is not None:
            values[self.scatter.rows] += self.scatter.forward(w)
        return values

    def adjoint(self, values: ArrayLike) -> NDArray[np.float64]:
        """Transpose product ``Dᵀ·values`` for a flat ``(n_voxels,)`` vector → ``(n_beamlets,)``.

        With ``values = ∂f/∂dose`` this is the gradient of ``f`` with respect
        to the beamlet weights.
        """
        g = np.asarray(values, dtype=np.float64)
        if g.shape != (self.dose_grid.n_voxels,):
            raise GeometryError(
                f"values must have shape ({self.dose_grid.n_voxels},); got {g.shape}"
            )
        result = np.asarray(self.matrix.T @ g.astype(np.float32), dtype=np.float64)
        if self.scatter is not None:
            result += self.scatter.adjoint(g[self.scatter.rows])
        return result

    def dose(self, weights: ArrayLike, *, description: str = "") -> Dose:
        """The dose of beamlet weights (``(n_beamlets,)``, ≥ 0)."""
        values = self.forward(weights).reshape(self.dose_grid.shape)
        return Dose(values=values, grid=self.dose_grid, description=description)

    def _repr_html_(self) -> str:
        from rtwin._html import html_table

        seconds = self.provenance.get("seconds")
        rows = [
            (
                "dose grid",
                f"{self.dose_grid.shape}, {' x '.join(f'{s:g}' for s in self.dose_grid.spacing_mm)} mm",
            ),
            ("beams", len(self.beamlets.beams)),
            ("beamlets", self.n_beamlets),
            ("stored entries", f"{self.nnz:,}"),
            ("broad scatter", "by convolution" if self.scatter is not None else "in the matrix"),
            ("memory", f"{self.nbytes / 2**20:.1f} MiB"),
            ("engine", type(self.engine).__name__ if self.engine is not None else "–"),
        ]
        if seconds is not None:
            rows.append(("computed in", f"{seconds:.2f} s"))
        return html_table("DoseInfluence", rows)

    def __repr__(self) -> str:
        return (
            f"DoseInfluence({self.dose_grid!r}, {self.n_beamlets} beamlets from "
            f"{len(self.beamlets.beams)} beam(s), {self.nnz:,} non-zeros"
            f"{' + scatter convolution' if self.scatter is not None else ''}, "
            f"{self.nbytes / 2**20:.1f} MiB)"
        )
