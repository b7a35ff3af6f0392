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
        r_otd = float(_dto_residual(pde, P, 0.0, 0.0, h, th0, t_otd, X))
        assert dto.residual[0] <= r_otd * (1 + 1e-9) + 1e-14, (dto.residual[0], r_otd)
        assert dto.residual[0] == pytest.approx(float(_dto_residual(pde, P, 0.0, 0.0, h, th0, t_dto, X)), rel=1e-6)
        gaps.append(np.sqrt(np.mean((P.value(t_dto, X) - P.value(t_otd, X)) ** 2)))
    assert 2.5 < gaps[0] / gaps[1] < 6.0, gaps


@pytest.mark.parametrize("training", ["otd", "dto"])
def test_error_estimate_integrates_the_residual(backend, training):
    """eta(t_K) = ||u(theta_0) - u_0|| + sum_k h ||r_k|| (RMS over the samples) at the saved times; ranks per step."""
    pde, P, th0 = _allen_cahn()
    samp = g.GridSampler(0, 2 * np.pi, 64)
    res = g.solve(pde, P, backend.asarray(th0), 0.06, 0.01, sampler=samp, fit=False, training=training,
                  save_every=2, ridge=1e-6)
    X = np.linspace(0, 2 * np.pi, 64, endpoint=False)[:, None]
    e0 = np.sqrt(np.mean((P.value(th0, X) - pde.u0(X, np)) ** 2))
    est = _np(backend, res.error_estimate)
    assert est.shape == (4,) and len(res.residual) == len(res.rank) == 6
    np.testing.assert_allclose(est[0], e0, rtol=1e-10)
    np.testing.assert_allclose(est, e0 + 0.01 * np.concatenate([[0], np.cumsum(res.residual)])[::2], rtol=1e-10)
    assert all(r > 0 for r in res.residual)  # 4 units do not carry Allen-Cahn exactly
    assert all(r == 3 * 4 for r in res.rank)  # 64 samples > 12 parameters: full rank


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
