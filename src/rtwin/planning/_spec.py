"""A comparison study described in a TOML file (``rtwin compare SPEC.toml``)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rtwin.errors import SpecError

__all__ = ["StudyOutcome", "StudySpec", "run_study"]

_OBJECTIVES = (
    "SquaredDeviation",
    "SquaredOverdose",
    "SquaredUnderdose",
    "MaxDose",
    "MinDose",
    "MeanDose",
    "MinDVH",
    "MaxDVH",
    "GEUD",
)
_TOP = {"patient", "prescription", "dose", "plans", "goals", "output"}
_PLAN_KEYS = {
    "name",
    "modality",
    "beams",
    "gantry_deg",
    "start_deg",
    "couch_deg",
    "beamlet_mm",
    "max_iterations",
    "objectives",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyOutcome:
    """What a study run produced: a description, the comparison, the plans, the files written."""

    description: str
    comparison: Any = field(repr=False)
    plans: tuple[Any, ...] = field(repr=False)
    files: Any
    seconds: float


@dataclass(frozen=True, slots=True, kw_only=True)
class StudySpec:
    """Patient, prescription, candidate plans, goals and output of a study.

    The TOML layout (paths are relative to the file)::

        [patient]
        dicom = "patient_dir"          # or: matrad = "TG119.mat"

        [prescription]
        target = "PTV"
        dose_per_fraction_gy = 2.0
        fractions = 25                 # at_volume = 0.95 by default

        [dose]
        grid_mm = 3.0                  # optional; the CT grid by default

        [[plans]]
        name = "9-field IMRT"
        modality = "photon"            # or "proton"
        beams = 9                      # or gantry_deg = [0, 40, ...]
        objectives = [
          { type = "SquaredDeviation", structure = "PTV", dose_gy = 50, weight = 1000 },
        ]

        [goals]
        list = ["PTV D95% >= 47.5 Gy"] # and/or file = "goals.toml", preset = "quantec"

        [output]
        folder = "study-report"

    Examples
    --------
    >>> spec = StudySpec.from_dict({
    ...     "patient": {"matrad": "TG119.mat"},
    ...     "prescription": {"target": "OuterTarget", "dose_per_fraction_gy": 2, "fractions": 25},
    ...     "plans": [{"name": "IMRT", "beams": 5, "objectives": [
    ...         {"type": "SquaredDeviation", "structure": "OuterTarget", "dose_gy": 50}]}],
    ...     "goals": {"list": ["OuterTarget D95% >= 47.5 Gy"]},
    ... }, base=".")
    >>> [c.name for c in spec.candidates], spec.output_folder.name
    (['IMRT'], 'rtwin-report')
    """

    patient_source: tuple[str, Path]
    prescription: Any
    candidates: tuple[Any, ...]
    goals: Any
    goal_names: Mapping[str, str] = field(default_factory=dict)
    dose_grid_mm: float | None = None
    output_folder: Path = Path("rtwin-report")

    @classmethod
    def read(cls, path: str | Path) -> StudySpec:
        """Read a TOML study file."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpecError(f"study file {str(path)!r} does not exist") from None
        except tomllib.TOMLDecodeError as error:
            raise SpecError(f"study file {str(path)!r} is not valid TOML: {error}") from None
        return cls.from_dict(data, base=path.parent)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base: str | Path) -> StudySpec:
        """Build from parsed TOML; relative paths resolve against ``base``."""
        from rtwin.optimize import Prescription

        base = Path(base)
        _only(data, _TOP, "the study file")
        patient = _table(data, "patient")
        _only(patient, {"dicom", "matrad"}, "[patient]")
        sources = [(k, patient[k]) for k in ("dicom", "matrad") if k in patient]
        if len(sources) != 1:
            raise SpecError("[patient] needs exactly one of: dicom = 'folder', matrad = 'file.mat'")
        kind, value = sources[0]
        source = (kind, base / _string(value, f"patient.{kind}"))

        prescription_table = _table(data, "prescription")
        _only(
            prescription_table,
            {"target", "dose_per_fraction_gy", "fractions", "at_volume"},
            "[prescription]",
        )
        try:
            prescription = Prescription(
                target=_string(prescription_table.get("target"), "prescription.target"),
                dose_per_fraction_gy=float(
                    _required(prescription_table, "dose_per_fraction_gy", "prescription")
                ),
                fractions=int(_required(prescription_table, "fractions", "prescription")),
                at_volume=float(prescription_table.get("at_volume", 0.95)),
            )
        except (TypeError, ValueError) as error:
            raise SpecError(f"[prescription]: {error}") from None

        dose = data.get("dose", {})
        _only(dose, {"grid_mm"}, "[dose]")
        grid_mm = dose.get("grid_mm")
        if grid_mm is not None and not (isinstance(grid_mm, int | float) and grid_mm > 0):
            raise SpecError(f"dose.grid_mm must be a positive number of mm; got {grid_mm!r}")

        plans = data.get("plans")
        if not isinstance(plans, list) or not plans:
            raise SpecError("the study file needs at least one [[plans]] table")
        candidates = tuple(_candidate(plan, i) for i, plan in enumerate(plans))

        goals, names = _goals(_table(data, "goals"), base)
        output = data.get("output", {})
        _only(output, {"folder"}, "[output]")
        folder = base / _string(output.get("folder", "rtwin-report"), "output.folder")
        return cls(
            patient_source=source,
            prescription=prescription,
            candidates=candidates,
            goals=goals,
            goal_names=names,
            dose_grid_mm=None if grid_mm is None else float(grid_mm),
            output_folder=folder,
        )

    def load_patient(self) -> Any:
        """The patient the study names."""
        from rtwin import io

        kind, path = self.patient_source
        if kind == "matrad":
            return io.read_matrad(path)
        return io.read_dicom(path)

    def check_structures(self, patient: Any) -> None:
        """Raise :class:`SpecError` naming the key when a structure is not in the patient."""
        available = list(patient.structures)
        if self.prescription.target not in available:
            raise SpecError(
                f"prescription.target {self.prescription.target!r} is not a structure of the "
                f"patient; available: {available}"
            )
        for i, candidate in enumerate(self.candidates):
            for j, objective in enumerate(candidate.objectives):
                if objective.structure not in available:
                    raise SpecError(
                        f"plans[{i}].objectives[{j}].structure {objective.structure!r} is not a "
                        f"structure of the patient; available: {available}"
                    )


def _only(table: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SpecError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _table(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise SpecError(f"the study file needs a [{key}] table")
    return value


def _required(table: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in table:
        raise SpecError(f"[{where}] needs {key}")
    return table[key]


def _string(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise SpecError(f"{key} must be a non-empty string; got {value!r}")
    return value


def _candidate(plan: Any, index: int) -> Any:
    from rtwin.errors import OptimizationError
    from rtwin.planning import CandidatePlan

    where = f"plans[{index}]"
    if not isinstance(plan, Mapping):
        raise SpecError(f"{where} must be a table")
    _only(plan, _PLAN_KEYS, where)
    name = _string(plan.get("name"), f"{where}.name")
    modality = plan.get("modality", "photon")
    if modality not in ("photon", "proton"):
        raise SpecError(f"{where}.modality must be 'photon' or 'proton'; got {modality!r}")
    objectives = plan.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise SpecError(f"{where}.objectives must list at least one objective table")
    options = {
        key: plan[key] for key in ("beamlet_mm", "max_iterations", "couch_deg") if key in plan
    }
    built = tuple(_objective(o, f"{where}.objectives[{i}]") for i, o in enumerate(objectives))
    try:
        if "gantry_deg" in plan:
            if "beams" in plan or "start_deg" in plan:
                raise SpecError(
                    f"{where}: give either beams (a count, with optional start_deg) or "
                    "gantry_deg (the angles), not both"
                )
            return CandidatePlan(
                name=name,
                modality=modality,
                gantry_deg=tuple(plan["gantry_deg"]),
                objectives=built,
                **options,
            )
        beams = plan.get("beams")
        if not isinstance(beams, int) or beams < 1:
            raise SpecError(f"{where}.beams must be a positive integer (or give gantry_deg)")
        return CandidatePlan.equispaced(
            name,
            beams,
            modality=modality,
            start_deg=float(plan.get("start_deg", 0.0)),
            objectives=built,
            **options,
        )
    except OptimizationError as error:
        raise SpecError(f"{where}: {error}") from None


def _objective(table: Any, where: str) -> Any:
    from rtwin import optimize
    from rtwin.errors import OptimizationError

    if not isinstance(table, Mapping):
        raise SpecError(f"{where} must be a table like {{ type = 'SquaredDeviation', ... }}")
    kind = table.get("type")
    if kind not in _OBJECTIVES:
        raise SpecError(f"{where}.type must be one of {list(_OBJECTIVES)}; got {kind!r}")
    import dataclasses

    cls = getattr(optimize, kind)
    allowed = [f.name for f in dataclasses.fields(cls) if f.init and f.name != "structure"]
    arguments = {k: v for k, v in table.items() if k not in ("type", "structure")}
    unknown = sorted(set(arguments) - set(allowed))
    if unknown:
        raise SpecError(
            f"{where} ({kind}): unknown key(s) {unknown}; allowed: ['type', 'structure', "
            + ", ".join(repr(a) for a in allowed)
            + "]"
        )
    structure = _string(table.get("structure"), f"{where}.structure")
    try:
        return cls(structure, **arguments)
    except TypeError as error:
        raise SpecError(f"{where} ({kind}): {error}; allowed keys: {allowed}") from None
    except OptimizationError as error:
        raise SpecError(f"{where}: {error}") from None


def _goals(table: Mapping[str, Any], base: Path) -> tuple[Any, dict[str, str]]:
    from rtwin.errors import EvaluationError
    from rtwin.evaluation import GoalSet

    _only(table, {"list", "file", "preset", "names"}, "[goals]")
    goals: list[Any] = []
    try:
        if "preset" in table:
            if table["preset"] != "quantec":
                raise SpecError(f"goals.preset must be 'quantec'; got {table['preset']!r}")
            goals.extend(GoalSet.quantec())
        if "file" in table:
            goals.extend(GoalSet.read(base / _string(table["file"], "goals.file")))
        if "list" in table:
            if not isinstance(table["list"], list):
                raise SpecError("goals.list must be a list of goal strings")
            goals.extend(GoalSet.parse(table["list"]))
    except EvaluationError as error:
        raise SpecError(f"[goals]: {error}") from None
    if not goals:
        raise SpecError("[goals] needs list = [...], file = '...' or preset = 'quantec'")
    names = table.get("names", {})
    if not isinstance(names, Mapping):
        raise SpecError("goals.names must be a table of goal name = patient name")
    return GoalSet(goals=tuple(goals), name="study goals"), dict(names)


def run_study(
    spec: StudySpec,
    *,
    force: bool = False,
    progress: Any = None,
) -> Any:
    """Load the patient, plan every candidate, compare them and write the report.

    Returns a :class:`StudyOutcome` (description, comparison, plans, files,
    seconds).
    """
    import time

    from rtwin.report import check_folder

    started = time.perf_counter()
    folder = check_folder(spec.output_folder, force=force)  # refuse early
    patient = spec.load_patient()
    spec.check_structures(patient)
    grid = None if spec.dose_grid_mm is None else patient.grid.with_spacing(spec.dose_grid_mm)
    kind, path = spec.patient_source
    return plan_compare_report(
        folder,
        patient,
        spec.candidates,
        prescription=spec.prescription,
        goals=spec.goals,
        goal_names=spec.goal_names,
        dose_grid=grid,
        title=f"rtwin plan comparison: {path.name}",
        description=(
            f"{path.name}: {len(spec.candidates)} candidate "
            f"plan{'s' if len(spec.candidates) != 1 else ''}, {spec.prescription}"
        ),
        settings={
            "patient": f"{kind}: {path}",
            "dose grid": "the CT grid" if grid is None else f"{spec.dose_grid_mm:g} mm",
            "prescription": str(spec.prescription),
            "goals": f"{len(spec.goals)} goals",
        },
        provenance={"patient id (pseudonymized)": patient.patient_id},
        started=started,
        force=force,
        progress=progress,
    )


def plan_compare_report(
    folder: Path,
    patient: Any,
    candidates: Any,
    *,
    prescription: Any,
    goals: Any,
    goal_names: Any = None,
    dose_grid: Any = None,
    title: str,
    description: str,
    settings: Mapping[str, str],
    provenance: Mapping[str, str],
    started: float,
    force: bool = False,
    progress: Any = None,
) -> StudyOutcome:
    """The main job's sequence: plan the candidates, compare them, write the report.

    Shared by :func:`run_study` and :func:`rtwin.demo.run_demo`; ``folder``
    has been checked already (``rtwin.report.check_folder``) and ``started``
    is the ``time.perf_counter()`` of the caller's start. The report's
    provenance gets the patient fingerprint and the planning time besides
    ``provenance``.
    """
    import time

    from rtwin.compare import compare_plans
    from rtwin.planning._candidates import plan_candidates
    from rtwin.report import write_report

    plans = plan_candidates(
        patient, candidates, prescription=prescription, dose_grid=dose_grid, progress=progress
    )
    comparison = compare_plans(
        {plan.name: plan for plan in plans}, patient.structures, goals, names=goal_names
    )
    files = write_report(
        folder,
        comparison,
        patient=patient,
        plans=plans,
        title=title,
        settings=dict(settings),
        provenance={
            "patient fingerprint": patient.fingerprint,
            **provenance,
            "planning time": f"{time.perf_counter() - started:.1f} s",
        },
        force=force,
    )
    return StudyOutcome(
        description=description,
        comparison=comparison,
        plans=plans,
        files=files,
        seconds=time.perf_counter() - started,
    )
