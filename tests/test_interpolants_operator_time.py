"""Operator-valued time (arXiv:2508.04605): exact denoisers, transport along paths, zero-shot inpainting."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk
from transportkit._capabilities import algorithm_test
from transportkit.interpolants import operator_time as ot


def _gaussian(d=8, seed=7):
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(d, d))
    return rng.normal(size=d), B @ B.T / d + 0.3 * np.eye(d)


def _within(x, mean, cov, inflate=1.0, k=4.0):
    """mean/cov of the rows of x within k SE (Gaussian fourth moments for the covariance entries)."""
    n = x.shape[0]
    dm = (x.mean(0) - mean) / np.sqrt(np.diag(cov) / n * inflate)
    dc = (np.cov(x.T) - cov) / np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n * inflate)
    assert np.all(np.abs(dm) < k), dm
    assert np.all(np.abs(dc) < k), dc


def test_exact_denoiser_matches_the_gaussian_formula(backend):
    # E[x1 | x_a] = m + C D_b Sigma^{-1}(x - b*m), E[x0 | x_a] = D_a Sigma^{-1}(x - b*m), Sigma = D_a^2 + D_b C D_b;
    # and the identity x = a*eta0 + b*eta1.
    d = 5
    m, C = _gaussian(d, 1)
    rng = np.random.default_rng(2)
    a = rng.uniform(size=d)
    a[1] = 0.0
    b = 1 - a
    x = rng.normal(size=(4, d))
    S = np.diag(a**2) + np.diag(b) @ C @ np.diag(b)
    g = np.linalg.solve(S, (x - b * m).T).T
    den = ot.exact_denoiser(tk.targets.Gaussian(m, C))
    e0, e1 = den.eta(backend.asarray(a), backend.asarray(x), backend)
    np.testing.assert_allclose(backend.to_numpy(e1), m + g @ np.diag(b) @ C, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(e0), a * g, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a * backend.to_numpy(e0) + b * backend.to_numpy(e1), x, rtol=1e-10, atol=1e-12)


def _conditional(m, C, obs, x_obs):
    mis = ~obs
    Coo, Cmo = C[np.ix_(obs, obs)], C[np.ix_(mis, obs)]
    mean = m[mis] + Cmo @ np.linalg.solve(Coo, x_obs[obs] - m[obs])
    return mean, C[np.ix_(mis, mis)] - Cmo @ np.linalg.solve(Coo, Cmo.T)


def test_inpainting_draws_the_conditional_law(backend):
    # d = 8 Gaussian data, 3 coordinates observed: the masked coordinates given the observed ones are
    # N(m_m + C_mo C_oo^{-1}(x_o - m_o), C_mm - C_mo C_oo^{-1} C_om); inpainting samples within 4 SE, observed
    # coordinates exactly the given values.
    d, n = 8, 3000
    m, C = _gaussian(d)
    obs = np.zeros(d, bool)
    obs[[0, 2, 7]] = True
    x_obs = m + np.linalg.cholesky(C) @ np.random.default_rng(3).normal(size=d)
    x_in = x_obs.copy()
    x_in[~obs] = np.nan  # masked entries are ignored
    den = ot.exact_denoiser(tk.targets.Gaussian(m, C))
    out = backend.to_numpy(ot.inpaint(den, backend.asarray(x_in), obs, n, steps=40, rng=4, backend=backend))
    np.testing.assert_array_equal(out[:, obs], np.broadcast_to(x_obs[obs], (n, 3)))
    _within(out[:, ~obs], *_conditional(m, C, obs, x_obs))


def test_any_path_reaches_the_data_law(backend):
    # a path that denoises the first half of the coordinates before the second: the end law is still N(m, C)
    d, n = 4, 3000
    m, C = _gaussian(d, 5)
    den = ot.exact_denoiser(tk.targets.Gaussian(m, C))
    first = np.array([1.0, 1.0, 0.0, 0.0])

    def alpha(tau, xp):
        f = xp.asarray(first, dtype=tau.dtype, device=getattr(tau, "device", None))
        early = xp.clip(1.0 - 2.0 * tau, 0.0, 1.0)
        late = xp.clip(2.0 - 2.0 * tau, 0.0, 1.0)
        return f * early + (1.0 - f) * late

    x0 = backend.asarray(np.random.default_rng(6).normal(size=(n, d)))
    out = backend.to_numpy(ot.transport(den, x0, alpha, steps=60, backend=backend))
    _within(out, m, C)
    out = backend.to_numpy(ot.sample(den, n, steps=40, rng=7, backend=backend))
    _within(out, m, C)


def test_bad_inputs_are_refused():
    den = ot.exact_denoiser(tk.targets.Gaussian(np.zeros(3), 1.0))
    with pytest.raises(ValueError, match="mask must have shape"):
        ot.inpaint(den, np.zeros(3), np.ones(2))
    with pytest.raises(ValueError, match="0/1"):
        ot.inpaint(den, np.zeros(3), np.array([0.5, 1, 0]))
    with pytest.raises(ValueError, match="finite at the observed"):
        ot.inpaint(den, np.array([np.nan, 0, 0]), np.array([1, 0, 0]), 2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ot.linear_path(2.0, 0.0)
    with pytest.raises(ValueError, match="solver"):
        ot.transport(den, np.zeros((2, 3)), solver="rk4")
    with pytest.raises(TypeError, match="Gaussian"):
        ot.exact_denoiser(tk.targets.Funnel(3)) if hasattr(tk.targets, "Funnel") else ot.exact_denoiser(None)


@algorithm_test(ot.train_denoiser)
def test_learned_denoiser_inpaints(backend):
    # torch and jax: a small MLP over random alpha (scalars, entries, masks) lowers the loss; inpainting with it
    # keeps the observed coordinates exactly and moves the masked mean toward the conditional one (a smoke-size
    # training: the bias bound is loose, 0.5 of the conditional standard deviation).
    d = 3
    m, C = _gaussian(d, 8)
    data = backend.asarray(np.random.default_rng(9).multivariate_normal(m, C, 4000))
    den = ot.train_denoiser(data, hidden=(32,), steps=200, batch_size=128, rng=0)
    hist = den.info["loss_history"]
    assert hist[-1] < hist[0]
    obs = np.array([True, False, False])
    x_obs = m.copy()
    out = backend.to_numpy(ot.inpaint(den, backend.asarray(x_obs), obs, 1000, steps=20, rng=1))
    np.testing.assert_array_equal(out[:, 0], np.full(1000, x_obs[0]))
    mean, cov = _conditional(m, C, obs, x_obs)
    assert np.all(np.abs(out[:, 1:].mean(0) - mean) < 0.5 * np.sqrt(np.diag(cov)))
