"""High-dimensional exact models (ALGORITHMS.md §1.7(c), §2.3, §2.4): the O(n d) symmetric-mixture and Curie-Weiss
fields against brute-force formulas in small d, the targets, the exact Lipschitz rule and the geodesic schedule."""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pytest

import transportkit as tk
from transportkit.interpolants import dilated_schedule, geodesic_schedule, lipschitz


def _pair(d=3, p=0.3, m=0.7, sigma=0.5):
    T = tk.targets.SymmetricMixture(d, p, m, sigma)
    G = tk.targets.GaussianMixture(np.array([p, 1 - p]), np.stack([m * np.ones(d), -m * np.ones(d)]), sigma**2)
    return T, G


@pytest.mark.parametrize("sched", ["vp", "linear", "dilated_vp", "dilated_ve"])
def test_symmetric_mixture_field_equals_general_mixture_field(backend, sched):
    d = 3
    T, G = _pair(d)
    interp = {"dilated_vp": dilated_schedule("vp", d, 1.0), "dilated_ve": dilated_schedule("ve", d, 1.0)}.get(
        sched, sched)
    f, g = tk.interpolants.exact_field(interp, T), tk.interpolants.exact_field(interp, G)
    rng = np.random.default_rng(0)
    t, x, v = rng.uniform(0.05, 0.95, 20), rng.normal(size=(20, d)), rng.normal(size=(20, d))
    tb, xb = backend.asarray(t), backend.asarray(x)
    for name in ("velocity", "score", "log_density", "divergence"):
        np.testing.assert_allclose(backend.to_numpy(getattr(f, name)(tb, xb)), getattr(g, name)(t, x),
                                   rtol=1e-10, atol=1e-12, err_msg=name)
    for which in ("x0", "x1", "z"):
        np.testing.assert_allclose(backend.to_numpy(f.denoiser(tb, xb, which)), g.denoiser(t, x, which),
                                   rtol=1e-10, atol=1e-12, err_msg=which)
    np.testing.assert_allclose(backend.to_numpy(f.jvp(tb, xb, backend.asarray(v))), g.jvp(t, x, v), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(f.velocity(0.4, xb)), g.velocity(0.4, x), rtol=1e-10, atol=1e-12)


def test_symmetric_mixture_target():
    T, G = _pair()
    x = np.random.default_rng(1).normal(size=(10, 3))
    np.testing.assert_allclose(T.log_prob(x), G.log_prob(x), rtol=1e-12)
    np.testing.assert_allclose(T.grad_log_prob(x), G.grad_log_prob(x), rtol=1e-10, atol=1e-12)
    n = 4000
    frac = T.mode_fraction(T.sample(n, rng=0))
    assert abs(frac - 0.3) < 4 * math.sqrt(0.3 * 0.7 / n)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        T.sample(2, seed=0)
    assert any(issubclass(i.category, DeprecationWarning) for i in w)


def test_target_arguments_are_checked():
    with pytest.raises(ValueError, match="p must be in"):
        tk.targets.SymmetricMixture(10, 1.0)
    with pytest.raises(TypeError, match="d must be an integer"):
        tk.targets.SymmetricMixture(2.5)
    with pytest.raises(ValueError, match="sigma must be > 0"):
        tk.targets.SymmetricMixture(10, 0.5, 1.0, 0.0)
    with pytest.raises(ValueError, match="beta must be >= 0"):
        tk.targets.CurieWeiss(10, -1.0)
    with pytest.raises(ValueError, match="s must be >= 0"):
        tk.targets.GaussianRandomField(16, -1.0)
    with pytest.raises(TypeError, match="n must be an integer"):
        tk.targets.SymmetricMixture(10).sample(2.0)
    assert tk.targets.SymmetricMixture(np.int64(10), np.float64(0.4)).dim == 10


def test_fields_are_order_n_d_at_d_ten_thousand(backend):
    """d = 10^4: velocity and drift need no d x d array (an (n, d, d) one would be 8 GB here)."""
    d, n = 10_000, 50
    T = tk.targets.SymmetricMixture(d, 0.8, 1.0, 0.1)
    f = tk.interpolants.exact_field(dilated_schedule("vp", d, 5.0), T)
    x = T.sample(n, rng=0, backend=backend)
    v = f.velocity(0.7, x)
    assert tuple(v.shape) == (n, d)
    np.testing.assert_allclose(backend.to_numpy(f.drift(0.7, x, 0.5)).sum(), backend.to_numpy(
        f.velocity(0.7, x) + 0.5 * f.score(0.7, x)).sum(), rtol=1e-12)


def test_curie_weiss_field_against_enumeration(backend):
    d, beta_cw, h = 3, 2.0, 0.4
    T = tk.targets.CurieWeiss(d, beta_cw, h)
    assert abs(T.m - math.tanh(beta_cw * T.m)) < 1e-14 and abs(T.m - 0.957504) < 1e-6
    # brute force: rho_t = sum_sigma P(sigma) N(beta sigma, alpha^2 I),
    # b = sum_sigma r_sigma [beta' sigma + a'/a (x - beta sigma)]
    sig = np.array(list(itertools.product([-1.0, 1.0], repeat=d)))
    wp = math.exp(h * T.m) / (2 * math.cosh(h * T.m))
    P = wp * np.prod((1 + T.m * sig) / 2, axis=1) + (1 - wp) * np.prod((1 - T.m * sig) / 2, axis=1)
    np.testing.assert_allclose(np.exp(T.log_prob(sig)), P, rtol=1e-12)
    interp = tk.Interpolant("vp")
    f = tk.interpolants.exact_field(interp, T)
    rng = np.random.default_rng(2)
    t, x = rng.uniform(0.1, 0.9, 15), rng.normal(size=(15, d))
    a, b, ad, bd = (getattr(interp, k)(t)[:, None] for k in ("alpha", "beta", "alpha_dot", "beta_dot"))
    logw = np.log(P)[None, :] - ((x[:, None, :] - b[:, :, None] * sig[None]) ** 2).sum(-1) / (2 * a**2)
    r = np.exp(logw - logw.max(1, keepdims=True))
    r /= r.sum(1, keepdims=True)
    eta = r @ sig
    want = ad / a * x + (bd - ad / a * b) * eta
    np.testing.assert_allclose(backend.to_numpy(f.velocity(backend.asarray(t), backend.asarray(x))), want,
                               rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(f.denoiser(backend.asarray(t), backend.asarray(x))), eta, rtol=1e-9,
                               atol=1e-12)


def test_exact_lipschitz_rule_against_monte_carlo():
    """The 1-D quadrature of E||grad b||^2 for the symmetric mixture agrees with a Monte Carlo estimate over the
    equivalent general mixture within 4 standard errors (at a few times)."""
    T, G = _pair(d=4, p=0.3, m=0.8, sigma=0.6)
    f, g = tk.interpolants.exact_field("vp", T), tk.interpolants.exact_field("vp", G)
    ts = np.array([0.3, 0.6, 0.9])
    ms, sup = f._lipschitz_exact(ts)
    n = 20_000
    for i, t in enumerate(ts):
        x = g.marginal(t).sample(n, 3 + i)
        J = np.stack([g.jvp(t, x, np.broadcast_to(e, x.shape)) for e in np.eye(4)], axis=-1)
        s2 = np.linalg.svd(J, compute_uv=False)[:, 0] ** 2
        assert abs(ms[i] - s2.mean()) < 4 * s2.std() / math.sqrt(n) + 1e-9, (t, ms[i], s2.mean())
        assert sup[i] >= math.sqrt(s2.max()) - 1e-9


def test_geodesic_schedule_minimizes_a2_among_vp_schedules():
    T = tk.targets.SymmetricMixture(200, 0.3, 1.0, 1.0)
    geo = geodesic_schedule(T, nodes=801)
    b = geo.beta(np.linspace(0, 1, 101))
    assert b[0] == 0 and abs(b[-1] - 1) < 1e-12 and np.all(np.diff(b) >= 0)
    a2 = {name: lipschitz(tk.interpolants.exact_field(s, T), steps=200).A2
          for name, s in (("geo", geo), ("vp", tk.Interpolant("vp")), ("cosine", tk.Interpolant("cosine")),
                          ("dilated", dilated_schedule("vp", 200, 3.0)))}
    assert a2["geo"] < min(a2["vp"], a2["cosine"], a2["dilated"]), a2
    sur = geodesic_schedule(T, surrogate=True)
    np.testing.assert_allclose(sur.beta(np.array([0.5])), [math.sqrt(-math.log(1 - 0.5 * (1 - math.exp(-200)))
                                                                      / 200)], rtol=1e-12)
    with pytest.raises(TypeError, match="SymmetricMixture"):
        geodesic_schedule(tk.targets.Gaussian(np.zeros(2), np.eye(2)))


def test_denoiser_and_jvp_have_one_home_on_field():
    """``Field.denoiser`` checks ``which`` against the field's ``denoisers`` before any work; a field without a
    closed-form denoiser says so; ``Field.jvp`` is the bound field's (analytic here) for every field."""
    from transportkit.errors import CapabilityError

    f = tk.interpolants.exact_field(tk.Interpolant("vp"), tk.targets.CurieWeiss(3, 2.0, 0.4))
    t, x = np.full(4, 0.5), np.random.default_rng(0).normal(size=(4, 3))
    with pytest.raises(ValueError, match=r"which must be one of 'x1'; got 'z'"):
        f.denoiser(t, x, "z")
    with pytest.raises(ValueError, match="did you mean 'x1'"):
        f.denoiser(t, x, "x_1")
    with pytest.raises(CapabilityError, match="ConditionedField has no closed-form denoiser"):
        f.given(x).denoiser(t, x)
    v = np.ones_like(x)
    np.testing.assert_allclose(f.jvp(t, x, v), f.bind(tk.get_backend("numpy")).jvp(t, x, v), rtol=1e-12)
