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
