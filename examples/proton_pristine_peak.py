"""Pristine Bragg peaks of the generic proton machine: R80 vs PSTAR, lateral spread, a bone slab.

Run::

    python examples/proton_pristine_peak.py [output_folder]

Prints, for a few energies, the PSTAR CSDA range, the R80 and peak depth of
Bortfeld's curve (with the generic machine's energy spread) and the lateral
spot σ at the peak; then the R80 shift behind a 2 cm bone slab. Saves
``proton_pristine_peaks.png`` (depth dose and lateral σ) into the folder
given on the command line, or a new temporary folder. Takes a second or two.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from rtwin.dose.proton import ProtonMachine, idd_along_spr

ENERGIES_MEV = (70.0, 100.0, 150.0, 200.0, 230.0)


def main(output: Path) -> Path:
    machine = ProtonMachine.generic()
    table = machine.depth_dose_table(ENERGIES_MEV, depth_step_mm=0.1)
    print(f"{machine.name}  (SAD {machine.sad_mm:g} mm)")
    print(
        f"{'E (MeV)':>8}{'sigma_E':>9}{'R0 PSTAR':>10}{'R80':>9}{'R80-R0':>8}"
        f"{'peak':>8}{'s_air':>7}{'s_MCS':>7}{'s_tot':>7}   (mm unless noted)"
    )
    for i, energy in enumerate(table.energies_mev):
        peak = table.peak_depth_mm[i]
        sigma_mcs = float(np.interp(peak, table.depths_mm, table.sigma_mcs_mm[i]))
        sigma_total = float(np.hypot(table.spot_sigma_air_mm[i], sigma_mcs))
        print(
            f"{energy:8.0f}{table.energy_spread_mev[i]:9.3f}{table.csda_range_mm[i]:10.2f}"
            f"{table.r80_mm[i]:9.2f}{table.r80_mm[i] - table.csda_range_mm[i]:8.3f}"
            f"{peak:8.2f}{table.spot_sigma_air_mm[i]:7.2f}{sigma_mcs:7.2f}{sigma_total:7.2f}"
        )

    # A 20 mm slab of SPR 1.7 (cortical-bone-like) at 30 mm depth, 150 MeV, 0.1 mm profile.
    curve = machine.bragg_curve(150.0)
    spacing, n = 0.1, 2000
    centres = (np.arange(n) + 0.5) * spacing
    spr = np.where((centres > 30.0) & (centres < 50.0), 1.7, 1.0)
    depth = np.arange(0.0, n * spacing, 0.005)
    in_slab = idd_along_spr(curve, spr, spacing_mm=spacing, depth_mm=depth)
    in_water = curve.idd_mev_per_mm(depth)

    def r80(values: np.ndarray) -> float:
        peak = int(np.argmax(values))
        below = peak + int(np.flatnonzero(values[peak:] < 0.8 * values[peak])[0])
        return float(depth[below])

    shift = r80(in_water) - r80(in_slab)
    print(f"\n150 MeV, 20 mm of SPR 1.7: R80 moves by {shift:.2f} mm ((s - 1) t = 14.00 mm)")

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for i, energy in enumerate(table.energies_mev):
        line = left.plot(table.depths_mm, table.idd_mev_per_mm[i], label=f"{energy:g} MeV")
        left.axvline(table.csda_range_mm[i], color=line[0].get_color(), lw=0.6, ls=":")
        right.plot(table.depths_mm, table.lateral_sigma_mm[i], color=line[0].get_color())
        right.plot(table.depths_mm, table.sigma_mcs_mm[i], color=line[0].get_color(), ls="--")
    left.plot(
        depth, in_slab, color="k", lw=0.8, label="150 MeV, 2 cm SPR 1.7 at 3 cm (geometric depth)"
    )
    left.set(
        xlabel="depth in water (mm)",
        ylabel="IDD (MeV/mm per proton)",
        title="Bortfeld curves; dotted: PSTAR CSDA range",
    )
    left.legend(fontsize=8)
    right.set(
        xlabel="depth in water (mm)",
        ylabel="lateral sigma (mm)",
        title="solid: sqrt(air^2 + MCS^2); dashed: MCS only",
    )
    path = output / "proton_pristine_peaks.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    print(f"\nfigure: {path}")
    return path


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="rtwin-"))
    folder.mkdir(parents=True, exist_ok=True)
    main(folder)
