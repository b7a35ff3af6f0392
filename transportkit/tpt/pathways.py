r"""Pathways, bottlenecks, coarse graining and sampling on the net-flux network :math:`f^+`.

Reactive-path sampling lives in :mod:`transportkit.tpt.reactive_paths` (``sample_reactive`` is importable from
here too). Graph searches (widest paths) run on the host with Python's ``heapq`` on one CSR of the positive
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
import math
from typing import Any

from .._backend import host_backend
from .._capabilities import declare
from .._validation import as_bool, as_count, as_probability, as_real
from .graph import NetFluxCSR, Network, segment_sum
from .reactive_paths import sample_reactive
from .result import Array, Path, ReactiveFlux
from .validation import as_states

__all__ = ["bottleneck", "coarse_grain", "isocommittor_cut", "pathways", "sample_reactive"]


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
