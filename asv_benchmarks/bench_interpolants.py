"""Generative transport with exact interpolant fields: ODE/SDE sampling time and memory per backend, and the
accuracy of the mode weights (track_)."""

from __future__ import annotations

import time

import numpy as np

import transportkit as tk

from ._common import BACKENDS, backend_or_skip, block


def _field(d: int):
    """8-mode mixture in d dimensions (modes on a circle in the first two coordinates, unit-ish covariances)."""
    ang = np.arange(8) * 2 * np.pi / 8
    m = np.zeros((8, d))
    m[:, 0], m[:, 1] = 4 * np.cos(ang), 4 * np.sin(ang)
    w = np.linspace(0.5, 1.5, 8)
    T = tk.targets.GaussianMixture(w / w.sum(), m, 0.2 * np.ones(8))
    return T, tk.interpolants.exact_field(tk.Interpolant("linear"), T)


class TransportSampling:
    params = (BACKENDS, [10**3, 10**5], [2, 64])
    param_names = ["backend", "n", "d"]
    timeout = 300

    def setup(self, backend, n, d):
        self.be = backend_or_skip(backend)
        self.T, self.f = _field(d)
        # compile (JAX) and cache the bound field for exactly the timed shapes
        block(tk.sample(self.f, n, steps=100, solver="rk4", backend=self.be, seed=0).x)
        block(tk.sample(self.f, n, method="sde", steps=100, solver="euler_maruyama", backend=self.be, seed=0).x)

    def time_ode_rk4_100(self, backend, n, d):
        block(tk.sample(self.f, n, steps=100, solver="rk4", backend=self.be, seed=0).x)

    def peakmem_ode_rk4_100(self, backend, n, d):
        block(tk.sample(self.f, n, steps=100, solver="rk4", backend=self.be, seed=0).x)

    def time_sde_em_100(self, backend, n, d):
        block(tk.sample(self.f, n, method="sde", steps=100, solver="euler_maruyama", backend=self.be, seed=0).x)

    def peakmem_sde_em_100(self, backend, n, d):
        block(tk.sample(self.f, n, method="sde", steps=100, solver="euler_maruyama", backend=self.be, seed=0).x)


class TransportPerStepAndFirstCall:
    """Seconds per RK4 step once compiled, and the first call of a fresh field (which compiles the whole run on JAX)."""

    params = (BACKENDS, [10**3, 10**5], [2, 64])
    param_names = ["backend", "n", "d"]
    timeout = 300
    number = 1
    repeat = 1

    def setup(self, backend, n, d):
        self.be = backend_or_skip(backend)

    def track_first_call_s(self, backend, n, d):
        _, f = _field(d)
        t0 = time.perf_counter()
        block(tk.sample(f, n, steps=100, solver="rk4", backend=self.be, seed=0).x)
        return time.perf_counter() - t0

    def track_time_per_step_s(self, backend, n, d):
        _, f = _field(d)
        block(tk.sample(f, n, steps=100, solver="rk4", backend=self.be, seed=0).x)
        t0 = time.perf_counter()
        block(tk.sample(f, n, steps=100, solver="rk4", backend=self.be, seed=1).x)
        return (time.perf_counter() - t0) / 100

    track_first_call_s.unit = "s"
    track_time_per_step_s.unit = "s"


class ModeWeightError:
    """max over modes of |weight error| / binomial SE, n = 20,000, 2-D 8-mode mixture of the docs."""

    params = (["ode", "sde"],)
    param_names = ["method"]
    timeout = 600

    def track_mode_weight_error_in_se(self, method):
        T = tk.interpolants.eight_mode_mixture()
        f = tk.interpolants.exact_field(tk.Interpolant("linear"), T)
        n = 20_000
        kw = dict(steps=100, solver="rk4") if method == "ode" else dict(steps=500, diffusion=1.0)
        x = tk.sample(f, n, method=method, seed=0, **kw).x
        w = T.weights
        frac = np.bincount(T.responsibilities(x).argmax(0), minlength=8) / n
        return float(np.max(np.abs(frac - w) / np.sqrt(w * (1 - w) / n)))

    track_mode_weight_error_in_se.unit = "SE"
