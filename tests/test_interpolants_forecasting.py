"""Forecasting with Föllmer processes (Chen et al. 2024, arXiv:2403.13724): exact Gaussian-conditional drift,
score from drift, retuned diffusion, SDE sampler, learned drifts and trajectory forecasts."""

from __future__ import annotations

import numpy as np
import pytest

from transportkit._capabilities import algorithm_test
from transportkit.interpolants import TensorFeatures
from transportkit.interpolants import forecasting as fc

A = np.array([[0.8, 0.2], [-0.1, 0.9]])
C = np.array([[0.5, 0.1], [0.1, 0.3]])
X0 = np.array([1.0, -0.5])


def _moments_within_4se(x, mean, cov):
    """Sample mean and covariance entries within 4 standard errors of (mean, cov):
    SE(mean_i)^2 = C_ii/n, SE(cov_ij)^2 = (C_ii C_jj + C_ij^2)/n (Gaussian fourth moments)."""
    n = x.shape[0]
    se_m = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(x.mean(0) - mean) < 4 * se_m), (x.mean(0) - mean) / se_m
    se_c = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(x.T) - cov) < 4 * se_c), (np.cov(x.T) - cov) / se_c


def _closed_form_drift(fi, s, x, x0):
    """b = a' x0 + b' m + (b b' C + sg sg' s I)(b^2 C + sg^2 s I)^{-1}(x - a x0 - b m), written out in NumPy."""
    c = fi.sigma
    a, ad = 1 - s, -1.0
    b, bd = (s, 1.0) if fi.beta == "linear" else (s * s, 2 * s)
    sg, sgd = c * (1 - s), -c
    m = x0 @ A.T
    M = (b * bd * C + sg * sgd * s * np.eye(2)) @ np.linalg.inv(b * b * C + sg * sg * s * np.eye(2))
    return ad * x0 + bd * m + (x - a * x0 - b * m) @ M.T


@pytest.mark.parametrize("beta", ["linear", "quadratic"])
def test_optimal_diffusion_closed_forms(backend, beta):
    # §3.3: g^2 = 2 s sigma (beta' sigma - beta sigma')/beta - sigma^2 is 1 - s^2 (beta = s) and (1-s)(3-s)
    # (beta = s^2) for sigma = 1 - s; with sigma = c(1 - s) it scales by c^2.
    s = np.linspace(0.0, 1.0, 11)
    for c in (1.0, 0.5):
        g = backend.to_numpy(fc.optimal_diffusion(fc.FollmerInterpolant(beta, sigma=c), backend.asarray(s)))
        want = c**2 * ((1 - s**2) if beta == "linear" else (1 - s) * (3 - s))
        np.testing.assert_allclose(g**2, want, rtol=1e-12, atol=1e-14)
    # the minimizer of the path-KL weight (1 + (g^2 - sigma^2) A beta / 2)^2 / g^2 at interior s
    si = s[1:-1]
    sg, sgd = 1 - si, -1.0
    b, bd = (si, 1.0) if beta == "linear" else (si**2, 2 * si)
    Ab = b / (si * sg * (bd * sg - b * sgd))
    w = lambda g2: (1 + 0.5 * (g2 - sg**2) * Ab) ** 2 / g2  # noqa: E731
    g2 = (1 - si**2) if beta == "linear" else (1 - si) * (3 - si)
    assert np.all(w(g2) < w(g2 * 1.01)) and np.all(w(g2) < w(g2 * 0.99))


@pytest.mark.parametrize("beta", ["linear", "quadratic"])
def test_exact_drift_matches_the_formula_and_is_finite_at_s0(backend, beta):
    fi = fc.FollmerInterpolant(beta, sigma=0.7)
    drift = fc.exact_drift(fi, A, C)
    rng = np.random.default_rng(0)
    x, x0 = rng.normal(size=(7, 2)), rng.normal(size=(7, 2))
    for s in (0.05, 0.4, 0.93):
        got = backend.to_numpy(drift.drift(backend.asarray(s), backend.asarray(x), backend.asarray(x0)))
        np.testing.assert_allclose(got, _closed_form_drift(fi, s, x, x0), rtol=1e-10, atol=1e-12)
    # "non-singular drift": finite at s = 0 and continuous there (|b(s) - b(0)| = O(s))
    at = lambda s: backend.to_numpy(drift.drift(backend.asarray(s), backend.asarray(x), backend.asarray(x0)))  # noqa: E731
    b0 = at(0.0)
    assert np.all(np.isfinite(b0)) and np.all(np.isfinite(at(1.0)))
    for s in (1e-12, 1e-8, 1e-5):
        assert np.max(np.abs(at(s) - b0)) < 100 * s * (1 + np.max(np.abs(b0)))
    np.testing.assert_allclose(at(1e-5), _closed_form_drift(fi, 1e-5, x, x0), rtol=1e-6)


@pytest.mark.parametrize("beta", ["linear", "quadratic"])
def test_score_from_drift_equals_the_closed_form_score(backend, beta):
    fi = fc.FollmerInterpolant(beta)
    drift = fc.exact_drift(fi, A, C, b=np.array([0.3, -1.0]))
    bd = drift.bind(backend)
    rng = np.random.default_rng(1)
    x, x0 = backend.asarray(rng.normal(size=(5, 2))), backend.asarray(rng.normal(size=(5, 2)))
    for s in (0.1, 0.5, 0.9):
        sa = backend.asarray(s)
        via_drift = type(bd).__mro__[1].score(bd, sa, x, x0)  # the generic formula of the base class
        np.testing.assert_allclose(backend.to_numpy(via_drift), backend.to_numpy(bd.score(sa, x, x0)), rtol=1e-9,
                                   atol=1e-10)


@pytest.mark.parametrize(("beta", "diffusion"), [("linear", None), ("linear", "optimal"),
                                                 ("quadratic", None), ("quadratic", "optimal")])
@algorithm_test(fc.sample)
def test_sde_samples_the_gaussian_conditional(backend, beta, diffusion):
    # Both the sigma-SDE and the retuned (Föllmer) SDE end at N(A x0, C) from X_0 = x0. Euler-Maruyama bias at
    # 200 steps is below 0.006 (measured with 2e5 samples), under half an SE at n = 4000.
    drift = fc.exact_drift(fc.FollmerInterpolant(beta), A, C)
    x = fc.sample(drift, backend.asarray(X0), 4000, steps=200, diffusion=diffusion, rng=3)
    _moments_within_4se(backend.to_numpy(x), A @ X0, C)


@algorithm_test(fc.sample)
def test_one_draw_per_state_and_a_custom_diffusion(backend):
    # rows of x0 are distinct states: x1 - A x0 ~ N(0, C); custom g_s = 1 - s/2 (retuned with the score)
    rng = np.random.default_rng(4)
    x0 = rng.normal(size=(4000, 2))
    drift = fc.exact_drift(fc.FollmerInterpolant("linear"), A, C)
    x = fc.sample(drift, backend.asarray(x0), steps=200, diffusion=lambda s, xp: 1.0 - 0.5 * s, rng=5)
    _moments_within_4se(backend.to_numpy(x) - x0 @ A.T, np.zeros(2), C)


@algorithm_test(fc.fit_drift, fc.sample)
def test_feature_fitted_drift_samples_the_conditional(backend):
    # affine features in (x, x0) times degree-8 Legendre in s hold the exact drift up to its s-dependence. The
    # fit's own statistical error shifts the endpoint moments by about 0.02 / sqrt(draws / 24000) (measured against
    # the exact drift under common noise); with 2e5 draws that is under half an SE of the n = 4000 ensemble.
    rng = np.random.default_rng(6)
    x0 = rng.normal(size=(50_000, 2))
    x1 = x0 @ A.T + rng.normal(size=(50_000, 2)) @ np.linalg.cholesky(C).T
    fi = fc.FollmerInterpolant("linear")
    feats = TensorFeatures(4, time_degree=8, n_fourier=0)
    model = fc.fit_drift(fi, backend.asarray(x0), backend.asarray(x1), features=feats, repeats=4, chunk_size=50_000,
                         rng=0)
    assert model.info["n_samples"] == 200_000
    x = fc.sample(model, backend.asarray(X0), 4000, steps=200, diffusion="optimal", rng=7)
    _moments_within_4se(backend.to_numpy(x), A @ X0, C)


@algorithm_test(fc.train_drift)
def test_mlp_drift_loss_gap_identity(backend):
    # for any drift model, L(b_hat) - L(b) = 1/2 E|b_hat - b|^2 (the loss is quadratic with minimizer b): checked
    # on fresh draws within 4 SE, after a short training that must have lowered the gap below the initial one
    rng = np.random.default_rng(8)
    x0 = rng.normal(size=(4000, 2))
    x1 = x0 @ A.T + rng.normal(size=(4000, 2)) @ np.linalg.cholesky(C).T
    fi = fc.FollmerInterpolant("quadratic")
    exact = fc.exact_drift(fi, A, C)
    init = fc.train_drift(fi, backend.asarray(x0), backend.asarray(x1), hidden=(16, 16), steps=1, rng=1)
    model = fc.train_drift(fi, backend.asarray(x0), backend.asarray(x1), hidden=(16, 16), steps=150, batch_size=256,
                           lr=1e-2, rng=1)
    n = 20_000
    s = rng.uniform(size=n)
    xa = rng.normal(size=(n, 2))
    xb = xa @ A.T + rng.normal(size=(n, 2)) @ np.linalg.cholesky(C).T
    sc = s[:, None]
    w = np.sqrt(sc) * rng.normal(size=(n, 2))
    it = (1 - sc) * xa + sc**2 * xb + (1 - sc) * w
    y = -xa + 2 * sc * xb - w

    def per_sample(f):
        out = backend.to_numpy(f.drift(backend.asarray(s), backend.asarray(it), backend.asarray(xa)))
        return np.sum(0.5 * out**2 - y * out, axis=1), out

    ex_l, ex_b = per_sample(exact)
    gaps = []
    for f in (init, model):
        loss, b = per_sample(f)
        diff = loss - ex_l - 0.5 * np.sum((b - ex_b) ** 2, axis=1)
        assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(n)
        gaps.append(np.mean(0.5 * np.sum((b - ex_b) ** 2, axis=1)))
    assert gaps[1] < gaps[0]


@algorithm_test(fc.forecast)
def test_forecast_two_lags_of_a_gaussian_ar1(backend):
    # x_{k+1} | x_k ~ N(A x_k, C): after two lags the ensemble is N(A^2 x0, A C A^T + C)
    drift = fc.exact_drift(fc.FollmerInterpolant("linear"), A, C)
    path = fc.forecast(drift, backend.asarray(X0), 2, 4000, steps=100, rng=9)
    path = backend.to_numpy(path)
    assert path.shape == (3, 4000, 2)
    np.testing.assert_array_equal(path[0], np.broadcast_to(X0, (4000, 2)))
    _moments_within_4se(path[2], A @ A @ X0, A @ C @ A.T + C)


def test_bad_inputs_are_refused():
    fi = fc.FollmerInterpolant()
    drift = fc.exact_drift(fi, A, C)
    with pytest.raises(ValueError, match="beta"):
        fc.FollmerInterpolant("cubic")
    with pytest.raises(ValueError, match="sigma"):
        fc.FollmerInterpolant(sigma=0.0)
    with pytest.raises(ValueError, match="positive definite"):
        fc.exact_drift(fi, A, np.array([[1.0, 0.0], [0.0, -1.0]]))
    with pytest.raises(ValueError, match="diffusion"):
        fc.sample(drift, X0, 10, diffusion="optimall")
    with pytest.raises(ValueError, match="give n"):
        fc.sample(drift, X0)
    with pytest.raises(ValueError, match="s must lie"):
        drift.drift(1.5, np.zeros((1, 2)), X0)
    with pytest.raises(ValueError, match="paired"):
        fc.fit_drift(fi, np.zeros((5, 2)), np.ones((6, 2)))
    with pytest.raises(TypeError, match="FollmerInterpolant"):
        fc.exact_drift("linear", A, C)


def test_non_finite_result_warns():
    from transportkit.errors import NonFiniteWarning

    drift = fc.exact_drift(fc.FollmerInterpolant("linear"), A, C)
    with np.errstate(all="ignore"), pytest.warns(NonFiniteWarning, match="NaN or inf"):
        fc.sample(drift, X0, 10, steps=20, diffusion=lambda s, xp: xp.asarray(float("inf")), rng=0)
