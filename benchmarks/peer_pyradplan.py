"""pyRadPlan's side of rtwin's benchmarks, run with the PEER interpreter.

pyRadPlan is never a dependency of rtwin: install it in its own virtual
environment and run this script with that environment's Python::

    python3 -m venv /tmp/prp && /tmp/prp/bin/pip install pyradplan pydantic==2.13.4
    /tmp/prp/bin/python benchmarks/peer_pyradplan.py TG119.mat --case photon [--grid 3]
    /tmp/prp/bin/python benchmarks/peer_pyradplan.py TG119.mat --case proton
    /tmp/prp/bin/python benchmarks/peer_pyradplan.py TG119.mat --case optimize [--export P.npz]

``benchmarks/run.py --peer PYTHON`` runs it for the rows it compares. The
script imports nothing from rtwin and only the standard library besides
pyRadPlan (and its numpy/scipy).

It loads the matRad-format file given on the command line with pyRadPlan's
own loader (``load_patient``; the same bytes rtwin reads with
``read_matrad``) and measures the configuration of rtwin's issues:

* ``photon``: 9 equispaced coplanar beams from 0 deg, 5 mm bixels, isocentre
  at the target's centre of mass (pyRadPlan's default, equal to rtwin's
  ``centroid_mm``), dose grid 5 mm (``--grid 3`` for 3 mm); the SVD pencil
  beam engine with its defaults.
* ``proton``: 2 beams at 90/270 deg, 5 mm lateral spot spacing, the IMPT
  generator with its defaults (it takes every machine energy whose Bragg
  peak lies in the target: the generic machine's peaks are 2.6-3.3 mm
  apart, median 3.0 mm; the generator's ``longitudinal_spot_spacing``
  attribute is not used by pyRadPlan 0.5.0); the Hong pencil beam engine
  with its defaults (including its LET matrix, ``calc_let=True``, unless
  ``--no-let``).
* ``optimize``: the photon 5 mm case, the objectives the CORT file ships
  (checked against the expected ones), the default planning problem and
  solver with ``max_iter=500``. ``--export P.npz`` also saves the problem it
  solved (matrix, voxel sets after overlap priorities, objectives, its
  objective trace) for ``benchmarks/run.py`` to solve with rtwin's
  optimizer: the same objective function, so the values compare.

Each influence figure is timed after a one-beam warm-up call (as rtwin's
benchmark does). ``seconds`` is steering-information generation (beamlet
layout; for protons also the ray tracing that selects the energies) plus
the dose-influence calculation, which together do what rtwin's
``engine.influence`` does; both parts are reported too.

One JSON object is printed on stdout; pyRadPlan's logging and anything
else it prints go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

EXPECTED_OBJECTIVES = {
    "OuterTarget": ("SquaredDeviation", 50.0, 1000.0),
    "Core": ("SquaredOverdosing", 25.0, 300.0),
    "BODY": ("SquaredOverdosing", 30.0, 100.0),
}


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[int]:
    """Send everything written to file descriptor 1 (Python or C) to stderr.

    Yields a duplicate of the original stdout to write the result to.
    """
    sys.stdout.flush()
    original = os.dup(1)
    os.dup2(2, 1)
    python_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        yield original
    finally:
        sys.stdout.flush()
        sys.stdout = python_stdout
        os.dup2(original, 1)
        os.close(original)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _median_seconds(function: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _matrix_figures(dij: Any) -> dict[str, Any]:
    matrix = dij.physical_dose.flat[0]
    stored = sum(
        getattr(matrix, name).nbytes
        for name in ("data", "indices", "indptr")
        if hasattr(matrix, name)
    )
    return {
        "nnz": int(matrix.nnz),
        "bytes": int(stored),
        "format": type(matrix).__name__,
        "dtype": str(matrix.dtype),
        "shape": list(matrix.shape),
    }


def _influence(ct: Any, cst: Any, pln: Any) -> tuple[Any, Any, float, float]:
    from pyRadPlan import calc_dose_influence, generate_stf

    start = time.perf_counter()
    stf = generate_stf(ct, cst, pln)
    stf_seconds = time.perf_counter() - start
    start = time.perf_counter()
    dij = calc_dose_influence(ct, cst, stf, pln)
    dij_seconds = time.perf_counter() - start
    return stf, dij, stf_seconds, dij_seconds


def _photon_plan(ct: Any, grid_mm: float, n_beams: int = 9) -> Any:
    import numpy as np
    from pyRadPlan import PhotonPlan

    angles = [float(a) for a in np.linspace(0.0, 360.0, 9, endpoint=False)[:n_beams]]
    pln = PhotonPlan(machine="Generic")
    pln.prop_stf = {
        "generator": "photonIMRT",
        "gantry_angles": angles,
        "couch_angles": [0.0] * len(angles),
        "bixel_width": 5.0,
    }
    pln.prop_dose_calc = {
        "engine": "SVDPB",
        "dose_grid": ct.grid.resample({"x": grid_mm, "y": grid_mm, "z": grid_mm}),
    }
    return pln


def _proton_plan(ct: Any, grid_mm: float, let: bool, angles: list[float]) -> Any:
    from pyRadPlan import IonPlan

    pln = IonPlan(radiation_mode="protons", machine="Generic")
    pln.prop_stf = {
        "generator": "IMPT",
        "gantry_angles": angles,
        "couch_angles": [0.0] * len(angles),
        "bixel_width": 5.0,
        "longitudinal_spot_spacing": 3.0,
    }
    pln.prop_dose_calc = {
        "engine": "HongPB",
        "dose_grid": ct.grid.resample({"x": grid_mm, "y": grid_mm, "z": grid_mm}),
        "calc_let": let,
    }
    return pln


def _engine_settings(pln: Any) -> dict[str, Any]:
    """The dose engine's configuration as pyRadPlan resolves it from the plan."""
    from pyRadPlan.dose.engines import get_engine

    engine = get_engine(pln)
    names = (
        "geometric_lateral_cutoff",
        "dosimetric_lateral_cutoff",
        "kernel_cutoff",
        "enable_dij_sampling",
        "dij_sampling",
        "lateral_model",
        "cut_off_method",
        "calc_let",
        "trace_on_dose_grid",
    )
    settings = {"engine": f"{engine.name} ({engine.short_name})"}
    for name in names:
        if hasattr(engine, name):
            value = getattr(engine, name)
            if hasattr(value, "model_dump"):
                value = value.model_dump()
            settings[name] = (
                value if isinstance(value, (bool, int, float, str, dict)) else str(value)
            )
    return settings


def case_photon(ct: Any, cst: Any, grid_mm: float) -> dict[str, Any]:
    warm = _influence(ct, cst, _photon_plan(ct, grid_mm, n_beams=1))
    first = warm[2] + warm[3]
    del warm
    pln = _photon_plan(ct, grid_mm)
    stf, dij, stf_seconds, dij_seconds = _influence(ct, cst, pln)
    return {
        "seconds": stf_seconds + dij_seconds,
        "stf_s": stf_seconds,
        "dij_s": dij_seconds,
        "first_call_s": first,
        "beamlets": int(stf.total_number_of_bixels),
        **_matrix_figures(dij),
        "peak_rss_mb": _peak_rss_mb(),
        "settings": {
            "gantry_deg": [float(b.gantry_angle) for b in stf.beams],
            "bixel_width_mm": float(stf.beams[0].bixel_width),
            "isocenter_mm": [float(v) for v in stf.beams[0].iso_center],
            "dose_grid_mm": dict(dij.dose_grid.resolution),
            "dose_grid_shape": [int(n) for n in dij.dose_grid.dimensions],
            **_engine_settings(pln),
        },
    }


def case_proton(ct: Any, cst: Any, grid_mm: float, let: bool) -> dict[str, Any]:
    import numpy as np

    warm = _influence(ct, cst, _proton_plan(ct, grid_mm, let, [90.0]))
    first = warm[2] + warm[3]
    del warm
    pln = _proton_plan(ct, grid_mm, let, [90.0, 270.0])
    stf, dij, stf_seconds, dij_seconds = _influence(ct, cst, pln)
    energies = np.unique(np.concatenate([np.asarray(b.energies, dtype=float) for b in stf.beams]))
    from pyRadPlan.machines import load_from_name

    machine = load_from_name("protons", "Generic")
    peaks = np.asarray(machine.peak_positions, dtype=float)
    used = np.isin(np.asarray(machine.energies, dtype=float), energies)
    spacing = np.diff(peaks[used])
    figures = {
        "seconds": stf_seconds + dij_seconds,
        "stf_s": stf_seconds,
        "dij_s": dij_seconds,
        "first_call_s": first,
        "beamlets": int(stf.total_number_of_bixels),
        **_matrix_figures(dij),
        "peak_rss_mb": _peak_rss_mb(),
        "settings": {
            "gantry_deg": [float(b.gantry_angle) for b in stf.beams],
            "lateral_spot_spacing_mm": float(stf.beams[0].bixel_width),
            "energies": int(energies.size),
            "energy_range_mev": [float(energies.min()), float(energies.max())],
            "layer_spacing_mm": {
                "rule": "every machine energy with its Bragg peak in the target",
                "min": float(spacing.min()),
                "median": float(np.median(spacing)),
                "max": float(spacing.max()),
            },
            "isocenter_mm": [float(v) for v in stf.beams[0].iso_center],
            "dose_grid_mm": dict(dij.dose_grid.resolution),
            **_engine_settings(pln),
        },
    }
    if getattr(dij, "let_dose", None) is not None:
        figures["let_nnz"] = int(dij.let_dose.flat[0].nnz)
    return figures


def _check_objectives(cst: Any) -> list[dict[str, Any]]:
    found = []
    for voi in cst.vois:
        for objective in voi.objectives:
            level = getattr(objective, "d_ref", getattr(objective, "d_max", None))
            found.append(
                {
                    "structure": voi.name,
                    "objective": type(objective).__name__,
                    "dose_gy": float(level),
                    "weight": float(objective.priority),
                }
            )
    shipped = {f["structure"]: (f["objective"], f["dose_gy"], f["weight"]) for f in found}
    if shipped != EXPECTED_OBJECTIVES or len(found) != len(EXPECTED_OBJECTIVES):
        raise SystemExit(f"unexpected objectives in the file: {found}")
    return found


def _tg119_goals(dij: Any, cst: Any, weights: Any) -> dict[str, float]:
    """TG-119 C-shape goals on the CT grid (pyRadPlan's trilinear resampling, the file's
    masks): OuterTarget D95 before normalization, then D10s after D95 = 50 Gy.

    D_x is the dose that x % of the structure's voxels receive or exceed
    (``numpy.percentile`` at 100 - x, linear interpolation between voxels).
    """
    import numpy as np
    import SimpleITK as sitk

    dose = sitk.GetArrayFromImage(dij.compute_result_ct_grid(weights)["physical_dose"]).ravel()
    doses = {voi.name: dose[voi.indices_numpy] for voi in cst.vois}
    d95 = float(np.percentile(doses["OuterTarget"], 5.0))
    scale = 50.0 / d95
    return {
        "outertarget_d95_gy_unnormalized": d95,
        "outertarget_d10_gy": float(np.percentile(doses["OuterTarget"], 90.0) * scale),
        "core_d10_gy": float(np.percentile(doses["Core"], 90.0) * scale),
    }


def case_optimize(
    ct: Any, cst: Any, max_iter: int, repeats: int, export: str | None = None
) -> dict[str, Any]:
    import numpy as np
    from pyRadPlan.optimization.problems import get_problem_from_pln

    objectives = _check_objectives(cst)
    pln = _photon_plan(ct, 5.0)
    pln.prop_opt = {"max_iter": max_iter}
    stf, dij, stf_seconds, dij_seconds = _influence(ct, cst, pln)

    # What fluence_optimization(ct, cst, stf, dij, pln) does, keeping the problem
    # object so that its objective and gradient can be timed afterwards.
    problem = get_problem_from_pln(pln)
    problem.obj_history = []
    per_iteration: list[tuple[float, float]] = []  # (seconds since start, objective)

    def observe(report: Any) -> None:
        data = getattr(report, "data", None) or {}
        if "iteration" in data and "objective" in data:
            per_iteration.append((time.perf_counter() - start, float(data["objective"])))

    problem.add_report_observer(observe)
    start = time.perf_counter()
    weights, info = problem.solve(ct, cst, stf, dij)
    seconds = time.perf_counter() - start
    weights = np.asarray(weights, dtype=np.float64)
    history = [float(v) for v in problem.obj_history]
    final = float(problem._objective_function(weights))
    per_objective = [float(v) for v in problem._objective_functions(weights)]
    in_run_objective = float(np.mean(problem._obj_times)) if problem._obj_times else None
    in_run_gradient = float(np.mean(problem._deriv_times)) if problem._deriv_times else None

    # pyRadPlan caches D·w for the last w; alternate two weight vectors so that
    # every timed evaluation does one forward and one transpose product.
    other = weights * 1.001
    state = {"flip": False}

    def evaluate() -> None:
        w = other if state["flip"] else weights
        state["flip"] = not state["flip"]
        problem._objective_function(w)
        problem._objective_gradient(w)

    evaluate()
    evaluation = _median_seconds(evaluate, repeats)
    matrix = dij.physical_dose.flat[0]
    w32 = weights.astype(matrix.dtype)
    dose = matrix @ w32
    forward = _median_seconds(lambda: matrix @ w32, repeats)
    adjoint = _median_seconds(lambda: matrix.__rmatmul__(dose), repeats)
    solver = problem.solver
    peak_rss = _peak_rss_mb()
    if export:
        _export_problem(export, problem, stf, matrix, final, per_iteration, seconds)
    goals = _tg119_goals(dij, cst, weights)
    return {
        "seconds": seconds,
        "iterations": int(info.get("num_iter", -1)),
        "evaluations": len(history),
        "objective": final,
        "objective_per_term": per_objective,
        "objective_at_iterations": {
            str(n): per_iteration[n - 1][1] for n in (10, 50, 100, 200) if n <= len(per_iteration)
        },
        "iterations_to_1pct": next(
            (i + 1 for i, (_, f) in enumerate(per_iteration) if f <= 1.01 * final), None
        ),
        "seconds_to_1pct": next((t for t, f in per_iteration if f <= 1.01 * final), None),
        "message": str(info.get("message", "")),
        "success": bool(info.get("success", False)),
        "evaluation_s": evaluation,
        "forward_s": forward,
        "adjoint_s": adjoint,
        "in_run_objective_s": in_run_objective,
        "in_run_gradient_s": in_run_gradient,
        "influence_s": stf_seconds + dij_seconds,
        "beamlets": int(stf.total_number_of_bixels),
        **_matrix_figures(dij),
        "goals": goals,
        "peak_rss_mb": peak_rss,
        "settings": {
            "problem": f"{problem.name} ({problem.short_name})",
            "solver": f"{solver.name} ({solver.short_name})",
            "method": str(getattr(solver, "method", "")),
            "max_iter": int(solver.max_iter),
            "abs_obj_tol": float(getattr(solver, "abs_obj_tol", float("nan"))),
            "initial_weights": "zeros",
            "apply_overlap": bool(problem.apply_overlap),
            "objectives": objectives,
            "normalization": (
                "each squared objective is its weight times the MEAN over the structure's "
                "dose-grid voxels (like matRad); overlap priorities applied first "
                "(OuterTarget 1 < Core 2 < BODY 3: BODY excludes target and core voxels)"
            ),
        },
    }


def _export_problem(
    path: str,
    problem: Any,
    stf: Any,
    matrix: Any,
    final: float,
    per_iteration: list[tuple[float, float]],
    seconds: float,
) -> None:
    """Save the problem pyRadPlan solved, so that another optimizer can solve the same one.

    The dose-influence matrix as CSR (float32), and per objective the voxels
    it sees after pyRadPlan's overlap priorities (rows of the matrix), its
    kind, dose and weight (``priority``); each objective is ``weight ×
    mean over those voxels`` of the squared deviation/overdose. Also the
    beam of each column, the final objective value and the per-iteration
    trace (seconds, value).
    """
    import numpy as np
    import scipy.sparse as sparse

    csr = sparse.csr_array(matrix)
    voxels, kinds, doses, weights = [], [], [], []
    for mask, objectives in problem._objective_list:
        for objective in objectives:
            kind = type(objective).__name__
            if kind not in ("SquaredDeviation", "SquaredOverdosing"):
                raise SystemExit(f"export: objective {kind} is not supported")
            voxels.append(np.flatnonzero(np.asarray(mask)).astype(np.int64))
            kinds.append(kind)
            doses.append(float(getattr(objective, "d_ref", getattr(objective, "d_max", 0.0))))
            weights.append(float(objective.priority))
    np.savez(
        path,
        indptr=csr.indptr.astype(np.int64),
        indices=csr.indices.astype(np.int32),
        data=csr.data.astype(np.float32),
        shape=np.array(csr.shape, dtype=np.int64),
        beam_index=np.asarray(stf.bixel_beam_index_map, dtype=np.int64),
        kinds=np.array(kinds),
        doses=np.array(doses),
        weights=np.array(weights),
        offsets=np.cumsum([0] + [v.size for v in voxels]).astype(np.int64),
        voxels=np.concatenate(voxels),
        final=np.float64(final),
        trace=np.array(per_iteration, dtype=np.float64).reshape(-1, 2),
        seconds=np.float64(seconds),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="matRad-format .mat file (CORT TG119)")
    parser.add_argument("--case", choices=("photon", "proton", "optimize"), required=True)
    parser.add_argument("--grid", type=float, default=5.0, help="dose grid spacing in mm")
    parser.add_argument("--no-let", action="store_true", help="protons: no LET matrix")
    parser.add_argument("--max-iter", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=10, help="timed evaluations")
    parser.add_argument(
        "--export",
        metavar="NPZ",
        help="optimize: save the solved problem (matrix, voxel sets, objectives, trace)",
    )
    arguments = parser.parse_args()
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

    with _stdout_to_stderr() as stdout:
        import pyRadPlan
        from pyRadPlan import load_patient

        start = time.perf_counter()
        ct, cst = load_patient(arguments.path)
        load_seconds = time.perf_counter() - start
        if arguments.case == "photon":
            result = case_photon(ct, cst, arguments.grid)
        elif arguments.case == "proton":
            result = case_proton(ct, cst, arguments.grid, let=not arguments.no_let)
        else:
            result = case_optimize(ct, cst, arguments.max_iter, arguments.repeats, arguments.export)
        result = {
            "tool": "pyRadPlan",
            "version": pyRadPlan.__version__,
            "case": arguments.case,
            "file": os.path.abspath(arguments.path),
            "load_s": load_seconds,
            "threads": os.cpu_count(),
            **result,
        }
        with os.fdopen(os.dup(stdout), "w") as out:
            out.write(json.dumps(result, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
