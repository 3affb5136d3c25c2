"""Three candidate photon plans for the prostate phantom, compared, ranked and explained.

Run::

    python examples/compare_plans.py [OUTPUT_DIR]

Plans 3-, 5- and 7-field IMRT on the embedded prostate phantom (5 mm voxels,
a quick optimization each), compares them with ``rtwin.compare_plans``
against a small prostate goal set, prints the explanation and the goal
table, and saves the figures (DVHs, goal table, dose washes) and the JSON
into OUTPUT_DIR (a new temporary folder by default). About 20-30 s on two
cores, most of it the dose calculation and optimization.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import rtwin
from rtwin.evaluation import ClinicalGoal, GoalSet
from rtwin.optimize import Plan, Prescription, SquaredDeviation, SquaredOverdose
from rtwin.radiobiology import LKBParameters

PRESCRIPTION = Prescription(target="PTV", dose_per_fraction_gy=2.0, fractions=39)  # 78 Gy

GOALS = GoalSet(
    goals=(
        ClinicalGoal.parse("PTV D95% >= 76 Gy ± 1 Gy", priority=1),
        ClinicalGoal.parse("PTV D2% <= 83.5 Gy ± 1 Gy", priority=2),
        ClinicalGoal.parse("Rectum V70Gy < 20 %", priority=1, source="QUANTEC"),
        ClinicalGoal.parse("Rectum V50Gy < 50 %", priority=2, source="QUANTEC"),
        ClinicalGoal.parse("Bladder V65Gy < 50 %", priority=2, source="QUANTEC"),
        ClinicalGoal.parse("FemoralHead_L Dmax < 50 Gy", priority=3),
        ClinicalGoal.parse("FemoralHead_R Dmax < 50 Gy", priority=3),
    ),
    name="Prostate 78 Gy in 39 fractions",
)

#: Made-up LKB parameters that only show how NTCP enters a comparison. They are
#: NOT clinical values and come from no publication: give your own, with their source.
RECTUM_LKB = LKBParameters(
    td50_gy=80.0,
    m=0.15,
    n=0.1,
    organ="rectum",
    endpoint="illustrative only",
    source="none: made-up values for this example",
)


def plan(patient: rtwin.Patient, n_fields: int) -> Plan:
    """An n-field photon IMRT plan, optimized briefly and normalized to the prescription."""
    ptv = patient.structures["PTV"]
    beams = rtwin.beams.equispaced(n_fields, isocenter_mm=ptv.centroid_mm)
    influence = rtwin.dose.PhotonPencilBeam().influence(
        patient, beams, dose_grid=patient.grid.with_spacing(5.0)
    )
    result = rtwin.optimize.optimize_fluence(
        influence,
        patient.structures,
        [
            SquaredDeviation("PTV", dose_gy=78.0, weight=1000.0),
            SquaredOverdose("Rectum", dose_gy=40.0, weight=100.0),
            SquaredOverdose("Bladder", dose_gy=40.0, weight=50.0),
            SquaredOverdose("FemoralHead_L", dose_gy=30.0, weight=20.0),
            SquaredOverdose("FemoralHead_R", dose_gy=30.0, weight=20.0),
        ],
        max_iterations=60,
    )
    return Plan(
        name=f"{n_fields}-field IMRT",
        patient=patient,
        influence=influence,
        weights=result.weights,
        prescription=PRESCRIPTION,
    ).normalized()


def main(output: Path | None = None) -> Path:
    start = time.perf_counter()
    patient = rtwin.phantoms.prostate(voxel_mm=5.0)
    plans = {}
    for n_fields in (3, 5, 7):
        candidate = plan(patient, n_fields)
        plans[candidate.name] = candidate
        print(f"planned {candidate!r} ({time.perf_counter() - start:.1f} s)")

    comparison = rtwin.compare_plans(
        plans, patient.structures, GOALS, ntcp={"Rectum": RECTUM_LKB}
    )  # the plans carry the prescription (78 Gy, 39 fractions)
    print()
    print(comparison)
    print()
    print(comparison.explain())
    print()
    print(comparison.table())

    folder = Path(output) if output is not None else Path(tempfile.mkdtemp(prefix="rtwin-compare-"))
    folder.mkdir(parents=True, exist_ok=True)
    figures = {
        "dvh_overlay.png": comparison.plot_dvh(),
        "dvh_per_structure.png": comparison.plot_dvh(layout="per_structure"),
        "goal_table.png": comparison.plot_goals(),
    }
    for rank, evaluation in enumerate(comparison.ranked_plans, start=1):
        figures[f"dose_{rank}.png"] = evaluation.dose.plot(
            patient.structures,
            image=patient.image,
            plane=("axial", "coronal", "sagittal"),
            title=f"{rank}. {evaluation.name}",
        )
    for name, figure in figures.items():
        figure.savefig(folder / name, dpi=100)
    (folder / "comparison.json").write_text(comparison.to_json(), encoding="utf-8")
    print(f"\nfigures and comparison.json in {folder} ({time.perf_counter() - start:.1f} s)")
    return folder


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
