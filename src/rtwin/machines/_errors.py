"""The error the machine package raises (defined in :mod:`rtwin.errors`)."""

from __future__ import annotations

from rtwin.errors import MachineError

__all__ = ["MachineError"]
