"""Write the C-shape phantom as DICOM (CT series + RTSTRUCT) for ``rtwin compare``.

Run::

    python examples/write_phantom_dicom.py FOLDER [--voxel-mm 4]

Builds the embedded TG-119-like C-shape phantom (``rtwin.phantoms.cshape``,
4 mm voxels by default) and writes it into FOLDER as a CT series
(``FOLDER/CT/CT_0001.dcm``, ...) and an RT Structure Set (``FOLDER/RS.dcm``
with BODY, Core and OuterTarget), then lists what it wrote. FOLDER must not
exist or must be empty: the script never overwrites anything (exit code 2
if it is not).

``examples/study.toml`` expects this folder at ``examples/phantom-dicom``::

    python examples/write_phantom_dicom.py examples/phantom-dicom
    rtwin compare examples/study.toml

A few seconds (more for finer voxels: the default 3 x 3 x 2.5 mm phantom of
``rtwin.phantoms.cshape()`` is ``--voxel-mm 3 3 2.5``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import rtwin


def write_phantom(folder: Path, voxel_mm: tuple[float, ...]) -> None:
    """Write the C-shape phantom's CT and structures into an empty ``folder``."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        print(
            f"write_phantom_dicom.py: {folder} exists and is not an empty folder; "
            "choose a new folder (nothing was written)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    patient = rtwin.phantoms.cshape(voxel_mm=voxel_mm[0] if len(voxel_mm) == 1 else voxel_mm)
    series = rtwin.io.write_image_series(
        patient.image,
        folder / "CT",
        patient_id="PHANTOM-CSHAPE",
        patient_position=patient.position,
        series_description="rtwin C-shape phantom",
    )
    rtwin.io.write_rtstruct(patient.structures, series, folder / "RS.dcm")
    print(f"wrote {patient!r}")
    for summary in rtwin.io.list_series(folder):
        print(f"  {summary.describe()}")
    for name, structure in patient.structures.items():
        print(f"  {name:<12} {structure.role.value:<14} {structure.volume_cc:9.1f} cc")
    print(f"into {folder}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="new (or empty) output folder")
    parser.add_argument(
        "--voxel-mm",
        type=float,
        nargs="+",
        default=[4.0],
        help="voxel size in mm: one number, or x y z (default 4)",
    )
    arguments = parser.parse_args(argv)
    if len(arguments.voxel_mm) not in (1, 3):
        parser.error("--voxel-mm takes one number or three (x y z)")
    write_phantom(arguments.folder, tuple(arguments.voxel_mm))


if __name__ == "__main__":
    main(sys.argv[1:])
