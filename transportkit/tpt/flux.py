r"""Reactive flux of transition path theory (TPT) for Markov jump processes and Markov chains on networks.

Continuous time: generator :math:`L` (:math:`L_{ij}\ge 0` for :math:`i\ne j`, rows sum to 0), stationary
distribution :math:`\pi^\top L = 0,\ \sum_i\pi_i = 1`, time-reversed generator
:math:`\tilde L_{ij} = \pi_j L_{ji}/\pi_i`. Discrete time: transition matrix :math:`P`, with :math:`L = P - I`
everywhere below (rates become "per step"). For disjoint non-empty sets :math:`A, B` (Metzner, Schütte &
Vanden-Eijnden 2009):

- forward committor :math:`\sum_j L_{ij} q^+_j = 0` for :math:`i\notin A\cup B`, :math:`q^+|_A = 0,\ q^+|_B = 1`;
- backward committor :math:`\sum_j \tilde L_{ij} q^-_j = 0` for :math:`i\notin A\cup B`,
  :math:`q^-|_A = 1,\ q^-|_B = 0` (reversible chains: :math:`q^- = 1 - q^+`);
- reactive flux :math:`f_{ij} = \pi_i q^-_i L_{ij} q^+_j` (:math:`i\ne j`), net flux
  :math:`f^+_{ij} = \max(f_{ij} - f_{ji}, 0)`;
- total flux :math:`F = \sum_{i\in A,\, j\notin A} f_{ij}` (reactive trajectories per unit time) and rate
  constant :math:`k_{AB} = F / \sum_i \pi_i q^-_i` (deeptime's ``rate``; ``mfpt = 1/k_{AB}``);
- reactive density :math:`m_i = \pi_i q^-_i q^+_i`, :math:`Z_{AB} = \sum_i m_i`, mean reactive-trajectory
  duration :math:`t_{AB} = Z_{AB}/F`.

The committors are solved on the interior unknowns only (boundary values moved to the right-hand side) with the
backend's sparse factorization (numpy and torch/jax on the CPU: SciPy SuperLU, direct; torch/jax on accelerators:
Jacobi-preconditioned BiCGSTAB to relative residual ``tol``); the backward committor of a non-reversible chain
reuses the forward factorization through one transposed solve (:func:`_backward_committor`). Backends without a
sparse solver (``array_api_strict``) use a dense ``xp.linalg.solve`` for at most
:data:`~transportkit.tpt._inputs.DENSE_LIMIT` unknowns. Nothing of size :math:`n^2` is formed for sparse input.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import array_api_extra as xpx

from .._backend import Backend
from .._capabilities import declare
from .._results import Result
from ._inputs import (
    DENSE_LIMIT,
    Network,
    _fmt_states,
    as_network,
    as_states,
    reach,
    reversible_log_pi,
    scatter_set,
    segment_sum,
)

__all__ = ["ReactiveFlux", "committors", "mean_first_passage_times", "reactive_flux", "stationary_distribution"]


# ----------------------------------------------------------------------------------------------- solving
def _factor(be: Backend, rows: Any, cols: Any, vals: Any, m: int, tol: float, what: str) -> Callable[..., Any]:
    """``solve(b, transpose=False)`` for the ``m x m`` sparse matrix ``S`` given by COO ``(rows, cols, vals)``
    (duplicates summed): ``S x = b``, or ``S^T x = b`` with ``transpose=True``.

    With the backend's ``sparse_factor`` one factorization serves both; with only ``sparse_solve`` each solve
    starts afresh; backends without either use a dense ``xp.linalg.solve`` up to ``DENSE_LIMIT`` unknowns.
    Non-finite solutions (a singular system) are a ``ValueError`` naming ``what``.
    """
    xp = be.xp
    factor, solve, coo = be.sparse_factor, be.sparse_solve, be.sparse_coo
    if factor is not None and coo is not None:
        inner = factor(coo(rows, cols, vals, (m, m)), tol=tol)
    elif solve is not None and coo is not None:

        def inner(b: Any, *, transpose: bool = False) -> Any:
            r, c = (cols, rows) if transpose else (rows, cols)
            return solve(coo(r, c, vals, (m, m)), b, tol=tol)
    else:
        if m > DENSE_LIMIT:
            raise ValueError(
                f"backend {be.name!r} has no sparse solver and the {what} system has {m} unknowns "
                f"(> {DENSE_LIMIT}, the dense fallback's limit); use backend 'numpy', 'torch' or 'jax'"
            )
        # unique keys here (off-diagonal entries are unique, diagonal entries added once)
        flat = scatter_set(be, xp.zeros((m * m,), dtype=vals.dtype, device=be.device), rows * m + cols, vals)
        dense = xp.reshape(flat, (m, m))

        def inner(b: Any, *, transpose: bool = False) -> Any:
            return xp.linalg.solve(dense.T if transpose else dense, b[:, None])[:, 0]

    def checked(b: Any, *, transpose: bool = False) -> Any:
        x = inner(b, transpose=transpose)
        if not bool(xp.all(xp.isfinite(x))):
            raise ValueError(f"the {what} system is singular (non-finite solution)")
        return x

    return checked


def _solve(be: Backend, rows: Any, cols: Any, vals: Any, m: int, rhs: Any, tol: float, what: str) -> Any:
    """Solve the ``m x m`` sparse system given by COO ``(rows, cols, vals)`` (duplicates summed)."""
    return _factor(be, rows, cols, vals, m, tol, what)(rhs)


def _interior_system(
    net: Network, rows: Any, cols: Any, vals: Any, diag: Any, interior: Any, target: Any
) -> tuple[Any, Any, Any, Any, Any, int]:
    """COO of ``D^{-1} M_II`` and ``D^{-1} b_I``, ``b_I = -sum_{j in target} M_ij``, ``D = diag(M_II)``, for the
    generator-like ``M`` with off-diagonal ``(rows, cols, vals)`` and diagonal ``diag``; returns
    ``(r, c, v, b, interior indices, m)`` and, for right-hand sides other than ``b``, scale them by ``1/D``."""
    be, xp = net.be, net.be.xp
    (iidx,) = xp.nonzero(interior)
    m = int(iidx.shape[0])
    pos = xp.cumulative_sum(xp.astype(interior, xp.int64)) - 1
    ri, ci = xp.take(interior, rows), xp.take(interior, cols)
    (sel,) = xp.nonzero(ri & ci)
    r = xp.concat([xp.take(pos, xp.take(rows, sel)), xp.arange(m, dtype=xp.int64, device=be.device)])
    c = xp.concat([xp.take(pos, xp.take(cols, sel)), xp.arange(m, dtype=xp.int64, device=be.device)])
    dI = xp.take(diag, iidx)
    v = xp.concat([xp.take(vals, sel), dI])
    w = xp.where(xp.take(target, cols) & ri, vals, xp.zeros_like(vals))
    b = -xp.take(segment_sum(be, rows, w, net.n), iidx)
    # Jacobi row scaling (unit diagonal): rates spanning many orders of magnitude otherwise make the iterative
    # solvers' residual test ||b - M x|| <= tol ||b|| blind to the slow rows
    v = v / xp.take(dI, r)
    return r, c, v, b / dI, iidx, m


def _committor(net: Network, mA: Any, mB: Any, tol: float) -> tuple[Any, Any]:
    """Forward committor: ``sum_j L_ij q_j = 0`` (interior ``I``), ``q = 0`` on A, ``1`` on B.

    Solves the row-scaled system ``S = D^{-1} L_II`` (``D = diag(L_II)``); returns ``(q, (solve, iidx, dI))`` with
    the factored ``solve`` of ``S`` for :func:`_backward_committor` (``None`` when there are no interior states).
    """
    be, xp = net.be, net.be.xp
    interior = ~(mA | mB)
    q = xp.astype(mB, be.dtype)
    if not bool(xp.any(interior)):
        return q, None
    diag = -net.exit_rates()
    r, c, v, b, iidx, m = _interior_system(net, net.rows, net.cols, net.vals, diag, interior, mB)
    solve = _factor(be, r, c, v, m, tol, "forward-committor")
    x = xp.clip(solve(b), 0.0, 1.0)
    return scatter_set(be, q, iidx, x), (solve, iidx, xp.take(diag, iidx))


def _backward_committor(net: Network, pi: Any, mA: Any, mB: Any, factored: Any, refine: int = 1) -> Any:
    r"""Backward committor with the forward system's factorization.

    The time-reversed generator restricted to the interior is :math:`\tilde L_{II} = \Pi^{-1} L_{II}^\top \Pi`
    (:math:`\Pi = \mathrm{diag}(\pi_I)`), so :math:`\tilde L_{II} y = \tilde b` with
    :math:`\tilde b_i = -\sum_{j\in A}\tilde L_{ij}` is :math:`S^\top z = \Pi\tilde b`,
    :math:`(\Pi\tilde b)_i = -\sum_{j\in A}\pi_j L_{ji}`, :math:`y = z / (D\pi_I)` for the row-scaled
    forward matrix :math:`S = D^{-1}L_{II}`: one transposed solve, no second factorization, and no ratios
    :math:`\pi_j/\pi_i` are formed. ``q^- = 1`` on A, ``0`` on B.

    The factorization was pivoted for :math:`S`, not for the reversed system, so where :math:`\pi` spans many
    orders of magnitude the transposed solve alone leaves a componentwise backward error far above machine
    precision (measured ``7e-10`` with :math:`\pi` over 20 decades); ``refine`` steps of iterative refinement
    (residual :math:`\Pi\tilde b - L_{II}^\top\Pi y`, one more transposed solve each, :math:`O(\mathrm{nnz})`
    besides) bring it back to a few ``n * eps``.
    """
    be, xp = net.be, net.be.xp
    q = xp.astype(mA, be.dtype)
    if factored is None:
        return q
    solve, iidx, dI = factored
    interior = ~(mA | mB)
    zero = xp.zeros_like(net.vals)
    pflow = xp.take(pi, net.rows) * net.vals  # pi_j L_ji on edge (j, i)
    rhs = -xp.take(segment_sum(be, net.cols, xp.where(xp.take(mA, net.rows) & xp.take(interior, net.cols), pflow,
                                                      zero), net.n), iidx)
    dpi = dI * xp.take(pi, iidx)
    inner = xp.take(interior, net.rows) & xp.take(interior, net.cols)
    y = solve(rhs, transpose=True) / dpi
    for _ in range(refine):
        # residual of the reversed system, row i scaled by pi_i: (Pi b~ - L_II^T Pi y)_i, no ratios formed
        full = scatter_set(be, xp.zeros((net.n,), dtype=y.dtype, device=be.device), iidx, y)
        flow = xp.take(segment_sum(be, net.cols, xp.where(inner, pflow * xp.take(full, net.rows), zero), net.n), iidx)
        y = y + solve(rhs - flow - dpi * y, transpose=True) / dpi
    return scatter_set(be, q, iidx, xp.clip(y, 0.0, 1.0))


def _stationary(net: Network, tol: float) -> Any:
    """``pi^T L = 0``, ``sum pi = 1`` by one sparse solve of ``L^T`` with the equation of the state ``k`` of
    smallest exit rate replaced by ``pi_k = 1`` (then normalized)."""
    be, xp, n = net.be, net.be.xp, net.n
    lam = net.exit_rates()
    k = int(xp.argmin(lam))
    # L^T: entry (j, i) = L_ij; drop row k of L^T (= column k of L), then add pi_k = 1.
    (keep,) = xp.nonzero(net.cols != k)
    ar = xp.arange(n, dtype=xp.int64, device=be.device)
    d = xpx.at(-lam, k).set(1.0)
    r = xp.concat([xp.take(net.cols, keep), ar])
    c = xp.concat([xp.take(net.rows, keep), ar])
    v = xp.concat([xp.take(net.vals, keep), d])
    rhs = xpx.at(xp.zeros((n,), dtype=be.dtype, device=be.device), k).set(1.0)
    x = _solve(be, r, c, v, n, rhs, tol, "stationary-distribution")
    pi = x / xp.sum(x)
    _check_pi(pi, net)
    return pi


def _check_pi(pi: Any, net: Network) -> None:
    xp = net.be.xp
    bad = ~(pi > 0)
    if bool(xp.any(bad)):
        (w,) = xp.nonzero(bad)
        raise ValueError(
            f"the stationary distribution is not positive at states {_fmt_states(w, net.be, net.labels)} "
            "(the chain must be irreducible on the states given)"
        )


def _check_connected(net: Network, mA: Any, mB: Any, strong: bool, reversible: bool | None) -> None:
    """Raise ``ValueError`` naming states that break the TPT assumptions (see :func:`reactive_flux`)."""
    xp, be, lab = net.be.xp, net.be, net.labels
    if strong:
        first = xpx.at(xp.zeros((net.n,), dtype=xp.bool, device=be.device), 0).set(True)
        fw = reach(net, first)
        bw = reach(net, first, reverse=True)
        if not bool(xp.all(fw & bw)):
            (w,) = xp.nonzero(~(fw & bw))
            raise ValueError(
                f"the network is not irreducible: states {_fmt_states(w, be, lab)} are not in the communicating "
                f"class of state {lab[0] if lab else 0} (restrict the network or pass pi=)"
            )
        return
    ab = mA | mB
    to_ab = reach(net, ab, reverse=True)
    if not bool(xp.all(to_ab)):
        (w,) = xp.nonzero(~to_ab)
        raise ValueError(f"states {_fmt_states(w, be, lab)} cannot reach A or B (the committor is undefined)")
    if reversible is not True:
        from_ab = reach(net, ab)
        if not bool(xp.all(from_ab)):
            (w,) = xp.nonzero(~from_ab)
            raise ValueError(
                f"states {_fmt_states(w, be, lab)} cannot be reached from A or B (backward committor undefined)"
            )
    from_a = reach(net, mA, stop=mB)
    if not bool(xp.any(from_a & mB)):
        raise ValueError("B cannot be reached from A: there is no reactive flux")


def _detailed_balance(net: Network, pi: Any, rtol: float) -> bool:
    xp = net.be.xp
    idx, found = net.transpose_index()
    if not bool(xp.all(found)):
        return False
    fwd = xp.take(pi, net.rows) * net.vals
    bwd = xp.take(fwd, idx)
    atol = rtol * float(xp.max(fwd)) if fwd.shape[0] else 0.0
    return bool(xp.all(xp.abs(fwd - bwd) <= rtol * xp.maximum(fwd, bwd) + atol))


def _prepare(M, A, B, kind, fix_diagonal, rate_attr, backend):
    net = as_network(M, kind=kind, fix_diagonal=fix_diagonal, rate_attr=rate_attr, backend=backend)
    mA = as_states(A, net, "A")
    mB = as_states(B, net, "B")
    xp = net.be.xp
    both = mA & mB
    if bool(xp.any(both)):
        (w,) = xp.nonzero(both)
        raise ValueError(f"A and B overlap at states {_fmt_states(w, net.be, net.labels)}")
    return net, mA, mB


def _as_pi(pi: Any, net: Network) -> Any:
    be, xp = net.be, net.be.xp
    p = be.asarray(pi, dtype=be.dtype)
    if p.shape != (net.n,):
        raise ValueError(f"pi must have shape ({net.n},), got {tuple(p.shape)}")
    if not bool(xp.all(xp.isfinite(p))):
        raise ValueError("pi has non-finite entries")
    p = p / xp.sum(p)
    _check_pi(p, net)
    return p


# ----------------------------------------------------------------------------------------------- result
@dataclasses.dataclass
class ReactiveFlux(Result):
    """Transition path theory quantities for ``A -> B`` (see :mod:`transportkit.tpt.flux` for the equations).

    Fields (arrays on the caller's backend): ``pi`` stationary distribution, ``q_plus``/``q_minus`` forward and
    backward committors, ``flux`` and ``net_flux`` (dense ``n x n`` for dense input; the backend's sparse matrix
    — e.g. ``scipy.sparse.csr_array`` on numpy — for sparse input; ``(rows, cols, vals, n)`` for COO or networkx
    input), ``total_flux`` :math:`F` (float), ``rate`` :math:`k_{AB} = F/\\sum_i\\pi_i q^-_i` (float), ``A`` and
    ``B`` (index arrays), ``kind``, ``reversible``, and the edge arrays ``edges = (rows, cols)`` with
    ``flux_values`` and ``net_flux_values`` (one entry per off-diagonal edge of the input).
    """

    pi: Any
    q_plus: Any
    q_minus: Any
    flux: Any
    net_flux: Any
    total_flux: float
    rate: float
    A: Any
    B: Any
    kind: str
    reversible: bool
    edges: tuple[Any, Any]
    flux_values: Any
    net_flux_values: Any
    n: int
    labels: list | None = dataclasses.field(default=None, repr=False)

    # -- derived scalars -------------------------------------------------------------------------------
    @property
    def mfpt(self) -> float:
        """``1 / rate`` (deeptime's ``mfpt``): mean time from A (last left) to the first entrance of B."""
        return 1.0 / self.rate if self.rate > 0 else math.inf

    @property
    def reactive_density(self) -> Any:
        """:math:`m_i = \\pi_i q^-_i q^+_i`, probability to be at ``i`` on a reactive trajectory."""
        return self.pi * self.q_minus * self.q_plus

    @property
    def probability_reactive(self) -> float:
        """:math:`Z_{AB} = \\sum_i \\pi_i q^-_i q^+_i`, probability that the process is reactive."""
        xp = self.backend.xp
        return float(xp.sum(self.reactive_density))

    @property
    def transition_time(self) -> float:
        """Mean duration of a reactive trajectory :math:`t_{AB} = Z_{AB} / F`."""
        return self.probability_reactive / self.total_flux if self.total_flux > 0 else math.inf

    @property
    def residence_density(self) -> Any:
        """Normalized reactive (transition-path) density :math:`m_i / Z_{AB}`."""
        m = self.reactive_density
        return m / self.backend.xp.sum(m)

    # -- coarse graining, pathways, bottlenecks --------------------------------------------------------
    def coarse_grain(self, sets: list) -> Any:
        """Net flux between user sets: ``C[a, b] = max(G_ab - G_ba, 0)`` with
        :math:`G_{ab} = \\sum_{i\\in S_a, j\\in S_b} f_{ij}` (``a != b``; ``f`` the gross flux). ``sets`` is a
        list of index arrays / masks (disjoint). Returns a ``(K, K)`` array on the backend."""
        from .pathways import coarse_grain

        return coarse_grain(self, sets)

    def pathways(self, k: int | None = 3, *, fraction: float = 1.0, refine: bool = True) -> list:
        """Dominant-pathway decomposition: ``[(states, flux_share), ...]`` (see
        :func:`transportkit.tpt.pathways.pathways`)."""
        from .pathways import pathways

        return pathways(self, k=k, fraction=fraction, refine=refine)

    def bottleneck(self) -> tuple[Any, Any, float]:
        """Bottleneck edge ``(i, j, capacity)`` of the dominant pathway (weakest edge of the widest path)."""
        from .pathways import bottleneck

        return bottleneck(self)

    def min_cut(self) -> tuple[list, float]:
        """Minimum cut of the net-flux network separating A from B: ``(edges, capacity)`` (max-flow/min-cut;
        its capacity equals the total flux ``F`` by flux conservation)."""
        from .pathways import min_cut

        return min_cut(self)

    def sample_reactive(self, n_paths: int, *, seed: Any = None, max_steps: int = 100_000) -> list:
        """Sample detour-free reactive paths on the net flux: start in A with probability
        :math:`\\propto \\sum_j f^+_{ij}`, move with probability :math:`f^+_{ij}/\\sum_k f^+_{ik}` until B."""
        from .pathways import sample_reactive

        return sample_reactive(self, n_paths, seed=seed, max_steps=max_steps)

    def to_networkx(self, *, net: bool = True, threshold: float = 0.0):
        """A networkx ``DiGraph`` with node attributes ``pi, q_plus, q_minus, in_A, in_B`` and an edge for every
        (net, or gross with ``net=False``) flux value above ``threshold`` (attribute ``flux``). Needs networkx."""
        import networkx  # optional dependency, used only here

        be = self.backend
        r, c = (be.to_numpy(a).tolist() for a in self.edges)
        vals = be.to_numpy(self.net_flux_values if net else self.flux_values).tolist()
        pi, qp, qm = (be.to_numpy(a).tolist() for a in (self.pi, self.q_plus, self.q_minus))
        inA = set(be.to_numpy(self.A).tolist())
        inB = set(be.to_numpy(self.B).tolist())
        lab = self.labels or list(range(self.n))
        G = networkx.DiGraph()
        for i in range(self.n):
            G.add_node(lab[i], pi=pi[i], q_plus=qp[i], q_minus=qm[i], in_A=i in inA, in_B=i in inB)
        for i, j, v in zip(r, c, vals, strict=False):
            if v > threshold:
                G.add_edge(lab[i], lab[j], flux=v)
        return G


def _output(net: Network, vals: Any) -> Any:
    """Edge values in the input's form: dense ``n x n``, the backend's sparse matrix, or a COO tuple."""
    be, xp, n = net.be, net.be.xp, net.n
    (nz,) = xp.nonzero(vals != 0)
    r, c, v = xp.take(net.rows, nz), xp.take(net.cols, nz), xp.take(vals, nz)
    if net.fmt == "dense":
        flat = scatter_set(be, xp.zeros((n * n,), dtype=vals.dtype, device=be.device), r * n + c, v)
        return xp.reshape(flat, (n, n))
    if net.fmt == "sparse" and be.sparse_coo is not None:
        return be.sparse_coo(r, c, v, (n, n))
    return (r, c, v, n)


# ----------------------------------------------------------------------------------------------- public
@declare(uses=("sparse_factor", "sparse_solve"))
def reactive_flux(
    M: Any,
    A: Any,
    B: Any,
    *,
    kind: str = "generator",
    pi: Any = None,
    reversible: bool | None = None,
    fix_diagonal: bool = False,
    rate_attr: str = "rate",
    tol: float = 1e-12,
    check: bool = True,
    backend: Any = None,
) -> ReactiveFlux:
    r"""Transition path theory from ``A`` to ``B`` on a network.

    Parameters
    ----------
    M
        generator ``L`` (``kind="generator"``, rows sum to 0) or transition matrix ``P``
        (``kind="transition"``, rows sum to 1): a dense 2-D array of any backend, a sparse matrix with
        ``.tocoo()`` (scipy.sparse on numpy, cupyx on cupy), a COO tuple ``(rows, cols, vals, n)`` on any
        backend (duplicates are an error), or a networkx ``DiGraph`` with edge attribute ``rate_attr``
        (diagonal implied).
    A, B
        disjoint non-empty state sets: index arrays/lists, boolean masks of length ``n``, or node labels.
    pi
        stationary distribution if known (normalized here). Otherwise: for a reversible network
        :math:`\log\pi` is assembled along a spanning tree from :math:`L_{ij}/L_{ji}` and accepted when
        detailed balance holds on every edge (no solve, accurate for :math:`\pi` over many orders of
        magnitude); else one sparse solve of :math:`\pi^\top L = 0` with one equation replaced by
        :math:`\pi_k = 1`.
    reversible
        use :math:`q^- = 1 - q^+` (one committor solve). ``None``: detected from detailed balance
        :math:`\pi_i L_{ij} = \pi_j L_{ji}` on every edge to ``1e-9`` relative to the edge's own probability flow
        plus ``1e-9`` times the largest one.
    fix_diagonal
        set the diagonal from the off-diagonal entries instead of checking that rows sum to 0 / 1.
    tol
        relative residual of the iterative solvers (torch and JAX on accelerators); CPU arrays are solved directly.
    check
        reachability checks (below) before solving.
    backend
        explicit backend (default: that of the input arrays, else numpy).

    Notes
    -----
    Equations: see :mod:`transportkit.tpt.flux`. ``total_flux`` is
    :math:`F = \sum_{i\in A, j\notin A} f_{ij}` and ``rate`` is :math:`k_{AB} = F/\sum_i\pi_i q^-_i`; for
    ``kind="transition"`` both are per step (deeptime's conventions).

    A ``ValueError`` naming the offending states is raised, before any solve, for: empty or overlapping ``A``/``B``,
    negative off-diagonal entries, rows not summing to 0 (1), a network that is not irreducible (when ``pi`` is
    computed), states that cannot reach ``A`` ∪ ``B`` (or, for the backward committor, cannot be reached from
    it), and ``B`` unreachable from ``A``.
    """
    net, mA, mB = _prepare(M, A, B, kind, fix_diagonal, rate_attr, backend)
    be, xp = net.be, net.be.xp
    if pi is None:
        logpi = reversible_log_pi(net) if reversible is not False else None
        if logpi is not None:  # reversible and irreducible (symmetric pattern, BFS reached every state)
            pi = xp.exp(logpi - xp.max(logpi))
            pi = pi / xp.sum(pi)
            reversible = True
        else:
            if check:
                _check_connected(net, mA, mB, strong=True, reversible=reversible)
            pi = _stationary(net, tol)
    else:
        pi = _as_pi(pi, net)
        if check:
            _check_connected(net, mA, mB, strong=False, reversible=reversible)
    if reversible is None:
        reversible = _detailed_balance(net, pi, 1e-9 if be.dtype == xp.float64 else 1e-4)
    q_plus, factored = _committor(net, mA, mB, tol)
    # reversible: q- = 1 - q+; otherwise one transposed solve with the forward factorization
    q_minus = 1.0 - q_plus if reversible else _backward_committor(net, pi, mA, mB, factored)
    del factored  # free the LU factors before the per-edge flux arrays are formed (peak memory)
    f = xp.take(pi * q_minus, net.rows) * net.vals * xp.take(q_plus, net.cols)
    idx, found = net.transpose_index()
    f_rev = xp.where(found, xp.take(f, idx), xp.zeros_like(f))
    fplus = xp.maximum(f - f_rev, xp.zeros_like(f))
    out_a = xp.take(mA, net.rows) & ~xp.take(mA, net.cols)
    total = float(xp.sum(xp.where(out_a, f, xp.zeros_like(f))))
    rate = total / float(xp.sum(pi * q_minus))
    (ia,) = xp.nonzero(mA)
    (ib,) = xp.nonzero(mB)
    return ReactiveFlux(
        pi=pi,
        q_plus=q_plus,
        q_minus=q_minus,
        flux=_output(net, f),
        net_flux=_output(net, fplus),
        total_flux=total,
        rate=rate,
        A=ia,
        B=ib,
        kind=kind,
        reversible=bool(reversible),
        edges=(net.rows, net.cols),
        flux_values=f,
        net_flux_values=fplus,
        n=net.n,
        labels=net.labels,
        backend=be,
    )


@declare(uses=("sparse_factor", "sparse_solve"))
def stationary_distribution(
    M: Any, *, kind: str = "generator", fix_diagonal: bool = False, tol: float = 1e-12, backend: Any = None
) -> Any:
    r"""Stationary distribution :math:`\pi^\top L = 0,\ \sum_i \pi_i = 1` (``L = P - I`` for
    ``kind="transition"``) by one sparse solve with one equation replaced by the normalization; the network
    must be irreducible (``ValueError`` naming the states outside the communicating class otherwise)."""
    net = as_network(M, kind=kind, fix_diagonal=fix_diagonal, backend=backend)
    xp = net.be.xp
    first = xpx.at(xp.zeros((net.n,), dtype=xp.bool, device=net.be.device), 0).set(True)
    _check_connected(net, first, first, strong=True, reversible=None)
    return _stationary(net, tol)


@declare(uses=("sparse_factor", "sparse_solve"))
def committors(
    M: Any, A: Any, B: Any, *, kind: str = "generator", fix_diagonal: bool = False, tol: float = 1e-12,
    backend: Any = None,
) -> tuple[Any, Any]:
    """``(q_plus, q_minus)`` of :func:`reactive_flux` without the fluxes."""
    rf = reactive_flux(M, A, B, kind=kind, fix_diagonal=fix_diagonal, tol=tol, backend=backend)
    return rf.q_plus, rf.q_minus


@declare(uses=("sparse_factor", "sparse_solve"))
def mean_first_passage_times(
    M: Any, target: Any, *, kind: str = "generator", fix_diagonal: bool = False, tol: float = 1e-12,
    rate_attr: str = "rate", backend: Any = None,
) -> Any:
    r"""Mean first passage times :math:`\tau_i` to the set ``target``:
    :math:`\sum_j L_{ij}\tau_j = -1` for :math:`i\notin T`, :math:`\tau|_T = 0` (``kind="transition"``: in
    steps, with :math:`L = P - I`). ``ValueError`` naming the states that cannot reach the target."""
    net = as_network(M, kind=kind, fix_diagonal=fix_diagonal, rate_attr=rate_attr, backend=backend)
    be, xp = net.be, net.be.xp
    mT = as_states(target, net, "target")
    ok = reach(net, mT, reverse=True)
    if not bool(xp.all(ok)):
        (w,) = xp.nonzero(~ok)
        raise ValueError(f"states {_fmt_states(w, be, net.labels)} cannot reach the target")
    interior = ~mT
    tau = xp.zeros((net.n,), dtype=be.dtype, device=be.device)
    if not bool(xp.any(interior)):
        return tau
    diag = -net.exit_rates()
    r, c, v, _, iidx, m = _interior_system(net, net.rows, net.cols, net.vals, diag, interior, mT)
    rhs = -1.0 / xp.take(diag, iidx)
    x = _solve(be, r, c, v, m, rhs, tol, "mean-first-passage-time")
    return scatter_set(be, tau, iidx, x)
