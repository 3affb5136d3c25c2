"""Figures render to PNG and carry the labels, legends and colours a reader needs."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from _plotting_data import (  # noqa: F401 (fixtures)
    GOALS,
    comparison_fixture,
    falloff_dose,
    patient_fixture,
)
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import rtwin
from rtwin.errors import EvaluationError
from rtwin.evaluation import DVH
from rtwin.plotting import plot_dose_wash, plot_dvh, plot_goal_table
from rtwin.plotting._style import STATUS_COLORS


def png_bytes(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=50)
    data = buffer.getvalue()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 2000
    return data


def legend_texts(figure: Figure) -> list[list[str]]:
    return [[text.get_text() for text in legend.get_texts()] for legend in figure.legends]


# ---------------------------------------------------------------------- DVH
def test_dvh_overlay_one_colour_per_structure_one_style_per_plan(comparison):
    figure = comparison.plot_dvh()
    png_bytes(figure)
    (axes,) = figure.axes
    assert axes.get_xlabel() == "Dose (Gy)" and axes.get_ylabel() == "Volume (%)"
    assert figure._suptitle.get_text() == "Dose-volume histograms"
    structures, plans = legend_texts(figure)
    assert structures == ["PTV", "Rectum", "Bladder", "FemoralHead_L", "FemoralHead_R"]
    assert plans == ["Conformal", "Cool", "Wide", "Prescription 78 Gy"]  # best first
    assert [legend.get_title().get_text() for legend in figure.legends] == ["Structure", "Plan"]
    curves = axes.get_lines()[:5]  # the first plan's curves, in the structures' colours
    ptv_color = tuple(c / 255 for c in comparison.structures["PTV"].color)
    assert to_hex(curves[0].get_color()) == to_hex(ptv_color)
    styles = {line.get_linestyle() for line in axes.get_lines()[:15]}
    assert styles == {"-", "--", ":"}


def test_dvh_small_multiples(comparison):
    figure = comparison.plot_dvh(layout="per_structure", structures=["PTV", "Rectum"])
    png_bytes(figure)
    assert [axes.get_title() for axes in figure.axes] == ["PTV", "Rectum"]
    assert figure.axes[0].get_ylabel() == "Volume (%)" and figure.axes[1].get_ylabel() == ""
    assert all(axes.get_xlabel() == "Dose (Gy)" for axes in figure.axes)
    assert legend_texts(figure) == [["Conformal", "Cool", "Wide", "Prescription 78 Gy"]]
    assert len(figure.axes[0].get_lines()) == 3 + 1  # three plans and the prescription line


def test_dvh_curve_matches_the_dvh():
    dvh = DVH(name="Organ", doses_gy=[10.0, 30.0], volumes_cc=[1.0, 3.0])
    figure = dvh.plot()
    png_bytes(figure)
    line = figure.axes[0].get_lines()[0]
    doses, volumes = line.get_data()
    assert np.interp(20.0, doses, volumes) == pytest.approx(75.0)
    assert figure._suptitle.get_text() == "DVH of Organ"
    assert legend_texts(figure) == [["Organ"]]  # one unnamed plan: no plan legend


def test_plot_dvh_errors():
    dvh = DVH(name="PTV", doses_gy=[1.0], volumes_cc=[1.0])
    with pytest.raises(EvaluationError, match="at least one plan"):
        plot_dvh({})
    with pytest.raises(EvaluationError, match="not a DVH"):
        plot_dvh({"A": {"PTV": np.ones(3)}})
    with pytest.raises(EvaluationError, match="'Cord' not found; available: 'PTV'"):
        plot_dvh({"A": {"PTV": dvh}}, structures=["Cord"])
    with pytest.raises(EvaluationError, match="unknown layout 'grid'"):
        plot_dvh({"A": {"PTV": dvh}}, layout="grid")


# ---------------------------------------------------------------------- goal table
def test_goal_table_colours_by_status(comparison):
    figure = comparison.plot_goals()
    png_bytes(figure)
    table = figure.axes[0].tables[0]
    cells = table.get_celld()
    header = [cells[0, c].get_text().get_text() for c in range(5)]
    assert header == ["Goal", "Priority", "1. Conformal", "2. Cool", "3. Wide"]
    assert [cells[r, 0].get_text().get_text() for r in range(1, 6)] == [
        str(goal) for goal in comparison.goals
    ]
    expected = {
        (1, 2): "pass",  # Conformal covers the PTV
        (1, 3): "within tolerance",  # Cool: 73.32 Gy within 74 ± 1 Gy
        (2, 4): "fail",  # Wide: rectum V50Gy over 10 %
        (5, 2): "not evaluated",  # no SpinalCord
    }
    for (row, column), status in expected.items():
        assert to_hex(cells[row, column].get_facecolor()) == STATUS_COLORS[status]
    assert cells[1, 3].get_text().get_text() == "~ 73.32 Gy"
    assert cells[2, 4].get_text().get_text().startswith("✗ ")
    assert cells[5, 2].get_text().get_text() == "n/e"
    assert legend_texts(figure) == [["✓ pass", "~ within tolerance", "✗ fail", "n/e not evaluated"]]
    assert len(GOALS) == 5


def test_goal_table_needs_a_comparison():
    with pytest.raises(EvaluationError, match="needs a PlanComparison"):
        plot_goal_table({"A": 1})


# ---------------------------------------------------------------------- dose wash
def test_dose_wash_three_planes_through_the_target(patient):
    dose = falloff_dose(patient, 8.0)
    figure = plot_dose_wash(
        dose, patient.structures, image=patient.image, plane=["axial", "coronal", "sagittal"]
    )
    png_bytes(figure)
    axial, coronal, sagittal, colorbar = figure.axes
    assert axial.get_title() == "Axial plane through PTV (z = 0.0 mm)"
    assert coronal.get_title().startswith("Coronal plane through PTV (y = ")
    assert sagittal.get_xlabel() == "y (mm), anterior → posterior"
    assert axial.get_ylabel() == "y (mm), posterior → anterior"
    assert axial.get_ylim()[0] > axial.get_ylim()[1]  # anterior (negative y) at the top
    assert colorbar.get_ylabel() == "Dose (Gy)"
    (names,) = legend_texts(figure)
    assert {"Body", "PTV", "Rectum", "Bladder"} <= set(names)
    assert figure._suptitle.get_text() == "falloff 8.0 mm"


def test_dose_wash_through_a_point_without_image(patient):
    dose = falloff_dose(patient, 8.0)
    figure = dose.plot(patient.structures, plane="coronal", through=(0.0, 30.0, 0.0), title="")
    png_bytes(figure)
    assert figure.axes[0].get_title() == "Coronal plane at y = 30.0 mm"
    assert figure._suptitle is None


def test_dose_wash_structure_centroid_and_errors(patient):
    dose = falloff_dose(patient, 8.0)
    figure = dose.plot(patient.structures, through="Rectum", structure_names=["Rectum"])
    centroid = patient.structures["Rectum"].centroid_mm
    assert figure.axes[0].get_title() == f"Axial plane through Rectum (z = {centroid[2]:.1f} mm)"
    assert legend_texts(figure) == [["Rectum"]]
    with pytest.raises(EvaluationError, match="unknown plane 'transverse'"):
        dose.plot(patient.structures, plane="transverse")
    with pytest.raises(EvaluationError, match="through='Cord' is not one of the structures"):
        dose.plot(patient.structures, through="Cord")
    with pytest.raises(EvaluationError, match="misses the grid"):
        dose.plot(patient.structures, through=(0.0, 0.0, 900.0))
    with pytest.raises(EvaluationError, match="dose_range_gy"):
        dose.plot(dose_range_gy=(50.0, 10.0))


def test_dose_wash_without_structures_goes_through_the_hottest_voxel():
    grid = rtwin.Grid.from_spacing((5, 6, 7), spacing_mm=4.0)
    values = np.zeros(grid.shape)
    values[2, 3, 4] = 10.0
    figure = rtwin.dose.Dose(values=values, grid=grid).plot()
    png_bytes(figure)
    assert figure.axes[0].get_title() == "Axial plane through the dose maximum (z = 8.0 mm)"


def test_figures_need_no_pyplot_and_import_matplotlib_lazily():
    code = (
        "import sys, rtwin.plotting, rtwin.compare\n"
        "assert 'matplotlib' not in sys.modules, 'imported at import time'\n"
        "from rtwin.evaluation import DVH\n"
        "DVH(name='A', doses_gy=[1.0], volumes_cc=[1.0]).plot().savefig(__import__('io').BytesIO())\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
