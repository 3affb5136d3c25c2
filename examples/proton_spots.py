"""Proton pencil beams: a pristine spot in water and behind bone, and a 2-beam C-shape layout.

Run::

    python examples/proton_spots.py

Prints the distal 80 % depth of a uniform 150 MeV layer in water and behind
20 mm of bone (the shift is (SPR - 1) x thickness), then lays out spots for
two opposed beams on the C-shape phantom and reports the influence matrix.
"""

from __future__ import annotations

import numpy as np

import rtwin
from rtwin.dose.proton import SpotLayout
from rtwin.geometry import Grid


def central_axis_r80(patient, energy_mev: float) -> float:
    surface_y = float(patient.grid.index_to_patient([0, -0.5, 0])[1])
    beam = rtwin.beams.Beam(modality="proton", gantry_deg=0, isocenter_mm=(0.0, 0.0, 0.0))
    centers = (np.arange(9) - 4) * 5.0
    u, v = np.meshgrid(centers, centers, indexing="ij")
    layer = SpotLayout.from_spots(
        energy_mev=np.full(u.size, energy_mev), position_mm=np.column_stack((u.ravel(), v.ravel()))
    )
    axis = Grid.from_spacing(
        (1, 500, 1), spacing_mm=(1.0, 0.5, 1.0), origin_mm=(0.0, surface_y + 0.25, 0.0)
    )
    influence = rtwin.dose.ProtonPencilBeam().influence(
        patient, [beam], dose_grid=axis, spots=[layer]
    )
    dose = influence.dose(np.ones(influence.n_beamlets)).values[0, :, 0]
    depth = axis.axis_coordinates_mm()[1] - surface_y
    peak = int(np.argmax(dose))
    distal = depth[peak:]
    falling = dose[peak:]
    return float(np.interp(0.8 * dose.max(), falling[::-1], distal[::-1]))


def main() -> None:
    water = rtwin.phantoms.slab(slabs=(), depth_mm=250.0, width_mm=100.0, voxel_mm=(5.0, 0.5, 5.0))
    bone_slab = rtwin.phantoms.Slab(material="bone", depth_mm=40.0, thickness_mm=20.0)
    bone = rtwin.phantoms.slab(
        slabs=(bone_slab,), depth_mm=250.0, width_mm=100.0, voxel_mm=(5.0, 0.5, 5.0)
    )
    spr = float(
        bone.stopping_power_ratio.values[bone.grid.shape[0] // 2, 100, bone.grid.shape[2] // 2]
    )
    in_water = central_axis_r80(water, 150.0)
    behind_bone = central_axis_r80(bone, 150.0)
    print(
        f"150 MeV layer: R80 in water {in_water:.2f} mm, physics R80 {float(rtwin.dose.proton.r80_mm(150.0)):.2f} mm"
    )
    print(
        f"behind 20 mm bone (SPR {spr:.3f}): R80 {behind_bone:.2f} mm, shift {in_water - behind_bone:.2f} mm "
        f"(expected (SPR - 1) x 20 = {(spr - 1) * 20:.2f} mm)"
    )
    patient = rtwin.phantoms.cshape(voxel_mm=6.0)
    isocenter = patient.structures["OuterTarget"].centroid_mm
    beams = rtwin.beams.equispaced(2, isocenter, modality="proton", start_deg=90)
    engine = rtwin.dose.ProtonPencilBeam()
    influence = engine.influence(patient, beams)
    energies = influence.beamlets.energy_mev
    print(f"C-shape, 2 beams: {influence}")
    print(
        f"energies {energies.min():.1f}-{energies.max():.1f} MeV in {len(np.unique(np.round(energies, 3)))} layers"
    )


if __name__ == "__main__":
    main()
