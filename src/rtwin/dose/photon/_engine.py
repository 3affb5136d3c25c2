"""The photon finite-size pencil-beam engine."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.anatomy import Structure
from rtwin.beams import Beam, BeamModality, photon_bixel_positions, project_to_isocenter_plane
from rtwin.dose._common import check_nnz, dose_rows, resolve_target, voxel_centres_mm
from rtwin.dose._influence import BeamletTable, DoseInfluence
from rtwin.dose._raytrace import radiological_depths
from rtwin.dose.photon._kernels import count_entries, fill_entries
from rtwin.dose.photon._scatter import build_scatter
from rtwin.errors import GeometryError
from rtwin.geometry import Grid
from rtwin.patient import Patient

__all__ = ["PhotonKernelModel", "PhotonPencilBeam"]

#: Depth samples of the kernel tables (mm of water-equivalent depth).
_DEPTH_STEP_MM = 1.0
#: How the broad kernel components are applied (see ``PhotonPencilBeam.broad_scatter``).
_BROAD_SCATTER = ("convolution", "matrix")
#: Voxels nearer the source than this fraction of the SAD mean the patient is inside
#: the treatment head (the model's divergence, and the scatter lattice, make no sense).
_MIN_DISTANCE_FRACTION = 0.3
#: A component is broad when σ (isocentre plane) ≥ this many bixel widths at every depth.
_BROAD_SIGMA_BIXELS = 3.0


class PhotonKernelModel(Protocol):
    """What the engine needs from a photon machine (see :mod:`rtwin.machines`)."""

    @property
    def source_axis_distance_mm(self) -> float: ...

    def kernel_tables(
        self, depths_mm: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Amplitudes ``(n_components, n_depths)`` (Gy per unit weight) and sigmas (mm)."""
        ...


def _default_machine() -> PhotonKernelModel:
    from rtwin.machines import generic_6mv

    return generic_6mv()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PhotonPencilBeam:
    """Finite-size photon pencil-beam dose engine.

    The beam is divided into square bixels in the isocentre plane. The dose
    per unit weight of a bixel at a voxel is

        D = (SAD / s)² · Σᵢ Aᵢ(d) · Fᵢ(Δu) · Fᵢ(Δv)

    with ``s`` the voxel's distance from the source along the central axis,
    ``d`` the radiological depth of the voxel along the ray from the source
    (Siddon ray trace through the relative electron density), and ``Fᵢ`` a
    Gaussian of width σᵢ(d) convolved with the bixel's width, both at the
    voxel's distance (beam divergence). Aᵢ and σᵢ come from the machine.

    Parameters
    ----------
    machine
        Photon machine model; the generic 6 MV machine by default.
    bixel_mm
        Bixel width in the isocentre plane.
    target_margin_mm
        Bixels cover the target's beam's-eye view plus this margin.
    cutoff_fraction
        Largest fraction of each bixel's dose integral that the lateral
        cutoff of the stored matrix may drop (default 0.1 %); the reach per
        depth is computed from the kernel so that this holds. The broad
        components applied by convolution drop nothing.
    broad_scatter
        ``"convolution"`` (default): kernel components whose width σ is at
        least three bixels at every depth (the phantom-scatter halo, σ of
        centimetres) are applied by :class:`ScatterConvolution` — a
        separable convolution of each beam's weight map, interpolated at the
        voxels — and only the narrow components are stored in the sparse
        matrix. ``"matrix"``: every component goes into the matrix (the
        halo makes it nearly dense; for checks and export).

    Notes
    -----
    Limits of the model: heterogeneity only through the radiological depth
    along the central ray of each voxel (equivalent path length), so lateral
    electron disequilibrium in lung and the lateral spread of scatter in
    heterogeneous media are not modelled; no head scatter or MLC
    transmission; doses are computed only inside the patient's external
    structure (outside it, rows of the matrix are empty).

    Examples
    --------
    >>> import rtwin
    >>> patient = rtwin.phantoms.water_box(size_mm=80, voxel_mm=5, target_radius_mm=10)
    >>> beams = rtwin.beams.equispaced(1, isocenter_mm=(0, 0, 0))
    >>> influence = PhotonPencilBeam().influence(patient, beams)
    >>> influence.n_beamlets > 0 and influence.nnz > 0
    True
    """

    machine: Any = field(default_factory=_default_machine)
    bixel_mm: float = 5.0
    target_margin_mm: float = 5.0
    cutoff_fraction: float = 0.001
    broad_scatter: str = "convolution"

    def __post_init__(self) -> None:
        if not (np.isfinite(self.bixel_mm) and self.bixel_mm > 0):
            raise GeometryError(f"bixel_mm must be positive; got {self.bixel_mm!r}")
        if not (np.isfinite(self.target_margin_mm) and self.target_margin_mm >= 0):
            raise GeometryError(f"target_margin_mm must be >= 0; got {self.target_margin_mm!r}")
        if not (0 < self.cutoff_fraction < 0.5):
            raise GeometryError(
                f"cutoff_fraction must be in (0, 0.5); got {self.cutoff_fraction!r}"
            )
        if self.broad_scatter not in _BROAD_SCATTER:
            raise GeometryError(
                f"broad_scatter must be one of {list(_BROAD_SCATTER)}; got {self.broad_scatter!r}"
            )

    # ------------------------------------------------------------------ tables
    def tables(
        self,
        max_depth_mm: float,
        *,
        min_divergence: float = 1.0,
        max_divergence: float = 1.0,
    ) -> tuple[NDArray[np.float64], ...]:
        """Depth samples, amplitudes, sigmas, the lateral cutoff and the broad components.

        Returns ``(depths, amplitudes, sigmas, cutoff, broad)``: tables
        ``(n_components, n_depths)``, the cutoff (mm beyond the bixel edge per
        depth) of the matrix part, and a boolean ``(n_components,)`` marking
        the components applied by convolution. The cutoff is computed for
        the narrowest bixel the rows see (``bixel_mm`` × the smallest
        distance-from-source / SAD), for which a given reach keeps the
        smallest share of the integral, so the bound holds for every row;
        the dropped dose is counted against the whole integral (all
        components).
        """
        depths = np.arange(0.0, max_depth_mm + 2 * _DEPTH_STEP_MM, _DEPTH_STEP_MM)
        amplitudes, sigmas = self.machine.kernel_tables(depths)
        amplitudes = np.ascontiguousarray(amplitudes, dtype=np.float64)
        sigmas = np.ascontiguousarray(sigmas, dtype=np.float64)
        broad = np.zeros(amplitudes.shape[0], dtype=bool)
        if self.broad_scatter == "convolution":
            narrowest = sigmas.min(axis=1) / max(1.0, float(max_divergence))
            broad = narrowest >= _BROAD_SIGMA_BIXELS * self.bixel_mm
            if broad.all():  # keep the narrowest component in the matrix
                broad[np.argmin(narrowest)] = False
        width = self.bixel_mm * min(1.0, float(min_divergence))
        cutoff = lateral_cutoff_mm(
            amplitudes[~broad],
            sigmas[~broad],
            width,
            self.cutoff_fraction,
            total=amplitudes.sum(axis=0),
        )
        return depths, amplitudes, sigmas, cutoff, broad

    # ------------------------------------------------------------------ matrix
    def influence(
        self,
        patient: Patient,
        beams: Sequence[Beam],
        *,
        dose_grid: Grid | None = None,
        target: str | Structure | None = None,
        bixels: Sequence[ArrayLike] | None = None,
    ) -> DoseInfluence:
        """The dose-influence matrix of ``beams`` on ``patient``.

        Parameters
        ----------
        patient
            The twin; its relative electron density drives the ray tracing.
        beams
            Photon beams.
        dose_grid
            Grid of the matrix rows; the patient's grid when omitted.
        target
            Structure (or its name) the bixels must cover; the union of the
            patient's targets when omitted.
        bixels
            Explicit bixel centres per beam, each ``(n, 2)`` ``(u, v)`` in mm
            in the isocentre plane on one lattice of pitch ``bixel_mm`` (e.g.
            an open field); replaces the target-based layout. The matrix
            columns list them sorted by ``v``, then ``u`` — read the order
            from ``influence.beamlets.position_mm``.

        Notes
        -----
        Each beam's source-axis distance is replaced by the machine's (a
        beam cannot have a different SAD from the linac that delivers it).
        """
        started = time.perf_counter()
        beams = tuple(beams)
        if not beams:
            raise GeometryError("influence needs at least one beam")
        for beam in beams:
            if BeamModality(beam.modality) is not BeamModality.PHOTON:
                raise GeometryError(
                    f"beam {beam.name} is a {beam.modality.value} beam; PhotonPencilBeam computes photons"
                )
        grid = dose_grid or patient.grid
        if bixels is not None and len(bixels) != len(beams):
            raise GeometryError(
                f"bixels must give one (n, 2) array per beam; got {len(bixels)} for {len(beams)} beams"
            )
        target_structure = resolve_target(patient, target) if bixels is None else None
        sad = float(self.machine.source_axis_distance_mm)
        beams = tuple(b if b.source_axis_distance_mm == sad else _with_sad(b, sad) for b in beams)
        position = str(patient.position.value)
        rows = dose_rows(patient, grid)
        points = voxel_centres_mm(grid, rows)
        red = patient.relative_electron_density
        # float32: the table of every row × beam is the engine's largest array
        # (9 beams × 500 k rows at 3 mm: 72 MiB instead of 144); mm and depth
        # ratios need no more than float32's 7 digits
        coords = np.empty((len(beams), rows.size, 4), dtype=np.float32)
        tables_parts = []
        offsets = []
        max_depth = 0.0
        frames = [beam.frame(position) for beam in beams]
        # one ray-trace call for every beam (the kernel balances all rays over the threads)
        depths = radiological_depths(red, [f.source_mm for f in frames], [points] * len(frames))
        for b, beam in enumerate(beams):
            frame = frames[b]
            uvw = frame.to_beam(points)
            ahead = uvw[:, 2] > 1.0
            coords[b, :, 0:2] = project_to_isocenter_plane(
                beam, np.where(ahead[:, None], points, frame.isocenter_mm), position
            )
            coords[b, :, 2] = uvw[:, 2] / sad
            depth = depths[b]
            depths[b] = None  # free each beam's depths once copied into coords
            depth[~ahead] = -1.0
            coords[b, :, 3] = depth
            max_depth = max(max_depth, float(depth.max(initial=0.0)))
            if bixels is None:
                positions = photon_bixel_positions(
                    beam,
                    target_structure,
                    position=position,
                    bixel_mm=self.bixel_mm,
                    margin_mm=self.target_margin_mm,
                )
                offset = np.zeros(2)
            else:
                positions, offset = _explicit_bixels(bixels[b], self.bixel_mm, beam)
            coords[b, :, 0:2] -= offset  # the kernels see a lattice through the origin
            offsets.append(offset)
            tables_parts.append(positions)
        lut, origin, table, cells = _lattice(beams, tables_parts, offsets, self.bixel_mm)
        ahead_g = coords[:, :, 2][coords[:, :, 3] >= 0]
        min_divergence = float(ahead_g.min()) if ahead_g.size else 1.0
        if min_divergence < _MIN_DISTANCE_FRACTION:
            raise GeometryError(
                f"patient voxels lie {min_divergence * sad:.0f} mm from a beam's source (less than "
                f"{_MIN_DISTANCE_FRACTION:.0%} of the {sad:.0f} mm source-axis distance): the "
                "patient overlaps the treatment head; check the isocentre and the beam angles"
            )
        max_divergence = float(ahead_g.max()) if ahead_g.size else 1.0
        _, amplitudes, sigmas, cutoff, broad = self.tables(
            max_depth, min_divergence=min_divergence, max_divergence=max_divergence
        )
        coords = np.ascontiguousarray(coords)
        scatter = None
        if broad.any():
            scatter = build_scatter(
                rows=rows,
                n_voxels=grid.n_voxels,
                coords=coords,
                cells=cells,
                depth_step_mm=_DEPTH_STEP_MM,
                amplitudes=amplitudes[broad],
                sigmas_mm=sigmas[broad],
                bixel_mm=self.bixel_mm,
            )
            amplitudes = np.ascontiguousarray(amplitudes[~broad])
            sigmas = np.ascontiguousarray(sigmas[~broad])
        counts = count_entries(coords, lut, origin, self.bixel_mm, _DEPTH_STEP_MM, cutoff)
        row_start = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(counts, out=row_start[1:])
        nnz = int(row_start[-1])
        check_nnz(nnz, "PhotonPencilBeam")
        columns = np.empty(nnz, dtype=np.int32)
        values = np.empty(nnz, dtype=np.float32)
        written = fill_entries(
            coords,
            lut,
            origin,
            self.bixel_mm,
            _DEPTH_STEP_MM,
            cutoff,
            amplitudes,
            sigmas,
            row_start,
            columns,
            values,
        )
        if not np.array_equal(written, counts):
            raise RuntimeError(
                "PhotonPencilBeam: the fill pass disagrees with the count pass (a bug)"
            )
        import scipy.sparse as sparse

        indptr = np.zeros(grid.n_voxels + 1, dtype=np.int64)
        per_voxel = np.zeros(grid.n_voxels, dtype=np.int64)
        per_voxel[rows] = counts
        np.cumsum(per_voxel, out=indptr[1:])
        matrix = sparse.csr_array(
            (values, columns, indptr.astype(np.int32)), shape=(grid.n_voxels, len(table))
        )
        return DoseInfluence(
            matrix=matrix,
            scatter=scatter,
            dose_grid=grid,
            beamlets=table,
            engine=self,
            provenance={
                "patient_fingerprint": patient.fingerprint,
                "engine": "PhotonPencilBeam",
                "seconds": time.perf_counter() - started,
                "rows_with_dose": int(rows.size),
                "cutoff_fraction_bound": self.cutoff_fraction,
                "broad_components": int(broad.sum()),
            },
        )


def _explicit_bixels(
    centers: ArrayLike, bixel_mm: float, beam: Beam
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Sorted explicit bixel centres and the offset of their lattice from the central axis."""
    positions = np.asarray(centers, dtype=np.float64)
    if positions.ndim != 2 or positions.shape[1] != 2 or len(positions) == 0:
        raise GeometryError(
            f"bixels of beam {beam.name} must be a non-empty (n, 2) array; got {positions.shape}"
        )
    offset = np.mod(positions[0], bixel_mm)
    cells = (positions - offset) / bixel_mm
    if not np.allclose(cells, np.rint(cells), atol=1e-6):
        raise GeometryError(
            f"bixels of beam {beam.name} must lie on one lattice of pitch bixel_mm = {bixel_mm:g} mm"
        )
    unique = np.unique(np.rint(cells).astype(np.int64), axis=0)
    if len(unique) != len(cells):
        raise GeometryError(f"bixels of beam {beam.name} repeat a lattice position")
    order = np.lexsort((unique[:, 0], unique[:, 1]))
    return unique[order].astype(np.float64) * bixel_mm + offset, offset


def _with_sad(beam: Beam, sad: float) -> Beam:
    from dataclasses import replace

    return replace(beam, source_axis_distance_mm=sad)


def _lattice(
    beams: tuple[Beam, ...],
    positions: list[NDArray[np.float64]],
    offsets: list[NDArray[np.float64]],
    bixel_mm: float,
) -> tuple[NDArray[np.int32], NDArray[np.int64], BeamletTable, list[NDArray[np.int64]]]:
    """Per-beam lookup tables lattice cell → column, the beamlet table and each beam's cells."""
    cells = [
        np.rint((p - o) / bixel_mm).astype(np.int64)
        for p, o in zip(positions, offsets, strict=True)
    ]
    origin = np.array([c.min(axis=0) for c in cells], dtype=np.int64)
    extent = np.max([c.max(axis=0) - o + 1 for c, o in zip(cells, origin, strict=True)], axis=0)
    lut = np.full((len(beams), int(extent[0]), int(extent[1])), -1, dtype=np.int32)
    column = 0
    for b, c in enumerate(cells):
        local = c - origin[b]
        lut[b, local[:, 0], local[:, 1]] = np.arange(column, column + len(c), dtype=np.int32)
        column += len(c)
    table = BeamletTable(
        beams=beams,
        beam_index=np.concatenate([np.full(len(c), b, np.int32) for b, c in enumerate(cells)]),
        position_mm=np.concatenate(positions),
        energy_mev=np.full(column, np.nan),
        size_mm=np.full(column, bixel_mm),
    )
    return lut, origin, table, cells


def lateral_cutoff_mm(
    amplitudes: NDArray[np.float64],
    sigmas_mm: NDArray[np.float64],
    bixel_mm: float,
    fraction: float,
    *,
    total: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Reach beyond a bixel's edge that keeps all but ``fraction`` of its dose integral.

    For each depth sample, the smallest ``c`` (mm) such that the part of the
    bixel's lateral dose integral outside the square of half-width
    ``bixel/2 + c`` is at most ``fraction`` of the whole (sum over
    components of Aᵢ times the 2-D Gaussian-⊗-square integral). ``total``
    (per depth) is the integral the fraction refers to, when it includes
    components not in ``amplitudes`` (those applied by convolution, which
    drop nothing); by default the sum of ``amplitudes``.
    """
    from scipy import special

    total = amplitudes.sum(axis=0) if total is None else np.asarray(total, dtype=np.float64)
    candidates = np.concatenate(([0.0], np.geomspace(0.25, 2000.0, 200)))
    cutoff = np.zeros(amplitudes.shape[1])
    half = 0.5 * bixel_mm
    for depth in range(amplitudes.shape[1]):
        if total[depth] <= 0:
            continue
        a = amplitudes[:, depth][:, None]
        s = np.maximum(sigmas_mm[:, depth], 1e-6)[:, None]
        limit = half + candidates[None, :]
        # fraction of a Gaussian-blurred slit [-h, h] that falls inside [-L, L]
        captured = _slit_fraction_inside(limit, half, s, special)
        lost = (a * (1.0 - captured**2)).sum(axis=0) / total[depth]
        good = np.flatnonzero(lost <= fraction)
        cutoff[depth] = candidates[good[0]] if good.size else candidates[-1]
    return cutoff


def _slit_fraction_inside(limit, half, sigma, special):
    """∫_{-L}^{L} (slit of half-width h ⊗ Gaussian σ) dx / (2h), closed form."""

    def antiderivative(x):  # ∫ erf(x / (√2 σ)) dx
        z = x / (np.sqrt(2.0) * sigma)
        return x * special.erf(z) + np.sqrt(2.0 / np.pi) * sigma * np.exp(-(z**2))

    # F(x) = 0.5 [erf((x + h)/√2σ) − erf((x − h)/√2σ)]
    integral = 0.5 * (
        antiderivative(limit + half)
        - antiderivative(-limit + half)
        - antiderivative(limit - half)
        + antiderivative(-limit - half)
    )
    return np.clip(integral / (2.0 * half), 0.0, 1.0)
