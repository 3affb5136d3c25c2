"""The broad scatter components of the photon kernel as a separable convolution.

A photon pencil-beam kernel has components a few millimetres wide (primary
and near scatter) and components several centimetres wide (phantom
scatter). Stored voxel by voxel, the broad ones would make the influence
matrix nearly dense: a bixel's 10 %-of-dose scatter halo with σ ≈ 10 cm
reaches every voxel of the patient. They are smooth, though, so rtwin
applies them as an operator instead: per beam, the map of bixel weights is
convolved (separably, on the bixel lattice in the isocentre plane) with the
component's lateral factor at a geometric series of widths σ, and every
voxel interpolates the result — bilinearly in the isocentre plane and
linearly in log σ — times its depth amplitude ``Aᵢ(d) (SAD/s)²``. The
operator and its adjoint cost a few milliseconds, and no matrix entry is
dropped for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin._arrays import frozen
from rtwin.dose.photon._kernels import (
    lattice_convolve,
    lattice_convolve_adjoint,
    scatter_gather,
    scatter_rows,
    scatter_spread,
)
from rtwin.errors import GeometryError

__all__ = ["ScatterConvolution"]

#: Ratio of consecutive σ samples (linear interpolation in log σ between them).
SIGMA_RATIO = 1.2
#: The factor tables reach this many σ (the 1-D tail beyond is < 1e-9).
REACH_SIGMAS = 6.0


def aperture_factors(sigma_mm: NDArray[np.float64], pitch_mm: float, n: int) -> NDArray[np.float64]:
    """``F_k(m)``: a unit slit of width ``pitch`` blurred by a Gaussian σ_k, at offset ``m·pitch``."""
    from scipy import special

    m = np.arange(n, dtype=np.float64)[None, :] * pitch_mm
    s = np.sqrt(2.0) * sigma_mm[:, None]
    return 0.5 * (special.erf((m + 0.5 * pitch_mm) / s) - special.erf((m - 0.5 * pitch_mm) / s))


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ScatterConvolution:
    """Broad photon scatter as a linear operator from beamlet weights to voxel doses.

    Built by :class:`~rtwin.dose.PhotonPencilBeam` and held by the
    :class:`~rtwin.dose.DoseInfluence` it returns (``influence.scatter``);
    the influence's full dose is ``matrix @ w + scatter.forward(w)``.

    Attributes
    ----------
    n_voxels, n_beamlets
        Shape of the operator (dose-grid voxels × beamlets).
    rows
        ``(n_rows,)`` flat dose-grid indices the operator gives dose to.
    lattice_uv
        ``(n_rows, n_beams, 2)`` float32: each row's position projected to
        the isocentre plane, in cells of the convolution lattice.
    sigma_index
        ``(n_rows, n_beams, n_components)`` float32: fractional index of the
        row's σ (isocentre plane) in ``sigma_mm``.
    amplitude
        ``(n_rows, n_beams, n_components)`` float32: ``Aᵢ(d) (SAD/s)²`` in Gy
        per unit weight; 0 where the beam gives no dose.
    source_cells
        ``(n_beamlets, 3)`` int64: beam, u cell, v cell of each beamlet.
    source_box
        ``(n_beams, 4)`` int64: inclusive u and v cell ranges of the beamlets.
    lattice_shape
        ``(NU, NV)`` cells of the lattice.
    sigma_mm
        ``(K,)`` σ samples in the isocentre plane (mm), geometric.
    factors
        ``(K, M)`` 1-D lattice factors; ``reach`` ``(K,)`` cells where they end.

    Examples
    --------
    >>> import numpy as np, rtwin
    >>> patient = rtwin.phantoms.water_box(size_mm=80, voxel_mm=5, target_radius_mm=10)
    >>> influence = rtwin.dose.PhotonPencilBeam().influence(
    ...     patient, rtwin.beams.equispaced(1, isocenter_mm=(0, 0, 0)))
    >>> w = np.ones(influence.n_beamlets)
    >>> share = influence.scatter.forward(w).sum() / influence.forward(w).sum()
    >>> print(f"broad scatter: {share:.0%} of the dose integral")
    broad scatter: 5% of the dose integral
    """

    n_voxels: int
    n_beamlets: int
    rows: NDArray[np.int64] = field(repr=False)
    lattice_uv: NDArray[np.float32] = field(repr=False)
    sigma_index: NDArray[np.float32] = field(repr=False)
    amplitude: NDArray[np.float32] = field(repr=False)
    source_cells: NDArray[np.int64] = field(repr=False)
    source_box: NDArray[np.int64] = field(repr=False)
    lattice_shape: tuple[int, int]
    sigma_mm: NDArray[np.float64] = field(repr=False)
    factors: NDArray[np.float64] = field(repr=False)
    reach: NDArray[np.int64] = field(repr=False)
    _toeplitz: tuple[NDArray[np.float64], NDArray[np.float64]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        n_beams = self.source_box.shape[0]
        n_rows = self.rows.shape[0]
        if self.lattice_uv.shape != (n_rows, n_beams, 2) or self.amplitude.shape[:2] != (
            n_rows,
            n_beams,
        ):
            raise GeometryError("ScatterConvolution: per-row arrays do not match beams × rows")
        if self.source_cells.shape != (self.n_beamlets, 3):
            raise GeometryError("ScatterConvolution: source_cells must be (n_beamlets, 3)")
        if min(self.lattice_shape) < 2 or self.sigma_mm.shape[0] < 2:
            raise GeometryError("ScatterConvolution: lattice and σ samples need at least 2 points")
        for name in (
            "rows",
            "lattice_uv",
            "sigma_index",
            "amplitude",
            "source_cells",
            "source_box",
            "sigma_mm",
            "factors",
            "reach",
        ):
            object.__setattr__(self, name, frozen(np.ascontiguousarray(getattr(self, name))))
        object.__setattr__(
            self,
            "_toeplitz",
            tuple(frozen(self._banded(n)) for n in self.lattice_shape),
        )

    def _banded(self, n: int) -> NDArray[np.float64]:
        """``T[k, i, j] = F_k(|i − j|)`` within the reach, else 0: ``(K, n, n)``."""
        offset = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
        width = self.factors.shape[1]
        values = self.factors[:, np.minimum(offset, width - 1)]
        return np.where(offset[None] <= self.reach[:, None, None], values, 0.0)

    @property
    def n_beams(self) -> int:
        """Number of beams."""
        return int(self.source_box.shape[0])

    @property
    def nbytes(self) -> int:
        """Memory of the stored arrays in bytes."""
        return int(
            sum(
                getattr(self, name).nbytes
                for name in ("rows", "lattice_uv", "sigma_index", "amplitude", "source_cells")
            )
        )

    # ---------------------------------------------------------------- products
    # Per beam b and σ sample k the lattice convolution is C = T_u[k] W_b T_v[k]ᵀ
    # with banded Toeplitz T (the 1-D factors), restricted to the beam's source
    # box (numba kernels, beams in parallel).

    def forward(self, weights: ArrayLike) -> NDArray[np.float64]:
        """Dose (Gy) at ``rows`` of beamlet ``weights`` ``(n_beamlets,)``; float64 ``(n_rows,)``."""
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if w.shape != (self.n_beamlets,):
            raise GeometryError(f"weights must have shape ({self.n_beamlets},); got {w.shape}")
        out = np.empty(self.rows.shape[0])
        scatter_gather(self.lattice(w), self.lattice_uv, self.sigma_index, self.amplitude, out)
        return out

    def lattice(self, weights: ArrayLike) -> NDArray[np.float64]:
        """The convolved weight maps ``(n_beams, NU, NV, K)`` that :meth:`forward` interpolates."""
        w = np.ascontiguousarray(weights, dtype=np.float64)
        if w.shape != (self.n_beamlets,):
            raise GeometryError(f"weights must have shape ({self.n_beamlets},); got {w.shape}")
        maps = np.zeros((self.n_beams, *self.lattice_shape))
        cells = self.source_cells
        maps[cells[:, 0], cells[:, 1], cells[:, 2]] = w
        convolved = np.empty((self.n_beams, *self.lattice_shape, self.sigma_mm.shape[0]))
        lattice_convolve(maps, self.source_box, *self._toeplitz, convolved)
        return convolved

    def row_bounds(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Per row and beam: bounds on the largest entry and the 2-norm of the row's coefficients.

        Row ``r``'s dose from beam ``b``'s beamlets is ``Σ_j h_j w_j`` with
        ``h_j = Σ_c aᶜ Σ λ F_k(Δu) F_k(Δv)`` (interpolation weights ``λ``
        summing to one over the bracketing σ samples and lattice corners).
        As ``F_k`` peaks at 0, ``h_j ≤ Σ_c aᶜ max_k F_k(0)²`` and
        ``‖h‖₂ ≤ Σ_c aᶜ max_k Σ_m F_k(m)²`` (m over all offsets, both
        sides), k over the two σ samples bracketing the row's. Both
        ``(n_rows, n_beams)`` float64.
        """
        factors = self.factors
        n_sigma = self.sigma_mm.shape[0]
        inside = np.arange(factors.shape[1])[None, :] <= self.reach[:, None]
        squares = np.where(inside, factors * factors, 0.0)
        peak = squares[:, 0]
        energy = 2.0 * squares.sum(axis=1) - peak
        low = np.clip(np.floor(self.sigma_index), 0, n_sigma - 2).astype(np.int64)
        amplitude = self.amplitude.astype(np.float64)
        largest = (amplitude * np.maximum(peak[low], peak[low + 1])).sum(axis=2)
        norm = (amplitude * np.maximum(energy[low], energy[low + 1])).sum(axis=2)
        return largest, norm

    def adjoint(self, values: ArrayLike) -> NDArray[np.float64]:
        """Transpose product: ``Σ_r values[r] ∂dose[r]/∂w``; ``values`` ``(n_rows,)`` → ``(n_beamlets,)``."""
        g = np.ascontiguousarray(values, dtype=np.float64)
        if g.shape != self.rows.shape:
            raise GeometryError(f"values must have shape {self.rows.shape}; got {g.shape}")
        spread = np.empty((self.n_beams, *self.lattice_shape, self.sigma_mm.shape[0]))
        active = np.flatnonzero(g)
        scatter_spread(g, active, self.lattice_uv, self.sigma_index, self.amplitude, spread)
        maps = np.zeros((self.n_beams, *self.lattice_shape))
        lattice_convolve_adjoint(spread, self.source_box, *self._toeplitz, maps)
        cells = self.source_cells
        return maps[cells[:, 0], cells[:, 1], cells[:, 2]]

    def restricted(self, positions: ArrayLike) -> ScatterConvolution:
        """The operator on a subset of its rows (``positions`` index ``rows``)."""
        p = np.asarray(positions, dtype=np.int64)
        return replace(
            self,
            rows=self.rows[p],
            lattice_uv=self.lattice_uv[p],
            sigma_index=self.sigma_index[p],
            amplitude=self.amplitude[p],
        )

    def on_rows(self, rows: ArrayLike) -> ScatterConvolution:
        """The operator on the given flat dose-grid ``rows`` (sorted, unique).

        Rows the operator does not reach (outside every beam) get zero
        amplitude, so ``on_rows(r).forward(w)`` lines up with ``r`` element
        by element.
        """
        r = np.asarray(rows, dtype=np.int64)
        if r.ndim != 1 or np.any(np.diff(r) <= 0):
            raise GeometryError("on_rows needs a sorted 1-D array of unique row indices")
        where = np.minimum(np.searchsorted(self.rows, r), max(self.rows.size - 1, 0))
        hit = (self.rows[where] == r) if self.rows.size else np.zeros(r.size, dtype=bool)
        source = where[hit]

        def padded(table: NDArray[np.float32]) -> NDArray[np.float32]:
            out = np.zeros((r.size, *table.shape[1:]), dtype=table.dtype)
            out[hit] = table[source]
            return out

        return replace(
            self,
            rows=r,
            lattice_uv=padded(self.lattice_uv),
            sigma_index=padded(self.sigma_index),
            amplitude=padded(self.amplitude),
        )


def build_scatter(
    *,
    rows: NDArray[np.int64],
    n_voxels: int,
    coords: NDArray[np.float64],
    cells: list[NDArray[np.int64]],
    depth_step_mm: float,
    amplitudes: NDArray[np.float64],
    sigmas_mm: NDArray[np.float64],
    bixel_mm: float,
) -> ScatterConvolution:
    """The operator for the broad components (tables ``(n_broad, n_depths)``).

    ``coords`` are the engine's per-beam row coordinates ``(n_beams, n_rows,
    4)``: ``u, v`` in the isocentre plane relative to the bixel lattice
    (mm), ``g`` = distance / SAD, radiological depth (negative: no dose);
    ``cells`` the lattice cells ``(n, 2)`` of each beam's bixels in column
    order.
    """
    n_beams, n_rows, _ = coords.shape
    n_components = amplitudes.shape[0]
    valid = coords[:, :, 3] >= 0.0
    g = coords[:, :, 2][valid]
    g_min, g_max = (float(g.min()), float(g.max())) if g.size else (1.0, 1.0)
    # σ range over the tabulated depths and the rows' distances (a little wider than used)
    s_min = float(sigmas_mm.min()) / g_max
    s_max = float(sigmas_mm.max()) / g_min
    n_sigma = max(2, math.ceil(math.log(max(s_max / s_min, 1.0)) / math.log(SIGMA_RATIO)) + 1)
    sigma_samples = s_min * SIGMA_RATIO ** np.arange(n_sigma)

    # lattice: bixel cells and every row's projection, one cell of margin, but
    # no farther from the bixels than the widest factor reaches (rows beyond
    # it clamp to edge cells, where the convolution is exactly 0)
    all_cells = np.concatenate(cells)
    uv = coords[:, :, 0:2].reshape(-1, 2)
    widest = int(np.ceil(REACH_SIGMAS * sigma_samples[-1] / bixel_mm)) + 2
    low = np.floor(np.minimum(uv.min(axis=0) / bixel_mm, all_cells.min(axis=0))) - 1
    high = np.ceil(np.maximum(uv.max(axis=0) / bixel_mm, all_cells.max(axis=0))) + 1
    low = np.maximum(low, all_cells.min(axis=0) - widest).astype(np.int64)
    high = np.minimum(high, all_cells.max(axis=0) + widest)
    shape = tuple(int(x) for x in np.maximum(high.astype(np.int64) - low + 1, 2))
    lattice_uv = np.empty((n_rows, n_beams, 2), dtype=np.float32)
    sigma_index = np.empty((n_rows, n_beams, n_components), dtype=np.float32)
    amplitude = np.empty((n_rows, n_beams, n_components), dtype=np.float32)
    scatter_rows(
        coords,
        np.ascontiguousarray(amplitudes),
        np.ascontiguousarray(sigmas_mm),
        float(depth_step_mm),
        float(bixel_mm),
        low.astype(np.float64),
        s_min,
        math.log(SIGMA_RATIO),
        lattice_uv,
        sigma_index,
        amplitude,
    )
    source_cells = np.concatenate(
        [np.column_stack((np.full(len(c), b), c - low)) for b, c in enumerate(cells)]
    ).astype(np.int64)
    source_box = np.array(
        [
            [
                c[:, 0].min() - low[0],
                c[:, 0].max() - low[0],
                c[:, 1].min() - low[1],
                c[:, 1].max() - low[1],
            ]
            for c in cells
        ],
        dtype=np.int64,
    )
    reach = np.minimum(
        np.ceil(REACH_SIGMAS * sigma_samples / bixel_mm).astype(np.int64), max(shape) - 1
    )
    factors = aperture_factors(sigma_samples, bixel_mm, int(reach.max()) + 1)
    return ScatterConvolution(
        n_voxels=n_voxels,
        n_beamlets=len(all_cells),
        rows=rows,
        lattice_uv=lattice_uv,
        sigma_index=sigma_index,
        amplitude=amplitude,
        source_cells=source_cells,
        source_box=source_box,
        lattice_shape=shape,
        sigma_mm=sigma_samples,
        factors=factors,
        reach=reach,
    )
