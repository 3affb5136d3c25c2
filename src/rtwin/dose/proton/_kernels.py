"""numba kernels of the proton pencil beam (private; called through ``ProtonPencilBeam``).

Four groups:

* the parabolic cylinder functions D_ν(x) of negative order and Bortfeld's
  Bragg curve built from them (:func:`bortfeld_idd_table`,
  :func:`bortfeld_peak_depths`), and the
  multiple-scattering σ table (:func:`mcs_sigma_table`): the depth tables
  of the engine, the same numbers as ``BraggCurve`` and
  ``lateral_sigma_mcs_mm`` compute with numpy and scipy;
* geometry: :func:`beam_coordinates` (``BeamFrame.to_beam``),
  :func:`mark_layers` (the layout's layer occupancy) and
  :func:`rows_in_reach` (which dose voxels a beam's spots can reach at all;
  the others are not ray traced);
* :func:`exp_nonpositive`, a table-driven e^x within 1 ulp of libm's;
* :func:`count_entries` and :func:`fill_entries`: the two passes that write
  the CSR matrix.

Each has a numpy or scipy twin in ``tests/dose/proton/test_proton_kernels.py``
(the matrix passes: the dense twin of ``test_engine_proton.py``).

Shared arguments of :func:`count_entries` and :func:`fill_entries`:

``coords``
    ``(n_beams, 4, n_rows)`` float64: per beam and dose voxel the projection
    ``(u, v)`` of the voxel to the isocentre plane from the virtual source
    (mm, minus the beam's lattice offset), ``g`` = the voxel's distance from
    the source along the central axis / SAD, and its water-equivalent depth
    (mm; negative = the beam gives no dose there).
``lut``
    ``(n_layers, n_v, n_u)`` int32: column of the spot at lattice cell
    ``(iu, iv)`` of each layer (``lut[layer, iv, iu]``), or −1; layers of one
    beam are consecutive, in column order.
``spots_before``
    ``(n_layers, n_v, n_u + 1)`` int32: spots of line ``iv`` of a layer left
    of ``iu`` (``spots_before[layer, iv, iu]``).
``layer_bounds``
    ``(n_layers, 6)`` int64: lattice index ``(iu, iv)`` of ``lut[layer, 0, 0]``
    and the smallest and largest ``iu``, then ``iv``, of the layer's spots.
``beam_layers``
    ``(n_beams + 1,)`` int64: the layers of beam ``b`` are
    ``beam_layers[b]:beam_layers[b + 1]``.
``beam_lattice``
    ``(n_beams, 4)`` int64: smallest lattice index ``(iu, iv)`` of the
    beam's layer tables and the widths ``(n_u, n_v)`` of the lattice they span.
``beam_reach``
    ``(n_beams,)`` float64: an upper bound of the cutoff radius (mm, at the
    voxel) of every layer of the beam at every depth.
``layer_tables``
    ``(n_depths, n_layers, 2)`` float64: per depth ``0, step, 2 step, …`` and
    layer the dose per unit spot weight integrated over the plane (Gy·mm²)
    and the lateral σ (mm).
``layer_last_depth``
    ``(n_layers,)`` float64: depth (mm) from which the layer's IDD is zero.
``radius_factor_squared``
    ``R²/σ²`` of the lateral cutoff circle (``−2 ln f`` drops a fraction f).
"""

from __future__ import annotations

import math

import numpy as np

from rtwin._numba import jit, prange
from rtwin.dose.proton._physics import (
    HIGHLAND_ENERGY_MEV,
    HIGHLAND_LOG_COEFFICIENT,
    WATER_RADIATION_LENGTH_MM,
)

_TWO_PI = 2.0 * math.pi

# e^x for x ≤ 0: 2^(k/256) from tables times a degree-4 Taylor polynomial on |r| ≤ ln2/512,
# r = x − k ln2/256 with ln 2 split in two (fdlibm's hi and lo parts, hi·k exact; the lo part
# enters as a small correction factor, which reassociation cannot spoil). Within 1 ulp of
# libm's exp, which numba calls through glibc's errno wrapper at about three times the cost.
_EXP_STEPS = 256
_EXP_STEP_TABLE = 2.0 ** (np.arange(_EXP_STEPS) / _EXP_STEPS)
_EXP_POWERS = np.ldexp(1.0, -np.arange(1100))
_EXP_SCALE = _EXP_STEPS / math.log(2.0)
_EXP_STEP_HIGH = float.fromhex("0x1.62e42feep-1") / _EXP_STEPS
_EXP_STEP_LOW = float.fromhex("0x1.a39ef35793c76p-33") / _EXP_STEPS
#: Below this e^x is subnormal (libm's exp is called).
_EXP_NORMAL = -708.0

#: Work items (rows, depth chunks) are handed to threads in this many interleaved lanes.
_LANES = 256
#: The fill pass hands its chunks of rows to the threads in this many interleaved lanes.
_FILL_LANES = 16
#: Rows per block of the interleaved row schedule.
_ROW_BLOCK = 32
#: Depths per work item of the depth-table kernels.
_DEPTH_CHUNK = 64

# ---------------------------------------------------------------------- special functions
# Zhang & Jin, Computation of Special Functions (Wiley 1996), routines GAMMA2,
# DVSA, DVLA, VVLA and PBDV, the algorithm behind scipy.special.pbdv; only the
# negative orders that Bortfeld's curve needs. The twin in the tests is scipy.

#: Terms of the small-argument series DVSA.
PCF_SERIES_TERMS = 250
_SQRT2 = math.sqrt(2.0)
_SERIES_EPS = 1.0e-15
_INVERSE_INTEGERS = 1.0 / np.maximum(np.arange(PCF_SERIES_TERMS + 1), 1)
_ASYMPTOTIC_EPS = 1.0e-12
#: |x| up to which D_ν(x) is summed from its power series (larger: asymptotic form).
_SMALL_ARGUMENT = 5.8

_GAMMA_COEFFICIENTS = np.array(
    [
        1.0000000000000000e00,
        0.5772156649015329e00,
        -0.6558780715202538e00,
        -0.4200263503409520e-01,
        0.1665386113822915e00,
        -0.4219773455554430e-01,
        -0.9621971527877000e-02,
        0.7218943246663000e-02,
        -0.1165167591859100e-02,
        -0.2152416741149000e-03,
        0.1280502823882000e-03,
        -0.2013485478070000e-04,
        -0.1250493482100000e-05,
        0.1133027232000000e-05,
        -0.2056338417000000e-06,
        0.6116095000000000e-08,
        0.5002007500000000e-08,
        -0.1181274600000000e-08,
        0.1043427000000000e-09,
        0.7782300000000000e-11,
        -0.3696800000000000e-11,
        0.5100000000000000e-12,
        -0.2060000000000000e-13,
        -0.5400000000000000e-14,
        0.1400000000000000e-14,
        0.1000000000000000e-15,
    ]
)


@jit
def gamma_function(x):  # pragma: no cover - jit
    """Γ(x) (GAMMA2: 1e300 at the poles 0, −1, −2, …)."""
    if x == float(int(x)):
        if x > 0.0:
            result = 1.0
            for k in range(2, int(x - 1) + 1):
                result *= k
            return result
        return 1e300
    ratio = 1.0
    if abs(x) > 1.0:
        z = abs(x)
        m = int(z)
        for k in range(1, m + 1):
            ratio *= z - k
        z -= m
    else:
        z = x
    series = _GAMMA_COEFFICIENTS[25]
    for k in range(25, 0, -1):
        series *= z
        series += _GAMMA_COEFFICIENTS[k - 1]
    result = 1.0 / (series * z)
    if abs(x) > 1.0:
        result *= ratio
        if x < 0.0:
            result = -math.pi / (x * result * math.sin(math.pi * x))
    return result


@jit
def pcf_constants(order):  # pragma: no cover - jit
    """Constants of D_order(x), order < 0, that do not depend on x.

    Returns ``(orders, series, negated)``: the four orders ``v0, v0 − 1, v2,
    v2 + 1`` whose functions PBDV may evaluate, Γ((m − vₖ)/2) for
    m = 0 … 250 (the coefficients of the power series of each) and Γ(−vₖ).
    """
    shifted = order - 1.0
    nv = int(shifted)
    v0 = shifted - nv
    v2 = nv + v0
    if nv == 0:
        v2 -= 1.0
    orders = np.array([v0, v0 - 1.0, v2, v2 + 1.0])
    series = np.empty((4, PCF_SERIES_TERMS + 1))
    negated = np.empty(4)
    for i in range(4):
        for m in range(PCF_SERIES_TERMS + 1):
            series[i, m] = gamma_function(0.5 * (m - orders[i]))
        negated[i] = gamma_function(-orders[i])
    return orders, series, negated


@jit
def _pcf_series(x, va, series, negated):  # pragma: no cover - jit
    """D_va(x) from its power series (DVSA); ``series[m]`` = Γ((m − va)/2), ``negated`` = Γ(−va)."""
    ep = math.exp(-0.25 * x * x)
    va0 = 0.5 * (1.0 - va)
    if va == 0.0:
        return ep
    if x == 0.0:
        if va0 <= 0.0 and va0 == float(int(va0)):
            return 0.0
        return math.sqrt(math.pi) / (math.pow(2.0, -0.5 * va) * gamma_function(va0))
    a0 = math.pow(2.0, -0.5 * va - 1.0) * ep / negated
    total = series[0]
    r = 1.0
    step = -_SQRT2 * x
    for m in range(1, PCF_SERIES_TERMS + 1):
        r = r * step * _INVERSE_INTEGERS[m]  # (−√2 x)^m / m!
        term = series[m] * r
        total += term
        if abs(term) < abs(total) * _SERIES_EPS:
            break
    return total * a0


@jit
def _pcf_v_large(x, va):  # pragma: no cover - jit
    """V_va(x) for large x > 0 (VVLA)."""
    qe = math.exp(0.25 * x * x)
    a0 = math.pow(abs(x), -va - 1.0) * math.sqrt(2.0 / math.pi) * qe
    r = 1.0
    total = 1.0
    for k in range(1, 19):
        r = 0.5 * r * (2.0 * k + va - 1.0) * (2.0 * k + va) / (k * x * x)
        total += r
        if abs(r / total) < _ASYMPTOTIC_EPS:
            break
    return total * a0


@jit
def _pcf_large(x, va, negated):  # pragma: no cover - jit
    """D_va(x) for large |x| (DVLA); ``negated`` = Γ(−va)."""
    ep = math.exp(-0.25 * x * x)
    a0 = math.pow(abs(x), va) * ep
    r = 1.0
    total = 1.0
    for k in range(1, 17):
        r = -0.5 * r * (2.0 * k - va - 1.0) * (2.0 * k - va - 2.0) / (k * x * x)
        total += r
        if abs(r / total) < _ASYMPTOTIC_EPS:
            break
    total *= a0
    if x < 0.0:
        total = math.pi * _pcf_v_large(-x, va) / negated + math.cos(math.pi * va) * total
    return total


@jit
def _pcf_direct(x, k, orders, series, negated):  # pragma: no cover - jit
    if abs(x) <= _SMALL_ARGUMENT:
        return _pcf_series(x, orders[k], series[k], negated[k])
    return _pcf_large(x, orders[k], negated[k])


@jit
def parabolic_cylinder_d(x, order, orders, series, negated):  # pragma: no cover - jit
    """D_order(x) for order < 0 (PBDV's value), with :func:`pcf_constants` of the order."""
    na = abs(int(order - 1.0))
    v0 = orders[0]
    if x <= 0.0:  # upward recurrence from D_v0 and D_(v0 - 1)
        if na == 1:
            return _pcf_direct(x, 0, orders, series, negated)
        pd1 = _pcf_direct(x, 1, orders, series, negated)
        if na == 2:
            return pd1
        pd0 = _pcf_direct(x, 0, orders, series, negated)
        for k in range(2, na):
            pd = (-x * pd1 + pd0) / (k - 1.0 - v0)
            pd0 = pd1
            pd1 = pd
        return pd1
    if x <= 2.0:  # downward recurrence from the two lowest orders
        nk = int(-orders[2])
        f1 = _pcf_series(x, orders[2], series[2], negated[2])
        f0 = _pcf_series(x, orders[3], series[3], negated[3])
        if na - 1 == nk:
            return f1
        for k in range(nk - 2, na - 2, -1):
            f = x * f0 + (k - v0 + 1.0) * f1
            f1 = f0
            f0 = f
        return f0
    # Miller's backward recurrence normalised by D_v0
    pd0 = _pcf_direct(x, 0, orders, series, negated)
    f1 = 0.0
    f0 = 1e-30
    f = 0.0
    kept = 0.0
    for k in range(100 + na, -1, -1):
        f = x * f0 + (k - v0 + 1.0) * f1
        if k == na - 1:
            kept = f
        f1 = f0
        f0 = f
    return kept * (pd0 / f)


@jit
def scaled_pcf(
    zeta, which, order, orders, series, negated, far_factor, far_coefficients
):  # pragma: no cover - jit
    """e^{−ζ²/4} D_ν(−ζ) for order ν = ``order[which]`` (the zones of ``_bragg._scaled_pcf``).

    pbdv for −10 ≤ ζ ≤ 20; the asymptotic series
    ``far_factor · ζ^μ · Σ far_coefficients[m] ζ^{−2m}`` (μ = −ν − 1) above
    20; zero below −10.
    """
    if zeta < -10.0:
        return 0.0
    if zeta <= 20.0:
        return math.exp(-0.25 * zeta * zeta) * parabolic_cylinder_d(
            -zeta, order[which], orders[which], series[which], negated[which]
        )
    inverse_square = 1.0 / (zeta * zeta)
    total = 1.0
    power = 1.0
    for m in range(1, far_coefficients.shape[1]):
        power = power * inverse_square
        total = total + far_coefficients[which, m] * power
    return far_factor[which] * zeta ** (-order[which] - 1.0) * total


@jit
def _idd_value(
    depth_cm,
    range_cm,
    sigma_cm,
    prefactor,
    weight_main,
    weight_tail,
    order,
    orders,
    series,
    negated,
    far_factor,
    far_coefficients,
):  # pragma: no cover - jit
    """Bortfeld's IDD (MeV/cm per proton) at one depth (cm); ``_bragg._bortfeld_idd_per_cm``."""
    zeta = (range_cm - depth_cm) / sigma_cm
    main = scaled_pcf(zeta, 0, order, orders, series, negated, far_factor, far_coefficients)
    tail = scaled_pcf(zeta, 1, order, orders, series, negated, far_factor, far_coefficients)
    value = prefactor * (weight_main * main + weight_tail * tail)
    return max(value, 0.0)


@jit(parallel=True)
def bortfeld_idd_table(
    depth_cm,
    range_cm,
    sigma_cm,
    prefactor,
    weight_main,
    weight_tail,
    divisor,
    scale,
    order,
    orders,
    series,
    negated,
    far_factor,
    far_coefficients,
):  # pragma: no cover - jit
    """``(n_energies, n_depths)`` table of IDD / ``divisor`` × ``scale`` (per cm → per mm, units).

    One Bragg curve per energy: ``range_cm``, ``sigma_cm``, ``prefactor``,
    ``weight_main`` = σ^{1/p − 1} and ``weight_tail`` = σ^{1/p}·(β/p + γβ + ε/R₀)
    are ``(n_energies,)``; ``order`` = (−1/p, −1/p − 1) with their
    :func:`pcf_constants` stacked, the far-zone factors and coefficients
    ``(2, n_terms)``. Depths beyond R₀ + 10 σ (zero IDD) are not evaluated.
    """
    n_energies = range_cm.shape[0]
    n_depths = depth_cm.shape[0]
    out = np.zeros((n_energies, n_depths))
    n_chunks = (n_depths + _DEPTH_CHUNK - 1) // _DEPTH_CHUNK
    n_items = n_energies * n_chunks
    n_lanes = min(n_items, _LANES)
    for lane in prange(n_lanes):
        for item in range(lane, n_items, n_lanes):
            energy = item % n_energies
            start = (item // n_energies) * _DEPTH_CHUNK
            stop = min(start + _DEPTH_CHUNK, n_depths)
            for d in range(start, stop):
                if (range_cm[energy] - depth_cm[d]) / sigma_cm[energy] < -10.0:
                    break  # deeper than R0 + 10 σ: exactly zero, as all deeper depths
                out[energy, d] = (
                    _idd_value(
                        depth_cm[d],
                        range_cm[energy],
                        sigma_cm[energy],
                        prefactor[energy],
                        weight_main[energy],
                        weight_tail[energy],
                        order,
                        orders,
                        series,
                        negated,
                        far_factor,
                        far_coefficients,
                    )
                    / divisor
                    * scale
                )
    return out


@jit
def bortfeld_peak_depth(
    low_mm,
    high_mm,
    xatol_mm,
    range_cm,
    sigma_cm,
    prefactor,
    weight_main,
    weight_tail,
    order,
    orders,
    series,
    negated,
    far_factor,
    far_coefficients,
):  # pragma: no cover - jit
    """Depth (mm) of the maximum of one Bragg curve within [low_mm, high_mm].

    Brent's bounded minimisation of −IDD as ``scipy.optimize.minimize_scalar``
    (method ``"bounded"``, 500 evaluations at most) performs it, step by step.
    """
    sqrt_eps = math.sqrt(2.2e-16)
    golden_mean = 0.5 * (3.0 - math.sqrt(5.0))
    a = low_mm
    b = high_mm
    fulc = a + golden_mean * (b - a)
    nfc = fulc
    xf = fulc
    rat = 0.0
    e = 0.0
    x = xf
    fx = -(
        _idd_value(
            x / 10.0,
            range_cm,
            sigma_cm,
            prefactor,
            weight_main,
            weight_tail,
            order,
            orders,
            series,
            negated,
            far_factor,
            far_coefficients,
        )
        / 10.0
    )
    num = 1
    ffulc = fx
    fnfc = fx
    xm = 0.5 * (a + b)
    tol1 = sqrt_eps * abs(xf) + xatol_mm / 3.0
    tol2 = 2.0 * tol1
    while abs(xf - xm) > (tol2 - 0.5 * (b - a)):
        golden = True
        if abs(e) > tol1:  # parabolic fit
            golden = False
            r = (xf - nfc) * (fx - ffulc)
            q = (xf - fulc) * (fx - fnfc)
            p = (xf - fulc) * q - (xf - nfc) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                p = -p
            q = abs(q)
            r = e
            e = rat
            if abs(p) < abs(0.5 * q * r) and p > q * (a - xf) and p < q * (b - xf):
                rat = (p + 0.0) / q
                x = xf + rat
                if (x - a) < tol2 or (b - x) < tol2:
                    rat = tol1 * (np.sign(xm - xf) + ((xm - xf) == 0))
            else:
                golden = True
        if golden:
            e = a - xf if xf >= xm else b - xf
            rat = golden_mean * e
        x = xf + (np.sign(rat) + (rat == 0)) * max(abs(rat), tol1)
        fu = -(
            _idd_value(
                x / 10.0,
                range_cm,
                sigma_cm,
                prefactor,
                weight_main,
                weight_tail,
                order,
                orders,
                series,
                negated,
                far_factor,
                far_coefficients,
            )
            / 10.0
        )
        num += 1
        if fu <= fx:
            if x >= xf:
                a = xf
            else:
                b = xf
            fulc, ffulc = nfc, fnfc
            nfc, fnfc = xf, fx
            xf, fx = x, fu
        else:
            if x < xf:
                a = x
            else:
                b = x
            if fu <= fnfc or nfc == xf:
                fulc, ffulc = nfc, fnfc
                nfc, fnfc = x, fu
            elif fu <= ffulc or fulc == xf or fulc == nfc:
                fulc, ffulc = x, fu
        xm = 0.5 * (a + b)
        tol1 = sqrt_eps * abs(xf) + xatol_mm / 3.0
        tol2 = 2.0 * tol1
        if num >= 500:
            break
    return xf


@jit(parallel=True)
def bortfeld_peak_depths(
    grids_mm,
    xatol_mm,
    range_cm,
    sigma_cm,
    prefactor,
    weight_main,
    weight_tail,
    order,
    orders,
    series,
    negated,
    far_factor,
    far_coefficients,
):  # pragma: no cover - jit
    """Bragg-peak depth (mm) of each curve: the maximum on its grid, refined by Brent.

    ``grids_mm[e]`` brackets curve e's peak; the IDD is evaluated there, and
    :func:`bortfeld_peak_depth` refines the maximum between the grid points
    next to the largest value (``BraggCurve.peak_depth_mm``'s search).
    """
    n_energies, n_points = grids_mm.shape
    peaks = np.empty(n_energies)
    for energy in prange(n_energies):
        best = 0
        best_value = -np.inf
        for k in range(n_points):
            value = _idd_value(
                grids_mm[energy, k] / 10.0,
                range_cm[energy],
                sigma_cm[energy],
                prefactor[energy],
                weight_main[energy],
                weight_tail[energy],
                order,
                orders,
                series,
                negated,
                far_factor,
                far_coefficients,
            )
            if value > best_value:  # the first of equal maxima, as np.argmax
                best = k
                best_value = value
        peaks[energy] = bortfeld_peak_depth(
            grids_mm[energy, max(best - 1, 0)],
            grids_mm[energy, min(best + 1, n_points - 1)],
            xatol_mm[energy],
            range_cm[energy],
            sigma_cm[energy],
            prefactor[energy],
            weight_main[energy],
            weight_tail[energy],
            order,
            orders,
            series,
            negated,
            far_factor,
            far_coefficients,
        )
    return peaks


# ---------------------------------------------------------------------- exponential
@jit
def exp_nonpositive(x):  # pragma: no cover - jit
    """e^x for x ≤ 0 to within 1 ulp (the twin is ``np.exp``); libm beyond −708."""
    if x < _EXP_NORMAL:
        return math.exp(x)
    steps = int(math.floor(x * _EXP_SCALE + 0.5))
    r = x - steps * _EXP_STEP_HIGH  # exact
    c = steps * _EXP_STEP_LOW  # e^x = 2^(steps/256) · e^r · e^−c, |c| < 3e-7
    r2 = r * r
    q = r + r2 * ((0.5 + r * (1.0 / 6.0)) + r2 * (1.0 / 24.0))
    q = q + c * (0.5 * c - 1.0) * (1.0 + q)  # (1 + q)(1 − c + c²/2) − 1: small terms only
    t = _EXP_STEP_TABLE[steps & (_EXP_STEPS - 1)]
    return (t + t * q) * _EXP_POWERS[-(steps >> 8)]


# ---------------------------------------------------------------------- multiple scattering
@jit
def _interp_uniform(x, grid, values, slopes, first, inverse_step):  # pragma: no cover - jit
    """np.interp(x, grid, values) for grid[0] ≤ x on a uniform grid: the same interval and formula.

    ``slopes[j]`` = (values[j + 1] − values[j]) / (grid[j + 1] − grid[j]) as numpy
    computes them; the interval is guessed from the spacing and checked against the grid.
    """
    n = grid.shape[0]
    if x >= grid[n - 1]:
        return values[n - 1]
    j = min(max(int((x - first) * inverse_step), 0), n - 2)
    if grid[j] > x:
        j -= 1
    elif grid[j + 1] <= x:
        j += 1
    if grid[j] == x:
        return values[j]
    return slopes[j] * (x - grid[j]) + values[j]


@jit
def _mcs_sigma(
    length, range_mm, denominator, squared_nodes, weights, log_u, log_g, slopes
):  # pragma: no cover - jit
    """σ_MCS (mm) after ``length`` mm of travel (``_scattering.lateral_sigma_mcs_mm``)."""
    if not length > 0.0:
        return 0.0
    first = log_u[0]
    inverse_step = (log_u.shape[0] - 1) / (log_u[log_u.shape[0] - 1] - first)
    integral = 0.0
    for k in range(squared_nodes.shape[0]):
        residual = (range_mm - length) + length * squared_nodes[k]
        x = math.log(residual)
        if x < first:  # power law continued below the grid
            value = log_g[0] + slopes[0] * (x - first)
        else:
            value = _interp_uniform(x, log_u, log_g, slopes, first, inverse_step)
        if value > 0.0:
            integral += math.exp(value) * weights[k]
        else:
            integral += exp_nonpositive(value) * weights[k]
    log_term = math.log(length / denominator)
    correction = (1.0 + HIGHLAND_LOG_COEFFICIENT * log_term) ** 2
    sigma_squared = (
        correction * HIGHLAND_ENERGY_MEV**2 / WATER_RADIATION_LENGTH_MM * length**3.0 * integral
    )
    return math.sqrt(sigma_squared)


@jit(parallel=True)
def mcs_sigma_table(
    depth_mm,
    range_mm,
    denominator,
    sigma_air_mm,
    squared_nodes,
    weights,
    log_u,
    log_g,
    slopes,
):  # pragma: no cover - jit
    """``(mcs, total)``: σ_MCS and √(σ_air² + σ_MCS²) tables ``(n_energies, n_depths)`` (mm).

    ``denominator`` = X₀ β₀² per energy, ``squared_nodes`` and ``weights`` the Gauss–Legendre quadrature in
    w = v², ``log_u``/``log_g`` the uniform table of ln 1/(pv)² over ln
    residual range and ``slopes`` its interval slopes. Beyond R₀ the value of R₀ is repeated (no more
    scattering once the protons stop).
    """
    n_energies = range_mm.shape[0]
    n_depths = depth_mm.shape[0]
    mcs = np.empty((n_energies, n_depths))
    total = np.empty((n_energies, n_depths))
    n_chunks = (n_depths + _DEPTH_CHUNK - 1) // _DEPTH_CHUNK
    n_items = n_energies * n_chunks
    n_lanes = min(n_items, _LANES)
    for lane in prange(n_lanes):
        for item in range(lane, n_items, n_lanes):
            energy = item % n_energies
            start = (item // n_energies) * _DEPTH_CHUNK
            stop = min(start + _DEPTH_CHUNK, n_depths)
            stopped = -1.0  # σ at R0, computed once per item when needed
            for d in range(start, stop):
                length = min(depth_mm[d], range_mm[energy])
                if length == range_mm[energy] and stopped >= 0.0:
                    value = stopped
                else:
                    value = _mcs_sigma(
                        length,
                        range_mm[energy],
                        denominator[energy],
                        squared_nodes,
                        weights,
                        log_u,
                        log_g,
                        slopes,
                    )
                    if length == range_mm[energy]:
                        stopped = value
                mcs[energy, d] = value
                air = sigma_air_mm[energy]
                total[energy, d] = math.sqrt(air * air + value * value)
    return mcs, total


# ---------------------------------------------------------------------- beam geometry
@jit(parallel=True)
def beam_coordinates(points, source, u, v, direction):  # pragma: no cover - jit
    """``(3, n)`` beam coordinates ``(u, v, w)`` of patient points ``(n, 3)`` (``BeamFrame.to_beam``).

    The three dot products of ``points − source`` with the beam axes, in
    the order of the components (the twin is ``BeamFrame.to_beam``).
    """
    n = points.shape[0]
    out = np.empty((3, n))
    for i in prange(n):
        ox = points[i, 0] - source[0]
        oy = points[i, 1] - source[1]
        oz = points[i, 2] - source[2]
        out[0, i] = ox * u[0] + oy * u[1] + oz * u[2]
        out[1, i] = ox * v[0] + oy * v[1] + oz * v[2]
        out[2, i] = ox * direction[0] + oy * direction[1] + oz * direction[2]
    return out


@jit
def mark_layers(first, last, cells, low, occupied):  # pragma: no cover - jit
    """Set ``occupied[layer, cell − low]`` for every sample and each of its layers first..last.

    ``cells`` is ``(2, n)``: the lattice cell ``(iu, iv)`` of each sample.
    """
    for i in range(first.shape[0]):
        cu = cells[0, i] - low[0]
        cv = cells[1, i] - low[1]
        for layer in range(first[i], last[i] + 1):
            occupied[layer, cu, cv] = True


# ---------------------------------------------------------------------- voxels a beam can reach
@jit(parallel=True)
def rows_in_reach(uvg, covered, origin_u, origin_v, spacing_mm, reach_mm):  # pragma: no cover - jit
    """Whether any spot of a beam lies within ``reach_mm / g`` of each voxel's ray (isocentre plane).

    ``uvg`` is ``(3, n_rows)``: ``(u, v)`` minus the lattice offset and g (as
    in ``coords``); rows with g ≤ 0 are out. ``covered`` is the ``(n_v + 1,
    n_u + 1)`` summed-area table of the beam's spot cells (cell ``(iu, iv)``
    at ``[iv − origin_v, iu − origin_u]``). The box tested is one cell
    wider on each side than the cutoff circle, so the test is conservative.
    """
    n_rows = uvg.shape[1]
    n_v = covered.shape[0] - 1
    n_u = covered.shape[1] - 1
    inside = np.zeros(n_rows, dtype=np.bool_)
    for row in prange(n_rows):
        g = uvg[2, row]
        if not g > 0.0:
            continue
        reach = reach_mm / g
        u = uvg[0, row]
        v = uvg[1, row]
        iu_low = max(int(math.floor((u - reach) / spacing_mm)) - 1 - origin_u, 0)
        iu_high = min(int(math.ceil((u + reach) / spacing_mm)) + 1 - origin_u, n_u - 1)
        iv_low = max(int(math.floor((v - reach) / spacing_mm)) - 1 - origin_v, 0)
        iv_high = min(int(math.ceil((v + reach) / spacing_mm)) + 1 - origin_v, n_v - 1)
        if iu_low > iu_high or iv_low > iv_high:
            continue
        spots = (
            covered[iv_high + 1, iu_high + 1]
            - covered[iv_low, iu_high + 1]
            - covered[iv_high + 1, iu_low]
            + covered[iv_low, iu_low]
        )
        inside[row] = spots > 0
    return inside


# ---------------------------------------------------------------------- the matrix
@jit
def _squared_offsets(centre, g, spacing_mm, first, out):  # pragma: no cover - jit
    """``out[k]`` = ((centre − (first + k)·spacing)·g)²: squared distance at the voxel to lattice line k."""
    for k in range(out.shape[0]):
        d = (centre - (first + k) * spacing_mm) * g
        out[k] = d * d


@jit
def _row_entries(
    coords,
    row,
    lut,
    spots_before,
    layer_bounds,
    beam_layers,
    beam_lattice,
    beam_reach,
    layer_tables,
    layer_last_depth,
    spacing_mm,
    depth_step_mm,
    radius_factor_squared,
    du2,
    dv2,
    layer_used,
    columns,
    values,
    start,
    stop,
    write,
):  # pragma: no cover - jit
    """Visit the entries of one row in column order; write them when ``write``; return the count.

    Dose per unit weight of a spot at lateral distance r (mm, at the voxel)
    is idd(d) · exp(−r²/2σ²)/(2πσ²); entries with r² > radius_factor² σ² or
    with zero IDD are skipped. Layers whose spots all lie beyond the beam's
    widest reach are passed over before their tables are read. Squared
    distances to the beam's lattice lines (``du2``, ``dv2``: scratch of
    ``beam_lattice``'s widths) are computed once per beam and shared by its
    layers. On one lattice line r² is unimodal in ``iu`` (every
    floating-point step is monotone), so the spots within the cutoff form an
    interval: the count pass adds it from ``spots_before`` (spots of the
    line left of ``iu``) without visiting it.
    """
    n_beams = coords.shape[0]
    n_depths = layer_tables.shape[0]
    n_v = lut.shape[1]
    n_u = lut.shape[2]
    position = start
    for beam in range(n_beams):
        depth = coords[beam, 3, row]
        if not depth >= 0.0:
            continue
        u = coords[beam, 0, row]
        v = coords[beam, 1, row]
        g = coords[beam, 2, row]
        sample = depth / depth_step_mm
        low = int(sample)
        if low + 1 >= n_depths:
            continue
        frac = sample - low
        widest = beam_reach[beam] / g
        u_low = (u - widest) / spacing_mm - 1.0
        u_high = (u + widest) / spacing_mm + 1.0
        v_low = (v - widest) / spacing_mm - 1.0
        v_high = (v + widest) / spacing_mm + 1.0
        base_u = beam_lattice[beam, 0]
        base_v = beam_lattice[beam, 1]
        _squared_offsets(u, g, spacing_mm, base_u, du2[: beam_lattice[beam, 2]])
        _squared_offsets(v, g, spacing_mm, base_v, dv2[: beam_lattice[beam, 3]])
        for layer in range(beam_layers[beam], beam_layers[beam + 1]):
            word = layer >> 6
            bit = np.uint64(1) << np.uint64(layer & 63)
            if write and not (layer_used[row, word] & bit):
                continue  # pass 1 found no entry of this layer
            if depth >= layer_last_depth[layer]:
                continue
            if (
                u_high < layer_bounds[layer, 2]
                or u_low > layer_bounds[layer, 3]
                or v_high < layer_bounds[layer, 4]
                or v_low > layer_bounds[layer, 5]
            ):
                continue  # no spot of the layer within reach
            dose_integral = (
                layer_tables[low, layer, 0] * (1.0 - frac) + layer_tables[low + 1, layer, 0] * frac
            )
            if not dose_integral > 0.0:
                continue
            s = layer_tables[low, layer, 1] * (1.0 - frac) + layer_tables[low + 1, layer, 1] * frac
            s2 = s * s
            limit2 = radius_factor_squared * s2
            reach = math.sqrt(limit2) / g  # in the isocentre plane
            origin_u = layer_bounds[layer, 0]
            origin_v = layer_bounds[layer, 1]
            iu_low = max(int(math.ceil((u - reach) / spacing_mm)) - origin_u, 0)
            iu_high = min(int(math.floor((u + reach) / spacing_mm)) - origin_u, n_u - 1)
            iv_low = max(int(math.ceil((v - reach) / spacing_mm)) - origin_v, 0)
            iv_high = min(int(math.floor((v + reach) / spacing_mm)) - origin_v, n_v - 1)
            if iu_low > iu_high:
                continue
            shift_u = origin_u - base_u
            shift_v = origin_v - base_v
            amplitude = dose_integral / (_TWO_PI * s2)
            exponent = -0.5 / s2
            for iv in range(iv_low, iv_high + 1):
                line = dv2[iv + shift_v]
                if line > limit2:
                    continue
                first = iu_low
                while first <= iu_high and du2[first + shift_u] + line > limit2:
                    first += 1
                if first > iu_high:
                    continue
                last = iu_high
                while du2[last + shift_u] + line > limit2:
                    last -= 1
                if not write:
                    found = spots_before[layer, iv, last + 1] - spots_before[layer, iv, first]
                    if found:
                        position += found
                        layer_used[row, word] |= bit
                    continue
                for iu in range(first, last + 1):
                    column = lut[layer, iv, iu]
                    if column < 0:
                        continue
                    if position >= stop:
                        return position - start + 1  # the caller detects the overflow
                    columns[position] = column
                    values[position] = amplitude * exp_nonpositive(
                        (du2[iu + shift_u] + line) * exponent
                    )
                    position += 1
    return position - start


@jit(parallel=True)
def count_entries(
    coords,
    lut,
    spots_before,
    layer_bounds,
    beam_layers,
    beam_lattice,
    beam_reach,
    layer_tables,
    layer_last_depth,
    spacing_mm,
    depth_step_mm,
    radius_factor_squared,
):  # pragma: no cover - jit
    """Pass 1: the number of matrix entries of each row, ``(n_rows,)`` int64, and which layers give them.

    ``layer_used[row, layer // 64]`` has bit ``layer % 64`` set when the
    layer gives the row at least one entry; pass 2 visits only those.

    Rows go to the threads in interleaved blocks, so that the rows in the
    field and those outside it are shared evenly.
    """
    n_rows = coords.shape[2]
    counts = np.zeros(n_rows, dtype=np.int64)
    layer_used = np.zeros((n_rows, (layer_bounds.shape[0] + 63) // 64), dtype=np.uint64)
    no_columns = np.zeros(0, dtype=np.int32)
    no_values = np.zeros(0, dtype=np.float32)
    n_blocks = (n_rows + _ROW_BLOCK - 1) // _ROW_BLOCK
    n_lanes = min(n_blocks, _LANES)
    for lane in prange(n_lanes):
        du2 = np.empty(beam_lattice[:, 2].max())
        dv2 = np.empty(beam_lattice[:, 3].max())
        for block in range(lane, n_blocks, n_lanes):
            for row in range(block * _ROW_BLOCK, min((block + 1) * _ROW_BLOCK, n_rows)):
                counts[row] = _row_entries(
                    coords,
                    row,
                    lut,
                    spots_before,
                    layer_bounds,
                    beam_layers,
                    beam_lattice,
                    beam_reach,
                    layer_tables,
                    layer_last_depth,
                    spacing_mm,
                    depth_step_mm,
                    radius_factor_squared,
                    du2,
                    dv2,
                    layer_used,
                    no_columns,
                    no_values,
                    0,
                    0,
                    False,
                )
    return counts, layer_used


@jit(parallel=True)
def fill_entries(
    coords,
    lut,
    spots_before,
    layer_bounds,
    beam_layers,
    beam_lattice,
    beam_reach,
    layer_tables,
    layer_last_depth,
    spacing_mm,
    depth_step_mm,
    radius_factor_squared,
    layer_used,
    row_start,
    chunk_rows,
    columns,
    values,
):  # pragma: no cover - jit
    """Pass 2: columns (increasing per row) and float32 values written straight into CSR.

    Row ``r`` fills ``columns[row_start[r]:row_start[r + 1]]``; returns the
    number written per row (equal to pass 1's counts). The rows
    ``chunk_rows[c]:chunk_rows[c + 1]`` form chunk ``c``; chunks of equal
    work (from pass 1's counts) go to the threads in interleaved lanes, so
    that an error in that estimate evens out.
    """
    n_rows = coords.shape[2]
    written = np.zeros(n_rows, dtype=np.int64)
    n_chunks = chunk_rows.shape[0] - 1
    n_lanes = min(n_chunks, _FILL_LANES)
    for lane in prange(n_lanes):
        du2 = np.empty(beam_lattice[:, 2].max())
        dv2 = np.empty(beam_lattice[:, 3].max())
        for chunk in range(lane, n_chunks, n_lanes):
            for row in range(chunk_rows[chunk], chunk_rows[chunk + 1]):
                if row_start[row + 1] == row_start[row]:
                    continue  # no entries (pass 1)
                written[row] = _row_entries(
                    coords,
                    row,
                    lut,
                    spots_before,
                    layer_bounds,
                    beam_layers,
                    beam_lattice,
                    beam_reach,
                    layer_tables,
                    layer_last_depth,
                    spacing_mm,
                    depth_step_mm,
                    radius_factor_squared,
                    du2,
                    dv2,
                    layer_used,
                    columns,
                    values,
                    row_start[row],
                    row_start[row + 1],
                    True,
                )
    return written
