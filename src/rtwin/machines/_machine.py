"""`PhotonMachine`: the calibrated photon pencil-beam machine, its tables and water doses."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import resources
from os import PathLike
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from rtwin.machines._errors import MachineError
from rtwin.machines._measurements import check_ssd, field_pair
from rtwin.machines._model import (
    COMPONENT_NAMES,
    MODEL_ID,
    PARAMETER_NAMES,
    PhotonKernelParameters,
    central_axis_maximum,
    lateral_sigmas,
    relative_amplitudes,
    relative_aperture_dose,
)

__all__ = ["KernelTables", "PhotonMachine", "generic_6mv", "read_photon_machine"]

FILE_FORMAT = "rtwin.photon_machine"
FILE_FORMAT_VERSION = 1

CALIBRATION_CONVENTION = (
    "a weight of 1 on every bixel of a 10 cm x 10 cm field (at the isocentre plane) with "
    "SSD = SAD gives reference_dose_gy at d_max on the central axis in water"
)


class _FrozenMapping(Mapping[str, str]):
    """A read-only, hashable ``str → str`` mapping (machines are values)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(tuple(sorted(self._items.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._items) == dict(other)

    def __repr__(self) -> str:
        return f"{self._items!r}"


def _positive(value: object, name: str, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise MachineError(f"PhotonMachine: {name} must be a number in {unit}; got {value!r}")
    result = float(value)
    if not (math.isfinite(result) and result > 0.0):
        raise MachineError(f"PhotonMachine: {name} = {result!r} {unit} must be > 0")
    return result


def _read_only(array: NDArray[np.float64]) -> NDArray[np.float64]:
    array.flags.writeable = False
    return array


class KernelTables(NamedTuple):
    """The machine's kernel on a depth grid: what the dose engine's kernel interpolates.

    A typed pair, so ``amplitudes, sigmas = machine.kernel_tables(depths_mm)`` works.

    Attributes
    ----------
    amplitudes_gy
        A_i(d): calibrated depth functions (Gy per unit weight, inverse square
        not included), shape ``(n_components, n_depths)``.
    sigmas_mm
        σ_i(d): lateral Gaussian widths in the plane of the voxel (mm), shape
        ``(n_components, n_depths)``.

    Notes
    -----
    For a bixel of weight w and side W (H) in the isocentre plane, and a voxel
    at radiological depth d, at distance z from the source along the beam axis
    (g = z / SAD) and offset (u, v) from the bixel centre, *measured in the
    isocentre plane*, the engine evaluates::

        dose = w · g⁻² · Σ_i A_i(d) · E(g·u; g·W, σ_i(d)) · E(g·v; g·H, σ_i(d))
        E(x; L, σ) = ½ [erf((x + L/2)/(√2 σ)) − erf((x − L/2)/(√2 σ))]

    with A_i and σ_i interpolated linearly in d. Everything (offsets, bixel
    size, widths) is compared in the voxel's plane. The plain-numpy reference
    of this formula is :meth:`PhotonMachine.bixel_dose`.

    Examples
    --------
    >>> import numpy as np
    >>> from rtwin.machines import generic_6mv
    >>> amplitudes, sigmas = generic_6mv().kernel_tables(np.arange(0.0, 301.0, 1.0))
    >>> amplitudes.shape, sigmas.shape
    ((4, 301), (4, 301))
    """

    amplitudes_gy: NDArray[np.float64]
    sigmas_mm: NDArray[np.float64]


@dataclass(frozen=True, slots=True, kw_only=True)
class PhotonMachine:
    """A photon beam model for rtwin's finite-size pencil-beam dose engine.

    Parameters
    ----------
    name
        Name shown in plans and provenance.
    nominal_energy_mv
        Nominal accelerating potential (MV), e.g. 6.
    parameters
        The model's seven numbers (:class:`PhotonKernelParameters`).
    source_axis_distance_mm
        Source-axis distance, SAD (mm).
    reference_dose_gy
        Dose per unit weight under the calibration convention (Gy), see Notes.
    sources
        Where each parameter comes from, ``{parameter name: text}``; names left
        out read ``"not stated"``.
    description
        Free text (how the machine was made).

    Attributes
    ----------
    calibration_gy
        The absolute amplitude a (Gy per unit weight) that makes the convention
        hold; computed, not given.

    Notes
    -----
    **Model.** A bixel is a square (or rectangle) of uniform fluence in the
    isocentre plane. Its dose at radiological depth d is a sum of four
    components i with a depth function A_i(d) and a lateral Gaussian of width
    σ_i(d) in the voxel's plane, integrated analytically over the bixel
    projected to that plane (products of erf differences, see
    :class:`KernelTables`), times the inverse square (SAD/z)²::

        A_p(d) = a · β_p/(β_p − μ) · (e^{−μd} − e^{−β_p d})          primary
        A_s(d) = a · r_s · β_s/(β_s − μ) · (e^{−μd} − e^{−β_s d})    phantom scatter
        σ_p(d) = σ_p;      λ(d) = λ_0 + κ d
        scatter j = 1..3:  amplitude w_j A_s(d), width c_j λ(d)

    The depth functions are the analytic depth dependence of Bortfeld,
    Schlegel & Rhein's decomposed kernels: an exponentially attenuated
    fluence whose energy is deposited over a forward range 1/β (secondary
    electrons for the primary, scattered photons for the scatter). The scatter
    kernel has Ahnesjö's radial form b e^{−br}/(2πr) with b = 1/λ(d),
    represented by three Gaussians with fixed weights w_j and widths c_j
    (:data:`~rtwin.machines.SCATTER_WEIGHTS`,
    :data:`~rtwin.machines.SCATTER_WIDTH_FACTORS`) so that the dose engine keeps
    closed-form erf integrals. The primary width σ_p lumps the source /
    collimator penumbra blur and the lateral secondary-electron transport; it
    is constant with depth, so the tables depend on depth only. Heterogeneity
    enters only through d.

    **Calibration.** A weight is a fluence: a weight of 1 on every bixel of
    a 10 cm × 10 cm field (at the isocentre plane) with SSD = SAD gives
    ``reference_dose_gy`` (default 1 Gy) at d_max on the central axis in water
    — the analogue of 1 cGy/MU with 100 MU. The dose of a uniform field does
    not depend on the bixel size.

    **Conventions.** Field sizes are in cm at the isocentre plane (the
    collimator setting); at SSD = SAD they are the field size at the surface.
    PDDs are in percent of the central-axis maximum of the same field.

    **Limits.** No electron contamination: the surface dose is zero and
    d_max moves slightly deeper (not shallower, as measured) with field size.
    No head scatter (S_c): output changes with field size through phantom
    scatter only. No lateral electron disequilibrium in lung (pencil-beam
    limit; see Knöös et al. 1995). The penumbra comes from σ_p (a prior unless
    profiles were fitted) and the scatter; its geometric growth with distance
    from the collimator is not modelled. Off-axis softening and horns are
    not modelled.

    References
    ----------
    .. [1] T. Bortfeld, W. Schlegel, B. Rhein, "Decomposition of pencil beam
       kernels for fast dose calculations in three-dimensional treatment
       planning", Med. Phys. 20, 311-318 (1993). doi:10.1118/1.597070
    .. [2] A. Ahnesjö, M. Saxner, A. Trepp, "A pencil beam model for photon
       dose calculation", Med. Phys. 19, 263-273 (1992).
    .. [3] A. Ahnesjö, M. M. Aspradakis, "Dose calculations for external photon
       beams in radiotherapy", Phys. Med. Biol. 44, R99-R155 (1999).
       doi:10.1088/0031-9155/44/11/201
    .. [4] T. Nyholm, J. Olofsson, A. Ahnesjö, M. Karlsson, "Photon pencil
       kernel parameterisation based on beam quality index", Radiother.
       Oncol. 78, 347-351 (2006).

    Examples
    --------
    >>> from rtwin.machines import generic_6mv
    >>> machine = generic_6mv()
    >>> machine.central_axis_pdd(field_size_cm=10, depths_cm=[10, 20]).round(1).tolist()
    [67.7, 39.0]
    >>> round(machine.depth_of_maximum_cm(field_size_cm=10), 2)
    1.49
    >>> float(machine.dose_in_water(field_size_cm=10, depths_cm=1.49).round(3))
    1.0
    """

    name: str
    nominal_energy_mv: float
    parameters: PhotonKernelParameters
    source_axis_distance_mm: float = 1000.0
    reference_dose_gy: float = 1.0
    sources: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    calibration_gy: float = field(init=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise MachineError(f"PhotonMachine: name must be a non-empty string; got {self.name!r}")
        if not isinstance(self.parameters, PhotonKernelParameters):
            raise MachineError(
                f"PhotonMachine: parameters must be PhotonKernelParameters; got "
                f"{type(self.parameters).__name__}"
            )
        energy = _positive(self.nominal_energy_mv, "nominal_energy_mv", "MV")
        if energy > 50.0:
            raise MachineError(
                f"PhotonMachine: nominal_energy_mv = {energy:g} MV; give MV (6, not 6000 kV)"
            )
        sad = _positive(self.source_axis_distance_mm, "source_axis_distance_mm", "mm")
        if not 300.0 <= sad <= 2000.0:
            raise MachineError(
                f"PhotonMachine: source_axis_distance_mm = {sad:g} mm is outside [300, 2000] mm; "
                f"give mm (1000)"
            )
        reference = _positive(self.reference_dose_gy, "reference_dose_gy", "Gy")
        try:
            given = {str(key): str(value) for key, value in dict(self.sources).items()}
        except (TypeError, ValueError):
            raise MachineError(
                f"PhotonMachine: sources must map parameter names to text; got {self.sources!r}"
            ) from None
        unknown = sorted(set(given) - set(PARAMETER_NAMES))
        if unknown:
            raise MachineError(
                f"PhotonMachine: sources name unknown parameter(s) {unknown}; valid: "
                f"{list(PARAMETER_NAMES)}"
            )
        sources = {name: given.get(name, "not stated") for name in PARAMETER_NAMES}
        object.__setattr__(self, "nominal_energy_mv", energy)
        object.__setattr__(self, "source_axis_distance_mm", sad)
        object.__setattr__(self, "reference_dose_gy", reference)
        object.__setattr__(self, "sources", _FrozenMapping(sources))
        object.__setattr__(self, "description", str(self.description))
        _, unit_dose = central_axis_maximum(
            self.parameters, sad_mm=sad, ssd_mm=sad, field_u_mm=100.0, field_v_mm=100.0
        )
        object.__setattr__(self, "calibration_gy", reference / unit_dose)

    # ------------------------------------------------------------------ description
    @property
    def energy_label(self) -> str:
        """E.g. ``"6 MV"``."""
        return f"{self.nominal_energy_mv:g} MV"

    @property
    def component_names(self) -> tuple[str, ...]:
        """Names of the lateral components, in table order."""
        return COMPONENT_NAMES

    @property
    def n_components(self) -> int:
        """Number of lateral components (4)."""
        return len(COMPONENT_NAMES)

    def with_parameters(self, **changes: float) -> PhotonMachine:
        """A recalibrated copy with some model parameters changed (sources say so)."""
        parameters = self.parameters.with_values(**changes)
        sources = dict(self.sources)
        for name in changes:
            sources[name] = "set by hand (with_parameters)"
        return PhotonMachine(
            name=self.name,
            nominal_energy_mv=self.nominal_energy_mv,
            parameters=parameters,
            source_axis_distance_mm=self.source_axis_distance_mm,
            reference_dose_gy=self.reference_dose_gy,
            sources=sources,
            description=self.description,
        )

    # ------------------------------------------------------------------ engine tables
    def depth_amplitudes_gy(self, depths_mm: ArrayLike) -> NDArray[np.float64]:
        """A_i(d) (Gy per unit weight, no inverse square); shape ``(4, *depths.shape)``."""
        return self.calibration_gy * relative_amplitudes(self.parameters, _depths(depths_mm))

    def lateral_sigmas_mm(self, depths_mm: ArrayLike) -> NDArray[np.float64]:
        """σ_i(d), the Gaussian widths in the voxel's plane (mm); shape ``(4, *depths.shape)``."""
        return lateral_sigmas(self.parameters, _depths(depths_mm))

    def kernel_tables(self, depths_mm: ArrayLike) -> KernelTables:
        """Tabulate A_i(d) and σ_i(d) on a depth grid for the dose engine.

        Parameters
        ----------
        depths_mm
            Radiological depths (mm), strictly increasing, ``(n_depths,)``.

        Returns
        -------
        KernelTables
            ``(amplitudes_gy, sigmas_mm)``, read-only, each ``(n_components, n_depths)``;
            see :class:`KernelTables` for the formula the engine applies.

        Raises
        ------
        MachineError
            If the grid is not 1-D, has fewer than two depths or does not increase.
        """
        depths = _depths(depths_mm)
        if depths.ndim != 1 or depths.size < 2 or np.any(np.diff(depths) <= 0):
            raise MachineError(
                f"kernel_tables: depths_mm must be a strictly increasing 1-D grid of at least two "
                f"depths; got shape {depths.shape}"
            )
        return KernelTables(
            amplitudes_gy=_read_only(self.depth_amplitudes_gy(depths)),
            sigmas_mm=_read_only(self.lateral_sigmas_mm(depths)),
        )

    def bixel_dose(
        self,
        *,
        depth_mm: ArrayLike,
        distance_mm: ArrayLike,
        u_mm: ArrayLike,
        v_mm: ArrayLike,
        bixel_width_mm: float | tuple[float, float] = 5.0,
    ) -> NDArray[np.float64]:
        """Dose per unit weight of one bixel: the engine's formula in plain numpy.

        Parameters
        ----------
        depth_mm
            Radiological depth of the voxel (mm).
        distance_mm
            Distance from the source to the voxel along the beam axis (mm).
        u_mm, v_mm
            The voxel's offset from the bixel centre in the isocentre plane (mm):
            its lateral beam-frame coordinates times SAD / distance, minus the
            bixel centre.
        bixel_width_mm
            Bixel side in the isocentre plane (mm), or ``(width_u, width_v)``.

        Returns
        -------
        numpy.ndarray
            Gy per unit weight, broadcast over the inputs.

        Examples
        --------
        >>> from rtwin.machines import generic_6mv
        >>> machine = generic_6mv()  # a 5 mm bixel at 5 cm depth, SSD 100 cm, on its axis
        >>> float(machine.bixel_dose(depth_mm=50.0, distance_mm=1050.0, u_mm=0.0, v_mm=0.0).round(3))
        0.317
        """
        width_u, width_v = _bixel_widths(bixel_width_mm)
        return self.calibration_gy * relative_aperture_dose(
            self.parameters,
            sad_mm=self.source_axis_distance_mm,
            depth_mm=_depths(depth_mm),
            distance_mm=_distances(distance_mm),
            u_mm=u_mm,
            v_mm=v_mm,
            width_u_mm=width_u,
            width_v_mm=width_v,
        )

    # ------------------------------------------------------------------ water phantom
    def dose_in_water(
        self,
        *,
        field_size_cm: float | tuple[float, float],
        depths_cm: ArrayLike,
        ssd_cm: float = 100.0,
        x_cm: ArrayLike = 0.0,
        y_cm: ArrayLike = 0.0,
        method: Literal["analytic", "bixels"] = "analytic",
        bixel_width_mm: float = 5.0,
    ) -> NDArray[np.float64]:
        """Dose (Gy per unit weight) of an open field centred on the axis in a water phantom.

        Parameters
        ----------
        field_size_cm
            Square side or ``(x, y)`` (cm, isocentre plane).
        depths_cm
            Depths below the surface (cm).
        ssd_cm
            Source-to-surface distance (cm).
        x_cm, y_cm
            Off-axis position in the plane at that depth (cm); broadcast with depths.
        method
            ``"analytic"``: one erf aperture over the whole field; ``"bixels"``: sum
            of ``bixel_width_mm`` bixels of weight 1 tiling the field (the engine's
            way). Identical by linearity of the integral.
        bixel_width_mm
            Bixel side (mm) for ``method="bixels"``; must tile the field.

        Returns
        -------
        numpy.ndarray
            Dose per unit weight (Gy), shape of the broadcast inputs.

        Raises
        ------
        MachineError
            For an unknown method or bixels that do not tile the field.
        """
        field_x, field_y = (10.0 * side for side in field_pair(field_size_cm, "dose_in_water"))
        ssd_mm = 10.0 * check_ssd(ssd_cm, "dose_in_water")
        depth = 10.0 * np.asarray(depths_cm, dtype=np.float64)
        if np.any(depth < 0.0) or not np.all(np.isfinite(depth)):
            raise MachineError("dose_in_water: depths_cm must be finite and >= 0 (cm)")
        x = 10.0 * np.asarray(x_cm, dtype=np.float64)
        y = 10.0 * np.asarray(y_cm, dtype=np.float64)
        depth, x, y = np.broadcast_arrays(depth, x, y)
        distance = ssd_mm + depth
        u = x * self.source_axis_distance_mm / distance
        v = y * self.source_axis_distance_mm / distance
        if method == "analytic":
            relative = relative_aperture_dose(
                self.parameters,
                sad_mm=self.source_axis_distance_mm,
                depth_mm=depth,
                distance_mm=distance,
                u_mm=u,
                v_mm=v,
                width_u_mm=field_x,
                width_v_mm=field_y,
            )
            return self.calibration_gy * relative
        if method != "bixels":
            raise MachineError(
                f"dose_in_water: unknown method {method!r}; use 'analytic' or 'bixels'"
            )
        width = _positive(bixel_width_mm, "bixel_width_mm", "mm")
        centres_u = _bixel_centres(field_x, width)
        centres_v = _bixel_centres(field_y, width)
        total = np.zeros(depth.shape, dtype=np.float64)
        for centre_v in centres_v:
            # all bixels of one row at once: axis 0 runs over the row's bixels
            total += relative_aperture_dose(
                self.parameters,
                sad_mm=self.source_axis_distance_mm,
                depth_mm=depth[None],
                distance_mm=distance[None],
                u_mm=u[None] - centres_u.reshape((-1,) + (1,) * u.ndim),
                v_mm=v[None] - centre_v,
                width_u_mm=width,
                width_v_mm=width,
            ).sum(axis=0)
        return self.calibration_gy * total

    def depth_of_maximum_cm(
        self, *, field_size_cm: float | tuple[float, float], ssd_cm: float = 100.0
    ) -> float:
        """Depth of the central-axis maximum (cm) of an open field in water."""
        field_x, field_y = field_pair(field_size_cm, "depth_of_maximum_cm")
        depth_mm, _ = central_axis_maximum(
            self.parameters,
            sad_mm=self.source_axis_distance_mm,
            ssd_mm=10.0 * check_ssd(ssd_cm, "depth_of_maximum_cm"),
            field_u_mm=10.0 * field_x,
            field_v_mm=10.0 * field_y,
        )
        return depth_mm / 10.0

    def central_axis_pdd(
        self,
        *,
        field_size_cm: float | tuple[float, float],
        depths_cm: ArrayLike,
        ssd_cm: float = 100.0,
    ) -> NDArray[np.float64]:
        """Percentage depth dose: percent of the central-axis maximum of the same field."""
        field_x, field_y = field_pair(field_size_cm, "central_axis_pdd")
        ssd = check_ssd(ssd_cm, "central_axis_pdd")
        _, maximum = central_axis_maximum(
            self.parameters,
            sad_mm=self.source_axis_distance_mm,
            ssd_mm=10.0 * ssd,
            field_u_mm=10.0 * field_x,
            field_v_mm=10.0 * field_y,
        )
        dose = self.dose_in_water(field_size_cm=(field_x, field_y), depths_cm=depths_cm, ssd_cm=ssd)
        return 100.0 * dose / (self.calibration_gy * maximum)

    def profile(
        self,
        *,
        field_size_cm: float | tuple[float, float],
        depth_cm: float,
        off_axis_cm: ArrayLike,
        ssd_cm: float = 100.0,
        axis: Literal["x", "y"] = "x",
    ) -> NDArray[np.float64]:
        """Lateral profile in percent of the central-axis dose at the same depth.

        ``off_axis_cm`` is measured in the plane at ``depth_cm`` (cm); ``axis``
        is ``"x"`` (crossplane) or ``"y"`` (inplane).

        Examples
        --------
        >>> from rtwin.machines import generic_6mv
        >>> machine = generic_6mv()  # 10 x 10 at SSD 100: the field edge at 10 cm depth is 5.5 cm
        >>> machine.profile(field_size_cm=10, depth_cm=10, off_axis_cm=[0.0, 5.5]).round(1).tolist()
        [100.0, 51.2]
        """
        if axis not in ("x", "y"):
            raise MachineError(f"profile: axis must be 'x' or 'y'; got {axis!r}")
        positions = np.asarray(off_axis_cm, dtype=np.float64)
        if not np.all(np.isfinite(positions)):
            raise MachineError("profile: off_axis_cm must be finite (cm)")
        depth = float(depth_cm)
        lateral = {"x_cm": positions} if axis == "x" else {"y_cm": positions}
        dose = self.dose_in_water(
            field_size_cm=field_size_cm,
            depths_cm=np.full_like(positions, depth),
            ssd_cm=ssd_cm,
            **lateral,
        )
        centre = self.dose_in_water(field_size_cm=field_size_cm, depths_cm=depth, ssd_cm=ssd_cm)
        return 100.0 * dose / centre

    # ------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description (the machine file's content)."""
        return {
            "format": FILE_FORMAT,
            "format_version": FILE_FORMAT_VERSION,
            "model": MODEL_ID,
            "name": self.name,
            "nominal_energy_mv": self.nominal_energy_mv,
            "source_axis_distance_mm": self.source_axis_distance_mm,
            "reference_dose_gy": self.reference_dose_gy,
            "calibration": CALIBRATION_CONVENTION,
            "calibration_gy": self.calibration_gy,
            "parameters": self.parameters.as_dict(),
            "sources": dict(self.sources),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, content: Mapping[str, Any], *, origin: str = "machine") -> PhotonMachine:
        """Rebuild from :meth:`to_dict` output; checks format, model and calibration."""
        if not isinstance(content, Mapping):
            raise MachineError(f"{origin}: expected a JSON object; got {type(content).__name__}")
        if (
            content.get("format") != FILE_FORMAT
            or content.get("format_version") != FILE_FORMAT_VERSION
        ):
            raise MachineError(
                f"{origin}: format {content.get('format')!r} version "
                f"{content.get('format_version')!r} is not {FILE_FORMAT!r} version "
                f"{FILE_FORMAT_VERSION}; write the file with PhotonMachine.write_json"
            )
        if content.get("model") != MODEL_ID:
            raise MachineError(
                f"{origin}: model {content.get('model')!r} is not this rtwin's {MODEL_ID!r}; "
                f"refit the machine with rtwin.machines.fit_photon_machine"
            )
        missing = [
            key
            for key in (
                "name",
                "nominal_energy_mv",
                "source_axis_distance_mm",
                "reference_dose_gy",
                "parameters",
            )
            if key not in content
        ]
        if missing:
            raise MachineError(f"{origin}: missing key(s) {missing}")
        machine = cls(
            name=content["name"],
            nominal_energy_mv=content["nominal_energy_mv"],
            parameters=PhotonKernelParameters.from_mapping(content["parameters"]),
            source_axis_distance_mm=content["source_axis_distance_mm"],
            reference_dose_gy=content["reference_dose_gy"],
            sources=content.get("sources", {}),
            description=content.get("description", ""),
        )
        stored = content.get("calibration_gy")
        if stored is not None and not math.isclose(
            float(stored), machine.calibration_gy, rel_tol=1e-6
        ):
            raise MachineError(
                f"{origin}: stored calibration_gy {float(stored)!r} differs from the one the "
                f"parameters give ({machine.calibration_gy!r}); the file was edited or written "
                f"by another model version. Remove calibration_gy or refit"
            )
        return machine

    def write_json(self, path: str | PathLike[str]) -> Path:
        """Write the machine file (UTF-8 JSON); returns the path."""
        target = Path(path)
        target.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return target


def read_photon_machine(path: str | PathLike[str]) -> PhotonMachine:
    """Read a machine file written by :meth:`PhotonMachine.write_json`.

    Raises
    ------
    MachineError
        If the file is not valid JSON or not an rtwin photon machine of this model.
    """
    source = Path(path)
    try:
        content = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise MachineError(f"{source}: not valid JSON ({error})") from None
    return PhotonMachine.from_dict(content, origin=str(source))


def generic_6mv() -> PhotonMachine:
    """rtwin's generic 6 MV machine, fitted to the BJR Supplement 25 6 MV depth doses.

    The shipped file is the output of :func:`~rtwin.machines.fit_photon_machine`
    on the six BJR-25 points (PDD at 10 and 20 cm for 6, 7 and 10 cm fields,
    SSD 100 cm) with the default priors and the d_max ≈ 1.5 cm soft constraint;
    ``python -m rtwin.machines._build_generic`` rewrites it.

    Examples
    --------
    >>> from rtwin.machines import generic_6mv
    >>> machine = generic_6mv()
    >>> machine.energy_label, machine.source_axis_distance_mm
    ('6 MV', 1000.0)
    """
    text = resources.files("rtwin.machines").joinpath("data/generic_6mv.json").read_text("utf-8")
    return PhotonMachine.from_dict(json.loads(text), origin="rtwin.machines data/generic_6mv.json")


# ---------------------------------------------------------------------------- helpers
def _depths(depths_mm: ArrayLike) -> NDArray[np.float64]:
    depths = np.asarray(depths_mm, dtype=np.float64)
    if not np.all(np.isfinite(depths)):
        raise MachineError("depths_mm must be finite (mm)")
    return depths


def _distances(distance_mm: ArrayLike) -> NDArray[np.float64]:
    distance = np.asarray(distance_mm, dtype=np.float64)
    if not np.all(np.isfinite(distance)) or np.any(distance <= 0.0):
        raise MachineError("distance_mm (source to voxel along the beam axis) must be > 0 mm")
    return distance


def _bixel_widths(value: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(value, tuple | list):
        if len(value) != 2:
            raise MachineError(f"bixel_width_mm must be one width or (u, v); got {value!r}")
        return (
            _positive(value[0], "bixel_width_mm", "mm"),
            _positive(value[1], "bixel_width_mm", "mm"),
        )
    width = _positive(value, "bixel_width_mm", "mm")
    return width, width


def _bixel_centres(field_mm: float, width_mm: float) -> NDArray[np.float64]:
    count = round(field_mm / width_mm)
    if count < 1 or abs(count * width_mm - field_mm) > 1e-6 * field_mm:
        raise MachineError(
            f"bixels of {width_mm:g} mm do not tile a {field_mm / 10:g} cm field side; use "
            f"method='analytic' or a bixel width that divides {field_mm:g} mm"
        )
    return (np.arange(count) + 0.5) * width_mm - 0.5 * field_mm
