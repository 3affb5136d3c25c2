"""Load the CORT TG-119 phantom (or the embedded look-alike) and print structure volumes.

Run::

    python examples/structure_volumes.py [path/to/TG119.mat]

Without an argument (or when the file is missing) it uses
``rtwin.phantoms.cshape()``, so it runs anywhere.
"""

from __future__ import annotations

import sys
from pathlib import Path

import rtwin


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if path is not None and path.is_file():
        patient = rtwin.io.read_matrad(path)
        source = f"matRad file {path.name}"
    else:
        patient = rtwin.phantoms.cshape()
        source = "embedded cshape phantom"
    print(f"{source}: grid {patient.grid.shape}, spacing {patient.grid.spacing_mm.tolist()} mm")
    print(f"{'structure':<14}{'role':<16}{'voxels':>9}{'volume (cc)':>13}  centroid (mm)")
    for name, structure in patient.structures.items():
        centroid = ", ".join(f"{c:7.1f}" for c in structure.centroid_mm)
        print(
            f"{name:<14}{structure.role.value:<16}{structure.n_voxels:>9}"
            f"{structure.volume_cc:>13.1f}  ({centroid})"
        )
    target = patient.structures.targets[0]
    ring = target.expanded(5.0) - target
    print(f"a 5 mm ring around {target.name}: {ring.volume_cc:.1f} cc")


if __name__ == "__main__":
    main()
