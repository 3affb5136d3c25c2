"""Beams: :class:`Beam` (IEC 61217 angles), :func:`equispaced` arrangements, beamlet layouts.

Examples
--------
>>> import rtwin
>>> [b.name for b in rtwin.beams.equispaced(4, isocenter_mm=(0, 0, 0))]
['G000', 'G090', 'G180', 'G270']
"""

from rtwin.beams._beam import Beam, BeamModality, equispaced
from rtwin.beams._layout import photon_bixel_positions, project_to_isocenter_plane

__all__ = [
    "Beam",
    "BeamModality",
    "equispaced",
    "photon_bixel_positions",
    "project_to_isocenter_plane",
]
