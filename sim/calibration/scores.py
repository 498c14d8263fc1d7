"""Analytic scores of the subscription lifecycle's likelihood (:mod:`sim.calibration.subscription`).

A customer's log-likelihood in one class is a log-sum over lanes (leave-multiplier node x
trait draw x activity node) of the log of a product of 2 x 2 matrices ``e_A M_1 ... M_n 1``
per spell. Each lane's matrices depend on six lane scalars: the lapse and return rates
``l``, ``b``, the cancel rates from ACTIVE and DORMANT ``k1``, ``k2`` (all with the lane's
multipliers) and the session rates ``lam0``, ``lam1`` (with the customer's activity node).
The kernel :func:`forward_scores` runs the forward recursion once, storing the row before
each segment, then a backward one: ``d log L = sum_i a_{i-1}' dM_i b_i / a_{i-1}' M_i b_i``
(a the forward rows, b the backward columns, either rescaled at will). Every ``M_i`` is a
closed-form exponential ``exp(tG) = f0 I + f1 G`` (or a session day, the difference of two
one-day exponentials), whose derivative in a direction E of G is ``df0 I + df1 G + f1 E``,
with f0, f1 functions of G's trace and determinant (:func:`_dcoefficients`). The lane
scalars' derivatives in the parameters are chained in numpy (:func:`class_scores`),
including how the activity nodes move with the parameters (their pilot fit is itself
differentiated), so the score is the exact derivative of the likelihood the optimiser sees.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import get_num_threads, njit, prange
from scipy.special import digamma, gammaln, logsumexp

from sim.calibration.histories import (
    END,
    GAP_K,
    GAP_X,
    SESSION_K,
    Histories,
)
from sim.calibration.lifecycle import Traits
from sim.calibration.subscription import (
    ALIKE,
    CHUNKS,
    FAST,
    FIRST_SPREAD,
    FRAILTY_NODES,
    GEN_KINDS,
    NODES,
    PILOT,
    PILOT_ROUNDS,
    RESCALE,
    TABLE,
    TINY,
    UNCOUNTED,
    Subscribers,
    Tables,
    _gamma_fit,
    _gen_index,
    _lanes,
    _per_owner,
    _spell_setup,
    _walks,
    chunk_edges,
    quantile_nodes,
    tables,
)

SCALARS = 6  # per lane: lapse, return, cancel (ACTIVE), cancel (DORMANT), session rates
L_, B_, K1, K2, LAM0, LAM1 = range(SCALARS)
POWER, STEP = 0, 1
SERIES = 1.0  # half the eigenvalue gap times t under which f0, f1 are summed as series
LOG_H_STEP = 1e-3  # the step of the leave nodes' five-point derivative in log heterogeneity


S_SERIES = np.array([1.0 / math.factorial(2 * k + 1) for k in range(11)])  # S(w), w <= 1
S_SLOPE = np.array([(k + 1.0) / math.factorial(2 * k + 3) for k in range(10)])  # S'(w)


@njit(cache=True, inline="always")
def _dcoefficients(
    hi: float, lo: float, t: float
) -> tuple[float, float, float, float, float, float]:
    """``exp(tG) = f0 I + f1 G`` for a 2 x 2 generator with real eigenvalues hi >= lo, and
    the derivatives of f0 and f1 in G's trace and determinant: (f0, f1, f0_tr, f0_det,
    f1_tr, f1_det). With m the mean eigenvalue and z = t (hi - lo) / 2, w = z^2:
    f1 = e^(mt) t S(w), f0 = e^(mt) C(w) - m f1, C = cosh(sqrt w), S = sinh(sqrt w) / sqrt w
    (functions of w = (tr^2 / 4 - det) t^2, smooth through hi = lo: S and S' by their
    series for z <= ``SERIES``)."""
    m = 0.5 * (hi + lo)
    z = 0.5 * (hi - lo) * t
    w = z * z
    t2 = t * t
    if z <= SERIES:
        em = np.exp(m * t)
        s = S_SERIES[10]
        for k in range(9, -1, -1):
            s = s * w + S_SERIES[k]
        sp = S_SLOPE[9]
        for k in range(8, -1, -1):
            sp = sp * w + S_SLOPE[k]
        em_c, em_s, em_sp = em * np.cosh(z), em * s, em * sp
    else:
        e_hi, e_lo = np.exp(hi * t), np.exp(lo * t)
        em_c = 0.5 * (e_hi + e_lo)
        em_s = (e_hi - e_lo) / (2.0 * z)
        em_sp = (em_c - em_s) / (2.0 * w)
    f1 = t * em_s
    f0 = em_c - m * f1
    f1_tr = 0.5 * t * f1 + t * t2 * m * em_sp
    f1_det = -t * t2 * em_sp
    f0_tr = 0.5 * t * em_c + 0.5 * em_s * t2 * m - 0.5 * f1 - m * f1_tr
    f0_det = -0.5 * em_s * t2 - m * f1_det
    return f0, f1, f0_tr, f0_det, f1_tr, f1_det


@njit(cache=True, inline="always")
def _coefficients_of(eigs, gi, t, coefs, have, spare):  # type: ignore[no-untyped-def]
    """The row of ``coefs`` holding ``_dcoefficients`` of generator ``gi`` at ``t`` for
    every lane (6, lanes): a session-free generator's (NK, NP) for t under ``have``'s
    width remembered in row ``(gi - 2) x width + t``, the others computed into row
    ``spare`` (rows by index, not slices: a slice costs more than a short row)."""
    ti, width = int(t), have.shape[1]
    kept = gi >= 2 and ti < width
    at = (gi - 2) * width + ti if kept else spare
    if kept and have[gi - 2, ti]:
        return at
    for c in range(coefs.shape[2]):
        f = _dcoefficients(eigs[gi, 0, c], eigs[gi, 1, c], float(t))
        coefs[at, 0, c], coefs[at, 1, c], coefs[at, 2, c] = f[0], f[1], f[2]
        coefs[at, 3, c], coefs[at, 4, c], coefs[at, 5, c] = f[3], f[4], f[5]
    if kept:
        have[gi - 2, ti] = True
    return at


ACC = 32  # per lane: 6 sums per generator, 4 per session day (see _finish)


@njit(cache=True, inline="always")
def _power_back(acc, rows, o, beta, col, gens, coefs, at, gi):  # type: ignore[no-untyped-def]
    """Adds a power's share of the derivative to the sums ``acc`` (a = ``rows[o]``;
    ``coefs[at]``: its ``_dcoefficients`` per lane); b = ``beta[col]`` <- exp(tG) b.
    Every direction E moves G's trace by -1 and its determinant by tr(adj(G) E):
    a' d exp(tG) b / a' exp(tG) b = x + y d det + f1 a' E b / a' exp(tG) b, with x, y and
    f1 a_i b_j / a' exp(tG) b summed per generator (G is the same all through the spell)."""
    base = 6 * gi
    for c in range(beta.shape[2]):
        f0, f1 = coefs[at, 0, c], coefs[at, 1, c]
        a0, a1, b0, b1 = rows[o, 0, c], rows[o, 1, c], beta[col, 0, c], beta[col, 1, c]
        gb0 = gens[gi, 0, 0, c] * b0 + gens[gi, 0, 1, c] * b1
        gb1 = gens[gi, 1, 0, c] * b0 + gens[gi, 1, 1, c] * b1
        ab, agb = a0 * b0 + a1 * b1, a0 * gb0 + a1 * gb1
        denom = f0 * ab + f1 * agb
        inv = 1.0 / denom if denom > TINY else 0.0  # an op this unlikely: its lane has no weight
        acc[base, c] -= (coefs[at, 2, c] * ab + coefs[at, 4, c] * agb) * inv
        acc[base + 1, c] += (coefs[at, 3, c] * ab + coefs[at, 5, c] * agb) * inv
        fi = f1 * inv
        acc[base + 2, c] += fi * a0 * b0
        acc[base + 3, c] += fi * a0 * b1
        acc[base + 4, c] += fi * a1 * b0
        acc[base + 5, c] += fi * a1 * b1
        beta[col, 0, c] = f0 * b0 + f1 * gb0
        beta[col, 1, c] = f0 * b1 + f1 * gb1


@njit(cache=True, inline="always")
def _step_back(acc, rows, o, beta, col, steps, r):  # type: ignore[no-untyped-def]
    """Adds a session day's a_i b_j / a' S b to ``acc`` (a = ``rows[o]``; its derivative
    ``d_steps`` is the same all through the spell: applied in ``_finish``); b =
    ``beta[col]`` <- S b."""
    base = 24 + 4 * r
    for c in range(beta.shape[2]):
        a0, a1, b0, b1 = rows[o, 0, c], rows[o, 1, c], beta[col, 0, c], beta[col, 1, c]
        s00, s01, s10, s11 = (
            steps[r, 0, 0, c],
            steps[r, 0, 1, c],
            steps[r, 1, 0, c],
            steps[r, 1, 1, c],
        )
        denom = a0 * (s00 * b0 + s01 * b1) + a1 * (s10 * b0 + s11 * b1)
        inv = 1.0 / denom if denom > TINY else 0.0  # an op this unlikely: its lane has no weight
        acc[base, c] += a0 * b0 * inv
        acc[base + 1, c] += a0 * b1 * inv
        acc[base + 2, c] += a1 * b0 * inv
        acc[base + 3, c] += a1 * b1 * inv
        beta[col, 0, c] = s00 * b0 + s01 * b1
        beta[col, 1, c] = s10 * b0 + s11 * b1


@njit(cache=True)
def _finish(grad, at, acc, gens, d_steps):  # type: ignore[no-untyped-def]
    """grad[at] (SCALARS, lanes) += the derivative from the sums ``acc`` of a backward pass."""
    for c in range(grad.shape[2]):
        for gi in range(gens.shape[0]):
            x, y = acc[6 * gi, c], acc[6 * gi + 1, c]
            z00, z01, z10, z11 = (
                acc[6 * gi + 2, c],
                acc[6 * gi + 3, c],
                acc[6 * gi + 4, c],
                acc[6 * gi + 5, c],
            )
            g00, g01 = gens[gi, 0, 0, c], gens[gi, 0, 1, c]
            g10, g11 = gens[gi, 1, 0, c], gens[gi, 1, 1, c]
            grad[at, L_, c] += x - y * (g11 + g10) + z01 - z00
            grad[at, B_, c] += x - y * (g01 + g00) + z10 - z11
            v0, v1 = x - y * g11 - z00, x - y * g00 - z11
            if gi == 0 or gi == 2:
                grad[at, K1, c] += v0
                grad[at, K2, c] += v1
            if gi >= 2:
                grad[at, LAM0, c] += v0
                grad[at, LAM1, c] += v1
        for r in range(d_steps.shape[0]):
            for p in range(SCALARS):
                for e in range(4):
                    grad[at, p, c] += acc[24 + 4 * r + e, c] * d_steps[r, p, e // 2, e % 2, c]


@njit(cache=True)
def _step_derivatives(gens, eigs, steps, out):  # type: ignore[no-untyped-def]
    """d S / d lane scalar for the session days S = exp(E) - exp(N) in K and P into
    ``out`` (2, SCALARS, 2, 2, lanes): ``d exp(G) = d0 I + d1 G + f1 E`` for each, an entry
    where S is clamped at 0 held still."""
    n_lane = gens.shape[-1]
    out[:] = 0.0
    for r in range(2):
        for side in range(2):  # + exp(E), - exp(N)
            gi = r + 2 * side
            sign = 1.0 - 2.0 * side
            for c in range(n_lane):
                _, f1, f0_tr, f0_det, f1_tr, f1_det = _dcoefficients(
                    eigs[gi, 0, c], eigs[gi, 1, c], 1.0
                )
                g = gens[gi, :, :, c]
                for p in range(SCALARS):
                    if not _applies(p, gi):
                        continue
                    dd = _det_step(p, g[0, 0], g[0, 1], g[1, 0], g[1, 1])
                    d0, d1 = -f0_tr + f0_det * dd, -f1_tr + f1_det * dd
                    for a in range(2):
                        for b in range(2):
                            e = _direction(p, a, b)
                            out[r, p, a, b, c] += sign * (d0 * (a == b) + d1 * g[a, b] + f1 * e)
        for p in range(SCALARS):
            for a in range(2):
                for b in range(2):
                    for c in range(n_lane):
                        if steps[r, a, b, c] <= 0.0:
                            out[r, p, a, b, c] = 0.0


@njit(cache=True, inline="always")
def _det_step(p: int, g00: float, g01: float, g10: float, g11: float) -> float:
    """d det(G) along lane scalar ``p``: tr(adj(G) E) (every direction moves the trace by -1)."""
    if p == L_:
        return -g11 - g10
    if p == B_:
        return -g01 - g00
    if p in (K1, LAM0):
        return -g11
    return -g00


@njit(cache=True, inline="always")
def _applies(p: int, gi: int) -> bool:
    """Whether lane scalar ``p`` enters generator ``gi`` (EK, EP, NK, NP)."""
    if p in (K1, K2):
        return gi == 0 or gi == 2
    if p in (LAM0, LAM1):
        return gi >= 2
    return True


@njit(cache=True, inline="always")
def _direction(p: int, a: int, b: int) -> float:
    """Entry (a, b) of the direction E of lane scalar ``p`` in a generator."""
    if p == L_:
        return -1.0 if (a == 0 and b == 0) else (1.0 if (a == 0 and b == 1) else 0.0)
    if p == B_:
        return 1.0 if (a == 1 and b == 0) else (-1.0 if (a == 1 and b == 1) else 0.0)
    if p in (K1, LAM0):
        return -1.0 if (a == 0 and b == 0) else 0.0
    return -1.0 if (a == 1 and b == 1) else 0.0


@njit(cache=True, inline="always")
def _ops(kind, r, x, lengths_k, lengths_x, runs, ends, ops):  # type: ignore[no-untyped-def]
    """A segment as elementary operations (as ``_segment`` applies it, a gap's table entry
    ``N^(d-1) S`` split into its power and its session day) into the columns of ``ops``
    (rows: kind, index, t): their number."""
    if kind == GAP_K or (kind == GAP_X and x == 1):
        d = lengths_k[r] if kind == GAP_K else lengths_x[r]
        return _gap_ops(2, 0, d, ops)
    if kind == GAP_X:
        return _gap_ops(3, 1, lengths_x[r], ops)
    n = 0
    for k in range(runs.shape[1]):
        length = runs[r, k, 1]
        if length > 0:
            ops[0, n], ops[1, n], ops[2, n] = POWER, _gen_index(runs[r, k, 0], x), length
            n += 1
    if ends[r] != END:
        ops[0, n], ops[1, n], ops[2, n] = STEP, 0 if ends[r] == SESSION_K else 1 - x, 0
        n += 1
    return n


@njit(cache=True, inline="always")
def _gap_ops(power, step, d, ops):  # type: ignore[no-untyped-def]
    """A gap of ``d`` days: ``N^(d-1)`` (none for a day) then a session day."""
    n = 0
    if d > 1:
        ops[0, 0], ops[1, 0], ops[2, 0] = POWER, power, d - 1
        n = 1
    ops[0, n], ops[1, n], ops[2, n] = STEP, step, 0
    return n + 1


@njit(cache=True, inline="always")
def _forward_op(rows, o, gens, coefs, at, steps, kind, index):  # type: ignore[no-untyped-def]
    """rows[o + 1] <- rows[o] M for one elementary operation (a power by ``coefs[at]``)."""
    for c in range(rows.shape[2]):
        a, d = rows[o, 0, c], rows[o, 1, c]
        if kind == POWER:
            f0, f1 = coefs[at, 0, c], coefs[at, 1, c]
            ga = a * gens[index, 0, 0, c] + d * gens[index, 1, 0, c]
            gd = a * gens[index, 0, 1, c] + d * gens[index, 1, 1, c]
            rows[o + 1, 0, c], rows[o + 1, 1, c] = f0 * a + f1 * ga, f0 * d + f1 * gd
        else:
            rows[o + 1, 0, c] = a * steps[index, 0, 0, c] + d * steps[index, 1, 0, c]
            rows[o + 1, 1, c] = a * steps[index, 0, 1, c] + d * steps[index, 1, 1, c]


@njit(cache=True, parallel=True, error_model="numpy", fastmath=FAST)
def forward_scores(  # type: ignore[no-untyped-def]
    ptr, kind, ref, lengths_k, lengths_x, runs, ends, gen, eig, day, rate, g, owner,
    lane_cls, lane_node, cancelled, chunks,
):  # fmt: skip
    """``forward``'s log e_A M_1 ... 1 per spell and lane (regime X as P and as K) and the
    derivative in the lane scalars (n, SCALARS, lanes) of the log-likelihood
    ``spell_terms`` takes from them: of log L_P, or for a cancelled spell of
    log(L_P - L_K) (:func:`_combined`). The forward rows are those of ``forward`` (same
    segments, same rescaling), stored normalised before each segment; the backward pass
    recomputes the rows inside a segment from its stored one. The spells run in
    ``chunks``, each with its own buffers (allocated once per chunk, not per spell)."""
    n, n_lane = ptr.size - 1, gen.shape[-1]
    out_p = np.zeros((n, n_lane))
    out_k = np.zeros((n, n_lane))
    grad_p = np.zeros((n, SCALARS, n_lane))
    edges = chunk_edges(ptr, chunks)
    for ch in prange(chunks):
        longest = 1
        for i in range(edges[ch], edges[ch + 1]):
            longest = max(longest, ptr[i + 1] - ptr[i])
        stored = np.empty((2, longest, 2, n_lane))  # X as P (the part before too), as K
        work = Work(
            np.empty((2 * TABLE + OPS, 6, n_lane)), np.zeros((2, TABLE), np.bool_),
            np.empty((ACC, n_lane)), np.empty((OPS + 1, 2, n_lane)),
            np.zeros((4, OPS), np.int64), np.empty((2, SCALARS, 2, 2, n_lane)),
            np.empty((3, 2, n_lane)), np.empty((3, n_lane)), np.empty((2, SCALARS, n_lane)),
        )  # fmt: skip
        for i in range(edges[ch], edges[ch + 1]):
            _spell_scores(i, ptr, kind, ref, lengths_k, lengths_x, runs, ends, gen, eig, day,
                          rate, g, owner, lane_cls, lane_node, cancelled, stored, work,
                          out_p, out_k, grad_p)  # fmt: skip
    return out_p, out_k, grad_p


OPS = 4  # elementary operations of a segment at most (three runs and a terminal)
# a chunk's buffers for the backward passes: coefficients (the spell's cache of session-free
# powers, then one row per operation) and which are cached, the sums, the rows inside a
# segment, its operations (kind, index, t, coefficient row), the session days' derivatives,
# the columns (the spell's, then each regime's over a cancelled spell's last period), their
# scales, and each regime's derivative there
Work = namedtuple("Work", "coefs have acc rows ops d_steps beta scale walks")


@njit(cache=True, error_model="numpy", fastmath=FAST)
def _spell_scores(  # type: ignore[no-untyped-def]
    i, ptr, kind, ref, lengths_k, lengths_x, runs, ends, gen, eig, day, rate, g, owner,
    lane_cls, lane_node, cancelled, stored, work, out_p, out_k, grad_p,
):  # fmt: skip
    """One spell of :func:`forward_scores`, with the chunk's buffers."""
    first, last = ptr[i], ptr[i + 1]
    gens, eigs, steps, table, fork = _spell_setup(
        i, ptr, kind, ref, lengths_k, runs, ends, gen, eig, day, rate, g, owner, lane_cls,
        lane_node,
    )  # fmt: skip
    _walks(i, first, fork, last, kind, ref, lengths_k, lengths_x, runs, ends, gens, eigs,
           steps, table, out_p, out_k, stored, work.rows, work.scale)  # fmt: skip
    work.have[:] = False
    _step_derivatives(gens, eigs, steps, work.d_steps)
    beta, scale = work.beta, work.scale
    beta[0] = 1.0
    scale[0] = 0.0
    if cancelled[i] and fork < last:
        for x in range(2):
            beta[1 + x] = 1.0
            scale[1 + x] = 0.0
            work.walks[x] = 0.0
            _backward(work.walks, x, 1 + x, stored, x, first, fork, last, x, kind, ref,
                      lengths_k, lengths_x, runs, ends, gens, eigs, steps, work)  # fmt: skip
        beta[0] = 0.0
        _combined(grad_p[i], beta[0], stored[0, fork - first], work.walks[0], beta[1],
                  scale[1], work.walks[1], beta[2], scale[2])  # fmt: skip
    else:
        _backward(grad_p, i, 0, stored, 0, first, fork, last, 0, kind, ref, lengths_k,
                  lengths_x, runs, ends, gens, eigs, steps, work)  # fmt: skip
    _backward(grad_p, i, 0, stored, 0, first, first, fork, 1, kind, ref, lengths_k,
              lengths_x, runs, ends, gens, eigs, steps, work)  # fmt: skip


@njit(cache=True, fastmath=FAST, **UNCOUNTED)
def _backward(  # type: ignore[no-untyped-def]
    grad, at, col, stored, slot, first, lo, hi, x, kind, ref, lengths_k, lengths_x, runs,
    ends, gens, eigs, steps, work,
):  # fmt: skip
    """The backward pass over segments ``hi - 1`` down to ``lo`` of a spell, regime X as
    P (x = 0) or K, from the column ``work.beta[col]`` (rescaled like the forward row, the
    logs of the factors added to ``work.scale[col]``): each segment's rows recomputed from
    the stored one (``stored[slot]``), each operation's share of the derivative summed,
    added to ``grad[at]`` at the end. Buffers by index, not slices (a slice costs more than
    a short row), and ``UNCOUNTED``: it allocates nothing."""
    n_lane = gens.shape[-1]
    acc, rows, ops, coefs, have = work.acc, work.rows, work.ops, work.coefs, work.have
    beta, scale = work.beta, work.scale
    acc[:] = 0.0
    spare = 2 * TABLE
    for j in range(hi - 1, lo - 1, -1):
        n_ops = _ops(kind[j], ref[j], x, lengths_k, lengths_x, runs, ends, ops)
        jj = j - first
        for c in range(n_lane):
            rows[0, 0, c], rows[0, 1, c] = stored[slot, jj, 0, c], stored[slot, jj, 1, c]
        for o in range(n_ops):
            if ops[0, o] == POWER:
                ops[3, o] = _coefficients_of(eigs, ops[1, o], ops[2, o], coefs, have, spare + o)
            if o < n_ops - 1:
                _forward_op(rows, o, gens, coefs, ops[3, o], steps, ops[0, o], ops[1, o])
        for o in range(n_ops - 1, -1, -1):
            if ops[0, o] == POWER:
                _power_back(acc, rows, o, beta, col, gens, coefs, ops[3, o], ops[1, o])
            else:
                _step_back(acc, rows, o, beta, col, steps, ops[1, o])
        low = np.inf
        for c in range(n_lane):
            low = min(low, beta[col, 0, c] + beta[col, 1, c])
        if low < RESCALE:
            for c in range(n_lane):
                total = beta[col, 0, c] + beta[col, 1, c]
                if total > 0.0:
                    beta[col, 0, c] /= total
                    beta[col, 1, c] /= total
                    scale[col, c] += np.log(total)
    _finish(grad, at, acc, gens, work.d_steps)


@njit(cache=True)
def _combined(grad, beta, a, grad_p, beta_p, scale_p, grad_k, beta_k, scale_k):  # type: ignore[no-untyped-def]
    """A cancelled spell: the derivative of log(L_P - L_K) over its last period (from
    both regimes' backward passes, ``a`` the row where they part) into ``grad``, and the
    column ``beta_P - beta_K`` to carry it through the segments before. Where the two are
    equal to 1e-15 the likelihood takes L_P alone (as ``spell_terms``), and so does this."""
    for c in range(beta.shape[1]):
        lp = a[0, c] * beta_p[0, c] + a[1, c] * beta_p[1, c]
        lk = a[0, c] * beta_k[0, c] + a[1, c] * beta_k[1, c]
        if not lp > 0.0:
            continue
        gap = scale_k[c] - scale_p[c] + (np.log(lk) - np.log(lp) if lk > 0.0 else -np.inf)
        if gap >= -1e-15:
            shift, ratio = 0.0, 0.0
        else:
            shift, ratio = min(np.exp(scale_k[c] - scale_p[c]), 1e300), np.exp(gap)
        for q in range(SCALARS):
            grad[q, c] = (grad_p[q, c] - ratio * grad_k[q, c]) / (1.0 - ratio)
        beta[0, c] = beta_p[0, c] - shift * beta_k[0, c]
        beta[1, c] = beta_p[1, c] - shift * beta_k[1, c]


@njit(cache=True, parallel=True)
def _survival_scores(
    gen: np.ndarray, eig: np.ndarray, days: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """log e_A exp(t EK) 1 for each t in ``days`` and component, and its derivatives in the
    lane scalars (len(days), SCALARS, C); ``gen``, ``eig`` as the kernel's (EK first)."""
    n, n_comp = days.size, gen.shape[-1]
    value = np.zeros((n, n_comp))
    grad = np.zeros((n, SCALARS, n_comp))
    for i in prange(n):
        a = np.zeros((1, 2, n_comp))
        a[0, 0] = 1.0
        beta = np.ones((1, 2, n_comp))
        coefs = np.empty((1, 6, n_comp))
        at = _coefficients_of(eig, 0, days[i], coefs, np.zeros((0, 0), np.bool_), 0)
        acc = np.zeros((ACC, n_comp))
        _power_back(acc, a, 0, beta, 0, gen, coefs, at, 0)
        _finish(grad, i, acc, gen, np.zeros((0, SCALARS, 2, 2, n_comp)))
        for c in range(n_comp):
            value[i, c] = np.log(max(beta[0, 0, c], TINY))
    return value, grad


# ------------------------------------------------------------------ the chain in numpy
def spell_scores(tab: Tables, h: Histories, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``spell_terms`` (every spell's log-likelihood per lane) and its derivatives in the
    lane scalars, (n_spells, SCALARS, lanes)."""
    n_comp, j = tab.log_prior.size, g.shape[2]

    def lanes(m: np.ndarray) -> np.ndarray:
        return np.repeat(m, j, axis=-1)

    kinds = GEN_KINDS[:2]
    gen = _lanes(np.stack([tab.gen[k] for k in kinds]))
    eig = np.stack([np.stack(tab.eig[k]) for k in kinds])
    log_p, log_k, d_p = forward_scores(
        h.spell_ptr, h.order_kind, h.order_ref, h.lengths_k, h.lengths_x, h.seg_runs,
        h.seg_end, lanes(gen), lanes(eig),
        lanes(_lanes(np.stack([tab.power(k, np.ones(1))[0] for k in kinds]))),
        lanes(np.ascontiguousarray(tab.rate.T)), np.ascontiguousarray(g), h.spell_owner,
        lanes(tab.cls), np.tile(np.arange(j), n_comp), h.cancelled,
        min(h.n_spells, CHUNKS * get_num_threads()),
    )  # fmt: skip
    floor = np.log(TINY)
    out = np.maximum(log_p, floor)
    d_out = np.where((log_p > floor)[:, None, :], d_p, 0.0)
    c = h.cancelled
    lp, lk = log_p[c], np.maximum(log_k[c], -1e300)
    ok = np.isfinite(lp)
    raw = lk - np.where(ok, lp, 0.0)
    gap = np.where(ok, np.minimum(raw, -1e-15), -1.0)
    out[c] = np.where(ok, lp + np.log(-np.expm1(gap)), floor)
    d_out[c] = np.where(ok[:, None, :], d_p[c], 0.0)  # the kernel's: of log(L_P - L_K)
    if h.left_spell.size:
        kept, d_kept = _survival_lanes(tab, h.left_days, j)
        gone = -np.expm1(kept)
        out[h.left_spell] = np.log(np.maximum(gone, TINY))
        moves = (gone > TINY)[:, None, :]
        d_out[h.left_spell] = np.where(
            moves, -d_kept / np.where(moves, np.expm1(-kept)[:, None, :], 1.0), 0.0
        )
    out[h.lapsed_spell] = 0.0  # lapsed before the window, history unknown: only time away
    d_out[h.lapsed_spell] = 0.0
    return out, d_out


def _survival_lanes(tab: Tables, days: np.ndarray, j: int) -> tuple[np.ndarray, np.ndarray]:
    """``_survival`` per lane (each component once per activity node) and its derivatives."""
    distinct, back = np.unique(days, return_inverse=True)
    value, grad = _survival_scores(
        _lanes(tab.gen["EK"][None]), np.stack(tab.eig["EK"])[None], distinct.astype(np.float64)
    )
    return np.repeat(value[back], j, axis=-1), np.repeat(grad[back], j, axis=-1)


def _indices(model: Subscribers) -> dict[str, int]:
    """Where each parameter sits in a one-class ``theta``."""
    names = [*model.free, "heterogeneity", *(["activity_shape"] if model.sessions else [])]
    return {name: i for i, name in enumerate(names)}


def leave_nodes(h: float, sessions: bool) -> tuple[np.ndarray, np.ndarray]:
    """The leave multiplier's nodes (as ``_class_components`` takes them) and their
    derivatives in log heterogeneity (five-point differences of ``quantile_nodes``, step
    ``LOG_H_STEP``: error about 1e-11)."""
    if h >= ALIKE:
        return np.ones(1), np.zeros(1)
    n = FRAILTY_NODES[int(sessions)]

    def at(k: float) -> np.ndarray:
        return quantile_nodes(h * np.exp(k * LOG_H_STEP), n, sessions)[0]

    slope = (at(-2) - 8.0 * at(-1) + 8.0 * at(1) - at(2)) / (12.0 * LOG_H_STEP)
    return at(0), slope


def component_jacobian(model: Subscribers, traits: Traits, alike: bool = False) -> np.ndarray:
    """d (lapse, return, cancel, dormant cancel) of each component (as ``components``
    orders them, one class) / d theta: (C, 4, P)."""
    idx = _indices(model)
    m, dm = (
        (np.ones(1), np.zeros(1))
        if alike
        else leave_nodes(float(model.heterogeneity[0]), model.sessions)
    )
    shape = (m.size, traits.n)

    def grid(mult: np.ndarray) -> np.ndarray:
        return np.broadcast_to(mult, shape).reshape(-1)

    leave, d_leave = grid(m[:, None] * traits.leave), grid(dm[:, None] * traits.leave)
    press, d_press = grid(m[:, None] * traits.press), grid(dm[:, None] * traits.press)
    come = grid(traits.come[None, :])
    jac = np.zeros((leave.size, 4, len(idx)))
    hh = idx["heterogeneity"]
    jac[:, L_, idx["lapse_rate"]] = model.lapse_rate[0] * leave
    jac[:, L_, hh] = model.lapse_rate[0] * d_leave
    jac[:, B_, idx["return_rate"]] = model.return_rate[0] * come
    jac[:, K1, idx["cancel_rate"]] = model.cancel_rate[0] * press
    jac[:, K1, hh] = model.cancel_rate[0] * d_press
    jac[:, K2, idx["dormant_cancel_rate"]] = model.dormant_cancel_rate[0] * press
    jac[:, K2, hh] = model.dormant_cancel_rate[0] * d_press
    return jac


def chain(
    d_lane: np.ndarray,
    jac: np.ndarray,
    tab: Tables,
    g: np.ndarray,
    d_u: np.ndarray,
    idx: dict[str, int],
) -> np.ndarray:
    """Per customer and lane, d log-likelihood / d theta from the lane scalars' derivatives
    ``d_lane`` (n, SCALARS, C, J): the rates through ``jac`` (C, 4, P), the session rates
    ``rate x g`` through their rate and the node ``u = log g`` (``d_u``: (n, J, P)):
    (n, C, J, P)."""
    out = np.einsum("npcj,cpq->ncjq", d_lane[:, :4], jac)
    if "activity_rate" in idx:
        a0 = d_lane[:, LAM0] * tab.rate[None, :, 0, None] * g[:, None, :]
        a1 = d_lane[:, LAM1] * tab.rate[None, :, 1, None] * g[:, None, :]
        out += (a0 + a1)[..., None] * d_u[:, None, :, :]
        out[..., idx["activity_rate"]] += a0
        out[..., idx["dormant_activity_rate"]] += a1
    return out


def _owner_scores(tab: Tables, h: Histories, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per customer, the spells' log-likelihood per component and node (n, C, J) and its
    lane-scalar derivatives (n, SCALARS, C, J), ``g`` (n, J) the customer's nodes."""
    n_comp, j = tab.log_prior.size, g.shape[1]
    terms, d_terms = spell_scores(tab, h, g[:, None, :])
    value = _per_owner(terms, h.spell_owner, h.n).reshape(h.n, n_comp, j)
    d_flat = d_terms.reshape(h.n_spells, -1)
    d_value = _per_owner(d_flat, h.spell_owner, h.n).reshape(h.n, SCALARS, n_comp, j)
    return value, d_value


def _gamma_fit_tangent(
    u: np.ndarray, ell: np.ndarray, s: float, d_u: np.ndarray, d_ell: np.ndarray, d_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The derivatives of ``_gamma_fit``'s centre and spread (n, P), from those of its
    inputs: the pilot points ``u`` and values ``ell`` (n, 3) with ``d_u``, ``d_ell`` (n,
    3, P), and of the shape ``s`` (P,)."""
    mid, d = u[:, 1, None], (u[:, 2] - u[:, 1])[:, None]
    d_mid, d_d = d_u[:, 1], d_u[:, 2] - d_u[:, 1]
    e0, e1, e2 = (ell[:, i, None] for i in range(3))
    de0, de1, de2 = (d_ell[:, i] for i in range(3))
    sh, ch = np.sinh(d / 2.0), np.cosh(d / 2.0)
    q, d_q = 4.0 * sh**2, 4.0 * sh * ch * d_d
    num, d_num = e0 - 2.0 * e1 + e2, de0 - 2.0 * de1 + de2
    b = -num / q
    d_b = -d_num / q + num * d_q / q**2
    top = e2 - e0 + 2.0 * b * np.sinh(d)
    d_top = de2 - de0 + 2.0 * d_b * np.sinh(d) + 2.0 * b * np.cosh(d) * d_d
    a = top / (2.0 * d)
    d_a = d_top / (2.0 * d) - top * d_d / (2.0 * d**2)
    floor, d_floor = s / 8.0, d_s[None, :] / 8.0

    def softened(v: np.ndarray, d_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        y = (v + s) / floor - 1.0
        d_y = (d_v + d_s) / floor - (v + s) * d_floor / floor**2
        value = floor * (1.0 + np.logaddexp(0.0, y))
        return value, d_floor * (1.0 + np.logaddexp(0.0, y)) + floor * _expit(y) * d_y

    shape, d_shape = softened(a, d_a)
    back = np.exp(-mid)
    rate, d_rate = softened(b * back, (d_b - b * d_mid) * back)
    reach, d_reach = 3.0 * d, 3.0 * d_d
    v = (np.log(shape / rate) - mid) / reach
    d_v = (d_shape / shape - d_rate / rate - d_mid) / reach - v * d_reach / reach
    th = np.tanh(v)
    d_centre = d_mid + d_reach * th + reach * (1.0 - th**2) * d_v
    return d_centre, -0.5 * shape**-1.5 * d_shape


def _expit(y: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -y))


def activity_scores(
    model: Subscribers, traits: Traits, h: Histories
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``activity_nodes`` for one class, (n, J) nodes ``g`` and log weights, and their
    derivatives in theta: of ``u = log g`` and of the log weights, (n, J, P). The pilot
    fits are differentiated through (their spells' scores and ``_gamma_fit``)."""
    idx = _indices(model)
    s = model.activity_shape
    d_s = np.zeros(len(idx))
    d_s[idx["activity_shape"]] = s
    share = np.exp(traits.log_weight)
    one = Traits(share @ traits.leave[:, None], share @ traits.come[:, None],
                 share @ traits.press[:, None], np.zeros(1))  # fmt: skip
    typical = tables(model, one, alike=True)
    jac = component_jacobian(model, one, alike=True)
    centre = np.log(h.session_rate / model.activity_rate[0])
    d_centre = np.zeros((h.n, len(idx)))
    d_centre[:, idx["activity_rate"]] = -1.0
    spread, d_spread = np.full_like(centre, FIRST_SPREAD), np.zeros_like(d_centre)
    for _ in range(PILOT_ROUNDS):
        u = centre[:, None] + spread[:, None] * PILOT
        d_u = d_centre[:, None, :] + d_spread[:, None, :] * PILOT[None, :, None]
        ell, d_lane = _owner_scores(typical, h, np.exp(u))
        d_ell = chain(d_lane, jac, typical, np.exp(u), d_u, idx)[:, 0]
        centre, spread = _gamma_fit(u, ell[:, 0], s)
        d_centre, d_spread = _gamma_fit_tangent(u, ell[:, 0], s, d_u, d_ell, d_s)
    x, w = np.polynomial.hermite.hermgauss(NODES)
    u = centre[:, None] + np.sqrt(2.0) * spread[:, None] * x
    d_u = d_centre[:, None, :] + np.sqrt(2.0) * x[None, :, None] * d_spread[:, None, :]
    log_prior = s * np.log(s) - gammaln(s) + s * u - s * np.exp(u)
    log_q = -(x**2) - np.log(spread[:, None] * np.sqrt(2.0 * np.pi))
    log_w = np.log(w / np.sqrt(np.pi)) + log_prior - log_q
    d_log_w = (
        (np.log(s) + 1.0 - digamma(s) + u - np.exp(u))[..., None] * d_s
        + (s - s * np.exp(u))[..., None] * d_u
        + (d_spread / spread[:, None])[:, None, :]
    )
    return np.exp(u), log_w, d_u, d_log_w


def _away_scores(tab: Tables, h: Histories) -> tuple[np.ndarray, np.ndarray]:
    """The time away's log-likelihood per customer and component (as ``joint_terms``
    adds it) and its derivative in log comeback rate, (n, C) each."""
    rate = tab.come[None, :]
    days = h.away_days[:, None].astype(np.float64)
    back = h.away_back[:, None]
    waited = np.where(back, np.maximum(days - 1.0, 0.0), days)
    caught = np.maximum(-np.expm1(-rate), TINY)
    away = -rate * waited + np.where(back, np.log(caught), 0.0)
    d_away = rate * (-waited + np.where(back, np.exp(-rate) / caught, 0.0))
    return _per_owner(away, h.away_owner, h.n), _per_owner(d_away, h.away_owner, h.n)


def class_scores(
    model: Subscribers, traits: Traits, h: Histories
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each customer's log-likelihood under a one-class ``model`` before left truncation's
    division (``log_likelihood``'s first term) and its score, the derivative in
    ``model.theta()``, then the divisor's log (``kept_terms`` summed over the components)
    and its score: (n,), (n, P), (n,), (n, P)."""
    idx = _indices(model)
    tab = tables(model, traits)
    n_par = len(idx)
    if model.sessions:
        g, log_w, d_u, d_log_w = activity_scores(model, traits, h)
    else:
        g, log_w = np.ones((h.n, 1)), np.zeros((h.n, 1))
        d_u, d_log_w = np.zeros((h.n, 1, n_par)), np.zeros((h.n, 1, n_par))
    value, d_lane = _owner_scores(tab, h, g)
    d_value = chain(d_lane, component_jacobian(model, traits), tab, g, d_u, idx)
    if h.away_owner.size:
        away, d_away = _away_scores(tab, h)
        value = value + away[..., None]
    joint = value + tab.log_prior[None, :, None] + log_w[:, None, :]
    ll = logsumexp(joint.reshape(h.n, -1), axis=1)
    post = np.exp(joint - ll[:, None, None])
    score = np.einsum("ncj,ncjq->nq", post, d_value)
    score += np.einsum("nj,njq->nq", post.sum(axis=1), d_log_w)
    if h.away_owner.size and "comeback_rate" in idx:
        score[:, idx["comeback_rate"]] += np.einsum("nc,nc->n", post.sum(axis=2), d_away)
    kept, d_kept = _kept_scores(tab, h, component_jacobian(model, traits))
    return ll, score, kept, d_kept


def _kept_scores(tab: Tables, h: Histories, jac: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``logsumexp`` of ``kept_terms`` per customer (the log-probability of its spell begun
    before the window lasting into it, 0 without one) and its derivative in theta."""
    kept = np.zeros(h.n)
    d_kept = np.zeros((h.n, jac.shape[-1]))
    if h.trunc_spell.size == 0:
        return kept, d_kept
    value, grad = _survival_lanes(tab, h.trunc_days, 1)  # per spell and component
    owner = h.spell_owner[h.trunc_spell]
    terms = _per_owner(value, owner, h.n) + tab.log_prior[None, :]  # (n, C)
    d_spell = np.einsum("isc,csq->icq", grad[:, :4], jac).reshape(owner.size, -1)
    d_terms = _per_owner(d_spell, owner, h.n).reshape(h.n, *jac.shape[::2])
    kept = logsumexp(terms, axis=1)
    d_kept = np.einsum("nc,ncq->nq", np.exp(terms - kept[:, None]), d_terms)
    return kept, d_kept
