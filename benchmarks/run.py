"""rtwin benchmarks: rtwin side by side with a reference measured in the same run.

Usage::

    python benchmarks/run.py [--quick] [--json results.json]

Prints one markdown table (rtwin's figure, the reference's, the ratio) and
optionally writes JSON for tracking. Figures are wall-clock medians on this
machine; nothing here is asserted by the test suite.

Benchmarks so far:

* ``import rtwin`` vs ``import numpy`` (the floor any rtwin import pays), in
  fresh interpreters; also checks that importing rtwin loads neither numba
  nor scipy, pydicom, SimpleITK or matplotlib (no compilation at import).
* ``read_matrad`` on the CORT TG119 file vs ``scipy.io.loadmat`` of the same
  file (the raw parse rtwin's reader is built on), when ../shared is present.
* a 5 mm margin on the TG119 OuterTarget vs one ``scipy.ndimage`` Euclidean
  distance transform of the same cropped region (the core operation).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RTWIN_SHARED", REPOSITORY.parent / "shared"))


def _median_seconds(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _subprocess_seconds(code: str, repeats: int) -> float:
    def run() -> None:
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)

    run()  # warm the file-system cache
    return _median_seconds(run, repeats)


def bench_import(repeats: int) -> list[dict[str, object]]:
    rtwin_time = _subprocess_seconds("import rtwin", repeats)
    numpy_time = _subprocess_seconds("import numpy", repeats)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, rtwin; print(','.join(m for m in ('numba', 'scipy', 'pydicom', "
            "'SimpleITK', 'matplotlib') if m in sys.modules))",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    phantom_time = _subprocess_seconds("import rtwin; rtwin.phantoms.water_box()", repeats)
    return [
        {
            "benchmark": "import rtwin (fresh interpreter)",
            "rtwin_s": rtwin_time,
            "reference": "import numpy",
            "reference_s": numpy_time,
            "note": f"heavy modules loaded by import: {probe or 'none'}",
        },
        {
            "benchmark": "import rtwin + water_box phantom",
            "rtwin_s": phantom_time,
            "reference": "import numpy",
            "reference_s": numpy_time,
            "note": "first use loads scipy on demand",
        },
    ]


def bench_matrad(repeats: int) -> list[dict[str, object]]:
    path = SHARED / "data" / "cort" / "TG119.mat"
    if not path.is_file():
        return [{"benchmark": "read_matrad TG119", "note": f"skipped: {path} absent"}]
    from scipy import io as scipy_io

    import rtwin

    rtwin_time = _median_seconds(lambda: rtwin.io.read_matrad(path), repeats)
    scipy_time = _median_seconds(lambda: scipy_io.loadmat(path), repeats)
    patient = rtwin.io.read_matrad(path)
    target = patient.structures["OuterTarget"]
    margin_time = _median_seconds(lambda: target.expanded(5.0), repeats)
    from scipy import ndimage

    box = target.bounding_box()
    reach = (4, 4, 4)
    crop = tuple(slice(max(0, s.start - r), s.stop + r) for s, r in zip(box, reach, strict=True))
    region = ~target.mask[crop]
    spacing = patient.grid.spacing_mm[::-1]
    edt_time = _median_seconds(
        lambda: ndimage.distance_transform_edt(region, sampling=spacing), repeats
    )
    return [
        {
            "benchmark": "read_matrad TG119 (CT + 3 structures)",
            "rtwin_s": rtwin_time,
            "reference": "scipy.io.loadmat (raw parse)",
            "reference_s": scipy_time,
            "note": "",
        },
        {
            "benchmark": "OuterTarget.expanded(5 mm), 3x3x2.5 mm voxels",
            "rtwin_s": margin_time,
            "reference": "one scipy EDT of the cropped box",
            "reference_s": edt_time,
            "note": "rtwin runs two EDTs (inside and outside) for the sub-voxel surface",
        },
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, default=None, help="write results as JSON here")
    arguments = parser.parse_args()
    repeats = 3 if arguments.quick else 10
    rows = bench_import(repeats) + bench_matrad(max(2, repeats // 3))
    print("| benchmark | rtwin (s) | reference | reference (s) | ratio | note |")
    print("|---|---:|---|---:|---:|---|")
    for row in rows:
        if "rtwin_s" not in row:
            print(f"| {row['benchmark']} | – | – | – | – | {row['note']} |")
            continue
        ratio = row["rtwin_s"] / row["reference_s"]
        print(
            f"| {row['benchmark']} | {row['rtwin_s']:.3f} | {row['reference']} | "
            f"{row['reference_s']:.3f} | {ratio:.2f} | {row['note']} |"
        )
    if arguments.json:
        arguments.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
