"""IEC 61217 beam geometry, checked against configurations worked out by hand from the standard.

Hand derivations (IEC 61217 fixed system: +Z_f up, +Y_f towards the gantry,
+X_f to the right of an observer at the couch foot facing the gantry;
rotations right-handed about their axis; the source lies on +Z_g):

* HFS (head towards the gantry, supine): patient left = +X_f, superior = +Y_f,
  anterior = +Z_f. Gantry 0 → source above → anterior (−y in LPS);
  gantry 90 → source at +X_f → patient's left (+x); 180 → posterior; 270 → right.
* FFS: patient left = −X_f: gantry 90 → patient's right (−x).
* HFP (prone): posterior faces up: gantry 0 → posterior (+y); 90 → patient's right.
* FFP: gantry 0 → posterior; 90 → patient's left.
* Couch 90 (counter-clockwise seen from above) turns an HFS patient's head
  from +Y_f to −X_f; a gantry-90 source (+X_f) then lies towards the feet (−z).
"""

from __future__ import annotations

import numpy as np
import pytest

from rtwin.beams import Beam, equispaced
from rtwin.errors import GeometryError
from rtwin.geometry import beam_frame

LEFT, RIGHT = (1, 0, 0), (-1, 0, 0)
ANTERIOR, POSTERIOR = (0, -1, 0), (0, 1, 0)
SUPERIOR, INFERIOR = (0, 0, 1), (0, 0, -1)


@pytest.mark.parametrize(
    ("position", "gantry", "source_side"),
    [
        ("HFS", 0, ANTERIOR),
        ("HFS", 90, LEFT),
        ("HFS", 180, POSTERIOR),
        ("HFS", 270, RIGHT),
        ("FFS", 0, ANTERIOR),
        ("FFS", 90, RIGHT),
        ("FFS", 270, LEFT),
        ("HFP", 0, POSTERIOR),
        ("HFP", 90, RIGHT),
        ("FFP", 0, POSTERIOR),
        ("FFP", 90, LEFT),
    ],
)
def test_where_the_beam_enters(position, gantry, source_side):
    iso = np.array([10.0, -20.0, 30.0])
    frame = beam_frame(gantry_deg=gantry, isocenter_mm=iso, position=position)
    np.testing.assert_allclose(frame.source_mm, iso + 1000.0 * np.array(source_side), atol=1e-9)
    np.testing.assert_allclose(frame.direction, -np.array(source_side, float), atol=1e-12)


def test_couch_rotation():
    frame = beam_frame(gantry_deg=90, couch_deg=90, isocenter_mm=(0, 0, 0), position="HFS")
    np.testing.assert_allclose(frame.source_mm, 1000.0 * np.array(INFERIOR), atol=1e-9)
    # gantry 0 is on the rotation axis of the couch: unchanged
    frame = beam_frame(gantry_deg=0, couch_deg=37, isocenter_mm=(0, 0, 0), position="HFS")
    np.testing.assert_allclose(frame.source_mm, 1000.0 * np.array(ANTERIOR), atol=1e-9)


def test_collimator_rotates_lateral_axes_about_the_beam():
    base = beam_frame(gantry_deg=0, isocenter_mm=(0, 0, 0))
    # at gantry 0, HFS: X_b = +X_f = patient left, Y_b = +Y_f = superior
    np.testing.assert_allclose(base.u, LEFT, atol=1e-12)
    np.testing.assert_allclose(base.v, SUPERIOR, atol=1e-12)
    turned = beam_frame(gantry_deg=0, collimator_deg=90, isocenter_mm=(0, 0, 0))
    np.testing.assert_allclose(turned.u, SUPERIOR, atol=1e-12)
    np.testing.assert_allclose(turned.v, RIGHT, atol=1e-12)
    np.testing.assert_allclose(turned.direction, base.direction, atol=1e-12)


@pytest.mark.parametrize("angles", [(0, 0, 0), (33, 10, 75), (271, 350, 5)])
def test_frames_are_orthonormal_and_round_trip(angles):
    gantry, couch, collimator = angles
    frame = beam_frame(
        gantry_deg=gantry,
        couch_deg=couch,
        collimator_deg=collimator,
        isocenter_mm=(1, 2, 3),
        source_axis_distance_mm=800,
    )
    axes = np.stack((frame.u, frame.v, -frame.direction), axis=1)
    np.testing.assert_allclose(axes.T @ axes, np.eye(3), atol=1e-12)
    assert np.linalg.det(axes) == pytest.approx(1.0)
    assert frame.source_axis_distance_mm == pytest.approx(800.0)
    points = np.random.default_rng(0).normal(size=(5, 3)) * 50
    np.testing.assert_allclose(frame.to_patient(frame.to_beam(points)), points, atol=1e-9)
    np.testing.assert_allclose(frame.to_beam(frame.isocenter_mm), (0, 0, 800), atol=1e-9)


def test_beam_objects():
    beams = equispaced(9, (0.0, 0.0, 0.0))
    assert [round(b.gantry_deg) for b in beams] == [0, 40, 80, 120, 160, 200, 240, 280, 320]
    proton = Beam(modality="proton", gantry_deg=-90, isocenter_mm=(0, 0, 0))
    assert proton.gantry_deg == 270.0 and proton.source_axis_distance_mm == 2000.0
    with pytest.raises(GeometryError, match="unknown beam modality 'electron'"):
        Beam(modality="electron", gantry_deg=0, isocenter_mm=(0, 0, 0))  # type: ignore[arg-type]
    with pytest.raises(GeometryError, match="isocenter_mm"):
        Beam(modality="photon", gantry_deg=0, isocenter_mm=(0, 0))  # type: ignore[arg-type]
    with pytest.raises(GeometryError, match="positive integer"):
        equispaced(0, (0, 0, 0))
    with pytest.raises(GeometryError, match="decubitus"):
        beam_frame(gantry_deg=0, isocenter_mm=(0, 0, 0), position="HFDL")


def test_tiny_negative_angles_normalise_to_zero():
    beam = Beam(modality="photon", gantry_deg=-1e-14, isocenter_mm=(0, 0, 0))
    assert beam.gantry_deg == 0.0 and beam.name == "G000"
