"""EQD2 DVHs, LKB NTCP and Poisson TCP for one dose shape given in three fractionations.

Run::

    python examples/radiobiology.py

The dose is made up, not calculated: a dose that covers the PTV of the
embedded prostate phantom and falls off over about a centimetre (5 mm dose
grid), normalised to three prescriptions — 78 Gy in 39 fractions, 60 Gy in
20 and 36.25 Gy in 5. Each course is converted to EQD2 voxel by voxel (each
DVH bin has its own dose per fraction) and scored with the LKB and
Poisson-LQ models.

The NTCP and TCP parameters below are ILLUSTRATIVE round numbers, not
published fits: rtwin ships no LKB parameters (see docs/radiobiology.md),
and you should use values from a source you trust for your endpoint. The
prostate α/β comes from rtwin's table of published values. Runs in a few
seconds, needs no data files.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

import rtwin
from rtwin.evaluation import DVH
from rtwin.radiobiology import (
    LKBParameters,
    TCPParameters,
    alpha_beta_values,
    eqd2,
    geud,
    lkb_ntcp,
    poisson_tcp,
)

COURSES = {"78 Gy / 39 fx": (78.0, 39), "60 Gy / 20 fx": (60.0, 20), "36.25 Gy / 5 fx": (36.25, 5)}
RECTUM_ALPHA_BETA_GY = 3.0  # a common planning convention for late rectal effects, not a fit
RECTUM_LKB = LKBParameters(
    td50_gy=75.0,
    m=0.15,
    n=0.1,
    organ="Rectum",
    endpoint="late toxicity",
    source="ILLUSTRATIVE values for this example, not a published fit",
)


def dose_shape(patient: rtwin.Patient) -> rtwin.dose.Dose:
    """1.0 over the PTV, a sigmoid fall-off outside (relative dose)."""
    dose_grid = patient.grid.with_spacing(5.0)
    ptv = patient.structures["PTV"].resampled(dose_grid)
    spacing_kji = dose_grid.spacing_mm[::-1]
    outside = ndimage.distance_transform_edt(~ptv.mask, sampling=spacing_kji)
    inside = ndimage.distance_transform_edt(ptv.mask, sampling=spacing_kji)
    falloff = 1.0 / (1.0 + np.exp((outside - inside - 10.0) / 2.5))
    return rtwin.dose.Dose(values=1.03 * falloff, grid=dose_grid, description="shape")


def main() -> None:
    patient = rtwin.phantoms.prostate()
    shape = dose_shape(patient)
    prostate = next(
        v
        for v in alpha_beta_values()
        if v.tissue == "prostate cancer" and "conventional" in v.parameter
    )
    tumour = TCPParameters(
        alpha_per_gy=0.15,
        beta_per_gy2=0.15 / prostate.alpha_beta_gy,
        clonogens_per_cc=1e6,
        source=f"ILLUSTRATIVE α and density; α/β {prostate.alpha_beta_gy} Gy from {prostate.source}",
    )
    print(f"prostate α/β = {prostate.alpha_beta_gy} Gy ({prostate.interval}; {prostate.source})")
    print(f"rectum α/β = {RECTUM_ALPHA_BETA_GY} Gy (planning convention)")
    print(
        f"rectum LKB: TD50 {RECTUM_LKB.td50_gy} Gy, m {RECTUM_LKB.m}, n {RECTUM_LKB.n} "
        f"({RECTUM_LKB.source})\n"
    )

    header = (
        f"{'course':<17}{'PTV D95':>9}{'PTV EQD2 D95':>14}{'Rectum Dmean':>14}"
        f"{'EQD2 Dmean':>12}{'EQD2 gEUD':>11}{'NTCP':>8}{'TCP':>8}"
    )
    print(header)
    for name, (prescription_gy, n_fractions) in COURSES.items():
        dose = shape.scaled(prescription_gy)
        ptv = DVH.compute(dose, patient.structures["PTV"])
        rectum = DVH.compute(dose, patient.structures["Rectum"])
        ptv_eqd2 = eqd2(ptv, n_fractions=n_fractions, alpha_beta_gy=prostate.alpha_beta_gy)
        rectum_eqd2 = eqd2(rectum, n_fractions=n_fractions, alpha_beta_gy=RECTUM_ALPHA_BETA_GY)
        ntcp = lkb_ntcp(
            rectum, RECTUM_LKB, n_fractions=n_fractions, alpha_beta_gy=RECTUM_ALPHA_BETA_GY
        )
        tcp = poisson_tcp(ptv, tumour, n_fractions=n_fractions)
        print(
            f"{name:<17}{ptv.dose_at_volume(0.95):>9.2f}{ptv_eqd2.dose_at_volume(0.95):>14.2f}"
            f"{rectum.mean_gy:>14.2f}{rectum_eqd2.mean_gy:>12.2f}"
            f"{geud(rectum_eqd2, RECTUM_LKB.a):>11.2f}{ntcp:>8.3f}{tcp:>8.3f}"
        )
    print(
        "(doses in Gy; EQD2 columns with the α/β above; NTCP and TCP with illustrative parameters)"
    )


if __name__ == "__main__":
    main()
