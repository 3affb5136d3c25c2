"""Figures for plan review: DVH overlays, goal tables, dose colour washes.

Every function returns a :class:`matplotlib.figure.Figure` built with the
object API (no pyplot, no global state), ready to ``savefig`` into a report
or to show in a notebook. matplotlib is imported only when a function is
called, so ``import rtwin.plotting`` is free.

=========================  =======================================================
:func:`plot_dvh`           cumulative DVHs of several plans and structures
:func:`plot_goal_table`    the goal table of a plan comparison, coloured by status
:func:`plot_dose_wash`     dose colour wash on the CT with structure contours
=========================  =======================================================

Examples
--------
>>> from rtwin.evaluation import DVH
>>> from rtwin.plotting import plot_dvh
>>> dvhs = {"Plan A": {"PTV": DVH(name="PTV", doses_gy=[59.0, 61.0], volumes_cc=[1.0, 1.0])},
...         "Plan B": {"PTV": DVH(name="PTV", doses_gy=[57.0, 60.0], volumes_cc=[1.0, 1.0])}}
>>> figure = plot_dvh(dvhs, prescription_gy=60.0)
>>> figure.axes[0].get_ylabel()
'Volume (%)'
"""

from rtwin.plotting._dose_wash import plot_dose_wash
from rtwin.plotting._dvh import plot_dvh
from rtwin.plotting._goals import plot_goal_table

__all__ = ["plot_dose_wash", "plot_dvh", "plot_goal_table"]
