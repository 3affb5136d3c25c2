"""Procedural phantoms: the embedded default patients (no data download, ever).

Every phantom is built from analytic solids at the voxel size asked for and
returned as a :class:`~rtwin.patient.Patient` (HFS, DICOM LPS millimetres,
grid centred near the origin) with a CT in HU, a body outline of role
``external`` and named structures:

=====================  ==============================================================
:func:`water_box`      water box with a spherical or cubic ``Target``
:func:`slab`           water with slabs of lung (0.26 g/cm³), bone or water (:class:`Slab`)
:func:`cshape`         AAPM TG-119 C-shape (``BODY``, ``Core``, ``OuterTarget``),
                       dimensions measured from the CORT TG119 phantom
:func:`prostate`       male pelvis: ``PTV``, ``Rectum``, ``Bladder``, femoral heads
:func:`head_neck`      neck: ``PTV``, ``SpinalCord`` in the vertebrae, parotids
=====================  ==============================================================

CT numbers are the HU that the patient's calibration maps to each tissue's
relative electron density (computed from ICRU/ICRP compositions, see
:func:`rtwin.materials.tissue`); voxels on a boundary hold the volume-weighted
mean HU, and a voxel belongs to a structure when at least half its volume
does. Phantoms are deterministic: the same arguments give the same patient.

Examples
--------
>>> import rtwin
>>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
>>> [(name, round(s.volume_cc, 1)) for name, s in patient.structures.items()]  # sphere: 33.5 cc
[('Body', 216.0), ('Target', 35.0)]
"""

from rtwin.phantoms._anatomical import head_neck, prostate
from rtwin.phantoms._cshape import cshape
from rtwin.phantoms._water import SLAB_MATERIALS, Slab, slab, slab_material, water_box

__all__ = [
    "SLAB_MATERIALS",
    "Slab",
    "cshape",
    "head_neck",
    "prostate",
    "slab",
    "slab_material",
    "water_box",
]
