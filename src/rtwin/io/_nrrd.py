"""Reading a 3D NRRD volume (e.g. a dose exported by 3D Slicer / SlicerRT) as a :class:`Dose`."""

from __future__ import annotations

import bz2
import gzip
import logging
import os
import re
import zlib
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from rtwin.dose import Dose
from rtwin.errors import GeometryError, NrrdError
from rtwin.geometry import Grid

__all__ = ["read_nrrd_dose"]

logger = logging.getLogger(__name__)

#: NRRD type names (all spellings of the format definition) → numpy dtype (without byte order).
_TYPES = {
    name: code
    for code, names in {
        "i1": ("signed char", "int8", "int8_t"),
        "u1": ("uchar", "unsigned char", "uint8", "uint8_t"),
        "i2": ("short", "short int", "signed short", "signed short int", "int16", "int16_t"),
        "u2": ("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"),
        "i4": ("int", "signed int", "int32", "int32_t"),
        "u4": ("uint", "unsigned int", "uint32", "uint32_t"),
        "i8": (
            "longlong",
            "long long",
            "long long int",
            "signed long long",
            "signed long long int",
            "int64",
            "int64_t",
        ),
        "u8": ("ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t"),
        "f4": ("float",),
        "f8": ("double",),
    }.items()
    for name in names
}
#: NRRD anatomical spaces → the sign that turns each of its axes into DICOM LPS.
_SPACES = {
    "left-posterior-superior": (1.0, 1.0, 1.0),
    "lps": (1.0, 1.0, 1.0),
    "right-anterior-superior": (-1.0, -1.0, 1.0),
    "ras": (-1.0, -1.0, 1.0),
    "left-anterior-superior": (1.0, -1.0, 1.0),
    "las": (1.0, -1.0, 1.0),
}
_ENCODINGS = {
    "raw": "raw",
    "gzip": "gzip",
    "gz": "gzip",
    "bzip2": "bzip2",
    "bz2": "bzip2",
    "ascii": "ascii",
    "text": "ascii",
    "txt": "ascii",
}
_VECTOR = re.compile(r"\(([^()]*)\)|(none)", re.IGNORECASE)


def read_nrrd_dose(path: str | os.PathLike[str]) -> Dose:
    """Read a 3D scalar NRRD volume (dose in Gy) into a :class:`~rtwin.dose.Dose` on an LPS grid.

    3D Slicer and SlicerRT exchange doses as NRRD; this reads such a file,
    attached (``.nrrd``) or with a detached header (``.nhdr`` + data file).

    Parameters
    ----------
    path
        The ``.nrrd`` file, or the ``.nhdr`` header of a detached data file.

    Returns
    -------
    Dose
        Values in Gy (the file's numbers as they are: NRRD has no unit for
        the samples, and SlicerRT writes Gy), float32, ``(nz, ny, nx)`` =
        the file's ``sizes`` reversed (the first axis varies fastest); the
        grid in DICOM patient coordinates (LPS, mm).

    Raises
    ------
    NrrdError
        The file is missing, not NRRD, not three-dimensional, has no
        patient geometry (``space`` + ``space directions``), a space other
        than the anatomical ones below, units other than mm, an unknown
        type or encoding, a sheared grid, too few or too many samples, or
        samples that are not finite.

    Notes
    -----
    - **Geometry.** ``space directions`` gives the step of each index axis
      (its length is the spacing), ``space origin`` the centre of the first
      sample. NRRD's ``space`` names the axes: ``left-posterior-superior``
      (LPS, DICOM's own), ``right-anterior-superior`` (RAS, the usual 3D
      Slicer space: ``x`` and ``y`` point the other way, so both are
      negated) and ``left-anterior-superior`` (LAS: ``y`` negated), or
      their abbreviations. Other spaces (``scanner-xyz``,
      ``3D-right-handed``, time-varying spaces) do not say where the
      patient is and are refused, as is a file with only ``spacings``.
      ``space units``, when given, must be mm.
    - **Data.** Encodings ``raw``, ``gzip`` (``gz``), ``bzip2`` (``bz2``)
      and ``ascii`` (``text``, ``txt``); all NRRD integer and floating
      types; ``endian`` (required for multi-byte types in binary
      encodings); ``line skip`` and ``byte skip`` (``-1`` for raw data at
      the end of the file). A detached ``data file`` is read relative to
      the header; lists of data files are not supported.
    - ``key:=value`` pairs and comments are ignored.

    References
    ----------
    Teem NRRD format definition, version 5: http://teem.sourceforge.net/nrrd/format.html

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> from rtwin.io import read_nrrd_dose
    >>> values = np.arange(24, dtype="<f4").reshape(2, 3, 4)   # (z, y, x)
    >>> header = (
    ...     "NRRD0004\\ntype: float\\ndimension: 3\\nspace: right-anterior-superior\\n"
    ...     "sizes: 4 3 2\\nspace directions: (2,0,0) (0,2,0) (0,0,3)\\nendian: little\\n"
    ...     "encoding: raw\\nspace origin: (10,20,30)\\n\\n"
    ... )
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = Path(folder) / "dose.nrrd"
    ...     _ = path.write_bytes(header.encode() + values.tobytes())
    ...     dose = read_nrrd_dose(path)
    >>> dose.grid.origin_mm.tolist(), dose.grid.spacing_mm.tolist()  # RAS (10, 20) = LPS (-10, -20)
    ([-10.0, -20.0, 30.0], [2.0, 2.0, 3.0])
    >>> dose.values.shape, float(dose.values[1, 2, 3])
    ((2, 3, 4), 23.0)
    """
    file = Path(path)
    if not file.is_file():
        raise NrrdError(f"NRRD file {str(file)!r} does not exist or is not a file; check the path")
    content = file.read_bytes()
    fields, data_start = _header(content, file.name)
    where = file.name

    def need(name: str) -> str:
        if name not in fields:
            raise NrrdError(f"{where}: the NRRD header has no {name!r} field; it is required")
        return fields[name]

    dimension = _integer(need("dimension"), "dimension", where)
    if dimension != 3:
        raise NrrdError(
            f"{where}: dimension is {dimension}; a dose must be a 3D scalar volume (dimension 3)"
        )
    sizes = [_integer(v, "sizes", where) for v in need("sizes").split()]
    if len(sizes) != 3 or min(sizes) < 1:
        raise NrrdError(f"{where}: sizes must be three positive integers; got {fields['sizes']!r}")
    type_name = " ".join(need("type").lower().split())
    if type_name not in _TYPES:
        raise NrrdError(
            f"{where}: unknown type {fields['type']!r}; expected an NRRD type such as float, "
            "double, short, ushort, int, uint, uchar"
        )
    encoding = _ENCODINGS.get(need("encoding").strip().lower())
    if encoding is None:
        raise NrrdError(
            f"{where}: encoding {fields['encoding']!r} is not supported; supported: raw, gzip, "
            "bzip2, ascii (and their short names gz, bz2, text, txt)"
        )
    dtype = np.dtype(_TYPES[type_name])
    if dtype.itemsize > 1 and encoding != "ascii":
        endian = fields.get("endian", "").strip().lower()
        if endian not in ("little", "big"):
            raise NrrdError(
                f"{where}: endian must be 'little' or 'big' for {type_name} data; got "
                f"{fields.get('endian', 'nothing')!r}"
            )
        dtype = dtype.newbyteorder("<" if endian == "little" else ">")
    grid = _grid(fields, sizes, where)
    payload = _payload(content, data_start, fields, file)
    values = _samples(payload, fields, encoding, dtype, int(np.prod(sizes)), where)
    values = values.reshape(sizes[2], sizes[1], sizes[0])
    if not np.all(np.isfinite(values)):
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        raise NrrdError(
            f"{where}: {bad} samples are not finite (NaN or infinite); a dose cannot be"
        )
    logger.debug("read NRRD %s: %s %s, %s encoding", where, type_name, sizes, encoding)
    return Dose(values=values.astype(np.float32), grid=grid)


# ---------------------------------------------------------------------- header
def _header(content: bytes, where: str) -> tuple[dict[str, str], int]:
    """The fields (lower-case names) and the offset just past the header's blank line."""
    if not content.startswith(b"NRRD000"):
        raise NrrdError(f"{where} is not an NRRD file (it does not start with 'NRRD000x')")
    fields: dict[str, str] = {}
    position = 0
    lines = 0
    while True:
        end = content.find(b"\n", position)
        line = content[position:] if end < 0 else content[position:end]
        position = len(content) if end < 0 else end + 1
        text = line.rstrip(b"\r").decode("latin-1")
        lines += 1
        if lines == 1:
            pass  # the magic
        elif not text.strip():
            break  # the blank line ending an attached header
        elif text.startswith("#") or ":=" in text.split(": ", 1)[0]:
            pass  # a comment or a key:=value pair
        elif ": " in text:
            name, value = text.split(": ", 1)
            fields[name.strip().lower()] = value.strip()
        else:
            raise NrrdError(
                f"{where}: header line {lines} {text[:60]!r} is not 'field: value', "
                "'key:=value' or a comment"
            )
        if end < 0:
            break
    return fields, position


def _integer(value: str, name: str, where: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise NrrdError(f"{where}: {name} must be an integer; got {value!r}") from None


def _vectors(value: str, name: str, where: str) -> list[NDArray[np.float64] | None]:
    vectors: list[NDArray[np.float64] | None] = []
    for match in _VECTOR.finditer(value):
        if match.group(2):
            vectors.append(None)
            continue
        try:
            vectors.append(np.array([float(v) for v in match.group(1).split(",")]))
        except ValueError:
            raise NrrdError(
                f"{where}: {name} must hold vectors such as (2.5,0,0); got {value!r}"
            ) from None
    return vectors


def _grid(fields: dict[str, str], sizes: list[int], where: str) -> Grid:
    space = fields.get("space", "").strip().lower()
    if space not in _SPACES:
        found = f"space {fields['space']!r}" if "space" in fields else "no 'space' field"
        raise NrrdError(
            f"{where}: {found}; a dose needs patient coordinates: space left-posterior-superior "
            "(LPS), right-anterior-superior (RAS) or left-anterior-superior (LAS) with space "
            "directions and space origin"
        )
    if "space directions" not in fields:
        raise NrrdError(f"{where}: no 'space directions' field; the grid's axes are unknown")
    directions = _vectors(fields["space directions"], "space directions", where)
    if len(directions) != 3 or any(v is None or v.size != 3 for v in directions):
        raise NrrdError(
            f"{where}: space directions must be three 3-vectors (one per axis, none 'none'); "
            f"got {fields['space directions']!r}"
        )
    origin_vectors = _vectors(fields.get("space origin", "(0,0,0)"), "space origin", where)
    if len(origin_vectors) != 1 or origin_vectors[0] is None or origin_vectors[0].size != 3:
        raise NrrdError(
            f"{where}: space origin must be one 3-vector such as (-160,-105,-122.5); got "
            f"{fields.get('space origin')!r}"
        )
    if "space units" in fields:
        units = re.findall(r'"([^"]*)"', fields["space units"])
        if len(units) != 3 or any(u.strip().lower() != "mm" for u in units):
            raise NrrdError(
                f'{where}: space units must be "mm" "mm" "mm"; got {fields["space units"]!r}'
            )
    flip = np.array(_SPACES[space])
    steps = np.array([flip * v for v in directions if v is not None])  # rows: i, j, k steps, LPS
    spacing = np.linalg.norm(steps, axis=1)
    if np.any(spacing <= 0) or not np.all(np.isfinite(steps)):
        raise NrrdError(
            f"{where}: space directions must be finite and non-zero; got "
            f"{fields['space directions']!r}"
        )
    origin = flip * origin_vectors[0]
    try:
        return Grid.from_spacing(
            (sizes[2], sizes[1], sizes[0]),
            spacing_mm=spacing,
            origin_mm=origin,
            direction=(steps / spacing[:, None]).T,
        )
    except GeometryError as error:
        raise NrrdError(f"{where}: the grid cannot be used: {error}") from error


# ---------------------------------------------------------------------- data
def _payload(content: bytes, data_start: int, fields: dict[str, str], file: Path) -> bytes:
    """The (still encoded) data bytes: attached after the header, or in the detached file."""
    name = fields.get("data file", fields.get("datafile"))
    if name is None:
        data = content[data_start:]
    else:
        parts = name.split()
        if parts and (parts[0] == "LIST" or len(parts) > 1):
            raise NrrdError(
                f"{file.name}: data file {name!r} names several files; only one detached data "
                "file is supported"
            )
        detached = Path(name) if Path(name).is_absolute() else file.parent / name
        if not detached.is_file():
            raise NrrdError(
                f"{file.name}: its data file {str(detached)!r} does not exist; keep the header "
                "and its data file together"
            )
        data = detached.read_bytes()
    skip_lines = _integer(
        fields.get("line skip", fields.get("lineskip", "0")), "line skip", file.name
    )
    for _ in range(max(0, skip_lines)):
        end = data.find(b"\n")
        data = b"" if end < 0 else data[end + 1 :]
    return data


def _samples(
    data: bytes, fields: dict[str, str], encoding: str, dtype: np.dtype, count: int, where: str
) -> NDArray[np.float64]:
    skip = _integer(fields.get("byte skip", fields.get("byteskip", "0")), "byte skip", where)
    if skip < -1 or (skip == -1 and encoding != "raw"):
        raise NrrdError(
            f"{where}: byte skip {skip} is not valid ({encoding} data takes a byte skip >= 0; "
            "-1 means 'the last bytes of the file' for raw data only)"
        )
    try:
        if encoding == "gzip":
            data = gzip.decompress(data)
        elif encoding == "bzip2":
            data = bz2.decompress(data)
    except (OSError, EOFError, ValueError, zlib.error) as error:
        raise NrrdError(f"{where}: the {encoding} data cannot be decompressed ({error})") from None
    if skip > 0:
        data = data[skip:]
    if encoding == "ascii":
        try:
            values = np.array(data.decode("latin-1").split(), dtype=np.float64)
        except ValueError:
            raise NrrdError(
                f"{where}: the ascii data hold something that is not a number"
            ) from None
    else:
        expected = count * dtype.itemsize
        if skip == -1:
            data = data[max(0, len(data) - expected) :]
        if len(data) != expected:
            raise NrrdError(
                f"{where}: {len(data)} data bytes for {count} samples of {dtype.itemsize} bytes "
                f"({expected} bytes); the file is truncated or its sizes/type are wrong"
            )
        values = np.frombuffer(data, dtype=dtype).astype(np.float64)
    if values.size != count:
        raise NrrdError(f"{where}: {values.size} samples; sizes say {count}")
    return values
