"""NETS: the zero-variance exact-drift test of ALGORITHMS.md §5.4, exactness of the forward/backward path
weights for any step, learned (PINN least-squares) drift on a d = 10 Gaussian, overflow, bad input."""

from __future__ import annotations

import math

import numpy
import pytest

from transportkit.sampling.nets import nets
from transportkit.targets import Gaussian

M, C = 2.0, 0.25


def _exact_drift(xp):
    """b_t(x) = mu_t' + (Sigma_t'/2 Sigma_t)(x - mu_t) for U0 = x^2/2, U1 = (x - m)^2/2c, geometric path."""

    def drift(t, x):
        P = (1 - t) + t / C
        S = 1 / P
        mu = t * M / C * S
        dP = -1 + 1 / C
        dS = -dP / P**2
        dmu = M / C * S + t * M / C * dS
        return dmu + 0.5 * dS / S * (x - mu), 0.5 * dS / S + 0.0 * x[:, 0]

    return drift


@pytest.mark.parametrize("eps", [0.0, 0.5, 2.0])
def test_exact_drift_gives_zero_variance_weights(backend, eps):
    g = Gaussian(numpy.array([M]), numpy.array([[C]]))  # normalized target: log Z1/Z0 = 0
    errs = []
    for K in (100, 200):
        r = nets(
            g,
            500,
            steps=K,
            eps=eps,
            drift=_exact_drift(backend.xp),
            weights="riemann",
            backend=backend,
            seed=0,
            return_works=True,
        )
        A = -backend.to_numpy(r.info["works"])
        assert A.std() < 1e-8
        errs.append(A.mean())
    # left-point Riemann sum of the deterministic -dF/dt: error O(h), halved when h is halved
    assert 1.8 < errs[0] / errs[1] < 2.2


def test_fb_weights_are_exact_for_any_step(backend):
    # b = 0, three big steps: annealed Langevin with forward/backward kernel weights is still unbiased
    g = Gaussian(numpy.array([M, -1.0]), numpy.array([C, 2.0]))
    r = nets(g, 4000, steps=3, eps=0.3, rounds=0, backend=backend, seed=1)
    assert r.info["weights"] == "fb"
    assert abs(r.log_Z) < 4 * r.log_Z_stderr


def test_learned_drift_gaussian_d10(backend):
    rng = numpy.random.default_rng(0)
    L = rng.normal(size=(10, 10)) * 0.3
    g = Gaussian(rng.normal(size=10), L @ L.T + 0.5 * numpy.eye(10))
    r = nets(g, 600, steps=30, rounds=1, n_fit=6, features="affine", backend=backend, seed=2)
    assert abs(r.log_Z) < 4 * r.log_Z_stderr
    # the fitted affine drift transports: ESS far above that of b = 0 (round 0)
    assert r.ess / 600 > 0.5 and r.ess / 600 > 2 * r.info["rounds"][0]["ess"] / 600
    assert abs(r.info["log_Z_pinn"]) < 0.5


def test_weights_never_overflow(backend):
    xp = backend.xp

    class T:
        dim = 2
        log_Z = 1e4 + math.log(2 * math.pi)

        @staticmethod
        def log_prob(x):
            return -0.5 * xp.sum(x * x, axis=1) + 1e4

        @staticmethod
        def grad_log_prob(x):
            return -x

    r = nets(T(), 300, steps=10, rounds=1, n_fit=2, features="affine", backend=backend, seed=0)
    assert math.isfinite(r.log_Z) and abs(r.log_Z - T.log_Z) < 4 * r.log_Z_stderr + 1e-10 * 1e4


def test_bad_input(backend):
    xp = backend.xp

    class T:
        dim = 2

        @staticmethod
        def log_prob(x):
            return xp.where(x[:, 1] > 0.5, math.nan, -0.5 * xp.sum(x * x, axis=1))

        @staticmethod
        def grad_log_prob(x):
            return -x

    with pytest.raises(ValueError, match=r"walker \d+"):
        nets(T(), 100, steps=5, backend=backend, seed=0)
    with pytest.raises(ValueError, match="eps > 0"):
        nets(T(), 100, steps=5, eps=0.0, weights="fb", backend=backend)


# ------------------------------------------------------------------ learned drifts: score feature, MLP, resampling
def test_zoo_laplacians_match_finite_differences(backend):
    from transportkit._target_zoo import GMM40, Funnel, ManyWell
    from transportkit.sampling._common import fd_laplacian

    xp = backend.xp
    rng = numpy.random.default_rng(0)
    for t in (GMM40(), Funnel(6), ManyWell(8)):
        x = backend.asarray(rng.normal(size=(20, t.dim)) * (10.0 if isinstance(t, GMM40) else 1.0))
        exact = backend.to_numpy(t.laplacian_log_prob(x))
        fd = backend.to_numpy(fd_laplacian(t.grad_log_prob, x, xp))
        assert numpy.max(numpy.abs(exact - fd) / (1 + numpy.abs(exact))) < 1e-5


def test_score_feature_is_exact_for_a_centered_gaussian(backend):
    # U0 = |x|^2/2, U1 = |x|^2/(2c): the transport drift is b = (3/2) Sigma_t^2 s_t, in the span of the score feature
    g = Gaussian(numpy.zeros(2), 0.25 * numpy.eye(2))  # no laplacian_log_prob: the fit uses finite differences
    r = nets(
        g,
        400,
        steps=50,
        rounds=1,
        eps=0.0,
        weights="riemann",
        features="score",
        ridge=0.0,
        n_fit=50,
        backend=backend,
        seed=3,
    )
    theta = [float(m.theta[0]) for m in r.info["models"]]
    sig = [1 / ((1 - t) + t / 0.25) for t in r.info["fit_times"]]
    assert numpy.allclose(theta, [1.5 * s * s for s in sig], rtol=1e-4)
    A = backend.to_numpy(r.log_weights)
    assert A.std() < 1e-3  # deterministic transport: equal weights up to the O(h) quadrature of dF/dt


def test_mlp_drift_divergence_matches_finite_differences(backend):
    from transportkit.interpolants.mlp import init_mlp
    from transportkit.sampling.nets import mlp_drift_div

    xp = backend.xp
    p = init_mlp(3, (16, 16), 3, seed=0, backend=backend)
    rng = numpy.random.default_rng(0)
    x = rng.normal(size=(7, 3))
    t = backend.asarray(numpy.full(7, 0.3))
    _, div = mlp_drift_div(p, t, backend.asarray(x), xp, 2.0, 3.0)
    fd = 0.0
    for j in range(3):
        e = numpy.zeros(3)
        e[j] = 1e-5
        bp = backend.to_numpy(mlp_drift_div(p, t, backend.asarray(x + e), xp, 2.0, 3.0)[0])
        bm = backend.to_numpy(mlp_drift_div(p, t, backend.asarray(x - e), xp, 2.0, 3.0)[0])
        fd = fd + (bp[:, j] - bm[:, j]) / 2e-5
    assert numpy.max(numpy.abs(backend.to_numpy(div) - fd)) < 1e-6


def test_mlp_learner_transports(backend):
    from transportkit.errors import CapabilityError

    g = Gaussian(numpy.zeros(2), 0.25 * numpy.eye(2))
    kw = {"steps": 20, "eps": 0.5, "backend": backend, "seed": 0}
    if backend.value_and_grad is None:
        with pytest.raises(CapabilityError):
            nets(g, 100, rounds=1, learner="mlp", **kw)
        return
    r0 = nets(g, 400, rounds=0, **kw)
    r = nets(
        g,
        400,
        rounds=1,
        learner="mlp",
        features="none",
        train_steps=200,
        hidden=(16, 16),
        batch_size=256,
        lr=5e-3,
        **kw,
    )
    # measured (torch, jax; seeds 0, 1): ESS/n 0.54-0.59 with b = 0, 0.90-0.91 with the PINN-trained MLP; the
    # seed-to-seed spread of ESS/n at n = 400 is ~0.03, so the 0.75 threshold sits > 5 spreads from both
    assert r0.ess / 400 < 0.75 < r.ess / 400
    assert abs(r.log_Z) < 4 * r.log_Z_stderr


def test_resampling_keeps_log_Z_unbiased(backend):
    rng = numpy.random.default_rng(0)
    L = rng.normal(size=(10, 10)) * 0.3
    g = Gaussian(rng.normal(size=10), L @ L.T + 0.5 * numpy.eye(10))
    r = nets(g, 600, steps=30, rounds=0, eps=3.0, resample="systematic", backend=backend, seed=2)
    assert r.info["n_resample"] > 0
    # The reported stderr sums per-epoch delta-method variances and ignores the correlations that resampling
    # creates: over 10 seeds (numpy) this configuration has spread 0.164 against a reported 0.085, mean error
    # -0.06. The tolerance is 4 measured spreads.
    assert abs(r.log_Z) < 4 * 0.164
    lw = backend.to_numpy(r.log_weights)
    assert abs(numpy.log(numpy.mean(numpy.exp(lw - lw.max()))) + lw.max() - r.log_Z) < 1e-9
