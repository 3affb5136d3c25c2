"""Photon finite-size pencil-beam engine."""

from rtwin.dose.photon._engine import PhotonKernelModel, PhotonPencilBeam, lateral_cutoff_mm
from rtwin.dose.photon._scatter import ScatterConvolution

__all__ = ["PhotonKernelModel", "PhotonPencilBeam", "ScatterConvolution", "lateral_cutoff_mm"]
