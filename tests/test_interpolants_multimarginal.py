"""Multimarginal interpolants (Albergo, Boffi, Lindsey & Vanden-Eijnden 2024, arXiv:2310.03695): the identity
sum_k alpha_k g_k = x, exact Gaussian g_k, transport along simplex paths, learned g_k."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk
from transportkit._capabilities import algorithm_test
from transportkit.interpolants import TensorFeatures
from transportkit.interpolants import multimarginal as mm

MEANS = [np.array([0.0, 0.0]), np.array([3.0, 1.0]), np.array([-2.0, 2.0])]
COVS = [np.eye(2), np.array([[0.5, 0.2], [0.2, 0.3]]), np.array([[2.0, -0.5], [-0.5, 1.0]])]


def _marginals():
    return [tk.targets.Gaussian(m, c) for m, c in zip(MEANS, COVS, strict=True)]


def _draw(k, n, seed):
    return np.random.default_rng(seed).multivariate_normal(MEANS[k], COVS[k], size=n)


def _moments_within_4se(x, mean, cov):
    """Mean and covariance entries within 4 SE: SE(mean_i)^2 = C_ii/n, SE(cov_ij)^2 = (C_ii C_jj + C_ij^2)/n."""
    n = x.shape[0]
    se_m = np.sqrt(np.diag(cov) / n)
    assert np.all(np.abs(x.mean(0) - mean) < 4 * se_m), (x.mean(0) - mean) / se_m
    se_c = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(np.cov(x.T) - cov) < 4 * se_c), (np.cov(x.T) - cov) / se_c


def test_exact_g_identity_and_closed_form(backend):
    g = mm.exact_g(_marginals())
    rng = np.random.default_rng(0)
    x = rng.normal(size=(9, 2)) * 3
    alphas = rng.dirichlet(np.ones(3), size=9)
    # one alpha for all points, and one alpha per point
    for a in (alphas[0], alphas):
        out = backend.to_numpy(g.g(backend.asarray(a), backend.asarray(x)))
        aa = np.broadcast_to(a, (9, 3))
        np.testing.assert_allclose(np.einsum("nk,knd->nd", aa, out), x, atol=1e-10, rtol=0)
        for i in range(9):  # g_k = m_k + alpha_k C_k Sigma^{-1} (x - mu), written out in NumPy
            S = sum(aa[i, k] ** 2 * COVS[k] for k in range(3))
            r = np.linalg.solve(S, x[i] - sum(aa[i, k] * MEANS[k] for k in range(3)))
            want = np.stack([MEANS[k] + aa[i, k] * COVS[k] @ r for k in range(3)])
            np.testing.assert_allclose(out[:, i, :], want, rtol=1e-10, atol=1e-12)
    # at a vertex e_i: g_i = x, the others are the means
    out = backend.to_numpy(g.g(backend.asarray(np.array([0.0, 1.0, 0.0])), backend.asarray(x)))
    np.testing.assert_allclose(out[1], x, atol=1e-12)
    np.testing.assert_allclose(out[2], np.broadcast_to(MEANS[2], x.shape), atol=1e-12)


@pytest.mark.parametrize(("i", "j", "via", "bend"), [(0, 1, None, 0.0), (2, 0, None, 0.0), (0, 2, 1, 2.0),
                                                     (1, 2, 0, 1.0)])
@algorithm_test(mm.transport)
def test_transport_between_vertices_reproduces_the_target_moments(backend, i, j, via, bend):
    g = mm.exact_g(_marginals())
    path = mm.simplex_path(3, i, j, via=via, bend=bend)
    y = mm.transport(g, backend.asarray(_draw(i, 4000, 10 + i)), path, steps=40)
    _moments_within_4se(backend.to_numpy(y), MEANS[j], COVS[j])


def test_simplex_path_stays_on_the_simplex_and_alpha_dot_is_its_derivative():
    path = mm.simplex_path(4, 0, 3, via=2, bend=2.0)
    xp = tk.get_backend("numpy").xp
    h = 1e-6
    for t in np.linspace(0.0, 1.0, 11):
        a, da = path(xp.asarray(t), xp)
        assert np.all(a >= -1e-15) and abs(a.sum() - 1) < 1e-14
        if 0 < t < 1:
            fd = (path(xp.asarray(t + h), xp)[0] - path(xp.asarray(t - h), xp)[0]) / (2 * h)
            np.testing.assert_allclose(da, fd, atol=1e-8)
    np.testing.assert_array_equal(path(xp.asarray(0.0), xp)[0], [1, 0, 0, 0])
    np.testing.assert_array_equal(path(xp.asarray(1.0), xp)[0], [0, 0, 0, 1])


@algorithm_test(mm.fit_g, mm.transport)
def test_feature_fitted_g_transports_rho0_to_rho1(backend):
    # least squares on (1, x) times degree-6 monomials of alpha, alpha on the edges; against the exact g under the
    # same starting points the fit shifts the endpoint moments by at most 0.01 (measured, 8e4 to 3e5 draws), under
    # 0.6 SE at n = 2000
    interp = mm.MultimarginalInterpolant(3, edge_fraction=1.0)
    xs = [backend.asarray(_draw(k, 20_000, k)) for k in range(3)]
    feats = TensorFeatures(2, time_degree=0, n_fourier=0)
    g = mm.fit_g(interp, xs, features=feats, degree=6, n_draws=80_000, chunk_size=40_000, rng=0)
    y = mm.transport(g, backend.asarray(_draw(0, 2000, 20)), (0, 1), steps=40)
    _moments_within_4se(backend.to_numpy(y), MEANS[1], COVS[1])


@algorithm_test(mm.train_g)
def test_mlp_g_loss_gap_identity(backend):
    # for any g_hat, L(g_hat) - L(g) = 1/2 sum_k E|g_hat_k - g_k|^2 (L = sum_k E[|g_k|^2/2 - x_k . g_k]); checked on
    # fresh draws within 4 SE, and training must lower the gap below that of the untrained network
    interp = mm.MultimarginalInterpolant(3)
    xs = [backend.asarray(_draw(k, 4000, k)) for k in range(3)]
    exact = mm.exact_g(_marginals())
    init = mm.train_g(interp, xs, hidden=(16, 16), steps=1, rng=1)
    model = mm.train_g(interp, xs, hidden=(16, 16), steps=150, batch_size=256, lr=1e-2, rng=1)
    n = 20_000
    rng = np.random.default_rng(5)
    alpha = rng.dirichlet(np.ones(3), size=n)
    stack = np.stack([_draw(k, n, 30 + k) for k in range(3)])
    x = np.einsum("nk,knd->nd", alpha, stack)

    def per_sample(f):
        out = backend.to_numpy(f.g(backend.asarray(alpha), backend.asarray(x)))
        return np.sum(0.5 * out**2 - stack * out, axis=(0, 2)), out

    ex_loss, ex_g = per_sample(exact)
    gaps = []
    for f in (init, model):
        loss, out = per_sample(f)
        diff = loss - ex_loss - 0.5 * np.sum((out - ex_g) ** 2, axis=(0, 2))
        assert abs(diff.mean()) < 4 * diff.std() / np.sqrt(n)
        gaps.append(np.mean(0.5 * np.sum((out - ex_g) ** 2, axis=(0, 2))))
    assert gaps[1] < gaps[0]


def test_bad_inputs_are_refused():
    g = mm.exact_g(_marginals())
    with pytest.raises(ValueError, match="different vertices"):
        mm.simplex_path(3, 1, 1)
    with pytest.raises(ValueError, match="via"):
        mm.simplex_path(3, 0, 1, via=1)
    with pytest.raises(ValueError, match="bend"):
        mm.simplex_path(3, 0, 1, via=2, bend=3.0)
    with pytest.raises(ValueError, match="simplex"):
        g.g(np.array([0.5, 0.6, 0.0]), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="marginals"):
        mm.fit_g(mm.MultimarginalInterpolant(2), [np.zeros((5, 2))] * 3)
    with pytest.raises(ValueError, match="simplex of 4"):
        mm.transport(g, np.zeros((3, 2)), mm.simplex_path(4, 0, 1))
    with pytest.raises(TypeError, match="sequence"):
        mm.exact_g(tk.targets.Gaussian(MEANS[0], COVS[0]))
