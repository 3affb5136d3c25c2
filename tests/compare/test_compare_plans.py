"""compare_plans: the documented ranking rule on constructed doses whose right order is known.

The rule (docs/comparison.md, compare_plans Notes):
1. fewer failed goals, priority 1 first; then fewer goals within tolerance, the same way;
2. better worst-target coverage (D95% / prescription, capped at 100 %), within a tolerance;
3. lower organ-at-risk goal load (mean value / limit), then lower OAR mean-dose sum, then name.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from _synthetic_plans import (  # noqa: F401 (fixtures)
    PRESCRIPTION_GY,
    comparison_fixture,
    doses_fixture,
    falloff_dose,
    goals_fixture,
    prostate_fixture,
)

import rtwin
from rtwin.compare import PlanComparison, RankingStep
from rtwin.errors import EvaluationError
from rtwin.evaluation import ClinicalGoal, GoalSet, GoalStatus
from rtwin.optimize import Prescription
from rtwin.radiobiology import LKBParameters, TCPParameters


def test_public_names():
    assert rtwin.compare_plans is rtwin.compare.compare_plans
    assert rtwin.PlanComparison is rtwin.compare.PlanComparison
    assert {"compare", "compare_plans", "PlanComparison", "plotting"} <= set(rtwin.__all__)


def test_failed_priority_1_goal_ranks_last_and_sparing_orders_the_rest(comparison):
    # Cold fails a priority-1 goal (step 1); Best and Wide pass every goal, cover the PTV
    # fully, and Best loads the organ-at-risk goals less (step 3).
    assert comparison.ranking == ("Best", "Wide", "Cold")
    assert comparison.recommended == "Best"
    assert comparison.deciding_step("Wide") is RankingStep.ORGAN_AT_RISK_GOALS
    assert comparison.deciding_step("Cold") is RankingStep.FAILED_GOALS
    assert comparison.deciding_step("Cold", versus="Wide") is RankingStep.FAILED_GOALS
    best, wide, cold = (comparison[name].score for name in comparison.ranking)
    assert best.failed_by_priority == wide.failed_by_priority == (0, 0, 0)
    assert cold.failed_by_priority == (1, 0, 0)
    assert best.coverage.capped_percent == wide.coverage.capped_percent == 100.0
    assert cold.coverage.percent == pytest.approx(93.0, abs=1e-3)
    assert best.organ_at_risk_goal_load_percent < wide.organ_at_risk_goal_load_percent
    # Cold spares best of all, but the failed goal comes first in the rule.
    assert cold.organ_at_risk_goal_load_percent < best.organ_at_risk_goal_load_percent


def test_ranking_does_not_depend_on_input_order(prostate, doses, goals, comparison):
    reversed_doses = dict(reversed(list(doses.items())))
    other = rtwin.compare_plans(
        reversed_doses, prostate.structures, goals, prescription_gy=PRESCRIPTION_GY
    )
    assert other.ranking == comparison.ranking
    assert other.explain() == comparison.explain()
    assert [plan.name for plan in other.plans] == list(reversed_doses)  # kept as given


def test_one_priority_1_failure_outweighs_many_priority_2_failures(prostate):
    goals = GoalSet(
        goals=(
            ClinicalGoal.parse("PTV D95% >= 77 Gy", priority=1),
            ClinicalGoal.parse("Rectum Dmean <= 5 Gy", priority=2),
            ClinicalGoal.parse("Bladder Dmean <= 5 Gy", priority=2),
        )
    )
    doses = {
        "two p2 failures": falloff_dose(prostate, 8.0),  # rectum 11 Gy, bladder 6.5 Gy
        "one p1 failure": falloff_dose(prostate, 1e-3, scale=0.9),  # 70.2 Gy, nothing outside
    }
    comparison = rtwin.compare_plans(doses, prostate.structures, goals)
    assert comparison.ranking == ("two p2 failures", "one p1 failure")
    assert comparison["two p2 failures"].score.failed_by_priority == (0, 2)
    assert comparison["one p1 failure"].score.failed_by_priority == (1, 0)


def test_within_tolerance_ranks_below_pass(prostate, goals):
    doses = {
        "Best": falloff_dose(prostate, 8.0),
        "Tolerated": falloff_dose(prostate, 8.0, scale=0.94),  # 73.32 Gy: within 74 ± 1 Gy
    }
    comparison = rtwin.compare_plans(doses, prostate.structures, goals, prescription_gy=78.0)
    assert comparison["Tolerated"].goal_results[0].status is GoalStatus.WITHIN_TOLERANCE
    assert comparison.ranking == ("Best", "Tolerated")
    assert comparison.deciding_step("Tolerated") is RankingStep.GOALS_WITHIN_TOLERANCE


def test_coverage_decides_before_sparing(prostate, goals):
    # Cool passes every goal (D95% 74.88 Gy >= 74 Gy) and spares better, but covers 96 %.
    doses = {"Best": falloff_dose(prostate, 8.0), "Cool": falloff_dose(prostate, 8.0, scale=0.96)}
    comparison = rtwin.compare_plans(doses, prostate.structures, goals, prescription_gy=78.0)
    assert comparison["Cool"].score.n_failed == comparison["Best"].score.n_failed == 0
    assert comparison.ranking == ("Best", "Cool")
    assert comparison.deciding_step("Cool") is RankingStep.TARGET_COVERAGE


def test_coverage_within_tolerance_counts_as_equal(prostate, goals):
    # 99.5 % coverage is within the default 1-point tolerance of 100 %: sparing decides,
    # and the slightly cooler plan spares better. Without tolerance, coverage decides.
    doses = {
        "Best": falloff_dose(prostate, 8.0),
        "Cooler": falloff_dose(prostate, 8.0, scale=0.995),
    }
    tolerant = rtwin.compare_plans(doses, prostate.structures, goals, prescription_gy=78.0)
    assert tolerant.ranking == ("Cooler", "Best")
    assert tolerant.deciding_step("Best") is RankingStep.ORGAN_AT_RISK_GOALS
    strict = rtwin.compare_plans(
        doses, prostate.structures, goals, prescription_gy=78.0, coverage_tolerance_percent=0.0
    )
    assert strict.ranking == ("Best", "Cooler")
    assert strict.deciding_step("Cooler") is RankingStep.TARGET_COVERAGE


def test_coverage_above_prescription_is_not_better(prostate, goals):
    # 102 % of the prescription counts as 100 %: the hotter plan does not win on coverage.
    doses = {"Best": falloff_dose(prostate, 8.0), "Hot": falloff_dose(prostate, 8.0, scale=1.02)}
    comparison = rtwin.compare_plans(
        doses, prostate.structures, goals, prescription_gy=78.0, coverage_tolerance_percent=0.0
    )
    assert comparison["Hot"].score.coverage.percent == pytest.approx(102.0, abs=1e-3)
    assert comparison.ranking == ("Best", "Hot")
    assert comparison.deciding_step("Hot") is RankingStep.ORGAN_AT_RISK_GOALS


def test_identical_plans_tie_by_name(prostate, goals, doses):
    comparison = rtwin.compare_plans(
        {"b": doses["Best"], "a": doses["Best"]}, prostate.structures, goals
    )
    assert comparison.ranking == ("a", "b")
    assert comparison.deciding_step("b") is RankingStep.NAME


def test_mean_dose_sum_decides_without_organ_goals(prostate, doses):
    goals = GoalSet.parse(["PTV D95% >= 74 Gy"])
    comparison = rtwin.compare_plans(
        {"Wide": doses["Wide"], "Best": doses["Best"]}, prostate.structures, goals
    )
    assert comparison["Best"].score.organ_at_risk_goal_load_percent is None
    assert comparison.ranking == ("Best", "Wide")
    assert comparison.deciding_step("Wide") is RankingStep.ORGAN_AT_RISK_MEAN_DOSE


def test_coverage_from_target_goals_without_prescription(prostate, doses, goals):
    comparison = rtwin.compare_plans(doses, prostate.structures, goals)
    assert comparison.prescription_gy is None
    coverage = comparison["Cold"].score.coverage
    assert coverage.goal == "PTV D95% >= 74 Gy ± 1 Gy"
    assert coverage.value == pytest.approx(0.93 * 78.0, abs=1e-4)
    assert coverage.percent == pytest.approx(100 * 0.93 * 78.0 / 74.0, abs=1e-3)
    assert comparison["Best"].targets[0].conformity_index is None  # needs a prescription
    assert comparison.ranking == ("Best", "Wide", "Cold")


def test_missing_structures_are_not_evaluated_and_do_not_rank(comparison):
    for plan in comparison.plans:
        row = plan.goal_results[-1]
        assert row.status is GoalStatus.NOT_EVALUATED
        assert "SpinalCord" in row.reason
        assert "SpinalCord" not in plan.dvhs
    assert "SpinalCord" in comparison.explain()


def test_name_mapping_and_evaluation_grid(prostate, doses):
    goals = GoalSet.parse(["Prostate_PTV D95% >= 74 Gy", "Colon Dmax < 80 Gy"])
    comparison = rtwin.compare_plans(
        {"Best": doses["Best"]},
        prostate.structures,
        goals,
        names={"Prostate_PTV": "PTV"},
        evaluation_grid=prostate.grid.with_spacing(10.0),
    )
    first, second = comparison["Best"].goal_results
    assert first.structure == "PTV" and first.value is not None  # mapped, evaluated
    assert second.status is GoalStatus.NOT_EVALUATED
    assert comparison["Best"].dvhs["PTV"].volume_cc != prostate.structures["PTV"].volume_cc


def test_plans_give_their_dose_and_prescription(prostate, doses, goals):
    prescription = Prescription(target="PTV", dose_per_fraction_gy=2.0, fractions=39)
    plans = {
        name: SimpleNamespace(dose=lambda d=dose: d, prescription=prescription)
        for name, dose in doses.items()
    }
    comparison = rtwin.compare_plans(plans, prostate.structures, goals)
    assert comparison.prescription_gy == 78.0 and comparison.n_fractions == 39
    assert comparison.ranking == ("Best", "Wide", "Cold")
    indices = comparison["Best"].targets[0]
    assert indices.structure == "PTV" and indices.coverage_percent == pytest.approx(100.0)
    assert 0.0 < indices.conformity_index <= 1.0
    assert indices.gradient_index >= 1.0
    assert indices.homogeneity_index == pytest.approx(0.0, abs=1e-6)


def test_radiobiology_is_reported_not_ranked(prostate, doses, goals):
    rectum = LKBParameters(td50_gy=76.9, m=0.13, n=0.09, source="Burman 1991")
    tumour = TCPParameters(alpha_per_gy=0.15, beta_per_gy2=0.05, clonogens_per_cc=1e6)
    comparison = rtwin.compare_plans(
        doses,
        prostate.structures,
        goals,
        prescription_gy=78.0,
        n_fractions=39,
        ntcp={"Rectum": rectum, "Colon": rectum},
        tcp={"PTV": tumour},
        alpha_beta_gy={"Rectum": 3.0, "Colon": 3.0},
    )
    assert comparison.ranking == ("Best", "Wide", "Cold")
    wide, best = comparison["Wide"], comparison["Best"]
    assert wide.ntcp[0].probability > best.ntcp[0].probability
    assert wide.ntcp[0].dose == "EQD2 (α/β = 3 Gy, 39 fractions)"
    assert wide.ntcp[1].probability is None and "Colon" in wide.ntcp[1].reason
    assert comparison["Cold"].tcp[0].probability < best.tcp[0].probability
    assert "not part of the ranking" in comparison.explain()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"plans": {}}, "plans is empty"),
        ({"plans": {"A": np.zeros(3)}}, "must be a rtwin Dose or a Plan"),
        ({"goals": ["PTV D95% >= 74 Gy"]}, "goals must be a GoalSet"),
        ({"structures": [1, 2]}, "structures must be a StructureSet"),
        ({"targets": ["Prostate"]}, "targets 'Prostate' not in the structures"),
        ({"names": {"Cord": "SpinalCord"}}, "which no goal uses"),
        (
            {
                "tcp": {
                    "PTV": TCPParameters(alpha_per_gy=0.1, beta_per_gy2=0.0, clonogens_per_cc=1e6)
                }
            },
            "tcp needs the number of fractions",
        ),
        ({"ntcp": {"Rectum": "LKB"}}, "must be LKBParameters"),
        ({"alpha_beta_gy": {"Rectum": 3.0}, "n_fractions": 39}, "exactly the ntcp structures"),
        ({"prescription_gy": -1.0}, "prescription_gy must be > 0"),
        ({"coverage_tolerance_percent": float("nan")}, "must be finite"),
    ],
)
def test_bad_input_raises_with_the_fix(prostate, doses, goals, change, message):
    arguments = {
        "plans": {"Best": doses["Best"]},
        "structures": prostate.structures,
        "goals": goals,
    }
    arguments.update(change)
    with pytest.raises(EvaluationError, match=message):
        rtwin.compare_plans(**arguments)


def test_comparison_access(comparison):
    assert len(comparison) == 3 and "Best" in comparison and "Nope" not in comparison
    assert comparison.rank_of("Cold") == 3
    assert [plan.name for plan in comparison.ranked_plans] == list(comparison.ranking)
    assert list(comparison.dvhs) == list(comparison.ranking)
    with pytest.raises(
        EvaluationError, match="plan 'Nope' is not in the comparison; plans: 'Wide'"
    ):
        comparison["Nope"]
    with pytest.raises(EvaluationError, match="does not rank below"):
        comparison.deciding_step("Best")
    with pytest.raises(TypeError):
        comparison["Best"].dvhs["PTV"] = None  # read-only mapping
    assert isinstance(comparison, PlanComparison)
