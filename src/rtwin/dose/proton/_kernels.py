"""numba kernels of the proton pencil beam (private; called through ``ProtonPencilBeam``).

Shared arguments of :func:`count_entries` and :func:`fill_entries`:

``coords``
    ``(n_beams, n_rows, 4)`` float64: per beam and dose voxel the projection
    ``(u, v)`` of the voxel to the isocentre plane from the virtual source
    (mm, minus the beam's lattice offset), ``g`` = the voxel's distance from
    the source along the central axis / SAD, and its water-equivalent depth
    (mm; negative = the beam gives no dose there).
``lut``
    ``(n_layers, n_u, n_v)`` int32: column of the spot at lattice cell
    ``(iu, iv)`` of each layer, or −1; layers of one beam are consecutive,
    in column order.
``layer_origin``
    ``(n_layers, 2)`` int64: lattice index of ``lut[layer, 0, 0]``.
``beam_layers``
    ``(n_beams + 1,)`` int64: the layers of beam ``b`` are
    ``beam_layers[b]:beam_layers[b + 1]``.
``layer_table``
    ``(n_layers,)`` int64: row of each layer in the depth tables.
``idd``
    ``(n_energies, n_depths)`` float64: dose per unit spot weight integrated
    over the plane, Gy·mm², on depths ``0, step, 2 step, …``.
``sigma``
    ``(n_energies, n_depths)`` float64: lateral σ in mm on the same depths.
``last_depth``
    ``(n_energies,)`` float64: depth (mm) from which the IDD is zero.
``radius_factor_squared``
    ``R²/σ²`` of the lateral cutoff circle (``−2 ln f`` drops a fraction f).
"""

from __future__ import annotations

import math

import numpy as np

from rtwin._numba import jit, prange

_TWO_PI = 2.0 * math.pi


@jit
def _row_entries(
    coords,
    row,
    lut,
    layer_origin,
    beam_layers,
    layer_table,
    spacing_mm,
    depth_step_mm,
    idd,
    sigma,
    last_depth,
    radius_factor_squared,
    columns,
    values,
    start,
    stop,
    write,
):  # pragma: no cover - jit
    """Visit the entries of one row in column order; write them when ``write``; return the count.

    Dose per unit weight of a spot at lateral distance r (mm, at the voxel)
    is idd(d) · exp(−r²/2σ²)/(2πσ²); entries with r² > radius_factor² σ² or
    with zero IDD are skipped.
    """
    n_beams = coords.shape[0]
    n_depths = idd.shape[1]
    n_u = lut.shape[1]
    n_v = lut.shape[2]
    position = start
    for beam in range(n_beams):
        depth = coords[beam, row, 3]
        if not depth >= 0.0:
            continue
        u = coords[beam, row, 0]
        v = coords[beam, row, 1]
        g = coords[beam, row, 2]
        sample = depth / depth_step_mm
        low = int(sample)
        if low + 1 >= n_depths:
            continue
        frac = sample - low
        for layer in range(beam_layers[beam], beam_layers[beam + 1]):
            table = layer_table[layer]
            if depth >= last_depth[table]:
                continue
            dose_integral = idd[table, low] * (1.0 - frac) + idd[table, low + 1] * frac
            if not dose_integral > 0.0:
                continue
            s = sigma[table, low] * (1.0 - frac) + sigma[table, low + 1] * frac
            s2 = s * s
            limit2 = radius_factor_squared * s2
            reach = math.sqrt(limit2) / g  # in the isocentre plane
            origin_u = layer_origin[layer, 0]
            origin_v = layer_origin[layer, 1]
            iu_low = max(int(math.ceil((u - reach) / spacing_mm)) - origin_u, 0)
            iu_high = min(int(math.floor((u + reach) / spacing_mm)) - origin_u, n_u - 1)
            iv_low = max(int(math.ceil((v - reach) / spacing_mm)) - origin_v, 0)
            iv_high = min(int(math.floor((v + reach) / spacing_mm)) - origin_v, n_v - 1)
            amplitude = dose_integral / (_TWO_PI * s2)
            exponent = -0.5 / s2
            for iv in range(iv_low, iv_high + 1):
                dv = (v - (iv + origin_v) * spacing_mm) * g
                dv2 = dv * dv
                if dv2 > limit2:
                    continue
                for iu in range(iu_low, iu_high + 1):
                    column = lut[layer, iu, iv]
                    if column < 0:
                        continue
                    du = (u - (iu + origin_u) * spacing_mm) * g
                    r2 = du * du + dv2
                    if r2 > limit2:
                        continue
                    if write:
                        if position >= stop:
                            return position - start + 1  # the caller detects the overflow
                        columns[position] = column
                        values[position] = amplitude * math.exp(r2 * exponent)
                    position += 1
    return position - start


@jit(parallel=True)
def count_entries(
    coords,
    lut,
    layer_origin,
    beam_layers,
    layer_table,
    spacing_mm,
    depth_step_mm,
    idd,
    sigma,
    last_depth,
    radius_factor_squared,
):  # pragma: no cover - jit
    """Pass 1: the number of matrix entries of each row, ``(n_rows,)`` int64."""
    n_rows = coords.shape[1]
    counts = np.zeros(n_rows, dtype=np.int64)
    no_columns = np.zeros(0, dtype=np.int32)
    no_values = np.zeros(0, dtype=np.float32)
    for row in prange(n_rows):
        counts[row] = _row_entries(
            coords,
            row,
            lut,
            layer_origin,
            beam_layers,
            layer_table,
            spacing_mm,
            depth_step_mm,
            idd,
            sigma,
            last_depth,
            radius_factor_squared,
            no_columns,
            no_values,
            0,
            0,
            False,
        )
    return counts


@jit(parallel=True)
def fill_entries(
    coords,
    lut,
    layer_origin,
    beam_layers,
    layer_table,
    spacing_mm,
    depth_step_mm,
    idd,
    sigma,
    last_depth,
    radius_factor_squared,
    row_start,
    columns,
    values,
):  # pragma: no cover - jit
    """Pass 2: columns (increasing per row) and float32 values written straight into CSR.

    Row ``r`` fills ``columns[row_start[r]:row_start[r + 1]]``; returns the
    number written per row (equal to pass 1's counts).
    """
    n_rows = coords.shape[1]
    written = np.zeros(n_rows, dtype=np.int64)
    for row in prange(n_rows):
        written[row] = _row_entries(
            coords,
            row,
            lut,
            layer_origin,
            beam_layers,
            layer_table,
            spacing_mm,
            depth_step_mm,
            idd,
            sigma,
            last_depth,
            radius_factor_squared,
            columns,
            values,
            row_start[row],
            row_start[row + 1],
            True,
        )
    return written
