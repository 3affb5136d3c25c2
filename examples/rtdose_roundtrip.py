"""Write a dose as DICOM RT Dose beside its CT, read it back, and report the round-trip error.

Run::

    python examples/rtdose_roundtrip.py            # synthetic dose of the prostate phantom
    python examples/rtdose_roundtrip.py RD.dcm     # or: describe an RT Dose file
    python examples/rtdose_roundtrip.py RD.dcm 50  # ... with RELATIVE units: 1.0 = 50 Gy

The dose is made up (a smooth dose around the PTV on a 4 mm grid). The CT
is written first, so that the RT Dose joins its study and frame of
reference; everything goes to a temporary folder that is deleted at the end.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pydicom

import rtwin
from rtwin.io import read_rtdose, write_image_series, write_rtdose


def synthetic_dose(patient: rtwin.Patient) -> rtwin.dose.Dose:
    """60 Gy at the PTV centroid, a Gaussian fall-off (sigma 25 mm) around it."""
    grid = patient.grid.with_spacing(4.0)
    offset = grid.voxel_centers_mm() - patient.structures["PTV"].centroid_mm
    values = 60.0 * np.exp(-np.sum(offset**2, axis=-1) / (2 * 25.0**2))
    return rtwin.dose.Dose(values=values, grid=grid, description="synthetic")


def describe(path: Path, reference_dose_gy: float | None) -> None:
    rtdose = read_rtdose(path, reference_dose_gy=reference_dose_gy)
    print(rtdose)
    print(f"  frame of reference {rtdose.frame_of_reference_uid or '(none)'}")
    print(f"  referenced plan(s) {', '.join(rtdose.referenced_plan_uids) or '(none)'}")
    print(
        f"  DoseGridScaling    {rtdose.dose_grid_scaling:.10g} ({rtdose.dose_units} per stored value)"
    )
    for note in rtdose.notes:
        print(f"  note: {note}")


def main() -> None:
    if len(sys.argv) > 1:
        describe(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else None)
        return
    patient = rtwin.phantoms.prostate()
    dose = synthetic_dose(patient)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder)
        series = write_image_series(patient.image, out / "CT", patient_id=patient.patient_id)
        written = write_rtdose(dose, out / "RD.dcm", reference=series)
        read = read_rtdose(written.path)
        size_kb = written.path.stat().st_size / 1024
        in_file = pydicom.dcmread(written.path)  # the file's own numbers, without rtwin
        file_gy = in_file.pixel_array.astype(np.float64) * float(in_file.DoseGridScaling)

    original = dose.values.astype(np.float64)
    error = np.abs(read.dose.values.astype(np.float64) - original)
    file_error = np.abs(file_gy - original).max()
    high = dose.values > dose.max_gy / 256
    print(f"dose {dose!r}")
    print(
        f"wrote RD.dcm ({size_kb:.0f} kB) in the CT's frame of reference: "
        f"{read.frame_of_reference_uid == series.frame_of_reference_uid}"
    )
    print(f"read back {read!r}")
    print(f"DoseGridScaling        {read.dose_grid_scaling:.6g} Gy (max / (2**32 - 1), rounded up)")
    print(
        f"max |error| in file    {file_error:.4g} Gy (stored x scaling, float64; scaling / 2 = "
        f"{read.dose_grid_scaling / 2:.4g})"
    )
    print(
        f"max |error| read back  {error.max():.4g} Gy (float32: plus its rounding of small doses)"
    )
    print(
        f"bit-identical voxels   {np.mean(error == 0):.1%} (all {np.all(error[high] == 0)} above max/256)"
    )
    print(f"same grid              {read.grid == dose.grid}")
    for note in written.notes:
        print(f"note: {note}")


if __name__ == "__main__":
    main()
