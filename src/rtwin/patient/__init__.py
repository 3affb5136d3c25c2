"""The patient model: :class:`Patient` and its :class:`Provenance`.

Examples
--------
>>> import rtwin
>>> rtwin.phantoms.water_box(size_mm=60, voxel_mm=5).position.value
'HFS'
"""

from rtwin.patient._patient import Patient, PatientPosition
from rtwin.patient._provenance import Provenance, hash_arrays, hash_file

__all__ = ["Patient", "PatientPosition", "Provenance", "hash_arrays", "hash_file"]
