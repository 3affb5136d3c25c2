"""IEC 61217 coordinate systems: where a beam's source and axes lie in patient coordinates.

All of rtwin's beam geometry goes through this module.

Systems (IEC 61217), all right-handed, origins at the isocentre:

* **fixed (F)**: +Z_f vertical up, +Y_f horizontal from the isocentre towards
  the gantry, +X_f to the right of an observer at the couch foot facing the
  gantry;
* **patient support (S)**: F rotated by the couch angle about Z_f;
* **gantry (G)**: F rotated by the gantry angle about Y_f; the source lies on
  +Z_g;
* **beam limiting device (B)**: G rotated by the collimator angle about Z_g.

Rotations are positive clockwise when viewed from the origin along the
positive axis, i.e. right-handed about that axis. The patient lies on the
support; the patient position (HFS, HFP, FFS, FFP) maps DICOM patient
coordinates (LPS) to S.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.errors import GeometryError

__all__ = ["BeamFrame", "beam_frame", "patient_to_support"]

#: LPS → patient-support axes for each position: rows give X_s, Y_s, Z_s in LPS components.
_POSITIONS: dict[str, NDArray[np.float64]] = {
    # head towards the gantry, supine: left = +X, superior = +Y, anterior (-y) = +Z
    "HFS": np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], dtype=np.float64),
    # feet towards the gantry, supine: right = +X, inferior = +Y, anterior = +Z
    "FFS": np.array([[-1, 0, 0], [0, 0, -1], [0, -1, 0]], dtype=np.float64),
    # head towards the gantry, prone: right = +X, superior = +Y, posterior = +Z
    "HFP": np.array([[-1, 0, 0], [0, 0, 1], [0, 1, 0]], dtype=np.float64),
    # feet towards the gantry, prone: left = +X, inferior = +Y, posterior = +Z
    "FFP": np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float64),
}


def _rotation(axis: int, angle_deg: float) -> NDArray[np.float64]:
    """Right-handed rotation matrix about coordinate axis 0, 1 or 2."""
    angle = np.deg2rad(angle_deg)
    c, s = np.cos(angle), np.sin(angle)
    # snap tiny values so quarter turns are exact
    c, s = (0.0 if abs(c) < 1e-15 else c), (0.0 if abs(s) < 1e-15 else s)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    matrix = np.eye(3)
    matrix[i, i], matrix[i, j], matrix[j, i], matrix[j, j] = c, -s, s, c
    return matrix


def patient_to_support(position: str) -> NDArray[np.float64]:
    """3×3 matrix taking LPS vectors to patient-support (IEC S) vectors.

    Examples
    --------
    >>> patient_to_support("HFS") @ [1.0, 0.0, 0.0]   # patient left -> +X_s
    array([1., 0., 0.])
    """
    key = str(position)
    if key not in _POSITIONS:
        raise GeometryError(
            f"patient position {key!r} has no IEC 61217 mapping in rtwin; use one of "
            f"{sorted(_POSITIONS)} (decubitus positions are not supported yet)"
        )
    return _POSITIONS[key].copy()


@dataclass(frozen=True, slots=True, kw_only=True, eq=False)
class BeamFrame:
    """A beam's geometry in patient coordinates (LPS, mm).

    Attributes
    ----------
    source_mm
        Position of the (virtual) source.
    isocenter_mm
        The isocentre.
    direction
        Unit vector of the beam's central axis, from the source towards the
        isocentre (−Z_b).
    u, v
        Unit vectors of the beam-limiting-device axes X_b and Y_b (lateral
        coordinates of bixels and spots in the isocentre plane).
    """

    source_mm: NDArray[np.float64]
    isocenter_mm: NDArray[np.float64]
    direction: NDArray[np.float64]
    u: NDArray[np.float64]
    v: NDArray[np.float64]

    @property
    def source_axis_distance_mm(self) -> float:
        """Distance from the source to the isocentre."""
        return float(np.linalg.norm(self.isocenter_mm - self.source_mm))

    def to_beam(self, points_mm: ArrayLike) -> NDArray[np.float64]:
        """Patient points ``(..., 3)`` → beam coordinates ``(u, v, w)``.

        ``u, v`` are lateral distances from the central axis (in the plane
        through the point), ``w`` the distance from the source along the
        central axis.
        """
        offset = np.asarray(points_mm, dtype=np.float64) - self.source_mm
        x, y, z = offset[..., 0], offset[..., 1], offset[..., 2]

        # element-wise rather than `offset @ axis`: a BLAS product over many
        # points starts threads that keep spinning on the cores numba needs next
        def along(axis: NDArray[np.float64]) -> NDArray[np.float64]:
            return x * axis[0] + y * axis[1] + z * axis[2]

        return np.stack((along(self.u), along(self.v), along(self.direction)), axis=-1)

    def to_patient(self, beam_uvw: ArrayLike) -> NDArray[np.float64]:
        """Beam coordinates ``(u, v, w)`` → patient points."""
        uvw = np.asarray(beam_uvw, dtype=np.float64)
        return (
            self.source_mm
            + uvw[..., 0:1] * self.u
            + uvw[..., 1:2] * self.v
            + uvw[..., 2:3] * self.direction
        )


def beam_frame(
    *,
    gantry_deg: float,
    couch_deg: float = 0.0,
    collimator_deg: float = 0.0,
    isocenter_mm: ArrayLike,
    source_axis_distance_mm: float = 1000.0,
    position: str = "HFS",
) -> BeamFrame:
    """Source position and beam axes in patient coordinates for IEC 61217 angles.

    Parameters
    ----------
    gantry_deg, couch_deg, collimator_deg
        IEC 61217 gantry, patient-support (couch) and beam-limiting-device
        (collimator) angles in degrees.
    isocenter_mm
        Isocentre in patient coordinates (LPS, mm).
    source_axis_distance_mm
        Source–axis distance (SAD).
    position
        Patient position: HFS, FFS, HFP or FFP.

    Examples
    --------
    A 90° gantry beam comes from the patient's left for a head-first supine
    patient, and from the patient's right for a feet-first supine one:

    >>> beam_frame(gantry_deg=90, isocenter_mm=(0, 0, 0), position="HFS").source_mm
    array([1000.,    0.,    0.])
    >>> beam_frame(gantry_deg=90, isocenter_mm=(0, 0, 0), position="FFS").source_mm
    array([-1000.,     0.,     0.])
    """
    isocenter = np.asarray(isocenter_mm, dtype=np.float64)
    if isocenter.shape != (3,) or not np.all(np.isfinite(isocenter)):
        raise GeometryError(
            f"isocenter_mm must be 3 finite numbers (x, y, z); got {isocenter_mm!r}"
        )
    for name, value in (
        ("gantry_deg", gantry_deg),
        ("couch_deg", couch_deg),
        ("collimator_deg", collimator_deg),
    ):
        if not np.isfinite(value):
            raise GeometryError(f"{name} must be a finite angle in degrees; got {value!r}")
    if not (np.isfinite(source_axis_distance_mm) and source_axis_distance_mm > 0):
        raise GeometryError(
            f"source_axis_distance_mm must be positive; got {source_axis_distance_mm!r}"
        )
    lps_to_support = patient_to_support(position)
    support_to_fixed = _rotation(2, couch_deg)  # S is F rotated about Z_f
    gantry_to_fixed = _rotation(1, gantry_deg)  # G is F rotated about Y_f
    device_to_gantry = _rotation(2, collimator_deg)  # B is G rotated about Z_g
    device_to_fixed = gantry_to_fixed @ device_to_gantry
    fixed_to_lps = lps_to_support.T @ support_to_fixed.T
    axes = fixed_to_lps @ device_to_fixed  # columns: X_b, Y_b, Z_b in LPS
    u, v, towards_source = axes[:, 0], axes[:, 1], axes[:, 2]
    return BeamFrame(
        source_mm=isocenter + source_axis_distance_mm * towards_source,
        isocenter_mm=isocenter,
        direction=-towards_source,
        u=u,
        v=v,
    )
