"""Föllmer forecasting and multimarginal transport: sampling time per backend with exact fields, and the accuracy of
the forecast ensemble against the exact Gaussian conditional (track_)."""

from __future__ import annotations

import numpy as np

from transportkit.interpolants import forecasting as fc
from transportkit.interpolants import multimarginal as mm

from ._common import BACKENDS, backend_or_skip, block

A = np.array([[0.8, 0.2], [-0.1, 0.9]])
C = np.array([[0.5, 0.1], [0.1, 0.3]])
X0 = np.array([1.0, -0.5])
MEANS = [np.zeros(2), np.array([3.0, 1.0]), np.array([-2.0, 2.0])]
COVS = [np.eye(2), np.array([[0.5, 0.2], [0.2, 0.3]]), np.array([[2.0, -0.5], [-0.5, 1.0]])]


class FollmerSampling:
    """The Föllmer SDE from a point mass (Euler–Maruyama, 100 steps), σ-SDE and optimally retuned g."""

    params = (BACKENDS, [10**3, 10**5], [None, "optimal"])
    param_names = ["backend", "n", "diffusion"]
    timeout = 300

    def setup(self, backend, n, diffusion):
        self.be = backend_or_skip(backend)
        self.drift = fc.exact_drift(fc.FollmerInterpolant("quadratic"), A, C)
        self.x0 = self.be.asarray(X0)
        block(fc.sample(self.drift, self.x0, n, steps=100, diffusion=diffusion, rng=0))  # compile on JAX

    def time_sample_100(self, backend, n, diffusion):
        block(fc.sample(self.drift, self.x0, n, steps=100, diffusion=diffusion, rng=0))

    def peakmem_sample_100(self, backend, n, diffusion):
        block(fc.sample(self.drift, self.x0, n, steps=100, diffusion=diffusion, rng=0))

    def time_forecast_5_lags(self, backend, n, diffusion):
        block(fc.forecast(self.drift, self.x0, 5, n, steps=100, diffusion=diffusion, rng=0))


class FollmerAccuracy:
    """Largest |error| / SE of the ensemble mean and covariance against N(A x0, C) (n = 10^5, 200 steps)."""

    params = ([None, "optimal"], ["linear", "quadratic"])
    param_names = ["diffusion", "beta"]
    timeout = 300

    def track_max_error_in_se(self, diffusion, beta):
        drift = fc.exact_drift(fc.FollmerInterpolant(beta), A, C)
        x = np.asarray(fc.sample(drift, X0, 10**5, steps=200, diffusion=diffusion, rng=1))
        n = x.shape[0]
        zm = np.abs(x.mean(0) - A @ X0) / np.sqrt(np.diag(C) / n)
        zc = np.abs(np.cov(x.T) - C) / np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) / n)
        return float(max(zm.max(), zc.max()))


class MultimarginalTransport:
    """RK4 transport (40 steps) with the exact g of three Gaussians, straight edge and a path via the third vertex."""

    params = (BACKENDS, [10**3, 10**5], ["edge", "via"])
    param_names = ["backend", "n", "path"]
    timeout = 300

    def setup(self, backend, n, path):
        self.be = backend_or_skip(backend)
        self.g = mm.exact_g(list(zip(MEANS, COVS, strict=True)))
        self.path = mm.simplex_path(3, 0, 1) if path == "edge" else mm.simplex_path(3, 0, 1, via=2, bend=1.0)
        self.x = self.be.asarray(np.random.default_rng(0).normal(size=(n, 2)))
        block(mm.transport(self.g, self.x, self.path, steps=40))

    def time_transport_rk4_40(self, backend, n, path):
        block(mm.transport(self.g, self.x, self.path, steps=40))

    def peakmem_transport_rk4_40(self, backend, n, path):
        block(mm.transport(self.g, self.x, self.path, steps=40))
