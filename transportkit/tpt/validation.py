"""Conversion and validation of the inputs of transition path theory: networks, state sets, ``pi`` and options.

Every network input — a dense matrix, a scipy/cupyx sparse matrix, a COO tuple ``(rows, cols, vals, n)``, a
networkx ``DiGraph`` — becomes one :class:`~transportkit.tpt.graph.Network` (the conversions of each form are in
:mod:`transportkit.tpt.network_forms`); this module imports no array library. Every check raises a ``ValueError``
naming the offending states (or graph labels) before any solve.
"""

from __future__ import annotations

from typing import Any

import array_api_extra as xpx

from .._backend import Backend
from .._typing import Array
from .._validation import as_choice, as_real
from .graph import Network, reach, scatter_set, segment_sum
from .network_forms import (
    _canonical,
    _check_real,
    _from_coo,
    _from_dense,
    _from_graph,
    _from_sparse,
    _is_graph,
    network_backend,
    unwrap_sparse,
)

__all__ = [
    "as_network", "as_pi", "as_states", "check_connected", "check_options", "fmt_states", "network_backend",
    "unwrap_sparse",
]

KINDS = ("generator", "transition")


def fmt_states(idx: Any, be: Backend, labels: list | None = None, limit: int = 10) -> str:
    """Up to ``limit`` state indices (or graph labels) as a readable list."""
    host = be.to_numpy(idx).tolist()
    if labels is not None:
        host = [labels[i] for i in host]
    more = f" ... ({len(host)} in all)" if len(host) > limit else ""
    return f"{host[:limit]}{more}"


def check_options(kind: str | None, tol: float) -> tuple[str | None, float]:
    """The scalar options shared by the public functions: ``kind`` (``None``: inferred from the matrix) and the
    solver tolerance ``tol`` in ``(0, 1)``."""
    if kind is not None:
        as_choice("kind", kind, KINDS)
    return kind, as_real("tol", tol, low=0.0, high=1.0, low_open=True, high_open=True)


def _check_entries(net: Network) -> None:
    """Finite, non-negative off-diagonal entries; a transition matrix's off-diagonal row sums at most 1."""
    be, xp, lab = net.be, net.be.xp, net.labels
    bad = ~xp.isfinite(net.vals)
    if bool(xp.any(bad)):
        (w,) = xp.nonzero(bad)
        raise ValueError(f"non-finite off-diagonal entries in rows {fmt_states(xp.take(net.rows, w), be, lab)}")
    neg = net.vals < 0
    if bool(xp.any(neg)):
        (w,) = xp.nonzero(neg)
        raise ValueError(
            f"negative off-diagonal {'rates' if net.kind == 'generator' else 'probabilities'} on edges (from states "
            f"{fmt_states(xp.take(net.rows, w), be, lab)} to {fmt_states(xp.take(net.cols, w), be, lab)})"
        )
    if net.kind == "transition":
        over = net.exit_rates() > 1.0 + 1e-12
        if bool(xp.any(over)):
            (w,) = xp.nonzero(over)
            raise ValueError(f"rows of the transition matrix sum to more than 1 off the diagonal: states "
                             f"{fmt_states(w, be, lab)}")


def _row_misfit(net: Network, diag: Any, kind: str) -> Any:
    """Mask of the rows that do not sum to 0 (generator) / 1 (transition matrix, with a non-negative diagonal),
    relative to the row's magnitude: ``1e-10`` in float64, ``1e-5`` in float32."""
    xp = net.be.xp
    out = net.exit_rates()
    if kind == "generator":
        resid, scale = diag + out, xp.abs(diag) + out
    else:
        resid, scale = diag + out - 1.0, xp.abs(diag) + out
    tol = 1e-5 if net.single or net.be.dtype != xp.float64 else 1e-10
    wrong = xp.abs(resid) > tol * xp.maximum(scale, xp.ones_like(scale) * 1e-300)
    return wrong | (diag < 0) if kind == "transition" else wrong


def _check_diag_finite(net: Network, diag: Any) -> None:
    be, xp = net.be, net.be.xp
    if not bool(xp.all(xp.isfinite(diag))):
        (w,) = xp.nonzero(~xp.isfinite(diag))
        raise ValueError(f"non-finite diagonal entries at states {fmt_states(w, be, net.labels)}")


def _check_rows(net: Network, diag: Any) -> None:
    """Rows of a generator sum to 0 (of a transition matrix to 1, with a non-negative diagonal); the message says
    when the other ``kind`` fits."""
    be, xp, lab = net.be, net.be.xp, net.labels
    _check_diag_finite(net, diag)
    if net.kind == "transition" and bool(xp.any(diag < 0)):
        (w,) = xp.nonzero(diag < 0)
        raise ValueError(f"negative diagonal entries of the transition matrix: states {fmt_states(w, be, lab)}")
    wrong = _row_misfit(net, diag, net.kind)
    if bool(xp.any(wrong)):
        (w,) = xp.nonzero(wrong)
        other = "transition" if net.kind == "generator" else "generator"
        hint = ""
        if not bool(xp.any(_row_misfit(net, diag, other))):
            what = "a transition matrix" if other == "transition" else "a generator"
            hint = f"; they sum to {'1' if other == 'transition' else '0'}: it is {what}, pass kind={other!r}"
        raise ValueError(
            f"rows of the {net.kind} matrix do not sum to {'0' if net.kind == 'generator' else '1'} (states "
            f"{fmt_states(w, be, lab)}){hint}; or pass fix_diagonal=True to set the diagonal from the off-diagonal "
            "entries"
        )


def _infer_kind(net: Network, diag: Any) -> str:
    """``kind=None``: "transition" when the rows sum to 1 with a non-negative diagonal, "generator" when they sum
    to 0 (the off-diagonal entries are non-negative in both); otherwise a ``ValueError`` naming both options."""
    be, xp = net.be, net.be.xp
    _check_diag_finite(net, diag)
    bad_gen = _row_misfit(net, diag, "generator")
    if not bool(xp.any(bad_gen)):
        return "generator"
    bad_tr = _row_misfit(net, diag, "transition")
    if not bool(xp.any(bad_tr)) and not bool(xp.any(net.exit_rates() > 1.0 + 1e-12)):
        return "transition"
    (wg,) = xp.nonzero(bad_gen)
    (wt,) = xp.nonzero(bad_tr)
    raise ValueError(
        "cannot tell whether M is a generator (rows summing to 0; fails at states "
        f"{fmt_states(wg, be, net.labels)}) or a transition matrix (rows summing to 1 with a non-negative diagonal; "
        f"fails at states {fmt_states(wt, be, net.labels)}): pass kind='generator' or kind='transition', with "
        "fix_diagonal=True to set the diagonal from the off-diagonal entries"
    )


def as_network(
    M: Any, *, kind: str | None = None, fix_diagonal: bool = False, rate_attr: str = "rate", backend: Any = None,
    sparse_build: Any = None, single: bool = False,
) -> Network:
    """Convert and validate a generator / transition matrix.

    ``M`` may be a dense 2-D array (any backend), a sparse matrix with ``.tocoo()`` (scipy.sparse, cupyx), a
    torch sparse tensor (COO, CSR, CSC), a JAX ``BCOO``/``BCSR``, a COO tuple ``(rows, cols, vals, n)`` (integer
    indices, duplicates rejected; without any diagonal entry the diagonal is implied, otherwise the rows are
    checked), or a networkx ``DiGraph`` whose edges carry ``rate_attr`` (diagonal implied).

    ``kind=None`` infers the kind: rows summing to 1 with a non-negative diagonal -> ``"transition"``, rows
    summing to 0 -> ``"generator"`` (off-diagonal entries non-negative in both); an implied diagonal (COO tuple
    without diagonal entries, networkx) or ``fix_diagonal=True`` leaves nothing to infer from: ``"generator"``.

    ``TypeError`` for complex, boolean or object entries and non-integer COO indices; ``ValueError`` naming the
    offending states for: negative off-diagonal entries, NaN/inf, rows of a generator not summing to 0 (of a
    transition matrix not summing to 1) unless ``fix_diagonal=True``, a transition matrix with off-diagonal row
    sums above 1. ``sparse_build``: a COO tuple ``M`` that came from :func:`unwrap_sparse` (a sparse matrix: its
    diagonal is zero where absent, never implied). ``single``: check to float32's resolution (also when the
    input's own dtype is float32).
    """
    if kind is not None:
        as_choice("kind", kind, KINDS)
    # a Backend object is where to compute (float64 for a float32 input); names resolve with the input's arrays
    be = backend if isinstance(backend, Backend) else network_backend(M, backend)
    if sparse_build is None:
        M, sparse_build = unwrap_sparse(M, be)
    labels, diag, build = None, None, sparse_build
    raw = M[2] if isinstance(M, tuple) and len(M) == 4 else M
    raw_single = str(getattr(raw, "dtype", "")).endswith(("float32", "float16"))
    if _is_graph(M):
        fmt = "networkx"
        n, rows, cols, vals, labels = _from_graph(M, be, rate_attr)
    elif isinstance(M, tuple) and len(M) == 4:
        fmt = "coo" if build is None else "sparse"
        n, rows, cols, vals = _from_coo(M, be)
    elif hasattr(M, "tocoo"):
        fmt = "sparse"
        n, rows, cols, vals, build = _from_sparse(M, be)
    else:
        fmt = "dense"
        n, rows, cols, vals, diag = _from_dense(M, be)
    implied = fmt == "networkx"
    if fmt in ("coo", "sparse"):
        rows, cols, vals, diag = _canonical(n, rows, cols, vals, be)
        implied = fmt == "coo" and diag is None
        if diag is None:
            diag = be.xp.zeros((n,), dtype=vals.dtype, device=be.device)
    if n < 2:
        raise ValueError(f"the network needs at least 2 states, got {n}")
    net = Network(be=be, n=n, rows=rows, cols=cols, vals=vals, kind=kind or "generator", fmt=fmt, labels=labels,
                  build=build, single=single or raw_single)
    if kind is None and not (fix_diagonal or implied):
        net.kind = "generator"
        _check_entries(net)  # non-negative, finite off-diagonal entries first
        net.kind = _infer_kind(net, diag)
    _check_entries(net)
    if not fix_diagonal and not implied:
        _check_rows(net, diag)
    return net


def as_states(S: Any, net: Network, name: str) -> Array:
    """A state set (index array, list, boolean mask of length n, or networkx labels) -> boolean mask."""
    be, xp, n = net.be, net.be.xp, net.n
    if net.labels is not None and not hasattr(S, "dtype"):
        index = {v: i for i, v in enumerate(net.labels)}
        items = [S] if not isinstance(S, (list, tuple, set, frozenset, range)) else list(S)
        missing = [v for v in items if v not in index]
        if missing:
            raise ValueError(f"{name} contains nodes not in the graph: {missing[:10]}")
        S = [index[v] for v in items]
    if isinstance(S, int):
        S = [S]
    arr = be.asarray(S)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D index array or boolean mask, got shape {tuple(arr.shape)}")
    if arr.dtype == xp.bool:
        if arr.shape[0] != n:
            raise ValueError(f"boolean mask {name} has length {arr.shape[0]}, the network has {n} states")
        mask = arr
    else:
        if arr.shape[0] == 0:
            raise ValueError(f"{name} is empty")
        if not xp.isdtype(arr.dtype, "integral"):
            raise ValueError(f"{name} must hold integer state indices or be a boolean mask, got {arr.dtype}")
        arr = xp.astype(arr, xp.int64)
        bad = (arr < 0) | (arr >= n)
        if bool(xp.any(bad)):
            (w,) = xp.nonzero(bad)
            raise ValueError(f"{name} has states outside [0, {n}): {fmt_states(xp.take(arr, w), be)}")
        mask = scatter_set(be, xp.zeros((n,), dtype=xp.bool, device=be.device), arr, True)
    if not bool(xp.any(mask)):
        raise ValueError(f"{name} is empty")
    return mask


def check_positive_pi(pi: Any, net: Network, solved: bool = False) -> None:
    """``ValueError`` naming the states where the stationary distribution is not positive (``solved``: it came
    from the linear solve, whose error is relative to the largest entry)."""
    xp = net.be.xp
    bad = ~(pi > 0)
    if bool(xp.any(bad)):
        (w,) = xp.nonzero(bad)
        why = "(the chain must be irreducible on the states given)"
        if solved:
            why = (f"{why}; for an irreducible chain this is the solve's precision: entries below ~1e-16 of the "
                   "largest are not resolved by a linear solve (pass pi= computed in log space if you know it)")
        raise ValueError(f"the stationary distribution is not positive at states "
                         f"{fmt_states(w, net.be, net.labels)} {why}")


def as_pi(pi: Any, net: Network, rtol: float | None = None) -> Array:
    r"""A user's stationary distribution: shape ``(n,)``, real, finite, positive, and stationary: the balance
    :math:`(\pi^\top L)_j = \sum_{i\ne j}\pi_i L_{ij} - \pi_j\lambda_j = 0` must hold at every state to
    ``rtol`` (default ``1e-8``; ``1e-4`` for float32 input) relative to the state's in- plus out-flow
    :math:`\sum_{i\ne j}\pi_i L_{ij} + \pi_j\lambda_j` -- ``O(nnz)``. Returned normalized."""
    be, xp = net.be, net.be.xp
    _check_real("pi", pi)
    p = be.asarray(pi)
    _check_real("pi", p)
    single = net.single or p.dtype == xp.float32
    p = xp.astype(p, be.dtype) if p.dtype != be.dtype else p
    if p.shape != (net.n,):
        raise ValueError(f"pi must have shape ({net.n},), got {tuple(p.shape)}")
    if not bool(xp.all(xp.isfinite(p))):
        raise ValueError("pi has non-finite entries")
    p = p / xp.sum(p)
    check_positive_pi(p, net)
    if rtol is None:
        rtol = 1e-4 if single else 1e-8
    inflow = segment_sum(be, net.cols, xp.take(p, net.rows) * net.vals, net.n)
    outflow = p * net.exit_rates()
    bad = xp.abs(inflow - outflow) > rtol * (inflow + outflow)
    if bool(xp.any(bad)):
        (w,) = xp.nonzero(bad)
        worst = float(xp.max(xp.take(xp.abs(inflow - outflow) / (inflow + outflow), w)))
        raise ValueError(
            f"pi is not stationary for this {net.kind}: pi^T L = 0 fails at states {fmt_states(w, be, net.labels)} "
            f"(largest relative imbalance {worst:.2e} > {rtol:g}); leave pi=None to compute it"
        )
    return p


def check_connected(net: Network, mA: Any, mB: Any, *, strong: bool, reversible: bool | None) -> None:
    """``ValueError`` naming the states that break the TPT assumptions: with ``strong=True`` the network must be
    irreducible; otherwise every state must reach ``A ∪ B`` (and, unless ``reversible``, be reachable from it),
    and ``B`` must be reachable from ``A``."""
    xp, be, lab = net.be.xp, net.be, net.labels
    if strong:
        first = xpx.at(xp.zeros((net.n,), dtype=xp.bool, device=be.device), 0).set(True)
        both = reach(net, first) & reach(net, first, reverse=True)
        if not bool(xp.all(both)):
            (w,) = xp.nonzero(~both)
            raise ValueError(
                f"the network is not irreducible: states {fmt_states(w, be, lab)} are not in the communicating "
                f"class of state {lab[0] if lab else 0} (restrict the network or pass pi=)"
            )
        return
    ab = mA | mB
    to_ab = reach(net, ab, reverse=True)
    if not bool(xp.all(to_ab)):
        (w,) = xp.nonzero(~to_ab)
        raise ValueError(f"states {fmt_states(w, be, lab)} cannot reach A or B (the committor is undefined)")
    if reversible is not True:
        from_ab = reach(net, ab)
        if not bool(xp.all(from_ab)):
            (w,) = xp.nonzero(~from_ab)
            raise ValueError(
                f"states {fmt_states(w, be, lab)} cannot be reached from A or B (backward committor undefined)"
            )
    if not bool(xp.any(reach(net, mA, stop=mB) & mB)):
        raise ValueError("B cannot be reached from A: there is no reactive flux")
