"""log_likelihood: exact divergence vs the true mixture log-density; Hutchinson within its standard error."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk


def _mixture(d, k, seed):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, k)
    m = 2.5 * rng.normal(size=(k, d))
    b = rng.normal(size=(k, d, d)) / np.sqrt(d)
    c = b @ b.transpose(0, 2, 1) + 0.3 * np.eye(d)
    return tk.targets.GaussianMixture(w, m, c)


@pytest.mark.parametrize(("d", "k"), [(2, 8), (8, 4)])
def test_exact_divergence_matches_true_log_density(backend, d, k):
    T = _mixture(d, k, seed=d)
    f = tk.interpolants.exact_field(tk.Interpolant("linear"), T)
    x = T.sample(16, rng=1)
    ll = tk.interpolants.log_likelihood(f, backend.asarray(x), steps=200)
    assert tk.resolve_backend(ll).name == backend.name
    np.testing.assert_allclose(backend.to_numpy(ll), T.log_prob(x), atol=1e-3)


def test_two_sided_and_trig_likelihood():
    T = _mixture(2, 3, seed=9)
    for I in (tk.Interpolant("trig"), tk.Interpolant("linear", gamma="quadratic")):  # noqa: E741
        f = tk.interpolants.exact_field(I, T, base=tk.targets.Gaussian(np.array([0.5, 0.0]), np.array([2.0, 0.5])))
        x = T.sample(8, rng=2)
        np.testing.assert_allclose(tk.interpolants.log_likelihood(f, x, steps=200), T.log_prob(x), atol=1e-3)


def test_hutchinson_within_standard_error(backend):
    # With probes fixed along each trajectory, the K probe integrals are i.i.d. and unbiased for the exact-divergence
    # integral on the same grid: the estimate is within 4.5 SE of it (Student-t with 31 degrees of freedom).
    T = _mixture(4, 3, seed=4)
    f = tk.interpolants.exact_field(tk.Interpolant("linear"), T)
    x = backend.asarray(T.sample(10, rng=3))
    exact = backend.to_numpy(tk.interpolants.log_likelihood(f, x, steps=40))
    est = tk.interpolants.log_likelihood_hutchinson(f, x, steps=40, probes=32, rng=0).to_numpy()
    assert np.all(est.stderr > 0)
    assert np.all(np.abs(est.value - exact) < 4.5 * est.stderr)


def test_likelihood_errors():
    f = tk.interpolants.exact_field("linear", tk.targets.Gaussian.standard(2))
    with pytest.raises(ValueError, match="shape"):
        tk.interpolants.log_likelihood(f, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="probes"):
        tk.interpolants.log_likelihood_hutchinson(f, np.zeros((3, 2)), probes=1)
    with pytest.raises(ValueError, match="NaN"):
        tk.interpolants.log_likelihood(f, np.full((3, 2), np.nan))
