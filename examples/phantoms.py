"""Build each procedural phantom and print its grid, CT range and structure volumes.

Run::

    python examples/phantoms.py

Everything is generated on the spot (no data files); it takes a few seconds.
The slab phantom also shows the radiological depth through a lung slab,
Σ RED × thickness, read off the patient's relative electron density.
"""

from __future__ import annotations

import time

import numpy as np

import rtwin
from rtwin.phantoms import Slab


def describe(title: str, patient: rtwin.Patient, seconds: float) -> None:
    grid = patient.grid
    hu = patient.image.values
    spacing = " x ".join(f"{s:g}" for s in grid.spacing_mm)
    print(f"\n{title}  [{patient.patient_id}, built in {seconds:.2f} s]")
    print(
        f"  grid {grid.shape} (nz, ny, nx), voxels {spacing} mm, HU {hu.min():.0f} to {hu.max():.0f}"
    )
    print(
        f"  {'structure':<14}{'role':<15}{'volume (cc)':>12}{'mean HU':>9}  centroid x, y, z (mm)"
    )
    for name, structure in patient.structures.items():
        centroid = ", ".join(f"{c:6.1f}" for c in structure.centroid_mm)
        mean_hu = float(hu[structure.mask].mean())
        print(
            f"  {name:<14}{structure.role.value:<15}{structure.volume_cc:>12.1f}"
            f"{mean_hu:>9.0f}  ({centroid})"
        )


def build(title: str, function, **parameters) -> rtwin.Patient:
    start = time.perf_counter()
    patient = function(**parameters)
    describe(title, patient, time.perf_counter() - start)
    return patient


def main() -> None:
    build("Water box, 20 mm spherical target", rtwin.phantoms.water_box)

    lung = Slab(material="lung", depth_mm=50.0, thickness_mm=100.0)
    slab = build("Slab phantom, 0.26 g/cm3 lung from 5 to 15 cm", rtwin.phantoms.slab, slabs=[lung])
    red = slab.relative_electron_density.values.astype(np.float64)
    column = red[red.shape[0] // 2, :, red.shape[2] // 2]  # along y (depth) through the centre
    depth_mm = float(column.sum() * slab.grid.spacing_mm[1])
    expected = 150.0 * 1.0 + 100.0 * rtwin.phantoms.slab_material("lung").relative_electron_density
    print(f"  radiological depth through 250 mm: {depth_mm:.3f} mm (Σ RED·t = {expected:.3f} mm)")

    build("TG-119 C-shape (CORT dimensions)", rtwin.phantoms.cshape)
    build("Prostate (male pelvis)", rtwin.phantoms.prostate)
    build("Head and neck", rtwin.phantoms.head_neck)
    build(
        "Head and neck, anisotropic 2 x 2 x 3 mm voxels",
        rtwin.phantoms.head_neck,
        voxel_mm=(2, 2, 3),
    )


if __name__ == "__main__":
    main()
