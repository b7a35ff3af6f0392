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
