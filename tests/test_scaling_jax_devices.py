"""The walker axis sharded across JAX devices (``tk.get_backend("jax", devices=...)``, ``tk.sample(..., shard=True)``).

The equality checks run in a subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (the flag acts
only before JAX is imported, and this process has imported it): SMC and ODE sampling on 4 CPU devices equal the
one-device run with the same seed within 1e-12, and the outputs are really split across the 4 devices. A sharded
program sums over walkers in another order (per device, then across devices), so equality is to rounding, not to the
bit; 1e-12 leaves a factor ~10^3 above float64 rounding for these short, contracting runs (a Gaussian target: the
MCMC moves shrink differences instead of amplifying them; see docs/scaling_devices.md for multimodal targets).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

pytest.importorskip("jax")

import transportkit as tk

N_DEVICES = 4
TOL = 1e-12

CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import jax
    import transportkit as tk
    from transportkit._backend import scalar_device

    assert len(jax.devices()) == 4, jax.devices()
    out = {}
    one, four = tk.get_backend("jax"), tk.get_backend("jax", devices=4)
    assert four is tk.get_backend("jax", devices="all") and four is not one
    assert tk.get_backend(four, dtype="float64") is four  # re-targeting keeps the placement

    # placement rule: walker arrays split along axis 0, everything else replicated
    x = four.asarray(np.ones((8, 3)))
    v = four.asarray(np.ones(3))
    z = four.rng(0).normal((12, 2))
    out["place_walkers"] = [len(x.addressable_shards), x.addressable_shards[0].data.shape[0]]
    out["place_vector_replicated"] = bool(v.sharding.is_fully_replicated)
    out["draw_shards"] = [s.data.shape[0] for s in z.addressable_shards]
    out["scalar_device_replicated"] = bool(scalar_device(x).is_fully_replicated)
    out["resolve_keeps"] = tk.resolve_backend(x, backend=four) is four

    def shards(a):
        return [a.sharding.spec[0] if len(a.sharding.spec) else None, len({s.device for s in a.addressable_shards}),
                [int(s.data.shape[0]) for s in a.addressable_shards]]

    T = tk.targets.Gaussian(np.zeros(3), 2.0 * np.eye(3))
    kw = dict(method="smc", steps=5, rng=7)
    r1 = tk.sample(T, 64, backend=one, **kw)
    r4 = tk.sample(T, 64, shard=True, **kw)
    out["smc"] = {k: (np.asarray(getattr(r1, k)), np.asarray(getattr(r4, k)))
                  for k in ("x", "log_weights", "log_Z", "log_Z_stderr", "ess")}
    out["smc_shards"] = [shards(r4.x), shards(r4.log_weights)]

    G = tk.targets.GaussianMixture([0.3, 0.7], [[-2.0, 0.0], [2.0, 1.0]], [0.5 * np.eye(2), np.eye(2)])
    f = tk.interpolants.exact_field(tk.Interpolant("linear"), G)
    o1 = tk.sample(f, 64, steps=10, backend=one, rng=3)
    o4 = tk.sample(f, 64, steps=10, backend=four, rng=3)
    out["ode"] = {"x": (np.asarray(o1.x), np.asarray(o4.x))}
    out["ode_shards"] = [shards(o4.x)]
    np.save(sys.argv[1], np.asarray(out, dtype=object), allow_pickle=True)
    """
)


@pytest.fixture(scope="module")
def four_devices(tmp_path_factory):
    """The child's results: one subprocess for the whole module (JAX startup and compiles dominate its time)."""
    path = tmp_path_factory.mktemp("shard") / "out.npy"
    env = dict(os.environ)
    env.update(
        XLA_FLAGS=f"--xla_force_host_platform_device_count={N_DEVICES}", JAX_ENABLE_X64="1", JAX_PLATFORMS="cpu"
    )
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    return np.load(path, allow_pickle=True).item()


def test_placement_rule(four_devices):
    r = four_devices
    assert r["place_walkers"] == [N_DEVICES, 8 // N_DEVICES]
    assert r["place_vector_replicated"] and r["scalar_device_replicated"] and r["resolve_keeps"]
    assert r["draw_shards"] == [12 // N_DEVICES] * N_DEVICES


@pytest.mark.parametrize("run", ["smc", "ode"])
def test_sharded_run_equals_one_device(four_devices, run):
    for name, (a, b) in four_devices[run].items():
        assert a.shape == b.shape, name
        np.testing.assert_allclose(b, a, rtol=0, atol=TOL, err_msg=f"{run}: {name}")


@pytest.mark.parametrize("run", ["smc", "ode"])
def test_outputs_are_split_across_devices(four_devices, run):
    for axis, n_dev, sizes in four_devices[f"{run}_shards"]:
        assert axis == "walkers" and n_dev == N_DEVICES and sizes == [64 // N_DEVICES] * N_DEVICES


# ---- in this process (one device or more): the argument checks --------------------------------------------------
def test_devices_argument_is_checked():
    with pytest.raises(ValueError, match="devices=999 but JAX sees"):
        tk.get_backend("jax", devices=999)
    with pytest.raises(ValueError, match="devices must be an integer >= 1"):
        tk.get_backend("jax", devices=0)
    with pytest.raises(ValueError, match="'all'"):
        tk.get_backend("jax", devices="everything")
    with pytest.raises(TypeError, match="not a JAX device"):
        tk.get_backend("jax", devices=["cpu:0"])
    with pytest.raises(ValueError, match="not both"):
        tk.get_backend("jax", device="cpu", devices=1)
    with pytest.raises(ValueError, match="does not shard"):
        tk.get_backend("numpy", devices=2)


def test_one_device_mesh_and_numpy_integer_count():
    be = tk.get_backend("jax", devices=np.int64(1))
    assert be is tk.get_backend("jax", devices=1) and be is not tk.get_backend("jax")
    assert be.adapter.n_devices == 1 and be.asarray(np.ones((4, 2))).sharding.is_fully_replicated


def test_shard_option_of_tk_sample():
    T = tk.targets.Gaussian.standard(2)
    with pytest.raises(ValueError, match="not both"):
        tk.sample(T, 8, method="rwm", shard=True, device="cpu")
    with pytest.raises(ValueError, match="does not shard"):
        tk.sample(T, 8, method="rwm", shard=True, backend="numpy")
