"""fit_velocity / fit_score: ridge least squares on tensor features, analytic divergence, generation quality."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk
from transportkit.interpolants import TensorFeatures, fit_score, fit_velocity, sliced_w2


def test_fixed_time_affine_features_reproduce_the_closed_form(backend):
    # §1.3: at a fixed t with features (1, x) the normal equations give the affine closed form of §1.7(a),
    # b(x) = beta' m + K (x - beta m), K = (a a' I + b b' C)(a^2 I + b^2 C)^{-1}, to OLS accuracy: 4 SE with
    # SE^2 = (residual variance) * [(E X X^T)^{-1}]_jj / N.
    t, n = 0.5, 20_000
    C = np.array([[1.5, 0.4], [0.4, 0.6]])
    mu = np.array([1.0, -2.0])
    T = tk.targets.Gaussian(mu, C)
    x1 = backend.asarray(T.sample(n, rng=1))
    feats = TensorFeatures(2, time_degree=0, n_fourier=0)
    model = fit_velocity("linear", x1, features=feats, t_range=(t, t + 1e-12), ridge=0.0, rng=0)
    theta = backend.to_numpy(model.theta)[0]  # (3, 2): rows (1, x_1, x_2)
    a, b, ad, bd = 1 - t, t, -1.0, 1.0
    S = a**2 * np.eye(2) + b**2 * C
    K = (a * ad * np.eye(2) + b * bd * C) @ np.linalg.inv(S)
    want = np.vstack([bd * mu - b * K @ mu, K.T])
    cross = b * C - a * np.eye(2)  # Cov(R', x_t)
    res_var = np.diag(C + np.eye(2) - cross @ np.linalg.inv(S) @ cross.T)
    m_t = b * mu
    exx = np.block([[np.ones((1, 1)), m_t[None, :]], [m_t[:, None], S + np.outer(m_t, m_t)]])
    se = np.sqrt(np.outer(np.diag(np.linalg.inv(exx)), res_var) / n)
    assert np.all(np.abs(theta - want) < 4 * se), (theta - want) / se


def test_divergence_is_analytic(backend):
    rng = np.random.default_rng(1)
    x1 = backend.asarray(rng.normal(size=(500, 3)) + 2.0)
    model = fit_velocity("linear", x1, features=TensorFeatures(3, time_degree=3, n_fourier=16, rng=1), rng=0,
                         chunk_size=128)
    x = rng.normal(size=(6, 3))
    h = 1e-6
    v = lambda y: model.velocity(0.4, y)  # noqa: E731
    fd = sum((v(x + h * e) - v(x - h * e))[:, i] / (2 * h) for i, e in enumerate(np.eye(3)))
    np.testing.assert_allclose(model.divergence(0.4, x), fd, rtol=1e-5, atol=1e-6)
    per = model.divergence(np.full(6, 0.4), x)
    np.testing.assert_allclose(per, model.divergence(0.4, x), rtol=1e-12)
    np.testing.assert_allclose(model.velocity(np.full(6, 0.4), x), model.velocity(0.4, x), rtol=1e-12)
    assert model.info["n_samples"] == 500


def test_chunking_does_not_change_the_fit():
    rng = np.random.default_rng(2)
    x1 = rng.normal(size=(300, 2))
    feats = TensorFeatures(2, time_degree=2, n_fourier=8, rng=0)
    a = fit_velocity("linear", x1, features=feats, rng=0, chunk_size=300)
    b = fit_velocity("linear", x1, features=feats, rng=0, chunk_size=300)
    np.testing.assert_allclose(a.theta, b.theta)


def test_eight_modes_sliced_w2_criterion():
    # Issue criterion: SW2(model samples, fresh target) < 1.5 SW2(target, target') + 0.05. Reduced here to 2*10^4
    # training points and 2000 generated samples (the 10^5 run is in the docs: SW2 is reported there).
    from test_interpolants_sampling import eight_modes

    T, *_ = eight_modes()
    model = fit_velocity("linear", T.sample(20_000, rng=1), rng=0)
    n = 2000
    xs = tk.sample(model, n, steps=50, rng=3).x
    ref = sliced_w2(T.sample(n, rng=4), T.sample(n, rng=5))
    assert sliced_w2(xs, T.sample(n, rng=4)) < 1.5 * ref + 0.05


def test_fit_score_two_sided_gaussian():
    T = tk.targets.Gaussian(np.array([1.0, 0.0]), np.array([0.5, 2.0]))
    I = tk.Interpolant("linear", gamma="sqrt")  # noqa: E741
    model = fit_score(I, T.sample(20_000, rng=0), features=TensorFeatures(2, time_degree=6, n_fourier=0), rng=0)
    f = tk.interpolants.exact_field(I, T)
    x = np.random.default_rng(0).normal(size=(20, 2))
    err = np.abs(model.score(0.5, x) - f.score(0.5, x))
    assert err.max() < 0.1


def test_fit_errors():
    with pytest.raises(ValueError, match="x1 must be a 2-D array"):
        fit_velocity("linear", np.zeros(5))
    with pytest.raises(ValueError, match="t_range"):
        fit_velocity("linear", np.zeros((5, 2)), t_range=(0.5, 0.2))
    with pytest.raises(ValueError, match="ridge"):
        fit_velocity("linear", np.zeros((5, 2)), ridge=-1.0)
    with pytest.raises(ValueError, match="bandwidth"):
        TensorFeatures(2, bandwidth=-1.0)
