"""Conversion and validation of the inputs of transition path theory: networks, state sets, ``pi`` and options.

Every network input — a dense matrix, a scipy/cupyx sparse matrix, a COO tuple ``(rows, cols, vals, n)``, a
networkx ``DiGraph`` — becomes one :class:`~transportkit.tpt.graph.Network`. Sparse matrices and graphs are
recognized by duck typing (``.tocoo()``; ``.edges``/``.nodes``/``.is_directed``); this module imports no array
library. Every check raises a ``ValueError`` naming the offending states (or graph labels) before any solve.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_extra as xpx

from .._backend import Backend, resolve_backend
from .graph import Network, reach, scatter_set

__all__ = ["as_network", "as_pi", "as_states", "check_connected", "check_options", "fmt_states", "network_backend"]

KINDS = ("generator", "transition")


def fmt_states(idx: Any, be: Backend, labels: list | None = None, limit: int = 10) -> str:
    """Up to ``limit`` state indices (or graph labels) as a readable list."""
    host = be.to_numpy(idx).tolist()
    if labels is not None:
        host = [labels[i] for i in host]
    more = f" ... ({len(host)} in all)" if len(host) > limit else ""
    return f"{host[:limit]}{more}"


def check_options(kind: str, tol: float) -> None:
    """The scalar options shared by the public functions: ``kind`` and the solver tolerance ``tol``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be 'generator' or 'transition', got {kind!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (0 < tol < 1 and math.isfinite(tol)):
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")


def _is_graph(M: Any) -> bool:
    return hasattr(M, "edges") and hasattr(M, "nodes") and hasattr(M, "is_directed")


def network_backend(M: Any, backend: Any = None) -> Backend:
    """The caller's backend for a network input: ``backend=`` if given, else that of its arrays (numpy for a
    networkx graph); mixing two array libraries is a ``TypeError``."""
    if _is_graph(M):
        return resolve_backend(backend=backend)
    if isinstance(M, tuple) and len(M) == 4:
        return resolve_backend(*M[:3], backend=backend)
    if hasattr(M, "tocoo"):  # scipy.sparse / cupyx: every format holds its values in .data
        return resolve_backend(M.data if hasattr(M, "data") else M.tocoo().data, backend=backend)
    return resolve_backend(M, backend=backend)


# ------------------------------------------------------------------------------------------- input forms
def _from_graph(M: Any, be: Backend, rate_attr: str) -> tuple:
    if not M.is_directed():
        raise ValueError("the networkx graph must be a DiGraph (rates i->j and j->i are separate edges)")
    labels = list(M.nodes)
    index = {v: i for i, v in enumerate(labels)}
    r, c, v = [], [], []
    for a, b, data in M.edges(data=True):
        if rate_attr not in data:
            raise ValueError(f"edge ({a!r}, {b!r}) has no attribute {rate_attr!r} (set rate_attr=...)")
        if a != b:
            r.append(index[a])
            c.append(index[b])
            v.append(float(data[rate_attr]))
    xp = be.xp
    arrays = be.asarray(r, dtype=xp.int64), be.asarray(c, dtype=xp.int64), be.asarray(v, dtype=be.dtype)
    return (len(labels), *arrays, labels)


def _from_coo(M: tuple, be: Backend) -> tuple:
    rows, cols, vals, n = M
    xp = be.xp
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise ValueError(f"the size n of a COO tuple (rows, cols, vals, n) must be an integer, got {n!r}")
    rows, cols = xp.astype(be.asarray(rows), xp.int64), xp.astype(be.asarray(cols), xp.int64)
    vals = be.asarray(vals, dtype=be.dtype)
    if not (rows.ndim == cols.ndim == vals.ndim == 1 and rows.shape == cols.shape == vals.shape):
        raise ValueError("COO tuple (rows, cols, vals, n) needs three 1-D arrays of equal length")
    return int(n), rows, cols, vals


def _from_sparse(M: Any, be: Backend) -> tuple:
    coo = M.tocoo()
    if coo.shape[0] != coo.shape[1]:
        raise ValueError(f"the matrix must be square, got shape {tuple(coo.shape)}")
    xp = be.xp
    rows, cols = xp.astype(be.asarray(coo.row), xp.int64), xp.astype(be.asarray(coo.col), xp.int64)
    return int(coo.shape[0]), rows, cols, be.asarray(coo.data, dtype=be.dtype)


def _from_dense(M: Any, be: Backend) -> tuple:
    xp = be.xp
    M = be.asarray(M)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"the matrix must be square, got shape {tuple(M.shape)}")
    n = M.shape[0]
    diag = xp.linalg.diagonal(M)
    rows, cols = xp.nonzero((M != 0) & ~xp.eye(n, dtype=xp.bool, device=be.device))
    vals = xp.take(xp.reshape(M, (-1,)), rows * n + cols)
    return n, xp.astype(rows, xp.int64), xp.astype(cols, xp.int64), vals, diag


def _canonical(n: int, rows: Any, cols: Any, vals: Any, be: Backend) -> tuple:
    """Sorted, duplicate-free off-diagonal non-zeros ``(rows, cols, vals)`` and the diagonal of a sparse input
    (``None`` when it has no diagonal entry at all)."""
    xp = be.xp
    if rows.shape[0] and (int(xp.min(rows)) < 0 or int(xp.max(rows)) >= n or int(xp.min(cols)) < 0
                          or int(xp.max(cols)) >= n):
        raise ValueError(f"COO indices must lie in [0, {n})")
    keys = rows * n + cols
    if keys.shape[0] > 1 and not bool(xp.all(keys[1:] >= keys[:-1])):
        order = xp.argsort(keys)
        rows, cols, vals, keys = (xp.take(a, order) for a in (rows, cols, vals, keys))
    dup = keys[1:] == keys[:-1]
    if keys.shape[0] > 1 and bool(xp.any(dup)):
        (where,) = xp.nonzero(dup)
        where = where[: min(10, where.shape[0])]
        pairs = list(zip(be.to_numpy(xp.take(rows, where)).tolist(), be.to_numpy(xp.take(cols, where)).tolist(),
                         strict=True))
        raise ValueError(f"duplicate COO entries at (row, col) {pairs}; sum duplicates first")
    ondiag = rows == cols
    diag = None
    if bool(xp.any(ondiag)):
        (d_idx,) = xp.nonzero(ondiag)
        diag = scatter_set(be, xp.zeros((n,), dtype=vals.dtype, device=be.device), xp.take(rows, d_idx),
                           xp.take(vals, d_idx))
    (k_idx,) = xp.nonzero(~ondiag & (vals != 0))
    rows, cols, vals = (xp.take(a, k_idx) for a in (rows, cols, vals))
    return rows, cols, vals, diag


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


def _check_rows(net: Network, diag: Any) -> None:
    """Rows of a generator sum to 0 (of a transition matrix to 1, with a non-negative diagonal), relative to the
    row's magnitude: ``1e-10`` in float64, ``1e-5`` in float32."""
    be, xp, lab = net.be, net.be.xp, net.labels
    if not bool(xp.all(xp.isfinite(diag))):
        (w,) = xp.nonzero(~xp.isfinite(diag))
        raise ValueError(f"non-finite diagonal entries at states {fmt_states(w, be, lab)}")
    out = net.exit_rates()
    if net.kind == "generator":
        resid, scale = diag + out, xp.abs(diag) + out
    else:
        if bool(xp.any(diag < 0)):
            (w,) = xp.nonzero(diag < 0)
            raise ValueError(f"negative diagonal entries of the transition matrix: states {fmt_states(w, be, lab)}")
        resid, scale = diag + out - 1.0, diag + out
    tol = 1e-10 if be.dtype == xp.float64 else 1e-5
    wrong = xp.abs(resid) > tol * xp.maximum(scale, xp.ones_like(scale) * 1e-300)
    if bool(xp.any(wrong)):
        (w,) = xp.nonzero(wrong)
        raise ValueError(
            f"rows of the {net.kind} matrix do not sum to {'0' if net.kind == 'generator' else '1'} (states "
            f"{fmt_states(w, be, lab)}); pass fix_diagonal=True to set the diagonal from the off-diagonal entries"
        )


def as_network(
    M: Any, *, kind: str = "generator", fix_diagonal: bool = False, rate_attr: str = "rate", backend: Any = None
) -> Network:
    """Convert and validate a generator / transition matrix.

    ``M`` may be a dense 2-D array (any backend), a sparse matrix with ``.tocoo()`` (scipy.sparse, cupyx), a COO
    tuple ``(rows, cols, vals, n)`` (duplicates rejected; without any diagonal entry the diagonal is implied,
    otherwise the rows are checked), or a networkx ``DiGraph`` whose edges carry ``rate_attr`` (diagonal implied).
    ``ValueError`` naming the offending states for: negative off-diagonal entries, NaN/inf, rows of a generator
    not summing to 0 (of a transition matrix not summing to 1) unless ``fix_diagonal=True``, a transition matrix
    with off-diagonal row sums above 1.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be 'generator' or 'transition', got {kind!r}")
    be = network_backend(M, backend)
    labels, diag = None, None
    if _is_graph(M):
        fmt = "networkx"
        n, rows, cols, vals, labels = _from_graph(M, be, rate_attr)
    elif isinstance(M, tuple) and len(M) == 4:
        fmt = "coo"
        n, rows, cols, vals = _from_coo(M, be)
    elif hasattr(M, "tocoo"):
        fmt = "sparse"
        n, rows, cols, vals = _from_sparse(M, be)
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
    net = Network(be=be, n=n, rows=rows, cols=cols, vals=vals, kind=kind, fmt=fmt, labels=labels)
    _check_entries(net)
    if not fix_diagonal and not implied:
        _check_rows(net, diag)
    return net


def as_states(S: Any, net: Network, name: str) -> Any:
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


def check_positive_pi(pi: Any, net: Network) -> None:
    """``ValueError`` naming the states where the stationary distribution is not positive."""
    xp = net.be.xp
    bad = ~(pi > 0)
    if bool(xp.any(bad)):
        (w,) = xp.nonzero(bad)
        raise ValueError(
            f"the stationary distribution is not positive at states {fmt_states(w, net.be, net.labels)} "
            "(the chain must be irreducible on the states given)"
        )


def as_pi(pi: Any, net: Network) -> Any:
    """A user's stationary distribution: shape ``(n,)``, finite, positive; returned normalized."""
    be, xp = net.be, net.be.xp
    p = be.asarray(pi, dtype=be.dtype)
    if p.shape != (net.n,):
        raise ValueError(f"pi must have shape ({net.n},), got {tuple(p.shape)}")
    if not bool(xp.all(xp.isfinite(p))):
        raise ValueError("pi has non-finite entries")
    p = p / xp.sum(p)
    check_positive_pi(p, net)
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
