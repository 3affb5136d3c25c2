"""An open 10 x 10 cm2 6 MV field in water through the photon engine, with its PDD plot.

Run::

    python examples/photon_open_field.py [output_folder]

Builds a water phantom, computes the dose of an open field (all bixels of a
10 x 10 cm2 field at weight 1, SSD 100 cm) on a central-axis dose grid with
rtwin.dose.PhotonPencilBeam and the generic 6 MV machine, prints PDD(10) and
PDD(20) next to the BJR Supplement 25 values the machine was fitted to, and
saves a PDD plot.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import rtwin
from rtwin.geometry import Grid

#: BJR Supplement 25, 6 MV, SSD 100 cm, 10 x 10 cm2 (percent of the maximum)
BJR25 = {100.0: 67.5, 200.0: 39.3}


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="rtwin-"))
    out.mkdir(parents=True, exist_ok=True)
    water = rtwin.phantoms.water_box(size_mm=(300.0, 300.0, 300.0), voxel_mm=(5.0, 2.0, 5.0))
    surface_y = -150.0
    beam = rtwin.beams.Beam(modality="photon", gantry_deg=0, isocenter_mm=(0.0, surface_y, 0.0))
    centers = (np.arange(20) - 9.5) * 5.0
    u, v = np.meshgrid(centers, centers, indexing="ij")
    field = np.column_stack((u.ravel(), v.ravel()))
    axis = Grid.from_spacing((1, 290, 1), spacing_mm=1.0, origin_mm=(0.0, surface_y + 0.5, 0.0))
    influence = rtwin.dose.PhotonPencilBeam().influence(
        water, [beam], dose_grid=axis, bixels=[field]
    )
    dose = influence.dose(np.ones(influence.n_beamlets)).values[0, :, 0]
    depth = axis.axis_coordinates_mm()[1] - surface_y
    pdd = 100.0 * dose / dose.max()
    print(f"{influence}")
    print(
        f"d_max = {depth[np.argmax(dose)]:.1f} mm, dose at d_max = {dose.max():.4f} Gy per unit weight"
    )
    for z, reference in BJR25.items():
        print(f"PDD({z / 10:g} cm) = {np.interp(z, depth, pdd):.1f} %  (BJR-25: {reference} %)")
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(depth / 10, pdd, label="rtwin, generic 6 MV, 10 x 10 cm$^2$")
    axes.plot([z / 10 for z in BJR25], list(BJR25.values()), "o", label="BJR Suppl. 25")
    axes.set_xlabel("depth in water (cm)")
    axes.set_ylabel("percent depth dose (%)")
    axes.set_title("Open field, SSD 100 cm")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(out / "pdd_open_field.png", dpi=120)
    print(f"plot: {out / 'pdd_open_field.png'}")


if __name__ == "__main__":
    main()
