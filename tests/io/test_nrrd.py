"""read_nrrd_dose on NRRD files written here (every space, encoding and layout) and on SlicerRT's."""

from __future__ import annotations

import bz2
import gzip
from pathlib import Path

import numpy as np
import pytest

from rtwin.errors import NrrdError
from rtwin.io import read_nrrd_dose

#: LPS → RAS and back: x and y change sign.
RAS = np.array([-1.0, -1.0, 1.0])
LAS = np.array([1.0, -1.0, 1.0])


def write_nrrd(
    path: Path,
    values: np.ndarray,
    *,
    space: str,
    directions: np.ndarray,
    origin: np.ndarray,
    encoding: str = "raw",
    dtype: str = "<f4",
    type_name: str = "float",
    extra: str = "",
    detached: bool = False,
) -> Path:
    """An NRRD file of ``values`` (z, y, x); ``directions`` rows are the i, j, k steps."""
    data = np.ascontiguousarray(values, dtype=dtype)
    if encoding == "ascii":
        payload = " ".join(f"{v:.9g}" for v in data.ravel()).encode()
    else:
        payload = data.tobytes()
        payload = {"gzip": gzip.compress, "bzip2": bz2.compress}.get(encoding, bytes)(payload)
    vectors = " ".join("(" + ",".join(f"{c:.17g}" for c in row) + ")" for row in directions)
    endian = "big" if dtype.startswith(">") else "little"
    header = (
        "NRRD0004\n# Complete NRRD file format specification at:\n"
        f"type: {type_name}\ndimension: 3\nspace: {space}\n"
        f"sizes: {values.shape[2]} {values.shape[1]} {values.shape[0]}\n"
        f"space directions: {vectors}\nkinds: domain domain domain\nendian: {endian}\n"
        f"encoding: {encoding}\n"
        f"space origin: ({','.join(f'{c:.17g}' for c in origin)})\n"
        "DICOM_tag:=a key/value pair\n" + extra
    )
    if detached:
        (path.parent / (path.stem + ".raw")).write_bytes(payload)
        path.write_text(header + f"data file: {path.stem}.raw\n")
    else:
        path.write_bytes(header.encode() + b"\n" + payload)
    return path


def rotation_z(degrees: float) -> np.ndarray:
    angle = np.radians(degrees)
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


@pytest.fixture
def values() -> np.ndarray:
    rng = np.random.default_rng(5)
    return rng.uniform(0.0, 60.0, size=(4, 5, 6)).astype(np.float32)


def test_lps_file_gives_its_own_geometry(tmp_path, values):
    steps = np.diag([2.5, 2.0, 3.0])
    origin = np.array([-162.8, -105.0, -122.5])
    dose = read_nrrd_dose(
        write_nrrd(
            tmp_path / "d.nrrd",
            values,
            space="left-posterior-superior",
            directions=steps,
            origin=origin,
        )
    )
    assert dose.grid.shape == (4, 5, 6)
    np.testing.assert_allclose(dose.grid.spacing_mm, [2.5, 2.0, 3.0])
    np.testing.assert_allclose(dose.grid.origin_mm, origin)
    np.testing.assert_allclose(dose.grid.direction, np.eye(3), atol=1e-12)
    np.testing.assert_array_equal(dose.values, values)  # sizes x y z -> array (z, y, x)
    assert dose.values[3, 4, 5] == values[3, 4, 5]


@pytest.mark.parametrize(
    ("space", "sign"),
    [
        ("right-anterior-superior", RAS),
        ("RAS", RAS),
        ("left-anterior-superior", LAS),
        ("LAS", LAS),
        ("LPS", np.ones(3)),
    ],
)
@pytest.mark.parametrize("degrees", [0.0, 30.0])
def test_other_spaces_are_converted_to_lps(tmp_path, values, space, sign, degrees):
    # one dose on an (oblique) LPS grid, written once in LPS and once in the other space
    steps_lps = (rotation_z(degrees) @ np.diag([2.5, 2.0, 3.0])).T  # rows: i, j, k steps
    origin_lps = np.array([-40.0, 25.0, -10.0])
    reference = read_nrrd_dose(
        write_nrrd(
            tmp_path / "lps.nrrd",
            values,
            space="left-posterior-superior",
            directions=steps_lps,
            origin=origin_lps,
        )
    )
    other = read_nrrd_dose(
        write_nrrd(
            tmp_path / "other.nrrd",
            values,
            space=space,
            directions=steps_lps * sign,
            origin=origin_lps * sign,
        )
    )
    assert other.grid == reference.grid
    np.testing.assert_array_equal(other.values, reference.values)
    # voxel (i, j, k) = (5, 1, 2) lies at origin + 5 i-step + 1 j-step + 2 k-step, in LPS
    expected = origin_lps + steps_lps.T @ np.array([5.0, 1.0, 2.0])
    np.testing.assert_allclose(other.grid.index_to_patient([[5.0, 1.0, 2.0]])[0], expected)
    if space.lower().startswith("r"):
        # the RAS numbers in the file are the mirror image in x and y
        ras_point = origin_lps * RAS + (steps_lps * RAS).T @ np.array([5.0, 1.0, 2.0])
        np.testing.assert_allclose(expected, ras_point * RAS)
    assert other.at([expected])[0] == pytest.approx(float(values[2, 1, 5]), rel=1e-6)


@pytest.mark.parametrize(
    ("encoding", "dtype", "type_name"),
    [
        ("raw", "<f4", "float"),
        ("gzip", "<f4", "float"),
        ("bzip2", "<f8", "double"),
        ("raw", ">f4", "float"),
        ("gzip", "<u2", "unsigned short"),
        ("raw", "<i4", "int"),
        ("raw", "u1", "uchar"),
        ("ascii", "<f4", "float"),
    ],
)
def test_encodings_and_types(tmp_path, values, encoding, dtype, type_name):
    stored = values if dtype[-2] == "f" else np.round(values)
    dose = read_nrrd_dose(
        write_nrrd(
            tmp_path / "d.nrrd",
            stored,
            space="LPS",
            directions=np.eye(3),
            origin=np.zeros(3),
            encoding=encoding,
            dtype=dtype,
            type_name=type_name,
        )
    )
    np.testing.assert_allclose(dose.values, stored.astype(np.float32), rtol=1e-7)


def test_detached_header_and_byte_skip(tmp_path, values):
    detached = write_nrrd(
        tmp_path / "d.nhdr",
        values,
        space="LPS",
        directions=np.eye(3),
        origin=np.zeros(3),
        detached=True,
    )
    np.testing.assert_array_equal(read_nrrd_dose(detached).values, values)
    # byte skip -1: the raw data are the last bytes of the file, after anything else
    data_file = tmp_path / "d.raw"
    data_file.write_bytes(b"some preamble" + data_file.read_bytes())
    with pytest.raises(NrrdError, match="data bytes"):
        read_nrrd_dose(detached)
    detached.write_text(detached.read_text() + "byte skip: -1\n")
    np.testing.assert_array_equal(read_nrrd_dose(detached).values, values)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda h: h.replace("dimension: 3", "dimension: 4"), "dimension is 4"),
        (lambda h: h.replace("space: LPS", "space: scanner-xyz"), "space 'scanner-xyz'"),
        (lambda h: h.replace("space: LPS\n", ""), "no 'space' field"),
        (lambda h: h.replace("encoding: raw", "encoding: hex"), "encoding 'hex' is not supported"),
        (lambda h: h.replace("type: float", "type: half"), "unknown type 'half'"),
        (lambda h: h.replace("endian: little\n", ""), "endian must be 'little' or 'big'"),
        (lambda h: h.replace("(0,0,1)", "none"), "three 3-vectors"),
        (lambda h: h + 'space units: "cm" "cm" "cm"\n', "space units must be"),
        (lambda h: h.replace("sizes: 6 5 4", "sizes: 6 5 5"), "truncated"),
        (lambda h: h.replace("(0,1,0)", "(0.5,1,0)"), "grid cannot be used"),
        (lambda h: h.replace("dimension: 3", "dimension three"), "is not 'field: value'"),
    ],
)
def test_bad_files_raise_with_the_reason(tmp_path, values, edit, message):
    path = write_nrrd(
        tmp_path / "d.nrrd", values, space="LPS", directions=np.eye(3), origin=np.zeros(3)
    )
    header, _, data = path.read_bytes().partition(b"\n\n")
    path.write_bytes(edit(header.decode() + "\n").encode() + b"\n" + data)
    with pytest.raises(NrrdError, match=message):
        read_nrrd_dose(path)


def test_not_nrrd_missing_file_and_nan(tmp_path, values):
    with pytest.raises(NrrdError, match="does not exist"):
        read_nrrd_dose(tmp_path / "absent.nrrd")
    (tmp_path / "x.nrrd").write_bytes(b"P6\n1 1\n255\n\0\0\0")
    with pytest.raises(NrrdError, match="not an NRRD file"):
        read_nrrd_dose(tmp_path / "x.nrrd")
    broken = values.copy()
    broken[0, 0, 0] = np.nan
    path = write_nrrd(
        tmp_path / "nan.nrrd", broken, space="LPS", directions=np.eye(3), origin=np.zeros(3)
    )
    with pytest.raises(NrrdError, match="1 samples are not finite"):
        read_nrrd_dose(path)
    assert issubclass(NrrdError, OSError)


@pytest.mark.shared_data
def test_slicerrt_dose_files(dicom_data, sha256_tree):
    folder = dicom_data / "slicerrt-eclipse-prostate-phantom"
    path = folder / "EclipseProstate_Dose.nrrd"
    if not path.is_file():
        pytest.skip("the SlicerRT prostate dose is not present")
    before = sha256_tree(path)
    dose = read_nrrd_dose(path)
    assert sha256_tree(path) == before
    # header (SOURCE.md): 136 x 86 x 92 voxels of 2.5 mm, LPS, origin (-162.826, -105.017, -122.5)
    assert dose.grid.shape == (92, 86, 136)
    np.testing.assert_allclose(dose.grid.spacing_mm, 2.5)
    np.testing.assert_allclose(dose.grid.origin_mm, [-162.826, -105.017, -122.5], atol=1e-3)
    assert dose.max_gy == pytest.approx(47.08, abs=0.01)
    # the same reading as the independent one in tests/evaluation/test_gamma.py
    raw = np.frombuffer(gzip.decompress(path.read_bytes().partition(b"\n\n")[2]), dtype="<f4")
    np.testing.assert_array_equal(dose.values.ravel(), raw)
