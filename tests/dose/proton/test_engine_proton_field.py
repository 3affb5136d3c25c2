"""Absolute dose of a broad uniform proton field: fluence x IDD (dose-to-water definition).

Analytic reference: inside a field much wider than the spots, the dose at
water-equivalent depth z is Phi * IDD(z) * 1.602176634e-7 Gy mm3/MeV, with
Phi the planar fluence (protons per mm2) in the plane of the voxel. With
10^6 protons per unit weight on a 5 mm lattice defined in the isocentre
plane, Phi = 10^6 / 25 mm^-2 in that plane.
"""

from __future__ import annotations

import numpy as np
import pytest

import rtwin
from rtwin.dose.proton import (
    GY_PER_MEV_PER_MM3_WATER,
    PROTONS_PER_WEIGHT,
    ProtonMachine,
    SpotLayout,
)
from rtwin.geometry import Grid


@pytest.mark.parametrize("depth_mm", [20.0, 100.0])
def test_broad_field_dose_equals_fluence_times_idd(depth_mm):
    water = rtwin.phantoms.slab(slabs=(), depth_mm=200.0, width_mm=260.0, voxel_mm=(2.0, 2.0, 2.0))
    surface_y = float(water.grid.index_to_patient([0, -0.5, 0])[1])
    # isocentre in the plane of the measurement: the lattice pitch there is exactly 5 mm
    beam = rtwin.beams.Beam(
        modality="proton", gantry_deg=0, isocenter_mm=(0.0, surface_y + depth_mm, 0.0)
    )
    centers = (np.arange(41) - 20) * 5.0
    u, v = np.meshgrid(centers, centers, indexing="ij")
    energy = 150.0
    layer = SpotLayout.from_spots(
        energy_mev=np.full(u.size, energy), position_mm=np.column_stack((u.ravel(), v.ravel()))
    )
    # a 5 x 5 mm patch of points in the measurement plane samples one lattice cell
    probe = Grid.from_spacing(
        (5, 1, 5), spacing_mm=1.0, origin_mm=(-2.0, surface_y + depth_mm, -2.0)
    )
    influence = rtwin.dose.ProtonPencilBeam().influence(
        water, [beam], dose_grid=probe, spots=[layer]
    )
    dose = influence.dose(np.ones(influence.n_beamlets)).values.astype(float)
    machine = ProtonMachine.generic()
    idd = machine.bragg_curve(energy).idd_mev_per_mm(np.array([depth_mm]))[0]
    expected = PROTONS_PER_WEIGHT / 25.0 * idd * GY_PER_MEV_PER_MM3_WATER
    assert dose.mean() == pytest.approx(expected, rel=0.005)
    assert dose.max() / dose.min() - 1 < 0.005  # no lattice ripple beyond 0.5 %
