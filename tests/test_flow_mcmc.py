"""Flow-assisted MCMC (Gabrié, Rotskoff & Vanden-Eijnden 2022; ALGORITHMS.md §5.7) on the 1-D phi^4 field."""

from __future__ import annotations

import math

import numpy as np
import pytest

import transportkit as tk
from transportkit._capabilities import algorithm_test
from transportkit.sampling import flow_mcmc as fm


def to_np(be, x):
    return np.asarray(be.to_numpy(x))


def _run(backend, flow, n=256, sweeps=100):
    t = fm.Phi4Field(32, beta=20.0, b=0.0)
    sign = np.where(np.arange(n) < n // 2, 1.0, -1.0)[:, None]
    x0 = backend.asarray(0.9 * sign * np.ones((n, 32)))
    xp = backend.xp
    r = tk.sample(t, n, method="flow_mcmc", flow=flow, sweeps=sweeps, local_steps=5, x0=x0,
                  record=lambda x: xp.mean(x, axis=1), rng=0, backend=backend)  # fmt: skip
    tr = to_np(backend, r.info.trace)  # (sweeps, n): magnetization per walker
    plus = (tr[sweeps // 2 :, : n // 2] > 0).mean(axis=0)  # chains started in +: fraction of time in +
    return r, plus


@algorithm_test(fm.flow_mcmc)
def test_flow_moves_balance_the_two_modes(backend):
    if backend.name in ("jax", "torch"):
        pytest.skip("same Array-API code as numpy; eager small linalg (EM fit) is slow on this shared CPU (30 s+)")
    r, plus = _run(backend, "gmm")
    f = plus.mean()
    se = plus.std(ddof=1) / math.sqrt(plus.size)
    ratio, se_ratio = f / (1 - f), se / (1 - f) ** 2
    assert abs(ratio - 1) < 4 * se_ratio and se_ratio < 0.5, (ratio, se_ratio)
    assert 0.02 < r.info.flow_acceptance < 1
    # without flow moves every chain stays in its start mode
    _, plus0 = _run(backend, None, sweeps=30)
    assert plus0.min() == 1.0


def test_flow_mcmc_validation():
    t = fm.Phi4Field(8)
    with pytest.raises(TypeError, match="flow"):
        tk.sample(t, 4, method="flow_mcmc", flow=object())
    with pytest.raises(ValueError, match="flow"):
        tk.sample(t, 4, method="flow_mcmc", flow="gmn")
    with pytest.raises(TypeError, match="sweeps"):
        tk.sample(t, 4, method="flow_mcmc", sweeps=2.5)
    with pytest.raises(ValueError, match="x0"):
        tk.sample(t, 4, method="flow_mcmc", x0=np.zeros((3, 8)))


def test_gaussian_mixture_flow_fits_two_clusters():
    be = tk.get_backend("numpy")
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-3, 0.5, (500, 2)), rng.normal(3, 1.0, (500, 2))])
    g = fm.GaussianMixtureFlow(2)
    g.fit(x, tk.random.default_rng(1, be))
    lp = g.log_prob(x)
    ref = np.log(0.5 * np.exp(-((x + 3) ** 2).sum(1) / 0.5) / (2 * np.pi * 0.25)
                 + 0.5 * np.exp(-((x - 3) ** 2).sum(1) / 2) / (2 * np.pi))  # fmt: skip
    assert abs(lp.mean() - ref.mean()) < 0.05
    y = g.sample(4000, tk.random.default_rng(2, be))
    assert abs((y[:, 0] > 0).mean() - 0.5) < 4 * 0.5 / math.sqrt(4000)


def test_block_flow_is_the_product_over_blocks():
    be = tk.get_backend("numpy")
    rng = np.random.default_rng(1)
    base = fm.GaussianMixtureFlow(2)
    base.fit(rng.normal(size=(400, 2)) + np.array([2.0, 0.0]) * (rng.uniform(size=(400, 1)) < 0.5),
             tk.random.default_rng(0, be))  # fmt: skip
    bf = fm.BlockFlow(base, 2, 6)
    x = rng.normal(size=(5, 6))
    ref = sum(base.log_prob(x[:, 2 * j : 2 * j + 2]) for j in range(3))
    np.testing.assert_allclose(bf.log_prob(x), ref, rtol=1e-12)
    assert bf.sample(7, tk.random.default_rng(3, be)).shape == (7, 6)
    with pytest.raises(ValueError, match="blocks"):
        fm.BlockFlow(base, 4, 6)


def test_flow_mcmc_block_proposal_log_Z_manywell():
    """ManyWell(8) (4 double wells, 16 modes): a 2-D mixture shared by the 4 coordinate pairs (blocks=2) gives an
    importance-sampling log Z within 4 SE of the truth, with a small SE; one 8-D two-component mixture fitted to the
    same walkers misses most of the 16 modes and warns (benchmarks/manywell_flow_mcmc.py: ManyWell(32))."""
    t = tk.targets.ManyWell(8)
    kw = {"method": "flow_mcmc", "sweeps": 20, "local_steps": 5, "train_every": 5, "log_Z_samples": 4000,
          "backend": "numpy"}  # fmt: skip
    r = tk.sample(t, 200, blocks=2, components=6, rng=0, **kw)
    assert abs(r.log_Z - t.log_Z) < 4 * r.log_Z_stderr and r.log_Z_stderr < 0.05, (r.log_Z - t.log_Z, r.log_Z_stderr)
    assert r.info.importance_ess > 0.3 * 4000
    with pytest.warns(tk.errors.DegenerateWeightsWarning, match="log Z"):
        tk.sample(t, 200, components=2, rng=0, **kw)
    assert tk.sample(t, 20, blocks=2, sweeps=2, backend="numpy", rng=0, method="flow_mcmc").log_Z is None


def test_flow_mcmc_block_validation():
    t = tk.targets.ManyWell(8)
    with pytest.raises(ValueError, match="blocks"):
        tk.sample(t, 4, method="flow_mcmc", blocks=3, backend="numpy")
    with pytest.raises(TypeError, match="blocks"):
        tk.sample(t, 4, method="flow_mcmc", blocks=2.5, backend="numpy")
    with pytest.raises(ValueError, match="log_Z_samples"):
        tk.sample(t, 4, method="flow_mcmc", log_Z_samples=-1, backend="numpy")
