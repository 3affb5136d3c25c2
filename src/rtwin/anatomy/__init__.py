"""Anatomy: images, structures and structure sets on voxel grids.

Examples
--------
>>> import rtwin
>>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
>>> patient.structures["Target"].role.value
'target'
"""

from rtwin.anatomy._contours import contours_from_mask, rasterize_contours
from rtwin.anatomy._image import Image, Modality
from rtwin.anatomy._structure import Structure, StructureRole
from rtwin.anatomy._structure_set import StructureSet

__all__ = [
    "Image",
    "Modality",
    "Structure",
    "StructureRole",
    "StructureSet",
    "contours_from_mask",
    "rasterize_contours",
]
