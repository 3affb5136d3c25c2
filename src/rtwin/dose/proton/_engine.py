"""The proton spot-scanning pencil-beam engine."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rtwin.anatomy import Image, Structure
from rtwin.beams import Beam
from rtwin.dose._common import check_nnz, dose_rows, voxel_centres_mm
from rtwin.dose._influence import BeamletTable, DoseInfluence
from rtwin.dose._raytrace import trace_rays
from rtwin.dose.proton._kernels import count_entries, fill_entries, rows_in_reach
from rtwin.dose.proton._layout import (
    EnergyLimits,
    PeakDepths,
    SpotLayout,
    _layout,
    beam_view,
    check_layout_options,
    resolve_target,
    target_sample_step_mm,
    target_samples,
    target_views,
    with_machine_sad,
)
from rtwin.dose.proton._machine import DepthDoseTable, ProtonMachine
from rtwin.dose.proton._physics import GY_PER_MEV_PER_MM3_WATER, ProtonPhysicsError
from rtwin.dose.proton._tables import EngineTables, engine_tables
from rtwin.errors import GeometryError
from rtwin.geometry import Grid
from rtwin.patient import Patient

__all__ = ["PROTONS_PER_WEIGHT", "ProtonPencilBeam"]

#: Number of protons in one unit of spot weight (the weight unit of the matrix columns).
PROTONS_PER_WEIGHT = 1.0e6


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class ProtonPencilBeam:
    """Proton spot-scanning pencil-beam dose engine (dose to water).

    The dose per unit weight (10⁶ protons) of a spot of energy E at a voxel is

        D = 10⁶ · IDD_E(WED) · exp(−r²/2σ²)/(2πσ²) · 1.602176634e-7 Gy·mm³/MeV

    with IDD_E the machine's Bortfeld integral depth dose (MeV/mm per proton,
    :meth:`ProtonMachine.depth_dose_table`), WED the voxel's water-equivalent
    depth along the ray from the beam's virtual source to the voxel centre
    (Siddon ray trace through the stopping-power-ratio image), r the
    distance of the voxel from the spot's central ray — the line from the
    virtual source through the spot's position in the isocentre plane —
    measured perpendicular to the beam axis, and σ² = σ_air(E)² +
    σ_MCS(WED; E)².

    Parameters
    ----------
    machine
        Proton machine (energies, spot size in air, energy spread, virtual
        SAD); :meth:`ProtonMachine.generic` by default.
    spot_spacing_mm
        Pitch of the square spot lattice in the isocentre plane (mm).
    layer_spacing_mm
        Spacing of energy layers in Bragg-peak water-equivalent depth (mm).
    lateral_margin_mm, distal_margin_mm, proximal_margin_mm
        Margins of the spot layout around the target (see
        :func:`~rtwin.dose.proton.proton_spot_layout`).
    cutoff_fraction
        Largest fraction of each spot's dose in a plane that the lateral
        cutoff may drop (default 0.1 %): entries lie within
        r ≤ σ·√(−2 ln f) of the spot's ray (3.72 σ for 0.1 %), which for a 2-D
        Gaussian drops exactly the fraction f. Inside a broad field the
        dropped tails of the neighbouring spots add up: the field dose is
        low by about 1.6 f … 2.2 f (measured: about 2 % at f = 1 %), so keep
        f small for absolute dose.
    depth_step_mm
        WED sampling of the IDD and σ tables (mm, linear interpolation);
        0.25 mm keeps every peak of the generic machine within 0.3 %.
    energy_limits
        ``"raise"`` or ``"clamp"`` when a target needs energies outside the
        machine's range (see :func:`~rtwin.dose.proton.proton_spot_layout`).

    Notes
    -----
    *Conventions.* One unit of spot weight is 10⁶ protons
    (:data:`PROTONS_PER_WEIGHT`), so a spot gives doses of order 10⁻³ Gy per
    unit weight. The quantity is **dose to water**: the water IDD at the
    voxel's WED, as in most pencil-beam planning systems; dose to medium
    would be this times (S/ρ)_medium/(S/ρ)_water. Columns are ordered by
    beam, then energy layer from the highest energy to the lowest, then
    ``v``, then ``u`` (the order of :class:`SpotLayout`); the
    :class:`~rtwin.dose.BeamletTable` holds each spot's energy and
    ``size_mm`` = the spot spacing. Rows are the voxels of the dose grid in
    C order; only voxels inside the patient's external structure get dose.

    *Geometry.* Spot positions diverge from the virtual source (SAD of the
    machine, which replaces the beams' SAD); a spot's lateral Gaussian is
    normalised in each plane, so there is no inverse-square factor (the
    laterally integrated IDD already is the energy per mm of the whole
    spot). σ_air is the machine's spot size in air at the isocentre, held
    constant along the beam (no change of the in-air spot size with
    distance from the source).

    *Limits.* No nuclear halo: the part of the nuclear-interaction energy
    that Bortfeld's model deposits "locally" is put in the Gaussian core, so
    the field-size dependence of the dose is missed (a few per cent for
    large fields). Heterogeneities enter only through the WED along each
    voxel's ray: multiple scattering is scaled like stopping (σ_MCS at the
    WED, no density- or material-dependent scattering power: bone scatters
    more and lung less per water-equivalent mm), and lateral heterogeneities
    within a spot are not resolved (no spot splitting), so range mixing
    behind oblique interfaces is approximate. No range shifter, no
    aperture, no entrance build-up.

    References
    ----------
    .. [1] Bortfeld T. An analytical approximation of the Bragg curve for
       therapeutic proton beams. Med Phys 24:2024 (1997), doi:10.1118/1.598116
    .. [2] Hong L et al. A pencil beam algorithm for proton dose calculations.
       Phys Med Biol 41:1305 (1996), doi:10.1088/0031-9155/41/8/005
    .. [3] Wieser H-P et al. Development of the open-source dose calculation
       and optimization toolkit matRad. Med Phys 44:2556 (2017),
       doi:10.1002/mp.12251

    Examples
    --------
    >>> import numpy as np
    >>> import rtwin
    >>> patient = rtwin.phantoms.water_box(size_mm=120, voxel_mm=6, target_radius_mm=12)
    >>> beam = rtwin.beams.Beam(modality="proton", gantry_deg=0, isocenter_mm=(0, 0, 0))
    >>> influence = rtwin.dose.ProtonPencilBeam().influence(patient, [beam])
    >>> influence.n_beamlets, round(float(influence.beamlets.energy_mev.max()), 1)
    (331, 98.8)
    >>> dose = influence.dose(np.ones(influence.n_beamlets))   # 1e6 protons per spot
    >>> 0.1 < dose.max_gy < 1.0
    True
    """

    machine: ProtonMachine = field(default_factory=ProtonMachine.generic)
    spot_spacing_mm: float = 5.0
    layer_spacing_mm: float = 3.0
    lateral_margin_mm: float = 5.0
    distal_margin_mm: float = 3.0
    proximal_margin_mm: float = 3.0
    cutoff_fraction: float = 0.001
    depth_step_mm: float = 0.25
    energy_limits: EnergyLimits = "raise"

    def __post_init__(self) -> None:
        if not isinstance(self.machine, ProtonMachine):
            raise ProtonPhysicsError(
                "machine must be a ProtonMachine (e.g. ProtonMachine.generic()); "
                f"got {type(self.machine).__name__}"
            )
        check_layout_options(
            spot_spacing_mm=self.spot_spacing_mm,
            layer_spacing_mm=self.layer_spacing_mm,
            lateral_margin_mm=self.lateral_margin_mm,
            distal_margin_mm=self.distal_margin_mm,
            proximal_margin_mm=self.proximal_margin_mm,
            energy_limits=self.energy_limits,
        )
        if not (0 < self.cutoff_fraction < 0.5):
            raise GeometryError(
                f"cutoff_fraction must be in (0, 0.5); got {self.cutoff_fraction!r}"
            )
        if not (math.isfinite(self.depth_step_mm) and 0 < self.depth_step_mm <= 1.0):
            raise GeometryError(
                f"depth_step_mm must be in (0, 1] mm (0.25-0.5 mm is usual); "
                f"got {self.depth_step_mm!r}"
            )

    # ------------------------------------------------------------------ pieces
    @property
    def cutoff_radius_sigmas(self) -> float:
        """Radius of the lateral cutoff in units of σ: √(−2 ln f) (3.035 for f = 1 %)."""
        return math.sqrt(-2.0 * math.log(self.cutoff_fraction))

    def depth_table(self, energies_mev: Sequence[float] | NDArray[np.float64]) -> DepthDoseTable:
        """The machine's IDD and σ tables at ``energies_mev`` on this engine's WED step.

        :meth:`influence` evaluates the same curves with compiled kernels
        (without the R80 and peak searches of this table); the IDD agrees to
        rounding, to ~1e-9 relative where the parabolic cylinder function's
        series cancels (2–6 σ beyond R₀), and σ to 1e-15.
        """
        return self.machine.depth_dose_table(energies_mev, depth_step_mm=self.depth_step_mm)

    def spot_layouts(
        self,
        patient: Patient,
        beams: Sequence[Beam],
        *,
        target: str | Structure | None = None,
    ) -> tuple[SpotLayout, ...]:
        """The spot layout of each beam with this engine's spacings and margins.

        See :func:`~rtwin.dose.proton.proton_spot_layout`; ``influence``
        uses these layouts when no ``spots`` are given.
        """
        return self._spot_layouts(patient, beams, target, patient.stopping_power_ratio)

    def _spot_layouts(
        self,
        patient: Patient,
        beams: Sequence[Beam],
        target: str | Structure | None,
        spr: Image,
    ) -> tuple[SpotLayout, ...]:
        beams = _checked_beams(beams, self.machine)
        structure = resolve_target(patient, target)
        peaks = PeakDepths.of(self.machine)
        points = target_samples(
            structure, target_sample_step_mm(self.spot_spacing_mm, self.layer_spacing_mm)
        )
        views = target_views(beams, patient, structure, spr, points)
        return tuple(
            _layout(
                beam,
                patient,
                structure,
                self.machine,
                peaks,
                spr,
                spot_spacing_mm=self.spot_spacing_mm,
                layer_spacing_mm=self.layer_spacing_mm,
                lateral_margin_mm=self.lateral_margin_mm,
                distal_margin_mm=self.distal_margin_mm,
                proximal_margin_mm=self.proximal_margin_mm,
                energy_limits=self.energy_limits,
                view=view,
            )
            for beam, view in zip(beams, views, strict=True)
        )

    # ------------------------------------------------------------------ matrix
    def influence(
        self,
        patient: Patient,
        beams: Sequence[Beam],
        *,
        dose_grid: Grid | None = None,
        target: str | Structure | None = None,
        spots: Sequence[SpotLayout] | None = None,
    ) -> DoseInfluence:
        """The dose-influence matrix of the spots of ``beams`` on ``patient``.

        Parameters
        ----------
        patient
            The twin; its stopping-power-ratio image drives the ray tracing.
        beams
            Proton beams (their SAD is replaced by the machine's).
        dose_grid
            Grid of the matrix rows; the patient's grid when omitted.
        target
            Structure (or its name) the spots must cover; the union of the
            patient's targets when omitted. Ignored when ``spots`` is given.
        spots
            One :class:`SpotLayout` per beam, replacing the target-based
            layout (e.g. a single pristine spot or a fixed field).

        Returns
        -------
        DoseInfluence
            CSR float32/int32, Gy per unit weight (10⁶ protons); columns by
            beam, layer (energy high → low), ``v``, ``u``.

        Raises
        ------
        GeometryError
            No beams, a non-proton beam, ``spots`` not one layout per beam.
        ProtonPhysicsError
            The target needs energies outside the machine (see
            ``energy_limits``), or explicit spots with such energies.
        """
        started = time.perf_counter()
        if not isinstance(patient, Patient):
            raise GeometryError(f"patient must be an rtwin Patient; got {type(patient).__name__}")
        beams = _checked_beams(beams, self.machine)
        grid = patient.grid if dose_grid is None else dose_grid
        if not isinstance(grid, Grid):
            raise GeometryError(f"dose_grid must be an rtwin Grid; got {type(grid).__name__}")
        spr = patient.stopping_power_ratio
        if spots is None:
            layouts = self._spot_layouts(patient, beams, target, spr)
        else:
            layouts = tuple(spots)
            if len(layouts) != len(beams) or not all(
                isinstance(layout, SpotLayout) for layout in layouts
            ):
                raise GeometryError(
                    f"spots must give one SpotLayout per beam; got {len(layouts)} item(s) "
                    f"for {len(beams)} beam(s)"
                )
        spacings = sorted({layout.spot_spacing_mm for layout in layouts})
        if len(spacings) > 1:
            raise GeometryError(
                f"all spot layouts of one influence matrix must share one spot spacing; got {spacings} mm"
            )
        layout_done = time.perf_counter()

        energies = np.unique(np.concatenate([layout.energies_mev for layout in layouts]))
        tables = engine_tables(
            self.machine,
            energies,
            depth_step_mm=self.depth_step_mm,
            scale=GY_PER_MEV_PER_MM3_WATER * PROTONS_PER_WEIGHT,
        )
        radius_factor_squared = -2.0 * math.log(self.cutoff_fraction)
        tables_done = time.perf_counter()

        rows = dose_rows(patient, grid)
        # no spot reaches farther than the cutoff radius of the widest σ in the tables,
        # and no spot of a beam gives dose deeper than the deepest R0 + 10 σ of its layers
        reach_mm = math.sqrt(radius_factor_squared) * float(tables.sigma.max()) * (1.0 + 1e-9)
        deepest_mm = [
            float(tables.last_depth[np.searchsorted(energies, layout.energies_mev)].max())
            for layout in layouts
        ]
        coords = self._coordinates(patient, spr, beams, layouts, grid, rows, reach_mm, deepest_mm)
        trace_done = time.perf_counter()

        arguments = _kernel_arguments(coords, layouts, energies, tables, radius_factor_squared)
        counts, layer_used = count_entries(*arguments)
        row_start = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(counts, out=row_start[1:])
        nnz = int(row_start[-1])
        check_nnz(nnz, "ProtonPencilBeam")
        columns = np.empty(nnz, dtype=np.int32)
        values = np.empty(nnz, dtype=np.float32)
        written = fill_entries(
            *arguments, layer_used, row_start, _balanced_chunks(counts), columns, values
        )
        if not np.array_equal(written, counts):  # pragma: no cover - kernel invariant
            raise RuntimeError("proton kernel passes disagree on the number of matrix entries")

        import scipy.sparse as sparse

        per_voxel = np.zeros(grid.n_voxels, dtype=np.int64)
        per_voxel[rows] = counts
        indptr = np.zeros(grid.n_voxels + 1, dtype=np.int64)
        np.cumsum(per_voxel, out=indptr[1:])
        index_dtype = np.int32
        beamlets = _beamlet_table(beams, layouts)
        matrix = sparse.csr_array(
            (values, columns, indptr.astype(index_dtype)), shape=(grid.n_voxels, len(beamlets))
        )
        finished = time.perf_counter()
        return DoseInfluence(
            matrix=matrix,
            dose_grid=grid,
            beamlets=beamlets,
            engine=self,
            provenance={
                "patient_fingerprint": patient.fingerprint,
                "engine": "ProtonPencilBeam",
                "machine": self.machine.name,
                "quantity": "dose to water (Gy per 1e6 protons)",
                "protons_per_weight": PROTONS_PER_WEIGHT,
                "seconds": finished - started,
                "seconds_layout": layout_done - started,
                "seconds_tables": tables_done - layout_done,
                "seconds_ray_trace": trace_done - tables_done,
                "seconds_assembly": finished - trace_done,
                "rows_with_dose": int(rows.size),
                "spots_per_beam": [layout.n_spots for layout in layouts],
                "layers_per_beam": [layout.n_layers for layout in layouts],
                "cutoff_fraction_bound": self.cutoff_fraction,
            },
        )

    def _coordinates(
        self,
        patient: Patient,
        spr: Image,
        beams: tuple[Beam, ...],
        layouts: tuple[SpotLayout, ...],
        grid: Grid,
        rows: NDArray[np.int64],
        reach_mm: float,
        deepest_mm: Sequence[float],
    ) -> NDArray[np.float64]:
        """``(n_beams, 4, n_rows)``: (u, v) in the isocentre plane minus the lattice offset, g, WED.

        Only the voxels that some spot of the beam may reach (within
        ``reach_mm`` at the voxel, see :func:`rows_in_reach`) are ray traced;
        the others get WED −1 (no dose), as do voxels behind the source. Rays
        stop at ``deepest_mm[b]``, beyond which beam b gives no dose (such
        voxels get some WED ≥ that depth).
        """
        position = str(patient.position.value)
        points = voxel_centres_mm(grid, rows)
        sad = float(self.machine.sad_mm)
        coords = np.empty((len(beams), 4, rows.size))
        traced, sources = [], []
        for b, (beam, layout) in enumerate(zip(beams, layouts, strict=True)):
            uvw, projected = beam_view(beam, points, position)
            w = uvw[2]
            np.subtract(projected, layout.lattice_offset_mm[:, None], out=coords[b, :2])
            np.divide(w, sad, out=coords[b, 2])
            covered, origin = _covered_cells(layout)
            reachable = rows_in_reach(
                coords[b, :3],
                covered,
                int(origin[0]),
                int(origin[1]),
                float(layout.spot_spacing_mm),
                reach_mm,
            )
            traced.append(np.flatnonzero((w > 1.0) & reachable))
            sources.append(beam.frame(position).source_mm)
        depths = trace_rays(
            spr,
            sources,
            points,
            np.repeat(np.arange(len(beams)), [t.size for t in traced]),
            np.concatenate(traced),
            deepest_mm,
        )
        start = 0
        for b, rows_traced in enumerate(traced):
            coords[b, 3] = -1.0
            coords[b, 3, rows_traced] = depths[start : start + rows_traced.size]
            start += rows_traced.size
        return coords


def _checked_beams(beams: Sequence[Beam], machine: ProtonMachine) -> tuple[Beam, ...]:
    checked = tuple(with_machine_sad(beam, machine) for beam in beams)
    if not checked:
        raise GeometryError("influence needs at least one beam")
    return checked


def _spot_cells(layout: SpotLayout) -> NDArray[np.int64]:
    """``(n_spots, 2)`` lattice indices ``(iu, iv)`` of the spots (offset removed)."""
    return np.rint((layout.position_mm - layout.lattice_offset_mm) / layout.spot_spacing_mm).astype(
        np.int64
    )


def _covered_cells(layout: SpotLayout) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Summed-area table ``(n_v + 1, n_u + 1)`` of the cells holding a spot of any layer, and its origin."""
    cells = _spot_cells(layout)
    origin = cells.min(axis=0)
    local = cells - origin
    extent = local.max(axis=0) + 1
    occupied = np.zeros((int(extent[1]), int(extent[0])), dtype=np.int64)
    occupied[local[:, 1], local[:, 0]] = 1
    covered = np.zeros((occupied.shape[0] + 1, occupied.shape[1] + 1), dtype=np.int64)
    covered[1:, 1:] = occupied.cumsum(axis=0).cumsum(axis=1)
    return covered, origin


def _lattice(
    layouts: tuple[SpotLayout, ...],
) -> tuple[
    NDArray[np.int32],
    NDArray[np.int32],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.int64],
    NDArray[np.float64],
]:
    """Lookup tables of the kernels (see ``_kernels``): lut, spots_before, origins, layers, lattices, energies.

    ``lut[layer, iv, iu]`` is the column of the spot at ``(iu, iv) +
    origin[layer]`` or −1; ``spots_before[layer, iv, iu]`` counts the spots
    of that line left of ``iu``; ``bounds[layer]`` is the origin and the
    ``iu`` and ``iv`` ranges of the layer's spots; ``beam_lattice[b]`` is the
    smallest lattice index of beam b's layer tables and the width of the
    lattice they span.
    """
    cells = np.concatenate([_spot_cells(layout) for layout in layouts])
    first_layer = np.cumsum([0] + [layout.n_layers for layout in layouts])
    layer = np.concatenate(
        [layout.layer.astype(np.int64) + first_layer[b] for b, layout in enumerate(layouts)]
    )
    starts = np.flatnonzero(np.r_[True, np.diff(layer) != 0])  # spots are sorted by layer
    origin = np.minimum.reduceat(cells, starts, axis=0)
    highest = np.maximum.reduceat(cells, starts, axis=0)
    extent = (highest - origin).max(axis=0) + 1
    n_layers = int(first_layer[-1])
    lut = np.full((n_layers, int(extent[1]), int(extent[0])), -1, dtype=np.int32)
    local = cells - origin[layer]
    lut[layer, local[:, 1], local[:, 0]] = np.arange(layer.size, dtype=np.int32)
    spots_before = np.zeros((n_layers, lut.shape[1], lut.shape[2] + 1), dtype=np.int32)
    np.cumsum(lut >= 0, axis=2, out=spots_before[:, :, 1:])
    energies = np.concatenate([layout.energies_mev for layout in layouts])
    beam_lattice = np.empty((len(layouts), 4), dtype=np.int64)
    for b in range(len(layouts)):
        layers = slice(first_layer[b], first_layer[b + 1])
        base = origin[layers].min(axis=0)
        beam_lattice[b, :2] = base
        beam_lattice[b, 2:] = (origin[layers] - base).max(axis=0) + extent
    bounds = np.column_stack((origin, origin[:, 0], highest[:, 0], origin[:, 1], highest[:, 1]))
    return lut, spots_before, bounds, first_layer.astype(np.int64), beam_lattice, energies


def _kernel_arguments(
    coords: NDArray[np.float64],
    layouts: tuple[SpotLayout, ...],
    energies: NDArray[np.float64],
    tables: EngineTables,
    radius_factor_squared: float,
) -> tuple[object, ...]:
    """The arguments :func:`count_entries` and :func:`fill_entries` share (see ``_kernels``)."""
    lut, spots_before, layer_bounds, beam_layers, beam_lattice, layer_energy = _lattice(layouts)
    layer_table = np.searchsorted(energies, layer_energy)
    # per depth, the layers' IDD and σ side by side (the kernel reads one depth row per voxel)
    layer_tables = np.ascontiguousarray(
        np.stack((tables.idd[layer_table].T, tables.sigma[layer_table].T), axis=-1)
    )
    widest = np.array(
        [
            tables.sigma[layer_table[beam_layers[b] : beam_layers[b + 1]]].max()
            for b in range(len(layouts))
        ]
    )
    return (
        coords,
        lut,
        spots_before,
        layer_bounds,
        beam_layers,
        beam_lattice,
        math.sqrt(radius_factor_squared) * widest * (1.0 + 1e-9),
        layer_tables,
        np.ascontiguousarray(tables.last_depth[layer_table]),
        float(layouts[0].spot_spacing_mm),
        tables.depth_step_mm,
        radius_factor_squared,
    )


#: Chunks of rows of equal work in the fill pass (handed to the threads in interleaved lanes).
_FILL_CHUNKS = 256
#: Work of a row besides its entries, in units of one entry (the per-layer setup).
_ROW_OVERHEAD = 8


def _balanced_chunks(counts: NDArray[np.int64]) -> NDArray[np.int64]:
    """Row boundaries ``(n_chunks + 1,)`` of chunks holding equal shares of entries plus row overhead."""
    work = np.cumsum(counts + _ROW_OVERHEAD * (counts > 0))  # rows without entries are skipped
    n_chunks = max(min(_FILL_CHUNKS, counts.size), 1)
    targets = work[-1] * np.arange(1, n_chunks) / n_chunks if counts.size else np.zeros(0)
    inner = np.searchsorted(work, targets, side="right")
    return np.concatenate(([0], inner, [counts.size])).astype(np.int64)


def _beamlet_table(beams: tuple[Beam, ...], layouts: tuple[SpotLayout, ...]) -> BeamletTable:
    return BeamletTable(
        beams=beams,
        beam_index=np.concatenate(
            [np.full(layout.n_spots, b, np.int32) for b, layout in enumerate(layouts)]
        ),
        position_mm=np.concatenate([layout.position_mm for layout in layouts]),
        energy_mev=np.concatenate([layout.spot_energy_mev for layout in layouts]),
        size_mm=np.concatenate(
            [np.full(layout.n_spots, layout.spot_spacing_mm) for layout in layouts]
        ),
    )
