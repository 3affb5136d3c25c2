"""Photon finite-size pencil-beam engine."""

from rtwin.dose.photon._engine import PhotonKernelModel, PhotonPencilBeam, lateral_cutoff_mm

__all__ = ["PhotonKernelModel", "PhotonPencilBeam", "lateral_cutoff_mm"]
