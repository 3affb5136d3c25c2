"""rtwin's optimizer on the problem pyRadPlan solved: same matrix, voxels and objectives.

Usage::

    /tmp/prp/bin/python benchmarks/peer_pyradplan.py TG119.mat --case optimize --export P.npz
    python benchmarks/optimizer_same_problem.py P.npz [--max-iter 500]

``benchmarks/run.py --peer PYTHON`` does both. The two optimizers' objective
values are comparable only on one problem: rtwin's own TG119 matrix differs
from pyRadPlan's (kernel, cut-offs, scatter operator) and pyRadPlan removes
target and core voxels from BODY by overlap priority. So the exported
problem — pyRadPlan's dose-influence matrix (float32 CSR), the voxels each
objective sees after its overlap priorities, its objectives (each ``weight ×
mean over the voxels`` of the squared deviation/overdose, rtwin's
definition too) and pyRadPlan's objective trace — is loaded into a
:class:`rtwin.dose.DoseInfluence` on a one-row "grid" (one voxel per matrix
row) with one mask per objective, and ``optimize_fluence`` runs on it from
its default start. Printed (JSON): rtwin's time and iterations to reach
pyRadPlan's final objective value, its own convergence, the time of one
objective + gradient evaluation, and the objective recomputed independently
from the matrix with scipy at rtwin's final weights (a check that the two
definitions agree).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import scipy.sparse as sparse

import rtwin
from rtwin.anatomy import Structure
from rtwin.beams import Beam
from rtwin.dose import BeamletTable, DoseInfluence
from rtwin.geometry import Grid
from rtwin.optimize import FluenceProblem, SquaredDeviation, SquaredOverdose, optimize_fluence

_KINDS = {"SquaredDeviation": SquaredDeviation, "SquaredOverdosing": SquaredOverdose}


def load(path: str) -> tuple[DoseInfluence, dict[str, Structure], list, dict]:
    """The exported problem as rtwin objects, and pyRadPlan's figures."""
    data = np.load(path)
    n_rows, n_columns = (int(x) for x in data["shape"])
    matrix = sparse.csr_array(
        (data["data"], data["indices"], data["indptr"]), shape=(n_rows, n_columns)
    )
    grid = Grid.from_spacing((1, 1, n_rows), spacing_mm=(5.0, 5.0, 5.0), origin_mm=(0, 0, 0))
    beam_index = data["beam_index"] if "beam_index" in data else np.zeros(n_columns, np.int64)
    n_beams = int(beam_index.max()) + 1
    beams = tuple(
        Beam(modality="photon", gantry_deg=360.0 * b / n_beams, isocenter_mm=(0.0, 0.0, 0.0))
        for b in range(n_beams)
    )
    beamlets = BeamletTable(
        beams=beams,
        beam_index=beam_index.astype(np.int32),
        position_mm=np.zeros((n_columns, 2)),
        energy_mev=np.full(n_columns, np.nan),
        size_mm=np.full(n_columns, 5.0),
    )
    influence = DoseInfluence(matrix=matrix, dose_grid=grid, beamlets=beamlets)
    structures: dict[str, Structure] = {}
    objectives = []
    offsets = data["offsets"]
    for i, (kind, dose, weight) in enumerate(
        zip(data["kinds"], data["doses"], data["weights"], strict=True)
    ):
        mask = np.zeros(n_rows, dtype=bool)
        mask[data["voxels"][offsets[i] : offsets[i + 1]]] = True
        name = f"objective{i}_{kind}"
        structures[name] = Structure(name=name, mask=mask.reshape(grid.shape), grid=grid)
        objectives.append(_KINDS[str(kind)](name, dose_gy=float(dose), weight=float(weight)))
    peer = {
        "final": float(data["final"]),
        "trace": data["trace"],
        "seconds": float(data["seconds"]),
    }
    return influence, structures, objectives, peer


def scipy_objective(influence, structures, objectives, weights) -> float:
    """The objective recomputed from the matrix with scipy (float64), independently of rtwin."""
    dose = influence.matrix.astype(np.float64) @ weights
    total = 0.0
    for objective in objectives:
        d = dose[structures[objective.structure].mask.ravel()]
        if isinstance(objective, SquaredDeviation):
            excess = d - objective.dose_gy
        else:
            excess = np.maximum(d - objective.dose_gy, 0.0)
        total += objective.weight * float(np.mean(excess**2))
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="npz written by peer_pyradplan.py --export")
    parser.add_argument("--max-iter", type=int, default=500)
    arguments = parser.parse_args()

    influence, structures, objectives, peer = load(arguments.path)
    target = peer["final"]
    # compile and warm up outside the timed run (pyRadPlan's figure excludes its set-up too)
    optimize_fluence(influence, structures, objectives, max_iterations=2)

    trace: list[tuple[float, float]] = []
    result = optimize_fluence(
        influence,
        structures,
        objectives,
        max_iterations=arguments.max_iter,
        callback=lambda s: trace.append((s.seconds, s.objective_value)),
    )
    reached = next(((i + 1, t) for i, (t, f) in enumerate(trace) if f <= target), (None, None))
    own = result.objective_value
    within = next(((i + 1, t) for i, (t, f) in enumerate(trace) if f <= 1.01 * own), (None, None))

    problem = FluenceProblem.build(influence, structures, objectives)
    w = np.asarray(result.weights)
    problem.evaluate(w)
    times = []
    for _ in range(15):
        start = time.perf_counter()
        problem.evaluate(w)
        times.append(time.perf_counter() - start)
    peer_trace = peer["trace"]
    peer_within = next(
        ((i + 1, float(t)) for i, (t, f) in enumerate(peer_trace) if f <= 1.01 * target),
        (None, None),
    )
    print(
        json.dumps(
            {
                "rtwin": rtwin.__version__,
                "rows": int(influence.matrix.shape[0]),
                "beamlets": influence.n_beamlets,
                "nnz": influence.nnz,
                "peer_final": target,
                "peer_seconds": peer["seconds"],
                "peer_iterations": int(peer_trace.shape[0]),
                "peer_iterations_to_1pct": peer_within[0],
                "peer_seconds_to_1pct": peer_within[1],
                "iterations_to_peer_final": reached[0],
                "seconds_to_peer_final": reached[1],
                "seconds": result.seconds,
                "iterations": result.n_iterations,
                "evaluations": result.n_evaluations,
                "objective": own,
                "objective_scipy": scipy_objective(influence, structures, objectives, w),
                "converged": result.converged,
                "message": result.message,
                "iterations_to_1pct": within[0],
                "seconds_to_1pct": within[1],
                "evaluation_s": statistics.median(times),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
