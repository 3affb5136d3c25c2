"""A self-contained HTML report of a plan comparison."""

from __future__ import annotations

import base64
import html
import io
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rtwin._version import __version__
from rtwin.errors import ReportError

__all__ = ["ReportFiles", "write_report"]

_STATUS_COLOURS = {
    "pass": "#d4edda",
    "within tolerance": "#fff3cd",
    "fail": "#f8d7da",
    "not evaluated": "#e2e3e5",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class ReportFiles:
    """What :func:`write_report` wrote."""

    folder: Path
    report: Path
    results: Path
    figures: tuple[Path, ...]


def check_folder(folder: str | Path, *, force: bool = False) -> Path:
    """Refuse an output folder that is a file, or exists and is not empty unless ``force``.

    Creates nothing (call it before long work, so a refusal comes first and
    a failure leaves no half-made folder behind).
    """
    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise ReportError(f"output folder {str(path)!r} is a file; choose a folder")
    if path.is_dir() and any(path.iterdir()) and not force:
        raise ReportError(
            f"output folder {str(path)!r} exists and is not empty; choose another folder, "
            "or allow replacing the report's files in it (force=True; rtwin: --force)"
        )
    return path


def prepare_folder(folder: str | Path, *, force: bool = False) -> Path:
    """:func:`check_folder`, then create it (and ``figures/``).

    With ``force`` the report's own files are replaced; nothing else in the
    folder is touched.
    """
    path = check_folder(folder, force=force)
    (path / "figures").mkdir(parents=True, exist_ok=True)
    return path


def write_report(
    folder: str | Path,
    comparison: Any,
    *,
    patient: Any,
    plans: Sequence[Any] = (),
    title: str = "rtwin plan comparison",
    settings: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    force: bool = False,
) -> ReportFiles:
    """Write ``report.html`` (figures embedded), ``results.json`` and ``figures/*.png``.

    Parameters
    ----------
    folder
        Output folder; created, or refused when it exists and is not empty
        unless ``force`` (see :func:`prepare_folder`).
    comparison
        The :class:`~rtwin.compare.PlanComparison`.
    patient
        The twin (its image is the dose-wash background, its structures
        are outlined).
    plans
        The :class:`~rtwin.optimize.Plan` objects, for the plan summary
        (beams, beamlets, prescription); optional.
    settings, provenance
        Plain data shown in the report and stored in the JSON.

    Examples
    --------
    >>> import tempfile, numpy as np, rtwin
    >>> patient = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5, target_radius_mm=10)
    >>> dose = rtwin.dose.Dose(values=np.full(patient.grid.shape, 2.0), grid=patient.grid,
    ...     description="flat")
    >>> goals = rtwin.evaluation.GoalSet.parse(["Target D95% >= 1.9 Gy"])
    >>> comparison = rtwin.compare_plans({"flat": dose}, patient.structures, goals)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     files = write_report(tmp + "/out", comparison, patient=patient)
    ...     "flat" in files.report.read_text()
    True
    """
    started = time.perf_counter()
    path = prepare_folder(folder, force=force)
    figures: list[tuple[str, str, Path]] = []  # (caption, base64, file)

    def save(figure: Any, name: str, caption: str) -> None:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        data = buffer.getvalue()
        file = path / "figures" / f"{name}.png"
        file.write_bytes(data)
        figures.append((caption, base64.b64encode(data).decode("ascii"), file))

    from rtwin.plotting import plot_dose_wash, plot_dvh, plot_goal_table

    save(plot_goal_table(comparison), "goals", "Clinical goals, plans ranked best first")
    save(
        plot_dvh(
            comparison.dvhs, layout="per_structure", prescription_gy=comparison.prescription_gy
        ),
        "dvh",
        "Dose-volume histograms of every plan, one panel per structure",
    )
    upper = max(evaluation.dose.max_gy for evaluation in comparison.plans)
    for rank, name in enumerate(comparison.ranking, start=1):
        evaluation = comparison[name]
        save(
            plot_dose_wash(
                evaluation.dose,
                patient.structures,
                plane=("axial", "coronal", "sagittal"),
                image=patient.image,
                dose_range_gy=(0.1 * upper, upper),
                title=f"{rank}. {name}",
            ),
            f"dose_{rank}",
            f"Dose of {name} (rank {rank}) through the target centroid",
        )

    results = {
        "rtwin_version": __version__,
        "title": title,
        "ranking": list(comparison.ranking),
        "recommended": comparison.recommended,
        "explanation": comparison.explain(),
        "comparison": comparison.to_dict(),
        "plans": [_plan_summary(plan) for plan in plans],
        "settings": dict(settings or {}),
        "provenance": dict(provenance or {}),
    }
    results_path = path / "results.json"
    results_path.write_text(json.dumps(results, indent=2, default=_jsonable))
    report_path = path / "report.html"
    seconds = time.perf_counter() - started
    report_path.write_text(
        _html_page(title, comparison, patient, plans, figures, results, seconds), encoding="utf-8"
    )
    return ReportFiles(
        folder=path,
        report=report_path,
        results=results_path,
        figures=tuple(f for _, _, f in figures),
    )


def _jsonable(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return str(value)


def _plan_summary(plan: Any) -> dict[str, Any]:
    beams = plan.beams
    return {
        "name": plan.name,
        "modality": plan.modality,
        "beams": [
            {
                "gantry_deg": b.gantry_deg,
                "couch_deg": b.couch_deg,
                "collimator_deg": b.collimator_deg,
            }
            for b in beams
        ],
        "beamlets": int(plan.influence.n_beamlets),
        "prescription": str(plan.prescription) if plan.prescription else None,
        "dose_grid_spacing_mm": [float(s) for s in plan.dose_grid.spacing_mm],
        "engine": type(plan.engine).__name__,
    }


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _goal_table(comparison: Any) -> str:
    names = list(comparison.ranking)
    head = "<th>goal</th><th>priority</th>" + "".join(
        f"<th>{i}. {html.escape(n)}</th>" for i, n in enumerate(names, start=1)
    )
    rows = []
    for index, goal in enumerate(comparison.goals):
        cells = [f"<td>{html.escape(str(goal))}</td>", f"<td>{goal.priority}</td>"]
        for name in names:
            result = comparison[name].goal_results[index]
            status = str(getattr(result.status, "value", result.status))
            colour = _STATUS_COLOURS.get(status, "#ffffff")
            value = "–" if result.value is None else f"{result.value:.2f}"
            cells.append(
                f'<td style="background:{colour}">{html.escape(value)} '
                f"<small>{html.escape(status)}</small></td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _html_page(
    title: str,
    comparison: Any,
    patient: Any,
    plans: Sequence[Any],
    figures: list[tuple[str, str, Path]],
    results: Mapping[str, Any],
    seconds: float,
) -> str:
    structures = [
        (name, s.role.value, f"{s.volume_cc:.1f}") for name, s in patient.structures.items()
    ]
    plan_rows = [
        (
            p.name,
            p.modality,
            ", ".join(f"{b.gantry_deg:g}°" for b in p.beams),
            p.influence.n_beamlets,
            str(p.prescription) if p.prescription else "–",
        )
        for p in plans
    ]
    index_rows = []
    for name in comparison.ranking:
        for target in comparison[name].targets:
            index_rows.append(
                (
                    name,
                    target.structure,
                    _fmt(target.d95_gy),
                    _fmt(target.coverage_percent),
                    _fmt(target.conformity_index),
                    _fmt(target.homogeneity_index),
                    _fmt(target.gradient_index),
                )
            )
    figure_html = "".join(
        f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
        for caption, data, _ in figures
    )
    provenance = {
        "rtwin version": __version__,
        **{str(k): v for k, v in results.get("provenance", {}).items()},
        "report written in": f"{seconds:.1f} s",
    }
    settings = results.get("settings", {})
    explanation = "".join(
        f"<p>{html.escape(line)}</p>" for line in comparison.explain().splitlines() if line.strip()
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: left; }}
th {{ background: #f3f3f3; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; }}
figcaption {{ color: #555; font-size: 0.9em; }}
.recommended {{ font-size: 1.2em; background: #eef6ee; padding: 0.6em; border-left: 4px solid #2e7d32; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="recommended">Recommended: <b>{html.escape(comparison.recommended)}</b>
 — ranking: {html.escape(" > ".join(comparison.ranking))}</p>
<h2>Why</h2>{explanation}
<h2>Clinical goals</h2>{_goal_table(comparison)}
<h2>Patient</h2>{_table(("structure", "role", "volume (cc)"), structures)}
<h2>Plans</h2>{_table(("plan", "modality", "gantry angles", "beamlets", "prescription"), plan_rows) if plan_rows else "<p>Doses given directly.</p>"}
<h2>Target indices</h2>{_table(("plan", "target", "D95 (Gy)", "D95 / prescription (%)", "Paddick CI", "ICRU 83 HI", "Paddick GI"), index_rows) if index_rows else "<p>No target indices.</p>"}
<h2>Figures</h2>{figure_html}
<h2>Settings</h2>{_table(("setting", "value"), [(k, v) for k, v in settings.items()])}
<h2>Provenance</h2>{_table(("item", "value"), [(k, v) for k, v in provenance.items()])}
</body></html>
"""


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
