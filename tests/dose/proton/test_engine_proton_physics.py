"""Proton pencil-beam engine physics against the physics module and analytic expectations.

* R80 of a broad uniform layer's central-axis dose = the machine's R80 (water, SPR 1);
* behind a bone slab of SPR s and thickness t, R80 moves by (s − 1)·t;
* the lateral profile of one spot is a Gaussian of σ = √(σ_air² + σ_MCS²);
* one spot's dose integrated over a plane = 1e6 · IDD(WED) · 1.602176634e-7 Gy·mm²,
  less at most the cutoff fraction.

The geometry: a slab phantom whose depth axis is patient y (gantry 0°, HFS);
fine 0.5 mm voxels along depth, dose grids one voxel thick where possible.
"""

from __future__ import annotations

import numpy as np
import pytest

import rtwin
from rtwin.dose import ProtonPencilBeam
from rtwin.dose.proton import (
    GY_PER_MEV_PER_MM3_WATER,
    PROTONS_PER_WEIGHT,
    ProtonMachine,
    SpotLayout,
    lateral_sigma_mcs_mm,
)
from rtwin.geometry import Grid
from rtwin.phantoms import Slab

DEPTH_MM = 250.0
SURFACE_Y = -DEPTH_MM / 2
BEAM = rtwin.beams.Beam(modality="proton", gantry_deg=0, isocenter_mm=(0.0, 0.0, 0.0))


def _phantom(slabs=()):
    return rtwin.phantoms.slab(
        slabs=slabs, depth_mm=DEPTH_MM, width_mm=100.0, voxel_mm=(5.0, 0.5, 5.0)
    )


@pytest.fixture(scope="module")
def water():
    return _phantom()


def _uniform_layer(energy_mev: float, half_width_mm: float = 35.0) -> SpotLayout:
    centers = np.arange(-half_width_mm, half_width_mm + 1e-9, 5.0)
    u, v = np.meshgrid(centers, centers, indexing="ij")
    return SpotLayout.from_spots(
        energy_mev=np.full(u.size, energy_mev),
        position_mm=np.column_stack((u.ravel(), v.ravel())),
        spot_spacing_mm=5.0,
    )


def _single_spot(energy_mev: float) -> SpotLayout:
    return SpotLayout.from_spots(energy_mev=[energy_mev], position_mm=[[0.0, 0.0]])


def _central_axis(patient, layout, step_mm=0.25, depth_mm=230.0):
    n = int(depth_mm / step_mm)
    grid = Grid.from_spacing(
        (1, n, 1), spacing_mm=(1.0, step_mm, 1.0), origin_mm=(0.0, SURFACE_Y + step_mm / 2, 0.0)
    )
    influence = ProtonPencilBeam().influence(patient, [BEAM], dose_grid=grid, spots=[layout])
    dose = influence.dose(np.ones(influence.n_beamlets)).values[0, :, 0].astype(np.float64)
    return grid.axis_coordinates_mm()[1] - SURFACE_Y, dose


def _distal_80(depths, dose):
    peak = int(np.argmax(dose))
    level = 0.8 * dose[peak]
    after = peak + int(np.flatnonzero(dose[peak:] < level)[0])
    return float(np.interp(level, dose[[after, after - 1]], depths[[after, after - 1]]))


@pytest.mark.parametrize("energy_mev", [100.0, 150.0])
def test_r80_in_water_matches_the_machine(water, energy_mev):
    depths, dose = _central_axis(water, _uniform_layer(energy_mev))
    expected = ProtonMachine.generic().bragg_curve(energy_mev).r80_mm
    assert _distal_80(depths, dose) == pytest.approx(expected, abs=0.125)  # half a 0.25 mm voxel


def test_r80_of_a_pristine_spot_is_within_half_a_millimetre(water):
    """A single spot's central axis also carries 1/σ(z)², so its R80 sits slightly shallower."""
    depths, dose = _central_axis(water, _single_spot(150.0))
    expected = ProtonMachine.generic().bragg_curve(150.0).r80_mm
    assert _distal_80(depths, dose) == pytest.approx(expected, abs=0.5)


@pytest.mark.parametrize("energy_mev", [100.0, 150.0])
def test_bone_slab_shifts_r80_by_water_equivalent_excess(water, energy_mev):
    bone = _phantom((Slab(material="bone", depth_mm=30.0, thickness_mm=20.0),))
    spr = bone.stopping_power_ratio.values
    s = float(spr[spr.shape[0] // 2, int(40.0 / 0.5), spr.shape[2] // 2])
    assert s > 1.5
    _, in_water = _central_axis(water, _uniform_layer(energy_mev))
    depths, behind_bone = _central_axis(bone, _uniform_layer(energy_mev))
    shift = _distal_80(depths, in_water) - _distal_80(depths, behind_bone)
    assert shift == pytest.approx((s - 1.0) * 20.0, abs=0.3)


@pytest.mark.parametrize(
    ("energy_mev", "depth_mm"), [(100.0, 60.0), (150.0, 100.0), (200.0, 200.0)]
)
def test_lateral_profile_sigma(water, energy_mev, depth_mm):
    grid = Grid.from_spacing(
        (1, 1, 161), spacing_mm=(0.25, 1.0, 1.0), origin_mm=(-20.0, SURFACE_Y + depth_mm, 0.0)
    )
    influence = ProtonPencilBeam().influence(
        water, [BEAM], dose_grid=grid, spots=[_single_spot(energy_mev)]
    )
    x = grid.axis_coordinates_mm()[0]
    dose = influence.dose([1.0]).values[0, 0, :].astype(np.float64)
    inside = dose > 0.05 * dose.max()
    slope = np.polyfit(x[inside] ** 2, np.log(dose[inside]), 1)[0]
    fitted = np.sqrt(-0.5 / slope)
    machine = ProtonMachine.generic()
    expected = np.hypot(
        machine.spot_sigma_air_at(energy_mev), lateral_sigma_mcs_mm(depth_mm, energy_mev)
    )
    assert fitted == pytest.approx(float(expected), rel=0.02)
    assert fitted == pytest.approx(float(expected), rel=1e-3)  # measured: 2e-5


@pytest.mark.parametrize(
    ("energy_mev", "depth_mm", "cutoff"),
    [(100.0, 70.0, 0.01), (150.0, 100.0, 0.01), (150.0, 100.0, 1e-4), (200.0, 200.0, 0.01)],
)
def test_plane_integral_of_one_spot_matches_the_normalisation(water, energy_mev, depth_mm, cutoff):
    """∑ dose × voxel area over a plane = 1e6 · IDD(WED) · GY_PER_MEV_PER_MM3_WATER · (1 − lost)."""
    grid = Grid.from_spacing(
        (121, 1, 121),
        spacing_mm=(0.5, 1.0, 0.5),
        origin_mm=(-30.0, SURFACE_Y + depth_mm, -30.0),
    )
    engine = ProtonPencilBeam(cutoff_fraction=cutoff)
    influence = engine.influence(water, [BEAM], dose_grid=grid, spots=[_single_spot(energy_mev)])
    integral = float(influence.dose([1.0]).values.astype(np.float64).sum()) * 0.25
    idd = ProtonMachine.generic().bragg_curve(energy_mev).idd_mev_per_mm(depth_mm)
    expected = PROTONS_PER_WEIGHT * GY_PER_MEV_PER_MM3_WATER * float(idd)
    ratio = integral / expected
    assert 1.0 - cutoff - 1e-3 <= ratio <= 1.0 + 1e-3
