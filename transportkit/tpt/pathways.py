r"""Pathways, bottlenecks, coarse graining and sampling on the net-flux network :math:`f^+`.

Graph searches (widest paths, sampling walks) run on the host with Python's ``heapq`` on one CSR of the positive
net-flux edges (:class:`NetFluxCSR`): they are combinatorial, not numerical, and the number of extracted paths is
small.

**Dominant-pathway decomposition** (Metzner, Schütte & Vanden-Eijnden, "Transition path theory for Markov jump
processes", Multiscale Model. Simul. 7, 1192 (2009); deeptime's ``pathways``). A super
source ``s`` is joined to each :math:`i\in A` with capacity :math:`\sum_j f^+_{ij}` and each :math:`j\in B` to a
super sink ``t`` with capacity :math:`\sum_i f^+_{ij}`. The capacity of a path :math:`w` is
:math:`c(w) = \min_{e\in w} f^+_e`; the dominant pathway maximizes it (widest path: Dijkstra with max–min
relaxation, :math:`O(E\log V)`). With ``refine=True`` ties among widest paths are broken as in deeptime: the
weakest edge :math:`(b_1, b_2)` (the bottleneck) is kept and the segments :math:`s\to b_1` and :math:`b_2\to t`
are themselves replaced, recursively, by widest paths through edges at least as strong. The decomposition
repeatedly extracts the dominant path, subtracts :math:`c(w)` from its edges, and reports
:math:`c(w)/F` as the path's share, until ``k`` paths or the requested ``fraction`` of :math:`F` is reached.
"""

from __future__ import annotations

import heapq
import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Any

from .._backend import host_backend
from .._capabilities import declare
from .._validation import as_bool, as_choice, as_count, as_probability, as_real
from ..errors import ConvergenceWarning
from ..random import SEED_DEPRECATED, resolve_rng
from .graph import Network, reach, segment_sum
from .result import Array, Path, ReactiveFlux, ReactivePaths
from .validation import as_states

__all__ = ["bottleneck", "coarse_grain", "isocommittor_cut", "pathways", "sample_reactive"]


@dataclass(frozen=True)
class NetFluxCSR:
    """The positive net-flux edges of a :class:`ReactiveFlux` on the host, by source (CSR), built once per use.

    ``rows``/``cols``/``flux`` are the edges with :math:`f^+_{ij} > 0` sorted by source, ``ptr`` the CSR row
    pointer (the edges of ``i`` are ``ptr[i]:ptr[i+1]``), ``out``/``into`` the total net flux out of / into each
    state, ``in_a``/``in_b`` the boolean masks of A and B.
    """

    n: int
    rows: Any
    cols: Any
    flux: Any
    ptr: Any
    out: Any
    into: Any
    in_a: Any
    in_b: Any

    @classmethod
    def of(cls, rf: ReactiveFlux) -> NetFluxCSR:
        be, hb = rf.backend, host_backend()
        hx = hb.xp
        r, c, w = (hb.asarray(be.to_numpy(a)) for a in (*rf.edges, rf.net_flux_values))
        (pos,) = hx.nonzero(w > 0)
        r, c, w = hx.take(r, pos), hx.take(c, pos), hx.take(w, pos)  # still sorted by (row, col)
        ptr = hx.searchsorted(r, hx.arange(rf.n + 1, dtype=r.dtype))
        in_a = hx.zeros(rf.n, dtype=hx.bool)
        in_a[be.to_numpy(rf.A)] = True
        in_b = hx.zeros(rf.n, dtype=hx.bool)
        in_b[be.to_numpy(rf.B)] = True
        return cls(n=rf.n, rows=r, cols=c, flux=w, ptr=ptr, out=segment_sum(hb, r, w, rf.n),
                   into=segment_sum(hb, c, w, rf.n), in_a=in_a, in_b=in_b)


class _FluxGraph:
    """Host adjacency (CSR by source) of the positive net-flux edges plus a super source ``s`` joined to A and a
    super sink ``t`` joined from B, as Python lists for the heap-based searches."""

    def __init__(self, csr: NetFluxCSR):
        hx = host_backend().xp
        n = csr.n
        s, t = n, n + 1
        (a_idx,) = hx.nonzero(csr.in_a & (csr.out > 0))
        (b_idx,) = hx.nonzero(csr.in_b & (csr.into > 0))
        r, c = csr.rows, csr.cols
        src = hx.concat([r, hx.full(a_idx.shape, s, dtype=r.dtype), hx.astype(b_idx, r.dtype)])
        dst = hx.concat([c, hx.astype(a_idx, c.dtype), hx.full(b_idx.shape, t, dtype=c.dtype)])
        cap = hx.concat([csr.flux, hx.take(csr.out, a_idx), hx.take(csr.into, b_idx)])
        order = hx.argsort(src, stable=True)
        src, dst, cap = hx.take(src, order), hx.take(dst, order), hx.take(cap, order)
        self.ptr = hx.searchsorted(src, hx.arange(n + 3)).tolist()
        self.src = src.tolist()
        self.dst = dst.tolist()
        self.cap = cap.tolist()
        self.n = n
        self.s, self.t = s, t
        self.total = float(hx.sum(hx.take(csr.out, a_idx)))

    def widest(self, sources: set, targets: set, thr: float, banned: set) -> tuple[list, float] | None:
        """Widest path (list of edge ids) from any of ``sources`` to any of ``targets`` through edges of
        capacity ``>= thr`` (and ``> 0``) not in ``banned``; ``None`` if there is none."""
        ptr, dst, cap = self.ptr, self.dst, self.cap
        best: dict[int, float] = {}
        pred: dict[int, int] = {}
        heap = []
        for u in sources:
            best[u] = math.inf
            heap.append((-math.inf, u))
        heapq.heapify(heap)
        while heap:
            negw, u = heapq.heappop(heap)
            wu = -negw
            if wu < best.get(u, 0.0):
                continue
            if u in targets:
                edges = []
                while u not in sources:
                    e = pred[u]
                    edges.append(e)
                    u = self.src[e]
                edges.reverse()
                return edges, wu
            for e in range(ptr[u], ptr[u + 1]):
                ce = cap[e]
                if ce <= 0.0 or ce < thr or e in banned:
                    continue
                v = dst[e]
                nw = wu if wu < ce else ce
                if nw > best.get(v, 0.0):
                    best[v] = nw
                    pred[v] = e
                    heapq.heappush(heap, (-nw, v))
        return None

    def dominant(self, sources: set, targets: set, thr: float, banned: set, refine: bool) -> list | None:
        found = self.widest(sources, targets, thr, banned)
        if found is None:
            return None
        edges, _ = found
        if not refine or len(edges) == 1:
            return edges
        caps = [self.cap[e] for e in edges]
        k = caps.index(min(caps))
        e = edges[k]
        c = caps[k]
        u, v = self.src[e], self.dst[e]
        banned = banned | {e}
        left = [] if u in sources else self.dominant(sources, {u}, c, banned, refine)
        right = [] if v in targets else self.dominant({v}, targets, c, banned, refine)
        if left is None or right is None:  # ties made a segment unreachable: keep the widest path found
            return edges
        return [*left, e, *right]


def _label(rf: ReactiveFlux, states: list) -> list:
    return [rf.labels[i] for i in states] if rf.labels is not None else states


@declare()
def pathways(rf: ReactiveFlux, k: int | None = 3, *, fraction: float = 1.0, refine: bool = True,
             tol: float = 1e-14) -> list[Path]:
    """Dominant-pathway decomposition of the net flux of ``rf`` (Metzner, Schütte & Vanden-Eijnden 2009).

    Parameters
    ----------
    rf : ReactiveFlux
        The result of :func:`~transportkit.tpt.reactive_flux`.
    k : int or None
        Stop after ``k`` paths (``None``: no limit).
    fraction : float
        Stop when the shares add up to ``fraction`` (within ``tol``), in ``(0, 1]``.
    refine : bool
        deeptime's recursive tie-breaking through the bottleneck edge.
    tol : float
        Tolerance on ``fraction``.

    Returns
    -------
    list of (states, share)
        ``states`` the path from A to B (state indices, or node labels for networkx input), ``share = c(w) / F``;
        ends early when no A->B path is left. Each widest-path search is a Dijkstra variant on the host
        (``heapq``), :math:`O(E\\log V)`.
    """
    k = None if k is None else as_count("k", k)
    fraction = as_real("fraction", fraction, low=0.0, high=1.0, low_open=True)
    tol = as_real("tol", tol, low=0.0)
    refine = as_bool("refine", refine)
    G = _FluxGraph(NetFluxCSR.of(rf))
    out: list[Path] = []
    if G.total <= 0:
        return out
    done = 0.0
    while k is None or len(out) < k:
        edges = G.dominant({G.s}, {G.t}, 0.0, set(), refine)
        if edges is None:
            break
        c = min(G.cap[e] for e in edges)
        if c <= 0:
            break
        for e in edges:
            G.cap[e] -= c
        states = [G.dst[e] for e in edges[:-1]]
        out.append((_label(rf, states), c / G.total))
        done += c
        if abs(done / G.total - fraction) <= tol or done / G.total >= fraction:
            break
    return out


@declare()
def bottleneck(rf: ReactiveFlux) -> tuple[Any, Any, float]:
    """The bottleneck: the weakest real edge of the dominant pathway.

    Parameters
    ----------
    rf : ReactiveFlux
        The result of :func:`~transportkit.tpt.reactive_flux`.

    Returns
    -------
    tuple
        ``(i, j, f+_ij)``: the edge (indices or labels) and its net flux (the path's capacity when not limited by
        the total out-flux of an A state or in-flux of a B state). ``ValueError`` when the net flux has no A->B
        path.
    """
    G = _FluxGraph(NetFluxCSR.of(rf))
    edges = G.dominant({G.s}, {G.t}, 0.0, set(), True)
    if edges is None:
        raise ValueError("the net flux has no path from A to B")
    real = [e for e in edges if G.src[e] < G.n and G.dst[e] < G.n]
    e = min(real, key=lambda x: G.cap[x])
    i, j = _label(rf, [G.src[e], G.dst[e]])
    return i, j, G.cap[e]


@declare()
def isocommittor_cut(rf: ReactiveFlux, level: float = 0.5) -> tuple[list[tuple[Any, Any, float]], float]:
    r"""Edges crossing the isocommittor surface :math:`q^+ = \text{level}`: ``([(i, j, f+_ij), ...], flux)``
    with :math:`q^+_i < \text{level} \le q^+_j` and positive net flux. For reversible chains every net-flux edge
    increases :math:`q^+`, so this is a minimum cut of the net-flux network and its flux equals :math:`F`.

    Parameters
    ----------
    rf : ReactiveFlux
        The result of :func:`~transportkit.tpt.reactive_flux`.
    level : float
        The committor level, in the open interval ``(0, 1)`` (``q^+`` is 0 on A and 1 on B: other levels cut
        nothing).

    Returns
    -------
    edges : list of (i, j, flux)
        The crossing edges (indices or labels) with their net flux.
    flux : float
        Their total net flux.
    """
    level = as_probability("level", level)
    csr = NetFluxCSR.of(rf)
    hx = host_backend().xp
    q = rf.backend.to_numpy(rf.q_plus)
    (sel,) = hx.nonzero((hx.take(q, csr.rows) < level) & (hx.take(q, csr.cols) >= level))
    ii, jj, ww = (hx.take(a, sel).tolist() for a in (csr.rows, csr.cols, csr.flux))
    lab = rf.labels
    edges = [((lab[i] if lab else i), (lab[j] if lab else j), v) for i, j, v in zip(ii, jj, ww, strict=True)]
    return edges, float(sum(ww))


@declare()
def coarse_grain(rf: ReactiveFlux, sets: list) -> Array:
    r"""Net flux between disjoint user sets :math:`S_1..S_K`: :math:`C_{ab} = \max(G_{ab} - G_{ba}, 0)` with
    :math:`G_{ab} = \sum_{i\in S_a, j\in S_b} f_{ij}` (gross flux ``f``); a ``(K, K)`` array on the caller's
    backend, summed on the host in one pass over the edges.

    Parameters
    ----------
    rf : ReactiveFlux
        The result of :func:`~transportkit.tpt.reactive_flux`.
    sets : list
        ``K`` disjoint state sets (index arrays or lists, boolean masks, or node labels).

    Returns
    -------
    array, shape (K, K)
        On the caller's backend.
    """
    be, hb = rf.backend, host_backend()
    hx = hb.xp
    r, c, f = (hb.asarray(be.to_numpy(a)) for a in (*rf.edges, rf.flux_values))
    shell = Network(be=hb, n=rf.n, rows=r, cols=c, vals=f, kind=rf.kind, fmt="coo", labels=rf.labels)
    masks = [as_states(hb.asarray(be.to_numpy(S)) if hasattr(S, "shape") else S, shell, f"sets[{a}]")
             for a, S in enumerate(sets)]
    K = len(masks)
    if K == 0:
        raise ValueError("sets must hold at least one state set")
    member = hx.stack([hx.astype(m, hx.int64) for m in masks])
    if bool(hx.any(hx.sum(member, axis=0) > 1)):
        raise ValueError("the sets must be disjoint")
    group = hx.sum(member * hx.reshape(hx.arange(1, K + 1), (K, 1)), axis=0) - 1  # -1: in no set
    ga, gb = hx.take(group, r), hx.take(group, c)
    (sel,) = hx.nonzero((ga >= 0) & (gb >= 0) & (ga != gb))
    G = hx.reshape(segment_sum(hb, hx.take(ga * K + gb, sel), hx.take(f, sel), K * K), (K, K))
    return be.asarray(hx.maximum(G - G.T, 0.0), dtype=be.dtype)


def _check_walkable(csr: NetFluxCSR) -> None:
    """Every state reachable from A along the net flux (not through B) must have outgoing net flux."""
    hb = host_backend()
    hx = hb.xp
    start = csr.in_a & (csr.out > 0)
    if not bool(hx.any(start)):
        raise ValueError("no net flux leaves A")
    (keep,) = hx.nonzero(~hx.take(csr.in_b, csr.rows))  # walks stop in B
    walk = Network(be=hb, n=csr.n, rows=hx.take(csr.rows, keep), cols=hx.take(csr.cols, keep),
                   vals=hx.take(csr.flux, keep), kind="generator", fmt="coo")
    stuck = reach(walk, start) & ~csr.in_b & ~(csr.out > 0)
    if bool(hx.any(stuck)):
        (w,) = hx.nonzero(stuck)
        raise ValueError(f"states {w[:10].tolist()} are reachable from A along the net flux but have no outgoing "
                         "net flux (a reactive path would stop there)")


def _uniforms(gen: Any, m: int) -> Any:
    """``m`` uniforms on [0, 1) as a host float64 array, whatever the generator's backend."""
    hb = host_backend()
    u = gen.uniform((m,))
    return hb.asarray(gen.backend.to_numpy(u), dtype=hb.xp.float64) if not gen.backend.adapter.is_host else u


def _draw(cum: Any, start: Any, total: Any, u: Any, lo: Any, hi: Any) -> Any:
    """Inverse-CDF draw of one edge per row from the global cumulative weights ``cum``: edge positions in
    ``[lo, hi)`` (one row's edges) with probability proportional to their weights."""
    hx = host_backend().xp
    e = hx.searchsorted(cum, start + u * total, side="right")
    return hx.clip(e, lo, hi - 1)


def _collect(ids: list, states: list, times: list, n_paths: int, lab: list | None) -> tuple[list, list]:
    """Per path, its states and entry times in step order (a stable sort of all records by path)."""
    hx = host_backend().xp
    ids_all, st_all, t_all = hx.concat(ids), hx.concat(states), hx.concat(times)
    order = hx.argsort(ids_all, stable=True)
    flat_s = hx.take(st_all, order).tolist()
    flat_t = hx.take(t_all, order).tolist()
    ptr = hx.searchsorted(hx.take(ids_all, order), hx.arange(n_paths + 1)).tolist()
    st = [flat_s[a:b] for a, b in itertools.pairwise(ptr)]
    tt = [flat_t[a:b] for a, b in itertools.pairwise(ptr)]
    return ([[lab[s] for s in p] for p in st] if lab else st), tt


def _sample_doob(rf: ReactiveFlux, n_paths: int, gen: Any, max_steps: int) -> tuple:
    """Reactive trajectories by Doob's h-transform (host, vectorized over paths, one loop over jumps)."""
    hb = host_backend()
    hx = hb.xp
    be = rf.backend
    if rf.rate_values is None:
        raise ValueError("this ReactiveFlux carries no rates (rate_values); recompute it with reactive_flux")
    r, c, L, f = (hb.asarray(be.to_numpy(a)) for a in (*rf.edges, rf.rate_values, rf.flux_values))
    q = hb.asarray(be.to_numpy(rf.q_plus), dtype=hx.float64)
    n = rf.n
    in_a = hx.zeros((n,), dtype=hx.bool)
    in_a[hb.asarray(be.to_numpy(rf.A))] = True
    in_b = hx.zeros((n,), dtype=hx.bool)
    in_b[hb.asarray(be.to_numpy(rf.B))] = True
    # entrance: the jump i -> j out of A (i in A, j not in A) with probability f_ij / F
    (ent,) = hx.nonzero(hx.take(in_a, r) & ~hx.take(in_a, c) & (f > 0))
    if ent.shape[0] == 0:
        raise ValueError("no reactive flux leaves A")
    ecum = hx.cumulative_sum(hx.take(f, ent))
    k = _draw(ecum, 0.0, ecum[-1], _uniforms(gen, n_paths), 0, ent.shape[0])
    e0 = hx.take(ent, k)
    # the h-transformed jumps out of interior states: weight L_uv q+_v (zero into A, where q+ = 0)
    interior = ~(in_a | in_b)
    w = hx.where(hx.take(interior, r), L * hx.take(q, c), 0.0)
    (pos,) = hx.nonzero(w > 0)
    hr, hc, hw = hx.take(r, pos), hx.take(c, pos), hx.take(w, pos)  # sorted by row
    ptr = hx.searchsorted(hr, hx.arange(n + 1, dtype=hr.dtype))
    cum = hx.cumulative_sum(hw)
    start = hx.take(hx.concat([hx.zeros(1), cum]), ptr[:-1])
    rowsum = segment_sum(hb, hr, hw, n)
    lam = segment_sum(hb, r, L, n)  # exit rate (generator) or 1 - P_uu (transition matrix)
    discrete = rf.kind == "transition"
    x = hx.take(c, e0)
    t = hx.full((n_paths,), 1.0 if discrete else 0.0)
    paths = hx.arange(n_paths)
    ids = [paths, paths]
    states = [hx.take(r, e0), hx.asarray(x, copy=True)]
    times = [hx.zeros(n_paths), hx.asarray(t, copy=True)]
    active = paths[~hx.take(in_b, x)]
    dead = hx.zeros((n_paths,), dtype=hx.bool)
    for _ in range(max_steps):
        if active.shape[0] == 0:
            break
        u = hx.take(x, active)
        stuck = hx.take(rowsum, u) <= 0  # cannot happen for q+ > 0; reported as truncated if rounding makes it
        if bool(hx.any(stuck)):
            dead[active[stuck]] = True
            active, u = active[~stuck], u[~stuck]
            if active.shape[0] == 0:
                break
        lu = hx.take(lam, u)
        hold = 1.0 - _uniforms(gen, u.shape[0])  # in (0, 1]
        if discrete:  # geometric number of steps at u: stays with probability P_uu = 1 - lam_u
            stay = 1.0 - lu
            logstay = hx.log(hx.where(stay > 0, stay, 0.5))
            steps = hx.where(stay > 0, hx.floor(hx.log(hold) / logstay), 0.0) + 1.0
            t[active] = hx.take(t, active) + steps
        else:
            t[active] = hx.take(t, active) - hx.log(hold) / lu
        e = _draw(cum, hx.take(start, u), hx.take(rowsum, u), _uniforms(gen, u.shape[0]), hx.take(ptr, u),
                  hx.take(ptr, u + 1))
        v = hx.take(hc, e)
        x[active] = v
        ids.append(active)
        states.append(v)
        times.append(hx.take(t, active))
        active = active[~hx.take(in_b, v)]
    truncated = ~hx.take(in_b, x) | dead
    st, tt = _collect(ids, states, times, n_paths, rf.labels)
    durations = hx.where(truncated, math.nan, t - (1.0 if discrete else 0.0))
    return st, tt, durations, truncated


def _sample_net_flux(rf: ReactiveFlux, n_paths: int, gen: Any, max_steps: int) -> tuple:
    """Detour-free paths on the net flux (host, vectorized over paths)."""
    host = host_backend()
    hx = host.xp
    csr = NetFluxCSR.of(rf)
    _check_walkable(csr)
    (A,) = hx.nonzero(csr.in_a)
    cum = hx.cumulative_sum(csr.flux)
    start_cum = hx.take(hx.concat([hx.zeros(1), cum]), csr.ptr[:-1])
    out_a = hx.take(csr.out, A)
    acum = hx.cumulative_sum(out_a)
    x = hx.take(A, _draw(acum, 0.0, acum[-1], _uniforms(gen, n_paths), 0, A.shape[0]))
    step = hx.zeros((n_paths,))
    paths = hx.arange(n_paths)
    ids, states, times = [paths], [hx.asarray(x, copy=True)], [hx.zeros(n_paths)]  # x is updated in place below
    active = paths
    for _ in range(max_steps):
        if active.shape[0] == 0:
            break
        u = hx.take(x, active)
        e = _draw(cum, hx.take(start_cum, u), hx.take(csr.out, u), _uniforms(gen, u.shape[0]), hx.take(csr.ptr, u),
                  hx.take(csr.ptr, u + 1))
        v = hx.take(csr.cols, e)
        x[active] = v
        step[active] = hx.take(step, active) + 1.0
        ids.append(active)
        states.append(v)
        times.append(hx.take(step, active))
        active = active[~hx.take(csr.in_b, v)]
    truncated = ~hx.take(csr.in_b, x)
    st, tt = _collect(ids, states, times, n_paths, rf.labels)
    return st, tt, hx.where(truncated, math.nan, step - 1.0), truncated


@declare()
def sample_reactive(rf: ReactiveFlux, n_paths: int, *, method: str = "doob", rng: Any = None,
                    max_steps: int = 100_000, seed: Any = SEED_DEPRECATED) -> ReactivePaths:
    r"""Sample reactive paths from A to B.

    ``method="doob"`` (default): **reactive trajectories**, exactly distributed as the pieces of a long
    equilibrium trajectory between its last exit from A and its next entrance into B (Metzner, Schütte &
    Vanden-Eijnden 2009; Cameron & Vanden-Eijnden, "Flows in complex networks: theory, algorithms, and
    application to Lennard-Jones cluster rearrangement", J. Stat. Phys. 156, 427 (2014), arXiv:1402.1736).
    The exit jump :math:`i\to j` (:math:`i\in A`, :math:`j\notin A`) is drawn with probability
    :math:`f_{ij}/F`; from then on the process is the original one conditioned to reach B before A, Doob's
    h-transform with :math:`h = q^+`: from an interior state :math:`u` it jumps to :math:`v` with rate
    :math:`L_{uv}q^+_v/q^+_u` (total rate :math:`\lambda_u = -L_{uu}`, unchanged, since
    :math:`\sum_v L_{uv}q^+_v = 0`), never into A (:math:`q^+ = 0` there), until it enters B. For a generator
    the holding times are exponential with rate :math:`\lambda_u`; for a transition matrix the chain stays at
    :math:`u` a geometric number of steps (probability :math:`P_{uu}` per step). The mean of ``durations`` is
    :math:`t_{AB} = Z_{AB}/F` (``rf.transition_time``); the mean number of net crossings of an edge per path
    is :math:`(f_{ij} - f_{ji})/F`.

    ``method="net_flux"``: detour-free paths: start :math:`i\in A` with probability
    :math:`\propto\sum_j f^+_{ij}`, then :math:`i\to j` with probability :math:`f^+_{ij}/\sum_k f^+_{ik}` until
    B; for reversible chains :math:`f^+` is acyclic and a path uses edge ``e`` with probability
    :math:`f^+_e/F`. No physical time: ``times`` are jump indices. ``ValueError`` before any draw when a state
    reachable from A along :math:`f^+` (not through B) has no outgoing net flux.

    All paths advance together on the host (vectorized over paths, one loop over jumps). Paths still outside
    B after ``max_steps`` jumps are flagged in ``truncated`` (their duration is NaN) and a
    :class:`~transportkit.errors.ConvergenceWarning` says how many: they are not reactive paths.

    Parameters
    ----------
    rf : ReactiveFlux
        The result of :func:`~transportkit.tpt.reactive_flux`.
    n_paths : int
        Number of paths (positive).
    method : {"doob", "net_flux"}
        Reactive trajectories, or detour-free paths on the net flux.
    rng : int, numpy.random.Generator, transportkit Generator or None
        Randomness (SPEC 7; ``None``: fresh entropy). ``seed=`` is its deprecated alias.
    max_steps : int
        Most jumps per path after leaving A (positive).

    Returns
    -------
    ReactivePaths
        ``.states``, ``.times``, ``.durations``, ``.truncated``; ``paths[i]`` is a :class:`ReactivePath`.
    """
    n_paths = as_count("n_paths", n_paths)
    max_steps = as_count("max_steps", max_steps)
    method = as_choice("method", method, ("doob", "net_flux"))
    if not isinstance(rf, ReactiveFlux):
        raise TypeError(f"rf must be a ReactiveFlux (from tk.tpt.reactive_flux), got {type(rf).__name__}")
    gen = resolve_rng(rng, host_backend(), seed=seed)
    sampler = _sample_doob if method == "doob" else _sample_net_flux
    st, tt, durations, truncated = sampler(rf, n_paths, gen, max_steps)
    n_trunc = int(truncated.sum())
    if n_trunc:
        warnings.warn(
            f"{n_trunc} of {n_paths} paths did not reach B within max_steps={max_steps} jumps: they are flagged in "
            ".truncated (duration NaN) and are not reactive paths; raise max_steps",
            ConvergenceWarning, stacklevel=2,
        )
    be = rf.backend
    return ReactivePaths(states=st, times=tt, durations=be.asarray(durations), truncated=be.asarray(truncated),
                         method=method, kind=rf.kind, backend=be)
