"""Input and output: DICOM series and RTSTRUCT, matRad/CORT files.

The only package that imports pydicom. Readers never modify their input
files; writers refuse to overwrite unless asked.
"""

from rtwin.io._matrad import MatradObjective, read_matrad, read_matrad_objectives

__all__ = ["MatradObjective", "read_matrad", "read_matrad_objectives"]
