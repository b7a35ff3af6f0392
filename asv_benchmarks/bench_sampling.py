"""Samplers of unnormalized densities: time per annealing step vs walkers and dimension, and log Z accuracy."""

from __future__ import annotations

import numpy

from ._common import BACKENDS, backend_or_skip, block


def _gaussian10():
    from transportkit.targets import Gaussian

    rng = numpy.random.default_rng(0)
    L = rng.normal(size=(10, 10)) * 0.3
    return Gaussian(rng.normal(size=10), L @ L.T + 0.5 * numpy.eye(10))


class StepTime:
    """Five annealing steps of AIS (MALA) and of NETS (b = 0) on ManyWell(d): time / 5 = time per step."""

    params = (BACKENDS, [10**3, 10**5], [2, 32])
    param_names = ["backend", "n", "dim"]
    timeout = 300

    def setup(self, backend, n, dim):
        from transportkit._target_zoo import ManyWell

        self.be = backend_or_skip(backend)
        self.t = ManyWell(dim)
        from transportkit.sampling.ais import ais

        block(ais(self.t, 100, steps=2, backend=self.be, rng=0).x)  # warm-up

    def time_ais_5_steps(self, backend, n, dim):
        from transportkit.sampling.ais import ais

        block(ais(self.t, n, steps=5, backend=self.be, rng=0).x)

    def time_nets_5_steps(self, backend, n, dim):
        from transportkit.sampling.nets import nets

        block(nets(self.t, n, steps=5, rounds=0, backend=self.be, seed=0).x)


class LogZAccuracy:
    """|log Z error| and (reported stderr / spread over seeds) on a d = 10 Gaussian (truth 0)."""

    params = (BACKENDS,)
    param_names = ["backend"]
    timeout = 600

    def setup(self, backend):
        self.be = backend_or_skip(backend)
        self.g = _gaussian10()

    def _runs(self, method):
        from transportkit.sampling.ais import ais
        from transportkit.sampling.nets import nets

        if method == "ais":
            return [ais(self.g, 500, steps=30, backend=self.be, rng=s) for s in range(20)]
        return [
            nets(self.g, 500, steps=30, rounds=1, n_fit=6, features="affine", backend=self.be, seed=s)
            for s in range(20)
        ]

    def track_ais_abs_log_Z_error(self, backend):
        from transportkit.sampling.ais import ais

        return abs(ais(self.g, 2000, steps=100, backend=self.be, rng=0).log_Z)

    def track_nets_abs_log_Z_error(self, backend):
        from transportkit.sampling.nets import nets

        return abs(nets(self.g, 2000, steps=100, features="affine", backend=self.be, seed=0).log_Z)

    def track_ais_stderr_over_spread(self, backend):
        rs = self._runs("ais")
        return float(numpy.sqrt(numpy.mean([r.log_Z_stderr**2 for r in rs])) / numpy.std([r.log_Z for r in rs], ddof=1))

    def track_nets_stderr_over_spread(self, backend):
        rs = self._runs("nets")
        return float(numpy.sqrt(numpy.mean([r.log_Z_stderr**2 for r in rs])) / numpy.std([r.log_Z for r in rs], ddof=1))

    def _smc_ratio(self, islands):
        from transportkit.sampling.ais import smc

        rs = [
            smc(self.g, 500, steps=10, ess_threshold=0.9, islands=islands, backend=self.be, rng=s) for s in range(20)
        ]
        return float(numpy.sqrt(numpy.mean([r.log_Z_stderr**2 for r in rs])) / numpy.std([r.log_Z for r in rs], ddof=1))

    def track_smc_stderr_over_spread(self, backend):
        """SMC with the default islands (5 of 100 walkers): the stderr from the islands' spread."""
        return self._smc_ratio(None)

    def track_smc_one_island_stderr_over_spread(self, backend):
        """SMC with one population: summed per-epoch variances (known to underestimate)."""
        return self._smc_ratio(1)


class GMM40:
    """log Z error and ESS/n on GMM40 with 2000 walkers and 100 steps (numpy)."""

    timeout = 900

    def setup(self):
        from transportkit._target_zoo import GMM40 as T

        self.t = T()

    def track_ais_abs_log_Z_error(self):
        from transportkit.sampling.ais import ais

        return abs(ais(self.t, 2000, steps=100, rng=0).log_Z)

    def track_nets_abs_log_Z_error(self):
        from transportkit.sampling.nets import nets

        return abs(nets(self.t, 2000, steps=100, seed=0).log_Z)

    def track_nets_resampled_abs_log_Z_error(self):
        from transportkit.sampling.nets import nets

        return abs(nets(self.t, 2000, steps=100, rounds=0, eps=10.0, resample="systematic", seed=0).log_Z)

    def track_ais_ess_relative(self):
        from transportkit.sampling.ais import ais

        return ais(self.t, 2000, steps=100, rng=0).ess / 2000

    def track_nets_ess_relative(self):
        """NETS without resampling (b = 0 is what the default training falls back to on GMM40), eps = 10."""
        from transportkit.sampling.nets import nets

        return nets(self.t, 2000, steps=100, rounds=0, eps=10.0, seed=0).ess / 2000

    def _interp(self):
        """NETS along the linear interpolant path, least-squares affine+score drift, eps = 6."""
        import numpy as np

        from transportkit.sampling import InterpolantPath
        from transportkit.sampling.nets import nets
        from transportkit.targets import Gaussian

        path = InterpolantPath(self.t, "linear", Gaussian(np.zeros(2), np.eye(2) * self.t.scale**2))
        return nets(
            self.t, 2000, steps=100, path=path, features="affine+score", n_fit=100, ridge=1e-7, eps=6.0, seed=0
        )

    def track_nets_interp_ess_relative(self):
        return self._interp().ess / 2000

    def track_nets_interp_abs_log_Z_error(self):
        return abs(self._interp().log_Z)


class CompiledRuns:
    """Per-backend time per annealing / MCMC step (steady state: the run's program already compiled on JAX) and the
    first-call time (a fresh target, so JAX traces and compiles the whole run), SMC and MALA on GMM40."""

    params = (BACKENDS, [10**3, 10**4])
    param_names = ["backend", "n"]
    timeout = 600
    steps = 50

    def setup(self, backend, n):
        from transportkit._target_zoo import GMM40 as T

        self.be = backend_or_skip(backend)
        self.t = T()
        self._smc(self.t, n)  # compile / warm up
        self._mala(self.t, n)

    def _smc(self, t, n):
        from transportkit.sampling.ais import smc

        return block(smc(t, n, steps=self.steps, backend=self.be, rng=0).x)

    def _mala(self, t, n):
        from transportkit.sampling.mcmc import mala

        return block(mala(t, n, steps=self.steps, backend=self.be, rng=0).x)

    def _timed(self, fn):
        import time

        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    def track_smc_seconds_per_step(self, backend, n):
        return self._timed(lambda: self._smc(self.t, n)) / self.steps

    def track_mala_seconds_per_step(self, backend, n):
        return self._timed(lambda: self._mala(self.t, n)) / self.steps

    def _peer(self, kind, n):
        """The blackjax peer's configuration (benchmarks/peers/blackjax_smc.py) on Funnel(10): one population, one
        MALA move per step (SMC) or b = 0 (NETS)."""
        from transportkit._target_zoo import Funnel
        from transportkit.sampling.ais import smc
        from transportkit.sampling.nets import nets

        t = self.__dict__.setdefault("funnel", Funnel(10))
        if kind == "smc":
            r = smc(t, n, steps=self.steps, n_mcmc=1, precondition="none", islands=1, backend=self.be, rng=0)
        else:
            r = nets(t, n, steps=self.steps, rounds=0, eps=10.0, resample="systematic", islands=1, backend=self.be,
                     rng=0)  # fmt: skip
        return block(r.x)

    def track_smc_funnel_one_population_seconds_per_step(self, backend, n):
        self._peer("smc", n)
        return self._timed(lambda: self._peer("smc", n)) / self.steps

    def track_nets_funnel_one_population_seconds_per_step(self, backend, n):
        self._peer("nets", n)
        return self._timed(lambda: self._peer("nets", n)) / self.steps

    track_smc_funnel_one_population_seconds_per_step.unit = "seconds"
    track_nets_funnel_one_population_seconds_per_step.unit = "seconds"

    def track_smc_first_call_seconds(self, backend, n):
        from transportkit._target_zoo import GMM40 as T

        return self._timed(lambda: self._smc(T(), n))

    def track_mala_first_call_seconds(self, backend, n):
        from transportkit._target_zoo import GMM40 as T

        return self._timed(lambda: self._mala(T(), n))

    track_smc_seconds_per_step.unit = "seconds"
    track_mala_seconds_per_step.unit = "seconds"
    track_smc_first_call_seconds.unit = "seconds"
    track_mala_first_call_seconds.unit = "seconds"


class SMCBanana:
    """SMC with the defaults on the 2-D banana x1 ~ N(0, 1), x2 | x1 ~ N(x1^2, 0.2) (exact log Z = log(2 pi sqrt 0.2)
    = 1.0332): the largest |log Z error| / reported stderr over 5 seeds (issue 15: 7.7 with one move per
    temperature from N(0, I); benchmarks/smc_banana.py prints the seeds)."""

    timeout = 600

    def track_smc_banana_max_abs_z(self):
        import math
        import warnings

        from transportkit.sampling.ais import smc

        class Banana:
            dim = 2

            def log_prob(self, x):
                u = x[:, 1] - x[:, 0] ** 2
                return -0.5 * x[:, 0] ** 2 - u * u / 0.4

            def grad_log_prob(self, x):
                from array_api_compat import array_namespace

                u = x[:, 1] - x[:, 0] ** 2
                return array_namespace(x).stack([-x[:, 0] + 10.0 * u * x[:, 0], -5.0 * u], axis=1)

        truth = math.log(2 * math.pi * math.sqrt(0.2))
        zs = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for s in range(5):
                r = smc(Banana(), 1000, rng=s)
                zs.append(abs(r.log_Z - truth) / r.log_Z_stderr)
        return max(zs)

    track_smc_banana_max_abs_z.unit = "standard errors"
