"""Radiobiology: BED and EQD2, gEUD, LKB NTCP and Poisson–LQ TCP.

Every function takes the *physical* dose of a course (a number, an array,
a :class:`~rtwin.dose.Dose` or a :class:`~rtwin.evaluation.DVH`) and says
in its arguments which biological dose it works in. Formulas, parameter
tables and their sources are in ``docs/radiobiology.md``.

Examples
--------
>>> import numpy as np
>>> import rtwin
>>> from rtwin.radiobiology import LKBParameters, eqd2, lkb_ntcp
>>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
>>> dose = rtwin.dose.Dose(values=np.full(patient.grid.shape, 40.0), grid=patient.grid)
>>> dvh = rtwin.evaluation.DVH.compute(dose, patient.structures["Target"])   # 5 x 8 Gy
>>> eqd2(dvh, n_fractions=5, alpha_beta_gy=3.0).mean_gy
88.0
>>> organ = LKBParameters(td50_gy=88.0, m=0.1, n=0.5, source="illustration")
>>> lkb_ntcp(dvh, organ, n_fractions=5, alpha_beta_gy=3.0)
0.5
"""

from rtwin.radiobiology._lq import bed, eqd2, physical_dose_from_bed, physical_dose_from_eqd2
from rtwin.radiobiology._ntcp import LKBParameters, geud, lkb_ntcp
from rtwin.radiobiology._tables import (
    AlphaBetaValue,
    alpha_beta_values,
    lkb_parameter_table,
    lkb_parameters,
)
from rtwin.radiobiology._tcp import TCPParameters, poisson_tcp, poisson_tcp_voxels

__all__ = [
    "AlphaBetaValue",
    "LKBParameters",
    "TCPParameters",
    "alpha_beta_values",
    "bed",
    "eqd2",
    "geud",
    "lkb_ntcp",
    "lkb_parameter_table",
    "lkb_parameters",
    "physical_dose_from_bed",
    "physical_dose_from_eqd2",
    "poisson_tcp",
    "poisson_tcp_voxels",
]
