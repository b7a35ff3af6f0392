"""Islands, chunks and bootstrap blocks as Dask tasks (``client=``): the same numbers as in this process, to the bit
on NumPy; a worker killed mid-run costs a retry, never an island; an island that keeps failing is an error naming
it. One 2-worker LocalCluster (processes) for the module, closed at the end."""

from __future__ import annotations

import os
import signal
import sys

import numpy as np
import pytest

import transportkit as tk
from transportkit._dask import TaskLostError
from transportkit._target_zoo import GMM40
from transportkit.sampling.ais import smc
from transportkit.sampling.nets import nets, sample_with_drift, train

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def client():
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    cluster = distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, silence_logs=50
    )
    c = distributed.Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def _on_worker() -> bool:
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


class KillOnce(GMM40):
    """GMM40 whose first evaluation on a worker kills that worker's process (SIGKILL), once per flag file."""

    def __init__(self, flag: str):
        super().__init__()
        self.flag = flag

    def _log_prob(self, x, be):
        if _on_worker() and not os.path.exists(self.flag):
            with open(self.flag, "w") as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)
        return super()._log_prob(x, be)


class AlwaysFails(GMM40):
    def _log_prob(self, x, be):
        if _on_worker():
            raise RuntimeError("this target fails on every worker")
        return super()._log_prob(x, be)


def _same_samples(a, b):
    assert np.array_equal(a.x, b.x)
    assert np.array_equal(a.log_weights, b.log_weights)
    assert a.log_Z == b.log_Z and a.log_Z_stderr == b.log_Z_stderr and a.ess == b.ess
    assert a.info.log_Z_islands == b.info.log_Z_islands


def test_smc_gmm40_islands_on_the_cluster_are_the_islands_here(client):
    here = smc(GMM40(), 800, steps=10, islands=8, rng=3)
    there = tk.sample(GMM40(), 800, method="smc", steps=10, islands=8, rng=3, client=client)
    _same_samples(here, there)
    assert there.info.islands == 8 and len(there.info.island_info) == 8


def test_ode_in_four_chunks_on_the_cluster(client):
    g = tk.targets.Gaussian([1.0, -1.0], [[2.0, 0.3], [0.3, 1.0]])
    f = tk.interpolants.exact_field(tk.Interpolant("linear"), g)
    here = tk.sample(f, 1001, method="ode", steps=20, chunks=4, rng=5)
    there = tk.sample(f, 1001, method="ode", steps=20, chunks=4, rng=5, client=client)
    assert here.x.shape == (1001, 2) and np.array_equal(here.x, there.x)
    sde = tk.sample(f, 400, method="sde", steps=20, chunks=4, rng=5, diffusion=lambda t: 1.0 - t)
    assert np.array_equal(sde.x, tk.sample(f, 400, method="sde", steps=20, chunks=4, rng=5,
                                            diffusion=lambda t: 1.0 - t, client=client).x)  # fmt: skip


def test_bar_bootstrap_on_the_cluster(client):
    rng = np.random.default_rng(0)
    wf, wr = rng.normal(1.0, 1.0, 300), rng.normal(-0.5, 1.0, 250)
    here = tk.free_energy.bar(wf, wr, bootstrap=40, rng=7)
    there = tk.free_energy.bar(wf, wr, bootstrap=40, rng=7, client=client)
    assert float(here.value) == float(there.value) and float(here.stderr) == float(there.stderr)
    # the bootstrap spread is an estimate of the asymptotic stderr: within 40% at B = 40 (its relative sd ~ 11%)
    assert abs(float(there.stderr) / float(there.diagnostics.stderr_asymptotic) - 1) < 0.45


def test_a_killed_worker_costs_a_retry_not_an_island(client, tmp_path):
    flag = str(tmp_path / "killed")
    here = smc(GMM40(), 800, steps=10, islands=8, rng=11)
    there = smc(KillOnce(flag), 800, steps=10, islands=8, rng=11, client=client)
    assert os.path.exists(flag)  # a worker process was killed mid-run
    _same_samples(here, there)
    client.wait_for_workers(2, timeout=60)


def test_an_island_that_keeps_failing_is_named(client):
    with pytest.raises(TaskLostError, match=r"island \d of 8 was lost"):
        smc(AlwaysFails(), 800, steps=5, islands=8, rng=0, client=client)


def test_client_needs_tasks(client):
    with pytest.raises(ValueError, match="islands >= 2"):
        smc(GMM40(), 800, steps=5, islands=1, client=client)
    with pytest.raises(TypeError, match=r"client must be a dask\.distributed\.Client"):
        smc(GMM40(), 800, steps=5, islands=2, client="tcp://localhost:8786")
    with pytest.raises(ValueError, match="give chunks"):
        tk.sample(tk.interpolants.exact_field(tk.Interpolant("linear"), tk.targets.Gaussian([0.0], [[1.0]])), 10,
                  method="ode", client=client)  # fmt: skip
    with pytest.raises(ValueError, match="give bootstrap"):
        tk.free_energy.bar(np.ones(5), np.ones(5), client=client)


def _same_nets(a, b):
    assert np.array_equal(a.x, b.x)
    assert np.array_equal(a.log_weights, b.log_weights)
    assert a.log_Z == b.log_Z and a.log_Z_stderr == b.log_Z_stderr and a.ess == b.ess
    for key in ("log_Z_islands", "n_resample", "islands", "nonfinite_walkers", "target_evaluations"):
        assert a.info[key] == b.info[key], key


def test_nets_islands_on_the_cluster_are_the_islands_here(client):
    # training runs here; the final run's 4 islands run on the 2 workers with the trained drift's coefficients
    g = tk.targets.Gaussian([1.5, -1.0], [[0.5, 0.1], [0.1, 0.8]])
    kw = {"steps": 10, "rounds": 1, "n_train": 200, "features": "affine", "resample": "systematic", "islands": 4,
          "ess_threshold": 1.0, "rng": 3}  # fmt: skip
    here = nets(g, 400, **kw)
    there = tk.sample(g, 400, method="nets", client=client, **kw)
    assert here.info["chosen_round"] == 1 and here.info["models"] is not None  # a learned drift travelled, not b = 0
    assert here.info["islands"] == 4 and len(here.info["log_Z_islands"]) == 4 and here.info["n_resample"] > 0
    _same_nets(here, there)
    # a TrainedDrift given by the caller, and a user drift (pickled by value), travel the same way
    drift = train(g, n_train=200, steps=10, rounds=1, features="affine", rng=1)
    run = {"steps": 10, "resample": "systematic", "islands": 4, "rng": 4}
    _same_nets(sample_with_drift(g, 400, drift, **run), sample_with_drift(g, 400, drift, client=client, **run))
    _same_nets(sample_with_drift(g, 400, _half_score, **run),
               sample_with_drift(g, 400, _half_score, client=client, **run))  # fmt: skip


def _half_score(t, x):
    return -0.5 * x, -0.5 * x.shape[1]


def test_nets_client_needs_islands(client):
    g = tk.targets.Gaussian([0.0], [[1.0]])
    with pytest.raises(ValueError, match="islands >= 2"):
        nets(g, 400, steps=5, rounds=0, client=client)
    with pytest.raises(ValueError, match="islands >= 2"):
        nets(g, 400, steps=5, rounds=0, resample="systematic", islands=1, client=client)
    with pytest.raises(TypeError, match=r"client must be a dask\.distributed\.Client"):
        sample_with_drift(g, 400, steps=5, resample="systematic", islands=2, client=object())
    with pytest.raises(TaskLostError, match=r"island \d of 4 was lost"):
        nets(AlwaysFails(), 400, steps=3, rounds=0, resample="systematic", islands=4, rng=0, client=client)


def test_a_target_used_on_a_device_backend_still_travels():
    # the per-backend caches (bound targets, converted parameters) hold device objects; a target is pickled without
    # them (they are rebuilt on first use), so that NETS, which trains here first, can ship it to the workers
    import cloudpickle

    pytest.importorskip("jax")
    g = tk.targets.Gaussian([1.5, -1.0], [[0.5, 0.1], [0.1, 0.8]])
    x = np.array([[0.0, 0.0], [1.0, -2.0]])
    before = g.log_prob(x)
    g.bind(tk.get_backend("jax"))
    g2 = cloudpickle.loads(cloudpickle.dumps(g))
    assert np.array_equal(g2.log_prob(x), before)
