"""On-policy stochastic optimal control (Hua, Laurière & Vanden-Eijnden 2024, arXiv:2410.05163; ALGORITHMS.md
§11.1) and the Schrödinger–Föllmer sampler built on it."""

from __future__ import annotations

import math

import numpy as np
import pytest

import transportkit as tk
from transportkit._capabilities import algorithm_test

A, SIG, Q, GT, T = 0.5, 1.0, 1.0, 2.0, 1.0


def _lq(be):
    xp = be.xp

    def drift(t, x):
        return A * x

    def run(t, x):
        return 0.5 * Q * xp.sum(x * x, axis=1)

    def term(x):
        return 0.5 * GT * xp.sum(x * x, axis=1)

    def x0(n, gen):
        return gen.normal((n, 1))

    return drift, run, term, x0


def _riccati(ts):
    """-P' = 2 a P - sigma^2 P^2 + q, P(T) = g_T, by RK4 backward on a fine grid; u* = -sigma P x."""
    f = lambda P: 2 * A * P - SIG**2 * P * P + Q  # noqa: E731  dP/d(T - t)
    m = 20000
    h = T / m
    P, out, grid = GT, {}, np.linspace(T, 0, m + 1)
    for i in range(m + 1):
        out[round(grid[i], 8)] = P
        k1 = f(P)
        k2 = f(P + 0.5 * h * k1)
        k3 = f(P + 0.5 * h * k2)
        k4 = f(P + h * k3)
        P = P + h * (k1 + 2 * k2 + 2 * k3 + k4) / 6
    return np.array([out[round(t, 8)] for t in ts])


@algorithm_test(tk.control.on_policy)
def test_surrogate_gradient_matches_finite_differences(backend):
    drift, run, term, x0 = _lq(backend)
    ctrl = tk.control.linear_feedback(1, 0, backend=backend)
    ctrl.params["K"] = backend.asarray([[[-1.0]]])
    res = tk.control.surrogate_gradient(drift, SIG, run, term, T, ctrl, x0=x0, steps=20, n_paths=2000, batches=10,
                                        rng=0)
    assert isinstance(res, tk.control.SurrogateGradient) and res.J_se > 0
    _, _, g, g_se = res
    # central difference of J in K with common random numbers, many paths
    delta, n = 0.05, 20000
    costs = []
    for s in (+1, -1):
        c = tk.control.linear_feedback(1, 0, backend=backend)
        c.params["K"] = backend.asarray([[[-1.0 + s * delta]]])
        gen = tk.random.default_rng(7, backend)
        paths = tk.control.simulate(drift, SIG, run, term, T, c, x0, steps=20, n_paths=n, gen=gen, be=backend)
        costs.append(np.asarray(backend.to_numpy(paths.cost)))
    d = (costs[0] - costs[1]) / (2 * delta)
    fd, fd_se = d.mean(), d.std() / math.sqrt(n)
    gs = float(np.asarray(backend.to_numpy(g["K"])).ravel()[0])
    gse = float(np.asarray(backend.to_numpy(g_se["K"])).ravel()[0])
    assert abs(gs - fd) < 4 * math.hypot(gse, fd_se), (gs, gse, fd, fd_se)
    assert abs(fd) > 8 * fd_se  # the gradient is not zero here: the comparison has power


@algorithm_test(tk.control.on_policy)
def test_learned_feedback_matches_riccati(backend):
    if backend.name != "jax":
        pytest.skip("1500 training iterations: compiled simulation on jax only (torch runs the same code eagerly)")
    drift, run, term, x0 = _lq(backend)
    ctrl = tk.control.linear_feedback(1, 3, backend=backend)
    r = tk.control.on_policy(drift, SIG, run, term, T, x0=x0, control=ctrl, steps=50, n_paths=1024, iterations=1500,
                             lr=0.1, lr_decay=0.997, rng=0)  # fmt: skip
    ts = np.linspace(0, 1, 11)
    K = np.array([float(np.asarray(backend.to_numpy(r.control.gain(t))).ravel()[0]) for t in ts])
    K_star = -SIG * _riccati(ts)
    assert np.max(np.abs(K - K_star) / np.abs(K_star)) < 0.05, (K, K_star)
    assert r.history["cost"][-1] < r.history["cost"][0]


def test_on_policy_validation():
    be = tk.get_backend("numpy")
    drift, run, term, _ = _lq(be)
    with pytest.raises(tk.CapabilityError):
        tk.control.on_policy(drift, SIG, run, term, T, x0=np.zeros(1))
    with pytest.raises(ValueError, match="sigma"):
        tk.control.on_policy(drift, -1.0, run, term, T, x0=np.zeros(1))
    with pytest.raises(TypeError, match="terminal_cost"):
        tk.control.on_policy(drift, SIG, run, None, T, x0=np.zeros(1))
    with pytest.raises(ValueError, match="baseline"):
        tk.control.on_policy(drift, SIG, run, term, T, x0=np.zeros(1), baseline="tota")


@algorithm_test(tk.sampling.schrodinger_follmer.schrodinger_follmer)
def test_schrodinger_follmer_log_z(backend):
    """Unnormalized N(m, s^2 I) in 2-D, log Z = log(2 pi s^2): the Girsanov weights are exact for any control."""
    if backend.name != "jax":
        pytest.skip("training loop compiled on jax; torch runs the same code eagerly (slow on this CPU)")
    xp = backend.xp
    m, s = 1.0, 0.7
    target = (lambda x: -0.5 * xp.sum((x - m) ** 2, axis=1) / s**2, lambda x: -(x - m) / s**2)
    target = type("G", (), {"log_prob": staticmethod(target[0]), "dim": 2})()
    r = tk.sample(target, 4000, method="schrodinger_follmer", iterations=150, n_paths=256, steps=20, lr=3e-3,
                  hidden=(32,), rng=0, backend=backend)  # fmt: skip
    log_Z = math.log(2 * math.pi * s * s)
    assert abs(r.log_Z - log_Z) < 4 * r.log_Z_stderr, (r.log_Z, r.log_Z_stderr, log_Z)
    assert r.ess / 4000 > 0.5  # trained: far better than the untrained ESS/n (~0.3)
