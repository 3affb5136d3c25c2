"""Evaluate every optimization objective on a random dose and print value and gradient norm.

Run::

    python examples/objectives.py

The "structure" is 2000 voxels with doses around 50 Gy and random partial
volumes; no data files are needed. Each objective sees all the voxels of
its structure, so the same doses serve a target and an organ at risk here.
"""

from __future__ import annotations

import numpy as np

import rtwin


def main() -> None:
    rng = np.random.default_rng(2024)
    dose = rng.normal(50.0, 4.0, size=2000).clip(min=0.0)  # Gy
    volumes = rng.uniform(0.5, 1.0, size=dose.size)  # relative voxel volumes
    optimize = rtwin.optimize
    objectives = [
        optimize.SquaredDeviation("PTV", dose_gy=50.0, weight=1000.0),
        optimize.SquaredOverdose("Core", dose_gy=52.0, weight=300.0),
        optimize.SquaredUnderdose("PTV", dose_gy=48.0, weight=100.0),
        optimize.MaxDose("Core", dose_gy=60.0, weight=10.0),
        optimize.MinDose("PTV", dose_gy=40.0, weight=10.0),
        optimize.MeanDose("Core", dose_gy=45.0, weight=100.0),
        optimize.MaxDVH("Core", dose_gy=55.0, volume_fraction=0.05, weight=100.0),
        optimize.MinDVH("PTV", dose_gy=47.5, volume_fraction=0.95, weight=100.0),
        optimize.GEUD("Core", dose_gy=50.0, a=8.0, weight=100.0),
        optimize.GEUD("PTV", dose_gy=49.0, a=-10.0, weight=100.0),
    ]
    print(
        f"dose: {dose.size} voxels, mean {dose.mean():.2f} Gy, "
        f"min {dose.min():.2f} Gy, max {dose.max():.2f} Gy"
    )
    print(f"{'objective':<72}{'value':>12}{'|gradient|':>13}")
    for objective in objectives:
        value, gradient = objective.value_and_gradient(dose, volumes)
        print(f"{objective.describe():<72}{value:>12.4g}{np.linalg.norm(gradient):>13.4g}")


if __name__ == "__main__":
    main()
