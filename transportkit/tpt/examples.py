r"""Example networks: birth–death chains (closed forms), the Müller–Brown potential on a grid, random networks.

All return COO tuples ``(rows, cols, vals, n)`` of generators (off-diagonal rates; the diagonal is implied, pass
them straight to :func:`~transportkit.tpt.reactive_flux`) or dense matrices on request, on any backend.
"""

from __future__ import annotations

from typing import Any

from .._backend import get_backend, host_backend, resolve_backend
from .graph import compute_backend, scatter_set, segment_sum
from .result import Array

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


def to_dense(coo: tuple, *, kind: str = "generator") -> Array:
    """Dense matrix from a COO tuple of off-diagonal entries, with the diagonal completed.

    Parameters
    ----------
    coo : tuple
        ``(rows, cols, vals, n)`` of off-diagonal entries (unique positions), any backend.
    kind : {"generator", "transition"}
        Rows completed to sum to 0 (generator) or 1 (transition matrix).

    Returns
    -------
    array, shape (n, n)
        On the backend of ``coo``.
    """
    if kind not in ("generator", "transition"):
        raise ValueError(f"kind must be 'generator' or 'transition', got {kind!r}")
    rows, cols, vals, n = coo
    be = resolve_backend(rows, cols, vals)
    cb = compute_backend(be)  # JAX: assembled on the host and moved once
    if cb is not be:
        rows, cols, vals = (cb.asarray(be.to_numpy(a)) for a in (rows, cols, vals))
    xp = cb.xp
    flat = scatter_set(cb, xp.zeros((n * n,), dtype=vals.dtype, device=cb.device), rows * n + cols, vals)
    M = xp.reshape(flat, (n, n))
    d = xp.sum(M, axis=1)
    eye = xp.eye(n, dtype=vals.dtype, device=cb.device)
    M = M - eye * d[:, None] if kind == "generator" else M + eye * (1.0 - d)[:, None]
    return M if cb is be else be.asarray(cb.to_numpy(M))


def birth_death(lam: Any, mu: Any, *, backend: Any = None) -> tuple:
    r"""Birth–death chain on states ``0..N`` with rates :math:`i\to i+1 = \lambda_i` (``lam``, length N) and
    :math:`i\to i-1 = \mu_i` (``mu``, length N, ``mu[i-1]`` is the rate from ``i``). Returns the COO generator.

    Closed forms (A = {0}, B = {N}): with :math:`d_i = \prod_{m=1}^{i} \mu_m/\lambda_m`,
    :math:`q^+_i = \sum_{k<i} d_k / \sum_{k<N} d_k`, :math:`\pi_i\propto\prod_{m<i}\lambda_m/\mu_{m+1}`,
    :math:`q^- = 1 - q^+`, :math:`F = \pi_0\lambda_0 q^+_1`.

    Parameters
    ----------
    lam, mu : array, shape (N,)
        Positive birth and death rates.
    backend : str or Backend, optional
        Where the arrays are made (default numpy).

    Returns
    -------
    tuple
        The COO generator ``(rows, cols, rates, N + 1)`` (diagonal implied).
    """
    be = get_backend(backend)
    xp = be.xp
    lam = be.asarray(lam, dtype=be.dtype)
    mu = be.asarray(mu, dtype=be.dtype)
    if lam.ndim != 1 or mu.ndim != 1 or lam.shape[0] == 0:
        raise ValueError(f"lam and mu must be non-empty 1-D arrays, got shapes {tuple(lam.shape)}, {tuple(mu.shape)}")
    N = lam.shape[0]
    if mu.shape[0] != N:
        raise ValueError(f"lam and mu must have the same length, got {N} and {mu.shape[0]}")
    if not bool(xp.all(lam > 0) & xp.all(mu > 0) & xp.all(xp.isfinite(lam)) & xp.all(xp.isfinite(mu))):
        raise ValueError("the rates lam and mu must be positive and finite")
    i = xp.arange(N, dtype=xp.int64, device=be.device)
    rows = xp.concat([i, i + 1])
    cols = xp.concat([i + 1, i])
    return rows, cols, xp.concat([lam, mu]), N + 1


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


def mueller_brown(
    n: int = 100,
    beta: float = 0.1,
    *,
    D: float = 1.0,
    xlim: tuple[float, float] = (-1.5, 1.2),
    ylim: tuple[float, float] = (-0.2, 2.0),
    radius: float = 0.1,
    backend: Any = None,
) -> tuple[tuple, Array, Array, Array]:
    r"""The Müller–Brown potential discretized on an ``n x n`` grid as a Markov jump process.

    Grid points :math:`x_a` (``n`` points on ``xlim``) times :math:`y_b` (``n`` points on ``ylim``), state index
    ``a * n + b``; nearest-neighbour rates (square-root approximation)

    .. math:: L_{ij} = \frac{D}{h_{ij}^2}\exp\big(-\beta (V_j - V_i)/2\big),

    with :math:`h_{ij}` the grid spacing along the edge. Detailed balance :math:`\pi_i L_{ij} = \pi_j L_{ji}`
    holds exactly with :math:`\pi_i\propto e^{-\beta V_i}`, and as :math:`h\to 0` the generator tends to
    :math:`D(\Delta - \beta\nabla V\cdot\nabla)` (overdamped Langevin at temperature :math:`1/\beta`).
    ``A``/``B``: grid points within ``radius`` of the minima (-0.5582, 1.4417) (V = -146.70) and
    (0.6235, 0.0280) (V = -108.17).

    Parameters
    ----------
    n : int
        Grid points per axis (at least 3).
    beta : float
        Inverse temperature (non-negative).
    D : float
        Diffusion coefficient (positive).
    xlim, ylim : tuple of float
        The grid's extent.
    radius : float
        Radius of the sets A and B around the minima.
    backend : str or Backend, optional
        Where the arrays are made (default numpy; JAX: built on the host and moved once).

    Returns
    -------
    Q : tuple
        COO generator ``(rows, cols, rates, n*n)`` (diagonal implied).
    xy : array, shape (n*n, 2)
        Coordinates of the states.
    A, B : array of int
        Index arrays of the two sets.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 3:
        raise ValueError(f"n must be an integer of at least 3, got {n!r}")
    if not (beta >= 0 and D > 0 and radius > 0 and xlim[1] > xlim[0] and ylim[1] > ylim[0]):
        raise ValueError(f"need beta >= 0, D > 0, radius > 0 and increasing limits, got beta={beta}, D={D}, "
                         f"radius={radius}, xlim={xlim}, ylim={ylim}")
    be = get_backend(backend)
    cb = compute_backend(be)  # JAX: built on the host and moved once (nothing compiled per grid size)
    xp = cb.xp
    dt = cb.dtype
    gx = xp.linspace(xlim[0], xlim[1], n, dtype=dt, device=cb.device)
    gy = xp.linspace(ylim[0], ylim[1], n, dtype=dt, device=cb.device)
    hx = (xlim[1] - xlim[0]) / (n - 1)
    hy = (ylim[1] - ylim[0]) / (n - 1)
    X, Y = xp.meshgrid(gx, gy, indexing="ij")
    X, Y = xp.reshape(X, (-1,)), xp.reshape(Y, (-1,))
    V = mueller_brown_potential(X, Y)
    idx = xp.reshape(xp.arange(n * n, dtype=xp.int64, device=cb.device), (n, n))
    lo_x, hi_x = xp.reshape(idx[:-1, :], (-1,)), xp.reshape(idx[1:, :], (-1,))
    lo_y, hi_y = xp.reshape(idx[:, :-1], (-1,)), xp.reshape(idx[:, 1:], (-1,))
    rows = xp.concat([lo_x, hi_x, lo_y, hi_y])
    cols = xp.concat([hi_x, lo_x, hi_y, lo_y])
    m = lo_x.shape[0]
    inv_h2 = xp.concat([xp.full((2 * m,), D / hx**2, dtype=dt, device=cb.device),
                        xp.full((2 * m,), D / hy**2, dtype=dt, device=cb.device)])
    rates = inv_h2 * xp.exp(-0.5 * beta * (xp.take(V, cols) - xp.take(V, rows)))
    order = xp.argsort(rows * (n * n) + cols)
    rows, cols, rates = (xp.take(a, order) for a in (rows, cols, rates))
    xy = xp.stack([X, Y], axis=1)
    r2 = radius * radius
    (A,) = xp.nonzero((X - MB_MINIMA[0][0]) ** 2 + (Y - MB_MINIMA[0][1]) ** 2 < r2)
    (B,) = xp.nonzero((X - MB_MINIMA[1][0]) ** 2 + (Y - MB_MINIMA[1][1]) ** 2 < r2)
    if A.shape[0] == 0 or B.shape[0] == 0:
        # coarse grids: take the grid point nearest to each minimum
        d0 = (X - MB_MINIMA[0][0]) ** 2 + (Y - MB_MINIMA[0][1]) ** 2
        d1 = (X - MB_MINIMA[1][0]) ** 2 + (Y - MB_MINIMA[1][1]) ** 2
        A = xp.reshape(xp.argmin(d0), (1,)) if A.shape[0] == 0 else A
        B = xp.reshape(xp.argmin(d1), (1,)) if B.shape[0] == 0 else B
    if cb is not be:
        rows, cols, rates, xy, A, B = (be.asarray(cb.to_numpy(a)) for a in (rows, cols, rates, xy, A, B))
    return (rows, cols, rates, n * n), xy, A, B


def random_network(
    n: int,
    *,
    degree: float = 3.0,
    reversible: bool = True,
    kind: str = "generator",
    seed: Any = None,
    dense: bool = False,
    backend: Any = None,
) -> tuple | Array:
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
        Mean number of random pairs per state (besides the ring).
    reversible : bool
        Detailed balance or not.
    kind : {"generator", "transition"}
        Rates or a uniformized transition matrix.
    seed : int, Generator or None
        Randomness (SPEC 7); the numbers are drawn on the host, identical on every backend for one seed.
    dense : bool
        Return the dense matrix instead of the COO tuple.
    backend : str or Backend, optional
        Where the arrays are made (default numpy).

    Returns
    -------
    tuple or array
        The COO tuple ``(rows, cols, vals, n)`` of the off-diagonal entries (diagonal implied), or the dense
        matrix with ``dense=True``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 3:
        raise ValueError(f"n must be an integer of at least 3, got {n!r}")
    if not degree >= 0:
        raise ValueError(f"degree must be non-negative, got {degree}")
    if kind not in ("generator", "transition"):
        raise ValueError(f"kind must be 'generator' or 'transition', got {kind!r}")
    be = get_backend(backend)
    host = host_backend()
    hx = host.xp
    g = host.rng(seed)
    i = hx.arange(n, dtype=hx.int64)
    m = max(int(degree * n / 2), 1)
    a = g.integers(0, n, (m,))
    b = g.integers(0, n, (m,))
    a, b = hx.concat([i, a]), hx.concat([(i + 1) % n, b])
    keep = a != b
    a, b = a[keep], b[keep]
    lo, hi = hx.minimum(a, b), hx.maximum(a, b)
    keys = hx.unique_values(lo * n + hi)
    lo, hi = keys // n, keys % n
    k = keys.shape[0]
    if reversible:
        c = g.uniform((k,), low=0.1, high=1.0)
        E = g.normal((n,))
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
        vals = g.uniform((keys.shape[0],), low=0.1, high=1.0)
    order = hx.argsort(rows * n + cols)
    rows, cols, vals = hx.take(rows, order), hx.take(cols, order), hx.take(vals, order)
    if kind == "transition":
        lam = segment_sum(host, rows, vals, n)
        vals = vals / (1.05 * float(hx.max(lam)))
    coo = (be.asarray(rows), be.asarray(cols), be.asarray(vals, dtype=be.dtype), n)
    return to_dense(coo, kind=kind) if dense else coo

