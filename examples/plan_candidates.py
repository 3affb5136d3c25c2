"""Candidate plans made, compared and reported in a few calls (what ``rtwin demo`` does).

Run::

    python examples/plan_candidates.py [OUTPUT_DIR]

Describes three candidates for the C-shape phantom (6 mm voxels) with
``rtwin.planning.CandidatePlan`` -- 5- and 7-field photon IMRT and 2-field
proton IMPT, the same objectives, 40 optimizer iterations each -- and lets
``rtwin.planning.plan_candidates`` compute, optimize and normalize them to
50 Gy in 25 fractions, printing each step from its progress callback. Then
``rtwin.compare_plans`` ranks them against the TG-119 goals, the ranking
and its explanation are printed, and ``rtwin.report.write_report`` writes
report.html, results.json and figures/ into OUTPUT_DIR (a new temporary
folder by default; an existing non-empty folder is refused). 15-25 s on two
cores.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import rtwin
from rtwin.evaluation import ClinicalGoal, GoalSet
from rtwin.optimize import Prescription, SquaredDeviation, SquaredOverdose
from rtwin.planning import CandidatePlan, PlanningStep, plan_candidates

OBJECTIVES = (
    SquaredDeviation("OuterTarget", dose_gy=50.0, weight=1000.0),
    SquaredOverdose("Core", dose_gy=23.0, weight=300.0),
    SquaredOverdose("BODY", dose_gy=30.0, weight=100.0),
)

GOALS = GoalSet(
    goals=(
        ClinicalGoal.parse("OuterTarget D98% >= 47.5 Gy ± 0.5 Gy", priority=1),
        ClinicalGoal.parse("OuterTarget D10% <= 55 Gy", priority=1, source="AAPM TG-119"),
        ClinicalGoal.parse("Core D10% <= 25 Gy", priority=1, source="AAPM TG-119"),
        ClinicalGoal.parse("Core Dmean <= 20 Gy", priority=2),
        ClinicalGoal.parse("BODY Dmean <= 6 Gy", priority=3),
    ),
    name="TG-119 C-shape",
)


def show(step: PlanningStep) -> None:
    """The progress callback: ``plan_candidates`` itself prints nothing."""
    print(f"[{step.done}/{step.total}] {step.seconds:5.1f} s  {step.message}")


def main(output: Path | None = None) -> Path:
    start = time.perf_counter()
    patient = rtwin.phantoms.cshape(voxel_mm=6.0)
    candidates = [
        CandidatePlan.equispaced("5-field IMRT", 5, objectives=OBJECTIVES, max_iterations=40),
        CandidatePlan.equispaced("7-field IMRT", 7, objectives=OBJECTIVES, max_iterations=40),
        CandidatePlan(
            name="2-field IMPT",
            modality="proton",
            gantry_deg=(90.0, 270.0),
            beamlet_mm=5.0,  # spot spacing
            objectives=OBJECTIVES,
            max_iterations=40,
        ),
    ]
    plans = plan_candidates(
        patient,
        candidates,
        prescription=Prescription(target="OuterTarget", dose_per_fraction_gy=2.0, fractions=25),
        progress=show,
    )

    comparison = rtwin.compare_plans({plan.name: plan for plan in plans}, patient.structures, GOALS)
    print(f"\n{comparison!r}\n\n{comparison.table()}\n\n{comparison.explain()}\n")

    folder = output if output is not None else Path(tempfile.mkdtemp(prefix="rtwin-")) / "report"
    files = rtwin.report.write_report(
        folder,
        comparison,
        patient=patient,
        plans=plans,
        title="examples/plan_candidates.py: three plans for the C-shape phantom",
    )
    print(f"report:  {files.report}\nresults: {files.results}")
    print(f"figures: {', '.join(figure.name for figure in files.figures)}")
    print(f"({time.perf_counter() - start:.1f} s)")
    return folder


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
