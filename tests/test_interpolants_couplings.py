"""Couplings (arXiv:2310.03725): the base travels with the field, exact jointly Gaussian fields, conditional draws."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk
from transportkit._capabilities import algorithm_test
from transportkit.errors import CapabilityError
from transportkit.interpolants import TensorFeatures, couplings, exact_field, fit_velocity, train_velocity

C1 = np.array([[1.0, 0.3], [0.3, 0.5]])
M1 = np.array([-1.0, 2.0])


def _moments_within(x, mean, cov, inflate, k=4.0):
    """Sample mean and covariance of ``x`` within ``k`` standard errors of (mean, cov). The variance of the sample
    mean is diag(cov)/n * inflate, that of a covariance entry (C_ii C_jj + C_ij^2)/n * inflate (Gaussian fourth
    moments); ``inflate`` > 1 accounts for other sources of sampling error (a fitted field, an empirical base)."""
    n = x.shape[0]
    se_m = np.sqrt(np.diag(cov) / n * inflate)
    dm = (x.mean(0) - mean) / se_m
    se_c = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n * inflate)
    dc = (np.cov(x.T) - cov) / se_c
    assert np.all(np.abs(dm) < k), dm
    assert np.all(np.abs(dc) < k), dc


def test_fitted_field_from_a_shifted_base_samples_its_target(backend):
    # the regression of issue 18: a field fitted from x0 ~ N(5, I) used to be sampled from N(0, I). Affine
    # features reproduce the Gaussian-to-Gaussian velocity (affine in x at each t). Errors: n_s ODE samples, plus
    # the fit's own sample of n_fit target points and the empirical base of n_fit rows: inflate = 1 + 2 n_s/n_fit.
    rng = np.random.default_rng(0)
    n_fit, n_s = 20_000, 4000
    x1 = backend.asarray(rng.multivariate_normal(M1, C1, n_fit))
    x0 = backend.asarray(rng.normal(size=(n_fit, 2)) + 5.0)
    feats = TensorFeatures(2, time_degree=6, n_fourier=0)
    model = fit_velocity("linear", x1, x0=x0, features=feats, rng=1, repeats=2)
    assert not model.bind(backend).base_law.standard_normal
    x = tk.sample(model, n_s, rng=2, steps=40, backend=backend).to_numpy().x
    _moments_within(x, M1, C1, 1 + 2 * n_s / n_fit)
    # the same with the base given as a law (fresh draws while fitting)
    model = fit_velocity("linear", x1, base=tk.targets.Gaussian(np.full(2, 5.0), 1.0), features=feats, rng=1)
    x = tk.sample(model, n_s, rng=3, steps=40, backend=backend).to_numpy().x
    _moments_within(x, M1, C1, 1 + n_s / n_fit)


def test_gaussian_base_conversions_refuse_other_bases():
    rng = np.random.default_rng(1)
    x1 = rng.normal(size=(200, 2))
    model = fit_velocity("linear", x1, x0=rng.normal(size=(200, 2)) + 5, rng=0,
                         features=TensorFeatures(2, time_degree=2, n_fourier=4, rng=0))
    with pytest.raises(CapabilityError, match="assumes the base N"):
        model.score(0.5, x1[:3])
    with pytest.raises(CapabilityError, match="assumes the base N"):
        tk.sample(model, 5, method="sde", steps=3, rng=0)
    with pytest.raises(ValueError, match="start at t = 0"):
        tk.sample(model, 5, t_span=(0.1, 1.0), steps=3, rng=0)
    with pytest.raises(CapabilityError, match="no log density"):
        tk.interpolants.log_likelihood(model, x1[:3], steps=3)
    # the default base keeps the one-sided conversion
    std = fit_velocity("linear", x1, rng=0, features=TensorFeatures(2, time_degree=2, n_fourier=4, rng=0))
    assert np.all(np.isfinite(std.score(0.5, x1[:3])))
    with pytest.raises(ValueError, match=r"x0= .* or base="):
        fit_velocity("linear", x1, x0=x1, base=tk.targets.Gaussian.standard(2))
    moved = std.with_base(np.zeros(2))
    assert np.all(tk.sample(moved, 4, rng=0, steps=2).x[0] == tk.sample(moved, 4, rng=0, steps=2).x[1])


def _joint(d, seed):
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(2 * d, 2 * d))
    J = B @ B.T / (2 * d) + 0.2 * np.eye(2 * d)
    m = rng.normal(size=2 * d)
    return m[:d], J[:d, :d], m[d:], J[d:, d:], J[:d, d:]


@pytest.mark.parametrize("gamma", [0, "sqrt"])
def test_exact_coupled_drift_equals_the_closed_form(backend, gamma):
    # §3.1: Sigma_t = a^2 C0 + b^2 C1 + ab(K + K^T) + g^2 I, b = a'm0 + b'm1 + Cov(R', x_t) Sigma_t^{-1}(x - mu_t),
    # Cov(R', x_t) = aa'C0 + bb'C1 + a'bK + ab'K^T + gg'I; checked against this NumPy formula to 1e-10.
    d = 3
    m0, c0, m1, c1, K = _joint(d, 3)
    cpl = couplings.gaussian(tk.targets.Gaussian(m0, c0), tk.targets.Gaussian(m1, c1), K)
    I = tk.interpolants.Interpolant("linear", gamma=gamma)  # noqa: E741
    f = exact_field(I, coupling=cpl)
    x = np.random.default_rng(4).normal(size=(5, d))
    ts = np.array([0.0, 0.2, 0.5, 0.7, 1.0])
    for t in ts:
        a, b, ad, bd = 1 - t, t, -1.0, 1.0
        g2, ggd = (0.0, 0.0) if gamma == 0 else (t * (1 - t), 0.5 * (1 - 2 * t))
        S = a * a * c0 + b * b * c1 + a * b * (K + K.T) + g2 * np.eye(d)
        N = a * ad * c0 + b * bd * c1 + ad * b * K + a * bd * K.T + ggd * np.eye(d)
        mu = a * m0 + b * m1
        want_b = ad * m0 + bd * m1 + (N @ np.linalg.solve(S, (x - mu).T)).T
        want_s = -np.linalg.solve(S, (x - mu).T).T
        want_e1 = m1 + ((b * c1 + a * K.T) @ np.linalg.solve(S, (x - mu).T)).T
        got = backend.to_numpy(f.velocity(t, backend.asarray(x)))
        np.testing.assert_allclose(got, want_b, rtol=1e-10, atol=1e-10)
        if 0 < t < 1 or gamma == 0:
            np.testing.assert_allclose(backend.to_numpy(f.score(t, backend.asarray(x))), want_s, rtol=1e-10,
                                       atol=1e-10)
        np.testing.assert_allclose(backend.to_numpy(f.denoiser(t, backend.asarray(x), "x1")), want_e1, rtol=1e-10,
                                   atol=1e-10)
    per = backend.to_numpy(f.velocity(backend.asarray(np.full(5, 0.3)), backend.asarray(x)))
    np.testing.assert_allclose(per, backend.to_numpy(f.velocity(0.3, backend.asarray(x))), rtol=1e-10, atol=1e-12)


def test_coupling_draws_have_the_joint_law():
    d = 2
    m0, c0, m1, c1, K = _joint(d, 5)
    cpl = couplings.gaussian(tk.targets.Gaussian(m0, c0), tk.targets.Gaussian(m1, c1), K)
    n = 20_000
    x0, x1, xi = cpl.sample(n, rng=0)
    assert xi is None
    _moments_within(np.concatenate([x0, x1], 1), np.concatenate([m0, m1]), np.block([[c0, K], [K.T, c1]]), 1.0)
    with pytest.raises(ValueError, match="not positive semi-definite"):
        couplings.gaussian(tk.targets.Gaussian(m0, c0), tk.targets.Gaussian(m1, c1), 10 * np.eye(d))


def _gaussian_data(d=8, seed=7):
    rng = np.random.default_rng(seed)
    B = rng.normal(size=(d, d))
    return rng.normal(size=d), B @ B.T / d + 0.3 * np.eye(d)


def _conditional(m, C, obs, x_obs):
    mis = ~obs
    Coo = C[np.ix_(obs, obs)]
    Cmo = C[np.ix_(mis, obs)]
    mean = m[mis] + Cmo @ np.linalg.solve(Coo, x_obs[obs] - m[obs])
    cov = C[np.ix_(mis, mis)] - Cmo @ np.linalg.solve(Coo, Cmo.T)
    return mean, cov


def test_ode_from_paired_x0_has_the_conditional_law(backend):
    # inpainting of a Gaussian N(m, C), d = 8, 3 coordinates observed: x0 = P x1 + (I - P) zeta is jointly Gaussian
    # with x1, K = P C != 0. The exact ODE from x0 paired with an observation lands in the law of the masked
    # coordinates given the observed ones (closed form), within 4 SE; observed coordinates do not move.
    d = 8
    m, C = _gaussian_data(d)
    obs = np.zeros(d, bool)
    obs[[1, 4, 6]] = True
    cpl = couplings.inpainting(tk.targets.Gaussian(m, C), obs.astype(float))
    f = exact_field("linear", coupling=cpl)
    x_obs = m + np.linalg.cholesky(C) @ np.random.default_rng(8).normal(size=d)
    n = 3000
    x0, xi = cpl.condition(backend.asarray(x_obs), n=n, rng=1)
    assert xi is None
    out = tk.sample(f.given(x0), n, steps=40, backend=backend).to_numpy().x
    np.testing.assert_allclose(out[:, obs], np.broadcast_to(x_obs[obs], (n, 3)), atol=1e-9)
    _moments_within(out[:, ~obs], *_conditional(m, C, obs, x_obs), 1.0)
    # the unconditional draws: x0 from the coupling's x0-marginal ends at N(m, C)
    out = tk.sample(f, n, steps=40, rng=2, backend=backend).to_numpy().x
    _moments_within(out, m, C, 1.0)


def test_general_gaussian_coupling_transports_paired_x0_to_the_target(backend):
    d = 3
    m0, c0, m1, c1, K = _joint(d, 9)
    cpl = couplings.gaussian(tk.targets.Gaussian(m0, c0), tk.targets.Gaussian(m1, c1), K)
    x0, _, _ = cpl.sample(3000, rng=3, backend=backend)
    out = tk.sample(exact_field("trig", coupling=cpl).given(x0), 3000, steps=40, backend=backend).to_numpy().x
    _moments_within(out, m1, c1, 1.0)


def test_fit_with_an_inpainting_coupling_draws_the_conditional_law(backend):
    # learned route without autodiff: affine-in-x features fit the inpainting coupling's velocity (affine in x at
    # each t); inflate = 1 + 2 n_s / n_fit for the fit's own sampling error.
    d = 8
    m, C = _gaussian_data(d)
    obs = np.zeros(d, bool)
    obs[[0, 3, 5]] = True
    rng = np.random.default_rng(10)
    n_fit, n_s = 30_000, 2000
    data = backend.asarray(rng.multivariate_normal(m, C, n_fit))
    cpl = couplings.inpainting(data, obs.astype(float))
    model = fit_velocity("linear", coupling=cpl, features=TensorFeatures(d, time_degree=6, n_fourier=0), rng=2)
    x_obs = m + np.linalg.cholesky(C) @ rng.normal(size=d)
    x0, _ = cpl.condition(backend.asarray(x_obs), n=n_s, rng=3)
    out = tk.sample(model.given(x0), n_s, steps=30, backend=backend).to_numpy().x
    _moments_within(out[:, ~obs], *_conditional(m, C, obs, x_obs), 1 + 2 * n_s / n_fit)


def test_conditioning_is_required_and_passed():
    rng = np.random.default_rng(11)
    data = rng.normal(size=(400, 3))
    cpl = couplings.inpainting(data, 0.5)
    assert cpl.cond_dim == 3
    x0, x1, xi = cpl.sample(10, rng=0)
    np.testing.assert_array_equal(x0[xi > 0], x1[xi > 0])
    model = fit_velocity("linear", coupling=cpl, features=TensorFeatures(6, time_degree=2, n_fourier=16, rng=0),
                         rng=0)
    with pytest.raises(CapabilityError, match="conditioned on xi"):
        tk.sample(model, 4, steps=2, rng=0)
    with pytest.raises(ValueError, match="pass xi="):
        model.given(x0)
    mask = np.array([1.0, 0.0, 1.0])
    x0, xi = cpl.condition(np.array([0.5, np.nan, -0.5]), mask, n=6, rng=0)
    out = tk.sample(model.given(x0, xi), 6, steps=4)
    assert out.x.shape == (6, 3) and np.all(np.isfinite(out.x))
    with pytest.raises(ValueError, match="ask for n = 6"):
        tk.sample(model.given(x0, xi), 5, steps=4)


@algorithm_test(train_velocity)
def test_mlp_trains_on_coupled_batches(backend):
    # torch and jax: a conditioned MLP on random-mask inpainting pairs; the loss falls, conditional draws run.
    rng = np.random.default_rng(12)
    cpl = couplings.inpainting(backend.asarray(rng.normal(size=(500, 2)) + 1.0), 0.5)
    model = train_velocity("linear", coupling=cpl, hidden=(16,), steps=100, batch_size=128, rng=0, backend=backend)
    hist = model.info["loss_history"]
    assert hist[-1] < hist[0]
    x0, xi = cpl.condition(backend.asarray(np.array([1.0, 0.0])), np.array([1.0, 0.0]), n=8, rng=1)
    out = tk.sample(model.given(x0, xi), 8, steps=5, backend=backend).to_numpy().x
    assert out.shape == (8, 2) and np.all(np.isfinite(out))
    # from a shifted base (samples): the model's base is their empirical law
    m2 = train_velocity("linear", backend.asarray(rng.normal(size=(300, 2))),
                        x0=backend.asarray(rng.normal(size=(300, 2)) + 5), hidden=(8,), steps=5, rng=0)
    assert not m2.bind(backend).base_law.standard_normal


def test_super_resolution_coupling_is_the_stated_gaussian():
    # x0 = U D x1 + sigma zeta (pairs of coordinates averaged): the draws' joint moments are those of as_gaussian
    # (m0 = A m1, C0 = A C1 A^T + sigma^2 I, K = A C1), within 4 SE; 2-D images average r x r blocks.
    m, C = _gaussian_data(4, seed=13)
    cpl = couplings.super_resolution(tk.targets.Gaussian(m, C), 2, noise=0.3, condition=False)
    b0, b1, K = cpl.as_gaussian()
    np.testing.assert_allclose(b1._host["covs"][0], C)
    x0, x1, xi = cpl.sample(20_000, rng=0)
    assert xi is None
    J = np.block([[b0._host["covs"][0], K], [K.T, C]])
    _moments_within(np.concatenate([x0, x1], 1), np.concatenate([b0._host["means"][0], m]), J, 1.0)
    img = couplings.super_resolution(np.arange(32.0).reshape(2, 16), 2, shape=(4, 4), noise=0.0)
    x0, x1, xi = img.sample(2, rng=0)
    low = x1.reshape(2, 2, 2, 2, 2).mean(axis=(2, 4)).reshape(2, 4)
    np.testing.assert_allclose(xi, np.repeat(np.repeat(low.reshape(2, 2, 2), 2, 1), 2, 2).reshape(2, 16))
    np.testing.assert_allclose(x0, xi)
    x0c, xic = img.condition(low[0], n=3, rng=0)
    np.testing.assert_allclose(xic, np.broadcast_to(xi[0], (3, 16)))
    np.testing.assert_allclose(x0c, xic)
    with pytest.raises(ValueError, match="multiple of factor"):
        couplings.super_resolution(np.zeros((3, 6)), 4)
