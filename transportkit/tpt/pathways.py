r"""Pathways, bottlenecks, coarse graining and sampling on the net-flux network :math:`f^+`.

Graph searches (widest paths, sampling walks) run on the host (``backend.to_numpy``) with Python's ``heapq``:
they are combinatorial, not numerical, and the number of extracted paths is small.

**Dominant-pathway decomposition** (Metzner, Schütte & Vanden-Eijnden 2009; deeptime's ``pathways``). A super
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

from .._backend import get_backend
from .._capabilities import declare

__all__ = ["bottleneck", "coarse_grain", "isocommittor_cut", "pathways", "sample_reactive"]


class _FluxGraph:
    """Host adjacency (CSR by source) of the positive net-flux edges plus super source/sink."""

    def __init__(self, rf: Any):
        be = rf.backend
        hx = get_backend("numpy").xp
        n = rf.n
        r = be.to_numpy(rf.edges[0])
        c = be.to_numpy(rf.edges[1])
        w = be.to_numpy(rf.net_flux_values)
        pos = w > 0
        r, c, w = r[pos], c[pos], w[pos]
        inA = hx.zeros(n, dtype=hx.bool)
        inA[be.to_numpy(rf.A)] = True
        inB = hx.zeros(n, dtype=hx.bool)
        inB[be.to_numpy(rf.B)] = True
        s, t = n, n + 1
        from ._inputs import segment_sum

        host = get_backend("numpy")
        out = segment_sum(host, r, w, n)
        inn = segment_sum(host, c, w, n)
        a_idx = hx.nonzero(inA & (out > 0))[0]
        b_idx = hx.nonzero(inB & (inn > 0))[0]
        src = hx.concat([r, hx.full(a_idx.shape, s, dtype=r.dtype), b_idx.astype(r.dtype)])
        dst = hx.concat([c, a_idx.astype(c.dtype), hx.full(b_idx.shape, t, dtype=c.dtype)])
        cap = hx.concat([w, out[a_idx], inn[b_idx]])
        order = hx.argsort(src, stable=True)
        src, dst, cap = src[order], dst[order], cap[order]
        self.ptr = hx.searchsorted(src, hx.arange(n + 3)).tolist()
        self.src = src.tolist()
        self.dst = dst.tolist()
        self.cap = cap.tolist()
        self.n = n
        self.s, self.t = s, t
        self.total = float(hx.sum(out[a_idx]))

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


def _label(rf: Any, states: list) -> list:
    return [rf.labels[i] for i in states] if rf.labels is not None else states


@declare()
def pathways(rf: Any, k: int | None = 3, *, fraction: float = 1.0, refine: bool = True,
             tol: float = 1e-14) -> list:
    """Dominant-pathway decomposition of the net flux of ``rf`` (a :class:`ReactiveFlux`).

    Returns ``[(states, share), ...]``: ``states`` the path from A to B (list of state indices, or node labels
    for networkx input) and ``share = c(w) / F``. Stops after ``k`` paths (``None``: no limit), when the shares
    add up to ``fraction`` (within ``tol``), or when no A->B path is left. Each widest-path search is a Dijkstra
    variant on the host (``heapq``), :math:`O(E\\log V)`; ``refine=True`` adds deeptime's recursive tie-breaking.
    """
    if k is not None and k < 1:
        raise ValueError(f"k must be positive, got {k}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    G = _FluxGraph(rf)
    out: list = []
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
def bottleneck(rf: Any) -> tuple[Any, Any, float]:
    """``(i, j, f+_ij)``: the weakest real edge of the dominant pathway (its capacity when not limited by the
    total out-flux of an A state or in-flux of a B state)."""
    G = _FluxGraph(rf)
    edges = G.dominant({G.s}, {G.t}, 0.0, set(), True)
    if edges is None:
        raise ValueError("the net flux has no path from A to B")
    real = [e for e in edges if G.src[e] < G.n and G.dst[e] < G.n]
    e = min(real, key=lambda x: G.cap[x])
    i, j = _label(rf, [G.src[e], G.dst[e]])
    return i, j, G.cap[e]


@declare()
def isocommittor_cut(rf: Any, level: float = 0.5) -> tuple[list, float]:
    r"""Edges crossing the isocommittor surface :math:`q^+ = \text{level}`: ``([(i, j, f+_ij), ...], flux)``
    with :math:`q^+_i < \text{level} \le q^+_j` and positive net flux. For reversible chains every net-flux edge
    increases :math:`q^+`, so this is a minimum cut of the net-flux network and its flux equals :math:`F`."""
    be = rf.backend
    r = be.to_numpy(rf.edges[0])
    c = be.to_numpy(rf.edges[1])
    w = be.to_numpy(rf.net_flux_values)
    q = be.to_numpy(rf.q_plus)
    sel = (w > 0) & (q[r] < level) & (q[c] >= level)
    ii, jj, ww = r[sel].tolist(), c[sel].tolist(), w[sel].tolist()
    lab = rf.labels
    edges = [((lab[i] if lab else i), (lab[j] if lab else j), v) for i, j, v in zip(ii, jj, ww, strict=False)]
    return edges, float(sum(ww))


@declare()
def coarse_grain(rf: Any, sets: list) -> Any:
    r"""Net flux between disjoint user sets :math:`S_1..S_K`: :math:`C_{ab} = \max(G_{ab} - G_{ba}, 0)` with
    :math:`G_{ab} = \sum_{i\in S_a, j\in S_b} f_{ij}` (gross flux ``f``); a ``(K, K)`` array on the backend."""
    from ._inputs import Network, as_states

    be = rf.backend
    xp = be.xp
    shell = Network(be=be, n=rf.n, rows=rf.edges[0], cols=rf.edges[1], vals=rf.flux_values, kind=rf.kind,
                    fmt="coo", labels=rf.labels)
    masks = [as_states(S, shell, f"sets[{a}]") for a, S in enumerate(sets)]
    total = xp.zeros((rf.n,), dtype=xp.int64, device=be.device)
    for m in masks:
        total = total + xp.astype(m, xp.int64)
    if bool(xp.any(total > 1)):
        raise ValueError("the sets must be disjoint")
    K = len(masks)
    f = rf.flux_values
    Gm = [[float(xp.sum(xp.where(xp.take(masks[a], shell.rows) & xp.take(masks[b], shell.cols), f,
                                 xp.zeros_like(f)))) if a != b else 0.0 for b in range(K)] for a in range(K)]
    C = [[max(Gm[a][b] - Gm[b][a], 0.0) for b in range(K)] for a in range(K)]
    return be.asarray(C, dtype=be.dtype)


@declare()
def sample_reactive(rf: Any, n_paths: int, *, seed: Any = None, max_steps: int = 100_000) -> list:
    r"""Detour-free reactive paths on the net flux (Cameron & Vanden-Eijnden 2014): the start
    :math:`i\in A` is drawn with probability :math:`\propto\sum_j f^+_{ij}`, then each step goes
    :math:`i\to j` with probability :math:`f^+_{ij}/\sum_k f^+_{ik}` until B is hit. For reversible chains
    :math:`f^+` is acyclic (``q^+`` increases along every edge) and the expected number of paths through an
    edge per path is :math:`f^+_{ij}/F`. All paths advance together (vectorized over paths, loop over steps,
    on the host). Returns a list of state lists (labels for networkx input)."""
    host = get_backend("numpy")
    hx = host.xp
    be = rf.backend
    n = rf.n
    r = be.to_numpy(rf.edges[0])
    c = be.to_numpy(rf.edges[1])
    w = be.to_numpy(rf.net_flux_values)
    pos = w > 0
    r, c, w = r[pos], c[pos], w[pos]
    order = hx.argsort(r, stable=True)
    r, c, w = r[order], c[order], w[order]
    ptr = hx.searchsorted(r, hx.arange(n + 1))
    cum = hx.cumulative_sum(w)
    start_cum = hx.concat([hx.zeros(1), cum])[ptr[:-1]]
    row_tot = hx.concat([hx.zeros(1), cum])[ptr[1:]] - start_cum
    inB = hx.zeros(n, dtype=hx.bool)
    inB[be.to_numpy(rf.B)] = True
    A = be.to_numpy(rf.A)
    g = host.rng(seed)
    outA = row_tot[A]
    if not float(hx.sum(outA)) > 0:
        raise ValueError("no net flux leaves A")
    if A.shape[0] > 1:
        logp = hx.where(outA > 0, hx.log(hx.where(outA > 0, outA, 1.0)), -math.inf)
        x = A[g.categorical(logp, (n_paths,))]
    else:
        x = hx.full((n_paths,), int(A[0]), dtype=hx.int64)
    paths = [[int(v)] for v in x.tolist()]
    active = hx.arange(n_paths)
    for _ in range(max_steps):
        if active.shape[0] == 0:
            break
        u = x[active]
        tot = row_tot[u]
        if bool(hx.any(tot <= 0)):
            raise ValueError("a sampled path reached a state without outgoing net flux")
        target = start_cum[u] + g.uniform((u.shape[0],)) * tot
        e = hx.searchsorted(cum, target, side="right")
        e = hx.clip(e, ptr[u], ptr[u + 1] - 1)
        v = c[e]
        x[active] = v
        for p, s in zip(active.tolist(), v.tolist(), strict=False):
            paths[p].append(int(s))
        active = active[~inB[v]]
    lab = rf.labels
    return [[lab[s] for s in p] for p in paths] if lab else paths
