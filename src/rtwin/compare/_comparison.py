"""Compare candidate plans on one patient: goal tables side by side, indices, a ranking."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol

from rtwin._version import __version__
from rtwin.anatomy import Structure, StructureRole
from rtwin.compare._ranking import (
    PlanScore,
    RankingStep,
    deciding_step,
    rank,
    score_plan,
)
from rtwin.dose import Dose
from rtwin.errors import EvaluationError, RadiobiologyError
from rtwin.evaluation import (
    DVH,
    GoalResult,
    GoalResults,
    GoalSet,
    gradient_index,
    homogeneity_index,
    paddick_conformity_index,
)
from rtwin.geometry import Grid
from rtwin.radiobiology import LKBParameters, TCPParameters, lkb_ntcp, poisson_tcp

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

__all__ = [
    "PlanComparison",
    "PlanEvaluation",
    "RadiobiologyResult",
    "TargetIndices",
    "compare_plans",
]

logger = logging.getLogger(__name__)


class _PlanLike(Protocol):
    """Anything that gives its course dose, such as :class:`rtwin.optimize.Plan`."""

    def dose(self) -> Dose: ...


SCHEMA = "rtwin.plan_comparison"
SCHEMA_VERSION = 1
#: The ranking rule in words (also written into the JSON).
RULE = (
    "1. Goals: fewer failed goals, compared priority by priority (one failed priority-1 goal "
    "outweighs any number of failed priority-2 goals); then, the same way, fewer goals missed "
    "within their acceptable deviation. Goals not evaluated do not count.",
    "2. Target coverage: the worst-covered target's D95% as a percentage of the prescription "
    "(without a prescription: the worst value / limit of the targets' lower-limit goals), "
    "counted up to 100%; plans within the coverage tolerance of the best count as equal.",
    "3. Organ-at-risk sparing: the lower mean of value / limit over the organ-at-risk goals "
    "(upper limits on structures that are not targets); then the lower sum of the organs at "
    "risk's mean doses; then the name, alphabetically.",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetIndices:
    """Dose statistics and plan-quality indices of one target in one plan.

    Parameters
    ----------
    structure
        The target.
    prescription_gy
        The prescription the indices refer to (``None``: none given).
    d98_gy, d95_gy, d50_gy, d2_gy
        Dose covering 98, 95, 50 and 2 % of the target (Gy).
    conformity_index
        Paddick CI at the prescription (inside the body outline when the
        structures have one); ``None`` without a prescription.
    homogeneity_index
        ICRU 83 HI ``(D2% − D98%) / D50%``.
    gradient_index
        Paddick GI ``V(50 % Rx) / V(Rx)``; ``None`` without a prescription
        or when nothing receives it.
    notes
        Why an index is ``None``.
    """

    structure: str
    prescription_gy: float | None
    d98_gy: float
    d95_gy: float
    d50_gy: float
    d2_gy: float
    conformity_index: float | None = None
    homogeneity_index: float | None = None
    gradient_index: float | None = None
    notes: tuple[str, ...] = ()

    @property
    def coverage_percent(self) -> float | None:
        """``100 × D95% / prescription`` (``None`` without a prescription)."""
        if self.prescription_gy is None:
            return None
        return 100.0 * self.d95_gy / self.prescription_gy

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "structure": self.structure,
            "prescription_gy": self.prescription_gy,
            "d98_gy": self.d98_gy,
            "d95_gy": self.d95_gy,
            "d50_gy": self.d50_gy,
            "d2_gy": self.d2_gy,
            "coverage_percent": self.coverage_percent,
            "paddick_conformity_index": self.conformity_index,
            "homogeneity_index": self.homogeneity_index,
            "gradient_index": self.gradient_index,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RadiobiologyResult:
    """An NTCP or TCP of one structure in one plan (reported; not part of the ranking).

    Parameters
    ----------
    structure
        The organ or target.
    model
        ``"LKB NTCP"`` or ``"Poisson-LQ TCP"``.
    probability
        In 0-1; ``None`` when it could not be computed.
    reason
        Why ``probability`` is ``None``; empty otherwise.
    dose
        The dose the model was applied to: ``"physical dose"``,
        ``"EQD2 (α/β = 3 Gy, 39 fractions)"``, ``"physical dose in 39
        fractions"``.
    source
        The parameters' source.
    """

    structure: str
    model: str
    probability: float | None
    reason: str = ""
    dose: str = "physical dose"
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready)."""
        return {
            "structure": self.structure,
            "model": self.model,
            "probability": self.probability,
            "reason": self.reason,
            "dose": self.dose,
            "source": self.source,
        }


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PlanEvaluation:
    """Everything evaluated on one plan of a comparison.

    Parameters
    ----------
    name
        The plan's name in the comparison.
    dose
        Its course dose (Gy).
    goal_results
        One row per goal of the comparison's goal set, in its order.
    dvhs
        DVH per structure: every target, organ at risk and structure a
        goal or model refers to (read-only mapping, structure-set order).
    targets
        :class:`TargetIndices` per target.
    ntcp, tcp
        :class:`RadiobiologyResult` per structure given model parameters.
    score
        What the ranking rule reads (:class:`~rtwin.compare.PlanScore`).
    """

    name: str
    dose: Dose = field(repr=False)
    goal_results: GoalResults = field(repr=False)
    dvhs: Mapping[str, DVH] = field(repr=False)
    targets: tuple[TargetIndices, ...] = field(default=(), repr=False)
    ntcp: tuple[RadiobiologyResult, ...] = field(default=(), repr=False)
    tcp: tuple[RadiobiologyResult, ...] = field(default=(), repr=False)
    score: PlanScore = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise EvaluationError(f"plan name must be a non-empty string; got {self.name!r}")
        if not isinstance(self.dose, Dose):
            raise EvaluationError(f"plan {self.name!r}: dose must be a rtwin Dose")
        if not isinstance(self.goal_results, GoalResults):
            raise EvaluationError(f"plan {self.name!r}: goal_results must be GoalResults")
        if not isinstance(self.score, PlanScore):
            raise EvaluationError(f"plan {self.name!r}: score must be a PlanScore")
        dvhs = dict(self.dvhs)
        for structure, dvh in dvhs.items():
            if not isinstance(dvh, DVH):
                raise EvaluationError(f"plan {self.name!r}: dvhs[{structure!r}] is not a DVH")
        object.__setattr__(self, "dvhs", MappingProxyType(dvhs))
        for name in ("targets", "ntcp", "tcp"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    def to_dict(self, *, dvh_bin_gy: float | None = None) -> dict[str, Any]:
        """Plain data (JSON-ready); ``dvh_bin_gy`` adds each DVH's curve at that step."""
        return {
            "name": self.name,
            "description": self.dose.description,
            "max_dose_gy": self.dose.max_gy,
            "goals": self.goal_results.to_dict(),
            "score": self.score.to_dict(),
            "targets": [target.to_dict() for target in self.targets],
            "dvhs": {name: _dvh_dict(dvh, dvh_bin_gy) for name, dvh in self.dvhs.items()},
            "ntcp": [result.to_dict() for result in self.ntcp],
            "tcp": [result.to_dict() for result in self.tcp],
        }

    def __repr__(self) -> str:
        counts = ", ".join(f"{n} {s}" for s, n in self.goal_results.counts.items() if n)
        return f"PlanEvaluation({self.name!r}: {counts or 'no goals'})"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class PlanComparison:
    """Several plans of one patient evaluated against one goal set, ranked by a fixed rule.

    Build it with :func:`compare_plans` (the ranking rule is written
    there). ``comparison["name"]`` is a plan's :class:`PlanEvaluation`.

    Parameters
    ----------
    plans
        One :class:`PlanEvaluation` per plan, in the order given.
    goals
        The goal set.
    structures
        The structures the plans were evaluated on.
    targets
        The target structures (coverage, indices).
    prescription_gy
        The prescription, when known.
    n_fractions
        The number of fractions, when known (radiobiology).
    coverage_tolerance_percent
        Coverage differences up to this many percentage points count as
        equal (step 2 of the rule).

    Attributes
    ----------
    ranking
        Plan names, best first (computed from the plans' scores).
    """

    plans: tuple[PlanEvaluation, ...]
    goals: GoalSet
    structures: Mapping[str, Structure] = field(repr=False)
    targets: tuple[str, ...] = ()
    prescription_gy: float | None = None
    n_fractions: int | None = None
    coverage_tolerance_percent: float = 1.0
    ranking: tuple[str, ...] = field(init=False)
    _keys: Mapping[str, tuple[Any, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        plans = tuple(self.plans)
        if not plans or not all(isinstance(plan, PlanEvaluation) for plan in plans):
            raise EvaluationError("a PlanComparison holds one or more PlanEvaluation objects")
        names = [plan.name for plan in plans]
        if len(set(names)) != len(names):
            raise EvaluationError(f"plan names must be unique; got {names}")
        if not isinstance(self.goals, GoalSet):
            raise EvaluationError(f"goals must be a GoalSet; got {type(self.goals).__name__}")
        for plan in plans:
            if len(plan.goal_results) != len(self.goals):
                raise EvaluationError(
                    f"plan {plan.name!r} has {len(plan.goal_results)} goal results for "
                    f"{len(self.goals)} goals"
                )
        tolerance = _non_negative(self.coverage_tolerance_percent, "coverage_tolerance_percent")
        ranking, keys = rank({plan.name: plan.score for plan in plans}, tolerance)
        object.__setattr__(self, "plans", plans)
        object.__setattr__(self, "targets", tuple(self.targets))
        object.__setattr__(self, "coverage_tolerance_percent", tolerance)
        object.__setattr__(self, "ranking", ranking)
        object.__setattr__(self, "_keys", MappingProxyType(keys))

    # ------------------------------------------------------------------ access
    @property
    def recommended(self) -> str:
        """The name of the best plan by the rule."""
        return self.ranking[0]

    @property
    def ranked_plans(self) -> tuple[PlanEvaluation, ...]:
        """The plans' evaluations, best first."""
        by_name = {plan.name: plan for plan in self.plans}
        return tuple(by_name[name] for name in self.ranking)

    @property
    def dvhs(self) -> dict[str, Mapping[str, DVH]]:
        """``{plan: {structure: DVH}}``, best plan first (for :func:`rtwin.plotting.plot_dvh`)."""
        return {plan.name: plan.dvhs for plan in self.ranked_plans}

    def rank_of(self, name: str) -> int:
        """1-based rank of a plan."""
        self[name]
        return self.ranking.index(name) + 1

    def deciding_step(self, name: str, versus: str | None = None) -> RankingStep:
        """The step of the rule that puts plan ``name`` below ``versus`` (default: the recommended).

        Raises
        ------
        EvaluationError
            Unknown names, the same plan twice, or ``name`` ranks above
            ``versus``.
        """
        other = self.recommended if versus is None else versus
        if self.rank_of(name) <= self.rank_of(other):
            raise EvaluationError(
                f"plan {name!r} (rank {self.rank_of(name)}) does not rank below {other!r} "
                f"(rank {self.rank_of(other)})"
            )
        return deciding_step(self._keys[other], self._keys[name])

    def __getitem__(self, name: str) -> PlanEvaluation:
        for plan in self.plans:
            if plan.name == name:
                return plan
        raise EvaluationError(
            f"plan {name!r} is not in the comparison; plans: "
            f"{', '.join(repr(plan.name) for plan in self.plans)}"
        )

    def __contains__(self, name: object) -> bool:
        return any(plan.name == name for plan in self.plans)

    def __len__(self) -> int:
        return len(self.plans)

    # ------------------------------------------------------------------ output
    def explain(self) -> str:
        """The ranking in plain sentences: the recommended plan and why each other plan is below.

        The wording is fixed (the same comparison gives the same text);
        numbers carry their units. Each plan below the recommended one
        gets one paragraph naming the step of the rule that decided and
        the goals and values behind it, and, where it does better
        somewhere, what it would have offered in exchange.
        """
        from rtwin.compare._text import explain

        return explain(self)

    def table(self) -> str:
        """A plain-text goal table: one row per goal, one column per plan (best first)."""
        from rtwin.compare._text import table

        return table(self)

    def to_dict(self, *, dvh_bin_gy: float | None = None) -> dict[str, Any]:
        """Plain data for other tools (JSON-ready; outline in ``docs/comparison.md``).

        Parameters
        ----------
        dvh_bin_gy
            Add each DVH's cumulative curve sampled every ``dvh_bin_gy``
            Gy (:meth:`~rtwin.evaluation.DVH.curve`); summaries only by
            default.
        """
        plans = []
        for plan in self.ranked_plans:
            entry = {"rank": self.rank_of(plan.name), **plan.to_dict(dvh_bin_gy=dvh_bin_gy)}
            entry["deciding_step"] = (
                None if plan.name == self.recommended else self.deciding_step(plan.name).value
            )
            plans.append(entry)
        return {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "rtwin_version": __version__,
            "goal_set": self.goals.to_dict(),
            "targets": list(self.targets),
            "prescription_gy": self.prescription_gy,
            "n_fractions": self.n_fractions,
            "ranking_rule": {
                "steps": list(RULE),
                "coverage_tolerance_percent": self.coverage_tolerance_percent,
            },
            "ranking": list(self.ranking),
            "recommended": self.recommended,
            "explanation": self.explain(),
            "plans": plans,
        }

    def to_json(self, *, indent: int | None = 2, dvh_bin_gy: float | None = None) -> str:
        """:meth:`to_dict` as JSON text (strict JSON: no NaN or infinity)."""
        return json.dumps(
            _finite_json(self.to_dict(dvh_bin_gy=dvh_bin_gy)),
            indent=indent,
            ensure_ascii=False,
            allow_nan=False,
        )

    # ------------------------------------------------------------------ figures
    def plot_dvh(self, **options: Any) -> Figure:
        """DVHs of all plans, best first, in the structures' colours (:func:`rtwin.plotting.plot_dvh`)."""
        from rtwin.plotting import plot_dvh
        from rtwin.plotting._style import rgb

        colors = {
            name: color
            for name, structure in self.structures.items()
            if (color := rgb(structure.color)) is not None
        }
        options.setdefault("colors", colors)
        options.setdefault("prescription_gy", self.prescription_gy)
        return plot_dvh(self.dvhs, **options)

    def plot_goals(self, **options: Any) -> Figure:
        """The goal table as a coloured figure (:func:`rtwin.plotting.plot_goal_table`)."""
        from rtwin.plotting import plot_goal_table

        return plot_goal_table(self, **options)

    def plot(self, **options: Any) -> Figure:
        """The DVH figure (:meth:`plot_dvh`)."""
        return self.plot_dvh(**options)

    def __repr__(self) -> str:
        order = " > ".join(repr(name) for name in self.ranking)
        return (
            f"PlanComparison({len(self.plans)} plans, {len(self.goals)} goals; "
            f"recommended {self.recommended!r}; ranking {order})"
        )

    def _repr_html_(self) -> str:
        from rtwin.compare._text import html_table

        return html_table(self)


# ---------------------------------------------------------------------- compare_plans
def compare_plans(
    plans: Mapping[str, Dose | _PlanLike],
    structures: Mapping[str, Structure],
    goals: GoalSet,
    *,
    ntcp: Mapping[str, LKBParameters] | None = None,
    tcp: Mapping[str, TCPParameters] | None = None,
    prescription_gy: float | None = None,
    n_fractions: int | None = None,
    alpha_beta_gy: Mapping[str, float] | None = None,
    names: Mapping[str, str] | None = None,
    targets: Sequence[str] | None = None,
    evaluation_grid: Grid | None = None,
    coverage_tolerance_percent: float = 1.0,
    supersampling: int | None = None,
) -> PlanComparison:
    """Evaluate candidate plans against one goal set and rank them by a fixed, explained rule.

    Parameters
    ----------
    plans
        ``{name: dose or plan}``: a :class:`~rtwin.dose.Dose`, or a plan
        (:class:`~rtwin.optimize.Plan`, or anything whose ``dose()``
        returns a Dose). At least one.
    structures
        The patient's structures (a :class:`~rtwin.anatomy.StructureSet`
        or a mapping name → structure). Roles matter: ``target``
        structures are the targets (unless ``targets=`` says otherwise),
        ``organ_at_risk`` ones the organs at risk, ``external`` the body.
    goals
        The :class:`~rtwin.evaluation.GoalSet` (``GoalSet.parse([...])``,
        ``GoalSet.read(path)``, ``GoalSet.quantec()``).
    ntcp
        ``{structure: LKBParameters}``: LKB NTCP of these organs.
    tcp
        ``{target: TCPParameters}``: Poisson-LQ TCP (needs ``n_fractions``).
    prescription_gy
        Total prescribed dose to the targets (Gy). By default, when every
        plan is a plan with the same prescription total (and fractions),
        that one; otherwise none, and coverage is read from the targets'
        goals.
    n_fractions
        Number of fractions (TCP, EQD2 for NTCP); by default the plans'.
    alpha_beta_gy
        ``{structure: α/β in Gy}`` for every ``ntcp`` structure: convert
        those DVHs to EQD2 before the LKB model (needs ``n_fractions``).
        Without it NTCP uses the physical dose (right for conventional
        1.8-2 Gy fractions only).
    names
        ``{goal structure: patient structure}`` for goal names that
        differ from the patient's (as in
        :meth:`~rtwin.evaluation.GoalSet.evaluate`).
    targets
        Target structure names; by default every non-empty structure with
        role ``target``.
    evaluation_grid
        Evaluate on this grid (the structures are resampled onto it);
        by default on the structures' own grid (the CT grid), whatever
        the dose grids.
    coverage_tolerance_percent
        Coverage differences up to this many percentage points count as
        equal (step 2); default 1.
    supersampling
        Passed to :meth:`~rtwin.evaluation.DVH.compute`.

    Returns
    -------
    PlanComparison

    Raises
    ------
    EvaluationError
        No plans, an input of the wrong type, unknown target or name
        mapping, ``tcp`` or ``alpha_beta_gy`` without ``n_fractions``.
        Missing or empty structures do not raise: their goals are ``not
        evaluated`` and their NTCP/TCP ``None`` with the reason.

    Notes
    -----
    **Ranking rule** (:data:`RULE`; ``docs/comparison.md``). Plans are
    sorted by, in this order:

    1. *Goals.* Failed goals, compared priority by priority: the number
       of failed priority-1 goals first, then priority-2, and so on — one
       failed priority-1 goal outweighs any number of failed priority-2
       goals. Then, the same way, goals missed within their acceptable
       deviation (``within tolerance``). Goals that are ``not
       evaluated`` (a missing structure) count for no plan.
    2. *Target coverage.* With a prescription, each target's ``D95%`` as
       a percentage of it; without, each target's worst ``value / limit``
       over its lower-limit goals (``D95% >= ...``). The worst target
       counts, capped at 100 % (more than full coverage is not better
       coverage; hot spots are for goals such as ``D2% <= ...``). Among
       plans equal at step 1, taken from the best covered down, a plan
       within ``coverage_tolerance_percent`` points of the best plan of
       its group joins that group; otherwise it starts the next group.
    3. *Organ-at-risk sparing.* The mean of ``100 × value / limit`` over
       the organ-at-risk goals (evaluated upper-limit goals with a limit
       > 0 on structures that are not targets: "goal load", lower is
       better); then the sum of the mean doses of the ``organ_at_risk``
       structures; then the plan name, alphabetically.

    NTCP, TCP and the indices are reported beside the ranking, not in
    it: their model parameters are too uncertain to overrule the goals.

    Examples
    --------
    >>> import numpy as np, rtwin
    >>> from rtwin.evaluation import GoalSet
    >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5)
    >>> doses = {name: rtwin.dose.Dose(values=np.full(patient.grid.shape, gy), grid=patient.grid)
    ...          for name, gy in (("A", 60.0), ("B", 57.0))}
    >>> goals = GoalSet.parse(["Target D95% >= 58 Gy ± 1 Gy", "Body Dmax <= 61 Gy"])
    >>> comparison = rtwin.compare_plans(doses, patient.structures, goals)
    >>> comparison.ranking, comparison.deciding_step("B").value
    (('A', 'B'), 'goals within tolerance')
    >>> print(comparison.explain().splitlines()[0])
    Recommended plan: A.
    """
    doses, plan_prescriptions = _doses(plans)
    structure_map = _structures(structures, evaluation_grid)
    if not isinstance(goals, GoalSet):
        raise EvaluationError(
            f"goals must be a GoalSet (GoalSet.parse([...]), GoalSet.read(path)); got "
            f"{type(goals).__name__}"
        )
    mapping = dict(names or {})
    goals.renamed(mapping)  # validates the mapping; the results keep the original goals
    target_names = _targets(structure_map, targets)
    rx, fractions = _prescription(prescription_gy, n_fractions, plan_prescriptions)
    ntcp_parameters = _parameters(ntcp, LKBParameters, "ntcp", "LKBParameters")
    tcp_parameters = _parameters(tcp, TCPParameters, "tcp", "TCPParameters")
    alpha_beta = _alpha_beta(alpha_beta_gy, ntcp_parameters, fractions)
    if tcp_parameters and fractions is None:
        raise EvaluationError(
            "tcp needs the number of fractions: pass n_fractions=... (or plans with a prescription)"
        )
    tolerance = _non_negative(coverage_tolerance_percent, "coverage_tolerance_percent")

    present = {name for name, s in structure_map.items() if not s.is_empty}
    organs = [
        name
        for name, s in structure_map.items()
        if s.role is StructureRole.ORGAN_AT_RISK and name in present
    ]
    goal_structures = {mapping.get(goal.structure, goal.structure) for goal in goals}
    wanted = set(target_names) | set(organs) | goal_structures | set(ntcp_parameters)
    wanted |= set(tcp_parameters)
    needed = [name for name in structure_map if name in wanted and name in present]
    external = next(
        (
            s
            for name, s in structure_map.items()
            if s.role is StructureRole.EXTERNAL and name in present
        ),
        None,
    )
    n_priorities = max((goal.priority for goal in goals), default=0)

    evaluations = []
    for plan_name, dose in doses.items():
        logger.info("evaluating plan %r", plan_name)
        dvhs = {
            name: DVH.compute(dose, structure_map[name], supersampling=supersampling)
            for name in needed
        }
        results = _goal_results(goals, mapping, dose, structure_map, dvhs, supersampling)
        evaluations.append(
            PlanEvaluation(
                name=plan_name,
                dose=dose,
                goal_results=results,
                dvhs=dvhs,
                targets=tuple(
                    _target_indices(dose, structure_map[t], dvhs[t], rx, external, supersampling)
                    for t in target_names
                    if t in dvhs
                ),
                ntcp=tuple(
                    _ntcp(name, p, dvhs, fractions, alpha_beta)
                    for name, p in ntcp_parameters.items()
                ),
                tcp=tuple(_tcp(name, p, dvhs, fractions) for name, p in tcp_parameters.items()),
                score=score_plan(
                    results,
                    dvhs,
                    targets=target_names,
                    organs_at_risk=organs,
                    prescription_gy=rx,
                    n_priorities=n_priorities,
                ),
            )
        )
    return PlanComparison(
        plans=tuple(evaluations),
        goals=goals,
        structures=MappingProxyType(structure_map),
        targets=target_names,
        prescription_gy=rx,
        n_fractions=fractions,
        coverage_tolerance_percent=tolerance,
    )


# ---------------------------------------------------------------------- input checks
def _doses(plans: Mapping[str, Dose | _PlanLike]) -> tuple[dict[str, Dose], list[Any]]:
    """Each plan's dose, and each plan's prescription (``None`` for bare doses)."""
    if not isinstance(plans, Mapping):
        raise EvaluationError(
            f"plans must be a mapping {{name: Dose or Plan}}; got {type(plans).__name__}"
        )
    if not plans:
        raise EvaluationError("plans is empty; give at least one {name: Dose or Plan}")
    doses: dict[str, Dose] = {}
    prescriptions: list[Any] = []
    for name, plan in plans.items():
        if not isinstance(name, str) or not name.strip():
            raise EvaluationError(f"plan names must be non-empty strings; got {name!r}")
        if isinstance(plan, Dose):
            doses[name] = plan
            prescriptions.append(None)
            continue
        method = getattr(plan, "dose", None)
        if not callable(method):
            raise EvaluationError(
                f"plans[{name!r}] must be a rtwin Dose or a Plan (with a dose() method); got "
                f"{type(plan).__name__}"
            )
        dose = method()
        if not isinstance(dose, Dose):
            raise EvaluationError(
                f"plans[{name!r}].dose() returned a {type(dose).__name__}, not a rtwin Dose"
            )
        doses[name] = dose
        prescriptions.append(getattr(plan, "prescription", None))
    return doses, prescriptions


def _structures(
    structures: Mapping[str, Structure], evaluation_grid: Grid | None
) -> dict[str, Structure]:
    if not isinstance(structures, Mapping):
        raise EvaluationError(
            "structures must be a StructureSet or a mapping of names to structures; got "
            f"{type(structures).__name__}"
        )
    items = dict(structures.items())
    for name, structure in items.items():
        if not isinstance(structure, Structure):
            raise EvaluationError(
                f"structures[{name!r}] must be a rtwin Structure; got {type(structure).__name__}"
            )
    if evaluation_grid is None:
        return items
    if not isinstance(evaluation_grid, Grid):
        raise EvaluationError(
            f"evaluation_grid must be a rtwin Grid; got {type(evaluation_grid).__name__}"
        )
    return {name: structure.resampled(evaluation_grid) for name, structure in items.items()}


def _targets(structures: dict[str, Structure], targets: Sequence[str] | None) -> tuple[str, ...]:
    if targets is None:
        return tuple(
            name
            for name, s in structures.items()
            if s.role is StructureRole.TARGET and not s.is_empty
        )
    if isinstance(targets, str):
        raise EvaluationError(f"targets must be a list of names; got one string {targets!r}")
    chosen = tuple(targets)
    unknown = [name for name in chosen if name not in structures]
    if unknown:
        raise EvaluationError(
            f"targets {', '.join(repr(n) for n in unknown)} not in the structures; available: "
            f"{', '.join(repr(n) for n in structures) or '(none)'}"
        )
    return chosen


def _prescription(
    prescription_gy: float | None, n_fractions: int | None, from_plans: list[Any]
) -> tuple[float | None, int | None]:
    rx = None
    if prescription_gy is not None:
        rx = _positive(prescription_gy, "prescription_gy")
    fractions = None
    if n_fractions is not None:
        if isinstance(n_fractions, bool) or not isinstance(n_fractions, int) or n_fractions < 1:
            raise EvaluationError(f"n_fractions must be an integer >= 1; got {n_fractions!r}")
        fractions = int(n_fractions)
    if all(p is not None for p in from_plans):
        totals = {round(float(p.total_gy), 9) for p in from_plans}
        counts = {int(p.fractions) for p in from_plans}
        if rx is None and len(totals) == 1:
            rx = totals.pop()
        if fractions is None and len(counts) == 1:
            fractions = counts.pop()
    return rx, fractions


def _parameters(
    given: Mapping[str, Any] | None, kind: type, what: str, label: str
) -> dict[str, Any]:
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        raise EvaluationError(f"{what} must be a mapping {{structure: {label}}}; got {given!r}")
    for name, value in given.items():
        if not isinstance(value, kind):
            raise EvaluationError(f"{what}[{name!r}] must be {label}; got {type(value).__name__}")
    return dict(given)


def _alpha_beta(
    alpha_beta_gy: Mapping[str, float] | None, ntcp: dict[str, Any], fractions: int | None
) -> dict[str, float] | None:
    if alpha_beta_gy is None:
        return None
    if not isinstance(alpha_beta_gy, Mapping):
        raise EvaluationError(
            f"alpha_beta_gy must be a mapping {{structure: α/β in Gy}}; got {alpha_beta_gy!r}"
        )
    if fractions is None:
        raise EvaluationError(
            "alpha_beta_gy converts DVHs to EQD2, which needs the number of fractions: pass "
            "n_fractions=..."
        )
    extra = [name for name in alpha_beta_gy if name not in ntcp]
    missing = [name for name in ntcp if name not in alpha_beta_gy]
    if extra or missing:
        raise EvaluationError(
            "alpha_beta_gy must give α/β for exactly the ntcp structures "
            f"({', '.join(repr(n) for n in ntcp) or 'none'}); "
            f"missing {missing}, not in ntcp {extra}"
        )
    return {
        name: _positive(value, f"alpha_beta_gy[{name!r}]") for name, value in alpha_beta_gy.items()
    }


def _positive(value: Any, what: str) -> float:
    number = _number(value, what)
    if number <= 0:
        raise EvaluationError(f"{what} must be > 0; got {value!r}")
    return number


def _non_negative(value: Any, what: str) -> float:
    number = _number(value, what)
    if number < 0:
        raise EvaluationError(f"{what} must be >= 0; got {value!r}")
    return number


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise EvaluationError(f"{what} must be a number; got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise EvaluationError(f"{what} must be a number; got {value!r}") from None
    if not math.isfinite(number):
        raise EvaluationError(f"{what} must be finite; got {value!r}")
    return number


# ---------------------------------------------------------------------- evaluation
def _goal_results(
    goals: GoalSet,
    mapping: dict[str, str],
    dose: Dose,
    structures: dict[str, Structure],
    dvhs: dict[str, DVH],
    supersampling: int | None,
) -> GoalResults:
    """The goal table from the DVHs already computed (GoalSet.evaluate's rows and reasons)."""
    rows: list[GoalResult] = []
    for goal in goals:
        patient_name = mapping.get(goal.structure, goal.structure)
        if patient_name in dvhs:
            rows.append(goal.evaluate(dvhs[patient_name], structure=patient_name))
            continue
        single = GoalSet(goals=(goal,))  # missing or empty structure: its reason, no DVH
        names = {goal.structure: patient_name} if patient_name != goal.structure else None
        rows.extend(single.evaluate(dose, structures, names=names, supersampling=supersampling))
    return GoalResults(rows=tuple(rows))


def _target_indices(
    dose: Dose,
    target: Structure,
    dvh: DVH,
    prescription_gy: float | None,
    external: Structure | None,
    supersampling: int | None,
) -> TargetIndices:
    notes: list[str] = []
    try:
        hi: float | None = homogeneity_index(dvh)
    except EvaluationError as error:
        hi = None
        notes.append(f"HI: {error}")
    ci = gi = None
    if prescription_gy is None:
        notes.append("CI and GI need a prescription (prescription_gy)")
    else:
        body = external if external is not None and external.grid.is_same_as(target.grid) else None
        try:
            ci = paddick_conformity_index(
                dose, target, prescription_gy, body=body, supersampling=supersampling
            )
        except EvaluationError as error:
            notes.append(f"CI: {error}")
        try:
            gi = gradient_index(dose, prescription_gy, body=body, supersampling=supersampling)
        except EvaluationError as error:
            notes.append(f"GI: {error}")
    return TargetIndices(
        structure=target.name,
        prescription_gy=prescription_gy,
        d98_gy=dvh.dose_at_volume(0.98),
        d95_gy=dvh.dose_at_volume(0.95),
        d50_gy=dvh.dose_at_volume(0.50),
        d2_gy=dvh.dose_at_volume(0.02),
        conformity_index=ci,
        homogeneity_index=hi,
        gradient_index=gi,
        notes=tuple(notes),
    )


def _ntcp(
    name: str,
    parameters: LKBParameters,
    dvhs: dict[str, DVH],
    fractions: int | None,
    alpha_beta: dict[str, float] | None,
) -> RadiobiologyResult:
    dose = "physical dose"
    options: dict[str, Any] = {}
    if alpha_beta is not None:
        options = {"n_fractions": fractions, "alpha_beta_gy": alpha_beta[name]}
        dose = f"EQD2 (α/β = {alpha_beta[name]:g} Gy, {fractions} fractions)"
    common = {"structure": name, "model": "LKB NTCP", "dose": dose, "source": parameters.source}
    if name not in dvhs:
        return RadiobiologyResult(
            probability=None, reason=f"structure {name!r} is missing or empty", **common
        )
    try:
        value = lkb_ntcp(dvhs[name], parameters, **options)
    except (RadiobiologyError, EvaluationError) as error:
        return RadiobiologyResult(probability=None, reason=str(error), **common)
    return RadiobiologyResult(probability=value, **common)


def _tcp(
    name: str, parameters: TCPParameters, dvhs: dict[str, DVH], fractions: int | None
) -> RadiobiologyResult:
    common = {
        "structure": name,
        "model": "Poisson-LQ TCP",
        "dose": f"physical dose in {fractions} fractions",
        "source": parameters.source,
    }
    if name not in dvhs:
        return RadiobiologyResult(
            probability=None, reason=f"structure {name!r} is missing or empty", **common
        )
    try:
        value = poisson_tcp(dvhs[name], parameters, n_fractions=fractions)  # type: ignore[arg-type]
    except (RadiobiologyError, EvaluationError) as error:
        return RadiobiologyResult(probability=None, reason=str(error), **common)
    return RadiobiologyResult(probability=value, **common)


def _dvh_dict(dvh: DVH, bin_gy: float | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "volume_cc": dvh.volume_cc,
        "min_gy": dvh.min_gy,
        "mean_gy": dvh.mean_gy,
        "max_gy": dvh.max_gy,
        "d98_gy": dvh.dose_at_volume(0.98),
        "d95_gy": dvh.dose_at_volume(0.95),
        "d50_gy": dvh.dose_at_volume(0.50),
        "d2_gy": dvh.dose_at_volume(0.02),
    }
    if bin_gy is not None:
        doses, fractions = dvh.curve(bin_gy)
        data["curve"] = {"dose_gy": doses.tolist(), "volume_fraction": fractions.tolist()}
    return data


def _finite_json(value: Any) -> Any:
    """``value`` with non-finite floats replaced by ``None`` (strict JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {key: _finite_json(item) for key, item in value.items()}
    if isinstance(value, Iterable) and not isinstance(value, str):
        return [_finite_json(item) for item in value]
    return value
