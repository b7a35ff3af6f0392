"""Neural Galerkin schemes: analytic Jacobians vs finite differences, the regularized least-squares step,
and accuracy against exact (advection, KdV, Ornstein–Uhlenbeck Fokker–Planck) and spectral (Allen–Cahn)
references.

Heavy accuracy runs use numpy; the other backends run short agreement/smoke runs (same grid samples, so the
trajectories must agree with numpy to rounding).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import transportkit as tk
from transportkit import galerkin as g
from transportkit.galerkin.schemes import regularized_lstsq


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    """Small dense linear algebra: one BLAS thread is much faster on shared cores."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        yield
        return
    with threadpool_limits(1):
        yield


NUMPY = tk.get_backend("numpy")


def _params():
    return [
        g.GaussianUnits(3, 2),
        g.GaussianUnits(3, 2, widths="diagonal", normalized=True),
        g.GaussianUnits(3, 1, periodic=5.0),
        g.GaussianUnits(2, 2, widths="diagonal", periodic=[3.0, 4.0]),
        g.TanhUnits(3, 2),
        g.TanhUnits(3, 1),
    ]


# ---------------------------------------------------------------------------------------------- Jacobians
@pytest.mark.parametrize("k", range(6), ids=[repr(p) for p in _params()])
def test_analytic_derivatives_match_finite_differences(backend, k):
    P = _params()[k]
    rng = np.random.default_rng(k)
    th = rng.normal(size=P.n_params) + 0.5
    x = rng.normal(size=(7, P.d))
    need = ("u", "jac", "grad", "lap") + (("dxxx",) if P.d == 1 else ())
    F = P.evaluate(backend.asarray(th), backend.asarray(x), need)
    F = {key: backend.to_numpy(v) for key, v in F.items()}

    def u(t, y):
        return P.value(t, y)

    # central differences: truncation O(h^2 * u''') + rounding O(eps/h); with h = 1e-6 both are < 1e-9
    h = 1e-6
    J = np.stack([(u(th + h * e, x) - u(th - h * e, x)) / (2 * h) for e in np.eye(P.n_params)], 1)
    G = np.stack([(u(th, x + h * e) - u(th, x - h * e)) / (2 * h) for e in np.eye(P.d)], 1)
    np.testing.assert_allclose(F["jac"], J, atol=1e-7, rtol=1e-6)
    np.testing.assert_allclose(F["grad"], G, atol=1e-7, rtol=1e-6)
    h2 = 1e-4  # second difference: rounding eps/h^2 ~ 1e-8
    L = sum((u(th, x + h2 * e) - 2 * u(th, x) + u(th, x - h2 * e)) / h2**2 for e in np.eye(P.d))
    np.testing.assert_allclose(F["lap"], L, atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(F["u"], u(th, x), rtol=1e-13, atol=1e-14)
    if P.d == 1:
        h3 = 1e-3  # third difference: truncation O(h^2) ~ 1e-6, rounding eps/h^3 ~ 1e-7
        D3 = (u(th, x + 2 * h3) - 2 * u(th, x + h3) + 2 * u(th, x - h3) - u(th, x - 2 * h3)) / (2 * h3**3)
        np.testing.assert_allclose(F["dxxx"], D3, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("k", range(6), ids=[repr(p) for p in _params()])
def test_rowwise_evaluation_matches_rows(backend, k):
    """``evaluate`` with per-point parameter rows Theta (n, p): row j equals evaluating theta = Theta_j at x_j."""
    P = _params()[k]
    rng = np.random.default_rng(10 + k)
    T = rng.normal(size=(4, P.n_params)) + 0.5
    x = rng.normal(size=(4, P.d))
    need = ("u", "jac", "grad", "lap") + (("dxxx",) if P.d == 1 else ())
    ev = backend.maybe_jit(lambda t, y: P.evaluate(t, y, need))  # one compilation per shape on JAX
    F = ev(backend.asarray(T), backend.asarray(x))
    for j in range(4):
        Fj = ev(backend.asarray(T[j]), backend.asarray(x[j : j + 1]))
        for key in need:
            np.testing.assert_allclose(backend.to_numpy(F[key])[j], backend.to_numpy(Fj[key])[0], rtol=1e-12,
                                       atol=1e-12)


@pytest.mark.requires("value_and_grad")
@pytest.mark.parametrize("case", ["kdv-gauss-periodic", "allen-cahn-tanh", "fokker-planck-2d"])
def test_dfdtheta_autodiff_matches_central_differences(backend, case):
    """The exact Jacobian of the right-hand side in theta (implicit schemes), by the row trick and by nested
    reverse passes, against numpy central differences (h = 1e-6: truncation ~h^2 |d^3f| and rounding
    ~eps |f| / h are both below 1e-8 relative to max |df/dtheta|; bound 1e-6)."""
    from transportkit.galerkin.schemes import dfdtheta_autodiff

    xp = backend.xp
    if case == "kdv-gauss-periodic":
        pde, P = g.kdv(), g.GaussianUnits(3, 1, periodic=60.0)
        th = np.array([0.5, 1.0, 0.3, 2.0, 3.0, 1.5, -1.0, 0.5, 2.0])
    elif case == "allen-cahn-tanh":
        pde, P = g.allen_cahn(), g.TanhUnits(3, 1)
        th = np.array([0.5, -0.4, 0.3, 1.0, 2.0, -1.5, 0.1, -2.0, 1.0])
    else:
        pde, P = g.ou_fokker_planck(2), g.gaussian_density(2, 2)
        th = np.array([0.4, 0.6, 1.5, 2.0, 1.0, 2.5, 0.1, -0.2, 0.5, 0.3])
    x = np.random.default_rng(0).uniform(pde.low, pde.high, size=(20, pde.d))

    def f_np(t):
        return pde.rhs(0.3, x, P.evaluate(t, x, pde.needs), np)

    h = 1e-6
    C = np.stack([(f_np(th + h * e) - f_np(th - h * e)) / (2 * h) for e in np.eye(P.n_params)], axis=1)
    X = backend.asarray(x)

    def f_be(t):
        return pde.rhs(0.3, X, P.evaluate(t, X, pde.needs), xp)

    for rowwise in (True, False):
        jac = backend.maybe_jit(lambda t, r=rowwise: dfdtheta_autodiff(backend.value_and_grad, f_be, t, 20,
                                                                        rowwise=r))
        A = backend.to_numpy(jac(backend.asarray(th)))
        assert A.shape == (20, P.n_params)
        assert np.abs(A - C).max() <= 1e-6 * np.abs(C).max()


def test_moments_of_normalized_units_match_quadrature():
    P = g.gaussian_density(2, 2)
    th = P.pack(np.array([0.3, 0.7]), np.array([[2.0, 1.0], [1.5, 3.0]]), np.array([[0.1, -0.2], [0.5, 0.4]]))
    ax = np.linspace(-10, 10, 1001)
    X = np.stack(np.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    w = P.value(th, X) * (ax[1] - ax[0]) ** 2
    mass, mean, cov = P.moments(th)
    mq = (w @ X) / w.sum()
    cq = ((X - mq) * w[:, None]).T @ (X - mq) / w.sum()
    np.testing.assert_allclose(mass, w.sum(), rtol=1e-10)
    np.testing.assert_allclose(mean, mq, atol=1e-10)
    np.testing.assert_allclose(cov, cq, atol=1e-10)


# ---------------------------------------------------------------------------------------------- lstsq
def test_regularized_lstsq_degenerate_never_nan(backend):
    xp = backend.xp
    P = g.GaussianUnits(3, 1)
    # units 0 and 1 identical, unit 2 with zero amplitude: J has rank 4 of 9
    th = backend.asarray([1.0, 1.0, 0.0, 2.0, 2.0, 1.0, 0.3, 0.3, -0.5])
    x = backend.asarray(np.linspace(-2, 2, 50)[:, None])
    J = P.jacobian(th, x)
    f = backend.asarray(np.sin(np.linspace(-2, 2, 50)))
    for ridge in (0.0, 1e-8):
        v, info = regularized_lstsq(J, f, rcond=1e-10, ridge=ridge)
        assert bool(xp.all(xp.isfinite(v)))
        assert info.rank == 4 and math.isfinite(info.cond)
    # an all-zero Jacobian, and one with NaN entries: the velocity is finite (zero)
    v0, info0 = regularized_lstsq(J * 0.0, f)
    assert info0.rank == 0 and float(xp.max(xp.abs(v0))) == 0.0
    Jn = backend.asarray(np.where(np.arange(9) == 3, np.nan, backend.to_numpy(J)))
    vn, _ = regularized_lstsq(Jn, f)
    assert bool(xp.all(xp.isfinite(vn)))


def test_regularized_lstsq_matches_numpy_lstsq(backend):
    rng = np.random.default_rng(3)
    J = rng.normal(size=(40, 6))
    f = rng.normal(size=40)
    v, info = regularized_lstsq(backend.asarray(J), backend.asarray(f))
    ref = np.linalg.lstsq(J, f, rcond=None)[0]
    np.testing.assert_allclose(backend.to_numpy(v), ref, rtol=1e-10, atol=1e-12)
    assert info.rank == 6
    np.testing.assert_allclose(info.cond, np.linalg.cond(J), rtol=1e-8)
    lam = 0.1  # ridge: (J^T J / n + lam I) v = J^T f / n
    vr, _ = regularized_lstsq(backend.asarray(J), backend.asarray(f), ridge=lam)
    ref_r = np.linalg.solve(J.T @ J / 40 + lam * np.eye(6), J.T @ f / 40)
    np.testing.assert_allclose(backend.to_numpy(vr), ref_r, rtol=1e-10)


def test_degenerate_parametrization_solve_stays_finite(backend):
    """Two identical units (M singular) evolved by OtD: finite parameters, rank deficiency reported."""
    pde = g.advection(1)
    P = g.GaussianUnits(2, 1)
    th0 = backend.asarray([0.5, 0.5, 4.0, 4.0, 0.5, 0.5])
    res = g.solve(pde, P, th0, 0.04, 0.02, sampler=g.GridSampler(-1, 3, 64, periodic=False), fit=False)
    assert bool(backend.xp.all(backend.xp.isfinite(res.theta)))
    assert max(res.rank) < P.n_params
    err = g.relative_l2_error(res, backend.asarray(np.linspace(-1, 3, 801)[:, None]), 0.04)
    assert err < 1e-6  # the duplicated units still represent the exact packet


# ---------------------------------------------------------------------------------------------- advection
def _gauss_l2(P, th, pde, t):
    """Exact relative L2 error of a sum of diagonal Gaussian units vs the exact packets (Gaussian overlaps)."""
    c, w, b = P.unpack(np.asarray(th))
    w = np.broadcast_to(np.asarray(w).reshape(P.m, -1), b.shape)
    shift = np.asarray(pde.info["velocity"]) * pde.info["shift"](t)
    A = [(ci, 1 / wi**2, bi) for ci, wi, bi in zip(c, w, b, strict=False)]
    E = [(a, np.asarray(s) ** 2, np.asarray(m) + shift)
         for a, s, m in zip(pde.info["weights"], pde.info["stds"], pde.info["centers"], strict=False)]

    def ov(p, q):
        (a, v1, m1), (bb, v2, m2) = p, q
        return a * bb * np.prod(np.sqrt(2 * np.pi * v1 * v2 / (v1 + v2)) * np.exp(-0.5 * (m1 - m2) ** 2 / (v1 + v2)))

    uu = sum(ov(p, q) for p in A for q in A)
    ee = sum(ov(p, q) for p in E for q in E)
    ue = sum(ov(p, q) for p in A for q in E)
    return math.sqrt(max(uu - 2 * ue + ee, 0.0) / ee)


def _adv1d():
    """Two packets, two Gaussian units; the starting guess of the initial fit is off by 10-30 %."""
    pde = g.advection(1, centers=[[0.2], [0.9]], stds=[[0.15], [0.3]], weights=[1.0, 0.6])
    P = g.GaussianUnits(2, 1)
    th0 = np.array([0.8, 0.5, 1 / 0.2, 1 / 0.35, 0.25, 0.8])
    return pde, P, th0


def test_advection_1d_adaptive_particles():
    pde, P, th0 = _adv1d()
    res = g.solve(pde, P, th0, 1.0, 1e-2, sampler=g.AdaptiveParticles(30), rng=1)
    err = g.relative_l2_error(res, np.linspace(-1, 3, 4001)[:, None], 1.0)
    assert err < 1e-2  # issue target; measured ~4e-15 (the packets are representable exactly)
    assert abs(err - _gauss_l2(P, res.theta[-1], pde, 1.0)) < 1e-6
    assert res.particles.shape == (101, 60, 1)


def test_advection_1d_backends_agree(backend):
    """Same deterministic grid samples on every backend: trajectories agree with numpy to rounding, compiled
    (where the backend compiles) or not."""
    pde, P, _th0 = _adv1d()
    samp = g.GridSampler(-1, 3, 200, periodic=False)
    th_exact = np.array([1.0, 0.6, 1 / 0.15, 1 / 0.3, 0.2, 0.9])
    ref = g.solve(pde, P, th_exact, 0.1, 2e-2, sampler=samp, fit=False)
    for jit in (True, False):
        res = g.solve(pde, P, backend.asarray(th_exact), 0.1, 2e-2, sampler=samp, fit=False, jit=jit)
        assert res.backend.name == backend.name
        np.testing.assert_allclose(backend.to_numpy(res.theta), ref.theta, atol=1e-8)
    x = backend.asarray(np.linspace(-1, 3, 101)[:, None])
    err = g.relative_l2_error(res, x, 0.1)
    assert err < 1e-2


def test_advection_8d_adaptive_vs_uniform():
    """d = 8: adaptive particles (2 units x 100) vs 200 uniform points on the box [-1, 3]^8."""
    d = 8
    pde = g.advection(d, centers=[[0.5] * d, [0.8] + [0.4] * (d - 1)], stds=[[0.25] * d, [0.15] * d],
                      weights=[1.0, 0.5])
    P = g.GaussianUnits(2, d, widths="diagonal")
    th0 = np.concatenate([[0.9, 0.4], np.full(d, 1 / 0.3), np.full(d, 1 / 0.2), np.full(d, 0.45),
                          [0.75] + [0.45] * (d - 1)])
    ad = g.solve(pde, P, th0, 1.0, 2e-2, sampler=g.AdaptiveParticles(100), rng=0)
    un = g.solve(pde, P, th0, 1.0, 2e-2, sampler=g.UniformSampler(-1, 3, 200), rng=0)
    e_ad, e_un = _gauss_l2(P, ad.theta[-1], pde, 1.0), _gauss_l2(P, un.theta[-1], pde, 1.0)
    assert ad.particles.shape[1] == un.particles.shape[1] == 200
    assert e_ad < 1e-2  # issue target (measured ~1e-8)
    # uniform samples almost never hit the packets in 8 dimensions: the packets do not move (error O(1))
    assert e_un > 0.5


# ---------------------------------------------------------------------------------------------- Fokker–Planck
def _ou(m=1):
    d = 4
    pde = g.ou_fokker_planck(d)
    P = g.gaussian_density(m, d)
    rng = np.random.default_rng(0)
    th0 = P.pack(np.ones(m) / m, np.ones((m, d)) / 0.35,
                 np.array(pde.info["mean0"]) + (0.1 * rng.normal(size=(m, d)) if m > 1 else 0.0))
    return pde, P, th0


@pytest.mark.parametrize("m", [1, 3])
def test_ou_fokker_planck_4d_moments(m):
    pde, P, th0 = _ou(m)
    res = g.solve(pde, P, th0, 1.0, 1e-2, sampler=g.AdaptiveParticles(400 // m), rng=0)
    mass, mean, cov = P.moments(res.theta[-1])
    assert abs(mass - 1.0) < 1e-2
    np.testing.assert_allclose(mean, pde.info["mean"](1.0), atol=1e-2)  # issue target; measured < 2e-7
    np.testing.assert_allclose(cov, np.array(pde.info["cov"](1.0)), atol=1e-2)  # measured < 3e-6


def test_ou_fokker_planck_backends_smoke(backend):
    pde, P, th0 = _ou(1)
    th0 = P.pack(np.ones(1), np.ones((1, 4)) / 0.3, np.array(pde.info["mean0"])[None, :])  # exact u0
    res = g.solve(pde, P, backend.asarray(th0), 0.1, 2e-2, sampler=g.UnitSampler(100), rng=0, fit=False)
    _mass, mean, cov = P.moments(res.theta[-1, :])
    np.testing.assert_allclose(backend.to_numpy(mean), pde.info["mean"](0.1), atol=1e-6)
    np.testing.assert_allclose(backend.to_numpy(cov), np.array(pde.info["cov"](0.1)), atol=1e-6)


@pytest.mark.parametrize("scheme", ["rk4", "dopri5"])
def test_compiled_run_matches_python_loop(backend, scheme):
    """``jit=True`` runs the whole trajectory as one compiled program where the backend compiles loops (JAX):
    resampled points (drawn at step k from ``Generator.at(key, k)``) for RK4, coupled adaptive particles and the
    step-size control for Dormand–Prince. ``jit=False`` runs the same steps in Python: equal to rounding."""
    pde, P, th0 = _ou(1)
    sampler = g.UnitSampler(50) if scheme == "rk4" else g.AdaptiveParticles(50)
    a, b = (g.solve(pde, P, backend.asarray(th0), 0.06, 2e-2, sampler=sampler, scheme=scheme, rng=0, fit=False,
                    jit=j, rtol=1e-7, atol=1e-9) for j in (True, False))
    np.testing.assert_allclose(backend.to_numpy(a.theta), backend.to_numpy(b.theta), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(backend.to_numpy(a.particles), backend.to_numpy(b.particles), atol=1e-10)
    assert a.rank == b.rank and a.n_steps == 3


def test_implicit_schemes_converge_at_their_order():
    """DtO backward Euler (order 1) and Crank–Nicolson (order 2): halving dt divides the moment error by ~2
    and ~4 (asserted > 1.6 and > 3, the ideal ratios less 20 %)."""
    pde, P, th0 = _ou(1)
    samp = g.UnitSampler(100)

    def err(scheme, dt):
        res = g.solve(pde, P, th0, 0.2, dt, sampler=samp, scheme=scheme, rng=0)
        _, mean, cov = P.moments(res.theta[-1])
        return max(np.abs(mean - pde.info["mean"](0.2)).max(), np.abs(cov - np.array(pde.info["cov"](0.2))).max())

    be1, be2 = err("backward_euler", 0.04), err("backward_euler", 0.02)
    cn1, cn2 = err("crank_nicolson", 0.04), err("crank_nicolson", 0.02)
    assert be1 / be2 > 1.6
    assert cn1 / cn2 > 3.0
    assert cn2 < be2


def test_implicit_step_derivatives_agree(backend):
    """Backward Euler with ``derivatives="auto"``: the exact derivative of f (autodiff) where the backend has
    ``value_and_grad``, forward differences elsewhere. Both Gauss–Newton iterations converge to the same
    minimizer, so the trajectories agree with numpy's forward-difference one to the Gauss–Newton stopping
    error (tol 1e-10 relative, at most 5 iterations; measured 1e-9 in theta, bound 1e-7)."""
    pde, P, _th0 = _adv1d()
    samp = g.GridSampler(-1, 3, 200, periodic=False)
    th = np.array([1.0, 0.6, 1 / 0.15, 1 / 0.3, 0.2, 0.9])
    ref = g.solve(pde, P, th, 0.06, 2e-2, sampler=samp, fit=False, scheme="backward_euler", derivatives="fd")
    res = g.solve(pde, P, backend.asarray(th), 0.06, 2e-2, sampler=samp, fit=False, scheme="backward_euler",
                  jit=True)
    np.testing.assert_allclose(backend.to_numpy(res.theta), ref.theta, atol=1e-7)
    if backend.value_and_grad is None:
        with pytest.raises(tk.CapabilityError):
            g.solve(pde, P, backend.asarray(th), 0.02, 2e-2, sampler=samp, fit=False, scheme="backward_euler",
                    derivatives="autodiff")


# ---------------------------------------------------------------------------------------------- KdV
KDV_T_SHORT = 0.25


def test_kdv_two_soliton_short(backend):
    """10 periodic Gaussian units, RK4 dt = 1e-3, 512 grid points, up to t = 0.25, on every backend (the time
    step is jit-compiled where the backend compiles, i.e. JAX).

    The issue's criterion is a relative L2 error < 5e-2 at t = 4; that full run (4000 steps, 0.5-4 minutes
    per backend on one shared core) is ``benchmarks/galerkin_report.py`` (measured 5.35e-3 at t = 4 and
    1.3e-4 at t = 1 on numpy, jax, torch and array_api_strict alike). Here the bound is the linear-in-time
    share of that budget, 5e-2 * 0.25 / 4 = 3.1e-3: the error of an accurate run grows at most about linearly
    over this horizon (measured 2.3e-5 at t = 0.1, 5.6e-5 at t = 0.25, 1.3e-4 at t = 1), so a run that meets
    the criterion at t = 4 stays far below it."""
    xp = backend.xp
    pde = g.kdv()
    P, guess = g.kdv_guess(backend)
    xf = backend.asarray(np.linspace(-20, 40, 1024, endpoint=False)[:, None])
    res = g.solve(pde, P, guess, KDV_T_SHORT, 1e-3, sampler=g.GridSampler(-20, 40, 512), fit_points=xf,
                  fit_iters=300, ridge=1e-8, save_every=250)
    assert res.backend.name == backend.name
    xg = backend.asarray(np.linspace(-20, 40, 4096, endpoint=False)[:, None])
    assert res.fit_error < 1e-3
    assert g.relative_l2_error(res, xg, 0.0) < 1e-3
    assert bool(xp.all(xp.isfinite(res.theta)))
    assert g.relative_l2_error(res, xg, KDV_T_SHORT) < 5e-2 * KDV_T_SHORT / 4.0
    # the error estimate propagated by the error equation (Lawson-RK4 on the grid, fourth order in dt) vs the true
    # RMS error: issue 21 asks for a factor 3; measured 1.000 at every saved time to t = 4 (docs/galerkin.md), and the
    # integrator's share, O(dt^4) relative to the O(1) solution, is far below 5 % of an error of 2e-6..2e-5
    assert res.error_method == "propagated"
    true = [float(xp.sqrt(xp.mean((P.value(res.theta[k, :], xg) - pde.exact(t, xg, xp)) ** 2)))
            for k, t in enumerate(res.backend.to_numpy(res.t).tolist())]
    ratio = np.asarray(res.backend.to_numpy(res.error_estimate), dtype=float) / np.array(true)
    assert np.all(np.abs(ratio - 1.0) < 0.05), ratio


def test_untraceable_rhs_falls_back_to_uncompiled(backend):
    """A user rhs that calls ``math`` on ``t`` cannot be traced by a compiler: where the backend compiles the
    step, the solver warns and runs it uncompiled; the result equals the traceable formulation's."""
    kw = dict(d=1, low=(-1.0,), high=(3.0,), needs=("grad",), u0=None, name="adv")
    plain = g.PDE(rhs=lambda t, x, F, xp: -(1.0 + math.sin(t)) * F["grad"][:, 0], **kw)
    traced = g.PDE(rhs=lambda t, x, F, xp: -(1.0 + xp.sin(xp.asarray(t, dtype=x.dtype))) * F["grad"][:, 0], **kw)
    P = g.GaussianUnits(1, 1)
    th = backend.asarray([1.0, 4.0, 0.5])
    samp = g.GridSampler(-1, 3, 64, periodic=False)
    if backend.jit is not None:
        with pytest.warns(RuntimeWarning, match="could not be compiled"):
            a = g.solve(plain, P, th, 0.02, 0.01, sampler=samp, fit=False, scheme="euler", jit=True)
    else:
        a = g.solve(plain, P, th, 0.02, 0.01, sampler=samp, fit=False, scheme="euler", jit=True)
    b = g.solve(traced, P, th, 0.02, 0.01, sampler=samp, fit=False, scheme="euler", jit=True)
    np.testing.assert_allclose(backend.to_numpy(a.theta), backend.to_numpy(b.theta), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------- Allen–Cahn
def _allen_cahn_etdrk4(T, eps=0.05, N=512, h=1e-3, width=10.0**0.5, b=(0.5, 4.4)):
    """Pseudo-spectral ETDRK4 (Cox–Matthews, Kassam–Trefethen contour integrals) for
    u_t = eps u_xx + (1.05 + t sin x)(u - u^3) on [0, 2pi)."""
    x = 2 * np.pi * np.arange(N) / N
    u = np.exp(-0.5 * width**2 * np.sin((x - b[0]) / 2) ** 2) - np.exp(-0.5 * width**2 * np.sin((x - b[1]) / 2) ** 2)
    k = np.fft.fftfreq(N, 1.0 / N)
    L = -eps * k**2
    E, E2 = np.exp(h * L), np.exp(h * L / 2)
    r = np.exp(1j * np.pi * (np.arange(1, 33) - 0.5) / 32)
    LR = h * L[:, None] + r[None, :]
    Q = h * np.real(np.mean((np.exp(LR / 2) - 1) / LR, axis=1))
    f1 = h * np.real(np.mean((-4 - LR + np.exp(LR) * (4 - 3 * LR + LR**2)) / LR**3, axis=1))
    f2 = h * np.real(np.mean((2 + LR + np.exp(LR) * (-2 + LR)) / LR**3, axis=1))
    f3 = h * np.real(np.mean((-4 - 3 * LR - LR**2 + np.exp(LR) * (4 - LR)) / LR**3, axis=1))

    def nl(v, t):
        w = np.real(np.fft.ifft(v))
        return np.fft.fft((1.05 + t * np.sin(x)) * (w - w**3))

    v, t = np.fft.fft(u), 0.0
    for _ in range(round(T / h)):
        Nv = nl(v, t)
        a = E2 * v + Q * Nv
        Na = nl(a, t + h / 2)
        bb = E2 * v + Q * Na
        Nb = nl(bb, t + h / 2)
        c = E2 * a + Q * (2 * Nb - Nv)
        Nc = nl(c, t + h)
        v = E * v + Nv * f1 + 2 * (Na + Nb) * f2 + Nc * f3
        t += h
    return x, np.real(np.fft.ifft(v))


def test_allen_cahn_against_spectral_reference():
    T = 1.0
    x, uref = _allen_cahn_etdrk4(T)
    _x2, uref2 = _allen_cahn_etdrk4(T, N=256, h=2e-3)
    assert np.linalg.norm(uref[::2] - uref2) / np.linalg.norm(uref) < 1e-8  # the reference is converged
    pde = g.allen_cahn()
    m = 6
    P = g.GaussianUnits(m, 1, periodic=2 * np.pi)
    th0 = np.array([1.0, -1.0] + [0.0] * (m - 2) + [math.sqrt(10.0)] * 2 + [2.0] * (m - 2)
                   + [0.5, 4.4] + list(np.linspace(0, 2 * np.pi, m - 2, endpoint=False) + 0.3))
    res = g.solve(pde, P, th0, T, 1e-2, sampler=g.GridSampler(0, 2 * np.pi, 256), fit=False, ridge=1e-6)
    err = np.linalg.norm(res(x[:, None]) - uref) / np.linalg.norm(uref)
    assert err < 1e-2  # measured 4.4e-3 (ansatz-limited: 6 units)


# ---------------------------------------------------------------------------------------------- API
def test_solve_validates_inputs():
    pde, P, th0 = _adv1d()
    with pytest.raises(ValueError, match="scheme"):
        g.solve(pde, P, th0, 1.0, 0.1, scheme="leapfrog")
    with pytest.raises(ValueError, match="derivatives"):
        g.solve(pde, P, th0, 1.0, 0.1, derivatives="exact")
    with pytest.raises(ValueError, match="theta0"):
        g.solve(pde, P, th0[:-1], 1.0, 0.1)
    with pytest.raises(ValueError, match="dt"):
        g.solve(pde, P, th0, 1.0, 2.0)
    with pytest.raises(ValueError, match="dimension"):
        g.solve(g.advection(2), P, th0, 1.0, 0.1)
    with pytest.raises(ValueError, match="NaN"):
        g.solve(pde, P, np.full_like(th0, np.nan), 1.0, 0.1)
    with pytest.raises(ValueError, match="dxxx"):
        g.GaussianUnits(2, 2).evaluate(np.ones(8), np.ones((3, 2)), ("dxxx",))
    with pytest.raises(ValueError, match="m"):
        g.GaussianUnits(0)


def test_solve_validates_numbers_before_work():
    """Regularization, tolerances, iteration counts and the sampler are checked at the entry, before the fit."""
    pde, P, th0 = _adv1d()
    for kw, match in (({"rcond": -1.0}, "rcond"), ({"ridge": float("nan")}, "ridge"), ({"rtol": 0.0}, "rtol"),
                      ({"atol": -1e-9}, "atol"), ({"newton_iters": 0}, "newton_iters"),
                      ({"fit_iters": -1}, "fit_iters"), ({"sampler": "grid"}, "sampler")):
        with pytest.raises((TypeError, ValueError), match=match):
            g.solve(pde, P, th0, 1.0, 0.1, **kw)


def test_result_fields_and_callable(backend):
    pde, P, th0 = _adv1d()
    res = g.solve(pde, P, backend.asarray(th0), 0.04, 0.01, sampler=g.GridSampler(-1, 3, 64, periodic=False),
                  fit=False, save_every=2)
    assert res.theta.shape == (3, P.n_params) and res.t.shape == (3,)
    assert res.particles.shape == (3, 64, 1)
    assert len(res.rank) == len(res.cond) == res.n_steps == 4
    u = res(backend.asarray(np.zeros((5, 1))), 0.02)
    assert u.shape == (5,)
    with pytest.raises(ValueError, match="saved time"):
        res(backend.asarray(np.zeros((5, 1))), 0.01)
    r_np = res.to_numpy()
    assert isinstance(r_np.theta, np.ndarray)


def test_demo_runs(capsys, tmp_path):
    g.demo(png=str(tmp_path / "kdv.png"))
    assert "relative L2 error" in capsys.readouterr().out
    assert (tmp_path / "kdv.png").stat().st_size > 0


def test_adaptive_dopri5_matches_rk4():
    """Embedded Dormand–Prince 5(4) with error control reproduces the RK4 trajectory (both exact to ~1e-8)."""
    pde, P, _ = _adv1d()
    th = np.array([1.0, 0.6, 1 / 0.15, 1 / 0.3, 0.2, 0.9])
    samp = g.GridSampler(-1, 3, 200, periodic=False)
    a = g.solve(pde, P, th, 0.5, 0.25, sampler=samp, scheme="dopri5", fit=False, rtol=1e-9, atol=1e-11)
    b = g.solve(pde, P, th, 0.5, 1e-2, sampler=samp, scheme="rk4", fit=False)
    np.testing.assert_allclose(a.theta[-1], b.theta[-1], atol=1e-7)
    assert a.theta.shape == (3, P.n_params)


def test_tanh_units_and_progress_bar(backend):
    """TanhUnits through the whole pipeline (fit + RK4 + grid): a kink u0 = tanh(4(x - 0.5)) advected;
    2 units can represent it exactly, so the error stays at the fit level."""
    pde = g.PDE(rhs=lambda t, x, F, xp: -F["grad"][:, 0], d=1, low=(-2.0,), high=(3.0,), needs=("grad",),
                u0=lambda x, xp: xp.tanh(4.0 * (x[:, 0] - 0.5)),
                exact=lambda t, x, xp: xp.tanh(4.0 * (x[:, 0] - 0.5 - t)), name="kink")
    P = g.TanhUnits(2, 1)
    th0 = backend.asarray([0.9, 0.1, 3.5, 1.0, -1.5, 0.0])
    res = g.solve(pde, P, th0, 0.1, 0.05, sampler=g.GridSampler(-2, 3, 101, periodic=False), progress=True,
                  fit_iters=60)
    assert res.fit_error < 1e-6
    assert g.relative_l2_error(res, backend.asarray(np.linspace(-2, 3, 501)[:, None]), 0.1) < 1e-5


@pytest.mark.requires("value_and_grad")
@pytest.mark.parametrize("d", [1, 2])
def test_autodiff_parametrization_matches_analytic(backend, d):
    """A user ansatz written row-wise and differentiated by autodiff equals the analytic Gaussian units."""
    xp = backend.xp
    ref = g.GaussianUnits(2, d)

    def fn(T, x):
        c, w, b = T[:, 0:2], T[:, 2:4], xp.reshape(T[:, 4:], (-1, 2, d))
        return xp.sum(c * xp.exp(-0.5 * w**2 * xp.sum((x[:, None, :] - b) ** 2, axis=2)), axis=1)

    A = g.AutodiffParametrization(fn, ref.n_params, d, backend=backend)
    rng = np.random.default_rng(0)
    th = backend.asarray(rng.normal(size=ref.n_params) + 1)
    x = backend.asarray(rng.normal(size=(5, d)))
    need = ("u", "jac", "grad", "lap") + (("dxxx",) if d == 1 else ())
    F1, F2 = A.evaluate(th, x, need), ref.evaluate(th, x, need)
    for k in need:
        np.testing.assert_allclose(backend.to_numpy(F1[k]), backend.to_numpy(F2[k]), atol=1e-12, rtol=1e-12)


def test_autodiff_parametrization_needs_capability():
    with pytest.raises(tk.CapabilityError):
        g.AutodiffParametrization(lambda T, x: T[:, 0], 1, 1, backend=NUMPY)
