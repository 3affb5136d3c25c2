"""numba kernels of the photon finite-size pencil beam (private)."""

from __future__ import annotations

import math

import numpy as np

from rtwin._numba import jit, prange

_SQRT2 = math.sqrt(2.0)


@jit
def _aperture_factor(offset, width, sigma):  # pragma: no cover - jit
    """1-D Gaussian of width sigma convolved with a unit slit of given width, at offset."""
    if sigma <= 0.0:
        half = 0.5 * width
        return 1.0 if -half <= offset < half else 0.0
    scale = 1.0 / (_SQRT2 * sigma)
    return 0.5 * (
        math.erf((offset + 0.5 * width) * scale) - math.erf((offset - 0.5 * width) * scale)
    )


@jit
def _interpolate(table, position):  # pragma: no cover - jit
    """Linear interpolation in a uniformly sampled 1-D table at a fractional index."""
    n = table.shape[0]
    if position <= 0.0:
        return table[0]
    if position >= n - 1:
        return table[n - 1]
    low = int(position)
    frac = position - low
    return table[low] * (1.0 - frac) + table[low + 1] * frac


@jit(parallel=True)
def count_entries(
    coords, lut, lattice_origin, bixel_mm, depth_step_mm, cutoff_mm
):  # pragma: no cover
    """Pass 1: number of matrix entries of each row (voxel).

    ``coords`` is ``(n_beams, n_rows, 4)``: ``u, v`` of the voxel projected
    to the isocentre plane (mm), ``g`` = distance from the source / SAD,
    radiological depth (mm; negative = no dose). ``lut`` is
    ``(n_beams, n_u, n_v)`` with the column of each lattice bixel or −1;
    ``lattice_origin`` ``(n_beams, 2)`` the lattice index of ``lut[b, 0, 0]``.
    ``cutoff_mm`` is the lateral reach beyond the bixel edge at each depth
    sample, in mm at the voxel's distance.
    """
    n_beams, n_rows, _ = coords.shape
    counts = np.zeros(n_rows, dtype=np.int64)
    for row in prange(n_rows):
        total = 0
        for beam in range(n_beams):
            depth = coords[beam, row, 3]
            if not depth >= 0.0:
                continue
            g = coords[beam, row, 2]
            reach = 0.5 * bixel_mm + _interpolate(cutoff_mm, depth / depth_step_mm) / g
            u = coords[beam, row, 0]
            v = coords[beam, row, 1]
            iu_low = int(math.ceil((u - reach) / bixel_mm)) - lattice_origin[beam, 0]
            iu_high = int(math.floor((u + reach) / bixel_mm)) - lattice_origin[beam, 0]
            iv_low = int(math.ceil((v - reach) / bixel_mm)) - lattice_origin[beam, 1]
            iv_high = int(math.floor((v + reach) / bixel_mm)) - lattice_origin[beam, 1]
            iu_low = max(iu_low, 0)
            iv_low = max(iv_low, 0)
            iu_high = min(iu_high, lut.shape[1] - 1)
            iv_high = min(iv_high, lut.shape[2] - 1)
            for iu in range(iu_low, iu_high + 1):
                for iv in range(iv_low, iv_high + 1):
                    if lut[beam, iu, iv] >= 0:
                        total += 1
        counts[row] = total
    return counts


@jit(parallel=True)
def fill_entries(
    coords,
    lut,
    lattice_origin,
    bixel_mm,
    depth_step_mm,
    cutoff_mm,
    amplitudes,
    sigmas_mm,
    row_start,
    columns,
    values,
):  # pragma: no cover - jit
    """Pass 2: columns and dose values of each row, in increasing column order per beam.

    ``amplitudes`` and ``sigmas_mm`` are ``(n_components, n_depths)``
    tables on the same depth samples as ``cutoff_mm``; dose per unit weight
    = g⁻² Σᵢ Aᵢ(d) Fᵢ(Δu) Fᵢ(Δv) with Fᵢ the Gaussian ⊗ slit factor of the
    bixel width at the voxel's distance. The 1-D factors are computed once
    per row, beam and lattice column/row (the kernel separates in u and v).
    Writes never pass a row's end (``row_start[row + 1]``); returns the
    number of entries each row produced so the caller can check them
    against pass 1.
    """
    n_beams, n_rows, _ = coords.shape
    n_components = amplitudes.shape[0]
    max_u = lut.shape[1]
    max_v = lut.shape[2]
    written = np.zeros(n_rows, dtype=np.int64)
    for row in prange(n_rows):
        position = row_start[row]
        limit = row_start[row + 1]
        factor_u = np.empty((n_components, max_u))
        factor_v = np.empty((n_components, max_v))
        amplitude = np.empty(n_components)
        for beam in range(n_beams):
            depth = coords[beam, row, 3]
            if not depth >= 0.0:
                continue
            g = coords[beam, row, 2]
            sample = depth / depth_step_mm
            reach = 0.5 * bixel_mm + _interpolate(cutoff_mm, sample) / g
            u = coords[beam, row, 0]
            v = coords[beam, row, 1]
            iu_low = max(int(math.ceil((u - reach) / bixel_mm)) - lattice_origin[beam, 0], 0)
            iu_high = min(
                int(math.floor((u + reach) / bixel_mm)) - lattice_origin[beam, 0], max_u - 1
            )
            iv_low = max(int(math.ceil((v - reach) / bixel_mm)) - lattice_origin[beam, 1], 0)
            iv_high = min(
                int(math.floor((v + reach) / bixel_mm)) - lattice_origin[beam, 1], max_v - 1
            )
            if iu_high < iu_low or iv_high < iv_low:
                continue
            inverse_square = 1.0 / (g * g)
            width = bixel_mm * g
            for c in range(n_components):
                amplitude[c] = _interpolate(amplitudes[c], sample) * inverse_square
                sigma = _interpolate(sigmas_mm[c], sample)
                for iu in range(iu_low, iu_high + 1):
                    du = (u - (iu + lattice_origin[beam, 0]) * bixel_mm) * g
                    factor_u[c, iu] = _aperture_factor(du, width, sigma)
                for iv in range(iv_low, iv_high + 1):
                    dv = (v - (iv + lattice_origin[beam, 1]) * bixel_mm) * g
                    factor_v[c, iv] = _aperture_factor(dv, width, sigma)
            for iv in range(iv_low, iv_high + 1):
                for iu in range(iu_low, iu_high + 1):
                    column = lut[beam, iu, iv]
                    if column < 0:
                        continue
                    if position < limit:
                        dose = 0.0
                        for c in range(n_components):
                            dose += amplitude[c] * factor_u[c, iu] * factor_v[c, iv]
                        columns[position] = column
                        values[position] = dose
                    position += 1
        written[row] = position - row_start[row]
    return written


# --------------------------------------------------------------------------- broad scatter
# The broad (σ of centimetres) kernel components are applied as a separable
# convolution of each beam's weight map on the bixel lattice (lattice_convolve
# and its adjoint), sampled at a geometric series of σ, and interpolated at
# every voxel by scatter_gather / scatter_spread: bilinear in the isocentre
# plane, linear in log σ. No BLAS: numpy's and scipy's OpenBLAS threads keep
# spinning after a call and would halve the numba kernels that follow.


@jit(parallel=True)
def lattice_convolve(maps, source_box, toeplitz_u, toeplitz_v, out):  # pragma: no cover - jit
    """``out[b, :, :, k] = T_u[k] · W_b · T_v[k]ᵀ`` on each beam's source box.

    ``maps`` ``(n_beams, NU, NV)`` holds each beam's weights on the lattice
    (non-zero only inside ``source_box[b] = (u0, u1, v0, v1)``, inclusive);
    ``toeplitz_u`` ``(K, NU, NU)`` and ``toeplitz_v`` ``(K, NV, NV)`` are the
    banded 1-D factors per σ sample. ``out`` ``(n_beams, NU, NV, K)`` is
    overwritten. Beams run in parallel; every sum has a fixed order.
    """
    n_beams, nu, nv, n_sigma = out.shape
    for b in prange(n_beams):
        u0 = source_box[b, 0]
        v0 = source_box[b, 2]
        ni = source_box[b, 1] - u0 + 1
        nj = source_box[b, 3] - v0 + 1
        box = np.empty((ni, nj))
        any_weight = False
        for i in range(ni):
            for j in range(nj):
                box[i, j] = maps[b, u0 + i, v0 + j]
                if box[i, j] != 0.0:
                    any_weight = True
        beam = out[b]
        if not any_weight:
            beam[:, :, :] = 0.0
            continue
        along_u = np.empty((nu, nj))
        plane = np.empty((nu, nv))
        for k in range(n_sigma):
            tu = toeplitz_u[k]
            tv = toeplitz_v[k]
            for u in range(nu):
                for j in range(nj):
                    along_u[u, j] = 0.0
                for i in range(ni):
                    factor = tu[u, u0 + i]
                    if factor == 0.0:
                        continue
                    for j in range(nj):
                        along_u[u, j] += factor * box[i, j]
            for u in range(nu):
                for v in range(nv):
                    plane[u, v] = 0.0
                for j in range(nj):
                    value = along_u[u, j]
                    if value == 0.0:
                        continue
                    row = tv[v0 + j]
                    for v in range(nv):
                        plane[u, v] += value * row[v]
            for u in range(nu):
                for v in range(nv):
                    beam[u, v, k] = plane[u, v]


@jit(parallel=True)
def lattice_convolve_adjoint(spread, source_box, toeplitz_u, toeplitz_v, out):  # pragma: no cover
    """Adjoint of :func:`lattice_convolve`: ``out[b]`` on the source box = Σ_k T_u[k]ᵀ S_bk T_v[k].

    ``spread`` ``(n_beams, NU, NV, K)``; only the source boxes of ``out``
    ``(n_beams, NU, NV)`` are written. Lattice rows of ``spread`` that are
    all zero (no voxel with a gradient projects near them) are skipped.
    """
    n_beams, nu, nv, n_sigma = spread.shape
    for b in prange(n_beams):
        u0 = source_box[b, 0]
        v0 = source_box[b, 2]
        ni = source_box[b, 1] - u0 + 1
        nj = source_box[b, 3] - v0 + 1
        total = np.zeros((ni, nj))
        plane = np.empty((nu, nv))
        along_v = np.empty((nu, nj))
        used = np.zeros(nu, dtype=np.bool_)
        beam = spread[b]
        for k in range(n_sigma):
            tu = toeplitz_u[k]
            tv = toeplitz_v[k]
            for u in range(nu):
                nonzero = False
                for v in range(nv):
                    value = beam[u, v, k]
                    plane[u, v] = value
                    if value != 0.0:
                        nonzero = True
                used[u] = nonzero
            for u in range(nu):
                if not used[u]:
                    continue
                for j in range(nj):
                    row = tv[v0 + j]
                    acc = 0.0
                    for v in range(nv):
                        acc += plane[u, v] * row[v]
                    along_v[u, j] = acc
            for i in range(ni):
                row = tu[u0 + i]
                for u in range(nu):
                    factor = row[u]
                    if not used[u] or factor == 0.0:
                        continue
                    for j in range(nj):
                        total[i, j] += factor * along_v[u, j]
        for i in range(ni):
            for j in range(nj):
                out[b, u0 + i, v0 + j] = total[i, j]


@jit
def _trilinear_cell(position, size):  # pragma: no cover - jit
    """Lower cell index and fraction of a fractional index, clamped to ``[0, size - 1]``."""
    if size < 2:
        return 0, 0.0
    if position <= 0.0:
        return 0, 0.0
    if position >= size - 1:
        return size - 2, 1.0
    low = int(position)
    return low, position - low


@jit(fastmath=False)
def scatter_row(flat, nu, nv, n_sigma, lattice_uv, sigma_index, amplitude, r):  # pragma: no cover
    """The broad-scatter dose of row ``r``: ``Σ_b Σ_c amplitude[r, b, c] · C_b(u, v, σ)``.

    ``flat`` is the raveled ``(n_beams, NU, NV, K)`` convolved lattice (the
    σ samples of a lattice cell side by side); trilinear in u, v and the
    σ index, positions clamped like :func:`_trilinear_cell`. The reads
    use unsigned flat offsets (no wraparound checks: this loop is the
    optimizer's largest cost). Compiled without fastmath and not inlined,
    so that the fastmath kernels calling it cannot reassociate its sums:
    with reassociation, a process that compiled it and one that loaded it
    from numba's cache differed in the last bit of some doses (and by
    ~0.2 % in optimized weights after 40 iterations). Measured no slower.
    """
    n_beams = lattice_uv.shape[1]
    n_components = amplitude.shape[2]
    step_k = np.int64(n_sigma)
    step_u = np.int64(nv) * step_k
    step_b = np.int64(nu) * step_u
    one = np.uint64(1)
    total = 0.0
    for b in range(n_beams):
        iu, fu = _trilinear_cell(np.float64(lattice_uv[r, b, 0]), nu)
        iv, fv = _trilinear_cell(np.float64(lattice_uv[r, b, 1]), nv)
        base = np.uint64(b * step_b + iu * step_u + iv * step_k)
        w00 = (1.0 - fu) * (1.0 - fv)
        w01 = (1.0 - fu) * fv
        w10 = fu * (1.0 - fv)
        w11 = fu * fv
        for c in range(n_components):
            a = np.float64(amplitude[r, b, c])
            if a == 0.0:
                continue
            ik, fk = _trilinear_cell(np.float64(sigma_index[r, b, c]), n_sigma)
            low = a * (1.0 - fk)
            high = a * fk
            q00 = base + np.uint64(ik)
            q01 = q00 + np.uint64(step_k)
            q10 = q00 + np.uint64(step_u)
            q11 = q10 + np.uint64(step_k)
            total += (
                w00 * (low * flat[q00] + high * flat[q00 + one])
                + w01 * (low * flat[q01] + high * flat[q01 + one])
                + w10 * (low * flat[q10] + high * flat[q10 + one])
                + w11 * (low * flat[q11] + high * flat[q11 + one])
            )
    return total


@jit(parallel=True)
def scatter_gather(convolved, lattice_uv, sigma_index, amplitude, out):  # pragma: no cover
    """``out[r]`` = :func:`scatter_row` for every row.

    ``convolved`` is ``(n_beams, NU, NV, K)``. Per-row arrays are
    ``(n_rows, n_beams, ...)``: ``lattice_uv`` the row's fractional lattice
    cell, ``sigma_index`` the fractional σ sample and ``amplitude`` the
    weight of each broad component.
    """
    _, nu, nv, n_sigma = convolved.shape
    flat = convolved.ravel()
    for r in prange(out.shape[0]):
        out[r] = scatter_row(flat, nu, nv, n_sigma, lattice_uv, sigma_index, amplitude, r)


@jit(parallel=True)
def scatter_spread(values, active, lattice_uv, sigma_index, amplitude, out):  # pragma: no cover
    """Adjoint of :func:`scatter_gather`: ``out`` ``(n_beams, NU, NV, K)`` is overwritten.

    Only the rows listed in ``active`` (those with a non-zero value; an
    objective's dose gradient vanishes on most voxels) are spread. Beams
    run in parallel, each into its own slice of ``out``, rows in the given
    order, so the result does not depend on the number of threads.
    """
    n_beams, nu, nv, n_sigma = out.shape
    n_components = amplitude.shape[2]
    for b in prange(n_beams):
        grid = out[b]
        for u in range(nu):
            for v in range(nv):
                for k in range(n_sigma):
                    grid[u, v, k] = 0.0
        for index in range(active.shape[0]):
            r = active[index]
            g = values[r]
            iu, fu = _trilinear_cell(lattice_uv[r, b, 0], nu)
            iv, fv = _trilinear_cell(lattice_uv[r, b, 1], nv)
            for c in range(n_components):
                a = amplitude[r, b, c] * g
                if a == 0.0:
                    continue
                ik, fk = _trilinear_cell(sigma_index[r, b, c], n_sigma)
                lo = a * (1.0 - fk)
                hi = a * fk
                w = (1.0 - fu) * (1.0 - fv)
                grid[iu, iv, ik] += lo * w
                grid[iu, iv, ik + 1] += hi * w
                w = (1.0 - fu) * fv
                grid[iu, iv + 1, ik] += lo * w
                grid[iu, iv + 1, ik + 1] += hi * w
                w = fu * (1.0 - fv)
                grid[iu + 1, iv, ik] += lo * w
                grid[iu + 1, iv, ik + 1] += hi * w
                w = fu * fv
                grid[iu + 1, iv + 1, ik] += lo * w
                grid[iu + 1, iv + 1, ik + 1] += hi * w


@jit(parallel=True)
def scatter_rows(
    coords,
    amplitudes,
    sigmas_mm,
    depth_step_mm,
    bixel_mm,
    lattice_low,
    sigma_min_mm,
    log_ratio,
    lattice_uv,
    sigma_index,
    amplitude,
):  # pragma: no cover - jit
    """Per-row inputs of :func:`scatter_gather` from the engine's ``coords``.

    ``coords`` ``(n_beams, n_rows, 4)`` as in :func:`count_entries`;
    ``amplitudes``/``sigmas_mm`` ``(n_components, n_depths)`` tables of the
    broad components; outputs are ``(n_rows, n_beams, ...)``: lattice cell
    (relative to ``lattice_low``), fractional index of σ/g in the geometric
    series ``sigma_min_mm · exp(k · log_ratio)``, and ``A(d) / g²`` (0 where
    the beam gives no dose).
    """
    n_beams, n_rows, _ = coords.shape
    n_components = amplitudes.shape[0]
    for r in prange(n_rows):
        for b in range(n_beams):
            lattice_uv[r, b, 0] = coords[b, r, 0] / bixel_mm - lattice_low[0]
            lattice_uv[r, b, 1] = coords[b, r, 1] / bixel_mm - lattice_low[1]
            depth = coords[b, r, 3]
            g = coords[b, r, 2]
            if not depth >= 0.0:
                for c in range(n_components):
                    amplitude[r, b, c] = 0.0
                    sigma_index[r, b, c] = 0.0
                continue
            sample = depth / depth_step_mm
            for c in range(n_components):
                amplitude[r, b, c] = _interpolate(amplitudes[c], sample) / (g * g)
                sigma = _interpolate(sigmas_mm[c], sample) / g
                sigma_index[r, b, c] = math.log(sigma / sigma_min_mm) / log_ratio
