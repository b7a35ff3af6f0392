"""Exact fields against the closed forms of ALGORITHMS.md §1.7, finite differences and the transport equation."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk


def _mixture(d=2, k=3, seed=0):
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.5, 1.5, k)
    m = 3 * rng.normal(size=(k, d))
    b = rng.normal(size=(k, d, d)) / np.sqrt(d)
    c = b @ b.transpose(0, 2, 1) + 0.3 * np.eye(d)
    return w / w.sum(), m, c


def _reference(I, w, m, c, a0, A0, t, x):  # noqa: E741
    """Direct NumPy transcription of §1.7(b), one component at a time (the referee)."""
    al, be, ga = (float(f(np.array(t))) for f in (I.alpha, I.beta, I.gamma))
    aad, bbd, ggd = (float(f(np.array(t))) for f in (I.alpha_alpha_dot, I.beta_beta_dot, I.gamma_gamma_dot))
    ad, bd = float(I.alpha_dot(np.array(t))), float(I.beta_dot(np.array(t)))
    d = x.shape[1]
    logs, bs, ss, e1 = [], [], [], []
    for wk, mk, ck in zip(w, m, c, strict=True):
        mu = al * a0 + be * mk
        S = al**2 * A0 + be**2 * ck + ga**2 * np.eye(d)
        Si = np.linalg.inv(S)
        diff = x - mu
        logs.append(
            np.log(wk) - 0.5 * np.einsum("ni,ij,nj->n", diff, Si, diff) - 0.5 * np.linalg.slogdet(2 * np.pi * S)[1]
        )
        N = aad * A0 + bbd * ck + ggd * np.eye(d)
        bs.append((ad * a0 if np.any(a0) else 0.0) + bd * mk + diff @ Si @ N)
        ss.append(-diff @ Si)
        e1.append(mk + be * diff @ Si @ ck)
    L = np.stack(logs)
    lse = np.log(np.exp(L - L.max(0)).sum(0)) + L.max(0)
    r = np.exp(L - lse)[:, :, None]
    return lse, (r * np.stack(bs)).sum(0), (r * np.stack(ss)).sum(0), (r * np.stack(e1)).sum(0)


@pytest.mark.parametrize(("name", "gamma"), [("linear", 0), ("linear", "sqrt"), ("trig", "quadratic"), ("vp", 0)])
@pytest.mark.parametrize("t", [0.0, 0.37, 1.0])
def test_mixture_fields_match_closed_form(backend, name, gamma, t):
    I = tk.Interpolant(name, gamma=gamma)  # noqa: E741
    w, m, c = _mixture()
    if gamma == 0:
        base, a0, A0 = None, np.zeros(2), np.eye(2)
    else:
        a0, A0 = np.array([1.0, -0.5]), np.array([[1.5, 0.3], [0.3, 0.8]])
        base = tk.targets.Gaussian(a0, A0)
    f = tk.interpolants.exact_field(
        I, tk.targets.GaussianMixture(backend.asarray(w), backend.asarray(m), backend.asarray(c)), base=base
    )
    x = np.random.default_rng(1).normal(size=(9, 2)) * 2
    xb = backend.asarray(x)
    lse, b, s, e1 = _reference(I, w, m, c, a0, A0, t, x)
    tb = backend.asarray(t)
    np.testing.assert_allclose(backend.to_numpy(f.log_density(tb, xb)), lse, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(f.velocity(tb, xb)), b, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(f.score(tb, xb)), s, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(f.denoiser(tb, xb, "x1")), e1, rtol=1e-9, atol=1e-10)
    # the identity x = alpha E[x0|x] + beta E[x1|x] + gamma E[z|x]
    al, be_, ga = (float(g(np.array(t))) for g in (I.alpha, I.beta, I.gamma))
    rec = al * f.denoiser(tb, xb, "x0") + be_ * f.denoiser(tb, xb, "x1") + ga * f.denoiser(tb, xb, "z")
    np.testing.assert_allclose(backend.to_numpy(rec), x, rtol=1e-9, atol=1e-9)
    assert tk.resolve_backend(f.velocity(tb, xb)).name == backend.name


def test_gaussian_two_sided_closed_form(backend):
    # §1.7(a): b = a' m0 + b' m1 + (aa' C0 + bb' C1 + gg' I) Sigma^{-1} (x - mu)
    rng = np.random.default_rng(3)
    d = 4
    B0, B1 = rng.normal(size=(2, d, d))
    C0, C1 = B0 @ B0.T + np.eye(d), B1 @ B1.T + np.eye(d)
    m0, m1 = rng.normal(size=(2, d))
    I = tk.Interpolant("linear", gamma="sqrt")  # noqa: E741
    f = tk.interpolants.exact_field(I, tk.targets.Gaussian(m1, C1), base=tk.targets.Gaussian(m0, C0))
    t = 0.3
    al, be_, g2 = 1 - t, t, t * (1 - t)
    S = al**2 * C0 + be_**2 * C1 + g2 * np.eye(d)
    x = rng.normal(size=(5, d))
    mu = al * m0 + be_ * m1
    N = al * -1 * C0 + be_ * C1 + (1 - 2 * t) / 2 * np.eye(d)
    want = -m0 + m1 + (x - mu) @ np.linalg.solve(S, N)
    np.testing.assert_allclose(backend.to_numpy(f.velocity(t, backend.asarray(x))), want, rtol=1e-10)
    np.testing.assert_allclose(
        backend.to_numpy(f.score(t, backend.asarray(x))), -np.linalg.solve(S, (x - mu).T).T, rtol=1e-10
    )


@pytest.mark.parametrize(("name", "gamma"), [("linear", 0), ("linear", "sqrt"), ("vp", 0), ("ve", 0)])
def test_transport_equation_divergence_and_score_by_finite_differences(name, gamma):
    # d/dt log rho_t + div b + b . grad log rho_t = 0 ; score = grad log rho; divergence = trace of the Jacobian
    I = tk.Interpolant(name, gamma=gamma)  # noqa: E741
    w, m, c = _mixture(d=3, k=4, seed=5)
    f = tk.interpolants.exact_field(I, tk.targets.GaussianMixture(w, m, c))
    x = np.random.default_rng(2).normal(size=(7, 3)) * 2
    h = 1e-6
    for t in (h, 0.2, 0.6, 1 - h):
        dlog = (f.log_density(t + h, x) - f.log_density(t - h, x)) / (2 * h)
        res = dlog + f.divergence(t, x) + np.sum(f.velocity(t, x) * f.score(t, x), axis=1)
        assert np.max(np.abs(res)) < 1e-5 * (1 + np.max(np.abs(dlog)))
        eye = np.eye(3)
        fd_s = np.stack([(f.log_density(t, x + h * e) - f.log_density(t, x - h * e)) / (2 * h) for e in eye], 1)
        np.testing.assert_allclose(f.score(t, x), fd_s, rtol=1e-5, atol=1e-6)
        jac = np.stack([(f.velocity(t, x + h * e) - f.velocity(t, x - h * e)) / (2 * h) for e in eye], 2)
        np.testing.assert_allclose(f.divergence(t, x), np.trace(jac, axis1=1, axis2=2), rtol=1e-5, atol=1e-6)
        v = np.random.default_rng(0).normal(size=x.shape)
        np.testing.assert_allclose(f.jvp(t, x, v), np.einsum("nij,nj->ni", jac, v), rtol=1e-5, atol=1e-6)


def test_per_point_times_and_drifts(backend):
    w, m, c = _mixture()
    I = tk.Interpolant("linear", gamma="sqrt")  # noqa: E741
    f = tk.interpolants.exact_field(I, tk.targets.GaussianMixture(w, m, c))
    x = backend.asarray(np.random.default_rng(4).normal(size=(6, 2)))
    ts = np.array([0.0, 0.1, 0.5, 0.5, 0.9, 1.0])
    tb = backend.asarray(ts)
    for meth in ("velocity", "score", "divergence", "log_density"):
        per = backend.to_numpy(getattr(f, meth)(tb, x))
        one = np.stack([backend.to_numpy(getattr(f, meth)(float(t), x))[i] for i, t in enumerate(ts)])
        np.testing.assert_allclose(per, one, rtol=1e-12, atol=1e-12)
    eps = lambda t: 0.5 * t  # noqa: E731
    bf = backend.to_numpy(f.drift(0.5, x, eps, "forward"))
    bb = backend.to_numpy(f.drift(0.5, x, eps, "backward"))
    v, s = backend.to_numpy(f.velocity(0.5, x)), backend.to_numpy(f.score(0.5, x))
    np.testing.assert_allclose(bf, v + 0.25 * s, rtol=1e-12)
    np.testing.assert_allclose(bb, v - 0.25 * s, rtol=1e-12)


def test_one_sided_conversions():
    # eta1 = (alpha b - alpha' x)/(alpha beta' - alpha' beta)
    # s = (beta b - beta' x)/(alpha (alpha beta' - alpha' beta))
    w, m, c = _mixture(d=2, k=3)
    for name in ("linear", "trig", "vp"):
        I = tk.Interpolant(name)  # noqa: E741
        f = tk.interpolants.exact_field(I, tk.targets.GaussianMixture(w, m, c))
        x = np.random.default_rng(6).normal(size=(5, 2))
        t = 0.4
        a, b, ad, bd = (float(g(np.array(t))) for g in (I.alpha, I.beta, I.alpha_dot, I.beta_dot))
        v = f.velocity(t, x)
        np.testing.assert_allclose(f.denoiser(t, x, "x1"), (a * v - ad * x) / (a * bd - ad * b), rtol=1e-10)
        np.testing.assert_allclose(f.score(t, x), (b * v - bd * x) / (a * (a * bd - ad * b)), rtol=1e-10)


def test_stable_at_the_ends_and_high_dimension():
    d = 40
    rng = np.random.default_rng(7)
    T = tk.targets.GaussianMixture(np.ones(3), 5 * rng.normal(size=(3, d)), 0.05 * np.ones(3))
    for gamma in (0, "sqrt"):
        f = tk.interpolants.exact_field(tk.Interpolant("linear", gamma=gamma), T)
        x = 10 * rng.normal(size=(4, d))
        for t in (0.0, 1.0):
            for meth in ("velocity", "score", "divergence", "log_density"):
                assert np.all(np.isfinite(getattr(f, meth)(t, x))), (gamma, t, meth)
    np.testing.assert_allclose(f.log_density(1.0, x), T.log_prob(x), rtol=1e-12)


def test_marginal_and_errors():
    w, m, c = _mixture()
    f = tk.interpolants.exact_field("linear", tk.targets.GaussianMixture(w, m, c))
    x = np.random.default_rng(0).normal(size=(4, 2))
    np.testing.assert_allclose(f.marginal(0.3).log_prob(x), f.log_density(0.3, x), rtol=1e-12)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
        f.velocity(1.5, x)
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        f.velocity(0.5, np.zeros((3, 3)))
    with pytest.raises(ValueError, match="dimension"):
        tk.interpolants.exact_field("linear", tk.targets.Gaussian.standard(2), base=tk.targets.Gaussian.standard(3))
    with pytest.raises(TypeError):
        tk.interpolants.exact_field("linear", object())
