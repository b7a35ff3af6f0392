"""Probability flows of Fokker–Planck equations: entropy production, SBTM and neural conservation laws, against the
closed forms of linear diffusions (transportkit/fokker_planck/examples.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import transportkit as tk
from transportkit._capabilities import algorithm_test

fp = tk.fokker_planck

B_NONEQ = np.array([[1.0, 1.0, 0.0, 0.0], [-1.0, 1.0, 0.5, 0.0], [0.0, -0.5, 1.0, 0.0], [0.0, 0.0, 0.0, 2.0]])
B_EQ = np.diag([1.0, 2.0, 0.5, 1.0]) + 0.3  # symmetric: B = Σ⁻¹, detailed balance, Π = 0


def test_ou_closed_form() -> None:
    ou = fp.ornstein_uhlenbeck(B_NONEQ)
    assert np.allclose(B_NONEQ @ ou.Sigma + ou.Sigma @ B_NONEQ.T, 2 * np.eye(4), atol=1e-12)
    assert ou.entropy_production == pytest.approx(2.5, rel=1e-12)  # tr(AΣAᵀ) worked out for this B
    assert fp.ornstein_uhlenbeck(B_EQ).entropy_production == pytest.approx(0.0, abs=1e-12)


@algorithm_test(fp.entropy_production)
def test_entropy_production_exact_score(backend) -> None:
    ou = fp.ornstein_uhlenbeck(B_NONEQ)
    x = backend.asarray(ou.sample(2000, rng=0))
    est = fp.entropy_production(x, ou.drift, 1.0, score=ou.score)
    value, se = float(est.value), float(est.stderr)
    assert abs(value - ou.entropy_production) < 4 * se
    assert float(est) == value


@algorithm_test(fp.entropy_production)
@pytest.mark.parametrize("B", [B_NONEQ, B_EQ], ids=["non-equilibrium", "equilibrium"])
def test_entropy_production_learned_score(backend, B) -> None:
    ou = fp.ornstein_uhlenbeck(B)
    x = backend.asarray(ou.sample(3000, rng=1))
    est = fp.entropy_production(x, ou.drift, 1.0, rng=2)
    value, se = float(est.value), float(est.stderr)
    assert se > 0
    assert abs(value - ou.entropy_production) < 4 * se, (value, se)


def test_entropy_production_per_particle_and_matrix_D() -> None:
    rng = np.random.default_rng(3)
    ou = fp.ornstein_uhlenbeck(B_NONEQ)
    x = ou.sample(1000, rng=rng)
    est = fp.entropy_production(x, ou.drift, 1.0, score=ou.score, particles=2)
    assert est.per_particle.shape == (2,)
    assert float(np.sum(est.per_particle)) == pytest.approx(float(est.value), rel=1e-12)
    # D = 2 I as a matrix equals D = 2 as a scalar
    a = fp.entropy_production(x, ou.drift, 2.0, score=ou.score)
    b = fp.entropy_production(x, ou.drift, 2.0 * np.eye(4), score=ou.score)
    assert float(a.value) == pytest.approx(float(b.value), rel=1e-12)
    assert len(repr(est)) < 200


@algorithm_test(fp.sbtm)
def test_sbtm_harmonic_trap_entropy(backend) -> None:
    """Entropy along the trajectory within 4 standard errors of ½ log det(2πe C_t) (the Monte Carlo error of
    −mean log ρ_t(X_t); discretization and fit bias are an order below it at these sizes, see docs)."""
    trap = fp.harmonic_trap(n_particles=5, d=2)
    n = 2000
    x0 = backend.asarray(trap.sample0(n, rng=4))
    res = fp.sbtm(trap.drift, trap.D, x0, (0.0, 1.0), steps=50, log_density0=trap.log_density0, rng=5)
    ent = backend.to_numpy(res.entropy)
    exact = trap.entropy(backend.to_numpy(res.times))
    se = float(np.std(backend.to_numpy(res.log_density))) / math.sqrt(n)
    assert ent.shape == (51,) and res.x.shape == (n, trap.dim)
    assert np.max(np.abs(ent - exact)) < 4 * se, (np.max(np.abs(ent - exact)), se)


def test_sbtm_fourier_features_and_path() -> None:
    trap = fp.harmonic_trap(n_particles=2, d=2)
    x0 = trap.sample0(600, rng=6)
    res = fp.sbtm(trap.drift, trap.D, x0, (0.0, 0.5), steps=10, score_model=fp.FeatureScore(16, bandwidth=2.0),
                  return_path=True, solver="euler", rng=7)
    assert res.x.shape == (11, 600, 4)
    assert res.entropy is None and np.all(np.isfinite(res.entropy_change))
    exact = trap.entropy(res.times)
    assert abs(res.entropy_change[-1] - (exact[-1] - exact[0])) < 0.1 * (exact[-1] - exact[0])


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        ({"D": -1.0}, ValueError, "D must be"),
        ({"D": np.ones((4, 4))}, ValueError, "positive definite"),
        ({"t_span": (1.0, 0.0)}, ValueError, "t_span"),
        ({"steps": 2.5}, TypeError, "steps"),
        ({"solver": "rk9"}, ValueError, "solver"),
        ({"drift": lambda t, x: x[:, :1]}, ValueError, r"drift \(t, x\) returned shape"),
    ],
)
def test_sbtm_validates_arguments(kwargs, err, match) -> None:
    trap = fp.harmonic_trap(n_particles=2, d=2)
    args = {"drift": trap.drift, "D": trap.D, "x0": trap.sample0(100, rng=0), "t_span": (0.0, 1.0), "steps": 5}
    args.update(kwargs)
    with pytest.raises(err, match=match):
        fp.sbtm(**args)


def test_entropy_production_validates_arguments() -> None:
    ou = fp.ornstein_uhlenbeck(B_NONEQ)
    x = ou.sample(50, rng=0)
    with pytest.raises(ValueError, match="needs n >="):
        fp.entropy_production(x, ou.drift, 1.0)
    with pytest.raises(ValueError, match="x contains NaN"):
        fp.entropy_production(np.full((10, 4), np.nan), ou.drift, 1.0, score=ou.score)
    with pytest.raises(TypeError, match="score must be callable"):
        fp.entropy_production(x, ou.drift, 1.0, score=3)
    with pytest.raises(ValueError, match="does not divide"):
        fp.entropy_production(x, ou.drift, 1.0, score=ou.score, particles=3)


@algorithm_test(fp.ConservationLaw)
def test_conservation_law_continuity_by_construction(backend) -> None:
    """∂_tρ + ∇·j = 0 checked by autodiff at random points, to rounding (float64)."""
    if backend.dtype != backend.xp.float64:
        pytest.skip("the 1e-10 check is for float64")
    law = fp.ConservationLaw(3, n_components=3, hidden=(8,), backend=backend, rng=0)
    xp, vg = backend.xp, backend.value_and_grad
    g = np.random.default_rng(1)
    x = backend.asarray(g.normal(size=(7, 3)))
    t = backend.asarray(g.uniform(size=7))
    _, drho_dt = vg(lambda tt: xp.sum(law.density(tt, x)))(t)
    div = 0.0
    for i in range(3):
        _, gj = vg(lambda xx, i=i: xp.sum(law.flux(t, xx)[:, i]))(x)
        div = div + gj[:, i]
    res = backend.to_numpy(drho_dt + div)
    scale = float(np.max(np.abs(backend.to_numpy(drho_dt))))
    assert scale > 1e-6
    assert np.max(np.abs(res)) <= 1e-10 * max(scale, 1.0)


@algorithm_test(fp.ConservationLaw)
def test_conservation_law_learns_a_gaussian_path(backend) -> None:
    """Maximum likelihood on time-stamped samples of N(2t, (0.5 + 0.5t)²): the learned marginals' mean and standard
    deviation (by quadrature) within 0.1 of the exact ones at t = 0, ½, 1 (a training-quality floor, reported)."""
    if backend.dtype != backend.xp.float64:
        pytest.skip("float64 check")
    g = np.random.default_rng(2)
    t = g.uniform(size=3000)
    x = (2 * t + (0.5 + 0.5 * t) * g.standard_normal(3000))[:, None]
    law = fp.ConservationLaw(1, n_components=4, hidden=(16,), backend=backend, rng=3)
    law.fit(backend.asarray(t), backend.asarray(x), steps=400, lr=2e-2)
    assert law.history[-1] < law.history[0]
    grid = np.linspace(-4, 6, 2001)
    for tt in (0.0, 0.5, 1.0):
        rho = backend.to_numpy(law.density(tt, backend.asarray(grid[:, None])))
        mass = np.trapezoid(rho, grid)
        mean = np.trapezoid(rho * grid, grid)
        sd = math.sqrt(np.trapezoid(rho * (grid - mean) ** 2, grid))
        assert mass == pytest.approx(1.0, abs=1e-3)
        assert abs(mean - 2 * tt) < 0.1 and abs(sd - (0.5 + 0.5 * tt)) < 0.1, (tt, mean, sd)
    u = law.drift(0.5, backend.asarray(np.array([[1.0], [1.5]])))
    assert np.all(np.isfinite(backend.to_numpy(u)))
