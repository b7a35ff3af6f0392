"""The a-posteriori error of ``tk.galerkin.solve`` propagated by the error equation on a periodic grid
(``transportkit.galerkin.grid_error``): exact up to the integrator on a linear problem, and the KdV case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transportkit import galerkin as g

NU, L = 0.05, 2.0 * math.pi


def _a(t, xp=math):
    return 1.0 + 0.5 * xp.sin(2.0 * math.pi * t)


def _A(t):  # the integral of a over [0, t]
    return t + 0.5 * (1.0 - math.cos(2.0 * math.pi * t)) / (2.0 * math.pi)


def _advection_diffusion() -> g.PDE:
    """u_t = -a(t) u_x + nu u_xx on [0, 2 pi) periodic, u_0 = 1 + cos(x)/2 + 3 sin(2x)/10 (three Fourier modes):
    exact u = 1 + e^{-nu t} cos(x - A)/2 + 3 e^{-4 nu t} sin(2(x - A))/10, symbol -i a(t) k - nu k^2."""

    def rhs(t, x, fields, xp):
        a = 1.0 + 0.5 * xp.sin((2.0 * math.pi) * xp.asarray(t, dtype=x.dtype))
        return -a * fields["grad"][:, 0] + NU * fields["lap"]

    def exact(t, x, xp):
        z = x[:, 0] - _A(float(t))
        return 1.0 + 0.5 * math.exp(-NU * t) * xp.cos(z) + 0.3 * math.exp(-4 * NU * t) * xp.sin(2.0 * z)

    def symbol(t, k, xp):
        a = 1.0 + 0.5 * xp.sin((2.0 * math.pi) * xp.asarray(t, dtype=k[0].dtype))
        return -1j * (a * k[0]) - NU * k[0] ** 2

    return g.PDE(rhs=rhs, d=1, low=(0.0,), high=(L,), needs=("grad", "lap"), periodic=True,
                 u0=lambda x, xp: exact(0.0, x, xp), exact=exact, name="advection-diffusion", linear_symbol=symbol)


def _np(be, x):
    return np.asarray(be.to_numpy(x), dtype=float)


def test_linear_problem_estimate_equals_the_true_error(backend):
    """On a linear problem the error equation is the PDE for e: the propagated estimate is the RMS of
    u_theta - (grid solution from u_0) and equals the true error on the grid up to the integrator. The linear part is
    integrated exactly but for Simpson's rule on the integral of a(t) over each half step h/2, whose remainder is
    (h/2)^5/2880 max|a''''| = (h/2)^5/2880 * (2 pi)^4/2 per half step: a phase error of at most 2 (the top wavenumber)
    times 2T/h such remainders, on modes of amplitude <= 0.8; plus rounding (1e-12)."""
    xp = backend.xp
    pde = _advection_diffusion()
    P = g.GaussianUnits(3, 1, periodic=L)
    th0 = backend.asarray([1.0, 0.5, 0.3, 1.0, 1.5, 1.5, 0.0, 1.6, 3.9])
    T, h, n = 0.5, 1e-2, 64
    res = g.solve(pde, P, th0, T, h, sampler=g.GridSampler(0.0, L, n), fit_iters=100, ridge=1e-8, save_every=10)
    assert res.error_method == "propagated"
    X = backend.asarray(np.linspace(0.0, L, n, endpoint=False)[:, None])
    ts = _np(backend, res.t)
    true = np.array([float(xp.sqrt(xp.mean((P.value(res.theta[k, :], X) - pde.exact(t, X, xp)) ** 2)))
                     for k, t in enumerate(ts.tolist())])
    est = _np(backend, res.error_estimate)
    simpson = (h / 2) ** 5 / 2880 * (2 * math.pi) ** 4 / 2
    tol = 0.8 * 2 * (2 * ts / h) * simpson + 1e-12
    assert true[-1] > 1e-4  # a run with a visible error (3 units cannot carry the three modes exactly)
    np.testing.assert_array_less(np.abs(est - true), tol)
    # the identity propagator (residuals summed point by point) misses the dynamics by far more than that
    acc = _np(backend, res.error_accumulated)
    assert np.max(np.abs(acc - true)) > 100 * np.max(tol)


def test_estimate_needs_the_full_periodic_grid():
    """Without the capability (no linear_symbol, or samples that are not the PDE's periodic grid) error_estimate is the
    accumulated one, and error_method says so."""
    pde = _advection_diffusion()
    P = g.GaussianUnits(3, 1, periodic=L)
    th0 = np.array([1.0, 0.5, 0.3, 1.0, 1.5, 1.5, 0.0, 1.6, 3.9])
    kw = dict(fit=False, ridge=1e-8)
    sub = g.solve(pde, P, th0, 0.02, 1e-2, sampler=g.GridSampler(0.0, L / 2, 32), **kw)
    assert sub.error_method == "accumulated"
    np.testing.assert_array_equal(sub.error_estimate, sub.error_accumulated)
    plain = g.PDE(rhs=pde.rhs, d=1, low=(0.0,), high=(L,), needs=("grad", "lap"), periodic=True, u0=pde.u0)
    res = g.solve(plain, P, th0, 0.02, 1e-2, sampler=g.GridSampler(0.0, L, 32), **kw)
    assert res.error_method == "accumulated"
    full = g.solve(pde, P, th0, 0.02, 1e-2, sampler=g.GridSampler(0.0, L, 32), **kw)
    off = g.solve(pde, P, th0, 0.02, 1e-2, sampler=g.GridSampler(0.0, L, 32), error_equation=False, **kw)
    assert full.error_method == "propagated" and off.error_method == "accumulated"  # switched off by the caller
    np.testing.assert_array_equal(off.error_estimate, off.error_accumulated)
    np.testing.assert_array_equal(off.theta, full.theta)  # the run itself is the same
    with pytest.raises(TypeError, match="error_equation"):
        g.solve(pde, P, th0, 0.02, 1e-2, sampler=g.GridSampler(0.0, L, 32), error_equation="yes", **kw)
    moving = g.solve(pde, P, th0, 0.02, 1e-2, sampler=g.UniformSampler(0.0, L, 32), rng=0, **kw)
    assert moving.error_method == "bound"
    np.testing.assert_array_equal(moving.error_estimate, moving.error_bound)


@pytest.mark.parametrize("n", [31, 32])
def test_spectral_fields_are_exact_on_trigonometric_polynomials(n):
    """The FFT derivatives (odd and even n) reproduce u, u_x, u_xxx of a trigonometric polynomial below Nyquist."""
    from transportkit._backend import get_backend
    from transportkit.galerkin.grid_error import GridErrorEquation

    be = get_backend("numpy")
    pde = g.kdv(low=0.0, high=L)
    G = GridErrorEquation(pde, (n,), (L,), be)
    x = np.linspace(0.0, L, n, endpoint=False)
    u = np.cos(3 * x) + 0.5 * np.sin(5 * x)
    fl = G.fields(G.hat(u))
    np.testing.assert_allclose(fl["u"], u, atol=1e-13)
    np.testing.assert_allclose(fl["grad"][:, 0], -3 * np.sin(3 * x) + 2.5 * np.cos(5 * x), atol=1e-12)
    np.testing.assert_allclose(fl["dxxx"], 27 * np.sin(3 * x) - 62.5 * np.cos(5 * x), atol=1e-10)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_a_diverging_error_equation_warns():
    """A symbol that makes the grid integration unstable (here anti-diffusion, +1e3 k^2: exp(10 k^2) per step) gives a
    non-finite propagated estimate: NonFiniteWarning, never a silent number."""
    from transportkit.errors import NonFiniteWarning

    pde = _advection_diffusion()
    bad = g.PDE(rhs=pde.rhs, d=1, low=(0.0,), high=(L,), needs=("grad", "lap"), periodic=True, u0=pde.u0,
                linear_symbol=lambda t, k, xp: 1e3 * k[0] ** 2)
    P = g.GaussianUnits(3, 1, periodic=L)
    th0 = np.array([1.0, 0.5, 0.3, 1.0, 1.5, 1.5, 0.0, 1.6, 3.9])
    with pytest.warns(NonFiniteWarning, match="error equation"):
        res = g.solve(bad, P, th0, 0.1, 1e-2, sampler=g.GridSampler(0.0, L, 32), fit=False, ridge=1e-8)
    assert res.error_method == "propagated" and not np.isfinite(res.error_estimate[-1])
    assert np.all(np.isfinite(res.error_accumulated))


def test_normal_equations_route_and_its_fallbacks(backend):
    """normal_lstsq solves (J^T J + n lam I) v = J^T f where n lam >= 1e4 eps ||J||_F^2 (then it is the ridge solution
    of lstsq_arrays up to a perturbation ~ eps ||J||_F^2 / (n lam) <= 1e-4 relative in the worst direction, far less in
    practice), else it returns the SVD route's answer exactly: ridge 0, a ridge below the margin, non-finite J."""
    from transportkit.galerkin.lstsq import NORMAL_MARGIN, lstsq_arrays, normal_lstsq

    xp = backend.xp
    rng = np.random.default_rng(0)
    Jn = rng.normal(size=(64, 6)) @ np.diag([1.0, 1.0, 0.5, 0.1, 1e-3, 1e-6])
    fn = rng.normal(size=64)
    J, f = backend.asarray(Jn), backend.asarray(fn)
    svd = lambda r: np.asarray(backend.to_numpy(lstsq_arrays(J, f, ridge=r)[0]))  # noqa: E731
    ne = lambda r, JJ=J: np.asarray(backend.to_numpy(normal_lstsq(JJ, f, ridge=r)))  # noqa: E731
    np.testing.assert_allclose(ne(1e-6), svd(1e-6), rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(ne(0.0), svd(0.0))
    tiny = float(0.5 * NORMAL_MARGIN * np.finfo(float).eps * np.sum(Jn**2) / 64)  # below the margin: the SVD route
    np.testing.assert_array_equal(ne(tiny), svd(tiny))
    Jbad = xp.where(backend.asarray(np.arange(64 * 6).reshape(64, 6) == 7), xp.asarray(float("nan")), J)
    v = np.asarray(backend.to_numpy(normal_lstsq(Jbad, f, ridge=1e-6)))
    np.testing.assert_array_equal(v, np.asarray(backend.to_numpy(lstsq_arrays(Jbad, f, ridge=1e-6)[0])))
    assert np.all(np.isfinite(v))


def test_lstsq_option_agrees_and_is_checked():
    """solve(lstsq="auto") (normal equations in stages 2-4) and lstsq="svd" agree on Allen–Cahn with ridge 1e-6 to far
    below the run's own error; an unknown lstsq= is refused with a suggestion."""
    pde = g.allen_cahn()
    P = g.GaussianUnits(4, 1, periodic=L)
    th0 = np.array([1.0, -1.0, 0.3, 0.3, math.sqrt(10.0), math.sqrt(10.0), 2.0, 2.0, 0.5, 4.4, 0.3, 3.4])
    kw = dict(sampler=g.GridSampler(0.0, L, 64), fit=False, ridge=1e-6)
    a, b = (g.solve(pde, P, th0, 0.2, 1e-2, lstsq=m, **kw) for m in ("auto", "svd"))
    X = np.linspace(0.0, L, 64, endpoint=False)[:, None]
    gap = np.sqrt(np.mean((a(X) - b(X)) ** 2))
    assert gap < 1e-8, gap
    with pytest.raises(ValueError, match="lstsq"):
        g.solve(pde, P, th0, 0.2, 1e-2, lstsq="qr", **kw)
