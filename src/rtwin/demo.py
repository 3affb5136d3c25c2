"""The main job on the embedded phantom: plan, compare, explain and report.

``rtwin demo`` runs :func:`run_demo`; a notebook can call it too.

Examples
--------
>>> import tempfile, rtwin.demo
>>> with tempfile.TemporaryDirectory() as tmp:  # doctest: +SKIP
...     outcome = rtwin.demo.run_demo(tmp + "/demo", quick=True)
...     print(outcome.comparison.recommended)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rtwin.planning._spec import StudyOutcome

__all__ = ["DemoOutcome", "demo_candidates", "demo_goals", "run_demo"]

#: The demo's clinical goals: the TG-119 C-shape goals (priority 1; plans are
#: normalized to OuterTarget D95 = 50 Gy, so D98 checks coverage) and
#: organ-at-risk sparing beyond them (priority 2-3).
DEMO_GOALS = (
    (
        "OuterTarget D98% >= 47.5 Gy ± 0.5 Gy",
        1,
        "ICRU 83 coverage: D98 >= 95 % of the prescription",
    ),
    ("OuterTarget D10% <= 55 Gy", 1, "TG-119 C-shape goal"),
    ("Core D10% <= 25 Gy", 1, "TG-119 C-shape goal"),
    ("Core Dmean <= 20 Gy", 2, "demo sparing goal"),
    ("BODY Dmean <= 6 Gy", 3, "demo integral-dose goal"),
)


#: What :func:`run_demo` produced (the same record as :func:`rtwin.planning.run_study`).
DemoOutcome = StudyOutcome


def demo_goals() -> Any:
    """The demo's :class:`~rtwin.evaluation.GoalSet`."""
    from rtwin.evaluation import ClinicalGoal, GoalSet

    return GoalSet(
        name="TG-119 C-shape + sparing",
        goals=tuple(
            ClinicalGoal.parse(text, priority=priority, source=source)
            for text, priority, source in DEMO_GOALS
        ),
    )


def demo_candidates(*, max_iterations: int = 150) -> tuple[Any, ...]:
    """The three candidate plans: 5- and 9-field photon IMRT, 2-field proton IMPT.

    Objectives: the CORT TG-119 ones (OuterTarget squared deviation from
    50 Gy, weight 1000; BODY squared overdose above 30 Gy, weight 100) with
    the Core limit at 23 Gy (weight 300), a planning margin below the 25 Gy
    goal (see docs/optimization.md).
    """
    from rtwin.optimize import SquaredDeviation, SquaredOverdose
    from rtwin.planning import CandidatePlan

    objectives = (
        SquaredDeviation("OuterTarget", dose_gy=50.0, weight=1000.0),
        SquaredOverdose("Core", dose_gy=23.0, weight=300.0),
        SquaredOverdose("BODY", dose_gy=30.0, weight=100.0),
    )
    return (
        CandidatePlan.equispaced(
            "5-field IMRT", 5, objectives=objectives, max_iterations=max_iterations
        ),
        CandidatePlan.equispaced(
            "9-field IMRT", 9, objectives=objectives, max_iterations=max_iterations
        ),
        CandidatePlan.equispaced(
            "2-field IMPT",
            2,
            modality="proton",
            start_deg=90.0,
            objectives=objectives,
            max_iterations=max_iterations,
        ),
    )


def run_demo(
    out: str | Path,
    *,
    quick: bool = False,
    force: bool = False,
    progress: Callable[[Any], None] | None = None,
) -> DemoOutcome:
    """Plan three candidates on the C-shape phantom, rank them and write the report.

    Parameters
    ----------
    out
        Output folder (refused when it exists and is not empty, unless
        ``force``).
    quick
        6 mm voxels and 60 iterations instead of 4 mm and 150.
    progress
        Receives :class:`~rtwin.planning.PlanningStep` objects.
    """
    from rtwin import phantoms
    from rtwin.optimize import Prescription
    from rtwin.planning._spec import plan_compare_report
    from rtwin.report import check_folder

    started = time.perf_counter()
    folder = check_folder(out, force=force)  # refuse early, before the work
    voxel_mm = 6.0 if quick else 4.0
    iterations = 60 if quick else 150
    patient = phantoms.cshape(voxel_mm=voxel_mm)
    prescription = Prescription(target="OuterTarget", dose_per_fraction_gy=2.0, fractions=25)
    candidates = demo_candidates(max_iterations=iterations)
    goals = demo_goals()
    return plan_compare_report(
        folder,
        patient,
        candidates,
        prescription=prescription,
        goals=goals,
        title="rtwin demo: three plans for the C-shape phantom",
        description=(
            f"TG-119-like C-shape phantom, {voxel_mm:g} mm voxels; "
            f"{len(candidates)} candidate plans, {prescription}"
        ),
        settings={
            "phantom": f"rtwin.phantoms.cshape(voxel_mm={voxel_mm:g})",
            "dose grid": "the phantom's grid",
            "prescription": str(prescription),
            "optimizer": f"L-BFGS-B, at most {iterations} iterations",
            "objectives": "; ".join(str(o) for o in candidates[0].objectives),
            "goal set": goals.name,
        },
        provenance={},
        started=started,
        force=force,
        progress=progress,
    )
