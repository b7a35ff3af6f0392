"""Scaling out with Dask (docs/scaling.md): SMC islands on GMM40 in this process and on a LocalCluster of 1 and 2
worker processes (weak scaling: two islands per worker, a fixed number of walkers per island), and the cost of
running independent islands one after another here (time per annealing step vs walkers)."""

from __future__ import annotations

import time

from ._common import BACKENDS, backend_or_skip, block


class WeakScaling:
    """Throughput (target evaluations per second) of GMM40 SMC with ``workers`` Dask workers (one thread each),
    2 islands of ``walkers`` walkers per worker, 5 annealing steps."""

    params = ([1, 2], [10**4, 10**5])
    param_names = ["workers", "walkers"]
    timeout = 900
    number = 1
    repeat = 1

    def setup(self, workers, walkers):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise NotImplementedError("dask.distributed not installed") from exc
        from transportkit._target_zoo import GMM40
        from transportkit.sampling.ais import smc

        self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                                    silence_logs=50)  # fmt: skip
        self.client = Client(self.cluster)
        self.K = 2 * workers
        smc(GMM40(), 200 * self.K, steps=2, islands=self.K, rng=0, client=self.client)  # warm the workers up

    def teardown(self, workers, walkers):
        self.client.close()
        self.cluster.close()

    def track_evaluations_per_second(self, workers, walkers):
        from transportkit._target_zoo import GMM40
        from transportkit.sampling.ais import smc

        t0 = time.perf_counter()
        r = smc(GMM40(), walkers * self.K, steps=5, islands=self.K, rng=1, client=self.client)
        return r.info.target_evaluations / (time.perf_counter() - t0)

    track_evaluations_per_second.unit = "evaluations/s"


class IslandsInProcess:
    """GMM40 SMC, 10 islands, 20 steps, in this process: time per annealing step (the islands run one after another,
    each from its own stream)."""

    params = (BACKENDS, [10**3, 10**4])
    param_names = ["backend", "n"]
    timeout = 600

    def setup(self, backend, n):
        from transportkit._target_zoo import GMM40
        from transportkit.sampling.ais import smc

        self.be = backend_or_skip(backend)
        self.t = GMM40()
        block(smc(self.t, n, steps=20, islands=10, backend=self.be, rng=0).x)  # compile / warm up

    def track_seconds_per_step(self, backend, n):
        from transportkit.sampling.ais import smc

        t0 = time.perf_counter()
        block(smc(self.t, n, steps=20, islands=10, backend=self.be, rng=0).x)
        return (time.perf_counter() - t0) / 20

    track_seconds_per_step.unit = "seconds"
