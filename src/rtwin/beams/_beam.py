"""Treatment beams: modality, IEC 61217 angles, isocentre, source-axis distance."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.errors import GeometryError
from rtwin.geometry import BeamFrame, beam_frame

__all__ = ["Beam", "BeamModality", "equispaced"]


class BeamModality(StrEnum):
    """Radiation type of a beam."""

    PHOTON = "photon"
    PROTON = "proton"


#: Default source-axis distances (mm): a linac, and the virtual source of a scanning nozzle.
DEFAULT_SAD_MM = {BeamModality.PHOTON: 1000.0, BeamModality.PROTON: 2000.0}


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class Beam:
    """One treatment beam.

    Parameters
    ----------
    modality
        ``"photon"`` or ``"proton"``.
    gantry_deg, couch_deg, collimator_deg
        IEC 61217 angles in degrees (see :mod:`rtwin.geometry`), normalised
        to [0, 360).
    isocenter_mm
        Isocentre in patient coordinates (DICOM LPS, mm).
    source_axis_distance_mm
        Source–axis distance; 1000 mm for photons and a 2000 mm virtual
        source for protons unless given.
    name
        Label, e.g. ``"G090"``; made from the angles when omitted.

    Examples
    --------
    >>> beam = Beam(modality="photon", gantry_deg=90, isocenter_mm=(0, 0, 0))
    >>> beam.name
    'G090'
    >>> beam.frame("HFS").source_mm   # from the patient's left
    array([1000.,    0.,    0.])
    """

    modality: BeamModality
    gantry_deg: float
    isocenter_mm: NDArray[np.float64] = field(repr=False)
    couch_deg: float = 0.0
    collimator_deg: float = 0.0
    source_axis_distance_mm: float | None = None
    name: str = ""

    def __post_init__(self) -> None:
        try:
            modality = BeamModality(self.modality)
        except ValueError:
            raise GeometryError(
                f"unknown beam modality {self.modality!r}; use one of {[m.value for m in BeamModality]}"
            ) from None
        isocenter = np.array(self.isocenter_mm, dtype=np.float64)
        if isocenter.shape != (3,) or not np.all(np.isfinite(isocenter)):
            raise GeometryError(
                f"isocenter_mm must be 3 finite numbers (x, y, z) in mm; got {self.isocenter_mm!r}"
            )
        isocenter.flags.writeable = False
        angles = {}
        for name in ("gantry_deg", "couch_deg", "collimator_deg"):
            value = float(getattr(self, name))
            if not np.isfinite(value):
                raise GeometryError(f"{name} must be a finite angle in degrees; got {value!r}")
            angle = float(np.mod(value, 360.0))
            angles[name] = 0.0 if angle >= 360.0 - 1e-9 else angle
        sad = self.source_axis_distance_mm
        sad = DEFAULT_SAD_MM[modality] if sad is None else float(sad)
        if not (np.isfinite(sad) and sad > 0):
            raise GeometryError(f"source_axis_distance_mm must be positive; got {sad!r}")
        for name, value in angles.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "modality", modality)
        object.__setattr__(self, "isocenter_mm", isocenter)
        object.__setattr__(self, "source_axis_distance_mm", sad)
        if not self.name:
            label = f"G{angles['gantry_deg']:03.0f}"
            if angles["couch_deg"]:
                label += f"_T{angles['couch_deg']:03.0f}"
            if angles["collimator_deg"]:
                label += f"_C{angles['collimator_deg']:03.0f}"
            object.__setattr__(self, "name", label)

    def frame(self, position: str = "HFS") -> BeamFrame:
        """Source and beam axes in patient coordinates for a patient position."""
        return beam_frame(
            gantry_deg=self.gantry_deg,
            couch_deg=self.couch_deg,
            collimator_deg=self.collimator_deg,
            isocenter_mm=self.isocenter_mm,
            source_axis_distance_mm=float(self.source_axis_distance_mm),  # type: ignore[arg-type]
            position=str(position),
        )

    def __repr__(self) -> str:
        iso = ", ".join(f"{c:.1f}" for c in self.isocenter_mm)
        return (
            f"Beam({self.name!r}, {self.modality.value}, gantry {self.gantry_deg:g}°, "
            f"couch {self.couch_deg:g}°, collimator {self.collimator_deg:g}°, isocenter ({iso}) mm)"
        )


def equispaced(
    n: int,
    isocenter_mm: ArrayLike,
    *,
    modality: BeamModality | str = BeamModality.PHOTON,
    start_deg: float = 0.0,
    couch_deg: float = 0.0,
    source_axis_distance_mm: float | None = None,
) -> tuple[Beam, ...]:
    """``n`` coplanar beams at equal gantry steps of 360°/n from ``start_deg``.

    Examples
    --------
    >>> [b.gantry_deg for b in equispaced(5, (0, 0, 0))]
    [0.0, 72.0, 144.0, 216.0, 288.0]
    >>> [b.gantry_deg for b in equispaced(2, (0, 0, 0), modality="proton", start_deg=90)]
    [90.0, 270.0]
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise GeometryError(f"number of beams must be a positive integer; got {n!r}")
    return tuple(
        Beam(
            modality=modality,  # type: ignore[arg-type]
            gantry_deg=start_deg + i * 360.0 / n,
            couch_deg=couch_deg,
            isocenter_mm=isocenter_mm,  # type: ignore[arg-type]
            source_axis_distance_mm=source_axis_distance_mm,
        )
        for i in range(int(n))
    )
