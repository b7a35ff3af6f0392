r"""The linear systems of transition path theory: committors, stationary distribution, mean first passage times.

Each is solved on the interior unknowns only (boundary values moved to the right-hand side) with the backend's
sparse factorization (numpy, and torch on the CPU: SciPy's SuperLU, direct; torch on accelerators:
Jacobi-preconditioned BiCGSTAB to relative residual ``tol``). The backward committor of a non-reversible chain
reuses the forward factorization through one transposed solve (:func:`backward_committor`). Backends without a
sparse solver (``array_api_strict``) use a dense ``xp.linalg.solve`` for at most :data:`DENSE_LIMIT` unknowns.
JAX never reaches this module: :mod:`transportkit.tpt.flux` computes on the host for backends that prefer host
index bookkeeping.

References: Metzner, Schütte & Vanden-Eijnden, "Transition path theory for Markov jump processes", Multiscale
Model. Simul. 7, 1192 (2009); E & Vanden-Eijnden, "Towards a theory of transition paths", J. Stat. Phys. 123,
503 (2006).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import array_api_extra as xpx

from .._backend import Backend
from .._typing import Array
from .graph import Network, scatter_set, segment_sum
from .validation import check_positive_pi

__all__ = ["DENSE_LIMIT", "backward_committor", "committor", "factor", "solve", "stationary"]

#: largest number of unknowns for which the dense fallback (backends without ``sparse_solve``) is allowed
DENSE_LIMIT = 4000

#: ``solve(b, transpose=False)``: a factored ``m x m`` system
Solve = Callable[..., Any]


def factor(be: Backend, rows: Any, cols: Any, vals: Any, m: int, tol: float, what: str) -> Solve:
    """``solve(b, transpose=False)`` for the ``m x m`` sparse matrix ``S`` given by COO ``(rows, cols, vals)``
    (duplicates summed): ``S x = b``, or ``S^T x = b`` with ``transpose=True``.

    With the backend's ``sparse_factor`` one factorization serves both; with only ``sparse_solve`` each solve
    starts afresh; backends without either use a dense ``xp.linalg.solve`` up to :data:`DENSE_LIMIT` unknowns.
    Non-finite solutions (a singular system) are a ``ValueError`` naming ``what``.
    """
    xp = be.xp
    sparse_factor, sparse_solve, coo = be.sparse_factor, be.sparse_solve, be.sparse_coo
    if sparse_factor is not None and coo is not None:
        inner = sparse_factor(coo(rows, cols, vals, (m, m)), tol=tol)
    elif sparse_solve is not None and coo is not None:

        def inner(b: Any, *, transpose: bool = False) -> Any:
            r, c = (cols, rows) if transpose else (rows, cols)
            return sparse_solve(coo(r, c, vals, (m, m)), b, tol=tol)
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


def solve(be: Backend, rows: Any, cols: Any, vals: Any, m: int, rhs: Any, tol: float, what: str) -> Array:
    """Solve the ``m x m`` sparse system given by COO ``(rows, cols, vals)`` (duplicates summed) once."""
    return factor(be, rows, cols, vals, m, tol, what)(rhs)


def interior_system(net: Network, diag: Any, interior: Any, target: Any) -> tuple[Any, Any, Any, Any, Any, int]:
    """COO of ``D^{-1} L_II`` and ``D^{-1} b_I``, ``b_I = -sum_{j in target} L_ij``, ``D = diag(L_II)``, for the
    network's off-diagonal entries and the diagonal ``diag``; returns ``(r, c, v, b, interior indices, m)``. Scale
    right-hand sides other than ``b`` by ``1/D``."""
    be, xp = net.be, net.be.xp
    rows, cols, vals = net.rows, net.cols, net.vals
    (iidx,) = xp.nonzero(interior)
    m = int(iidx.shape[0])
    pos = xp.cumulative_sum(xp.astype(interior, xp.int64)) - 1
    ri, ci = xp.take(interior, rows), xp.take(interior, cols)
    (sel,) = xp.nonzero(ri & ci)
    ar = xp.arange(m, dtype=xp.int64, device=be.device)
    r = xp.concat([xp.take(pos, xp.take(rows, sel)), ar])
    c = xp.concat([xp.take(pos, xp.take(cols, sel)), ar])
    dI = xp.take(diag, iidx)
    v = xp.concat([xp.take(vals, sel), dI])
    w = xp.where(xp.take(target, cols) & ri, vals, xp.zeros_like(vals))
    b = -xp.take(segment_sum(be, rows, w, net.n), iidx)
    # Jacobi row scaling (unit diagonal): rates spanning many orders of magnitude otherwise make the iterative
    # solvers' residual test ||b - M x|| <= tol ||b|| blind to the slow rows
    v = v / xp.take(dI, r)
    return r, c, v, b / dI, iidx, m


def committor(net: Network, mA: Any, mB: Any, tol: float) -> tuple[Any, tuple | None]:
    """Forward committor: ``sum_j L_ij q_j = 0`` (interior ``I``), ``q = 0`` on A, ``1`` on B.

    Solves the row-scaled system ``S = D^{-1} L_II`` (``D = diag(L_II)``); returns ``(q, (solve, iidx, dI))`` with
    the factored ``solve`` of ``S`` for :func:`backward_committor` (``None`` when there are no interior states).
    """
    be, xp = net.be, net.be.xp
    interior = ~(mA | mB)
    q = xp.astype(mB, be.dtype)
    if not bool(xp.any(interior)):
        return q, None
    diag = -net.exit_rates()
    r, c, v, b, iidx, m = interior_system(net, diag, interior, mB)
    lu = factor(be, r, c, v, m, tol, "forward-committor")
    x = xp.clip(lu(b), 0.0, 1.0)
    return scatter_set(be, q, iidx, x), (lu, iidx, xp.take(diag, iidx))


def backward_committor(net: Network, pi: Any, mA: Any, mB: Any, factored: tuple | None, refine: int = 1) -> Array:
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
    lu, iidx, dI = factored
    interior = ~(mA | mB)
    zero = xp.zeros_like(net.vals)
    pflow = xp.take(pi, net.rows) * net.vals  # pi_j L_ji on edge (j, i)
    out_of_a = xp.take(mA, net.rows) & xp.take(interior, net.cols)
    rhs = -xp.take(segment_sum(be, net.cols, xp.where(out_of_a, pflow, zero), net.n), iidx)
    dpi = dI * xp.take(pi, iidx)
    inner = xp.take(interior, net.rows) & xp.take(interior, net.cols)
    y = lu(rhs, transpose=True) / dpi
    for _ in range(refine):
        # residual of the reversed system, row i scaled by pi_i: (Pi b~ - L_II^T Pi y)_i, no ratios formed
        full = scatter_set(be, xp.zeros((net.n,), dtype=y.dtype, device=be.device), iidx, y)
        flow = xp.take(segment_sum(be, net.cols, xp.where(inner, pflow * xp.take(full, net.rows), zero), net.n), iidx)
        y = y + lu(rhs - flow - dpi * y, transpose=True) / dpi
    return scatter_set(be, q, iidx, xp.clip(y, 0.0, 1.0))


def stationary(net: Network, tol: float) -> Array:
    """``pi^T L = 0``, ``sum pi = 1`` by one sparse solve of ``L^T`` with the equation of the state ``k`` of
    smallest exit rate replaced by ``pi_k = 1`` (then normalized); ``ValueError`` where ``pi`` is not positive."""
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
    x = solve(be, r, c, v, n, rhs, tol, "stationary-distribution")
    pi = x / xp.sum(x)
    check_positive_pi(pi, net, solved=True)
    return pi


def mean_first_passage(net: Network, mT: Any, tol: float) -> Any:
    r""":math:`\sum_j L_{ij}\tau_j = -1` for :math:`i\notin T`, :math:`\tau|_T = 0`: one solve of the row-scaled
    interior system."""
    be, xp = net.be, net.be.xp
    interior = ~mT
    tau = xp.zeros((net.n,), dtype=be.dtype, device=be.device)
    if not bool(xp.any(interior)):
        return tau
    diag = -net.exit_rates()
    r, c, v, _, iidx, m = interior_system(net, diag, interior, mT)
    x = solve(be, r, c, v, m, -1.0 / xp.take(diag, iidx), tol, "mean-first-passage-time")
    return scatter_set(be, tau, iidx, x)
