"""FEAT (He et al. 2025, arXiv:2504.11516): learned linear-interpolant escort, stochastic works in both directions
(FB-RND kernel ratio), BAR. Harmonic wells U_i = k_i |x|^2 / 2 in d = 10: Delta F = (d/2) log(k1/k0)."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

import transportkit as tk
from transportkit import free_energy as fe
from transportkit._capabilities import algorithm_test

D, K0, K1 = 10, 1.0, 4.0
feat_mod = importlib.import_module("transportkit.free_energy.feat")
DF = 0.5 * D * math.log(K1 / K0)


def to_np(be, x):
    return np.asarray(be.to_numpy(x))


def _wells(be, n=1000, seed=0):
    rng = np.random.default_rng(seed)
    xa = be.asarray(rng.normal(size=(n, D)) / math.sqrt(K0))
    xb = be.asarray(rng.normal(size=(n, D)) / math.sqrt(K1))
    xp = be.xp

    def Ua(x):
        return 0.5 * K0 * xp.sum(x * x, axis=1)

    def Ub(x):
        return 0.5 * K1 * xp.sum(x * x, axis=1)

    return xa, xb, Ua, Ub


@algorithm_test(fe.feat)
def test_feat_harmonic_wells(backend):
    xa, xb, Ua, Ub = _wells(backend)
    est = fe.feat(xa, xb, Ua, Ub, steps=50, eps=0.5, pairs=5000, rng=1)
    v, se = float(to_np(backend, est.value)), float(to_np(backend, est.stderr))
    assert 0 < se < 0.1 and abs(v - DF) < 4 * se, (v, se, DF)
    d = est.diagnostics
    wf, wr = to_np(backend, d["w_forward"]), to_np(backend, d["w_reverse"])
    # variational bounds E[W_F] >= dF >= -E[W_R] (the dissipation here is ~0.2, many SE of the means)
    assert wf.mean() >= DF >= -wr.mean()
    assert float(to_np(backend, d["upper_bound"])) == pytest.approx(wf.mean())
    # the same path and steps without the escort (b = 0): forward work variance much larger
    be = backend
    escort = feat_mod.fit_linear_escort(xa[:500, ...], xb[:500, ...], be, tk.random.default_rng(2, be), pairs=5000)

    class Unescorted(feat_mod.LinearEscort):
        def velocity(self, t, x):
            return 0.0 * x

    plain = Unescorted(escort.theta, escort.m_a, escort.C_a, escort.m_b, escort.C_b, be)
    wf0, _ = feat_mod.feat_works(plain, xa[500:, ...], xb[500:, ...], Ua, Ub, eps=0.5, steps=50, rng=3)
    assert np.var(to_np(be, wf0)) > 20 * np.var(wf), (np.var(to_np(be, wf0)), np.var(wf))


def test_feat_validation():
    xa, xb, Ua, Ub = _wells(tk.get_backend("numpy"), n=20)
    with pytest.raises(ValueError, match="eps"):
        fe.feat(xa, xb, Ua, Ub, eps=0.0)
    with pytest.raises(ValueError, match="model"):
        fe.feat(xa, xb, Ua, Ub, model="lin")
    with pytest.raises(ValueError, match="dimension"):
        fe.feat(xa, xb[:, :3], Ua, Ub)
    with pytest.raises(TypeError, match="steps"):
        fe.feat(xa, xb, Ua, Ub, steps=2.0)
    with pytest.raises(TypeError, match="energy_b"):
        fe.feat(xa, xb, Ua, None)
    with pytest.raises(ValueError, match="fit_fraction"):
        fe.feat(xa, xb, Ua, Ub, fit_fraction=0.01)
    with pytest.raises(tk.CapabilityError):
        fe.feat(xa, xb, Ua, Ub, model="mlp")


@pytest.mark.parametrize("name", ["torch"])  # jax: same code path, ~40 s of compiles here
def test_feat_mlp_unbiased_for_any_escort(name):
    """A barely trained MLP escort still gives a consistent estimate (FB-RND works are exact for any drift)."""
    if name not in tk.backends.available():
        pytest.skip(f"{name} unavailable")
    be = tk.get_backend(name)
    rng = np.random.default_rng(5)
    d, k0, k1 = 2, 1.0, 3.0
    xa, xb = be.asarray(rng.normal(size=(600, d))), be.asarray(rng.normal(size=(600, d)) / math.sqrt(k1))
    xp = be.xp
    est = fe.feat(xa, xb, lambda x: 0.5 * k0 * xp.sum(x * x, axis=1), lambda x: 0.5 * k1 * xp.sum(x * x, axis=1),
                  model="mlp", hidden=(16,), train_steps=30, steps=30, rng=0)  # fmt: skip
    v, se = float(to_np(be, est.value)), float(to_np(be, est.stderr))
    assert abs(v - 0.5 * d * math.log(k1 / k0)) < 4 * se, (v, se)
