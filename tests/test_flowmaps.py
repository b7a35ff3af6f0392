"""Flow maps: the exact Gaussian map is the reference of every loss (ALGORITHMS.md §4.5), sampling is a semigroup."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk
from transportkit._capabilities import algorithm_test
from transportkit.flowmaps import losses as L

D = 4


def _gaussian():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(D, D))
    C = A @ A.T / D + 0.3 * np.eye(D)  # correlated, well conditioned
    m = rng.normal(size=D)
    return m, C, tk.targets.Gaussian(m, C)


def _batch(be, interp, n=64, seed=0, u=False):
    m, C, _ = _gaussian()
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=(n, D))
    x1 = rng.multivariate_normal(m, C, size=n)
    a, b = rng.uniform(size=n), rng.uniform(size=n)
    s, t = np.minimum(a, b), np.maximum(a, b)
    uu = be.asarray(s + rng.uniform(size=n) * (t - s)) if u else None
    return L.make_batch(interp, *(be.asarray(v) for v in (x0, x1, s, t)), u=uu)


@pytest.mark.parametrize("schedule", ["linear", "trig"])
@algorithm_test(L.lsd, L.esd, L.lmd, L.emd, L.fmm)
def test_exact_gaussian_map_zeroes_every_residual(backend, schedule):
    # X_{s,t}(x) = mu_t + Sigma_t^{1/2} Sigma_s^{-1/2}(x - mu_s) solves the Lagrangian and Eulerian equations and
    # the semigroup: each loss (a mean squared residual) is float64 round-off, i.e. RMS residual < 1e-10.
    interp = tk.Interpolant(schedule)
    _, _, T = _gaussian()
    X = tk.flowmaps.exact_flow_map(interp, T)
    assert isinstance(X, tk.flowmaps.GaussianFlowMap)
    b = tk.interpolants.exact_field(interp, T)
    batch = _batch(backend, interp)
    values = {
        "lsd": L.lsd(X, batch),
        "esd": L.esd(X, batch),
        "psd(midpoint)": L.psd(X, batch),
        "psd(random u)": L.psd(X, _batch(backend, interp, u=True)),
        "lmd": L.lmd(X, batch, b),
        "emd": L.emd(X, batch, b),
        "invertibility": L.invertibility(X, batch),
    }
    for name, v in values.items():
        assert np.sqrt(float(v)) < 1e-10, (name, float(v))
    # a wrong map (perturbed velocity) is not a zero of the Lagrangian residual: the check can fail
    wrong = L.lmd(X, batch, lambda t, x: b.bind(backend).velocity(t, x) + 1e-3)
    assert np.sqrt(float(wrong)) > 1e-4


def test_psd_and_invertibility_need_no_autodiff(backend):
    interp = tk.Interpolant("linear")
    X = tk.flowmaps.exact_flow_map(interp, _gaussian()[2])
    batch = _batch(backend, interp)
    assert np.sqrt(float(L.psd(X, batch))) < 1e-10
    assert np.sqrt(float(L.invertibility(X, batch))) < 1e-10
    if backend.value_and_grad is None:
        with pytest.raises(tk.CapabilityError, match="value_and_grad"):
            L.lsd(X, batch)


def _moment_matched(n, m, C, seed):
    """(x0, x1) whose empirical mean and covariance (1/n) are exactly those of N(0, I) x N(m, C)."""
    w = np.random.default_rng(seed).normal(size=(n, 2 * D))
    w -= w.mean(axis=0)
    w = w @ np.linalg.inv(np.linalg.cholesky(w.T @ w / n)).T
    return w[:, :D], m + w[:, D:] @ np.linalg.cholesky(C).T


def test_diagonal_loss_equals_its_minimum(backend):
    # E|phi_tt(I_t) - dI_t|^2 at the exact map equals E|dI_t|^2 - E|b_t(I_t)|^2 (closed form below). The batch's
    # first and second moments are exact, and the loss is quadratic in (x0, x1) at fixed t, so the batch mean equals
    # the expectation to round-off.
    interp = tk.Interpolant("linear")
    m, C, T = _gaussian()
    X = tk.flowmaps.exact_flow_map(interp, T)
    n = 200
    for k, t in enumerate((0.1, 0.5, 0.9)):
        x0, x1 = _moment_matched(n, m, C, k)
        tt = np.full(n, t)
        batch = L.make_batch(interp, *(backend.asarray(v) for v in (x0, x1, tt, tt)))
        a, ad, bb, bd = 1 - t, -1.0, t, 1.0
        sig = a * a * np.eye(D) + bb * bb * C
        A = (a * ad * np.eye(D) + bb * bd * C) @ np.linalg.inv(sig)
        e_idot = ad**2 * D + bd**2 * (m @ m + np.trace(C))
        e_b = bd**2 * (m @ m) + np.trace(A @ sig @ A.T)
        got = float(L.diagonal(X, batch))
        assert abs(got - (e_idot - e_b)) < 1e-10, (t, got, e_idot - e_b)
        if backend.value_and_grad is not None:  # direct flow-map matching has the same minimum at s = t
            assert abs(float(L.fmm(X, batch)) - (e_idot - e_b)) < 1e-10


def test_semigroup_sampling_and_target_moments(backend):
    # For the exact map K = 1, 2, 4, 8 jumps give the same samples (same base draws), with the target's mean and
    # covariance within 4 standard errors.
    m, C, T = _gaussian()
    X = tk.flowmaps.exact_flow_map("linear", T)
    n = 4000
    xs = [backend.to_numpy(tk.sample(X, n, method="flow_map", steps=K, rng=5, backend=backend).x) for K in (1, 2, 4, 8)]
    for x in xs[1:]:
        assert np.max(np.abs(x - xs[0])) < 1e-10
    x = xs[0]
    se_mean = np.sqrt(np.diag(C) / n)
    assert np.all(np.abs(x.mean(axis=0) - m) < 4 * se_mean)
    se_cov = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) / n)
    assert np.all(np.abs(np.cov(x.T, bias=True) - C) < 4 * se_cov)


def test_encoder_inverts_the_sampler():
    # backward maps encode: X_{1,0} after X_{0,1} is the identity, and the map agrees with its velocity
    _, _, T = _gaussian()
    X = tk.flowmaps.exact_flow_map("linear", T)
    z = np.random.default_rng(0).normal(size=(50, D))
    x = X.transport(z, 0.0, 1.0, steps=1)
    np.testing.assert_allclose(X.transport(x, 1.0, 0.0, steps=3), z, atol=1e-10)
    b = tk.interpolants.exact_field("linear", T)
    np.testing.assert_allclose(X.velocity(0.3, z), b.velocity(0.3, z), atol=1e-12)
    np.testing.assert_allclose(X.phi(0.3, 0.3, z), b.velocity(0.3, z), atol=1e-12)
    np.testing.assert_allclose(X(0.2, 0.2, z), z, atol=0)


def test_closed_form_matches_the_ode_reference():
    # the closed form against RK4 of the exact drift (ODEFlowMap), per-sample times, including backward maps
    interp = tk.Interpolant("linear")
    _, _, T = _gaussian()
    X = tk.flowmaps.exact_flow_map(interp, T)
    R = tk.flowmaps.ODEFlowMap(tk.interpolants.exact_field(interp, T), steps=200)
    rng = np.random.default_rng(1)
    x, s, t = rng.normal(size=(20, D)), rng.uniform(size=20), rng.uniform(size=20)
    np.testing.assert_allclose(R(s, t, x), X(s, t, x), atol=1e-9)


def test_mixture_reference_is_a_semigroup():
    T = tk.interpolants.eight_mode_mixture()
    R = tk.flowmaps.exact_flow_map("linear", T, steps=200)
    assert isinstance(R, tk.flowmaps.ODEFlowMap)
    z = np.random.default_rng(0).normal(size=(30, 2))
    one = R.transport(z, steps=1)
    two = R.transport(z, steps=2)
    np.testing.assert_allclose(one, two, atol=1e-5)  # RK4 error of 200 vs 2 x 200 steps


def test_sample_options_and_validation():
    X = tk.flowmaps.exact_flow_map("linear", _gaussian()[2])
    with pytest.raises(TypeError, match="steps"):
        tk.sample(X, 10, method="flow_map", step=2)
    with pytest.raises(ValueError, match="s must lie"):
        X(-0.1, 0.5, np.zeros((3, D)))
    with pytest.raises(ValueError, match="4 coordinates"):
        X(0.1, 0.5, np.zeros((3, 2)))
    with pytest.warns(DeprecationWarning, match="seed"):
        a = tk.sample(X, 10, method="flow_map", seed=1).x
    np.testing.assert_array_equal(a, tk.sample(X, 10, method="flow_map", rng=1).x)
    with pytest.raises(TypeError, match="flow map"):
        tk.sample(tk.interpolants.exact_field("linear", _gaussian()[2]), 5, method="flow_map")
    with pytest.raises(KeyError, match="make_batch"):
        L.diagonal(X, {"t": np.zeros(3)})
