"""DVH metrics, a goal table and plan-quality indices for a synthetic prostate dose.

Run::

    python examples/dvh_and_goals.py

The dose is made up, not calculated: 78 Gy covering the PTV of the
embedded prostate phantom and falling off over about a centimetre, on a
5 mm dose grid while the structures stay on the 3 mm CT grid. No dose
engine is needed; it runs in a few seconds.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

import rtwin
from rtwin.evaluation import (
    DVH,
    GoalSet,
    Metric,
    gradient_index,
    homogeneity_index,
    paddick_conformity_index,
)

PRESCRIPTION_GY = 78.0


def synthetic_dose(patient: rtwin.Patient) -> rtwin.dose.Dose:
    """78 Gy over the PTV, a sigmoid fall-off outside, a 2 % tilt across it."""
    dose_grid = patient.grid.with_spacing(5.0)
    ptv = patient.structures["PTV"].resampled(dose_grid)
    spacing_kji = dose_grid.spacing_mm[::-1]
    outside = ndimage.distance_transform_edt(~ptv.mask, sampling=spacing_kji)
    inside = ndimage.distance_transform_edt(ptv.mask, sampling=spacing_kji)
    signed_mm = outside - inside  # > 0 outside the PTV
    falloff = 1.0 / (1.0 + np.exp((signed_mm - 10.0) / 2.5))
    x = dose_grid.voxel_centers_mm()[..., 0] - ptv.centroid_mm[0]
    values = PRESCRIPTION_GY * 1.03 * falloff * (1.0 + 0.0005 * x)
    return rtwin.dose.Dose(values=values, grid=dose_grid, description="synthetic")


def main() -> None:
    patient = rtwin.phantoms.prostate()
    dose = synthetic_dose(patient)
    print(f"dose {dose!r}; structures on {patient.grid!r}\n")

    metrics = [Metric.parse(text) for text in ("Dmean", "Dmax", "D2%", "D95%", "D0.03cc", "V70Gy")]
    header = f"{'structure':<15}{'cc':>8}" + "".join(f"{m!s:>10}" for m in metrics)
    print(header)
    dvhs = {}
    for name in ("PTV", "Rectum", "Bladder", "FemoralHead_L", "FemoralHead_R"):
        dvh = DVH.compute(dose, patient.structures[name])
        dvhs[name] = dvh
        cells = "".join(f"{m.evaluate(dvh):>10.2f}" for m in metrics)
        print(f"{name:<15}{dvh.volume_cc:>8.1f}{cells}")
    print("(doses in Gy, V70Gy in % of the structure)\n")

    protocol = GoalSet.parse(
        [
            "PTV D95% >= 76 Gy ± 1 Gy",
            "PTV D2% <= 82 Gy",
            "Rectum D2cc <= 76 Gy",
            "FemoralHead_L Dmax < 50 Gy",
        ]
    )
    print(protocol.evaluate(dose, patient.structures))
    print()

    quantec = GoalSet.quantec()
    results = quantec.evaluate(dose, patient.structures)
    evaluated = [row for row in results if row.status.value != "not evaluated"]
    print(f"QUANTEC: {len(evaluated)} of {len(results)} goals apply to this patient's organs")
    for row in evaluated:
        print(
            f"  {row.structure:<8} {row.goal.metric!s:<7} {row.goal.comparator.value} "
            f"{row.goal.limit:g} {row.unit:<3} value {row.value:6.2f}  {row.status.value:<5} "
            f"({row.goal.endpoint}, risk {row.goal.risk})"
        )
    print()

    ptv = patient.structures["PTV"]
    body = patient.structures["Body"]
    print(f"Paddick CI  {paddick_conformity_index(dose, ptv, PRESCRIPTION_GY, body=body):.3f}")
    print(f"ICRU 83 HI  {homogeneity_index(dvhs['PTV']):.3f}")
    print(f"Paddick GI  {gradient_index(dose, PRESCRIPTION_GY, body=body):.2f}")


if __name__ == "__main__":
    main()
