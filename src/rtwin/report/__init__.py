"""Reports: a self-contained HTML page, the figures and a JSON of a plan comparison.

Examples
--------
>>> import rtwin
>>> callable(rtwin.report.write_report)
True
"""

from rtwin.report._html import ReportFiles, check_folder, prepare_folder, write_report

__all__ = ["ReportFiles", "check_folder", "prepare_folder", "write_report"]
