"""read_matrad on the CORT TG119 file (acceptance 2) and on small synthetic files."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import io as scipy_io

from rtwin.errors import MatradError
from rtwin.io import read_matrad, read_matrad_objectives
from rtwin.patient import hash_file


@pytest.mark.shared_data
def test_cort_tg119(cort_tg119):
    before = hash_file(cort_tg119)
    patient = read_matrad(cort_tg119)
    assert hash_file(cort_tg119) == before  # the reader never writes
    # counts and spacing from ../shared/data/cort/SOURCE.md (CORT / matRad TG119)
    assert {name: s.n_voxels for name, s in patient.structures.items()} == {
        "Core": 1320,
        "OuterTarget": 7458,
        "BODY": 601736,
    }
    assert patient.grid.spacing_mm.tolist() == [3.0, 3.0, 2.5]
    assert patient.structures["OuterTarget"].role.value == "target"
    assert patient.structures["BODY"].role.value == "external"
    assert patient.structures["Core"].role.value == "organ_at_risk"

    # independent check of coordinates: the recipe of SOURCE.md, done by hand
    raw = scipy_io.loadmat(cort_tg119)
    ct, cst = raw["ct"][0, 0], raw["cst"]
    x = ct["x"].ravel().astype(float)
    y = ct["y"].ravel().astype(float)
    z = ct["z"].ravel().astype(float)
    hu = ct["cubeHU"][0, 0]
    linear = cst[1, 3][0, 0].ravel().astype(np.int64) - 1  # OuterTarget, 1-based column-major
    iy, ix, iz = np.unravel_index(linear, hu.shape, order="F")
    expected_points = np.column_stack((x[ix], y[iy], z[iz]))
    k, j, i = np.nonzero(patient.structures["OuterTarget"].mask)
    actual_points = patient.grid.index_to_patient(np.column_stack((i, j, k)).astype(float))
    np.testing.assert_allclose(
        actual_points[np.lexsort(actual_points.T)], expected_points[np.lexsort(expected_points.T)]
    )
    np.testing.assert_allclose(patient.grid.index_to_patient([0, 0, 0]), (x[0], y[0], z[0]))
    # HU at a voxel equals the file's cube at the same world point
    probe = (40, 100, 70)  # (iy, ix, iz)
    point = (x[probe[1]], y[probe[0]], z[probe[2]])
    index = np.rint(patient.grid.patient_to_index(point)).astype(int)
    assert patient.image.values[index[2], index[1], index[0]] == pytest.approx(hu[probe], abs=1e-3)


@pytest.mark.shared_data
def test_cort_objectives(cort_tg119):
    objectives = {o.structure: o for o in read_matrad_objectives(cort_tg119)}
    assert objectives["OuterTarget"].class_name.endswith("SquaredDeviation")
    assert objectives["OuterTarget"].parameters == (50.0,)
    assert objectives["OuterTarget"].penalty == 1000.0
    assert objectives["Core"].parameters == (25.0,) and objectives["Core"].penalty == 300.0
    assert objectives["BODY"].parameters == (30.0,) and objectives["BODY"].penalty == 100.0


def _write_small(path, *, indices=None, extra_ct=None, drop=None):
    hu = np.arange(24, dtype=float).reshape(3, 4, 2)  # (y, x, z)
    ct = {
        "cubeHU": np.array([[hu]], dtype=object)[0],
        "x": np.array([[10.0, 12.0, 14.0, 16.0]]),
        "y": np.array([[-5.0, -4.0, -3.0]]),
        "z": np.array([[0.0, 2.5]]),
        "resolution": {"x": 2.0, "y": 1.0, "z": 2.5},
    }
    ct["cubeHU"] = hu
    if extra_ct:
        ct.update(extra_ct)

    def cell(array):
        wrapped = np.empty((1, 1), dtype=object)
        wrapped[0, 0] = np.asarray(array, dtype=np.int32)
        return wrapped

    cst = np.empty((2, 6), dtype=object)
    cst[0, :] = [0, "PTV", "TARGET", cell([[1], [5]]), {}, []]
    cst[1, :] = [
        1,
        "Body",
        "OAR",
        cell(indices if indices is not None else [[1], [2], [3]]),
        {},
        [],
    ]
    content = {"ct": ct, "cst": cst}
    if drop:
        content.pop(drop)
    scipy_io.savemat(path, content)
    return hu


def test_small_file_axes_and_roles(tmp_path):
    path = tmp_path / "small.mat"
    hu = _write_small(path)
    patient = read_matrad(path)
    assert patient.grid.shape == (2, 3, 4)
    assert patient.grid.spacing_mm.tolist() == [2.0, 1.0, 2.5]
    np.testing.assert_array_equal(patient.image.values, hu.transpose(2, 0, 1))
    ptv = patient.structures["PTV"]
    # 1-based column-major index 5 of a (3, 4, 2) cube is (iy=1, ix=1, iz=0) -> (x=12, y=-4, z=0)
    k, j, i = np.nonzero(ptv.mask)
    points = patient.grid.index_to_patient(np.column_stack((i, j, k)).astype(float)).tolist()
    assert sorted(points) == [[10.0, -5.0, 0.0], [12.0, -4.0, 0.0]]
    assert patient.structures["Body"].role.value == "external"
    assert patient.patient_id.startswith("matrad-")


def test_bad_files(tmp_path):
    with pytest.raises(MatradError, match="does not exist"):
        read_matrad(tmp_path / "absent.mat")
    junk = tmp_path / "junk.mat"
    junk.write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(MatradError, match="not a readable MATLAB"):
        read_matrad(junk)
    hdf = tmp_path / "v73.mat"
    hdf.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64" + b"\0" * 200)
    with pytest.raises(MatradError, match="v7.3.*-v7"):
        read_matrad(hdf)
    no_cst = tmp_path / "nocst.mat"
    _write_small(no_cst, drop="cst")
    with pytest.raises(MatradError, match=r"lacks the matRad variable\(s\) \['cst'\]"):
        read_matrad(no_cst)
    outside = tmp_path / "outside.mat"
    _write_small(outside, indices=[[1], [99]])
    with pytest.raises(MatradError, match="'Body' has voxel indices outside the cube"):
        read_matrad(outside)
