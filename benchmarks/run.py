"""rtwin benchmarks: rtwin side by side with a reference measured in the same run.

Usage::

    python benchmarks/run.py [--quick] [--json results.json] [--peer PYTHON]
    RTWIN_PEER_PYTHON=/tmp/prp/bin/python python benchmarks/run.py

Prints one markdown table (rtwin's figure, the reference's, the ratio) and
optionally writes JSON for tracking. Figures are wall-clock medians on this
machine; nothing here is asserted by the test suite. The load average at the
start and the end of the run is printed under the table.

``--peer PYTHON`` (default: the environment variable ``RTWIN_PEER_PYTHON``)
names an interpreter in which pyRadPlan is installed (its own virtual
environment; never a dependency of rtwin). When it is given and the CORT
TG119 file exists, ``benchmarks/peer_pyradplan.py`` is run with it for the
photon influence (5 mm grid, and 3 mm unless ``--quick``), the proton
influence and the optimizer, each in a fresh process right after rtwin's
measurement of the same case, and those figures are the reference columns
("pyRadPlan 0.5.0 (same run)"). Without a peer the reference is the figure
quoted in the issues ("not rerun").

Benchmarks so far:

* ``import rtwin`` vs ``import numpy`` (the floor any rtwin import pays), in
  fresh interpreters; also checks that importing rtwin loads neither numba
  nor scipy, pydicom, SimpleITK or matplotlib (no compilation at import).
* ``read_matrad`` on the CORT TG119 file vs ``scipy.io.loadmat`` of the same
  file (the raw parse rtwin's reader is built on), when ../shared is present.
* a 5 mm margin on the TG119 OuterTarget vs one ``scipy.ndimage`` Euclidean
  distance transform of the same cropped region (the core operation).
* the photon dose-influence matrix of TG119 (9 beams, 5 mm bixels, 5 and
  3 mm dose grids) and the proton one (90/270 deg, 5 mm spots, 3 mm
  layers): time, non-zeros, bytes, peak RSS, in a fresh process; the
  reference is pyRadPlan measured in the same run (``--peer``) or else the
  figure quoted in the dose-engine issue.
* DVHs of the TG119 structures from a 5 mm dose (vs resampling + percentile),
  DVHs and metrics of all structures of a real plan (SlicerRT's Eclipse
  prostate phantom, RTSTRUCT + NRRD dose; vs dicompyler-core's quoted figure),
  3D gamma on a phantom dose pair (vs pymedphys when ``--pymedphys PYTHON`` or
  ``$RTWIN_PYMEDPHYS_PYTHON`` names an interpreter that has it), and ``rtwin
  demo`` end to end in a fresh process (vs the main-job issue's 90 s goal).
* the optimizer on TG119 (photon, 5 mm grid, the CORT objectives): one
  objective + gradient evaluation vs a memory-streaming bound (numpy sums
  over every array the products read, twice), and a 500-iteration run
  (time, iterations, objective, iterations to come within 1 % of the final
  value, and the TG-119 goals on the CT grid), against pyRadPlan's default
  optimizer with a 500-iteration cap when a peer is given. The evaluation
  is timed as optimize_fluence calls it (rows proven below their
  objectives' thresholds skipped) and with every row computed. With a
  peer, pyRadPlan's problem (its matrix, voxel sets after its overlap
  priorities, objectives) is also exported and solved by rtwin
  (``optimizer_same_problem.py``): the time to reach pyRadPlan's final
  objective value on the same objective function.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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
            "note": "rtwin runs one EDT on a grid twice as fine (8x the voxels) to reach the sub-voxel surface",
        },
    ]


_PHOTON_SCRIPT = """
import json, resource, sys, time
import rtwin
patient = rtwin.io.read_matrad(sys.argv[1])
beams = rtwin.beams.equispaced(9, patient.structures["OuterTarget"].centroid_mm)
grid = patient.grid.with_spacing(float(sys.argv[2]))
engine = rtwin.dose.PhotonPencilBeam()
start = time.perf_counter()
engine.influence(patient, beams[:1], dose_grid=grid)  # compiles (or loads the cache)
first = time.perf_counter() - start
start = time.perf_counter()
influence = engine.influence(patient, beams, dose_grid=grid)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "first_call_s": first, "nnz": influence.nnz,
                  "bytes": influence.nbytes, "beamlets": influence.n_beamlets,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_PROTON_SCRIPT = """
import json, resource, sys, time
import rtwin
patient = rtwin.io.read_matrad(sys.argv[1])
isocenter = patient.structures["OuterTarget"].centroid_mm
beams = rtwin.beams.equispaced(2, isocenter, modality="proton", start_deg=90)
grid = patient.grid.with_spacing(5.0)
engine = rtwin.dose.ProtonPencilBeam()
start = time.perf_counter()
engine.influence(patient, beams[:1], dose_grid=grid)  # compiles (or loads the cache)
first = time.perf_counter() - start
start = time.perf_counter()
influence = engine.influence(patient, beams, dose_grid=grid)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "first_call_s": first, "nnz": influence.nnz,
                  "bytes": influence.nbytes, "beamlets": influence.n_beamlets,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

#: pyRadPlan 0.5.0 on this machine, quoted in the issues; used when no peer is given.
_ISSUE_PHOTON_S = {5.0: 16.0, 3.0: 56.0}
_ISSUE_PROTON_S = 4.0
_ISSUE_OPTIMIZER_S = 40.0
_ISSUE_LABEL = "pyRadPlan 0.5.0 (issue figure, not rerun)"

PEER_SCRIPT = Path(__file__).resolve().with_name("peer_pyradplan.py")


class Peer:
    """pyRadPlan in its own interpreter, run case by case on the TG119 file.

    A failed peer run does not stop the benchmark: the row falls back to the
    issue figure and its note says why.
    """

    def __init__(self, python: str, path: Path) -> None:
        self.python = python
        self.path = path
        self.version = "0.5.0"
        self.errors: list[str] = []

    def run(self, case: str, *options: str) -> dict[str, object] | None:
        command = [self.python, str(PEER_SCRIPT), str(self.path), "--case", case, *options]
        try:
            completed = subprocess.run(command, check=True, capture_output=True, text=True)
            result = json.loads(completed.stdout)
        except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as error:
            stderr = getattr(error, "stderr", "") or ""
            tail = stderr.strip().splitlines()[-1:] or [str(error)]
            self.errors.append(f"{case} {' '.join(options)}: {tail[0]}")
            return None
        self.version = str(result.get("version", self.version))
        return result

    @property
    def label(self) -> str:
        return f"pyRadPlan {self.version} (same run)"


def _peer_influence_note(peer: dict[str, object], unit: str) -> str:
    return (
        f"pyRadPlan: {peer['nnz'] / 1e6:.1f} M nnz, {peer['bytes'] / 2**20:.0f} MiB, "
        f"{peer['beamlets']} {unit}, peak RSS {peer['peak_rss_mb']:.0f} MiB, "
        f"stf {peer['stf_s']:.1f} s + dij {peer['dij_s']:.1f} s"
    )


def bench_engines(quick: bool, peer: Peer | None = None) -> list[dict[str, object]]:
    path = SHARED / "data" / "cort" / "TG119.mat"
    if not path.is_file():
        return [{"benchmark": "photon influence TG119", "note": f"skipped: {path} absent"}]
    rows = []
    for spacing in (5.0,) if quick else (5.0, 3.0):
        result = json.loads(
            subprocess.run(
                [sys.executable, "-c", _PHOTON_SCRIPT, str(path), str(spacing)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        note = (
            f"{result['nnz'] / 1e6:.1f} M nnz, {result['bytes'] / 2**20:.0f} MiB, "
            f"{result['beamlets']} bixels, peak RSS {result['peak_rss_mb']:.0f} MiB, "
            f"first call {result['first_call_s']:.1f} s (1 beam, incl. compile/cache)"
        )
        reference, reference_s = _ISSUE_LABEL, _ISSUE_PHOTON_S[spacing]
        measured = peer.run("photon", "--grid", f"{spacing:g}") if peer else None
        if measured is not None:
            reference, reference_s = peer.label, measured["seconds"]
            note += "; " + _peer_influence_note(measured, "bixels")
        rows.append(
            {
                "benchmark": f"photon influence TG119, 9 beams, 5 mm bixels, {spacing:g} mm grid",
                "rtwin_s": result["seconds"],
                "reference": reference,
                "reference_s": reference_s,
                "note": note,
                "peer": measured,
            }
        )

    def proton(threads: int) -> dict[str, float]:
        environment = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
        return json.loads(
            subprocess.run(
                [sys.executable, "-c", _PROTON_SCRIPT, str(path)],
                check=True,
                capture_output=True,
                text=True,
                env=environment,
            ).stdout
        )

    result = proton(os.cpu_count() or 1)
    single = proton(1)
    note = (
        f"{result['beamlets']} spots, {result['nnz'] / 1e6:.1f} M nnz, "
        f"{result['bytes'] / 2**20:.0f} MiB, peak RSS {result['peak_rss_mb']:.0f} MiB, "
        f"first call {result['first_call_s']:.1f} s, "
        f"{result['nnz'] / result['seconds'] / 1e6:.1f} M nnz/s, "
        f"1 thread {single['seconds']:.2f} s (speed-up {single['seconds'] / result['seconds']:.2f}x "
        f"on {os.cpu_count()} threads)"
    )
    reference, reference_s = _ISSUE_LABEL, _ISSUE_PROTON_S
    # rtwin computes dose only; pyRadPlan's default also fills an LET matrix (--no-let: dose only).
    measured = peer.run("proton", "--no-let") if peer else None
    if measured is not None:
        reference, reference_s = peer.label, measured["seconds"]
        layers = measured["settings"]["layer_spacing_mm"]
        note += "; " + _peer_influence_note(measured, "spots")
        note += (
            f", {measured['settings']['energies']} energies (every machine energy with its "
            f"peak in the target, {layers['min']:.1f}-{layers['max']:.1f} mm apart), no LET"
        )
    rows.append(
        {
            "benchmark": "proton influence TG119, 90/270 deg, 5 mm spots, 3 mm layers, 5 mm grid",
            "rtwin_s": result["seconds"],
            "reference": reference,
            "reference_s": reference_s,
            "note": note,
            "peer": measured,
        }
    )
    return rows


_OPTIMIZER_SCRIPT = """
import json, statistics, sys, time
import numpy as np
import rtwin
from rtwin.evaluation import DVH
from rtwin.optimize import FluenceProblem, SquaredDeviation, SquaredOverdose, optimize_fluence
patient = rtwin.io.read_matrad(sys.argv[1])
beams = rtwin.beams.equispaced(9, patient.structures["OuterTarget"].centroid_mm)
influence = rtwin.dose.PhotonPencilBeam().influence(
    patient, beams, dose_grid=patient.grid.with_spacing(5.0))
objectives = [SquaredDeviation("OuterTarget", dose_gy=50.0, weight=1000.0),
              SquaredOverdose("Core", dose_gy=25.0, weight=300.0),
              SquaredOverdose("BODY", dose_gy=30.0, weight=100.0)]
problem = FluenceProblem.build(influence, patient.structures, objectives)
w = optimize_fluence(influence, patient.structures, objectives, max_iterations=100).weights
def median(f, n=15):
    t = []
    for _ in range(n):
        s = time.perf_counter(); f(); t.append(time.perf_counter() - s)
    return statistics.median(t)
# every row computed (the first evaluation of a run, and the worst case) ...
def full():
    dose = problem.dose_at_rows(w)
    g = np.zeros(problem.rows.size)
    for term in problem.terms:
        g[term.positions] += term.objective.value_and_gradient(dose[term.positions], term.volumes)[1]
    problem.gradient_from_rows(g)
evaluation_full = median(full)
# ... and as optimize_fluence evaluates: rows proven below their thresholds skipped,
# at a point 1 % away from the screen's reference (a typical late step)
problem.evaluate(w)
rng = np.random.default_rng(0)
w_step = w * (1.0 + 0.01 * rng.standard_normal(w.size))
evaluation = median(lambda: problem.evaluate(w_step))
screened_rows = problem.screen.rows_computed
problem.evaluate(w_step)
screened_rows = problem.screen.rows_computed - screened_rows
# the arrays the products read: the matrix as runs of columns (data, run columns and
# lengths, row offsets) and the scatter operator's per-row tables
arrays = list(problem.by_row)
data = problem.by_row.data
if problem.scatter is not None:
    arrays += [problem.scatter.lattice_uv, problem.scatter.sigma_index, problem.scatter.amplitude]
bound = median(lambda: [a.sum() for a in arrays + arrays])
states = []
result = optimize_fluence(influence, patient.structures, objectives, max_iterations=500,
                          callback=lambda s: states.append((s.objective_value, s.seconds)))
final = result.objective_value
within = int(np.argmax(result.history <= 1.01 * final))
within_s = next((t for f, t in states if f <= 1.01 * final), result.seconds)
dose = result.dose.normalized(patient.structures["OuterTarget"], to_gy=50.0)
print(json.dumps({
    "evaluation_s": evaluation, "evaluation_full_s": evaluation_full,
    "screened_rows": int(screened_rows), "bound_s": bound, "rows": int(problem.rows.size),
    "nnz": int(data.size), "seconds": result.seconds, "iterations": result.n_iterations,
    "evaluations": result.n_evaluations, "objective": final, "converged": result.converged,
    "iterations_to_1pct": within, "seconds_to_1pct": within_s,
    "target_d10": DVH.compute(dose, patient.structures["OuterTarget"]).dose_at_volume(0.10),
    "core_d10": DVH.compute(dose, patient.structures["Core"]).dose_at_volume(0.10),
}))
"""


def bench_optimizer(peer: Peer | None = None) -> list[dict[str, object]]:
    """One objective + gradient evaluation vs a streaming bound; a 500-iteration run."""
    path = SHARED / "data" / "cort" / "TG119.mat"
    if not path.is_file():
        return [{"benchmark": "optimizer TG119", "note": f"skipped: {path} absent"}]
    result = json.loads(
        subprocess.run(
            [sys.executable, "-c", _OPTIMIZER_SCRIPT, str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    measured, export = None, None
    if peer is not None:
        export = Path(tempfile.mkdtemp(prefix="rtwin-bench-")) / "pyradplan_problem.npz"
        measured = peer.run("optimize", "--max-iter", "500", "--export", str(export))
    evaluation_note = (
        f"{result['rows']:,} rows, {result['nnz'] / 1e6:.1f} M nnz + scatter operator; "
        f"as optimize_fluence evaluates (rows proven below their thresholds skipped, "
        f"{result['screened_rows']:,} of {result['rows']:,} computed, 1 % from the "
        f"reference); every row computed: {result['evaluation_full_s'] * 1e3:.1f} ms "
        f"= {result['evaluation_full_s'] / result['bound_s']:.2f}x the bound; "
    )
    if measured is None:
        evaluation_note += "pyRadPlan 0.5.0: 160 ms per evaluation (issue figure)"
    else:
        evaluation_note += (
            f"pyRadPlan: {measured['evaluation_s'] * 1e3:.0f} ms per evaluation on its "
            f"{measured['nnz'] / 1e6:.1f} M nnz matrix (see next row)"
        )
    rows = [
        {
            "benchmark": "objective + gradient, TG119 photon 5 mm (CORT objectives)",
            "rtwin_s": result["evaluation_s"],
            "reference": "numpy sums over the stored arrays, twice (memory-streaming bound)",
            "reference_s": result["bound_s"],
            "note": evaluation_note,
        }
    ]
    if measured is not None:
        rows.append(
            {
                "benchmark": "objective + gradient, TG119 photon 5 mm, each tool's own matrix",
                "rtwin_s": result["evaluation_s"],
                "reference": peer.label,
                "reference_s": measured["evaluation_s"],
                "note": (
                    f"pyRadPlan at its final weights (objective + gradient, scipy sparse "
                    f"{measured['format']} {measured['dtype']}): D·w "
                    f"{measured['forward_s'] * 1e3:.0f} ms, Dᵀ·g {measured['adjoint_s'] * 1e3:.0f} ms; "
                    f"mean during its run {measured['in_run_objective_s'] * 1e3:.0f} + "
                    f"{measured['in_run_gradient_s'] * 1e3:.0f} ms"
                ),
            }
        )
    note = (
        f"{result['iterations']} iterations, {result['evaluations']} evaluations, "
        f"objective {result['objective']:.1f} (converged: {result['converged']}), "
        f"within 1 % of it after {result['iterations_to_1pct']} iterations "
        f"({result['seconds_to_1pct']:.1f} s); "
        f"on the CT grid after D95 = 50 Gy: OuterTarget D10 {result['target_d10']:.1f} Gy, "
        f"Core D10 {result['core_d10']:.1f} Gy"
    )
    reference = "pyRadPlan 0.5.0, 500 iterations (issue figure, not rerun)"
    reference_s = _ISSUE_OPTIMIZER_S
    if measured is not None:
        goals = measured["goals"]
        reference, reference_s = f"{peer.label}, 500-iteration cap", measured["seconds"]
        note += (
            f". pyRadPlan ({measured['settings']['solver']}, {measured['settings']['method']}, "
            f"ipopt not installed): {measured['iterations']} iterations, "
            f"{measured['evaluations']} evaluations, objective {measured['objective']:.1f} "
            f"in its own normalization (mean over voxels like rtwin, but overlap priorities: "
            f"BODY without target and core; its own matrix), within 1 % of it after "
            f"{measured['iterations_to_1pct']} iterations ({measured['seconds_to_1pct']:.1f} s), "
            f"{measured['message']}; CT grid: OuterTarget D95 "
            f"{goals['outertarget_d95_gy_unnormalized']:.1f} Gy before normalization, after: "
            f"OuterTarget D10 {goals['outertarget_d10_gy']:.1f} Gy, "
            f"Core D10 {goals['core_d10_gy']:.1f} Gy"
        )
    if export is not None and export.is_file():
        rows.append(_same_problem_row(export, peer))
        export.unlink()
        export.parent.rmdir()
    elif export is not None:
        export.parent.rmdir()
    rows.append(
        {
            "benchmark": "optimize_fluence TG119 photon 5 mm, 500-iteration cap",
            "rtwin_s": result["seconds"],
            "reference": reference,
            "reference_s": reference_s,
            "note": note,
            "peer": measured,
        }
    )
    return rows


def _same_problem_row(export: Path, peer: Peer) -> dict[str, object]:
    """rtwin's optimizer on the exact problem pyRadPlan solved (its matrix, voxels, objectives)."""
    script = Path(__file__).resolve().with_name("optimizer_same_problem.py")
    result = json.loads(
        subprocess.run(
            [sys.executable, str(script), str(export)], check=True, capture_output=True, text=True
        ).stdout
    )
    reached = result["seconds_to_peer_final"]
    note = (
        f"pyRadPlan's TG119 photon 5 mm problem ({result['nnz'] / 1e6:.1f} M nnz, "
        f"{result['beamlets']} beamlets, BODY without target and core by its overlap "
        f"priorities) exported and solved by rtwin's optimize_fluence from its default "
        f"start: pyRadPlan's final objective {result['peer_final']:.2f} (after its "
        f"{result['peer_iterations']} iterations) reached after "
        f"{result['iterations_to_peer_final']} iterations; rtwin after 500 iterations: "
        f"{result['objective']:.2f} in {result['seconds']:.1f} s (scipy recomputation "
        f"{result['objective_scipy']:.2f}); evaluation at rtwin's final weights "
        f"{result['evaluation_s'] * 1e3:.1f} ms"
    )
    return {
        "benchmark": "time to reach pyRadPlan's final objective, on pyRadPlan's own problem",
        "rtwin_s": reached if reached is not None else float("nan"),
        "reference": f"{peer.label}, 500 iterations",
        "reference_s": result["peer_seconds"],
        "note": note,
        "same_problem": result,
    }


_CACHE_SCRIPT = """
import sys, time
start = time.perf_counter()
import numpy as np
import rtwin
patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5, target_radius_mm=10)
beams = rtwin.beams.equispaced(1, isocenter_mm=(0, 0, 0))
rtwin.dose.PhotonPencilBeam().influence(patient, beams)
print(time.perf_counter() - start)
"""


def bench_numba_cache() -> list[dict[str, object]]:
    """First call in a fresh process with an empty numba cache, then with the cache filled."""

    with tempfile.TemporaryDirectory() as cache:
        environment = dict(os.environ, NUMBA_CACHE_DIR=cache)
        times = [
            float(
                subprocess.run(
                    [sys.executable, "-c", _CACHE_SCRIPT],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=environment,
                ).stdout
            )
            for _ in range(2)
        ]
    return [
        {
            "benchmark": "first photon influence in a new process, numba cache filled",
            "rtwin_s": times[1],
            "reference": "same with an empty cache (compiles)",
            "reference_s": times[0],
            "note": "cache=True: a second process loads the compiled kernels instead of compiling",
        }
    ]


def bench_demo(quick: bool) -> list[dict[str, object]]:
    """``rtwin demo`` end to end in a fresh process (numba cache warm), vs the 90 s goal."""

    rows = []
    for flag in ["--quick"] if quick else ["--quick", ""]:
        with tempfile.TemporaryDirectory() as folder:
            command = [sys.executable, "-m", "rtwin", "demo", "--quiet", "--out", folder + "/d"]
            if flag:
                command.append(flag)
            subprocess.run(command, check=True, capture_output=True)  # warm the numba cache
            start = time.perf_counter()
            subprocess.run([*command, "--force"], check=True, capture_output=True)
            seconds = time.perf_counter() - start
        rows.append(
            {
                "benchmark": f"rtwin demo{' --quick' if flag else ''} (3 plans, report), fresh process",
                "rtwin_s": seconds,
                "reference": "goal of the main-job issue",
                "reference_s": 90.0,
                "note": "C-shape phantom at 6 mm / 60 iterations (--quick) or 4 mm / 150 iterations",
            }
        )
    return rows


_DVH_SCRIPT = """
import json, statistics, sys, time
import numpy as np
import rtwin
from rtwin.evaluation import DVH
patient = rtwin.io.read_matrad(sys.argv[1])
grid = patient.grid.with_spacing(5.0)
centers = grid.voxel_centers_mm()
c = patient.structures["OuterTarget"].centroid_mm
dose = rtwin.dose.Dose(values=60 * np.exp(-np.sum((centers - c) ** 2, -1) / (2 * 50.0**2)), grid=grid)
structures = list(patient.structures.values())
def median(f, n=7):
    t = []
    for _ in range(n):
        s = time.perf_counter(); f(); t.append(time.perf_counter() - s)
    return statistics.median(t)
rtwin_s = median(lambda: [DVH.compute(dose, s).dose_at_volume(0.95) for s in structures])
def reference():
    on_ct = dose.resampled(patient.grid).values  # scipy trilinear onto the CT grid
    return [np.percentile(on_ct[s.mask], 5) for s in structures]
print(json.dumps({"rtwin_s": rtwin_s, "reference_s": median(reference),
                  "voxels": int(sum(s.n_voxels for s in structures))}))
"""


def bench_dvh() -> list[dict[str, object]]:
    """DVHs of the TG119 structures (CT grid) from a 5 mm dose, vs resample + percentile."""
    path = SHARED / "data" / "cort" / "TG119.mat"
    if not path.is_file():
        return [{"benchmark": "DVH TG119", "note": f"skipped: {path} absent"}]
    result = json.loads(
        subprocess.run(
            [sys.executable, "-c", _DVH_SCRIPT, str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return [
        {
            "benchmark": "DVH + D95 of the 3 TG119 structures (CT grid) from a 5 mm dose",
            "rtwin_s": result["rtwin_s"],
            "reference": "resample the dose onto the CT (scipy) + numpy percentile",
            "reference_s": result["reference_s"],
            "note": f"{result['voxels']:,} structure voxels; rtwin interpolates at voxel centres only",
        }
    ]


_DVH_REAL_SCRIPT = """
import json, statistics, sys, time
from pathlib import Path
import numpy as np
import rtwin
from rtwin.evaluation import DVH
from rtwin.geometry import Grid
folder = Path(sys.argv[1])
dose = rtwin.io.read_nrrd_dose(folder / "EclipseProstate_Dose.nrrd")
# the CT is not in the snapshot: the dose grid's slices (the contour planes), 1.25 mm pixels
step = dose.grid.spacing_mm
sub = np.array([step[0] / 1.25, step[1] / 1.25, 1.0])
size = np.round(np.array(dose.grid.size_xyz) * sub).astype(int)
grid = Grid.from_spacing((int(size[2]), int(size[1]), int(size[0])), spacing_mm=step / sub,
                         origin_mm=dose.grid.origin_mm - (step - step / sub) / 2)
start = time.perf_counter()
structures = list(rtwin.io.read_rtstruct(next(folder.glob("RS*.dcm")), grid).structures.values())
read_s = time.perf_counter() - start
def evaluate():
    for s in structures:
        dvh = DVH.compute(dose, s)
        dvh.dose_at_volume(0.95), dvh.dose_at_volume(0.02), dvh.mean_gy, dvh.volume_at_dose(20.0)
evaluate()  # numba kernels from the disk cache
times = []
for _ in range(7):
    t = time.perf_counter(); evaluate(); times.append(time.perf_counter() - t)
print(json.dumps({"rtwin_s": statistics.median(times), "read_s": read_s,
                  "structures": len(structures), "voxels": int(sum(s.n_voxels for s in structures))}))
"""


def bench_dvh_real() -> list[dict[str, object]]:
    """DVH + metrics of every structure of a real plan (SlicerRT's Eclipse prostate phantom)."""
    folder = SHARED / "data" / "dicom" / "slicerrt-eclipse-prostate-phantom"
    if not folder.is_dir():
        return [{"benchmark": "DVH of a real plan", "note": f"skipped: {folder} absent"}]
    result = json.loads(
        subprocess.run(
            [sys.executable, "-c", _DVH_REAL_SCRIPT, str(folder)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    return [
        {
            "benchmark": (
                f"DVH + D95/D2/Dmean/V20Gy of all {result['structures']} structures of the "
                "Eclipse prostate plan (1.25 mm pixels, 2.5 mm slices) from its 2.5 mm dose"
            ),
            "rtwin_s": result["rtwin_s"],
            "reference": "dicompyler-core 0.5.6, 9 breast structures (issue figure, not rerun)",
            "reference_s": 5.5,
            "note": (
                f"{result['voxels']:,} structure voxels (body 10.7 l); reading the RTSTRUCT "
                f"onto that grid takes {result['read_s']:.2f} s more, once"
            ),
        }
    ]


_GAMMA_SCRIPT = """
import json, sys, time
import numpy as np
import rtwin
patient = rtwin.phantoms.head_neck(voxel_mm=2.5)
grid = patient.grid
centers = grid.voxel_centers_mm()
c = np.asarray(patient.structures.targets[0].centroid_mm)
def blob(shift):
    r2 = np.sum((centers - c - shift) ** 2, -1)
    return 60 * np.exp(-r2 / (2 * 15.0**2))
reference = rtwin.dose.Dose(values=blob(np.zeros(3)), grid=grid)
evaluated = rtwin.dose.Dose(values=1.03 * blob(np.array([2.5, 0.0, 0.0])), grid=grid)
np.save(sys.argv[1] + "/ref.npy", reference.values); np.save(sys.argv[1] + "/eval.npy", evaluated.values)
axes = [grid.origin_mm[a] + grid.spacing_mm[a] * np.arange(n) for a, n in zip((2, 1, 0), grid.shape)]
np.save(sys.argv[1] + "/axes.npy", np.array(axes, dtype=object), allow_pickle=True)
rtwin.evaluation.gamma(reference, evaluated)  # compile
start = time.perf_counter()
result = rtwin.evaluation.gamma(reference, evaluated, dose_percent=3, distance_mm=3)
print(json.dumps({"seconds": time.perf_counter() - start, "pass": result.pass_rate,
                  "voxels": int(grid.n_voxels)}))
"""

_PYMEDPHYS_SCRIPT = """
import json, sys, time
import numpy as np
import pymedphys
ref = np.load(sys.argv[1] + "/ref.npy").astype(float); ev = np.load(sys.argv[1] + "/eval.npy").astype(float)
axes = tuple(np.load(sys.argv[1] + "/axes.npy", allow_pickle=True))
start = time.perf_counter()
g = pymedphys.gamma(axes, ref, axes, ev, 3, 3, lower_percent_dose_cutoff=10, quiet=True)
valid = g[~np.isnan(g)]
print(json.dumps({"seconds": time.perf_counter() - start, "pass": 100 * float(np.mean(valid <= 1))}))
"""


def bench_gamma(pymedphys: str | None) -> list[dict[str, object]]:
    """3D gamma 3 %/3 mm on a head-and-neck phantom dose pair; pymedphys side by side if given."""

    with tempfile.TemporaryDirectory() as folder:
        ours = json.loads(
            subprocess.run(
                [sys.executable, "-c", _GAMMA_SCRIPT, folder],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        theirs = None
        if pymedphys:
            run = subprocess.run(
                [pymedphys, "-c", _PYMEDPHYS_SCRIPT, folder], capture_output=True, text=True
            )
            if run.returncode == 0:
                theirs = json.loads(run.stdout.strip().splitlines()[-1])
    row = {
        "benchmark": "gamma 3 %/3 mm global, 10 % cutoff, head-and-neck phantom, 2.5 mm grid",
        "rtwin_s": ours["seconds"],
        "note": f"{ours['voxels']:,} voxels, rtwin pass rate {ours['pass']:.2f} %",
    }
    if theirs is not None:
        row.update(
            reference="pymedphys 0.41 gamma (same run)",
            reference_s=theirs["seconds"],
        )
        row["note"] += f", pymedphys {theirs['pass']:.2f} %"
    else:
        row.update(
            reference="pymedphys 0.41 on the ENT pair (docs/evaluation.md, not rerun)",
            reference_s=16.3,
        )
        row["note"] += "; rtwin on the ENT pair: 0.4-0.56 s (docs/evaluation.md)"
    return [row]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, default=None, help="write results as JSON here")
    parser.add_argument(
        "--peer",
        default=os.environ.get("RTWIN_PEER_PYTHON") or None,
        metavar="PYTHON",
        help="interpreter with pyRadPlan installed, run side by side "
        "(default: $RTWIN_PEER_PYTHON; none: the issues' figures)",
    )
    parser.add_argument(
        "--pymedphys",
        default=os.environ.get("RTWIN_PYMEDPHYS_PYTHON") or None,
        metavar="PYTHON",
        help="interpreter with pymedphys installed, for the gamma benchmark "
        "(default: $RTWIN_PYMEDPHYS_PYTHON)",
    )
    arguments = parser.parse_args()
    repeats = 3 if arguments.quick else 10
    tg119 = SHARED / "data" / "cort" / "TG119.mat"
    peer = Peer(arguments.peer, tg119) if arguments.peer and tg119.is_file() else None
    load_start = os.getloadavg()
    rows = (
        bench_import(repeats)
        + bench_matrad(max(2, repeats // 3))
        + bench_numba_cache()
        + bench_engines(arguments.quick, peer)
        + bench_optimizer(peer)
        + bench_dvh()
        + bench_dvh_real()
        + bench_gamma(arguments.pymedphys)
        + bench_demo(arguments.quick)
    )
    load_end = os.getloadavg()
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
    print()
    print(
        f"Load average (1/5/15 min) at start {' '.join(f'{v:.2f}' for v in load_start)}, "
        f"at end {' '.join(f'{v:.2f}' for v in load_end)}; {os.cpu_count()} CPUs."
    )
    if peer is not None and peer.errors:
        print("Peer runs that failed (issue figures used instead): " + "; ".join(peer.errors))
    elif arguments.peer and peer is None:
        print(f"Peer not run: {tg119} absent.")
    if arguments.json:
        arguments.json.write_text(
            json.dumps(
                {"load_average": {"start": load_start, "end": load_end}, "rows": rows},
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
