r"""Example networks: birth–death chains (closed forms), the Müller–Brown potential on a grid, random networks.

On numpy they return ``scipy.sparse.csr_array`` matrices (diagonal included: a generator's rows sum to 0, a
transition matrix's to 1); on other backends, or with ``format="coo"``, COO tuples ``(rows, cols, vals, n)`` of the
off-diagonal entries (the diagonal implied); ``format="dense"`` gives the dense matrix. Pass any of them straight
to :func:`~transportkit.tpt.reactive_flux`.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import Backend, get_backend, host_backend, resolve_backend
from .._validation import as_bool, as_choice, as_count, as_points, as_real
from ..random import SEED_DEPRECATED, resolve_rng
from .graph import compute_backend, scatter_set, segment_sum
from .result import Array
from .validation import as_network, network_backend

__all__ = ["birth_death", "mueller_brown", "mueller_brown_potential", "random_network", "to_dense"]

#: Müller–Brown parameters (Müller & Brown 1979): V = sum_k A_k exp(a_k dx^2 + b_k dx dy + c_k dy^2)
MB_A = (-200.0, -100.0, -170.0, 15.0)
MB_a = (-1.0, -1.0, -6.5, 0.7)
MB_b = (0.0, 0.0, 11.0, 0.6)
MB_c = (-10.0, -10.0, -6.5, 0.7)
MB_x0 = (1.0, 0.0, -0.5, -1.0)
MB_y0 = (0.0, 0.5, 1.5, 1.0)
#: the two deepest minima (A around the first, B around the second)
MB_MINIMA = ((-0.5582, 1.4417), (0.6235, 0.0280))


FORMATS = ("sparse", "coo", "dense")


def _package(be: Backend, rows: Any, cols: Any, vals: Any, n: int, kind: str, fmt: str) -> Array | tuple:
    """Host off-diagonal arrays (sorted, unique) as the requested form on ``be``: ``"sparse"`` -> a
    ``scipy.sparse.csr_array`` with its diagonal (rows summing to 0, or 1 for a transition matrix) on numpy and
    the COO tuple elsewhere; ``"coo"`` -> the COO tuple of off-diagonal entries (diagonal implied);
    ``"dense"`` -> the dense matrix."""
    if fmt == "dense":
        return to_dense((be.asarray(rows), be.asarray(cols), be.asarray(vals), n), kind=kind)
    if fmt == "sparse" and be.adapter.is_host and be.sparse_coo is not None:
        hb = host_backend()
        hx = hb.xp
        d = segment_sum(hb, rows, vals, n)
        d = -d if kind == "generator" else 1.0 - d
        ar = hx.arange(n, dtype=rows.dtype)
        r, c, v = hx.concat([rows, ar]), hx.concat([cols, ar]), hx.concat([vals, d])
        return be.sparse_coo(r, c, be.asarray(v), (n, n))
    return (be.asarray(rows), be.asarray(cols), be.asarray(vals), n)


def to_dense(M: Any, *, kind: str | None = None) -> Array:
    """Dense matrix of a network input (a COO tuple of off-diagonal entries, a sparse matrix, ...), with the
    diagonal completed from the off-diagonal entries.

    Parameters
    ----------
    M : tuple or sparse matrix
        ``(rows, cols, vals, n)`` of off-diagonal entries (unique positions; diagonal entries are ignored), or
        any sparse input of :func:`~transportkit.tpt.reactive_flux`; any backend.
    kind : {"generator", "transition"} or None
        Rows completed to sum to 0 (generator) or 1 (transition matrix); ``None``: inferred as in
        :func:`~transportkit.tpt.reactive_flux` (``"generator"`` for a COO tuple without diagonal entries).

    Returns
    -------
    array, shape (n, n)
        On the backend of ``M``.
    """
    be = network_backend(M)
    cb = compute_backend(be)  # JAX: assembled on the host and moved once
    if isinstance(M, tuple) and len(M) == 4 and cb is not be:
        M = (*(cb.asarray(be.to_numpy(a)) for a in M[:3]), M[3])
    net = as_network(M, kind=kind, fix_diagonal=kind is not None, backend=cb)
    xp, n = cb.xp, net.n
    flat = scatter_set(cb, xp.zeros((n * n,), dtype=net.vals.dtype, device=cb.device), net.rows * n + net.cols,
                       net.vals)
    D = xp.reshape(flat, (n, n))
    d = xp.sum(D, axis=1)
    eye = xp.eye(n, dtype=net.vals.dtype, device=cb.device)
    D = D - eye * d[:, None] if net.kind == "generator" else D + eye * (1.0 - d)[:, None]
    return D if cb is be else be.asarray(cb.to_numpy(D))


def birth_death(lam: Any, mu: Any, *, format: str = "sparse", backend: Any = None) -> Array | tuple:
    r"""Birth–death chain on states ``0..N`` with rates :math:`i\to i+1 = \lambda_i` (``lam``, length N) and
    :math:`i\to i-1 = \mu_i` (``mu``, length N, ``mu[i-1]`` is the rate from ``i``): its generator.

    Closed forms (A = {0}, B = {N}): with :math:`d_i = \prod_{m=1}^{i} \mu_m/\lambda_m`,
    :math:`q^+_i = \sum_{k<i} d_k / \sum_{k<N} d_k`, :math:`\pi_i\propto\prod_{m<i}\lambda_m/\mu_{m+1}`,
    :math:`q^- = 1 - q^+`, :math:`F = \pi_0\lambda_0 q^+_1`.

    Parameters
    ----------
    lam, mu : array, shape (N,)
        Positive, finite birth and death rates.
    format : {"sparse", "coo", "dense"}
        ``"sparse"``: a ``scipy.sparse.csr_array`` (diagonal included, rows summing to 0) on numpy, the COO tuple
        on other backends; ``"coo"``: the COO tuple ``(rows, cols, rates, N + 1)`` of the off-diagonal entries
        (diagonal implied); ``"dense"``: the dense matrix.
    backend : str or Backend, optional
        Where the arrays are made (default numpy).

    Returns
    -------
    scipy.sparse.csr_array, tuple or array
        The generator, in the requested form.
    """
    as_choice("format", format, FORMATS)
    be = get_backend(backend)
    hb = host_backend()
    hx = hb.xp
    lam = as_points("lam", lam, hb, ndim=1)
    mu = as_points("mu", mu, hb, ndim=1)
    N = lam.shape[0]
    if mu.shape[0] != N:
        raise ValueError(f"lam and mu must have the same length, got {N} and {mu.shape[0]}")
    if not bool(hx.all(lam > 0) & hx.all(mu > 0)):
        raise ValueError("the rates lam and mu must be positive")
    i = hx.arange(N, dtype=hx.int64)
    rows = hx.concat([i, i + 1])
    cols = hx.concat([i + 1, i])
    vals = hx.concat([lam, mu])
    order = hx.argsort(rows * (N + 1) + cols)
    rows, cols, vals = (hx.take(a, order) for a in (rows, cols, vals))
    return _package(be, rows, cols, vals, N + 1, "generator", format)


def mueller_brown_potential(x: Array, y: Array) -> Array:
    r"""The Müller–Brown potential
    :math:`V(x,y) = \sum_{k=1}^4 A_k \exp(a_k(x-x_k)^2 + b_k(x-x_k)(y-y_k) + c_k(y-y_k)^2)` with
    ``A = (-200, -100, -170, 15)``, ``a = (-1, -1, -6.5, 0.7)``, ``b = (0, 0, 11, 0.6)``,
    ``c = (-10, -10, -6.5, 0.7)``, ``x_k = (1, 0, -0.5, -1)``, ``y_k = (0, 0.5, 1.5, 1)``."""
    xp = resolve_backend(x, y).xp
    v = 0.0
    for k in range(4):
        dx, dy = x - MB_x0[k], y - MB_y0[k]
        v = v + MB_A[k] * xp.exp(MB_a[k] * dx * dx + MB_b[k] * dx * dy + MB_c[k] * dy * dy)
    return v


def _log_rates_to_values(logr: Any, dtype: Any, what: str, fix: str) -> Any:
    """``exp(logr)`` in ``dtype``, or a ``ValueError`` when a rate over- or underflows it (``fix``: what to do)."""
    hx = host_backend().xp
    fi = hx.finfo(dtype)
    hi, lo = float(hx.max(logr)), float(hx.min(logr))
    if hi > math.log(float(fi.max)) or lo < math.log(float(fi.smallest_normal)):
        raise ValueError(
            f"the {what} rates span exp({lo:.4g}) .. exp({hi:.4g}), outside the range of {hx.dtype(dtype).name} "
            f"(exp({math.log(float(fi.smallest_normal)):.4g}) .. exp({math.log(float(fi.max)):.4g})): {fix}"
        )
    return hx.exp(logr)


def mueller_brown(
    n: int = 100,
    beta: float = 0.1,
    *,
    D: float = 1.0,
    xlim: tuple[float, float] = (-1.5, 1.2),
    ylim: tuple[float, float] = (-0.2, 2.0),
    radius: float = 0.1,
    format: str = "sparse",
    backend: Any = None,
) -> tuple[Array | tuple, Array, Array, Array]:
    r"""The Müller–Brown potential discretized on an ``n x n`` grid as a Markov jump process.

    Grid points :math:`x_a` (``n`` points on ``xlim``) times :math:`y_b` (``n`` points on ``ylim``), state index
    ``a * n + b``; nearest-neighbour rates (square-root approximation)

    .. math:: L_{ij} = \frac{D}{h_{ij}^2}\exp\big(-\beta (V_j - V_i)/2\big),

    with :math:`h_{ij}` the grid spacing along the edge. Detailed balance :math:`\pi_i L_{ij} = \pi_j L_{ji}`
    holds exactly with :math:`\pi_i\propto e^{-\beta V_i}`, and as :math:`h\to 0` the generator tends to
    :math:`D(\Delta - \beta\nabla V\cdot\nabla)` (overdamped Langevin at temperature :math:`1/\beta`).
    ``A``/``B``: grid points within ``radius`` of the minima (-0.5582, 1.4417) (V = -146.70) and
    (0.6235, 0.0280) (V = -108.17). The potential and the rates are computed in float64 on the host, the rates
    in log space (:math:`\log L_{ij} = \log(D/h^2) - \beta(V_j - V_i)/2`), and cast to the backend's dtype
    once: a ``ValueError`` says when a rate is outside that dtype's range (large ``beta`` on a coarse grid).

    Parameters
    ----------
    n : int
        Grid points per axis (at least 3).
    beta : float
        Inverse temperature (finite, non-negative).
    D : float
        Diffusion coefficient (positive, finite).
    xlim, ylim : tuple of float
        The grid's extent (increasing, finite).
    radius : float
        Radius of the sets A and B around the minima (positive, finite).
    format : {"sparse", "coo", "dense"}
        ``"sparse"`` (default): a ``scipy.sparse.csr_array`` (diagonal included, rows summing to 0) on numpy and
        the COO tuple on other backends; ``"coo"``: the COO tuple ``(rows, cols, rates, n*n)`` of the
        off-diagonal entries (diagonal implied); ``"dense"``: the dense ``(n*n, n*n)`` matrix.
    backend : str or Backend, optional
        Where the arrays are made (default numpy; JAX: built on the host and moved once).

    Returns
    -------
    Q : scipy.sparse.csr_array, tuple or array
        The generator, in the requested form.
    xy : array, shape (n*n, 2)
        Coordinates of the states.
    A, B : array of int
        Index arrays of the two sets.
    """
    n = as_count("n", n, low=3)
    beta = as_real("beta", beta, low=0.0)
    D = as_real("D", D, low=0.0, low_open=True)
    radius = as_real("radius", radius, low=0.0, low_open=True)
    lims = []
    for name, lim in (("xlim", xlim), ("ylim", ylim)):
        if not isinstance(lim, (tuple, list)) or len(lim) != 2:
            raise TypeError(f"{name} must be a pair (low, high), got {lim!r}")
        lo, hi = as_real(f"{name}[0]", lim[0]), as_real(f"{name}[1]", lim[1])
        if not hi > lo:
            raise ValueError(f"{name} must be increasing, got {lim!r}")
        lims.append((lo, hi))
    (x0, x1), (y0, y1) = lims
    as_choice("format", format, FORMATS)
    be = get_backend(backend)
    hb = host_backend()  # built in float64 on the host, moved once (nothing compiled per grid size)
    xp = hb.xp
    gx = xp.linspace(x0, x1, n, dtype=xp.float64)
    gy = xp.linspace(y0, y1, n, dtype=xp.float64)
    hx = (x1 - x0) / (n - 1)
    hy = (y1 - y0) / (n - 1)
    X, Y = xp.meshgrid(gx, gy, indexing="ij")
    X, Y = xp.reshape(X, (-1,)), xp.reshape(Y, (-1,))
    V = mueller_brown_potential(X, Y)
    idx = xp.reshape(xp.arange(n * n, dtype=xp.int64), (n, n))
    lo_x, hi_x = xp.reshape(idx[:-1, :], (-1,)), xp.reshape(idx[1:, :], (-1,))
    lo_y, hi_y = xp.reshape(idx[:, :-1], (-1,)), xp.reshape(idx[:, 1:], (-1,))
    rows = xp.concat([lo_x, hi_x, lo_y, hi_y])
    cols = xp.concat([hi_x, lo_x, hi_y, lo_y])
    m = lo_x.shape[0]
    log_h2 = xp.concat([xp.full((2 * m,), math.log(D / hx**2)), xp.full((2 * m,), math.log(D / hy**2))])
    logr = log_h2 - 0.5 * beta * (xp.take(V, cols) - xp.take(V, rows))
    host_dtype = xp.float32 if be.dtype == be.xp.float32 else xp.float64
    rates = _log_rates_to_values(logr, host_dtype, f"Müller–Brown (beta={beta}, n={n})",
                                 "lower beta, refine the grid (larger n), rescale time with D, or use float64")
    order = xp.argsort(rows * (n * n) + cols)
    rows, cols, rates = (xp.take(a, order) for a in (rows, cols, rates))
    xy = xp.stack([X, Y], axis=1)
    r2 = radius * radius
    d0 = (X - MB_MINIMA[0][0]) ** 2 + (Y - MB_MINIMA[0][1]) ** 2
    d1 = (X - MB_MINIMA[1][0]) ** 2 + (Y - MB_MINIMA[1][1]) ** 2
    (A,) = xp.nonzero(d0 < r2)
    (B,) = xp.nonzero(d1 < r2)
    if A.shape[0] == 0:  # coarse grids: the grid point nearest to each minimum
        A = xp.reshape(xp.argmin(d0), (1,))
    if B.shape[0] == 0:
        B = xp.reshape(xp.argmin(d1), (1,))
    Q = _package(be, rows, cols, rates, n * n, "generator", format)
    return Q, be.asarray(xy), be.asarray(A), be.asarray(B)


def random_network(
    n: int,
    *,
    degree: float = 3.0,
    reversible: bool = True,
    kind: str = "generator",
    rng: Any = None,
    format: str = "sparse",
    dense: bool = False,
    backend: Any = None,
    seed: Any = SEED_DEPRECATED,
) -> Array | tuple:
    r"""A random strongly connected network on ``n`` states.

    Edges: a ring ``i <-> i+1 (mod n)`` (irreducibility) plus about ``degree * n / 2`` random pairs ``{i, j}``.
    Reversible: :math:`L_{ij} = c_{ij} e^{-(E_j - E_i)/2}` with symmetric conductances :math:`c_{ij}\sim
    U(0.1, 1)` and energies :math:`E_i\sim N(0, 1)` — detailed balance with :math:`\pi\propto e^{-E}`.
    Non-reversible: independent :math:`L_{ij}\sim U(0.1, 1)` per direction, plus a one-way ring
    ``i -> i+2`` (breaks detailed balance). ``kind="transition"``: rows scaled by
    :math:`1/(1.05\max_i \lambda_i)` (a uniformized chain with positive self-loops).

    Parameters
    ----------
    n : int
        Number of states (at least 3).
    degree : float
        Mean number of random pairs per state (besides the ring), non-negative.
    reversible : bool
        Detailed balance or not.
    kind : {"generator", "transition"}
        Rates or a uniformized transition matrix.
    rng : int, numpy.random.Generator, transportkit Generator or None
        Randomness (SPEC 7; ``None``: fresh entropy); the numbers are drawn on the host, identical on every
        backend for one seed. ``seed=`` is its deprecated alias.
    format : {"sparse", "coo", "dense"}
        As in :func:`mueller_brown` (a transition matrix's ``csr_array`` has rows summing to 1).
    dense : bool
        Same as ``format="dense"`` (kept for compatibility).
    backend : str or Backend, optional
        Where the arrays are made (default numpy).

    Returns
    -------
    scipy.sparse.csr_array, tuple or array
        The matrix in the requested form.
    """
    n = as_count("n", n, low=3)
    degree = as_real("degree", degree, low=0.0)
    reversible = as_bool("reversible", reversible)
    as_choice("kind", kind, ("generator", "transition"))
    as_choice("format", format, FORMATS)
    if as_bool("dense", dense):
        format = "dense"
    be = get_backend(backend)
    host = host_backend()
    hx = host.xp
    g = resolve_rng(rng, host, seed=seed)

    def draw(x: Any) -> Any:  # a transportkit Generator of another backend draws there: move to the host
        return host.asarray(g.backend.to_numpy(x))

    i = hx.arange(n, dtype=hx.int64)
    m = max(int(degree * n / 2), 1)
    a = hx.astype(draw(g.integers(0, n, (m,))), hx.int64)
    b = hx.astype(draw(g.integers(0, n, (m,))), hx.int64)
    a, b = hx.concat([i, a]), hx.concat([(i + 1) % n, b])
    keep = a != b
    a, b = a[keep], b[keep]
    lo, hi = hx.minimum(a, b), hx.maximum(a, b)
    keys = hx.unique_values(lo * n + hi)
    lo, hi = keys // n, keys % n
    k = keys.shape[0]
    if reversible:
        c = draw(g.uniform((k,), low=0.1, high=1.0))
        E = draw(g.normal((n,)))
        rows = hx.concat([lo, hi])
        cols = hx.concat([hi, lo])
        cc = hx.concat([c, c])
        vals = cc * hx.exp(-0.5 * (hx.take(E, cols) - hx.take(E, rows)))
    else:
        extra = (i + 2) % n
        rows = hx.concat([lo, hi, i])
        cols = hx.concat([hi, lo, extra])
        keys = hx.unique_values(rows * n + cols)
        rows, cols = keys // n, keys % n
        vals = draw(g.uniform((keys.shape[0],), low=0.1, high=1.0))
    order = hx.argsort(rows * n + cols)
    rows, cols, vals = hx.take(rows, order), hx.take(cols, order), hx.take(vals, order)
    if kind == "transition":
        lam = segment_sum(host, rows, vals, n)
        vals = vals / (1.05 * float(hx.max(lam)))
    return _package(be, rows, cols, vals, n, kind, format)
