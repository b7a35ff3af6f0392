"""Conversion and validation of networks and state sets for transition path theory.

Every input (dense matrix, scipy/cupyx sparse matrix, COO tuple, networkx ``DiGraph``) is turned into one internal
form, :class:`Network`: the **off-diagonal** entries as canonical COO arrays ``(rows, cols, vals)`` on the
backend (sorted by ``rows * n + cols``, no duplicates, no zeros) plus the size ``n``. The diagonal is never stored:
for a generator ``L_ii = -sum_{j != i} L_ij`` and for a transition matrix ``P_ii - 1 = -sum_{j != i} P_ij``,
so both kinds share the internal generator ``L`` (``L = P - I`` for a chain, rates per step).

Nothing of size ``n**2`` is formed for a sparse input. Sparse matrices and graphs are recognized by duck typing
(``.tocoo()``, ``.indices()``/``.values()``, ``.edges``); this module imports no array library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import array_api_extra as xpx

from .._backend import Backend, resolve_backend

__all__ = ["Network", "as_network", "as_states"]

#: largest n for which a dense fallback (backends without ``sparse_solve``) is allowed
DENSE_LIMIT = 4000


def _fmt_states(idx: Any, be: Backend, labels: list | None = None, limit: int = 10) -> str:
    """Up to ``limit`` state indices (or graph labels) as a readable list."""
    host = be.to_numpy(idx).tolist()
    if labels is not None:
        host = [labels[i] for i in host]
    more = f" ... ({len(host)} in all)" if len(host) > limit else ""
    return f"{host[:limit]}{more}"


def scatter_set(be: Backend, x: Any, idx: Any, vals: Any) -> Any:
    """``x[idx] = vals`` for a 1-D ``x`` and unique integer ``idx`` (``vals`` scalar or array).

    ``array_api_extra.at`` where the library supports integer-array assignment (numpy updates ``x`` in place:
    pass an array this code owns); on ``array_api_strict`` (no fancy ``__setitem__``) a ``searchsorted`` gather,
    ``O(n log m)``, with standard functions only.
    """
    xp = be.xp
    if be.name != "array_api_strict":
        return xpx.at(x, idx).set(vals)
    m = idx.shape[0]
    if m == 0:
        return x
    order = xp.argsort(idx)
    si = xp.take(idx, order)
    pos = xp.arange(x.shape[0], dtype=si.dtype, device=be.device)
    k = xp.clip(xp.searchsorted(si, pos), 0, m - 1)
    hit = xp.take(si, k) == pos
    if hasattr(vals, "shape") and vals.ndim == 1:
        new = xp.take(xp.take(vals, order), k)
    else:
        new = xp.full(x.shape, vals, dtype=x.dtype, device=be.device)
    return xp.where(hit, xp.astype(new, x.dtype), x)


@dataclass
class Network:
    """Internal form of a network: canonical off-diagonal COO arrays on the backend.

    ``fmt`` records the input form (``"dense"``, ``"sparse"``, ``"coo"``, ``"networkx"``) so that results come
    back in the same form; ``labels`` are the networkx node labels (``None`` otherwise).
    """

    be: Backend
    n: int
    rows: Any
    cols: Any
    vals: Any
    kind: str
    fmt: str
    labels: list | None = None
    _csr: Any = None
    _csc: Any = None
    _tidx: Any = None
    _exit: Any = None
    _host: Any = None

    # -- derived structure (lazy, cached) -------------------------------------------------------------
    @property
    def keys(self) -> Any:
        return self.rows * self.n + self.cols

    def indptr(self, by: str = "row") -> tuple[Any, Any, Any]:
        """CSR-like structure: ``(indptr, order, other)``: edges of state ``i`` (as source for ``by="row"``, as
        target for ``by="col"``) are ``order[indptr[i]:indptr[i+1]]``, ``other`` their other endpoints."""
        xp = self.be.xp
        if by == "row":
            if self._csr is None:
                order = xp.arange(self.rows.shape[0], dtype=xp.int64, device=self.be.device)
                ptr = xp.searchsorted(self.rows, xp.arange(self.n + 1, dtype=self.rows.dtype, device=self.be.device))
                self._csr = (ptr, order, self.cols)
            return self._csr
        if self._csc is None:
            order = xp.argsort(self.cols * self.n + self.rows)
            sc = xp.take(self.cols, order)
            ptr = xp.searchsorted(sc, xp.arange(self.n + 1, dtype=sc.dtype, device=self.be.device))
            self._csc = (ptr, order, xp.take(self.rows, order))
        return self._csc

    def host(self) -> Network:
        """This network on the host (numpy backend), for graph searches (cached). On numpy: itself."""
        if self.be.name == "numpy":
            return self
        if self._host is None:
            from .._backend import get_backend

            hb = get_backend("numpy")
            self._host = Network(be=hb, n=self.n, rows=self.be.to_numpy(self.rows),
                                 cols=self.be.to_numpy(self.cols), vals=self.be.to_numpy(self.vals),
                                 kind=self.kind, fmt=self.fmt, labels=self.labels)
        return self._host

    def exit_rates(self) -> Any:
        """``lambda_i = sum_{j != i} L_ij`` (so ``L_ii = -lambda_i``); cached."""
        if self._exit is None:
            self._exit = segment_sum(self.be, self.rows, self.vals, self.n)
        return self._exit

    def transpose_index(self) -> tuple[Any, Any]:
        """``(idx, found)``: for edge ``e = (i, j)``, ``idx[e]`` is the position of ``(j, i)`` where ``found[e]``."""
        if self._tidx is not None:
            return self._tidx
        xp = self.be.xp
        keys = self.keys
        tkeys = self.cols * self.n + self.rows
        m = keys.shape[0]
        idx = xp.searchsorted(keys, tkeys)
        idx = xp.clip(idx, 0, max(m - 1, 0))
        found = xp.take(keys, idx) == tkeys if m else xp.zeros((0,), dtype=xp.bool)
        self._tidx = (idx, found)
        return idx, found


def segment_sum(be: Backend, idx: Any, v: Any, n: int) -> Any:
    """``out_i = sum_{e: idx[e] = i} v_e`` for ``i < n`` (any order of ``idx``, repeats allowed).

    Uses the backend's sparse matrix (an ``n x 1`` COO matrix with duplicates summed) times a vector where it has
    one, else a padded ``(n, max multiplicity)`` table after a stable sort (no scatter-add is needed). Backends
    that prefer host index bookkeeping (:attr:`~transportkit.Backend.prefers_host_indexing`; JAX, which would
    compile the sparse-matrix assembly anew for every shape) sum on the host and move the ``n`` sums once.
    """
    xp = be.xp
    if v.shape[0] == 0:
        return xp.zeros((n,), dtype=v.dtype, device=be.device)
    if be.prefers_host_indexing:
        from .._backend import get_backend

        hb = get_backend("numpy")
        out = segment_sum(hb, hb.asarray(be.to_numpy(idx)), hb.asarray(be.to_numpy(v)), n)
        return be.asarray(out, dtype=v.dtype)
    coo = be.sparse_coo
    if coo is not None:
        S = coo(idx, xp.zeros_like(idx), v, (n, 1))
        return xp.reshape(S @ xp.ones((1, 1), dtype=v.dtype, device=be.device), (n,))
    order = xp.argsort(idx, stable=True)
    si, sv = xp.take(idx, order), xp.take(v, order)
    ptr = xp.searchsorted(si, xp.arange(n + 1, dtype=si.dtype, device=be.device))
    width = int(xp.max(ptr[1:] - ptr[:-1]))
    pos = xp.arange(si.shape[0], dtype=si.dtype, device=be.device) - xp.take(ptr, si)
    table = scatter_set(be, xp.zeros((n * width,), dtype=v.dtype, device=be.device), si * width + pos, sv)
    return xp.sum(xp.reshape(table, (n, width)), axis=1)


def _from_dense(M: Any, be: Backend) -> tuple[int, Any, Any, Any, Any]:
    xp = be.xp
    M = be.asarray(M)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"the matrix must be square, got shape {tuple(M.shape)}")
    n = M.shape[0]
    diag = xp.linalg.diagonal(M)
    off = (M != 0) & ~xp.eye(n, dtype=xp.bool, device=be.device)
    rows, cols = xp.nonzero(off)
    flat = xp.reshape(M, (-1,))
    vals = xp.take(flat, rows * n + cols)
    return n, xp.astype(rows, xp.int64), xp.astype(cols, xp.int64), vals, diag


def _is_graph(M: Any) -> bool:
    return hasattr(M, "edges") and hasattr(M, "nodes") and hasattr(M, "is_directed")


def as_network(
    M: Any,
    *,
    kind: str = "generator",
    fix_diagonal: bool = False,
    rate_attr: str = "rate",
    backend: Any = None,
) -> Network:
    """Convert and validate a generator / transition matrix (see :func:`_as_network`).

    On backends that prefer host index bookkeeping (:attr:`~transportkit.Backend.prefers_host_indexing`, declared
    by the adapter: JAX, which compiles every data-dependent-shape operation anew for each shape) the conversion
    and validation run on the host with NumPy and the canonical arrays are moved once.
    """
    if _is_graph(M):
        be = resolve_backend(backend=backend)
    elif isinstance(M, tuple) and len(M) == 4:
        be = resolve_backend(*M[:3], backend=backend)
    elif hasattr(M, "tocoo"):
        return _as_network(M, kind=kind, fix_diagonal=fix_diagonal, rate_attr=rate_attr, backend=backend)
    else:
        be = resolve_backend(M, backend=backend)
    if not be.prefers_host_indexing:
        return _as_network(M, kind=kind, fix_diagonal=fix_diagonal, rate_attr=rate_attr, backend=be)
    if isinstance(M, tuple) and len(M) == 4:
        host_in = (*tuple(be.to_numpy(be.asarray(a)) for a in M[:3]), M[3])
    elif _is_graph(M):
        host_in = M
    else:
        host_in = be.to_numpy(be.asarray(M))
    h = _as_network(host_in, kind=kind, fix_diagonal=fix_diagonal, rate_attr=rate_attr, backend="numpy")
    net = Network(be=be, n=h.n, rows=be.asarray(h.rows), cols=be.asarray(h.cols),
                  vals=be.asarray(h.vals, dtype=be.dtype), kind=kind, fmt=h.fmt, labels=h.labels)
    net._host = h
    net._exit = be.asarray(h.exit_rates(), dtype=be.dtype)
    return net


def _as_network(
    M: Any,
    *,
    kind: str = "generator",
    fix_diagonal: bool = False,
    rate_attr: str = "rate",
    backend: Any = None,
    extra: tuple = (),
) -> Network:
    """Convert and validate a generator / transition matrix.

    ``M`` may be a dense 2-D array (any backend), a sparse matrix with ``.tocoo()`` (scipy.sparse, cupyx),
    a COO tuple ``(rows, cols, vals, n)`` (duplicates rejected; without any diagonal entry the diagonal is
    implied, otherwise the rows are checked), or a networkx
    ``DiGraph`` whose edges carry ``rate_attr`` (diagonal implied). Raises ``ValueError`` naming the offending
    states for: negative off-diagonal entries, NaN/inf, rows of a generator not summing to 0 (or of a transition
    matrix not summing to 1) unless ``fix_diagonal=True``, a transition matrix with off-diagonal row sums > 1.
    """
    if kind not in ("generator", "transition"):
        raise ValueError(f"kind must be 'generator' or 'transition', got {kind!r}")
    labels = None
    diag = None
    if _is_graph(M):  # networkx
        fmt = "networkx"
        if not M.is_directed():
            raise ValueError("the networkx graph must be a DiGraph (rates i->j and j->i are separate edges)")
        labels = list(M.nodes)
        index = {v: i for i, v in enumerate(labels)}
        r, c, v = [], [], []
        for a, b, data in M.edges(data=True):
            if rate_attr not in data:
                raise ValueError(f"edge ({a!r}, {b!r}) has no attribute {rate_attr!r} (set rate_attr=...)")
            if a == b:
                continue
            r.append(index[a])
            c.append(index[b])
            v.append(float(data[rate_attr]))
        be = resolve_backend(*extra, backend=backend)
        xp = be.xp
        n = len(labels)
        rows = be.asarray(r, dtype=xp.int64)
        cols = be.asarray(c, dtype=xp.int64)
        vals = be.asarray(v, dtype=be.dtype)
    elif isinstance(M, tuple) and len(M) == 4:  # COO tuple
        fmt = "coo"
        rows, cols, vals, n = M
        be = resolve_backend(rows, cols, vals, *extra, backend=backend)
        xp = be.xp
        n = int(n)
        rows = xp.astype(be.asarray(rows), xp.int64)
        cols = xp.astype(be.asarray(cols), xp.int64)
        vals = be.asarray(vals, dtype=be.dtype)
        if not (rows.ndim == cols.ndim == vals.ndim == 1 and rows.shape == cols.shape == vals.shape):
            raise ValueError("COO tuple (rows, cols, vals, n) needs three 1-D arrays of equal length")
    elif hasattr(M, "tocoo"):  # scipy.sparse / cupyx.scipy.sparse
        fmt = "sparse"
        coo = M.tocoo()
        if coo.shape[0] != coo.shape[1]:
            raise ValueError(f"the matrix must be square, got shape {tuple(coo.shape)}")
        be = resolve_backend(coo.data, *extra, backend=backend)
        xp = be.xp
        n = int(coo.shape[0])
        rows = xp.astype(be.asarray(coo.row), xp.int64)
        cols = xp.astype(be.asarray(coo.col), xp.int64)
        vals = be.asarray(coo.data, dtype=be.dtype)
    else:
        fmt = "dense"
        be = resolve_backend(M, *extra, backend=backend)
        xp = be.xp
        n, rows, cols, vals, diag = _from_dense(M, be)

    if fmt in ("coo", "sparse"):
        if rows.shape[0] and (int(xp.min(rows)) < 0 or int(xp.max(rows)) >= n or int(xp.min(cols)) < 0
                              or int(xp.max(cols)) >= n):
            raise ValueError(f"COO indices must lie in [0, {n})")
        keys = rows * n + cols
        if keys.shape[0] > 1 and not bool(xp.all(keys[1:] >= keys[:-1])):
            order = xp.argsort(keys)
            rows, cols, vals, keys = (xp.take(a, order) for a in (rows, cols, vals, keys))
        if keys.shape[0] > 1:
            dup = keys[1:] == keys[:-1]
            if bool(xp.any(dup)):
                (where,) = xp.nonzero(dup)
                hr = be.to_numpy(xp.take(rows, where[: min(10, where.shape[0])])).tolist()
                hc = be.to_numpy(xp.take(cols, where[: min(10, where.shape[0])])).tolist()
                pairs = [(int(r), int(c)) for r, c in zip(hr, hc, strict=True)]
                raise ValueError(f"duplicate COO entries at (row, col) {pairs}; sum duplicates first")
        ondiag = rows == cols
        diag = xp.zeros((n,), dtype=vals.dtype, device=be.device)
        implied = fmt == "coo" and not bool(xp.any(ondiag))
        if bool(xp.any(ondiag)):
            (d_idx,) = xp.nonzero(ondiag)
            diag = scatter_set(be, diag, xp.take(rows, d_idx), xp.take(vals, d_idx))
        keep = ~ondiag & (vals != 0)
        (k_idx,) = xp.nonzero(keep)
        rows, cols, vals = (xp.take(a, k_idx) for a in (rows, cols, vals))
    if n < 2:
        raise ValueError(f"the network needs at least 2 states, got {n}")

    net = Network(be=be, n=n, rows=rows, cols=cols, vals=vals, kind=kind, fmt=fmt, labels=labels)
    lab = labels
    # -- validation --------------------------------------------------------------------------------------
    bad = ~xp.isfinite(vals)
    if bool(xp.any(bad)):
        (w,) = xp.nonzero(bad)
        raise ValueError(f"non-finite off-diagonal entries in rows {_fmt_states(xp.take(rows, w), be, lab)}")
    neg = vals < 0
    if bool(xp.any(neg)):
        (w,) = xp.nonzero(neg)
        raise ValueError(
            f"negative off-diagonal {'rates' if kind == 'generator' else 'probabilities'} on edges "
            f"(from states {_fmt_states(xp.take(rows, w), be, lab)} to {_fmt_states(xp.take(cols, w), be, lab)})"
        )
    out = net.exit_rates()
    if kind == "transition":
        over = out > 1.0 + 1e-12
        if bool(xp.any(over)):
            (w,) = xp.nonzero(over)
            raise ValueError(f"rows of the transition matrix sum to more than 1 off the diagonal: states "
                             f"{_fmt_states(w, be, lab)}")
    if not fix_diagonal and fmt != "networkx" and not (fmt == "coo" and implied):
        if kind == "generator":
            resid = diag + out
            scale = xp.abs(diag) + out
        else:
            resid = diag + out - 1.0
            scale = diag + out
            if bool(xp.any(diag < 0)):
                (w,) = xp.nonzero(diag < 0)
                raise ValueError(f"negative diagonal entries of the transition matrix: states "
                                 f"{_fmt_states(w, be, lab)}")
        tol = 1e-10 if be.dtype == xp.float64 else 1e-5
        wrong = xp.abs(resid) > tol * xp.maximum(scale, xp.ones_like(scale) * 1e-300)
        if bool(xp.any(wrong)):
            (w,) = xp.nonzero(wrong)
            want = "0" if kind == "generator" else "1"
            raise ValueError(
                f"rows of the {kind} matrix do not sum to {want} (states {_fmt_states(w, be, lab)}); "
                "pass fix_diagonal=True to set the diagonal from the off-diagonal entries"
            )
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
            raise ValueError(f"{name} has states outside [0, {n}): {_fmt_states(xp.take(arr, w), be)}")
        mask = scatter_set(be, xp.zeros((n,), dtype=xp.bool, device=be.device), arr, True)
    if not bool(xp.any(mask)):
        raise ValueError(f"{name} is empty")
    return mask


def reach(net: Network, start: Any, *, reverse: bool = False, stop: Any = None) -> Any:
    """:func:`_reach` on the host copy of the network (graph search, not numerics; keeps JAX from compiling one
    kernel per frontier size); the mask comes back on the network's backend."""
    be = net.be
    if be.name == "numpy":
        return _reach(net, start, reverse=reverse, stop=stop)
    h = net.host()
    hs = h.be.asarray(be.to_numpy(start))
    hstop = None if stop is None else h.be.asarray(be.to_numpy(stop))
    return be.asarray(_reach(h, hs, reverse=reverse, stop=hstop))


def _reach(net: Network, start: Any, *, reverse: bool = False, stop: Any = None) -> Any:
    """Boolean mask of the states reachable from the mask ``start`` along edges (``reverse=True``: states that
    can reach ``start``). Breadth-first search with a vectorized frontier; total work ``O(n + nnz)``. With a
    mask ``stop`` the search ends as soon as a state of ``stop`` is reached."""
    be, xp, _n = net.be, net.be.xp, net.n
    ptr, _order, other = net.indptr("col" if reverse else "row")
    seen = xp.asarray(start, copy=True)  # xpx.at updates writeable arrays in place
    (frontier,) = xp.nonzero(start)
    while frontier.shape[0]:
        starts = xp.take(ptr, frontier)
        counts = xp.take(ptr, frontier + 1) - starts
        total = int(xp.sum(counts))
        if total == 0:
            break
        offsets = xp.cumulative_sum(counts) - counts
        base = xp.repeat(starts - offsets, counts)
        eidx = base + xp.arange(total, dtype=base.dtype, device=be.device)
        nb = xp.take(other, eidx)
        nb = nb[~xp.take(seen, nb)]
        if nb.shape[0] == 0:
            break
        frontier = xp.unique_values(nb)
        seen = scatter_set(be, seen, frontier, True)
        if stop is not None and bool(xp.any(xp.take(stop, frontier))):
            break
    return seen


def reversible_log_pi(net: Network, rtol: float = 1e-9) -> Any | None:
    """:func:`_reversible_log_pi` on the host (a breadth-first search), result on the network's backend."""
    be = net.be
    if be.name == "numpy":
        return _reversible_log_pi(net, rtol)
    out = _reversible_log_pi(net.host(), rtol)
    return None if out is None else be.asarray(out, dtype=be.dtype)


def _reversible_log_pi(net: Network, rtol: float = 1e-9) -> Any | None:
    r"""Stationary distribution of a reversible network without a linear solve, in log space.

    Along a breadth-first spanning tree from state 0, :math:`\log\pi_j = \log\pi_i + \log L_{ij} - \log L_{ji}`;
    the result is stationary iff detailed balance :math:`\pi_iL_{ij} = \pi_jL_{ji}` then holds on every edge
    (checked in log space to ``rtol`` relative to the magnitudes involved). Returns ``log pi`` (unnormalized), or
    ``None`` when the edge pattern is not symmetric, the BFS does not reach every state, or detailed balance
    fails (then the caller solves :math:`\pi^\top L = 0`). Accurate also when :math:`\pi` spans hundreds of
    orders of magnitude (large :math:`\beta`).
    """
    be, xp, n = net.be, net.be.xp, net.n
    m = net.vals.shape[0]
    if m == 0:
        return None
    tidx, found = net.transpose_index()
    if not bool(xp.all(found)):
        return None
    logv = xp.log(net.vals)
    logr = logv - xp.take(logv, tidx)  # log(L_ij / L_ji) per edge
    ptr, _, other = net.indptr("row")
    seen = xp.zeros((n,), dtype=xp.bool, device=be.device)
    seen = xpx.at(seen, 0).set(True)
    logpi = xp.zeros((n,), dtype=net.vals.dtype, device=be.device)
    frontier = xp.zeros((1,), dtype=xp.int64, device=be.device)
    reached = 1
    while frontier.shape[0]:
        starts = xp.take(ptr, frontier)
        counts = xp.take(ptr, frontier + 1) - starts
        total = int(xp.sum(counts))
        if total == 0:
            break
        offsets = xp.cumulative_sum(counts) - counts
        eidx = xp.repeat(starts - offsets, counts) + xp.arange(total, dtype=starts.dtype, device=be.device)
        nb = xp.take(other, eidx)
        keep = ~xp.take(seen, nb)
        eidx, nb = eidx[keep], nb[keep]
        if nb.shape[0] == 0:
            break
        order = xp.argsort(nb, stable=True)
        snb, seidx = xp.take(nb, order), xp.take(eidx, order)
        first = xp.concat([xp.ones((1,), dtype=xp.bool, device=be.device), snb[1:] != snb[:-1]])
        new, pe = snb[first], seidx[first]
        logpi = scatter_set(be, logpi, new, xp.take(logpi, xp.take(net.rows, pe)) + xp.take(logr, pe))
        seen = scatter_set(be, seen, new, True)
        reached += int(new.shape[0])
        frontier = new
    if reached < n:
        return None
    a, b = xp.take(logpi, net.rows), xp.take(logpi, net.cols)
    d = a + logr - b
    scale = xp.abs(a) + xp.abs(b) + xp.abs(logr) + 1.0
    if not bool(xp.all(xp.abs(d) <= rtol * scale)):
        return None
    return logpi
