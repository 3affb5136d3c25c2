"""Exceptions and warnings raised by rtwin.

Every error rtwin raises on purpose is an :class:`RtwinError`. Each subclass
also inherits the builtin exception that fits, so code that already catches
``ValueError`` or ``OSError`` keeps working::

    >>> import rtwin
    >>> issubclass(rtwin.errors.GeometryError, ValueError)
    True
    >>> try:
    ...     rtwin.phantoms.water_box(voxel_mm=-1.0)
    ... except rtwin.errors.RtwinError as error:
    ...     print(type(error).__name__)
    GeometryError

Messages say what is wrong (with the name and value), what was expected and
how to fix it.
"""

from __future__ import annotations

__all__ = [
    "DicomError",
    "EvaluationError",
    "GeometryError",
    "MachineError",
    "MaterialsError",
    "MatradError",
    "NrrdError",
    "OptimizationError",
    "RadiobiologyError",
    "ReportError",
    "RtwinError",
    "RtwinWarning",
    "SpecError",
    "StructureError",
]


class RtwinError(Exception):
    """Base class of every error rtwin raises on purpose."""


class GeometryError(RtwinError, ValueError):
    """A grid, affine, coordinate or spacing is invalid or two grids do not match."""


class StructureError(RtwinError, ValueError):
    """A structure (mask, name, role) or structure set is invalid or missing."""

    # KeyError-like lookups raise StructureNotFoundError (below), which is also a KeyError.


class StructureNotFoundError(StructureError, KeyError):
    """A structure name is not in a :class:`~rtwin.anatomy.StructureSet`."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the sentence readable.
        return str(self.args[0]) if self.args else ""


class MaterialsError(RtwinError, ValueError):
    """A calibration table or material assignment is invalid, or a value is out of its range."""


class MachineError(RtwinError, ValueError):
    """A machine description, a beam-data measurement or a fitting option is invalid."""


class EvaluationError(RtwinError, ValueError):
    """A DVH, metric, clinical goal or goal file is invalid or cannot be evaluated."""


class DicomError(RtwinError, OSError):
    """A DICOM file or series cannot be read or written as asked."""


class MatradError(RtwinError, OSError):
    """A matRad / CORT ``.mat`` file cannot be read."""


class NrrdError(RtwinError, OSError):
    """An NRRD file cannot be read (as a dose): bad header, unsupported encoding or geometry."""


class OptimizationError(RtwinError, ValueError):
    """An objective, its parameters or the doses and volumes handed to it are invalid."""


class RadiobiologyError(RtwinError, ValueError):
    """A radiobiological model, its parameters or the doses handed to it are invalid."""


class RtwinWarning(UserWarning):
    """Something was repaired or clamped; the result is usable but the user should know."""


__all__ += ["StructureNotFoundError"]


class ReportError(RtwinError, OSError):
    """A report cannot be written where asked (the folder exists and is not empty, or is a file)."""


class SpecError(RtwinError, ValueError):
    """A study specification (``rtwin compare SPEC.toml``) is invalid; the message names the key."""
