"""Losses: the exact field is the minimizer and a perturbation b + delta costs 1/2 E|delta|^2 (4 SE)."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk
from transportkit.interpolants import losses


def _setup(backend, gamma, n=20_000):
    rng = np.random.default_rng(0)
    T = tk.targets.GaussianMixture(np.ones(2), np.array([[2.0, 0.0], [-2.0, 1.0]]), np.array([0.3, 0.6]))
    I = tk.Interpolant("linear", gamma=gamma)  # noqa: E741
    f = tk.interpolants.exact_field(I, T)
    x1 = T.sample(n, seed=1)
    x0, z = rng.normal(size=(2, n, 2))
    t = rng.uniform(0.05, 0.95, n)
    return I, f, *(backend.asarray(v) for v in (t, x0, x1, z))


@pytest.mark.parametrize(("gamma", "name"), [(0, "velocity"), ("sqrt", "velocity"), ("sqrt", "score"), (0, "denoiser")])
def test_gap_equals_half_squared_perturbation(backend, gamma, name):
    I, f, t, x0, x1, z = _setup(backend, gamma)  # noqa: E741
    delta = backend.asarray(np.array([0.3, -0.2]))
    if name == "velocity":
        exact, loss = f.velocity, losses.velocity_loss
    elif name == "score":
        exact, loss = f.score, losses.score_loss
    else:
        exact, loss = (lambda tt, x: f.denoiser(tt, x, "x1")), losses.denoiser_loss
    pert = lambda tt, x: exact(tt, x) + delta  # noqa: E731
    diff = backend.to_numpy(
        loss(pert, I, t, x0, x1, z, antithetic=False) - loss(exact, I, t, x0, x1, z, antithetic=False)
    )
    # the difference per sample is delta.(f(x_t) - Y) + |delta|^2/2 ; its SE from the same samples
    fx = backend.to_numpy(exact(t, I.interpolate(t, x0, x1, z)))
    dn = backend.to_numpy(delta)
    X0, X1, Z = (backend.to_numpy(v) for v in (x0, x1, z))
    if name == "velocity":
        y = -X0 + X1 + (0 if gamma == 0 else backend.to_numpy(I.gamma_dot(t))[:, None] * Z)
    elif name == "score":
        y = -Z / backend.to_numpy(I.gamma(t))[:, None]
    else:
        y = X1
    per = (fx - y) @ dn + 0.5 * dn @ dn
    se = per.std() / np.sqrt(len(per))
    assert abs(float(diff) - 0.5 * dn @ dn) < 4 * se
    anti = backend.to_numpy(loss(pert, I, t, x0, x1, z) - loss(exact, I, t, x0, x1, z))
    assert abs(float(anti) - 0.5 * dn @ dn) < 4 * se


def test_b_eta_loss_adds_up(backend):
    I, f, t, x0, x1, z = _setup(backend, "sqrt", n=500)  # noqa: E741
    eta = lambda tt, x: f.denoiser(tt, x, "z")  # noqa: E731
    a = losses.b_eta_loss(f.velocity, eta, I, t, x0, x1, z)
    b = losses.velocity_loss(f.velocity, I, t, x0, x1, z) + losses.eta_z_loss(eta, I, t, x0, x1, z)
    np.testing.assert_allclose(backend.to_numpy(a), backend.to_numpy(b), rtol=1e-12)
