"""Proton spot layouts (energies cover the target's WED, spacing, lateral coverage, limits)
and a 2-beam smoke run on the C-shape phantom."""

from __future__ import annotations

import numpy as np
import pytest

import rtwin
from rtwin.anatomy import Structure
from rtwin.dose import ProtonPencilBeam
from rtwin.dose.proton import ProtonMachine, ProtonPhysicsError, proton_spot_layout
from rtwin.errors import GeometryError

MACHINE = ProtonMachine.generic()


@pytest.fixture(scope="module")
def box():
    return rtwin.phantoms.water_box(size_mm=200, voxel_mm=5, target_radius_mm=20)


def _peaks(energies):
    return np.array([MACHINE.bragg_curve(float(e)).peak_depth_mm for e in energies])


def _target_view(beam, patient, target):
    """WED and isocentre-plane projection of the target's voxel centres."""
    k, j, i = np.nonzero(target.mask)
    points = target.grid.index_to_patient(np.column_stack((i, j, k)).astype(float))
    frame = beam.frame("HFS")
    wed = rtwin.dose.radiological_depth(patient.stopping_power_ratio, frame.source_mm, points)
    return wed, rtwin.beams.project_to_isocenter_plane(beam, points)


@pytest.mark.parametrize(("gantry_deg", "layer_spacing_mm"), [(0.0, 3.0), (45.0, 4.0)])
def test_layers_cover_the_target_wed_at_the_asked_spacing(box, gantry_deg, layer_spacing_mm):
    beam = rtwin.beams.Beam(modality="proton", gantry_deg=gantry_deg, isocenter_mm=(0, 0, 0))
    target = box.structures["Target"]
    layout = proton_spot_layout(
        beam,
        box,
        "Target",
        layer_spacing_mm=layer_spacing_mm,
        distal_margin_mm=3.0,
        proximal_margin_mm=2.0,
    )
    peaks = _peaks(layout.energies_mev)
    wed, _ = _target_view(beam, box, target)
    assert np.all(np.diff(layout.energies_mev) < 0)  # high -> low
    np.testing.assert_allclose(np.diff(peaks), -layer_spacing_mm, atol=0.01)
    # deepest peak: the target's deepest point (voxel centre + up to half a voxel) + margin
    assert wed.max() + 3.0 - 0.01 <= peaks[0] <= wed.max() + 3.0 + 2.5 * np.sqrt(3) + 0.01
    # shallowest band reaches the shallowest point minus the proximal margin
    assert peaks[-1] - layer_spacing_mm / 2 <= wed.min() - 2.0 + 1e-6
    assert peaks[-1] + layer_spacing_mm / 2 > wed.min() - 2.0 - 2.5 * np.sqrt(3)
    low, high = MACHINE.energy_range_mev
    assert np.all((layout.energies_mev >= low) & (layout.energies_mev <= high))


def test_every_target_voxel_is_covered_by_its_layer(box):
    beam = rtwin.beams.Beam(modality="proton", gantry_deg=0, isocenter_mm=(0, 0, 0))
    layout = proton_spot_layout(beam, box, "Target", lateral_margin_mm=0.0)
    wed, uv = _target_view(beam, box, box.structures["Target"])
    peaks = _peaks(layout.energies_mev)
    spacing = layout.spot_spacing_mm
    for w, point in zip(wed, uv, strict=True):
        layer = int(np.argmin(np.abs(peaks - w)))
        assert abs(peaks[layer] - w) <= 1.5 + 0.01
        nearest = np.rint(point / spacing) * spacing
        in_layer = layout.position_mm[layout.layer == layer]
        assert np.any(np.all(np.isclose(in_layer, nearest), axis=1))


def test_spots_stay_within_the_projection_plus_margin(box):
    beam = rtwin.beams.Beam(modality="proton", gantry_deg=0, isocenter_mm=(0, 0, 0))
    margin = 7.0
    layout = proton_spot_layout(beam, box, "Target", lateral_margin_mm=margin)
    _, uv = _target_view(beam, box, box.structures["Target"])
    distance = np.linalg.norm(layout.position_mm[:, None, :] - uv[None, :, :], axis=2).min(axis=1)
    # margin + nearest-spot rounding (s/√2) + the voxel's own half-width in the plane
    assert np.all(distance <= margin + 5.0 / np.sqrt(2) + 2.5 * np.sqrt(2) + 1e-6)
    assert distance.max() > margin  # the margin is used
    counts = layout.spots_per_layer()
    middle = counts[len(counts) // 2]
    assert counts[0] < middle and counts[-1] < middle  # the distal and proximal caps are smaller
    assert np.all(np.diff(layout.position_mm[layout.layer == 3][:, 1]) >= 0)  # v then u order


@pytest.fixture(scope="module")
def deep_phantom():
    return rtwin.phantoms.slab(slabs=(), depth_mm=400.0, width_mm=60.0, voxel_mm=5.0)


def _slab_target(patient, top_mm, bottom_mm):
    surface = -200.0
    return Structure.from_function(
        "Target",
        patient.grid,
        lambda x, y, z: (
            (np.abs(x) <= 10)
            & (np.abs(z) <= 10)
            & (y >= surface + top_mm)
            & (y <= surface + bottom_mm)
        ),
        role="target",
    )


def test_too_deep_a_target_raises_with_the_depth_and_the_fix(deep_phantom):
    beam = rtwin.beams.Beam(modality="proton", gantry_deg=0, isocenter_mm=(0, 0, 0))
    target = _slab_target(deep_phantom, 330.0, 350.0)
    with pytest.raises(ProtonPhysicsError, match=r"highest energy \(230 MeV") as error:
        proton_spot_layout(beam, deep_phantom, target)
    message = str(error.value)
    assert "water-equivalent depth of 3" in message and "energy_limits='clamp'" in message
    clamped = proton_spot_layout(beam, deep_phantom, target, energy_limits="clamp")
    assert clamped.energies_mev[0] == pytest.approx(230.0)
    assert np.all(np.diff(clamped.energies_mev) < 0)


def test_too_shallow_a_target_raises_and_clamps_to_the_lowest_energy(deep_phantom):
    beam = rtwin.beams.Beam(modality="proton", gantry_deg=0, isocenter_mm=(0, 0, 0))
    target = _slab_target(deep_phantom, 10.0, 50.0)
    with pytest.raises(ProtonPhysicsError, match="range shifter"):
        proton_spot_layout(beam, deep_phantom, target)
    with pytest.raises(ProtonPhysicsError, match="range shifter"):
        ProtonPencilBeam().influence(deep_phantom, [beam], target=target)
    clamped = proton_spot_layout(beam, deep_phantom, target, energy_limits="clamp")
    assert clamped.energies_mev[-1] == pytest.approx(70.0)
    assert _peaks(clamped.energies_mev[:1])[0] >= 50.0


def test_layout_argument_errors(box):
    beam = rtwin.beams.Beam(modality="proton", gantry_deg=0, isocenter_mm=(0, 0, 0))
    with pytest.raises(GeometryError, match="layer_spacing_mm"):
        proton_spot_layout(beam, box, "Target", layer_spacing_mm=0.0)
    with pytest.raises(GeometryError, match="lateral_margin_mm"):
        proton_spot_layout(beam, box, "Target", lateral_margin_mm=-1.0)
    photon = rtwin.beams.Beam(modality="photon", gantry_deg=0, isocenter_mm=(0, 0, 0))
    with pytest.raises(GeometryError, match="photon beam"):
        proton_spot_layout(photon, box, "Target")
    with pytest.raises(KeyError, match="Nope"):
        proton_spot_layout(beam, box, "Nope")


def test_cshape_two_beams_smoke():
    """2 lateral beams on the 6 mm C-shape: runs in about a second; uniform weights give finite,
    non-negative dose (a smoke test, not a physics claim)."""
    patient = rtwin.phantoms.cshape(voxel_mm=6.0)
    target = patient.structures["OuterTarget"]
    beams = rtwin.beams.equispaced(
        2, isocenter_mm=target.centroid_mm, modality="proton", start_deg=90
    )
    influence = ProtonPencilBeam().influence(patient, beams, target="OuterTarget")
    assert influence.n_beamlets > 1000 and influence.nnz > 10 * influence.n_beamlets
    assert influence.provenance["layers_per_beam"][0] > 10
    dose = influence.dose(np.ones(influence.n_beamlets))
    assert np.all(np.isfinite(dose.values)) and dose.values.min() >= 0.0
    assert dose.values[target.mask].mean() > dose.values[~target.mask].mean()
