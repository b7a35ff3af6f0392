"""Jarzynski-weighted EBM training (Carbone et al. 2023, arXiv:2305.19414; ALGORITHMS.md §5.6)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import transportkit as tk
from transportkit._capabilities import algorithm_test
from transportkit.sampling import ebm


def to_np(be, x):
    return np.asarray(be.to_numpy(x))


def _quadratic(be):
    xp = be.xp
    return ebm.EnergyModel(lambda p, x: 0.5 * p["k"] * xp.sum(x * x, axis=1), {"k": be.asarray(1.0)})


@algorithm_test(ebm.train_jarzynski)
def test_fixed_theta_ula_bias_removed(backend):
    """U = x^2/2, h = 0.4, 30 ULA steps from N(0, 1): unweighted variance 1/(1 - h/2) = 1.25 (the ULA bias),
    weighted variance 1, ESS/n > 0.9."""
    n, h = 10000, 0.4
    x0 = tk.random.default_rng(0, backend).normal((n, 1))
    x, A = ebm.ula_jarzynski_weights(_quadratic(backend), x0, steps=30, step_size=h, rng=1)
    x, A = to_np(backend, x)[:, 0], to_np(backend, A)
    v_exact = 1.0 / (1.0 - h / 2) - 0.25 * (1 - h) ** 60  # variance after 30 steps from variance 1
    assert abs(x.var() - v_exact) < 4 * math.sqrt(2.0 / n) * v_exact, x.var()
    w = np.exp(A - A.max())
    w /= w.sum()
    ess = 1.0 / np.sum(w * w)
    assert ess / n > 0.9, ess / n
    m2 = np.sum(w * x * x)
    # SE of the self-normalized second moment: sqrt(sum w^2 (x^2 - m2)^2)
    se = math.sqrt(np.sum(w * w * (x * x - m2) ** 2))
    assert abs(m2 - 1.0) < 4 * se and se < 0.02, (m2, se)


def test_train_jarzynski_refuses_without_autodiff():
    with pytest.raises(tk.CapabilityError):
        ebm.train_jarzynski(_quadratic(tk.get_backend("numpy")), np.zeros((4, 1)))


def test_train_jarzynski_validation():
    be = tk.get_backend("numpy")
    with pytest.raises(TypeError, match="energy_model"):
        ebm.train_jarzynski(object(), np.zeros((4, 1)))
    with pytest.raises(ValueError, match="step_size"):
        ebm.train_jarzynski(_quadratic(be), np.zeros((4, 1)), step_size=-1.0)
    with pytest.raises(TypeError, match="steps"):
        ebm.train_jarzynski(_quadratic(be), np.zeros((4, 1)), steps=1.5)


@algorithm_test(ebm.train_jarzynski)
def test_learns_gaussian_width(backend):
    """A one-parameter model U = k x^2/2 trained on N(0, 1/4) data moves k from 1 towards 4."""
    data = tk.random.default_rng(3, backend).normal((4000, 1)) * 0.5
    r = ebm.train_jarzynski(_quadratic(backend), data, steps=150, step_size=0.05, lr=0.05, n_walkers=1000,
                            batch_size=500, rng=2)  # fmt: skip
    k = float(to_np(backend, r.model.params["k"]))
    assert 3.0 < k < 5.0, k
    assert r.walkers.shape == (1000, 1) and r.log_weights.shape == (1000,)
    assert math.isfinite(r.log_Z_ratio)
    # log Z_k / Z_1 = -0.5 log k for this model
    assert abs(r.log_Z_ratio + 0.5 * math.log(k)) < 0.15, (r.log_Z_ratio, k)
