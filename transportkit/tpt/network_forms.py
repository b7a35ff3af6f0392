"""The input forms of a transition-path-theory network, each to canonical off-diagonal COO: a dense matrix, a
scipy/cupyx sparse matrix, a torch sparse tensor, a JAX ``BCOO``/``BCSR``, a COO tuple ``(rows, cols, vals, n)``, a
networkx ``DiGraph``. Sparse matrices and graphs are recognized by duck typing (``.tocoo()``;
``.edges``/``.nodes``/``.is_directed``); this module imports no array library. The checks of what the entries
mean (rates, rows, kinds) are in :mod:`transportkit.tpt.validation`.
"""

from __future__ import annotations

from typing import Any

from .._backend import Backend, host_backend, resolve_backend
from .._validation import as_count, as_real, refuse_lazy
from .graph import scatter_set, segment_sum

__all__ = ["network_backend", "unwrap_sparse"]


def _is_graph(M: Any) -> bool:
    return hasattr(M, "edges") and hasattr(M, "nodes") and hasattr(M, "is_directed")


def _is_torch_sparse(M: Any) -> bool:
    return str(getattr(M, "layout", "")).startswith("torch.sparse")


def _is_jax_sparse(M: Any) -> bool:
    return type(M).__name__ in ("BCOO", "BCSR") and hasattr(M, "data") and hasattr(M, "indices")


def _torch_coo(M: Any) -> Any:
    return M.coalesce() if getattr(M, "is_sparse", False) else M.to_sparse_coo().coalesce()


def network_backend(M: Any, backend: Any = None) -> Backend:
    """The caller's backend for a network input: ``backend=`` if given, else that of its arrays (numpy for a
    networkx graph); mixing two array libraries is a ``TypeError``."""
    refuse_lazy("M", M)
    if _is_graph(M):
        return resolve_backend(backend=backend)
    if isinstance(M, tuple) and len(M) == 4:
        return resolve_backend(*M[:3], backend=backend)
    if _is_torch_sparse(M):
        return resolve_backend(_torch_coo(M).values(), backend=backend)
    if _is_jax_sparse(M):
        return resolve_backend(M.data, backend=backend)
    if hasattr(M, "tocoo"):  # scipy.sparse / cupyx: every format holds its values in .data
        return resolve_backend(M.data if hasattr(M, "data") else M.tocoo().data, backend=backend)
    return resolve_backend(M, backend=backend)


def _check_real(name: str, a: Any) -> None:
    """``TypeError`` for complex, boolean, object or string entries (a generator is a real matrix)."""
    kind = str(getattr(a, "dtype", ""))
    if "complex" in kind:
        raise TypeError(f"{name} has complex entries ({kind}); a generator or transition matrix is real")
    if "bool" in kind or kind in ("object", "O") or kind.startswith(("<U", "<S", "|S")):
        raise TypeError(f"{name} must hold real numbers, got dtype {kind}")


def _indices(name: str, a: Any, be: Backend) -> Any:
    """Integer index array (``TypeError`` for floating indices: ``0.5`` is never truncated to ``0``)."""
    xp = be.xp
    arr = be.asarray(a)
    if not xp.isdtype(arr.dtype, "integral"):
        raise TypeError(f"{name} of the COO tuple (rows, cols, vals, n) must be integer state indices, got {arr.dtype}")
    return xp.astype(arr, xp.int64)


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
            w = data[rate_attr]
            if isinstance(w, complex):
                raise TypeError(f"edge ({a!r}, {b!r}) has a complex {rate_attr!r}; rates are real")
            v.append(as_real(f"the {rate_attr!r} of edge ({a!r}, {b!r})", w, finite=False))
    xp = be.xp
    arrays = be.asarray(r, dtype=xp.int64), be.asarray(c, dtype=xp.int64), be.asarray(v, dtype=be.dtype)
    return (len(labels), *arrays, labels)


def _from_coo(M: tuple, be: Backend) -> tuple:
    rows, cols, vals, n = M
    xp = be.xp
    n = as_count("the size n of the COO tuple (rows, cols, vals, n)", n, low=0)
    rows, cols = _indices("rows", rows, be), _indices("cols", cols, be)
    _check_real("vals of the COO tuple", vals)
    v = be.asarray(vals)
    _check_real("vals of the COO tuple", v)
    vals = xp.astype(v, be.dtype) if v.dtype != be.dtype else v
    if not (rows.ndim == cols.ndim == vals.ndim == 1 and rows.shape == cols.shape == vals.shape):
        raise ValueError("COO tuple (rows, cols, vals, n) needs three 1-D arrays of equal length")
    return n, rows, cols, vals


def _from_sparse(M: Any, be: Backend) -> tuple:
    """scipy.sparse / cupyx (any format, array or matrix flavour): the output keeps the input's type."""
    _check_real("M", M)
    coo = M.tocoo()
    if coo.shape[0] != coo.shape[1]:
        raise ValueError(f"the matrix must be square, got shape {tuple(coo.shape)}")
    xp = be.xp
    rows, cols = xp.astype(be.asarray(coo.row), xp.int64), xp.astype(be.asarray(coo.col), xp.int64)
    n, coo_type, fmt = int(coo.shape[0]), type(coo), M.format

    def build(r: Any, c: Any, v: Any) -> Any:
        return coo_type((v, (r, c)), shape=(n, n)).asformat(fmt)

    return n, rows, cols, be.asarray(coo.data, dtype=be.dtype), build


def _from_torch_sparse(M: Any, be: Backend) -> tuple:
    """torch sparse COO/CSR/CSC/BSR tensors (duplicates summed, as torch does); the output keeps the layout."""
    _check_real("M", M)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"the matrix must be square, got shape {tuple(M.shape)}")
    coo = _torch_coo(M)
    idx, n, layout = coo.indices(), int(M.shape[0]), M.layout
    xp = be.xp
    rows, cols = xp.astype(idx[0, :], xp.int64), xp.astype(idx[1, :], xp.int64)

    def build(r: Any, c: Any, v: Any) -> Any:
        out = be.sparse_coo(r, c, v, (n, n))
        return out if out.layout == layout else out.to_sparse(layout=layout)

    return n, rows, cols, be.asarray(coo.values(), dtype=be.dtype), build


def _from_jax_sparse(M: Any, be: Backend) -> tuple:
    """JAX BCOO/BCSR, read on the host (duplicates summed, padding entries dropped); the output keeps the type."""
    _check_real("M", M)
    if len(M.shape) != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"the matrix must be square, got shape {tuple(M.shape)}")
    bcoo = M.to_bcoo() if type(M).__name__ == "BCSR" else M
    hb = host_backend()
    hx, n = hb.xp, int(M.shape[0])
    idx = hb.asarray(be.to_numpy(bcoo.indices))
    vals = hb.asarray(be.to_numpy(bcoo.data), dtype=hx.float64)
    if idx.ndim != 2 or idx.shape[1] != 2 or vals.ndim != 1:
        raise ValueError("batched or dense-blocked BCOO matrices are not supported (need n_batch = n_dense = 0)")
    r, c = hx.astype(idx[:, 0], hx.int64), hx.astype(idx[:, 1], hx.int64)
    (keep,) = hx.nonzero((r < n) & (c < n))  # BCOO pads with out-of-range indices
    keys = hx.take(r, keep) * n + hx.take(c, keep)
    uniq, inv = hx.unique_inverse(keys)
    summed = segment_sum(hb, inv, hx.take(vals, keep), uniq.shape[0])
    kind = type(M)

    def build(rr: Any, cc: Any, v: Any) -> Any:
        out = be.sparse_coo(rr, cc, v, (n, n))
        return kind.from_bcoo(out) if kind.__name__ == "BCSR" else out

    return n, uniq // n, uniq % n, summed, build  # host arrays: they may accompany any backend


def unwrap_sparse(M: Any, be: Backend) -> tuple[Any, Any]:
    """A torch sparse tensor or JAX BCOO/BCSR as ``((rows, cols, vals, n), build)``: a COO tuple (duplicates
    summed, diagonal entries kept) and the builder of outputs of the input's type; anything else as ``(M, None)``."""
    if _is_torch_sparse(M):
        n, rows, cols, vals, build = _from_torch_sparse(M, be)
    elif _is_jax_sparse(M):
        n, rows, cols, vals, build = _from_jax_sparse(M, be)
    else:
        return M, None
    return (rows, cols, vals, n), build


def _from_dense(M: Any, be: Backend) -> tuple:
    xp = be.xp
    _check_real("M", M)
    M = be.asarray(M)
    _check_real("M", M)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"the matrix must be square, got shape {tuple(M.shape)}")
    if M.dtype != be.dtype:
        M = xp.astype(M, be.dtype)
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
