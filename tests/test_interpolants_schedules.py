"""Schedules: boundary conditions, analytic derivatives vs central finite differences, validation errors."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk
from transportkit.interpolants.schedules import make_schedule

CASES = [
    ("linear", 0),
    ("linear", "sqrt"),
    ("linear", "quadratic"),
    ("linear", "sin2"),
    ("trig", 0),
    ("trig", "sqrt"),
    ("trig", "quadratic"),
    ("vp", 0),
    ("cosine", 0),
    ("ddpm", 0),
    ("ve", 0),
]


@pytest.mark.parametrize(("name", "gamma"), CASES)
def test_derivatives_match_finite_differences(backend, name, gamma):
    I = tk.Interpolant(name, gamma=gamma)  # noqa: E741
    s, xp = I.schedule, backend.xp
    t = np.linspace(0.05, 0.95, 37)
    h = 1e-5
    tb = backend.asarray(t)
    for f, df in (("alpha", "alpha_dot"), ("beta", "beta_dot"), ("gamma", "gamma_dot")):
        an = backend.to_numpy(getattr(s, df)(tb, xp) * xp.ones_like(tb))
        fd = (
            backend.to_numpy(getattr(s, f)(backend.asarray(t + h), xp) * xp.ones_like(tb))
            - backend.to_numpy(getattr(s, f)(backend.asarray(t - h), xp) * xp.ones_like(tb))
        ) / (2 * h)
        np.testing.assert_allclose(an, fd, rtol=1e-6, atol=1e-7, err_msg=f"{name}/{gamma}: {df}")
    for f, df, prod in (
        ("alpha", "alpha_dot", "alpha_alpha_dot"),
        ("beta", "beta_dot", "beta_beta_dot"),
        ("gamma", "gamma_dot", "gamma_gamma_dot"),
    ):
        p = backend.to_numpy(getattr(s, prod)(tb, xp) * xp.ones_like(tb))
        q = backend.to_numpy(getattr(s, f)(tb, xp) * getattr(s, df)(tb, xp) * xp.ones_like(tb))
        np.testing.assert_allclose(p, q, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(("name", "gamma"), CASES)
def test_products_finite_at_the_ends(name, gamma):
    I = tk.Interpolant(name, gamma=gamma)  # noqa: E741
    t = np.array([0.0, 1.0])
    for k in ("alpha_alpha_dot", "beta_beta_dot", "gamma_gamma_dot", "alpha", "beta", "gamma"):
        assert np.all(np.isfinite(getattr(I, k)(t))), k
    if gamma == "sqrt":  # gamma' alone is singular at the ends, gamma gamma' = (1 - 2t)/2 is not
        assert np.all(np.isinf(I.gamma_dot(t)))
        np.testing.assert_allclose(I.gamma_gamma_dot(t), [0.5, -0.5])


def test_boundary_conditions_hold():
    for name, gamma in CASES:
        I = tk.Interpolant(name, gamma=gamma)  # noqa: E741
        if name in ("ve", "ddpm"):
            assert I.schedule.approximate
            continue
        np.testing.assert_allclose(I.alpha(np.array([0.0, 1.0])), [1, 0], atol=1e-12)
        np.testing.assert_allclose(I.beta(np.array([0.0, 1.0])), [0, 1], atol=1e-12)
    assert tk.Interpolant("linear").one_sided and not tk.Interpolant("linear", gamma="sqrt").one_sided


def test_named_schedules_are_the_documented_formulas():
    t = np.linspace(0.0, 1.0, 11)
    vp = tk.Interpolant("vp")
    np.testing.assert_allclose(vp.alpha(t), np.sqrt(1 - t**2), atol=1e-15)
    np.testing.assert_allclose(vp.beta(t), t, atol=1e-15)
    tr = tk.Interpolant("trig")
    np.testing.assert_allclose(tr.alpha(t), np.cos(np.pi * t / 2), atol=1e-15)
    dd = tk.Interpolant("ddpm")
    beta = np.exp(-0.25 * (1 - t) ** 2 * 19.9 - 0.5 * (1 - t) * 0.1)
    np.testing.assert_allclose(dd.beta(t), beta, rtol=1e-14)
    np.testing.assert_allclose(dd.alpha(t), np.sqrt(1 - beta**2), rtol=1e-14, atol=1e-15)
    assert abs(dd.beta(np.array([0.0]))[0] - 6.57e-3) < 1e-5  # approximate boundary condition at t = 0
    co = tk.Interpolant("cosine")
    k = np.pi / (2 * 1.008)
    np.testing.assert_allclose(co.beta(t), np.cos(k * (1 - t + 0.008)) / np.cos(k * 0.008), rtol=1e-14, atol=1e-15)
    ve = tk.Interpolant("ve")
    np.testing.assert_allclose(ve.alpha(t), 0.01 * 5000.0 ** (1 - t), rtol=1e-14)
    for name in ("linear", "trig", "vp", "cosine", "ddpm", "ve"):
        assert "arXiv" in tk.interpolants.schedules.schedule_doc(name), name


def test_schedule_options_are_checked():
    with pytest.raises(TypeError, match="beta_min"):
        tk.Interpolant("ddpm", c=0.1)
    with pytest.raises(ValueError, match="beta_min < beta_max"):
        tk.Interpolant("ddpm", beta_min=5.0, beta_max=1.0)
    with pytest.raises(ValueError, match="did you mean 'ddpm'"):
        tk.Interpolant("dpm")
    with pytest.raises(ValueError, match="option c"):
        tk.Interpolant("cosine", c=-1.0)


def test_trig_two_sided_keeps_variance_budget():
    # alpha^2 + beta^2 + gamma^2 = 1 for the two-sided trigonometric interpolant
    I = tk.Interpolant("trig", gamma="sqrt")  # noqa: E741
    t = np.linspace(0, 1, 11)
    np.testing.assert_allclose(I.alpha(t) ** 2 + I.beta(t) ** 2 + I.gamma(t) ** 2, 1.0, atol=1e-12)


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        (dict(alpha=lambda t: 1 - t, beta=lambda t: t + 0.1), r"beta\(0\) = 0"),
        (dict(alpha=lambda t: 1 - 0.9 * t, beta=lambda t: t), r"alpha\(1\) = 0"),
        (dict(alpha=lambda t: 1 - t, beta=lambda t: t, gamma=lambda t: t * (t - 1)), r"gamma\(t\) >= 0 fails at t="),
        (dict(alpha=lambda t: 1 - t, beta=lambda t: t, gamma=lambda t: t * (1 - t) + 0.2), r"gamma\(0\) = 0"),
        (dict(alpha=lambda t: 1 - t, beta=lambda t: t / (t - 0.5)), r"not finite at t=0.5"),  # divides by 0
    ],
)
@pytest.mark.filterwarnings("ignore:divide by zero")
def test_violations_name_the_condition_and_time(kw, msg):
    dots = {k + "_dot": (lambda t: 0 * t) for k in ("alpha", "beta")}
    if "gamma" in kw:
        dots["gamma_dot"] = lambda t: 0 * t
    with pytest.raises(ValueError, match=msg):
        tk.Interpolant(**kw, **dots)


def test_bad_names_and_options():
    with pytest.raises(ValueError, match="unknown schedule"):
        tk.Interpolant("nope")
    with pytest.raises(ValueError, match="one-sided"):
        tk.Interpolant("vp", gamma="sqrt")
    with pytest.raises(ValueError, match="unknown gamma"):
        tk.Interpolant("linear", gamma="cubic")
    with pytest.raises(ValueError, match="sigma_min"):
        make_schedule("ve", sigma_min=2.0, sigma_max=1.0)


@pytest.mark.requires("value_and_grad")
def test_custom_schedule_derivatives_by_autodiff(backend):
    xp = backend.xp
    I = tk.Interpolant(alpha=lambda t: xp.cos(np.pi * t / 2), beta=lambda t: xp.sin(np.pi * t / 2), validate=False)  # noqa: E741
    t = backend.asarray(np.linspace(0.1, 0.9, 5))
    ref = tk.Interpolant("trig")
    np.testing.assert_allclose(
        backend.to_numpy(I.alpha_dot(t)), ref.alpha_dot(np.linspace(0.1, 0.9, 5)), rtol=1e-12, atol=1e-14
    )
    np.testing.assert_allclose(
        backend.to_numpy(I.beta_dot(t)), ref.beta_dot(np.linspace(0.1, 0.9, 5)), rtol=1e-12, atol=1e-14
    )


def test_custom_schedule_without_derivatives_on_numpy_is_a_capability_error():
    I = tk.Interpolant(alpha=lambda t: 1 - t, beta=lambda t: t)  # noqa: E741
    with pytest.raises(tk.CapabilityError, match="alpha_dot"):
        I.alpha_dot(np.array([0.5]))


def test_interpolate_and_time_derivative(backend):
    I = tk.Interpolant("linear", gamma="quadratic")  # noqa: E741
    rng = np.random.default_rng(0)
    x0, x1, z = (rng.normal(size=(6, 3)) for _ in range(3))
    t = rng.uniform(size=6)
    xt = backend.to_numpy(
        I.interpolate(backend.asarray(t), backend.asarray(x0), backend.asarray(x1), backend.asarray(z))
    )
    g = t * (1 - t)
    np.testing.assert_allclose(xt, (1 - t)[:, None] * x0 + t[:, None] * x1 + g[:, None] * z, rtol=1e-12)
    rd = backend.to_numpy(
        I.time_derivative(backend.asarray(t), backend.asarray(x0), backend.asarray(x1), backend.asarray(z))
    )
    np.testing.assert_allclose(rd, -x0 + x1 + (1 - 2 * t)[:, None] * z, rtol=1e-12)


def test_schedule_written_with_another_library_is_still_validated():
    """A callable that NumPy arrays cannot go through is checked on the backend whose operations it uses."""
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="boundary condition"):
        tk.Interpolant(alpha=lambda t: torch.cos(np.pi * t / 2), beta=lambda t: torch.sin(np.pi * t / 2) + 0.1)
    tk.Interpolant(alpha=lambda t: torch.cos(np.pi * t / 2), beta=lambda t: torch.sin(np.pi * t / 2))


def test_schedule_that_no_backend_can_evaluate_is_an_error():
    with pytest.raises(ValueError, match="could not be evaluated"):
        tk.Interpolant(alpha=lambda t: t.no_such_method(), beta=lambda t: t)
