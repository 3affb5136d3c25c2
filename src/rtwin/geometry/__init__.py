"""Geometry: the voxel :class:`Grid` (DICOM LPS, mm) and resampling between grids.

Examples
--------
>>> from rtwin.geometry import Grid
>>> grid = Grid.from_spacing((4, 5, 6), spacing_mm=(1.0, 1.0, 3.0))
>>> grid.voxel_volume_mm3
3.0
"""

from rtwin.geometry._grid import Grid
from rtwin.geometry._iec import BeamFrame, beam_frame, patient_to_support
from rtwin.geometry._resample import RESAMPLING_METHODS, resample_array

__all__ = [
    "RESAMPLING_METHODS",
    "BeamFrame",
    "Grid",
    "beam_frame",
    "patient_to_support",
    "resample_array",
]
