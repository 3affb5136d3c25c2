"""Dose: ray tracing, photon and proton pencil-beam engines, dose-influence matrices.

Examples
--------
>>> import rtwin
>>> callable(rtwin.dose.radiological_depth)
True
"""

from rtwin.dose._raytrace import radiological_depth

__all__ = ["radiological_depth"]
