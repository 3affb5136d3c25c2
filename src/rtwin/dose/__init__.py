"""Dose: ray tracing, photon and proton pencil-beam engines, dose-influence matrices.

Examples
--------
>>> import rtwin
>>> callable(rtwin.dose.radiological_depth)
True
"""

from rtwin.dose._dose import Dose
from rtwin.dose._influence import BeamletTable, DoseInfluence
from rtwin.dose._raytrace import radiological_depth
from rtwin.dose.photon import PhotonPencilBeam
from rtwin.dose.proton import ProtonPencilBeam

__all__ = [
    "BeamletTable",
    "Dose",
    "DoseInfluence",
    "PhotonPencilBeam",
    "ProtonPencilBeam",
    "radiological_depth",
]
