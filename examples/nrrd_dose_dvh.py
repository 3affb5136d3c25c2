"""Read a dose from NRRD (3D Slicer / SlicerRT) and tabulate the DVH of each structure.

Run::

    python examples/nrrd_dose_dvh.py                     # synthetic: prostate phantom, RAS NRRD
    python examples/nrrd_dose_dvh.py Dose.nrrd RS.dcm    # or: a dose and its structure set

Without arguments a made-up dose of the prostate phantom (a Gaussian around
the PTV) is written as a gzip NRRD in 3D Slicer's RAS space, read back
(``read_nrrd_dose`` turns it into DICOM LPS) and evaluated. Given files, the
structure set is read onto the dose grid's slices with its pixels halved
(the contours' own slices; a finer in-plane raster for small organs).
"""

from __future__ import annotations

import gzip
import sys
import tempfile
from pathlib import Path

import numpy as np

import rtwin
from rtwin.evaluation import DVH
from rtwin.geometry import Grid
from rtwin.io import read_nrrd_dose, read_rtstruct


def write_ras_nrrd(dose: rtwin.dose.Dose, path: Path) -> None:
    """A float gzip NRRD in RAS (x and y of every vector negated), as 3D Slicer writes."""
    steps = (dose.grid.affine[:3, :3] * np.array([-1.0, -1.0, 1.0])[:, None]).T  # rows i, j, k
    origin = dose.grid.origin_mm * np.array([-1.0, -1.0, 1.0])
    nz, ny, nx = dose.grid.shape
    vector = lambda v: "(" + ",".join(f"{c:.17g}" for c in v) + ")"  # noqa: E731
    header = (
        "NRRD0004\ntype: float\ndimension: 3\nspace: right-anterior-superior\n"
        f"sizes: {nx} {ny} {nz}\nspace directions: {' '.join(vector(s) for s in steps)}\n"
        f"kinds: domain domain domain\nendian: little\nencoding: gzip\n"
        f"space origin: {vector(origin)}\n\n"
    )
    path.write_bytes(header.encode() + gzip.compress(dose.values.astype("<f4").tobytes()))


def halved_pixels(grid: Grid) -> Grid:
    """The dose grid's extent and slices with pixels half as wide."""
    step = grid.spacing_mm
    spacing = step / np.array([2.0, 2.0, 1.0])
    nx, ny, nz = grid.size_xyz
    return Grid.from_spacing(
        (nz, 2 * ny, 2 * nx),
        spacing_mm=spacing,
        origin_mm=grid.origin_mm - grid.direction @ ((step - spacing) / 2),
        direction=grid.direction,
    )


def table(dose: rtwin.dose.Dose, structures: rtwin.anatomy.StructureSet) -> None:
    print(f"{'structure':18s} {'cc':>9s} {'Dmean':>7s} {'D95%':>7s} {'D2%':>7s} {'Dmax':>7s}  (Gy)")
    for name, structure in structures.items():
        dvh = DVH.compute(dose, structure)
        print(
            f"{name:18s} {dvh.volume_cc:9.1f} {dvh.mean_gy:7.2f} {dvh.dose_at_volume(0.95):7.2f} "
            f"{dvh.dose_at_volume(0.02):7.2f} {dvh.max_gy:7.2f}"
        )


def main() -> None:
    if len(sys.argv) > 2:
        dose = read_nrrd_dose(sys.argv[1])
        print(f"dose {dose.grid!r}, max {dose.max_gy:.2f} Gy")
        table(dose, read_rtstruct(sys.argv[2], halved_pixels(dose.grid)).structures)
        return
    patient = rtwin.phantoms.prostate()
    grid = patient.grid.with_spacing(4.0)
    offset = grid.voxel_centers_mm() - patient.structures["PTV"].centroid_mm
    original = rtwin.dose.Dose(
        values=60.0 * np.exp(-np.sum(offset**2, axis=-1) / (2 * 25.0**2)), grid=grid
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "dose.nrrd"
        write_ras_nrrd(original, path)
        dose = read_nrrd_dose(path)
    difference = np.abs(dose.values - original.values).max()
    print(
        f"wrote and read a RAS NRRD: same LPS grid {dose.grid == original.grid}, "
        f"max |difference| {difference:.3g} Gy"
    )
    table(dose, patient.structures)


if __name__ == "__main__":
    main()
