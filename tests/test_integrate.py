"""Integrators: orders of convergence, adaptive tolerance, backward runs, SDE laws, grids and paths."""

from __future__ import annotations

import math

import numpy as np
import pytest
from array_api_compat import array_namespace

from transportkit.integrate import odeint, sdeint, time_grid


def _f(t, x):  # x' = -x + cos(t): x(t) = c e^{-t} + (cos t + sin t)/2
    xp = array_namespace(x)
    return -x + xp.cos(t) * xp.ones_like(x)


def _exact(x0, t):
    c = x0 - 0.5
    return c * np.exp(-t) + 0.5 * (np.cos(t) + np.sin(t))


@pytest.mark.parametrize(("solver", "order"), [("euler", 1), ("heun", 2), ("midpoint", 2), ("rk4", 4)])
def test_order_of_convergence(backend, solver, order):
    x0 = backend.asarray(np.array([[1.0, -2.0]]))
    errs = []
    for steps in (10, 20):
        x1 = backend.to_numpy(odeint(_f, x0, steps=steps, t_span=(0.0, 2.0), solver=solver))
        errs.append(np.max(np.abs(x1 - _exact(np.array([[1.0, -2.0]]), 2.0))))
    rate = math.log2(errs[0] / errs[1])
    assert abs(rate - order) < 0.3, (solver, errs, rate)


def test_dopri5_meets_tolerance_and_path(backend):
    x0 = backend.asarray(np.array([[1.0, -2.0]]))
    grid = np.linspace(0.0, 2.0, 5)
    path = backend.to_numpy(odeint(_f, x0, grid=grid, solver="dopri5", rtol=1e-9, atol=1e-11, return_path=True))
    assert path.shape == (5, 1, 2)
    want = np.stack([_exact(np.array([[1.0, -2.0]]), t) for t in grid])
    np.testing.assert_allclose(path, want, rtol=1e-7, atol=1e-8)


def test_backward_returns_to_start(backend):
    x0 = backend.asarray(np.random.default_rng(0).normal(size=(3, 2)))
    fwd = odeint(_f, x0, steps=50, t_span=(0.0, 1.0))
    back = odeint(_f, fwd, steps=50, t_span=(1.0, 0.0))
    np.testing.assert_allclose(backend.to_numpy(back), backend.to_numpy(x0), atol=1e-8)


@pytest.mark.parametrize("solver", ["euler_maruyama", "heun"])
def test_sde_ornstein_uhlenbeck_law(backend, solver):
    # dX = -X dt + sqrt(2 eps) dW, eps = 1, X0 = 1: X1 ~ N(e^{-1}, 1 - e^{-2})
    n = 4000
    x0 = backend.asarray(np.ones((n, 1)))
    x1 = backend.to_numpy(sdeint(lambda t, x: -x, x0, 1.0, steps=100, solver=solver, rng=0))
    mean, var = math.exp(-1), 1 - math.exp(-2)
    assert abs(x1.mean() - mean) < 4 * math.sqrt(var / n) + 0.01  # + O(dt) discretization bias of Euler
    assert abs(x1.var() - var) < 4 * var * math.sqrt(2 / n) + 0.01


def test_sde_backward_and_callable_diffusion(backend):
    # zero diffusion reduces to the ODE; a decreasing grid runs backward
    x0 = backend.asarray(np.ones((2, 1)))
    a = sdeint(lambda t, x: -x, x0, lambda t: 0.0 * t, steps=20, t_span=(1.0, 0.0), solver="heun", rng=0)
    b = odeint(lambda t, x: -x, x0, steps=20, t_span=(1.0, 0.0), solver="heun")
    np.testing.assert_allclose(backend.to_numpy(a), backend.to_numpy(b), rtol=1e-12)


def test_time_grids(backend):
    for kind in ("uniform", "ends", "start", "end"):
        g = backend.to_numpy(time_grid(10, 0.0, 1.0, kind=kind, backend=backend))
        assert g[0] == 0.0 and g[-1] == 1.0 and np.all(np.diff(g) > 0), kind
    g = backend.to_numpy(time_grid(10, kind="ends", backend=backend))
    assert g[1] - g[0] < 0.1 / 2
    g = backend.to_numpy(time_grid(4, 1.0, 0.0, backend=backend))
    np.testing.assert_allclose(g, [1.0, 0.75, 0.5, 0.25, 0.0])


def test_return_path_and_errors(backend):
    x0 = backend.asarray(np.zeros((3, 2)))
    p = odeint(lambda t, x: x + 1.0, x0, steps=7, return_path=True, progress=True)
    assert tuple(p.shape) == (8, 3, 2)
    with pytest.raises(ValueError, match="solver must be one of"):
        odeint(_f, x0, steps=3, solver="rk9")
    with pytest.raises(ValueError, match="strictly"):
        odeint(_f, x0, grid=[0.0, 0.5, 0.5, 1.0])
    with pytest.raises(ValueError, match="diffusion"):
        sdeint(_f, x0, -1.0, steps=3)
    with pytest.raises(ValueError, match="steps"):
        time_grid(0)
