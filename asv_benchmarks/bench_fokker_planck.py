"""Probability flows of Fokker–Planck equations (transportkit.fokker_planck): SBTM time per step vs the number of
system particles N (dimension 2N) per backend, the entropy-production estimate, and track_ of the SBTM entropy error
on the harmonic trap (issue 19)."""

from __future__ import annotations

from ._common import BACKENDS, backend_or_skip, block


class SBTMStep:
    """Time per SBTM step (Heun: two closed-form score fits) for n = 2000 samples of N particles in d = 2;
    whole runs of 20 steps (one compiled program on JAX), the compilation excluded by a warm-up run."""

    params = (BACKENDS, [5, 25, 50])
    param_names = ["backend", "N"]
    timeout = 600

    def setup(self, backend, N):
        import transportkit as tk

        be = backend_or_skip(backend)
        self.fp = tk.fokker_planck
        self.trap = self.fp.harmonic_trap(n_particles=N, d=2)
        self.x0 = be.asarray(self.trap.sample0(2000, rng=0))
        self._run()  # warm-up / compile

    def _run(self):
        t = self.trap
        return block(self.fp.sbtm(t.drift, t.D, self.x0, (0.0, 0.02), steps=20, div_drift=t.divergence, rng=1).x)

    def time_sbtm_20_steps(self, backend, N):
        self._run()


class EntropyProduction:
    """Π from 10^4 OU samples (d = 4) with a learned score (8 replicas x 3 folds of closed-form fits)."""

    params = (BACKENDS,)
    param_names = ["backend"]

    def setup(self, backend):
        import numpy as np

        import transportkit as tk

        be = backend_or_skip(backend)
        self.fp = tk.fokker_planck
        B = np.array([[1.0, 1.0, 0.0, 0.0], [-1.0, 1.0, 0.5, 0.0], [0.0, -0.5, 1.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
        self.ou = self.fp.ornstein_uhlenbeck(B)
        self.x = be.asarray(self.ou.sample(10_000, rng=0))

    def time_learned_score(self, backend):
        block(self.fp.entropy_production(self.x, self.ou.drift, 1.0, rng=1).value)

    def track_error_in_stderrs(self, backend):
        e = self.fp.entropy_production(self.x, self.ou.drift, 1.0, rng=1)
        return abs(float(e.value) - self.ou.entropy_production) / float(e.stderr)
