"""Transfer between one-sided schedules without retraining (ALGORITHMS.md §2.1; issue #16, "Done when" 2)."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk
from transportkit.interpolants import transfer

TOL = 1e-8  # the bar; float64 round-off gives ~1e-13 here


def _xt(backend, n=64, d=2, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, n), 3.0 * rng.normal(size=(n, d))


def _close(backend, a, b, tol=TOL):
    a, b = backend.to_numpy(a), backend.to_numpy(b)
    err = np.max(np.abs(a - b)) / max(1.0, np.max(np.abs(b)))
    assert err < tol, err


def test_linear_to_trig_equals_direct_trig_field(backend):
    T = tk.interpolants.eight_mode_mixture()
    direct = tk.interpolants.exact_field("trig", T)
    moved = transfer(tk.interpolants.exact_field("linear", T), "trig")
    t, x = _xt(backend)
    tb, xb = backend.asarray(t), backend.asarray(x)
    _close(backend, moved.velocity(tb, xb), direct.velocity(tb, xb))
    _close(backend, moved.score(tb, xb), direct.score(tb, xb))
    _close(backend, moved.denoiser(tb, xb), direct.denoiser(tb, xb))
    _close(backend, moved.log_density(tb, xb), direct.log_density(tb, xb))
    _close(backend, moved.divergence(tb, xb), direct.divergence(tb, xb))
    for s in (0.0, 0.3, 1.0):  # one time shared by all points, including both ends
        _close(backend, moved.velocity(s, xb), direct.velocity(s, xb))


@pytest.mark.parametrize(("src", "dst"), [("vp", "linear"), ("cosine", "trig"), ("ddpm", "linear"), ("linear", "ve"),
                                          ("ve", "trig"), ("trig", "cosine")])
def test_transfer_between_built_ins(src, dst):
    T = tk.targets.Gaussian(np.array([1.0, -2.0]), np.array([[0.5, 0.2], [0.2, 0.3]]))
    direct = tk.interpolants.exact_field(dst, T)
    moved = transfer(tk.interpolants.exact_field(src, T), dst)
    rng = np.random.default_rng(1)
    t, x = rng.uniform(0.05, 0.95, 40), rng.normal(size=(40, 2))
    np.testing.assert_allclose(moved.velocity(t, x), direct.velocity(t, x), rtol=TOL, atol=TOL)


def test_custom_schedule_without_closed_form_inverse_by_bisection():
    T = tk.interpolants.eight_mode_mixture()
    h = np.pi / 2
    custom = tk.Interpolant(alpha=lambda t: np.cos(h * t), beta=lambda t: np.sin(h * t),
                            alpha_dot=lambda t: -h * np.sin(h * t), beta_dot=lambda t: h * np.cos(h * t))
    assert custom.schedule.theta_inverse is None
    moved = transfer(tk.interpolants.exact_field("linear", T), custom)
    direct = tk.interpolants.exact_field("trig", T)
    t, x = _xt(None, seed=2)
    np.testing.assert_allclose(moved.velocity(t, x), direct.velocity(t, x), rtol=TOL, atol=TOL)


def test_sampling_the_transferred_field_follows_the_new_path(backend):
    """Same noise, same solver: the transferred field's ODE solution equals the direct field's to RK4 accuracy."""
    T = tk.interpolants.eight_mode_mixture()
    moved = transfer(tk.interpolants.exact_field("linear", T), "trig")
    direct = tk.interpolants.exact_field("trig", T)
    a = tk.sample(moved, 100, steps=40, backend=backend, seed=5).to_numpy().x
    b = tk.sample(direct, 100, steps=40, backend=backend, seed=5).to_numpy().x
    np.testing.assert_allclose(a, b, atol=1e-4)  # both RK4 with 40 steps: each within ~1e-5 of the flow map


def test_transfer_into_ve_starts_from_the_exact_t0_law():
    """Into "ve" the start law is c(0) x_tau(0), drawn by the source field: mean m, covariance sigma_max^2 I + C."""
    m, C = np.array([1.0, -0.5]), np.array([[1.0, 0.6], [0.6, 0.5]])
    moved = transfer(tk.interpolants.exact_field("linear", tk.targets.Gaussian(m, C)), "ve")
    x0 = np.asarray(moved.bind(tk.get_backend("numpy")).initial_samples(4000, 0.0, tk.random.Generator(0)))
    cov = 2500.0 * np.eye(2) + C
    se = np.sqrt(np.diag(cov) / 4000)
    assert np.all(np.abs(x0.mean(0) - m) < 4 * se)
    assert np.all(np.abs(np.diag(np.cov(x0.T)) / np.diag(cov) - 1) < 4 * np.sqrt(2 / 4000))


def test_transfer_refuses_two_sided_and_non_fields():
    T = tk.targets.Gaussian(np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="one-sided field"):
        transfer(tk.interpolants.exact_field(tk.Interpolant("linear", gamma="sqrt"), T), "trig")
    with pytest.raises(ValueError, match="one-sided target"):
        transfer(tk.interpolants.exact_field("linear", T), tk.Interpolant("trig", gamma="sqrt"))
    with pytest.raises(TypeError, match="Field"):
        transfer(object(), "trig")
    with pytest.raises(TypeError, match="Interpolant"):
        transfer(tk.interpolants.exact_field("linear", T), 3)
