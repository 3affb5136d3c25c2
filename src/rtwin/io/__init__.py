"""Input and output: DICOM series and RTSTRUCT, matRad/CORT files, NRRD doses.

The only package that imports pydicom. Readers never modify their input
files; writers refuse to overwrite unless asked.

DICOM (see ``docs/dicom.md``)::

    patient = rtwin.io.read_dicom("patient_dir/", pseudonym_key=secret)
    series = rtwin.io.read_image_series("ct_dir/")          # .image, .repairs, ...
    rtstruct = rtwin.io.read_rtstruct("RS.dcm", series)     # .structures, .skipped
    written = rtwin.io.write_image_series(patient.image, "out/", patient_id=patient.patient_id)
    rtwin.io.write_rtstruct(patient.structures, written, "out/RS.dcm")
"""

from rtwin.io._dicom import read_dicom
from rtwin.io._files import SeriesSummary, list_series
from rtwin.io._matrad import MatradObjective, read_matrad, read_matrad_objectives
from rtwin.io._nrrd import read_nrrd_dose
from rtwin.io._pseudonymize import pseudonymize_id
from rtwin.io._rtdose import RTDose, read_rtdose, write_rtdose
from rtwin.io._rtstruct import RTStruct, SkippedROI, read_rtstruct, role_of
from rtwin.io._series import ImageSeries, read_image_series
from rtwin.io._write import write_image_series, write_rtstruct

__all__ = [
    "ImageSeries",
    "MatradObjective",
    "RTDose",
    "RTStruct",
    "SeriesSummary",
    "SkippedROI",
    "list_series",
    "pseudonymize_id",
    "read_dicom",
    "read_image_series",
    "read_matrad",
    "read_matrad_objectives",
    "read_nrrd_dose",
    "read_rtdose",
    "read_rtstruct",
    "role_of",
    "write_image_series",
    "write_rtdose",
    "write_rtstruct",
]
