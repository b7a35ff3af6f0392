"""Schedule design (ALGORITHMS.md §2.2-§2.4): the Lipschitz table, the Gaussian-optimal schedule, dilated schedules,
the optimal diffusion coefficient, and their argument checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import transportkit as tk
from transportkit.interpolants import dilated_schedule, lipschitz, optimal_diffusion, optimal_gaussian_schedule

# §2.2: max_t |J_lambda(t)| for one mode of variance lambda (base N(0, 1)), to 3 significant digits
TABLE = {
    1e-2: (5.05, 7.78, 2.30),
    1e-4: (50.0, 78.5, 4.61),
    1e-6: (500.0, 785.0, 6.91),  # 785.4 in the brief: 3 digits
}


def _sig3(v: float) -> float:
    return float(f"{v:.3g}")


@pytest.mark.parametrize("lam", sorted(TABLE))
def test_lipschitz_table(lam):
    T = tk.targets.Gaussian(np.zeros(1), lam * np.eye(1))
    got = [
        lipschitz(tk.interpolants.exact_field(sched, T))
        for sched in (tk.Interpolant("linear"), tk.Interpolant("trig"), optimal_gaussian_schedule(lam))
    ]
    assert all(r.method == "exact" for r in got)
    assert tuple(_sig3(r.max) for r in got) == TABLE[lam]
    # closed forms behind the table: (1 + lam) / (2 sqrt(lam)) for linear, |log lam| / 2 for the designed schedule
    assert abs(got[0].max - (1 + lam) / (2 * math.sqrt(lam))) < 1e-6 * got[0].max
    assert abs(got[2].max - 0.5 * abs(math.log(lam))) < 1e-9
    # A2 of the designed schedule is J^2 (J constant), and the smallest of the three
    assert abs(got[2].A2 - 0.25 * math.log(lam) ** 2) < 1e-6 * got[2].A2
    assert got[2].A2 < got[0].A2 < got[1].A2


def test_designed_schedule_has_constant_jacobian(backend):
    r = 1e-3
    T = tk.targets.Gaussian(np.zeros(1), r * np.eye(1))
    f = tk.interpolants.exact_field(optimal_gaussian_schedule(r), T)
    t = backend.asarray(np.linspace(0.01, 0.99, 9))
    x = backend.asarray(np.zeros((9, 1)))
    jv = backend.to_numpy(f.jvp(t, x, backend.asarray(np.ones((9, 1)))))
    np.testing.assert_allclose(jv[:, 0], 0.5 * math.log(r), rtol=1e-10)


def test_optimal_schedule_derivatives_and_limits():
    for r in (1e-4, 0.5, 1.0, 3.0):
        s = optimal_gaussian_schedule(r).schedule
        t, h = np.linspace(0.05, 0.95, 19), 1e-6
        for f, df in (("alpha", "alpha_dot"), ("beta", "beta_dot")):
            fd = (getattr(s, f)(t + h, np) - getattr(s, f)(t - h, np)) / (2 * h)
            np.testing.assert_allclose(getattr(s, df)(t, np), fd, rtol=1e-6)
        np.testing.assert_allclose(s.alpha(t, np) ** 2 + s.beta(t, np) ** 2, 1.0, rtol=1e-12)
    np.testing.assert_allclose(optimal_gaussian_schedule(1.0).beta(np.array([0.25])), [0.5])


def test_lipschitz_monte_carlo_agrees_with_exact_when_jacobian_is_constant(backend):
    """A Gaussian written as a two-component mixture takes the Monte Carlo route; its Jacobian does not depend on
    x, so the estimate equals the exact value up to round-off (a check of the Jacobian assembly)."""
    C = np.array([[0.5, 0.2], [0.2, 0.1]])
    m = np.array([1.0, 0.0])
    exact = lipschitz(tk.interpolants.exact_field("linear", tk.targets.Gaussian(m, C)), steps=20)
    mix = tk.targets.GaussianMixture(np.array([0.5, 0.5]), np.stack([m, m]), np.stack([C, C]))
    mc = lipschitz(tk.interpolants.exact_field("linear", mix), steps=20, n=16, rng=0, backend=backend)
    assert mc.method == "monte carlo"
    np.testing.assert_allclose(mc.sup, exact.sup, rtol=1e-6)
    np.testing.assert_allclose(mc.A2, exact.A2, rtol=1e-6)


def test_lipschitz_of_a_field_without_closed_form_needs_samples():
    T = tk.interpolants.eight_mode_mixture()
    moved = tk.interpolants.transfer(tk.interpolants.exact_field("linear", T), "trig")
    with pytest.raises(ValueError, match="x1="):
        lipschitz(moved, steps=4)
    x1 = T.sample(64, 0)
    r = lipschitz(moved, steps=4, n=32, x1=x1, rng=1)
    assert r.method == "monte carlo" and np.isfinite(r.A2) and r.max > 0


def test_lipschitz_arguments_are_checked():
    f = tk.interpolants.exact_field("linear", tk.targets.Gaussian(np.zeros(1), np.eye(1)))
    with pytest.raises(TypeError, match="steps"):
        lipschitz(f, steps=2.5)
    with pytest.raises(TypeError, match="n must be an integer"):
        lipschitz(f, n=True)
    with pytest.raises(TypeError, match="Field"):
        lipschitz(object())
    assert lipschitz(f, steps=np.int64(10)).max > 0  # NumPy integers are counts
    with pytest.raises(ValueError, match="r must be > 0"):
        optimal_gaussian_schedule(0.0)
    with pytest.raises(ValueError, match="r must be a finite"):
        optimal_gaussian_schedule(float("nan"))


@pytest.mark.parametrize("kind", ["vp", "ve"])
def test_dilated_schedules(kind):
    d, k = 10_000, 5.0
    s = dilated_schedule(kind, d, k).schedule
    t = np.array([0.0, 0.25, 0.5 - 1e-12, 0.5, 0.75, 1.0])
    tau = s.beta(t, np)
    if kind == "vp":
        np.testing.assert_allclose(tau, [0, 0.025, 0.05, 0.05, 0.525, 1.0], atol=1e-10)
        np.testing.assert_allclose(s.alpha(t, np), np.sqrt(1 - tau**2))
    else:
        top = math.sqrt(1 - k * k / d)
        np.testing.assert_allclose(tau[:4], [0, 0.5 * top, top, top], atol=1e-10)
        np.testing.assert_allclose(tau[4:], [math.sqrt(1 - k * k / d * 0.25), 1.0])
        np.testing.assert_allclose(s.alpha(t, np), np.sqrt(d * (1 - tau**2)))
        assert s.approximate
    tt, h = np.array([0.1, 0.3, 0.6, 0.9]), 1e-6
    for f, df in (("alpha", "alpha_dot"), ("beta", "beta_dot")):
        fd = (getattr(s, f)(tt + h, np) - getattr(s, f)(tt - h, np)) / (2 * h)
        np.testing.assert_allclose(getattr(s, df)(tt, np), fd, rtol=1e-6)
    np.testing.assert_allclose(s.alpha_alpha_dot(tt, np), s.alpha(tt, np) * s.alpha_dot(tt, np), rtol=1e-12)
    assert dilated_schedule(kind, d, None).schedule.beta(np.array([0.3]), np)[0] == 0.3


def test_dilated_schedule_arguments():
    with pytest.raises(ValueError, match="did you mean 'vp'"):
        dilated_schedule("vpp", 100, 3)
    with pytest.raises(ValueError, match="k must be"):
        dilated_schedule("vp", 100, 20)  # k < sqrt(d)
    with pytest.raises(TypeError, match="d must be an integer"):
        dilated_schedule("vp", 100.0, 3)


def test_optimal_diffusion_formula():
    eps = optimal_diffusion("linear", cap=None)
    t = np.array([0.2, 0.5, 0.8])
    # alpha (alpha beta' - alpha' beta) / beta = (1 - t) / t for the linear schedule
    np.testing.assert_allclose(eps(t), (1 - t) / t, rtol=1e-12)
    assert float(optimal_diffusion("linear")(np.array([0.0]))[0]) == 10.0  # capped at t = 0
    with pytest.raises(ValueError, match="one-sided"):
        optimal_diffusion(tk.Interpolant("linear", gamma="sqrt"))


def test_sde_with_optimal_diffusion_samples_the_target():
    """eps*(t) = (1 - t)/t (capped at 10) for the linear schedule keeps the marginals: N(m, C) within 4 SE."""
    m, C = np.array([1.0, -0.5]), np.array([[1.0, 0.6], [0.6, 0.5]])
    f = tk.interpolants.exact_field("linear", tk.targets.Gaussian(m, C))
    n = 1500
    x = tk.sample(f, n, method="sde", diffusion=optimal_diffusion("linear"), steps=400, rng=3).x
    se_m = np.sqrt(np.diag(C) / n)
    se_c = np.sqrt((np.outer(np.diag(C), np.diag(C)) + C**2) / n)
    assert np.all(np.abs(x.mean(0) - m) < 4 * se_m)
    assert np.all(np.abs(np.cov(x.T) - C) < 4 * se_c)


def _plus_fraction(sched, T, span, n, K):
    f = tk.interpolants.exact_field(sched, T)
    x = tk.sample(f, n, steps=K, t_span=span, solver="rk4", rng=0).x
    return T.mode_fraction(x)


@pytest.mark.parametrize("start, span", [(0.0, (1e-3, 1 - 1e-3)), (1e-3, (0.0, 1.0))])
def test_geodesic_schedule_reduces_mode_collapse_in_few_rk4_steps(start, span):
    """§2.3 (Chen, Vanden-Eijnden & Xu 2025): d = 1000, p = 0.3, mu = 1, sigma = 1, 3 RK4 steps. The bare geodesic on
    the authors' window [1e-3, 1 - 1e-3], and the default (start=1e-3) on [0, 1], put a + fraction closer to p than
    the VP beta = t schedule (the authors' baseline) by more than 4 standard errors of the difference."""
    from transportkit.interpolants import geodesic_schedule

    d, p, n, K = 1000, 0.3, 2000, 3
    T = tk.targets.SymmetricMixture(d, p, 1.0, 1.0)
    f_geo = _plus_fraction(geodesic_schedule(T, start=start), T, span, n, K)
    f_vp = _plus_fraction(tk.Interpolant("vp"), T, span, n, K)
    se = math.sqrt((f_geo * (1 - f_geo) + f_vp * (1 - f_vp)) / n)
    assert abs(f_vp - p) - abs(f_geo - p) > 4 * se, (f_geo, f_vp, se)


def test_geodesic_schedule_start():
    from transportkit.interpolants import geodesic_schedule

    T = tk.targets.SymmetricMixture(1000, 0.3, 1.0, 1.0)
    t = np.array([0.0, 2e-4, 1e-3, 0.1, 0.5])
    for surrogate in (False, True):
        bare = geodesic_schedule(T, surrogate=surrogate, start=0).schedule
        s = geodesic_schedule(T, surrogate=surrogate).schedule
        b = s.beta(t, np)
        np.testing.assert_allclose(b[2:], bare.beta(t[2:], np), rtol=1e-12)  # the geodesic from start on
        np.testing.assert_allclose(b[:3], b[2] * t[:3] / 1e-3, rtol=1e-12, atol=1e-15)  # a line before
        assert np.isfinite(s.beta_dot(t[:1], np)).all()  # regular at t = 0 (the bare surrogate has beta'(0) = inf)
        np.testing.assert_allclose(s.alpha(t, np) ** 2 + b**2, 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="start"):
        geodesic_schedule(T, start=1.0)
    with pytest.raises(ValueError, match="start"):
        geodesic_schedule(T, start=-0.1)
