"""Schedule design (issue #16): time of the d = 10^4 symmetric-mixture sampling and of the N = 128 spectral
(Gaussian random field) sampling per backend, and their accuracy (track_)."""

from __future__ import annotations

import numpy as np

import transportkit as tk

from ._common import BACKENDS, backend_or_skip, block

D, P, N_SAMPLES = 10_000, 0.8, 2000


class HighDimMixture:
    """§2.4: d = 10^4, p = 0.8, m = 1, sigma = 0.1, n = 2000, Euler; dilated VP schedule (k = 5)."""

    params = (BACKENDS, [10, 50])
    param_names = ["backend", "K"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, backend, K):
        self.be = backend_or_skip(backend)
        self.T = tk.targets.SymmetricMixture(D, P, 1.0, 0.1)
        self.f = tk.interpolants.exact_field(tk.interpolants.dilated_schedule("vp", D, 5.0), self.T)
        block(tk.sample(self.f, N_SAMPLES, steps=K, solver="euler", backend=self.be, seed=0).x)  # compile (JAX)

    def time_sample_euler(self, backend, K):
        block(tk.sample(self.f, N_SAMPLES, steps=K, solver="euler", backend=self.be, seed=0).x)

    def track_plus_fraction_minus_p_in_se(self, backend, K):
        x = tk.sample(self.f, N_SAMPLES, steps=K, solver="euler", backend=self.be, seed=0).x
        frac = self.T.mode_fraction(x)
        return (frac - P) / np.sqrt(P * (1 - P) / N_SAMPLES)

    track_plus_fraction_minus_p_in_se.unit = "standard errors"


class SpectralGRF:
    """§2.5: N = 128 Gaussian random field (s = 3, ell = 1), 16 samples, 5 RK4 steps from spectrum-matched noise."""

    params = (BACKENDS,)
    param_names = ["backend"]
    timeout = 600
    number = 1
    repeat = 3

    def setup(self, backend):
        self.be = backend_or_skip(backend)
        if getattr(self.be.xp, "fft", None) is None:
            raise NotImplementedError("no fft extension")
        law = tk.targets.GaussianRandomField(128, 3.0, 1.0)
        self.f = tk.interpolants.spectral_field("linear", law, law)
        block(tk.sample(self.f, 16, steps=5, solver="rk4", backend=self.be, seed=0).x)

    def time_sample_rk4_5(self, backend):
        block(tk.sample(self.f, 16, steps=5, solver="rk4", backend=self.be, seed=0).x)

    def track_max_bin_error_vs_exact_map(self, backend):
        s = tk.sample(self.f, 16, steps=5, solver="rk4", backend=self.be, seed=0, return_path=True)
        _, e = tk.interpolants.energy_spectrum(s.x)
        _, e_ex = tk.interpolants.energy_spectrum(self.f.flow_map(s.info["path"][0, ...]))
        return float(np.max(np.abs(self.be.to_numpy(e) / self.be.to_numpy(e_ex) - 1)))

    track_max_bin_error_vs_exact_map.unit = "relative"
