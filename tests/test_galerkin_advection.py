"""The advection benchmark with the coefficients of Bruna, Peherstorfer & Vanden-Eijnden (arXiv:2203.01360):
a_i(t) = i sin(s_i pi t) + 1.25 i, s_i = 2(1 + (i - 1)/(d - 1))."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transportkit import galerkin as g


@pytest.mark.parametrize("coefficients", ["sine", "paper"])
def test_exact_solution_solves_the_pde(coefficients):
    """u(t, x) = u0(x - A(t)) satisfies u_t = -a(t) . grad u: central differences in t and x, O(h^2) small."""
    d = 3
    pde = g.advection(d, coefficients=coefficients)
    rng = np.random.default_rng(0)
    centers = np.asarray(pde.info["centers"])
    for t in (0.13, 0.71, 1.4):
        A = np.asarray(pde.info["shift_vec"](t))
        x = centers[rng.integers(len(centers), size=20)] + A + 0.1 * rng.normal(size=(20, d))
        h = 1e-5
        ut = (pde.exact(t + h, x, np) - pde.exact(t - h, x, np)) / (2 * h)
        grad = np.stack([(pde.exact(t, x + h * e, np) - pde.exact(t, x - h * e, np)) / (2 * h) for e in np.eye(d)],
                        axis=1)
        f = pde.rhs(t, x, {"grad": grad}, np)
        scale = np.max(np.abs(ut))
        np.testing.assert_allclose(ut, f, atol=1e-6 * scale)


def test_paper_coefficients_and_initial_condition():
    d = 5
    pde = g.advection(d, coefficients="paper")
    s = [2 * (1 + (i - 1) / (d - 1)) for i in range(1, d + 1)]
    assert pde.info["frequencies"] == pytest.approx(s) and s[0] == 2 and s[-1] == 4
    t = 0.3
    a = [i * math.sin(si * math.pi * t) + 1.25 * i for i, si in zip(range(1, d + 1), s, strict=True)]
    grad = np.eye(d)  # rows: the unit vectors, so rhs = -a
    np.testing.assert_allclose(pde.rhs(t, np.zeros((d, d)), {"grad": grad}, np), -np.asarray(a), rtol=1e-14)
    # u0 is the sum of two normal densities: its integral is 2 (checked at the packets' centers' density values)
    m1 = np.full(d, 1.1)
    v1 = 0.01 * np.arange(1, d + 1)
    dens = pde.u0(m1[None, :], np)[0]
    assert dens >= np.prod(2 * np.pi * v1) ** -0.5
    assert pde.low == (0.0,) * d and pde.high == (15.0,) * d
    with pytest.raises(ValueError, match="velocity"):
        g.advection(2, coefficients="paper", velocity=1.0)
    with pytest.raises(ValueError, match="coefficients"):
        g.advection(2, coefficients="papr")


def test_paper_advection_2d_two_units():
    """d = 2, the paper's a(t) and initial condition, two diagonal Gaussian units (the solution is representable
    exactly) with adaptive particles, RK4, dt = 1e-2 to T = 0.5: relative L2 error on a grid around the packets
    below 1e-3 (the time-discretization error of RK4 at this step)."""
    d = 2
    pde = g.advection(d, coefficients="paper")
    P = g.GaussianUnits(2, d, widths="diagonal")
    c = np.asarray(pde.info["weights"])
    st = np.asarray(pde.info["stds"])
    th0 = np.concatenate([c, (1 / st).ravel(), np.asarray(pde.info["centers"]).ravel()])
    T = 0.5
    res = g.solve(pde, P, th0, T, 1e-2, sampler=g.AdaptiveParticles(100), fit=False, rng=0)
    A = np.asarray(pde.info["shift_vec"](T))
    lo = np.min(np.asarray(pde.info["centers"]), axis=0) + A - 1.0
    hi = np.max(np.asarray(pde.info["centers"]), axis=0) + A + 1.0
    gx = np.stack(np.meshgrid(*[np.linspace(lo[k], hi[k], 161) for k in range(d)], indexing="ij"), -1).reshape(-1, d)
    assert g.relative_l2_error(res, gx, T) < 1e-3
