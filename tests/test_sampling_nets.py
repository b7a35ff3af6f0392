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
