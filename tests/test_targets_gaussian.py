"""Gaussian and GaussianMixture targets: log-densities vs SciPy, gradients vs finite differences, samplers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import transportkit as tk


def _mixture(d=3, k=4, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, k)
    m = 3 * rng.normal(size=(k, d))
    b = rng.normal(size=(k, d, d)) / np.sqrt(d)
    c = b @ b.transpose(0, 2, 1) + 0.3 * np.eye(d)
    return w / w.sum(), m, c


def test_mixture_log_prob_and_grad(backend):
    w, m, c = _mixture()
    T = tk.targets.GaussianMixture(backend.asarray(w), backend.asarray(m), backend.asarray(c))
    x = np.random.default_rng(1).normal(size=(20, 3)) * 3
    lp = T.log_prob(backend.asarray(x))
    assert tk.resolve_backend(lp).name == backend.name
    ref = np.log(sum(wk * stats.multivariate_normal(mk, ck).pdf(x) for wk, mk, ck in zip(w, m, c, strict=True)))
    np.testing.assert_allclose(backend.to_numpy(lp), ref, rtol=1e-10)
    g = backend.to_numpy(T.grad_log_prob(backend.asarray(x)))
    h = 1e-6
    fd = np.stack([(T.log_prob(x + h * e) - T.log_prob(x - h * e)) / (2 * h) for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7)
    assert T.log_Z == 0.0 and T.dim == 3


def test_gaussian_forms_and_sampling(backend):
    rng = np.random.default_rng(2)
    b = rng.normal(size=(4, 4))
    cov = b @ b.T + np.eye(4)
    mean = rng.normal(size=4)
    G = tk.targets.Gaussian(backend.asarray(mean), backend.asarray(cov))
    x = rng.normal(size=(7, 4))
    np.testing.assert_allclose(
        backend.to_numpy(G.log_prob(backend.asarray(x))), stats.multivariate_normal(mean, cov).logpdf(x), rtol=1e-10
    )
    np.testing.assert_allclose(backend.to_numpy(G.grad_log_prob(backend.asarray(x))), -(x - mean) @ np.linalg.inv(cov))
    n = 20_000
    s = backend.to_numpy(G.sample(n, rng=0))
    assert s.shape == (n, 4)
    se = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(s.mean(0) - mean) < 4 * se)
    # covariance entries: Var(x_i x_j) = C_ii C_jj + C_ij^2 for Gaussians
    se_c = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(s.T) - cov) < 4 * se_c)
    # diagonal and isotropic covariances
    np.testing.assert_allclose(tk.targets.Gaussian(np.zeros(2), np.array([1.0, 4.0])).cov, np.diag([1.0, 4.0]))
    np.testing.assert_allclose(tk.targets.Gaussian.standard(3).cov, np.eye(3))


def test_mixture_sampling_weights_and_moments(backend):
    w, m, c = _mixture(d=2, k=3)
    T = tk.targets.GaussianMixture(w, m, c)
    n = 20_000
    x = backend.to_numpy(T.sample(n, rng=3, backend=backend))
    lab = T.responsibilities(x).argmax(0)  # well-separated components: labels are the true components
    frac = np.bincount(lab, minlength=3) / n
    assert np.all(np.abs(frac - w) < 4 * np.sqrt(w * (1 - w) / n) + 0.005)  # + mislabel slack of overlapping tails
    np.testing.assert_allclose(T.mean(), w @ m)
    assert np.all(np.abs(x.mean(0) - w @ m) < 4 * np.sqrt(np.diag(T.covariance()) / n))


def test_same_rng_same_samples_and_generator_rng(backend):
    w, m, c = _mixture(d=2, k=3)
    T = tk.targets.GaussianMixture(w, m, c)
    a = backend.to_numpy(T.sample(100, rng=5, backend=backend))
    b = backend.to_numpy(T.sample(100, rng=backend.rng(5)))
    np.testing.assert_array_equal(a, b)


def test_far_points_are_finite():
    # responsibilities in log space: no underflow to 0/0 far from every component, in high dimension
    d = 200
    T = tk.targets.GaussianMixture(np.ones(2), np.stack([np.zeros(d), np.ones(d)]), 0.01 * np.ones(2))
    x = 50.0 * np.ones((3, d))
    assert np.all(np.isfinite(T.log_prob(x))) and np.all(np.isfinite(T.grad_log_prob(x)))


@pytest.mark.parametrize(
    ("args", "msg"),
    [
        ((np.ones(2), np.zeros((3, 2)), np.ones(3)), "weights must have shape"),
        ((np.array([1.0, -1.0]), np.zeros((2, 2)), np.ones(2)), "non-negative"),
        ((np.ones(2), np.zeros((2, 2)), np.array([[[1, 2], [2, 1]], [[1, 0], [0, 1]]])), "positive definite"),
        ((np.ones(2), np.zeros((2, 2)), np.array([[[1, 0.5], [0, 1]], [[1, 0], [0, 1]]])), "symmetric"),
        ((np.ones(2), np.zeros(2), np.ones(2)), "means must have shape"),
        ((np.ones(1), np.array([[np.nan, 0.0]]), np.ones(1)), "NaN"),
    ],
)
def test_validation(args, msg):
    with pytest.raises(ValueError, match=msg):
        tk.targets.GaussianMixture(*args)


def test_log_prob_shape_errors():
    T = tk.targets.Gaussian.standard(2)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        T.log_prob(np.zeros((3, 3)))
    assert np.ndim(T.log_prob(np.zeros(2))) == 0


def test_bind_gives_the_public_values_without_checks(backend):
    from transportkit._target_zoo import GMM40, Funnel

    x = np.random.default_rng(0).normal(size=(7, 2)) * 3
    for t in (tk.targets.GaussianMixture(np.ones(2), np.array([[0.0, 1.0], [2.0, -1.0]]), 0.7), GMM40(), Funnel(2)):
        b = t.bind(backend)
        xb = backend.asarray(x)
        assert isinstance(b, tk.targets.BoundTarget) and b.dim == t.dim
        np.testing.assert_allclose(backend.to_numpy(b.log_prob(xb)), backend.to_numpy(t.log_prob(xb)), rtol=1e-12)
        g0, g1 = b.value_and_grad(xb)[1], t.grad_log_prob(xb)
        np.testing.assert_allclose(backend.to_numpy(g0), backend.to_numpy(g1), rtol=1e-12, atol=1e-14)


def test_targets_and_zoo_import_alone_without_a_circle():
    import subprocess
    import sys

    for mod in ("transportkit._target_zoo", "transportkit.targets", "transportkit.gaussians"):
        subprocess.run([sys.executable, "-c", f"import {mod}"], check=True)
