"""Reading matRad / CORT ``.mat`` phantoms and patients."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rtwin.anatomy import Image, Modality, Structure, StructureRole, StructureSet
from rtwin.errors import MatradError
from rtwin.geometry import Grid
from rtwin.materials import HUCalibration, default_calibration
from rtwin.patient import Patient, Provenance, hash_file

__all__ = ["MatradObjective", "read_matrad", "read_matrad_objectives"]

logger = logging.getLogger(__name__)

_EXTERNAL_NAMES = {"body", "external", "skin", "outline", "patient"}


@dataclass(frozen=True, slots=True, kw_only=True)
class MatradObjective:
    """One dose objective as a matRad ``cst`` row stores it (total-course dose).

    ``class_name`` is matRad's (e.g. ``"DoseObjectives.matRad_SquaredDeviation"``),
    ``parameters`` its parameter list (reference dose in Gy for the whole
    course first), ``penalty`` its weight.
    """

    structure: str
    class_name: str
    parameters: tuple[float, ...]
    penalty: float


def _load(path: str | PathLike[str]) -> tuple[Path, dict[str, Any]]:
    from scipy import io as scipy_io

    file = Path(path)
    if not file.is_file():
        raise MatradError(f"matRad file {str(file)!r} does not exist or is not a file")
    with open(file, "rb") as handle:
        head = handle.read(128)
    if b"MATLAB 7.3" in head or head.startswith(b"\x89HDF"):
        raise MatradError(
            f"{file.name!r} is a MATLAB v7.3 (HDF5) file, which rtwin does not read; "
            "re-save it in MATLAB with save(..., '-v7')"
        )
    try:
        content = scipy_io.loadmat(file, mat_dtype=False, squeeze_me=False)
    except Exception as error:  # scipy raises ValueError/TypeError/OSError on bad files
        raise MatradError(f"{file.name!r} is not a readable MATLAB .mat file: {error}") from error
    missing = [name for name in ("ct", "cst") if name not in content]
    if missing:
        found = sorted(k for k in content if not k.startswith("__"))
        raise MatradError(
            f"{file.name!r} lacks the matRad variable(s) {missing}; found {found}. A matRad "
            "patient file holds 'ct' (a struct) and 'cst' (an N×6 cell)"
        )
    return file, content


def _unwrap(value: Any) -> Any:
    """Strip MATLAB's 1×1 cell/struct wrappers."""
    while isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
        value = value.flat[0]
    return value


def _text(value: Any) -> str:
    """A MATLAB char array (possibly wrapped in cells) as a Python string."""
    value = _unwrap(value)
    if isinstance(value, np.ndarray):
        if value.size == 0:
            return ""
        if value.dtype.kind == "U":
            return "".join(str(v) for v in value.ravel()).strip()
        value = value.flat[0]
    return str(value).strip()


def _field(struct: Any, name: str, file: Path) -> Any:
    if struct.dtype.names is None or name not in struct.dtype.names:
        raise MatradError(
            f"{file.name!r}: 'ct' has no field {name!r}; fields: {struct.dtype.names}"
        )
    return _unwrap(struct[name])


def _axis(ct: Any, letter: str, size: int, file: Path) -> tuple[float, float]:
    """(first coordinate, step) of one axis from ct.x/y/z or ct.resolution."""
    names = ct.dtype.names or ()
    if letter in names:
        vector = np.asarray(_unwrap(ct[letter]), dtype=np.float64).ravel()
        if vector.size != size:
            raise MatradError(
                f"{file.name!r}: ct.{letter} has {vector.size} entries but the cube has {size}"
            )
        if size == 1:
            step = float(
                np.asarray(_field(_field(ct, "resolution", file), letter, file)).ravel()[0]
            )
            return float(vector[0]), step
        steps = np.diff(vector)
        if not np.allclose(steps, steps[0], rtol=1e-6, atol=1e-6) or steps[0] <= 0:
            raise MatradError(f"{file.name!r}: ct.{letter} is not evenly spaced and increasing")
        return float(vector[0]), float(steps[0])
    resolution = _field(ct, "resolution", file)
    step = float(np.asarray(_unwrap(resolution[letter])).ravel()[0])
    # matRad's convention without world coordinates: voxel (1,1,1) at one resolution step
    return step, step


def read_matrad(
    path: str | PathLike[str],
    *,
    calibration: HUCalibration | None = None,
) -> Patient:
    """Read a matRad / CORT ``.mat`` file into a :class:`~rtwin.patient.Patient`.

    Parameters
    ----------
    path
        MATLAB v5/v7 file with matRad's ``ct`` struct and ``cst`` cell
        (e.g. the CORT TG119, prostate, liver or head-and-neck cases).
    calibration
        CT calibration for the patient; rtwin's default when omitted. The
        file's own ``ct.hlut`` is only used to recover HU when the file has
        no ``cubeHU``.

    Returns
    -------
    Patient
        CT in HU on an axis-aligned grid whose voxel centres are the file's
        ``ct.x``, ``ct.y``, ``ct.z`` (DICOM LPS, mm); one structure per
        ``cst`` row (first CT scenario) with role target for ``TARGET`` rows,
        external for a body outline (``BODY``, ``External``, ``Skin``, ...)
        and organ at risk otherwise; display colours kept. ``patient_id``
        is ``matrad-`` plus the first 12 hex digits of the file's SHA-256,
        so nothing of the original header reaches the patient.

    Raises
    ------
    MatradError
        Missing file, MATLAB v7.3 (HDF5) file, missing ``ct``/``cst``,
        inconsistent coordinates, or voxel indices outside the cube.

    Notes
    -----
    matRad stores cubes as MATLAB arrays ``(y, x, z)`` and structures as
    1-based column-major linear indices into them; rtwin translates both
    here, at the edge, into ``(z, y, x)`` C-ordered arrays. The file is
    opened read-only. Objectives are read by :func:`read_matrad_objectives`.

    Examples
    --------
    >>> import rtwin  # doctest: +SKIP
    >>> patient = rtwin.io.read_matrad("TG119.mat")  # doctest: +SKIP
    >>> patient.structures["OuterTarget"].n_voxels  # doctest: +SKIP
    7458
    """
    file, content = _load(path)
    ct = _unwrap(content["ct"])
    names = ct.dtype.names or ()
    steps = [f"read matRad file {file.name}"]
    if "cubeHU" in names:
        cube = np.asarray(_unwrap(ct["cubeHU"]), dtype=np.float64)
    elif "cube" in names and "hlut" in names:
        density = np.asarray(_unwrap(ct["cube"]), dtype=np.float64)
        hlut = np.asarray(_unwrap(ct["hlut"]), dtype=np.float64)
        cube = _hu_from_density(density, hlut, file)
        steps.append("HU recovered from ct.cube through the file's ct.hlut (no cubeHU in the file)")
    else:
        raise MatradError(
            f"{file.name!r}: ct has neither 'cubeHU' nor 'cube' with 'hlut'; cannot build a CT"
        )
    if cube.ndim == 2:
        cube = cube[:, :, np.newaxis]
    if cube.ndim != 3:
        raise MatradError(
            f"{file.name!r}: the CT cube has {cube.ndim} dimensions; expected 3 (y, x, z)"
        )
    n_y, n_x, n_z = cube.shape
    (x0, dx), (y0, dy), (z0, dz) = (
        _axis(ct, "x", n_x, file),
        _axis(ct, "y", n_y, file),
        _axis(ct, "z", n_z, file),
    )
    grid = Grid.from_spacing((n_z, n_y, n_x), spacing_mm=(dx, dy, dz), origin_mm=(x0, y0, z0))
    image = Image(values=cube.transpose(2, 0, 1), grid=grid, modality=Modality.CT)
    structures = StructureSet(_structures(content["cst"], cube.shape, grid, file))
    digest = hash_file(file)
    provenance = Provenance(inputs=((file.name, digest),), steps=tuple(steps))
    return Patient(
        image=image,
        structures=structures,
        calibration=calibration or default_calibration(),
        patient_id=f"matrad-{digest[:12]}",
        provenance=provenance,
    )


def _hu_from_density(
    density: NDArray[np.float64], hlut: NDArray[np.float64], file: Path
) -> NDArray[np.float64]:
    if hlut.ndim != 2 or hlut.shape[1] != 2:
        raise MatradError(f"{file.name!r}: ct.hlut must be an N×2 table (HU, density)")
    hu, values = hlut[:, 0], hlut[:, 1]
    # invert on the strictly increasing part of the table
    keep = np.concatenate(([True], np.diff(values) > 0))
    return np.interp(density, values[keep], hu[keep])


def _structures(cst: Any, cube_shape: tuple[int, ...], grid: Grid, file: Path) -> list[Structure]:
    if not isinstance(cst, np.ndarray) or cst.ndim != 2 or cst.shape[1] < 4:
        raise MatradError(
            f"{file.name!r}: cst must be an N×6 cell array; got shape {getattr(cst, 'shape', None)}"
        )
    n_voxels = int(np.prod(cube_shape))
    result = []
    for row in cst:
        name = _text(row[1])
        kind = _text(row[2]).upper()
        indices = _indices(row[3], name)
        if indices.size and (indices.min() < 1 or indices.max() > n_voxels):
            raise MatradError(
                f"{file.name!r}: structure {name!r} has voxel indices outside the cube "
                f"(1..{n_voxels}); got {indices.min()}..{indices.max()}"
            )
        flat = np.zeros(n_voxels, dtype=bool)
        flat[indices - 1] = True
        mask = flat.reshape(cube_shape, order="F").transpose(2, 0, 1)
        if kind == "TARGET":
            role = StructureRole.TARGET
        elif name.lower() in _EXTERNAL_NAMES:
            role = StructureRole.EXTERNAL
        else:
            role = StructureRole.ORGAN_AT_RISK
        result.append(
            Structure(name=name, mask=mask, grid=grid, role=role, color=_color(row, cst.shape[1]))
        )
    return result


def _indices(value: Any, name: str) -> NDArray[np.int64]:
    """Voxel indices of the first CT scenario from a ``cst`` column-4 cell."""
    value = _unwrap(value)
    if isinstance(value, np.ndarray) and value.dtype == object:
        elements = list(value.flat)
        if all(np.isscalar(e) for e in elements):
            return np.asarray(elements, dtype=np.int64)
        logger.info("structure %r has %d CT scenarios; using the first", name, len(elements))
        return _indices(elements[0], name)
    return np.asarray(value, dtype=np.int64).ravel()


def _color(row: Any, n_columns: int) -> tuple[int, int, int] | None:
    if n_columns < 5:
        return None
    properties = _unwrap(row[4])
    if not isinstance(properties, np.ndarray) or properties.dtype.names is None:
        return None
    if "visibleColor" not in properties.dtype.names:
        return None
    rgb = np.asarray(_unwrap(properties["visibleColor"]), dtype=np.float64).ravel()
    if rgb.size != 3 or not np.all((rgb >= 0) & (rgb <= 1)):
        return None
    return tuple(round(c * 255) for c in rgb)  # type: ignore[return-value]


def read_matrad_objectives(path: str | PathLike[str]) -> tuple[MatradObjective, ...]:
    """The dose objectives stored in a matRad file's ``cst`` (column 6).

    Examples
    --------
    >>> import rtwin  # doctest: +SKIP
    >>> [o.structure for o in rtwin.io.read_matrad_objectives("TG119.mat")]  # doctest: +SKIP
    ['Core', 'OuterTarget', 'BODY']
    """
    _, content = _load(path)
    cst = content["cst"]
    objectives = []
    if cst.ndim != 2 or cst.shape[1] < 6:
        return ()
    for row in cst:
        name = _text(row[1])
        cell = row[5]
        entries = cell.ravel() if isinstance(cell, np.ndarray) and cell.dtype == object else [cell]
        for entry in entries:
            struct = _unwrap(entry)
            if not isinstance(struct, np.ndarray) or struct.dtype.names is None:
                continue
            fields = struct.dtype.names
            class_name = _text(struct["className"]) if "className" in fields else ""
            parameters: tuple[float, ...] = ()
            if "parameters" in fields:
                raw = _unwrap(struct["parameters"])
                if isinstance(raw, np.ndarray) and raw.dtype == object:
                    parameters = tuple(
                        float(np.asarray(_unwrap(p)).ravel()[0]) for p in raw.ravel()
                    )
                else:
                    parameters = tuple(float(v) for v in np.asarray(raw, dtype=np.float64).ravel())
            penalty = (
                float(np.asarray(_unwrap(struct["penalty"])).ravel()[0])
                if "penalty" in fields
                else 1.0
            )
            objectives.append(
                MatradObjective(
                    structure=name, class_name=class_name, parameters=parameters, penalty=penalty
                )
            )
    return tuple(objectives)
