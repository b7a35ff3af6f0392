"""Flow-map training on torch and jax (CapabilityError elsewhere): tiny runs that must lower the objective."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk
from transportkit._capabilities import algorithm_test
from transportkit.flowmaps import losses as L
from transportkit.flowmaps import train


def _target():
    return tk.targets.Gaussian(np.array([1.0, -0.5]), np.array([[0.5, 0.2], [0.2, 0.3]]))


@algorithm_test(train)
def test_distillation_lowers_the_residual_towards_the_exact_map(backend):
    # LMD distillation of the exact field: the Lagrangian residual of the trained map, on fresh batches, is well
    # below that of the untrained network (a learned map, not a memorized batch)
    T = _target()
    interp = tk.Interpolant("linear")
    model = tk.flowmaps.mlp_flow_map(interp, 2, hidden=(16, 16), n_time=1, rng=0, backend=backend)
    teacher = tk.flowmaps.exact_flow_map(interp, T)  # a Field: its velocity is the exact b (cheap to compile)
    res = train(model, interp, T, loss="lmd", teacher=teacher, steps=60, batch_size=64, lr=1e-2, anneal=0.0,
                log_every=10, rng=1)
    assert isinstance(res.model, tk.flowmaps.MLPFlowMap)
    h = res.history["loss"]
    assert h[-1] < 0.5 * h[0]
    rng = np.random.default_rng(2)
    n = 256
    a, b = rng.uniform(size=n), rng.uniform(size=n)
    batch = L.make_batch(interp, *(backend.asarray(v) for v in (rng.normal(size=(n, 2)), T.sample(n, 3),
                                                                np.minimum(a, b), np.maximum(a, b))))
    field = tk.interpolants.exact_field(interp, T)
    before, after = float(L.lmd(model, batch, field)), float(L.lmd(res.model, batch, field))
    assert after < 0.5 * before, (before, after)


@pytest.mark.parametrize("loss", ["lsd", "esd", "psd", "fmm", "diagonal"])
@algorithm_test(train)
def test_every_objective_runs_and_records_history(backend, loss):
    if backend.compiles_loops:
        pytest.skip("smoke test of each objective's code path; on JAX each objective costs a 5-25 s compilation, "
                    "and the JAX path is exercised by the distillation test and benchmarks/flowmaps_mixture.py")
    data = backend.asarray(_target().sample(200, 0))
    res = train(None, "linear", data, loss=loss, steps=3, batch_size=16, log_every=1, rng=0, psd_u="random",
                weighting="learned" if loss == "lsd" else None)
    assert res.history["step"] == [0.0, 1.0, 2.0]
    assert all(np.isfinite(res.history["loss"]))
    x = tk.sample(res.model, 7, method="flow_map", steps=2, rng=0).to_numpy().x
    assert x.shape == (7, 2) and np.all(np.isfinite(x))


def test_training_needs_autodiff_and_valid_options(backend):
    data = backend.asarray(np.zeros((10, 2)))
    if backend.value_and_grad is None:
        with pytest.raises(tk.CapabilityError, match="value_and_grad"):
            train(None, "linear", data, steps=1)
        return
    with pytest.raises(ValueError, match="did you mean 'lsd'"):
        train(None, "linear", data, loss="lsdd", steps=1)
    with pytest.raises(ValueError, match="teacher"):
        train(None, "linear", data, loss="lmd", steps=1)
    if not backend.compiles_loops:  # the alias is resolved before any backend work (spares a JAX compilation)
        with pytest.warns(DeprecationWarning, match="seed"):
            train(None, "linear", data, loss="diagonal", steps=1, seed=0)
