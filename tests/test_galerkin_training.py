"""Sequential-in-time training, optimize-then-discretize vs discretize-then-optimize, with the per-step rank and the
a-posteriori error estimate of ``tk.galerkin.solve`` (Zhang, Chen, Vanden-Eijnden & Peherstorfer,
arXiv:2404.01145)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transportkit import galerkin as g
from transportkit.galerkin.solver import _dto_residual


def _allen_cahn(m=4):
    pde = g.allen_cahn()
    P = g.GaussianUnits(m, 1, periodic=2 * np.pi)
    th0 = np.array([1.0, -1.0] + [0.3] * (m - 2) + [math.sqrt(10.0)] * 2 + [2.0] * (m - 2)
                   + [0.5, 4.4] + list(np.linspace(0, 2 * np.pi, m - 2, endpoint=False) + 0.3))
    return pde, P, th0


def _np(be, x):
    return np.asarray(be.to_numpy(x))


def test_dto_fits_the_euler_target_better_than_otd_and_agrees_to_first_order(backend):
    """DtO-Euler starts Gauss–Newton at the OtD Euler step, so its fit residual is never larger; the two differ by
    O(h^2) as functions on the samples (one Gauss–Newton step of DtO is OtD to first order; the parameters
    themselves need not be close, the parametrization being redundant): halving h divides the gap by about 4."""
    pde, P, th0 = _allen_cahn()
    samp = g.GridSampler(0, 2 * np.pi, 64)
    X = np.linspace(0, 2 * np.pi, 64, endpoint=False)[:, None]
    gaps = []
    for h in (0.02, 0.01):
        otd = g.solve(pde, P, backend.asarray(th0), h, h, sampler=samp, fit=False, training="otd", scheme="euler",
                      ridge=1e-6)
        dto = g.solve(pde, P, backend.asarray(th0), h, h, sampler=samp, fit=False, training="dtO", ridge=1e-6)
        assert dto.training == "dto" and otd.training == "otd"
        t_otd, t_dto = _np(backend, otd.theta)[-1], _np(backend, dto.theta)[-1]
        r_otd = float(np.sqrt(np.mean(_dto_residual(pde, P, 0.0, 0.0, h, th0, t_otd, X) ** 2)))
        assert dto.residual[0] <= r_otd * (1 + 1e-9) + 1e-14, (dto.residual[0], r_otd)
        r_dto = np.sqrt(np.mean(_dto_residual(pde, P, 0.0, 0.0, h, th0, t_dto, X) ** 2))
        assert dto.residual[0] == pytest.approx(float(r_dto), rel=1e-6)
        gaps.append(np.sqrt(np.mean((P.value(t_dto, X) - P.value(t_otd, X)) ** 2)))
    assert 2.5 < gaps[0] / gaps[1] < 6.0, gaps


@pytest.mark.parametrize("training", ["otd", "dto"])
def test_error_estimate_integrates_the_residual(backend, training):
    """error_bound = ||e_0|| + sum_k h ||r_k||, error_accumulated = ||e_0 + sum_k h r_k|| (RMS over the fixed grid),
    with r_k recomputed here from the saved parameters: J v - f (OtD Euler) or the Euler-fit residual (DtO). (Allen–Cahn
    declares its linear symbol, so on its periodic grid error_estimate is the propagated one.)"""
    pde, P, th0 = _allen_cahn()
    h, ridge = 0.01, 1e-6
    res = g.solve(pde, P, backend.asarray(th0), 0.06, h, sampler=g.GridSampler(0, 2 * np.pi, 64), fit=False,
                  training=training, scheme="euler", ridge=ridge)
    X = np.linspace(0, 2 * np.pi, 64, endpoint=False)[:, None]
    th = _np(backend, res.theta)
    acc = [P.value(th0, X) - pde.u0(X, np)]
    rms = lambda v: float(np.sqrt(np.mean(v**2)))  # noqa: E731
    bound = [rms(acc[0])]
    for k in range(6):
        if training == "otd":
            fl = P.evaluate(th[k], X, ("jac", *pde.needs))
            v, _ = g.galerkin_velocity(pde, P, th[k], X, k * h, ridge=ridge)
            r = fl["jac"] @ v - pde.rhs(k * h, X, fl, np)
        else:
            r = _dto_residual(pde, P, 0.0, k * h, h, th[k], th[k + 1], X)
        acc.append(acc[-1] + h * r)
        bound.append(bound[-1] + h * rms(r))
    np.testing.assert_allclose(_np(backend, res.error_bound), bound, rtol=1e-7)
    np.testing.assert_allclose(_np(backend, res.error_accumulated), [rms(a) for a in acc], rtol=1e-7)
    assert np.all(_np(backend, res.error_accumulated) <= _np(backend, res.error_bound) * (1 + 1e-12))
    assert res.error_method == "propagated"
    np.testing.assert_allclose(res.residual, np.diff(bound) / h, rtol=1e-7)
    assert all(r == 3 * 4 for r in res.rank[1:])  # 64 samples > 12 parameters: full rank


def test_error_estimate_falls_back_to_the_bound_with_moving_samples():
    pde, P, th0 = _allen_cahn()
    res = g.solve(pde, P, th0, 0.03, 0.01, sampler=g.UniformSampler(0, 2 * np.pi, 64), fit=False, ridge=1e-6,
                  rng=0)
    np.testing.assert_array_equal(res.error_estimate, res.error_bound)


def test_training_is_checked():
    pde, P, th0 = _allen_cahn()
    with pytest.raises(ValueError, match="training must be one of"):
        g.solve(pde, P, th0, 0.1, 0.1, training="dot", fit=False)
    with pytest.raises(ValueError, match="scheme must be one of 'euler'"):
        g.solve(pde, P, th0, 0.1, 0.1, training="dto", scheme="rk4", fit=False)
    with pytest.raises(ValueError, match="pass training='dto'"):
        g.solve(pde, P, th0, 0.1, 0.1, training="otd", scheme="backward_euler", fit=False)
    with pytest.raises(TypeError, match="training"):
        g.solve(pde, P, th0, 0.1, 0.1, training=1, fit=False)
    res = g.solve(pde, P, th0, 0.02, 0.01, scheme="backward_euler", fit=False,
                  sampler=g.GridSampler(0, 2 * np.pi, 32))
    assert res.training == "dto"  # the implicit schemes are DtO by default


@pytest.mark.parametrize("training", ["otd", "dto"])
def test_fewer_samples_than_parameters_fit_the_samples_exactly(backend, training):
    """With n = 12 samples < p = 18 parameters and the sampled Jacobian of full row rank (every unit with non-zero
    amplitude), OtD's J v = f and DtO's Euler-fit residual are solved exactly on the samples: the residual vanishes to
    rounding, so error_accumulated and error_bound stay at the initial error — the residual-based estimates cannot see
    the overfitting behind the tangent-space collapse (docs/galerkin.md, "Rank with fewer samples than parameters"),
    while the propagated estimate (the PDE solved on the samples) moves away from it."""
    pde = g.allen_cahn()
    P = g.GaussianUnits(6, 1, periodic=2 * np.pi)
    th0 = np.array([1.0, -1.0, 0.3, -0.3, 0.3, -0.3] + [math.sqrt(10.0)] * 2 + [2.0] * 4 + [0.5, 4.4]
                   + list(np.linspace(0, 2 * np.pi, 4, endpoint=False) + 0.3))
    res = g.solve(pde, P, backend.asarray(th0), 0.01, 1e-3, sampler=g.GridSampler(0, 2 * np.pi, 12), fit=False,
                  training=training, scheme="euler", save_every=5)
    assert list(res.rank) == [12] * 10
    X = np.linspace(0, 2 * np.pi, 12, endpoint=False)[:, None]
    f0 = pde.rhs(0.0, X, P.evaluate(th0, X, ("u", *pde.needs)), np)
    assert max(res.residual) <= 1e-9 * float(np.sqrt(np.mean(f0**2))), max(res.residual)
    e0 = float(np.sqrt(np.mean((P.value(th0, X) - pde.u0(X, np)) ** 2)))
    np.testing.assert_allclose(_np(backend, res.error_accumulated), e0, rtol=1e-9)
    np.testing.assert_allclose(_np(backend, res.error_bound), e0, rtol=1e-9)
    assert res.error_method == "propagated"
    est = _np(backend, res.error_estimate)
    assert est[0] == pytest.approx(e0, rel=1e-12) and abs(est[-1] - e0) > 1e-6 * e0, (est, e0)
