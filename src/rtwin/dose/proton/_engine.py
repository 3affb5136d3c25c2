"""The proton spot-scanning pencil-beam engine."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from rtwin.anatomy import Image, Structure
from rtwin.beams import Beam, project_to_isocenter_plane
from rtwin.dose._common import check_nnz, dose_rows
from rtwin.dose._influence import BeamletTable, DoseInfluence
from rtwin.dose._raytrace import radiological_depth
from rtwin.dose.proton._kernels import count_entries, fill_entries
from rtwin.dose.proton._layout import (
    EnergyLimits,
    PeakDepths,
    SpotLayout,
    _layout,
    check_layout_options,
    resolve_target,
    with_machine_sad,
)
from rtwin.dose.proton._machine import DepthDoseTable, ProtonMachine
from rtwin.dose.proton._physics import GY_PER_MEV_PER_MM3_WATER, ProtonPhysicsError
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
        """The machine's IDD and σ tables at ``energies_mev`` on this engine's WED step."""
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
            )
            for beam in beams
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
        table = self.depth_table(energies)
        step = table.depth_step_mm
        idd = np.ascontiguousarray(
            table.idd_mev_per_mm * (GY_PER_MEV_PER_MM3_WATER * PROTONS_PER_WEIGHT)
        )
        sigma = np.ascontiguousarray(table.lateral_sigma_mm)
        last_depth = np.minimum(table.max_depth_mm, float(table.depths_mm[-1]))
        tables_done = time.perf_counter()

        rows = dose_rows(patient, grid)
        coords = self._coordinates(patient, spr, beams, layouts, grid, rows)
        trace_done = time.perf_counter()

        lut, layer_origin, beam_layers, layer_energy = _lattice(layouts)
        layer_table = np.searchsorted(energies, layer_energy).astype(np.int64)
        arguments = (
            coords,
            lut,
            layer_origin,
            beam_layers,
            layer_table,
            float(layouts[0].spot_spacing_mm),
            step,
            idd,
            sigma,
            last_depth,
            -2.0 * math.log(self.cutoff_fraction),
        )
        counts = count_entries(*arguments)
        row_start = np.zeros(rows.size + 1, dtype=np.int64)
        np.cumsum(counts, out=row_start[1:])
        nnz = int(row_start[-1])
        check_nnz(nnz, "ProtonPencilBeam")
        columns = np.empty(nnz, dtype=np.int32)
        values = np.empty(nnz, dtype=np.float32)
        written = fill_entries(*arguments, row_start, columns, values)
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
    ) -> NDArray[np.float64]:
        """Per beam and row: (u, v) in the isocentre plane minus the lattice offset, g, WED."""
        position = str(patient.position.value)
        k, j, i = np.unravel_index(rows, grid.shape)
        points = grid.index_to_patient(np.column_stack((i, j, k)).astype(np.float64))
        sad = float(self.machine.sad_mm)
        coords = np.empty((len(beams), rows.size, 4))
        for b, (beam, layout) in enumerate(zip(beams, layouts, strict=True)):
            frame = beam.frame(position)
            w = frame.to_beam(points)[:, 2]
            ahead = w > 1.0
            coords[b, :, 0:2] = project_to_isocenter_plane(
                beam, np.where(ahead[:, None], points, frame.isocenter_mm), position
            )
            coords[b, :, 0:2] -= layout.lattice_offset_mm
            coords[b, :, 2] = w / sad
            depth = radiological_depth(spr, frame.source_mm, points)
            depth[~ahead] = -1.0
            coords[b, :, 3] = depth
        return np.ascontiguousarray(coords)


def _checked_beams(beams: Sequence[Beam], machine: ProtonMachine) -> tuple[Beam, ...]:
    checked = tuple(with_machine_sad(beam, machine) for beam in beams)
    if not checked:
        raise GeometryError("influence needs at least one beam")
    return checked


def _lattice(
    layouts: tuple[SpotLayout, ...],
) -> tuple[NDArray[np.int32], NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Per-layer lookup tables lattice cell → column, their origins, layers per beam, energies."""
    cells_per_layer: list[NDArray[np.int64]] = []
    energies: list[float] = []
    beam_layers = [0]
    for layout in layouts:
        cells = np.rint(
            (layout.position_mm - layout.lattice_offset_mm) / layout.spot_spacing_mm
        ).astype(np.int64)
        bounds = np.searchsorted(layout.layer, np.arange(layout.n_layers + 1))
        for layer in range(layout.n_layers):
            cells_per_layer.append(cells[bounds[layer] : bounds[layer + 1]])
            energies.append(float(layout.energies_mev[layer]))
        beam_layers.append(beam_layers[-1] + layout.n_layers)
    origin = np.array([c.min(axis=0) for c in cells_per_layer], dtype=np.int64)
    extent = np.max(
        [c.max(axis=0) - o + 1 for c, o in zip(cells_per_layer, origin, strict=True)], axis=0
    )
    lut = np.full((len(cells_per_layer), int(extent[0]), int(extent[1])), -1, dtype=np.int32)
    column = 0
    for layer, cells in enumerate(cells_per_layer):
        local = cells - origin[layer]
        lut[layer, local[:, 0], local[:, 1]] = np.arange(
            column, column + len(cells), dtype=np.int32
        )
        column += len(cells)
    return lut, origin, np.array(beam_layers, dtype=np.int64), np.array(energies)


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
