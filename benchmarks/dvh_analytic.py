"""Nelms et al. (2015) analytic DVH benchmark: every case through rtwin vs the analytic answers.

Usage::

    python benchmarks/dvh_analytic.py [--grid fine|ct] [--json results.json]
                                      [--markdown docs/dvh_analytic_results.md]

Reads ``../shared/data/dvh-analytic/nelms2015`` (or ``$RTWIN_SHARED/data/...``):
50 RTSTRUCT files (sphere, cylinder, cone, and the cylinder and cone lying on
their side, "Rt"; contour spacing 0.2 / 1 / 2 / 3 mm; shifted by half a
voxel or not), six RTDOSE files (linear gradients of 1 Gy/mm along y, "AP",
or z, "SI", on 1 / 2 / 3 mm grids) and the analytic answers
(``ANALYTICAL_RESULTS/analytical_points.csv``: volume, Dmin, Dmax, Dmean,
D99, D95, D5, D1, D0.03cc for 100 cases). The 10 cases on the 0.4 x 0.2 x
0.4 mm dose grids are listed as skipped: those files are not in the public
snapshot. Every other case (90) is run: ``read_rtstruct`` on a reference
grid, ``read_rtdose``, ``DVH.compute`` and the metric methods.

Reference grid (``--grid``):

``fine`` (default)
    0.2 mm pixels (the CT's 0.6 mm pixel lattice split 3 x 3), slices of a
    fifth of the contour spacing (0.2 / 0.4 / 0.6 mm for 1 / 2 / 3 mm
    contours; 0.2 mm for the 0.2 mm contours), covering the contours. Each
    contour plane fills a slab one contour spacing thick, so the stack
    has the half-slice end caps the analytic answers include.
``ct``
    The CT grid the contours were drawn on: 512 x 512 pixels of 0.6 mm, one
    slice per contour plane (the 2 and 3 mm CT series; for the 0.2 and 1 mm
    structure sets, whose CTs are not in the snapshot, the same rows and
    columns with a slice on each contour plane).

Prints a per-case markdown table and a summary beside the figures quoted
for dicompyler-core 0.5.6 (default settings, ``../shared/data/README.md``;
not rerun). Nothing is asserted here; ``tests/evaluation/test_dvh_nelms.py``
asserts the goals on a subset.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("RTWIN_SHARED", REPOSITORY.parent / "shared"))
DATA = SHARED / "data" / "dvh-analytic" / "nelms2015"

#: Dose metrics of the analytic table: (column, label); D0.03cc is a volume in cc.
METRICS = (
    ("Dmin_cGy", "Dmin"),
    ("Dmax_cGy", "Dmax"),
    ("Dmean_cGy", "Dmean"),
    ("D99_cGy", "D99"),
    ("D95_cGy", "D95"),
    ("D5_cGy", "D5"),
    ("D1_cGy", "D1"),
    ("D0.03cc_cGy", "D0.03cc"),
)
#: dicompyler-core 0.5.6, default settings, on the same 90 cases (../shared/data/README.md).
DICOMPYLER_CORE = {
    "volume_error_median_percent": -2.4,
    "volume_error_range_percent": (-25.0, 3.5),
    "Dmean_mean_abs_gy": 0.18,
    "D95_mean_abs_gy": 1.1,
    "D95_max_abs_gy": 6.3,
}
#: The goals of the evaluation issue.
GOALS = {"volume_error_median_abs_percent": 1.0, "D95_mean_abs_gy": 0.5}
#: In-plane pixel of the fine grid: the CT's 0.6 mm pixel split 3 x 3.
FINE_PIXEL_MM = 0.2
#: Fine-grid slices per contour plane (contour spacings of 1 mm and more).
FINE_SLICES_PER_PLANE = 5
#: The CT pixel lattice of the data set: first pixel centre (x = y) and pixel size.
CT_FIRST_PIXEL_MM = -153.3
CT_PIXEL_MM = 0.6
CT_PIXELS = 512


@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One row of the analytic table."""

    structure: str  # file stem in STRUCTURES/
    shape: str
    contour_spacing_mm: float
    shift: str
    dose_voxel: str  # "1", "2", "3" or "0.4x0.2x0.4"
    gradient: str  # "AP" or "SI"
    analytic: dict[str, float]  # volume_cc and the metrics in Gy

    @property
    def label(self) -> str:
        return f"{self.structure} {self.gradient} {self.dose_voxel} mm"

    @property
    def dose_file(self) -> str:
        direction = "AntPost" if self.gradient == "AP" else "SupInf"
        return f"Linear_{direction}_{self.dose_voxel}mm_Aligned.dcm"


def read_cases(data: Path = DATA) -> list[Case]:
    """Every row of ``analytical_points.csv``, in the file's order."""
    cases = []
    with open(data / "ANALYTICAL_RESULTS" / "analytical_points.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            structure = row["structure"].replace("__", "_")
            analytic = {"volume_cc": float(row["volume_cc"])}
            analytic.update({label: float(row[column]) / 100.0 for column, label in METRICS})
            cases.append(
                Case(
                    structure=structure,
                    shape=structure.split("_")[0],
                    contour_spacing_mm=float(row["ct_slice_spacing"].removesuffix("mm")),
                    shift=row["structure_shift"],
                    dose_voxel=row["dose_voxel_mm"],
                    gradient="AP" if row["gradient"].startswith("Z") else "SI",
                    analytic=analytic,
                )
            )
    return cases


@dataclass(frozen=True, slots=True, kw_only=True)
class ContourStack:
    """What the contours of one structure set say, before any rasterization."""

    low_mm: np.ndarray  # lowest contour point (x, y, z)
    high_mm: np.ndarray  # highest contour point
    planes_mm: np.ndarray  # distinct plane positions (z), ascending
    spacing_mm: float  # distance between neighbouring planes
    stack_cc: float  # sum of contour areas x spacing: the slab model's exact volume


def contour_stack(path: Path) -> ContourStack:
    """The contour stack of a benchmark structure set (one closed contour per plane)."""
    import pydicom

    dataset = pydicom.dcmread(path)
    contours = [
        np.array(contour.ContourData, dtype=float).reshape(-1, 3)
        for item in dataset.ROIContourSequence
        for contour in item.get("ContourSequence", [])
        if contour.ContourGeometricType == "CLOSED_PLANAR"
    ]
    points = np.concatenate(contours)
    planes = np.unique(np.round(points[:, 2], 4))
    spacing = float(np.min(np.diff(planes)))
    area = sum(
        0.5
        * abs(float(np.dot(c[:, 0], np.roll(c[:, 1], -1)) - np.dot(c[:, 1], np.roll(c[:, 0], -1))))
        for c in contours
    )
    return ContourStack(
        low_mm=points.min(axis=0),
        high_mm=points.max(axis=0),
        planes_mm=planes,
        spacing_mm=spacing,
        stack_cc=area * spacing / 1000.0,
    )


def reference_grid(path: Path, mode: str):
    """The grid the structure set is read onto (module docstring: ``fine`` or ``ct``)."""
    from rtwin.geometry import Grid

    stack = contour_stack(path)
    low, high, planes, spacing = stack.low_mm, stack.high_mm, stack.planes_mm, stack.spacing_mm
    if mode == "fine":
        pixel = FINE_PIXEL_MM
        per_plane = 1 if spacing < 2 * FINE_PIXEL_MM else FINE_SLICES_PER_PLANE
    elif mode == "ct":
        pixel, per_plane = CT_PIXEL_MM, 1
    else:
        raise ValueError(f"grid must be 'fine' or 'ct'; got {mode!r}")
    if mode == "ct":  # the CT's own rows and columns
        corner, size = [CT_FIRST_PIXEL_MM] * 2, [CT_PIXELS] * 2
    else:
        margin = 2.0
        corner = [
            CT_FIRST_PIXEL_MM + pixel * math.floor((low[a] - margin - CT_FIRST_PIXEL_MM) / pixel)
            for a in (0, 1)
        ]
        size = [int(math.ceil((high[a] + margin - corner[a]) / pixel)) + 1 for a in (0, 1)]
    slice_mm = spacing / per_plane
    n_slices = per_plane * len(planes)
    first = planes[0] - spacing / 2 + slice_mm / 2
    return Grid.from_spacing(
        (n_slices, size[1], size[0]),
        spacing_mm=(pixel, pixel, slice_mm),
        origin_mm=(corner[0], corner[1], first),
    )


def run_case(case: Case, mode: str, cache: dict, data: Path = DATA) -> dict[str, object]:
    """rtwin's numbers for one case and their errors against the analytic ones."""
    from rtwin.evaluation import DVH
    from rtwin.io import read_rtdose, read_rtstruct

    start = time.perf_counter()
    if case.structure not in cache:
        path = data / "STRUCTURES" / f"{case.structure}.dcm"
        result = read_rtstruct(path, reference_grid(path, mode))
        (structure,) = result.structures.values()  # POI_1 is a POINT ROI: skipped
        cache[case.structure] = (structure, contour_stack(path).stack_cc)
    structure, stack_cc = cache[case.structure]
    if case.dose_file not in cache:
        cache[case.dose_file] = read_rtdose(data / "DOSE_GRIDS" / case.dose_file).dose
    dvh = DVH.compute(cache[case.dose_file], structure)
    values = {
        "volume_cc": dvh.volume_cc,
        "Dmin": dvh.min_gy,
        "Dmax": dvh.max_gy,
        "Dmean": dvh.mean_gy,
        "D99": dvh.dose_at_volume(0.99),
        "D95": dvh.dose_at_volume(0.95),
        "D5": dvh.dose_at_volume(0.05),
        "D1": dvh.dose_at_volume(0.01),
        "D0.03cc": dvh.dose_at_volume_cc(0.03),
    }
    seconds = time.perf_counter() - start
    errors = {label: values[label] - case.analytic[label] for _, label in METRICS}
    volume_error = 100.0 * (values["volume_cc"] / case.analytic["volume_cc"] - 1.0)
    return {
        "case": case.label,
        "structure": case.structure,
        "shape": case.shape,
        "contour_spacing_mm": case.contour_spacing_mm,
        "shift": case.shift,
        "dose_voxel_mm": case.dose_voxel,
        "gradient": case.gradient,
        "analytic": case.analytic,
        "rtwin": values,
        "volume_error_percent": volume_error,
        "stack_cc": stack_cc,
        "stack_error_percent": 100.0 * (stack_cc / case.analytic["volume_cc"] - 1.0),
        "volume_vs_stack_percent": 100.0 * (values["volume_cc"] / stack_cc - 1.0),
        "error_gy": errors,
        "seconds": seconds,
    }


def summarize(results: list[dict]) -> dict[str, object]:
    """Median and range of the volume error, mean and largest |error| of each dose metric."""
    volume = [r["volume_error_percent"] for r in results]
    summary: dict[str, object] = {
        "cases": len(results),
        "volume_error_median_percent": statistics.median(volume),
        "volume_error_median_abs_percent": statistics.median(abs(v) for v in volume),
        "volume_error_range_percent": (min(volume), max(volume)),
        "stack_error_median_percent": statistics.median(r["stack_error_percent"] for r in results),
        "volume_vs_stack_max_abs_percent": max(abs(r["volume_vs_stack_percent"]) for r in results),
    }
    for _, label in METRICS:
        errors = [abs(r["error_gy"][label]) for r in results]
        summary[f"{label}_mean_abs_gy"] = statistics.fmean(errors)
        summary[f"{label}_max_abs_gy"] = max(errors)
    summary["goals_met"] = {
        "volume_error_median_abs_percent": summary["volume_error_median_abs_percent"]
        <= GOALS["volume_error_median_abs_percent"],
        "D95_mean_abs_gy": summary["D95_mean_abs_gy"] <= GOALS["D95_mean_abs_gy"],
    }
    return summary


def run(cases: list[Case], mode: str, data: Path = DATA) -> tuple[list[dict], list[str]]:
    """Results of the cases whose dose grid exists, and the labels of those skipped."""
    cache: dict = {}
    results, skipped = [], []
    for case in cases:
        if not (data / "DOSE_GRIDS" / case.dose_file).is_file():
            skipped.append(case.label)
            continue
        results.append(run_case(case, mode, cache, data))
    return results, skipped


def _summary_rows(label: str, summary: dict) -> str:
    low, high = summary["volume_error_range_percent"]
    return (
        f"| {label} | {summary['cases']} | {summary['volume_error_median_percent']:+.2f} | "
        f"{summary['volume_error_median_abs_percent']:.2f} | {low:+.2f} … {high:+.2f} | "
        f"{summary['stack_error_median_percent']:+.2f} | "
        f"{summary['volume_vs_stack_max_abs_percent']:.2f} | "
        f"{summary['Dmean_mean_abs_gy']:.3f} ({summary['Dmean_max_abs_gy']:.2f}) | "
        f"{summary['D95_mean_abs_gy']:.3f} ({summary['D95_max_abs_gy']:.2f}) | "
        f"{summary['D99_mean_abs_gy']:.3f} ({summary['D99_max_abs_gy']:.2f}) | "
        f"{summary['D1_mean_abs_gy']:.3f} ({summary['D1_max_abs_gy']:.2f}) | "
        f"{summary['Dmax_mean_abs_gy']:.3f} ({summary['Dmax_max_abs_gy']:.2f}) |"
    )


def markdown(results: list[dict], skipped: list[str], mode: str, seconds: float) -> str:
    """The summary (overall, per contour spacing, dicompyler-core) and the per-case table."""
    summary = summarize(results)
    lines = [
        "# Nelms 2015 analytic DVH benchmark: rtwin, case by case",
        "",
        "Written by `python benchmarks/dvh_analytic.py"
        + ("" if mode == "fine" else f" --grid {mode}")
        + " --markdown <file>`; the method, the reference grid and what the errors mean are "
        "in [evaluation.md](evaluation.md#nelms-2015-analytic-benchmark). Data: Nelms et al., "
        "Med. Phys. 42(8), 4435-4448 (2015), doi:10.1118/1.4923175.",
        "",
        f"Reference grid: `{mode}` (see `benchmarks/dvh_analytic.py`). {len(results)} cases run "
        f"in {seconds:.1f} s; {len(skipped)} skipped (their 0.4 x 0.2 x 0.4 mm dose grids are "
        "not in the public snapshot).",
        "",
        "Volume error = rtwin / analytic − 1. *Stack*: the contours' own volume (contour "
        "areas × spacing, the slab model every planning system uses) / analytic − 1, what no "
        "rasterization can improve on; *rtwin vs stack*: rtwin's mask / the stack − 1. Dose "
        "errors in Gy (rtwin − analytic): mean of the absolute errors, the largest in brackets.",
        "",
        "| cases | n | volume error median % | median of abs. % | range % | stack median % "
        "| rtwin vs stack, largest abs. % | Dmean | D95 | D99 | D1 | Dmax |",
        "|---|---:|---:|---:|---|---:|---:|---|---|---|---|---|",
        _summary_rows("all", summary),
    ]
    for spacing in sorted({r["contour_spacing_mm"] for r in results}):
        subset = [r for r in results if r["contour_spacing_mm"] == spacing]
        lines.append(_summary_rows(f"{spacing:g} mm contours", summarize(subset)))
    for shape in ("Sphere", "Cylinder", "Cone", "RtCylinder", "RtCone"):
        subset = [r for r in results if r["shape"] == shape]
        if subset:
            lines.append(_summary_rows(shape, summarize(subset)))
    reference = DICOMPYLER_CORE
    low, high = reference["volume_error_range_percent"]
    lines += [
        f"| dicompyler-core 0.5.6 (quoted, not rerun) | 90 | "
        f"{reference['volume_error_median_percent']:+.1f} | – | {low:+.0f} … {high:+.1f} | – | – | "
        f"{reference['Dmean_mean_abs_gy']:.2f} | {reference['D95_mean_abs_gy']:.1f} "
        f"({reference['D95_max_abs_gy']:.1f}) | – | – | – |",
        "",
        f"Goals: median |volume error| ≤ {GOALS['volume_error_median_abs_percent']:g} % "
        f"({'met' if summary['goals_met']['volume_error_median_abs_percent'] else 'MISSED'}), "
        f"mean |ΔD95| ≤ {GOALS['D95_mean_abs_gy']:g} Gy "
        f"({'met' if summary['goals_met']['D95_mean_abs_gy'] else 'MISSED'}).",
        "",
        "| case | contours mm | shift | dose mm | gradient | volume cc analytic | stack | rtwin | "
        "error % | ΔDmin | ΔDmax | ΔDmean | ΔD99 | ΔD95 | ΔD5 | ΔD1 | ΔD0.03cc |",
        "|---|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        e = r["error_gy"]
        lines.append(
            f"| {r['structure']} | {r['contour_spacing_mm']:g} | {r['shift']} | "
            f"{r['dose_voxel_mm']} | {r['gradient']} | {r['analytic']['volume_cc']:.3f} | "
            f"{r['stack_cc']:.3f} | "
            f"{r['rtwin']['volume_cc']:.3f} | {r['volume_error_percent']:+.2f} | "
            + " | ".join(f"{e[label]:+.2f}" for _, label in METRICS)
            + " |"
        )
    if skipped:
        lines += ["", "Skipped (dose grid not in the snapshot): " + ", ".join(skipped) + "."]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", choices=("fine", "ct"), default="fine", help="reference grid")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument(
        "--markdown", type=Path, default=None, help="also write the markdown tables here"
    )
    arguments = parser.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} is absent")
        return 0
    start = time.perf_counter()
    results, skipped = run(read_cases(), arguments.grid)
    seconds = time.perf_counter() - start
    text = markdown(results, skipped, arguments.grid, seconds)
    print(text)
    if arguments.markdown:
        arguments.markdown.write_text(text)
    if arguments.json:
        arguments.json.write_text(
            json.dumps(
                {
                    "grid": arguments.grid,
                    "seconds": seconds,
                    "summary": summarize(results),
                    "dicompyler_core": DICOMPYLER_CORE,
                    "goals": GOALS,
                    "skipped": skipped,
                    "cases": results,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
