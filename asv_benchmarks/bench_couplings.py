"""Coupled and inpainting sampling per backend: conditional ODE draws from an inpainting coupling's exact field, and
zero-shot inpainting with operator-valued time (exact Gaussian denoiser); time_ and track_ (accuracy in standard
errors of the conditional mean)."""

from __future__ import annotations

import numpy as np

import transportkit as tk
from transportkit.interpolants import couplings, exact_field
from transportkit.interpolants import operator_time as ot

from ._common import BACKENDS, backend_or_skip, block

D, OBSERVED = 8, (1, 4, 6)


def _problem():
    rng = np.random.default_rng(7)
    B = rng.normal(size=(D, D))
    m, C = rng.normal(size=D), B @ B.T / D + 0.3 * np.eye(D)
    obs = np.zeros(D, bool)
    obs[list(OBSERVED)] = True
    x_obs = m + np.linalg.cholesky(C) @ rng.normal(size=D)
    mis = ~obs
    Coo, Cmo = C[np.ix_(obs, obs)], C[np.ix_(mis, obs)]
    mean = m[mis] + Cmo @ np.linalg.solve(Coo, x_obs[obs] - m[obs])
    cov = C[np.ix_(mis, mis)] - Cmo @ np.linalg.solve(Coo, Cmo.T)
    return m, C, obs, x_obs, mean, cov


class CoupledSampling:
    params = (BACKENDS, [10**3, 10**5])
    param_names = ["backend", "n"]
    timeout = 300

    def setup(self, backend, n):
        self.be = backend_or_skip(backend)
        m, C, obs, x_obs, self.mean, self.cov = _problem()
        self.obs = obs
        data = tk.targets.Gaussian(m, C)
        self.cpl = couplings.inpainting(data, obs.astype(float))
        self.field = exact_field("linear", coupling=self.cpl)
        self.x0, _ = self.cpl.condition(self.be.asarray(x_obs), n=n, rng=0)
        self.given = self.field.given(self.x0)
        self.den = ot.exact_denoiser(data)
        self.x_obs = self.be.asarray(x_obs)
        block(tk.sample(self.given, n, steps=50, backend=self.be).x)  # compile (JAX)
        block(ot.inpaint(self.den, self.x_obs, obs, n, steps=50, rng=0, backend=self.be))

    def time_coupling_conditional_ode_50(self, backend, n):
        block(tk.sample(self.given, n, steps=50, backend=self.be).x)

    def time_operator_time_inpaint_50(self, backend, n):
        block(ot.inpaint(self.den, self.x_obs, self.obs, n, steps=50, rng=0, backend=self.be))

    def _se(self, out):
        x = self.be.to_numpy(out)[:, ~self.obs]
        return float(np.max(np.abs(x.mean(0) - self.mean) / np.sqrt(np.diag(self.cov) / x.shape[0])))

    def track_coupling_mean_error_in_se(self, backend, n):
        return self._se(tk.sample(self.given, n, steps=50, backend=self.be).x)

    def track_inpaint_mean_error_in_se(self, backend, n):
        return self._se(ot.inpaint(self.den, self.x_obs, self.obs, n, steps=50, rng=0, backend=self.be))
