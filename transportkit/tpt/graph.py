r"""The network of transition path theory: canonical sparse structure, edge sums and graph searches.

:class:`Network` holds a generator (or a transition matrix, through :math:`L = P - I`) by its **off-diagonal**
entries as canonical COO arrays ``(rows, cols, vals)`` on one backend — sorted by ``rows * n + cols``, no
duplicates, no zeros — plus the size ``n``. The diagonal is never stored: :math:`L_{ii} = -\sum_{j\ne i} L_{ij}`
(the exit rate, :meth:`Network.exit_rates`). Nothing of size :math:`n^2` is formed.

Besides the structure this module holds the three kernels the TPT formulas are built from, written once against
the Array API: a scatter into unique positions (:func:`scatter_set`), a segment sum over edges
(:func:`segment_sum`), and breadth-first searches with a vectorized frontier (:func:`reach` for reachability,
:func:`reversible_log_pi` for the stationary distribution of a reversible network without a solve).
Conversion and validation of user input live in :mod:`transportkit.tpt.validation`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import array_api_extra as xpx

from .._backend import Backend, get_backend, host_backend
from .._typing import Array

if TYPE_CHECKING:
    from .result import ReactiveFlux

__all__ = ["NetFluxCSR", "Network", "compute_backend", "reach", "reversible_log_pi", "scatter_set", "segment_sum"]


def compute_backend(be: Backend) -> Backend:
    """Where the TPT numbers are computed for the caller's backend ``be``: the host (NumPy) for backends that
    prefer host index bookkeeping (JAX), else ``be`` itself -- always in **float64** where the device has it.

    A float32 request is computed in float64 and the results are cast once at the end: the stationary
    distribution of a metastable network spans hundreds of decades (``1e-12`` to ``1e-154`` on the Müller–Brown
    grid at ``beta = 0.1``), below float32's range, and the committor and flux formulas divide by it. Devices
    without float64 (Apple MPS) compute in float32."""
    if be.prefers_host_indexing:
        return host_backend()
    if be.dtype == be.xp.float64:
        return be
    try:
        return get_backend(be, dtype="float64")
    except ValueError:  # no float64 on this device
        return be


def scatter_set(be: Backend, x: Any, idx: Any, vals: Any) -> Array:
    """``x[idx] = vals`` for a 1-D ``x`` and unique integer ``idx`` (``vals`` a scalar or an array like ``idx``).

    ``array_api_extra.at`` where the library assigns through integer arrays (:attr:`Adapter.fancy_setitem`; numpy
    updates ``x`` in place: pass an array this code owns) or has functional ``.at`` updates (JAX); elsewhere
    (``array_api_strict``) a ``searchsorted`` gather, ``O(n log m)``, with standard functions only.
    """
    xp = be.xp
    if be.adapter.fancy_setitem or hasattr(x, "at"):
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


def segment_sum(be: Backend, idx: Any, v: Any, n: int) -> Array:
    """``out_i = sum_{e: idx[e] = i} v_e`` for ``i < n`` (any order of ``idx``, repeats allowed).

    The backend's sparse matrix (an ``n x 1`` COO matrix, duplicates summed) times a vector where it has one, else
    a padded ``(n, max multiplicity)`` table after a stable sort (no scatter-add is needed).
    """
    xp = be.xp
    if v.shape[0] == 0:
        return xp.zeros((n,), dtype=v.dtype, device=be.device)
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


@dataclass
class Network:
    """Canonical off-diagonal COO arrays of a network on one backend, with lazily cached derived structure.

    Parameters
    ----------
    be : Backend
        The backend the arrays live on.
    n : int
        Number of states.
    rows, cols, vals : array
        Off-diagonal entries, sorted by ``rows * n + cols``, unique, non-zero (``rows``/``cols`` int64).
    kind : str
        ``"generator"`` or ``"transition"`` (then ``vals`` are the off-diagonal of ``P`` and ``L = P - I``).
    fmt : str
        The input form (``"dense"``, ``"sparse"``, ``"coo"``, ``"networkx"``), so results return in it.
    labels : list or None
        networkx node labels (``None`` for other inputs).
    build : callable or None
        For sparse input: ``build(rows, cols, vals)`` (arrays of the caller's backend) -> a sparse matrix of the
        input's own type (``scipy.sparse`` format and array/matrix flavour, torch layout, JAX BCOO/BCSR).
    single : bool
        The input (or the caller's dtype) is float32: consistency checks (row sums, detailed balance) to what
        float32 resolves, even though the numbers are computed in float64.
    """

    be: Backend
    n: int
    rows: Any
    cols: Any
    vals: Any
    kind: str
    fmt: str
    labels: list | None = None
    build: Any = field(default=None, repr=False)
    single: bool = False
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def keys(self) -> Any:
        """Edge keys ``rows * n + cols`` (sorted, unique)."""
        return self.rows * self.n + self.cols

    def indptr(self, by: str = "row") -> tuple[Any, Any, Any]:
        """CSR-like structure ``(indptr, order, other)`` (cached): the edges of state ``i`` (as source for
        ``by="row"``, as target for ``by="col"``) are ``order[indptr[i]:indptr[i+1]]``, ``other`` their other
        endpoints in that order."""
        key = f"ptr_{by}"
        if key not in self._cache:
            xp, dev = self.be.xp, self.be.device
            if by == "row":
                order = xp.arange(self.rows.shape[0], dtype=xp.int64, device=dev)
                ptr = xp.searchsorted(self.rows, xp.arange(self.n + 1, dtype=self.rows.dtype, device=dev))
                self._cache[key] = (ptr, order, self.cols)
            else:
                order = xp.argsort(self.cols * self.n + self.rows)
                sc = xp.take(self.cols, order)
                ptr = xp.searchsorted(sc, xp.arange(self.n + 1, dtype=sc.dtype, device=dev))
                self._cache[key] = (ptr, order, xp.take(self.rows, order))
        return self._cache[key]

    def host(self) -> Network:
        """This network on the host (:func:`~transportkit._backend.host_backend`), for graph searches (cached);
        the network itself where the backend's arrays already are host NumPy arrays."""
        if self.be.adapter.is_host:
            return self
        if "host" not in self._cache:
            hb, to = host_backend(), self.be.to_numpy
            self._cache["host"] = Network(be=hb, n=self.n, rows=to(self.rows), cols=to(self.cols),
                                          vals=to(self.vals), kind=self.kind, fmt=self.fmt, labels=self.labels)
        return self._cache["host"]

    def exit_rates(self) -> Any:
        """``lambda_i = sum_{j != i} L_ij`` (so ``L_ii = -lambda_i``); cached."""
        if "exit" not in self._cache:
            self._cache["exit"] = segment_sum(self.be, self.rows, self.vals, self.n)
        return self._cache["exit"]

    def transpose_index(self) -> tuple[Any, Any]:
        """``(idx, found)``: for edge ``e = (i, j)``, ``idx[e]`` is the position of ``(j, i)`` where ``found[e]``
        (cached)."""
        if "tidx" not in self._cache:
            xp = self.be.xp
            keys = self.keys
            tkeys = self.cols * self.n + self.rows
            m = keys.shape[0]
            idx = xp.clip(xp.searchsorted(keys, tkeys), 0, max(m - 1, 0))
            found = xp.take(keys, idx) == tkeys if m else xp.zeros((0,), dtype=xp.bool)
            self._cache["tidx"] = (idx, found)
        return self._cache["tidx"]


def _expand(ptr: Any, other: Any, frontier: Any, be: Backend) -> tuple[Any, Any]:
    """All edges leaving the states ``frontier`` in a CSR ``(ptr, other)``: ``(edge positions, endpoints)``."""
    xp = be.xp
    starts = xp.take(ptr, frontier)
    counts = xp.take(ptr, frontier + 1) - starts
    total = int(xp.sum(counts))
    offsets = xp.cumulative_sum(counts) - counts
    eidx = xp.repeat(starts - offsets, counts) + xp.arange(total, dtype=starts.dtype, device=be.device)
    return eidx, xp.take(other, eidx)


def reach(net: Network, start: Any, *, reverse: bool = False, stop: Any = None) -> Array:
    """Boolean mask of the states reachable from the mask ``start`` along edges (``reverse=True``: the states that
    can reach ``start``); with a mask ``stop`` the search ends as soon as a state of ``stop`` is reached.

    Breadth-first search with a vectorized frontier, total work ``O(n + nnz)``, on the host copy of the network
    (a graph search, not numerics: one host sync per level costs nothing there); the mask comes back on the
    network's backend.
    """
    be = net.be
    h = net.host()
    hb, hx = h.be, h.be.xp
    to_host = (lambda a: a) if h is net else (lambda a: hb.asarray(be.to_numpy(a)))
    ptr, _order, other = h.indptr("col" if reverse else "row")
    seen = hx.asarray(to_host(start), copy=True)  # xpx.at updates writeable arrays in place
    hstop = None if stop is None else to_host(stop)
    (frontier,) = hx.nonzero(seen)
    while frontier.shape[0]:
        _, nb = _expand(ptr, other, frontier, hb)
        nb = nb[~hx.take(seen, nb)]
        if nb.shape[0] == 0:
            break
        frontier = hx.unique_values(nb)
        seen = scatter_set(hb, seen, frontier, True)
        if hstop is not None and bool(hx.any(hx.take(hstop, frontier))):
            break
    return seen if h is net else be.asarray(seen)


def reversible_log_pi(net: Network, rtol: float = 1e-9) -> Any | None:
    r"""Stationary distribution of a reversible network without a linear solve, in log space.

    Along a breadth-first spanning tree from state 0, :math:`\log\pi_j = \log\pi_i + \log L_{ij} - \log L_{ji}`;
    the result is stationary iff detailed balance :math:`\pi_iL_{ij} = \pi_jL_{ji}` then holds on every edge
    (checked in log space to ``rtol`` relative to the magnitudes involved). Returns ``log pi`` (unnormalized) on
    the network's backend, or ``None`` when the edge pattern is not symmetric, the search does not reach every
    state, or detailed balance fails (then the caller solves :math:`\pi^\top L = 0`). Accurate also when
    :math:`\pi` spans hundreds of orders of magnitude (large :math:`\beta`). The search runs on the host copy.
    """
    h = net.host()
    out = _reversible_log_pi(h, rtol)
    if out is None or h is net:
        return out
    return net.be.asarray(out, dtype=net.be.dtype)


def _reversible_log_pi(net: Network, rtol: float) -> Any | None:
    be, xp, n = net.be, net.be.xp, net.n
    if net.vals.shape[0] == 0:
        return None
    tidx, found = net.transpose_index()
    if not bool(xp.all(found)):
        return None
    logv = xp.log(net.vals)
    logr = logv - xp.take(logv, tidx)  # log(L_ij / L_ji) per edge
    ptr, _, other = net.indptr("row")
    seen = xpx.at(xp.zeros((n,), dtype=xp.bool, device=be.device), 0).set(True)
    logpi = xp.zeros((n,), dtype=net.vals.dtype, device=be.device)
    frontier = xp.zeros((1,), dtype=xp.int64, device=be.device)
    reached = 1
    while frontier.shape[0]:
        eidx, nb = _expand(ptr, other, frontier, be)
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
    scale = xp.abs(a) + xp.abs(b) + xp.abs(logr) + 1.0
    if not bool(xp.all(xp.abs(a + logr - b) <= rtol * scale)):
        return None
    return logpi


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

    @staticmethod
    def masks(rf: ReactiveFlux) -> tuple[Any, Any]:
        """The host boolean masks of A and B, shape (n,)."""
        hb = host_backend()
        out = []
        for S in (rf.A, rf.B):
            m = hb.xp.zeros(rf.n, dtype=hb.xp.bool)
            m[hb.asarray(rf.backend.to_numpy(S))] = True
            out.append(m)
        return out[0], out[1]

    @classmethod
    def of(cls, rf: ReactiveFlux) -> NetFluxCSR:
        be, hb = rf.backend, host_backend()
        hx = hb.xp
        r, c, w = (hb.asarray(be.to_numpy(a)) for a in (*rf.edges, rf.net_flux_values))
        (pos,) = hx.nonzero(w > 0)
        r, c, w = hx.take(r, pos), hx.take(c, pos), hx.take(w, pos)  # still sorted by (row, col)
        ptr = hx.searchsorted(r, hx.arange(rf.n + 1, dtype=r.dtype))
        in_a, in_b = cls.masks(rf)
        return cls(n=rf.n, rows=r, cols=c, flux=w, ptr=ptr, out=segment_sum(hb, r, w, rf.n),
                   into=segment_sum(hb, c, w, rf.n), in_a=in_a, in_b=in_b)
