"""Commission rtwin's photon pencil-beam model from BJR Supplement 25 depth doses.

Run::

    python examples/photon_machine_fit.py [output_folder]

Fits the model to the six BJR-25 6 MV points (PDD at 10 and 20 cm for 6, 7 and
10 cm fields, SSD 100 cm), prints the residual table, the fitted parameters,
d_max and PDD(10) against field size, compares with the shipped generic 6 MV
machine, refits 4, 5 and 8 MV, and saves a PDD plot (PNG) to the folder given
(default: a new temporary folder). Takes about a second.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from rtwin.machines import bjr25_depth_doses, fit_photon_machine, generic_6mv


def main(argv: list[str]) -> Path:
    folder = Path(argv[0]) if argv else Path(tempfile.mkdtemp(prefix="rtwin-machine-"))
    folder.mkdir(parents=True, exist_ok=True)

    measurements = bjr25_depth_doses(6)
    fit = fit_photon_machine(measurements, energy_mv=6, name="6 MV from BJR-25")
    machine = fit.machine
    print(f"{machine.name}: converged {fit.converged} ({fit.message})")
    print(f"RMS {fit.rms_pp:.2f} pp, max |residual| {fit.max_abs_pp:.2f} pp")
    print(
        f"d_max soft constraint applied: {fit.dmax_constraint_applied} "
        f"(target {fit.dmax_target_cm} cm, model {fit.dmax_model_cm:.2f} cm)\n"
    )
    print(fit.table(), "\n")
    print(fit.parameter_table(), "\n")

    print("| field (cm) | d_max (cm) | PDD(5) (%) | PDD(10) (%) | PDD(20) (%) |")
    print("|---|---|---|---|---|")
    for field in (3, 4, 5, 6, 7, 10, 15, 20, 25, 30, 40):
        pdd = machine.central_axis_pdd(field_size_cm=field, depths_cm=[5.0, 10.0, 20.0])
        dmax = machine.depth_of_maximum_cm(field_size_cm=field)
        print(f"| {field} | {dmax:.2f} | {pdd[0]:.1f} | {pdd[1]:.1f} | {pdd[2]:.1f} |")

    shipped = generic_6mv().parameters.as_dict()
    largest = max(
        abs(value / shipped[name] - 1.0) for name, value in machine.parameters.as_dict().items()
    )
    print(f"\nlargest relative difference to the shipped generic_6mv(): {largest:.1e}")

    for energy in (4, 5, 8):
        other = fit_photon_machine(bjr25_depth_doses(energy), energy_mv=energy)
        print(
            f"{energy} MV: RMS {other.rms_pp:.2f} pp, max {other.max_abs_pp:.2f} pp, "
            f"d_max(10 x 10) {other.dmax_model_cm:.2f} cm, converged {other.converged}"
        )

    figure, axes = plt.subplots(figsize=(7, 4.5))
    depths = np.linspace(0.0, 30.0, 301)
    for field in (5, 6, 10, 20, 30):
        pdd = machine.central_axis_pdd(field_size_cm=field, depths_cm=depths)
        axes.plot(depths, pdd, label=f"model {field} x {field} cm²")
    for measurement in measurements:
        axes.plot(
            measurement.depths_cm,
            measurement.values_percent,
            "ko",
            markersize=4,
            label="BJR-25" if measurement is measurements[0] else None,
        )
    axes.set_xlabel("depth in water (cm)")
    axes.set_ylabel("PDD (% of D_max)")
    axes.set_title("rtwin generic 6 MV, SSD 100 cm")
    axes.grid(alpha=0.3)
    axes.legend()
    path = folder / "pdd_6mv.png"
    figure.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(figure)
    print(f"\nsaved {path}")
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
