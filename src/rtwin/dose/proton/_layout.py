"""Proton spot layouts: lateral spot lattices and energy layers that cover a target."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin._arrays import frozen
from rtwin.anatomy import Image, Structure
from rtwin.beams import Beam, BeamModality
from rtwin.dose._common import affine_points, resolve_target
from rtwin.dose._raytrace import trace_rays
from rtwin.dose.proton._kernels import beam_coordinates, mark_layers
from rtwin.dose.proton._machine import ProtonMachine
from rtwin.dose.proton._physics import ProtonPhysicsError
from rtwin.dose.proton._range_energy import csda_range_mm, energy_for_csda_range
from rtwin.dose.proton._tables import peak_depths_mm
from rtwin.errors import GeometryError
from rtwin.patient import Patient

__all__ = ["EnergyLimits", "SpotLayout", "proton_spot_layout"]

#: What to do when a target needs Bragg peaks outside the machine's energies.
EnergyLimits = Literal["raise", "clamp"]

#: Energies at which the peak depth of the machine is computed to invert it (MeV grid).
_PEAK_NODES = 17


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class SpotLayout:
    """The spots of one proton beam: energy layers of spots on a square lattice.

    Parameters
    ----------
    energies_mev
        ``(n_layers,)`` nominal energy of each layer in MeV, all different.
        Layers are stored from the highest energy to the lowest (the usual
        delivery order; the most distal layer first); given layers are
        re-ordered and ``layer`` renumbered accordingly.
    layer
        ``(n_spots,)`` index of each spot's layer in ``energies_mev``. Every
        layer holds at least one spot.
    position_mm
        ``(n_spots, 2)`` position ``(u, v)`` of each spot's central ray in
        the isocentre plane, in the beam-limiting-device axes (mm). All spots
        lie on one square lattice of pitch ``spot_spacing_mm`` (the lattice
        may be offset from the central axis); no lattice point repeats within
        a layer.
    spot_spacing_mm
        Lattice pitch in the isocentre plane (mm, > 0).

    Notes
    -----
    Spots are stored sorted by layer (energy high → low), then ``v``, then
    ``u``: the order of the columns of the dose-influence matrix
    :class:`~rtwin.dose.ProtonPencilBeam` computes.

    Examples
    --------
    >>> from rtwin.dose.proton import SpotLayout
    >>> layout = SpotLayout.from_spots(energy_mev=[100.0, 150.0, 150.0],
    ...     position_mm=[[0.0, 0.0], [5.0, 0.0], [0.0, 0.0]])
    >>> layout.energies_mev.tolist(), layout.layer.tolist(), layout.position_mm[:, 0].tolist()
    ([150.0, 100.0], [0, 0, 1], [0.0, 5.0, 0.0])
    """

    energies_mev: NDArray[np.float64] = field(repr=False)
    layer: NDArray[np.int32] = field(repr=False)
    position_mm: NDArray[np.float64] = field(repr=False)
    spot_spacing_mm: float = 5.0

    def __post_init__(self) -> None:
        spacing = float(self.spot_spacing_mm)
        if not (math.isfinite(spacing) and spacing > 0):
            raise GeometryError(f"spot_spacing_mm must be a positive length in mm; got {spacing!r}")
        energies = np.atleast_1d(np.asarray(self.energies_mev, dtype=np.float64))
        if energies.ndim != 1 or energies.size == 0 or not np.all(np.isfinite(energies)):
            raise ProtonPhysicsError(
                f"energies_mev must be a non-empty 1-D array of finite energies in MeV; "
                f"got {self.energies_mev!r}"
            )
        if np.unique(energies).size != energies.size:
            raise ProtonPhysicsError(
                "energies_mev must not repeat an energy; put all spots of one energy in one layer"
            )
        layer = np.atleast_1d(np.asarray(self.layer))
        if layer.ndim != 1 or layer.size == 0 or not np.issubdtype(layer.dtype, np.integer):
            raise GeometryError(
                f"layer must be a non-empty 1-D array of layer indices (integers); got {self.layer!r}"
            )
        if layer.min() < 0 or layer.max() >= energies.size:
            raise GeometryError(
                f"layer indices must lie in [0, {energies.size - 1}] (one per energy); "
                f"got values from {layer.min()} to {layer.max()}"
            )
        positions = np.asarray(self.position_mm, dtype=np.float64)
        if positions.shape != (layer.size, 2) or not np.all(np.isfinite(positions)):
            raise GeometryError(
                f"position_mm must be finite with shape (n_spots, 2) = ({layer.size}, 2); "
                f"got shape {positions.shape}"
            )
        empty = np.setdiff1d(np.arange(energies.size), layer)
        if empty.size:
            raise GeometryError(
                f"layer {int(empty[0])} ({energies[empty[0]]:g} MeV) has no spots; "
                "drop its energy from energies_mev"
            )
        offset = _lattice_offset(positions, spacing)
        cells = (positions - offset) / spacing
        rounded = np.rint(cells)
        if not np.allclose(cells, rounded, atol=1e-6):
            bad = int(np.flatnonzero(np.any(np.abs(cells - rounded) > 1e-6, axis=1))[0])
            raise GeometryError(
                f"spot {bad} at {positions[bad].tolist()} mm is not on the lattice of pitch "
                f"spot_spacing_mm = {spacing:g} mm through the first spot; place all spots on one "
                "square lattice"
            )
        # energies high -> low; spots by layer, then v, then u
        order_layers = np.argsort(-energies, kind="stable")
        rank = np.empty_like(order_layers)
        rank[order_layers] = np.arange(energies.size)
        new_layer = rank[layer]
        cells = rounded.astype(np.int64)
        order = np.lexsort((cells[:, 0], cells[:, 1], new_layer))
        new_layer, cells = new_layer[order], cells[order]
        same = np.all(np.diff(np.column_stack((new_layer, cells)), axis=0) == 0, axis=1)
        if np.any(same):
            raise GeometryError(
                f"two spots of the {energies[order_layers][new_layer[np.flatnonzero(same)[0]]]:g} "
                "MeV layer share a lattice position; give each position once per layer"
            )
        object.__setattr__(self, "spot_spacing_mm", spacing)
        object.__setattr__(self, "energies_mev", frozen(energies[order_layers]))
        object.__setattr__(self, "layer", frozen(new_layer.astype(np.int32)))
        object.__setattr__(self, "position_mm", frozen(cells * spacing + offset))

    @classmethod
    def from_spots(
        cls,
        *,
        energy_mev: ArrayLike,
        position_mm: ArrayLike,
        spot_spacing_mm: float = 5.0,
    ) -> SpotLayout:
        """A layout from one energy and one position per spot (layers grouped by energy)."""
        energy = np.atleast_1d(np.asarray(energy_mev, dtype=np.float64))
        energies, layer = np.unique(energy, return_inverse=True)
        return cls(
            energies_mev=energies,
            layer=layer.astype(np.int32),
            position_mm=position_mm,  # type: ignore[arg-type]
            spot_spacing_mm=spot_spacing_mm,
        )

    @property
    def n_spots(self) -> int:
        """Number of spots."""
        return int(self.layer.size)

    @property
    def n_layers(self) -> int:
        """Number of energy layers."""
        return int(self.energies_mev.size)

    @property
    def spot_energy_mev(self) -> NDArray[np.float64]:
        """``(n_spots,)`` energy of each spot, MeV (a new array)."""
        return self.energies_mev[self.layer]

    @property
    def lattice_offset_mm(self) -> NDArray[np.float64]:
        """``(2,)`` offset of the spot lattice from the central axis, in ``[0, spacing)`` mm."""
        return _lattice_offset(self.position_mm, self.spot_spacing_mm)

    def spots_per_layer(self) -> NDArray[np.int64]:
        """``(n_layers,)`` number of spots in each layer."""
        return np.bincount(self.layer, minlength=self.n_layers).astype(np.int64)

    def __repr__(self) -> str:
        return (
            f"SpotLayout({self.n_spots} spots in {self.n_layers} layers, "
            f"{float(self.energies_mev[-1]):.1f}-{float(self.energies_mev[0]):.1f} MeV, "
            f"spacing {self.spot_spacing_mm:g} mm)"
        )


def _lattice_offset(positions: NDArray[np.float64], spacing: float) -> NDArray[np.float64]:
    offset = np.mod(positions[0], spacing)
    offset[np.isclose(offset, spacing, rtol=0.0, atol=1e-9 * spacing)] = 0.0
    return offset


# ---------------------------------------------------------------------- peak depth <-> energy
@dataclass(frozen=True, slots=True)
class PeakDepths:
    """Bragg-peak depth ↔ energy of a machine (private helper, built once per layout run).

    The peak lies Δ(E) = R₀(E) − peak(E) in front of the PSTAR range; Δ is
    smooth (0.77 mm at 70 MeV to 3.5 mm at 230 MeV for the generic machine)
    and is interpolated linearly between 17 energies; the inversion
    E = R₀⁻¹(p + Δ(E)) converges in three fixed-point steps to < 0.001 mm.
    """

    energies_mev: NDArray[np.float64]
    offsets_mm: NDArray[np.float64]
    peaks_mm: NDArray[np.float64]

    @classmethod
    def of(cls, machine: ProtonMachine) -> PeakDepths:
        low, high = machine.energy_range_mev
        energies = np.linspace(low, high, _PEAK_NODES)
        peaks = peak_depths_mm(machine, energies)  # BraggCurve.peak_depth_mm, compiled
        return cls(energies, csda_range_mm(energies) - peaks, peaks)

    @property
    def limits_mm(self) -> tuple[float, float]:
        """Shallowest and deepest Bragg peak the machine delivers (mm WED)."""
        return float(self.peaks_mm[0]), float(self.peaks_mm[-1])

    def energy_for_peak(self, peak_mm: NDArray[np.float64]) -> NDArray[np.float64]:
        """Energies (MeV) whose Bragg peaks lie at ``peak_mm`` (within the machine's limits)."""
        low, high = self.energies_mev[0], self.energies_mev[-1]
        energy = energy_for_csda_range(peak_mm + np.interp(peak_mm, self.peaks_mm, self.offsets_mm))
        for _ in range(3):
            energy = energy_for_csda_range(
                peak_mm + np.interp(energy, self.energies_mev, self.offsets_mm)
            )
        return np.clip(energy, low, high)


# ---------------------------------------------------------------------- the layout
def proton_spot_layout(
    beam: Beam,
    patient: Patient,
    target: str | Structure | None = None,
    machine: ProtonMachine | None = None,
    *,
    spot_spacing_mm: float = 5.0,
    layer_spacing_mm: float = 3.0,
    lateral_margin_mm: float = 5.0,
    distal_margin_mm: float = 3.0,
    proximal_margin_mm: float = 3.0,
    energy_limits: EnergyLimits = "raise",
) -> SpotLayout:
    """Spots and energy layers of a proton beam that cover a target.

    Parameters
    ----------
    beam
        A proton beam; its source–axis distance is replaced by the machine's
        virtual SAD.
    patient
        The twin; water-equivalent depths (WED) come from a Siddon ray trace
        through its stopping-power-ratio image.
    target
        Structure (or its name) to cover; the union of the patient's targets
        when omitted.
    machine
        Proton machine; :meth:`ProtonMachine.generic` when omitted.
    spot_spacing_mm
        Pitch of the square spot lattice in the isocentre plane (mm). The
        lattice goes through the central axis, along the beam-limiting-device
        axes ``u`` and ``v``.
    layer_spacing_mm
        Spacing of the energy layers in Bragg-peak WED (mm of water).
    lateral_margin_mm
        Spots are kept up to this distance (mm, isocentre plane) beyond the
        beam's-eye-view projection of the target, layer by layer.
    distal_margin_mm, proximal_margin_mm
        The target's WED extent along each ray is widened by these (mm of
        water) behind and in front before layers are chosen.
    energy_limits
        ``"raise"`` (default): a target that needs Bragg peaks deeper than the
        highest energy's or shallower than the lowest energy's raises.
        ``"clamp"``: such layers use the highest / lowest energy instead (and
        merge with the layer already there) — the target is then not fully
        covered in depth.

    Returns
    -------
    SpotLayout
        Layers from the highest energy to the lowest; spots by ``v`` then ``u``.

    Raises
    ------
    ProtonPhysicsError
        The target needs energies outside the machine's range (with
        ``energy_limits="raise"``); the message names the depth and the fix.
    GeometryError, StructureError
        Not a proton beam, bad spacings or margins, an empty or unknown target.

    Notes
    -----
    Each layer is named by the WED of its Bragg peak (the depth of the IDD's
    maximum, as matRad selects energies); peaks lie at
    ``p_ℓ = w_max + distal_margin − ℓ · layer_spacing`` (ℓ = 0, 1, …), with
    ``w_max`` the largest WED of the target seen by this beam, down to the
    shallowest target WED minus the proximal margin. Layer ℓ owns the WED
    band ``[p_ℓ − s/2, p_ℓ + s/2)``. The target is sampled with points at
    most ``min(spot_spacing, layer_spacing)/2`` apart in each axis (each voxel
    is subdivided evenly), each point's WED along the ray from the virtual
    source is traced through the SPR image, and the point is projected to the
    isocentre plane onto its nearest lattice spot. A spot belongs to layer ℓ
    when a target point projects on it whose WED interval
    ``[w − proximal_margin, w + distal_margin]`` meets the band of ℓ; then
    every layer's spots are grown by the lateral margin (spots whose centre
    lies within ``lateral_margin_mm`` of a kept spot's centre). Distal layers
    therefore hold only the spots whose rays reach deep target parts.
    Energies are continuous (the machine's beam data are interpolated between
    its tabulated energies); a real machine would round them to its energy
    table.

    Examples
    --------
    >>> import rtwin
    >>> from rtwin.dose.proton import proton_spot_layout
    >>> patient = rtwin.phantoms.water_box(size_mm=120, voxel_mm=6, target_radius_mm=12)
    >>> beam = rtwin.beams.Beam(modality="proton", gantry_deg=0, isocenter_mm=(0, 0, 0))
    >>> layout = proton_spot_layout(beam, patient, "Target")
    >>> layout      # target WED 48-72 mm (voxel edges), margins 3 mm: peaks at 75, 72, ... 45 mm
    SpotLayout(331 spots in 11 layers, 74.0-98.8 MeV, spacing 5 mm)
    >>> layout.spots_per_layer().tolist()   # distal and proximal caps hold fewer spots
    [21, 21, 37, 37, 37, 37, 37, 37, 25, 21, 21]
    """
    machine = ProtonMachine.generic() if machine is None else machine
    if not isinstance(machine, ProtonMachine):
        raise ProtonPhysicsError(
            f"machine must be a ProtonMachine (e.g. ProtonMachine.generic()); got {type(machine).__name__}"
        )
    return _layout(
        beam,
        patient,
        resolve_target(patient, target),
        machine,
        PeakDepths.of(machine),
        patient.stopping_power_ratio,
        spot_spacing_mm=spot_spacing_mm,
        layer_spacing_mm=layer_spacing_mm,
        lateral_margin_mm=lateral_margin_mm,
        distal_margin_mm=distal_margin_mm,
        proximal_margin_mm=proximal_margin_mm,
        energy_limits=energy_limits,
    )


def check_layout_options(
    *,
    spot_spacing_mm: float,
    layer_spacing_mm: float,
    lateral_margin_mm: float,
    distal_margin_mm: float,
    proximal_margin_mm: float,
    energy_limits: str,
) -> None:
    """Validate the layout settings (shared with the engine's configuration)."""
    for name, value in (
        ("spot_spacing_mm", spot_spacing_mm),
        ("layer_spacing_mm", layer_spacing_mm),
    ):
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise GeometryError(f"{name} must be a positive length in mm; got {value!r}")
    for name, value in (
        ("lateral_margin_mm", lateral_margin_mm),
        ("distal_margin_mm", distal_margin_mm),
        ("proximal_margin_mm", proximal_margin_mm),
    ):
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise GeometryError(f"{name} must be a length >= 0 mm; got {value!r}")
    if energy_limits not in ("raise", "clamp"):
        raise GeometryError(f"energy_limits must be 'raise' or 'clamp'; got {energy_limits!r}")


def with_machine_sad(beam: Beam, machine: ProtonMachine) -> Beam:
    """The beam as a proton beam from the machine's virtual source (SAD replaced)."""
    if not isinstance(beam, Beam):
        raise GeometryError(f"beams must be rtwin Beam objects; got {type(beam).__name__}")
    if BeamModality(beam.modality) is not BeamModality.PROTON:
        raise GeometryError(
            f"beam {beam.name} is a {beam.modality.value} beam; proton spots need "
            "Beam(modality='proton', ...)"
        )
    if beam.source_axis_distance_mm == machine.sad_mm:
        return beam
    return replace(beam, source_axis_distance_mm=machine.sad_mm)


def target_sample_step_mm(spot_spacing_mm: float, layer_spacing_mm: float) -> float:
    """Largest distance (mm, per axis) between the target points a layout traces."""
    return 0.5 * min(float(spot_spacing_mm), float(layer_spacing_mm))


def target_samples(target: Structure, step_mm: float) -> NDArray[np.float64]:
    """Points ``(n, 3)`` (mm) filling the target's voxels, at most ``step_mm`` apart per axis."""
    grid = target.grid
    k, j, i = np.unravel_index(np.flatnonzero(target.mask), grid.shape)  # np.nonzero's order
    centres = np.column_stack((i, j, k)).astype(np.float64)
    counts = np.maximum(np.ceil(grid.spacing_mm / step_mm - 1e-9).astype(int), 1)
    axes = [(np.arange(n) + 0.5) / n - 0.5 for n in counts]
    offsets = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    points = (centres[:, None, :] + offsets[None, :, :]).reshape(-1, 3)
    return affine_points(grid.affine, points)


def beam_view(
    beam: Beam, points: NDArray[np.float64], position: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(uvw, uv)``: beam coordinates ``(3, n)`` of patient points and their projection ``(2, n)``.

    ``uv`` is :func:`~rtwin.beams.project_to_isocenter_plane` (transposed)
    for the points ahead of the source (w > 0); the others get the
    projection of w = 1 mm.
    """
    frame = beam.frame(position)
    uvw = beam_coordinates(
        np.ascontiguousarray(points, dtype=np.float64),
        np.ascontiguousarray(frame.source_mm, dtype=np.float64),
        np.ascontiguousarray(frame.u, dtype=np.float64),
        np.ascontiguousarray(frame.v, dtype=np.float64),
        np.ascontiguousarray(frame.direction, dtype=np.float64),
    )
    w = uvw[2]
    scale = frame.source_axis_distance_mm / np.where(w > 0.0, w, 1.0)
    return uvw, uvw[:2] * scale


class TargetView(NamedTuple):
    """A target's sample points seen from one beam: isocentre-plane projection ``(2, n)`` and WED (mm)."""

    projected: NDArray[np.float64]
    wed: NDArray[np.float64]


def target_views(
    beams: Sequence[Beam],
    patient: Patient,
    target: Structure,
    spr: Image,
    points: NDArray[np.float64],
) -> list[TargetView]:
    """The target's samples ``points`` seen from each beam (proton beams with the machine's SAD).

    All beams are ray traced in one call.

    Raises
    ------
    GeometryError
        Part of the target lies behind a beam's virtual source.
    """
    position = str(patient.position.value)
    projections, sources = [], []
    for beam in beams:
        uvw, projected = beam_view(beam, points, position)
        if np.any(uvw[2] <= 0.0):
            raise GeometryError(
                f"beam {beam.name}: part of target {target.name!r} lies behind the virtual source"
            )
        projections.append(projected)
        sources.append(beam.frame(position).source_mm)
    n = points.shape[0]
    weds = trace_rays(
        spr,
        sources,
        points,
        np.repeat(np.arange(len(sources)), n),
        np.tile(np.arange(n), len(sources)),
    ).reshape(len(sources), n)
    return [TargetView(projected, wed) for projected, wed in zip(projections, weds, strict=True)]


def _layout(
    beam: Beam,
    patient: Patient,
    target: Structure,
    machine: ProtonMachine,
    peaks: PeakDepths,
    spr: Image,
    *,
    spot_spacing_mm: float,
    layer_spacing_mm: float,
    lateral_margin_mm: float,
    distal_margin_mm: float,
    proximal_margin_mm: float,
    energy_limits: str,
    view: TargetView | None = None,
) -> SpotLayout:
    """The layout of one beam; ``view`` is the target seen from it, when already computed."""
    check_layout_options(
        spot_spacing_mm=spot_spacing_mm,
        layer_spacing_mm=layer_spacing_mm,
        lateral_margin_mm=lateral_margin_mm,
        distal_margin_mm=distal_margin_mm,
        proximal_margin_mm=proximal_margin_mm,
        energy_limits=energy_limits,
    )
    beam = with_machine_sad(beam, machine)
    spacing, band = float(spot_spacing_mm), float(layer_spacing_mm)
    if view is None:
        points = target_samples(target, target_sample_step_mm(spacing, band))
        (view,) = target_views([beam], patient, target, spr, points)
    wed = view.wed
    cells = np.rint(view.projected / spacing).astype(np.int64)

    deepest = float(wed.max()) + distal_margin_mm
    shallowest = float(wed.min()) - proximal_margin_mm
    n_layers = max(math.ceil((deepest - shallowest) / band - 0.5 - 1e-9) + 1, 1)
    layer_peaks = deepest - band * np.arange(n_layers)
    # layers whose band [p - s/2, p + s/2) meets [w - proximal, w + distal]
    first = np.ceil((deepest - (wed + distal_margin_mm) - 0.5 * band) / band - 1e-9)
    last = np.ceil((deepest - (wed - proximal_margin_mm) + 0.5 * band) / band - 1e-9) - 1
    first = np.clip(first, 0, n_layers - 1).astype(np.int64)
    last = np.clip(last, 0, n_layers - 1).astype(np.int64)

    reach = int(math.floor(lateral_margin_mm / spacing + 1e-9))
    low = cells.min(axis=1) - reach
    high = cells.max(axis=1)
    shape = (n_layers, *(high - low + 1 + reach))
    occupied = np.zeros(shape, dtype=bool)
    mark_layers(first, last, cells, low, occupied)
    if reach:
        from scipy import ndimage

        di, dj = np.mgrid[-reach : reach + 1, -reach : reach + 1]
        disc = (di**2 + dj**2) * spacing**2 <= lateral_margin_mm**2 + 1e-9
        occupied = ndimage.binary_dilation(occupied, structure=disc[None, :, :])

    layer_peaks, occupied = _apply_energy_limits(
        beam, target, layer_peaks, occupied, peaks, deepest, shallowest, energy_limits
    )
    keep = occupied.any(axis=(1, 2))
    layer_peaks, occupied = layer_peaks[keep], occupied[keep]
    energies = peaks.energy_for_peak(layer_peaks)
    layer, iu, iv = np.nonzero(occupied)
    return SpotLayout(
        energies_mev=energies,
        layer=layer.astype(np.int32),
        position_mm=np.column_stack((iu + low[0], iv + low[1])).astype(np.float64) * spacing,
        spot_spacing_mm=spacing,
    )


def _apply_energy_limits(
    beam: Beam,
    target: Structure,
    layer_peaks: NDArray[np.float64],
    occupied: NDArray[np.bool_],
    peaks: PeakDepths,
    deepest: float,
    shallowest: float,
    energy_limits: str,
) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """Raise for, or clamp and merge, layers whose Bragg peaks the machine cannot deliver."""
    low_mm, high_mm = peaks.limits_mm
    low_mev, high_mev = peaks.energies_mev[0], peaks.energies_mev[-1]
    used = occupied.any(axis=(1, 2))
    needed_deep = float(layer_peaks[used].max())
    needed_shallow = float(layer_peaks[used].min())
    if energy_limits == "raise":
        if needed_deep > high_mm + 1e-6:
            raise ProtonPhysicsError(
                f"beam {beam.name}: target {target.name!r} reaches a water-equivalent depth of "
                f"{deepest:.1f} mm (distal margin included), so the deepest energy layer needs a "
                f"Bragg peak at {needed_deep:.1f} mm, beyond the peak of the machine's highest "
                f"energy ({high_mev:g} MeV, peak at {high_mm:.1f} mm). Choose a beam direction "
                "with a shorter water-equivalent path to the target, a smaller distal margin, or "
                "energy_limits='clamp' to stop at the highest energy (the distal part of the "
                "target is then not covered)"
            )
        if needed_shallow < low_mm - 1e-6:
            raise ProtonPhysicsError(
                f"beam {beam.name}: target {target.name!r} starts at a water-equivalent depth of "
                f"{shallowest:.1f} mm (proximal margin included), so the shallowest energy layer "
                f"needs a Bragg peak at {needed_shallow:.1f} mm, shallower than the peak of the "
                f"machine's lowest energy ({low_mev:g} MeV, peak at {low_mm:.1f} mm). A range "
                "shifter would be needed (rtwin does not model one); choose another beam "
                "direction, a smaller proximal margin, or energy_limits='clamp' to cover the "
                "shallow part with lowest-energy spots"
            )
        return layer_peaks, occupied
    clamped = np.clip(layer_peaks, low_mm, high_mm)
    unique, group = np.unique(clamped, return_inverse=True)
    merged = np.zeros((unique.size, *occupied.shape[1:]), dtype=bool)
    np.logical_or.at(merged, group, occupied)
    order = np.argsort(-unique)
    return unique[order], merged[order]
