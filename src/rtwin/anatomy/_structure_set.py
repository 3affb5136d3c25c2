"""A read-only, name-keyed collection of structures on one grid."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from rtwin.anatomy._structure import Structure, StructureRole
from rtwin.errors import StructureError, StructureNotFoundError
from rtwin.geometry import Grid

__all__ = ["StructureSet"]


@dataclass(frozen=True, slots=True, eq=False, init=False)
class StructureSet(Mapping[str, Structure]):
    """Structures by name, all on one grid; a read-only mapping.

    Parameters
    ----------
    structures
        Structures with unique names, all on the same grid.

    Raises
    ------
    StructureError
        Duplicate names, or structures on different grids.

    Examples
    --------
    >>> import rtwin
    >>> structures = rtwin.phantoms.water_box(size_mm=60, voxel_mm=5).structures
    >>> list(structures)
    ['Body', 'Target']
    >>> structures["PTV"]
    Traceback (most recent call last):
    ...
    rtwin.errors.StructureNotFoundError: structure 'PTV' not in the set; available: 'Body', 'Target'
    """

    _structures: dict[str, Structure] = field(repr=False)

    def __init__(self, structures: Iterable[Structure] = ()) -> None:
        items: dict[str, Structure] = {}
        grid: Grid | None = None
        for structure in structures:
            if not isinstance(structure, Structure):
                raise StructureError(
                    f"a StructureSet holds Structure objects; got {type(structure).__name__}"
                )
            if structure.name in items:
                raise StructureError(
                    f"structure name {structure.name!r} appears twice; names must be unique "
                    "(rename one with .renamed(...))"
                )
            if grid is None:
                grid = structure.grid
            elif not grid.is_same_as(structure.grid):
                raise StructureError(
                    f"structure {structure.name!r} is on {structure.grid!r} but the set's grid is "
                    f"{grid!r}; resample it first (structure.resampled(grid))"
                )
            items[structure.name] = structure
        object.__setattr__(self, "_structures", items)

    # Mapping protocol
    def __getitem__(self, name: str) -> Structure:
        try:
            return self._structures[name]
        except KeyError:
            raise StructureNotFoundError(
                f"structure {name!r} not in the set; available: {self._names_text()}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._structures)

    def __len__(self) -> int:
        return len(self._structures)

    def _names_text(self) -> str:
        return ", ".join(repr(n) for n in self._structures) or "(none)"

    # ------------------------------------------------------------------ queries
    @property
    def names(self) -> tuple[str, ...]:
        """Structure names in order."""
        return tuple(self._structures)

    @property
    def grid(self) -> Grid | None:
        """The common grid, or ``None`` for an empty set."""
        return next(iter(self._structures.values())).grid if self._structures else None

    def with_role(self, role: StructureRole | str) -> tuple[Structure, ...]:
        """All structures of one role."""
        wanted = StructureRole(role)
        return tuple(s for s in self._structures.values() if s.role is wanted)

    @property
    def targets(self) -> tuple[Structure, ...]:
        """Structures with role ``target``."""
        return self.with_role(StructureRole.TARGET)

    @property
    def organs_at_risk(self) -> tuple[Structure, ...]:
        """Structures with role ``organ_at_risk``."""
        return self.with_role(StructureRole.ORGAN_AT_RISK)

    @property
    def external(self) -> Structure | None:
        """The body outline (role ``external``), or ``None`` when the set has none."""
        found = self.with_role(StructureRole.EXTERNAL)
        return found[0] if found else None

    # ------------------------------------------------------------------ new sets
    def with_structures(self, *structures: Structure) -> StructureSet:
        """A new set with these structures added (replacing any of the same name)."""
        merged = dict(self._structures)
        for structure in structures:
            merged[structure.name] = structure
        return StructureSet(merged.values())

    def without(self, *names: str) -> StructureSet:
        """A new set without the named structures."""
        for name in names:
            self[name]  # raises with the available names
        return StructureSet(s for n, s in self._structures.items() if n not in names)

    def renamed(self, mapping: Mapping[str, str]) -> StructureSet:
        """A new set with structures renamed ``{old: new}``."""
        for old in mapping:
            self[old]
        return StructureSet(
            s.renamed(mapping[n]) if n in mapping else s for n, s in self._structures.items()
        )

    def resampled(self, grid: Grid) -> StructureSet:
        """Every structure on another grid (see :meth:`Structure.resampled`)."""
        return StructureSet(s.resampled(grid) for s in self._structures.values())

    def __repr__(self) -> str:
        inner = ", ".join(f"{n!r}: {s.volume_cc:.1f} cc" for n, s in self._structures.items())
        return f"StructureSet({{{inner}}})"
