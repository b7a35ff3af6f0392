"""Mean-field particle dynamics of shallow networks (Rotskoff & Vanden-Eijnden, CPAM 2022, arXiv:1805.00915;
birth–death: Rotskoff, Jelassi, Bruna & Vanden-Eijnden, ICML 2019, arXiv:1902.01843): analytic gradients, exact
fields, gradient flow, SGD, birth–death (n fixed, event statistics), quadratic activations, scaling and
fluctuations, compiled runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import transportkit as tk
import transportkit.meanfield as mf


def _np(be, x):
    return np.asarray(be.to_numpy(x))


def _host(seed, be):
    """A generator drawing on the host: the same numbers on every backend (seed-dependent outcomes agree)."""
    return tk.random.Generator(seed, be, rng_on_host=True)


@pytest.mark.parametrize(
    "unit", [mf.ReLU(), mf.Tanh(bias=True), mf.Sigmoid(), mf.Quadratic(), mf.Gaussian(1.3, height=2.0)], ids=repr
)
def test_unit_gradients_match_finite_differences(backend, unit):
    rng = np.random.default_rng(0)
    X, W = rng.normal(size=(7, 3)), rng.normal(size=(5, unit.n_params(3)))
    G = rng.normal(size=(7, 5))
    xp = backend.xp
    J = _np(backend, unit.jacobian(backend.asarray(X), backend.asarray(W), xp))
    Jfd = np.zeros_like(J)
    eps = 1e-6
    for k in range(W.shape[1]):
        E = np.zeros_like(W)
        E[:, k] = eps
        Jfd[:, :, k] = (unit.features(X, W + E, np) - unit.features(X, W - E, np)) / (2 * eps)
    np.testing.assert_allclose(J, Jfd, atol=1e-7)
    vjp = _np(backend, unit.vjp(backend.asarray(X), backend.asarray(W), backend.asarray(G), xp))
    np.testing.assert_allclose(vjp, np.einsum("bi,bip->ip", G, J), atol=1e-12)


def _fd_velocity(problem, c, W):
    """-n * grad of the loss by central differences (the rescaled-time velocity of the mean-field limit)."""
    n = c.shape[0]
    L = lambda c, W: float(problem.loss(c, W))  # noqa: E731
    eps = 1e-6
    vc = np.array([-(L(c + e, W) - L(c - e, W)) / (2 * eps) for e in np.eye(n) * eps]) * n
    vw = np.zeros_like(W)
    for i in range(n):
        for k in range(W.shape[1]):
            E = np.zeros_like(W)
            E[i, k] = eps
            vw[i, k] = -(L(c, W + E) - L(c, W - E)) / (2 * eps) * n
    return vc, vw


@pytest.mark.parametrize("tau", [0.0, 0.7])
def test_exact_gaussian_field_is_minus_n_grad_of_exact_loss(backend, tau):
    P = mf.gaussian_teacher_student(d=2, m_teacher=3, tau=tau, rng=1, backend=backend)
    p = P.init_particles(6, rng=2)
    ev = P.field(p.c, p.w)
    Pn = mf.GaussianTeacherStudent(_np(backend, P.tc), _np(backend, P.tz), tau=tau)  # numpy twin
    c, W = _np(backend, p.c), _np(backend, p.w)
    vc, vw = _fd_velocity(Pn, c, W)
    np.testing.assert_allclose(_np(backend, ev.vc), vc, atol=1e-7)
    np.testing.assert_allclose(_np(backend, ev.vw), vw, atol=1e-7)
    # local potential V = c * E[r phi] = -c * velocity of c
    np.testing.assert_allclose(_np(backend, ev.V), -c * vc, atol=1e-7)


def test_exact_gaussian_loss_matches_monte_carlo(backend):
    P = mf.gaussian_teacher_student(d=2, m_teacher=3, tau=0.7, rng=1, backend=backend)
    p = P.init_particles(6, rng=2)
    X = backend.rng(5).normal((100_000, 2))
    r = _np(backend, P.unit.features(X, p.w, backend.xp) @ p.c / 6 - P.target(X))
    half_sq = 0.5 * r**2
    se = half_sq.std() / math.sqrt(half_sq.size)
    assert abs(float(P.loss(p.c, p.w)) - half_sq.mean()) < 4 * se


def test_data_field_is_minus_n_grad_and_network_view(backend):
    P = mf.teacher_student(d=3, m_teacher=2, n_data=50, unit="tanh", rng=0, backend=backend)
    p = P.init_particles(5, rng=1)
    ev = P.field(p.c, p.w)
    Pn = mf.teacher_student(d=3, m_teacher=2, n_data=50, unit="tanh", rng=0, backend=backend)
    Pn = mf.DataProblem(mf.Tanh(), _np(backend, Pn.X), _np(backend, Pn.y))
    vc, vw = _fd_velocity(Pn, _np(backend, p.c), _np(backend, p.w))
    np.testing.assert_allclose(_np(backend, ev.vc), vc, atol=1e-7)
    np.testing.assert_allclose(_np(backend, ev.vw), vw, atol=1e-7)
    net = mf.ShallowNetwork("tanh")
    # l = C_f - mean F + (1/2n^2) sum K, with C_f = mean y^2 / 2
    F = _np(backend, net.potential_F(p, P.X, P.y))
    K = _np(backend, net.kernel_K(p, P.X))
    y = _np(backend, P.y)
    np.testing.assert_allclose(float(ev.loss), 0.5 * np.mean(y**2) - F.mean() + K.sum() / 2 / 25, rtol=1e-12)
    np.testing.assert_allclose(_np(backend, ev.V), -F + K.mean(axis=1), atol=1e-12)
    np.testing.assert_allclose(_np(backend, net(p, P.X)), _np(backend, P.predict(p.c, p.w, P.X)), atol=1e-14)


def test_gradient_flow_teacher_student_three_orders(backend):
    # ReLU teacher of width 2, student of width 32 (well above), d = 2, 200 data points.
    P = mf.teacher_student(d=2, m_teacher=2, n_data=200, unit="relu", rng=_host(0, backend), backend=backend)
    tr = mf.gradient_flow(P, 32, dt=0.2, steps=600, rng=_host(1, backend), record_every=100)
    loss = _np(backend, tr.loss)
    assert loss.shape == (7,) and np.all(np.isfinite(loss))
    assert loss[-1] < 1e-3 * loss[0], loss


def test_sgd_decreases_loss_and_needs_data(backend):
    P = mf.teacher_student(d=3, m_teacher=2, n_data=200, unit="tanh", rng=_host(0, backend), backend=backend)
    tr = mf.sgd(P, 16, batch_size=50, dt=0.5, steps=30, rng=_host(3, backend), record_every=30)
    loss = _np(backend, tr.loss)
    assert loss[-1] < 0.2 * loss[0]
    E = mf.gaussian_teacher_student(d=2, backend=backend)
    with pytest.raises(ValueError, match="batch_size"):
        mf.sgd(E, 4, batch_size=2, steps=1)


def test_gradient_flow_agrees_across_backends(backend):
    Pn = mf.gaussian_teacher_student(d=2, m_teacher=3, rng=0)
    p0 = Pn.init_particles(8, rng=1)
    ref = mf.gradient_flow(Pn, p0, dt=0.5, steps=20, rng=0)
    P = mf.GaussianTeacherStudent(_np(tk.get_backend(), Pn.tc), _np(tk.get_backend(), Pn.tz), backend=backend)
    p = mf.Particles(backend.asarray(p0.c), backend.asarray(p0.w), backend=backend)
    tr = mf.gradient_flow(P, p, dt=0.5, steps=20, rng=0)
    np.testing.assert_allclose(_np(backend, tr.loss), ref.loss, rtol=1e-10)
    np.testing.assert_allclose(_np(backend, tr.particles.w), ref.particles.w, atol=1e-10)


@pytest.mark.parametrize("kind", ["birth-death", "sgd"])
def test_compiled_run_matches_python_loop(backend, kind):
    """``jit=True`` runs the whole training as one compiled program where the backend compiles loops (JAX),
    ``jit=False`` as Python loops; both draw step k from ``Generator.at(key, k)``, so they agree to rounding
    (birth–death events and minibatches identical)."""
    P = mf.three_spin(d=4, n_data=100, rng=0, backend=backend)
    kw = {"birth_death": 1.0} if kind == "birth-death" else {"batch_size": 20}
    a, b = (mf.train(P, 16, dt=0.5, steps=12, rng=3, record_every=5, record_particles=True, jit=j, **kw)
            for j in (True, False))
    assert _np(backend, a.loss).shape == (4,) and len(a.snapshots) == 4  # steps 0, 5, 10 and the end
    np.testing.assert_allclose(_np(backend, a.times), [0.0, 2.5, 5.0, 6.0])
    np.testing.assert_allclose(_np(backend, a.loss), _np(backend, b.loss), rtol=1e-10)
    np.testing.assert_array_equal(_np(backend, a.n_killed), _np(backend, b.n_killed))
    np.testing.assert_allclose(_np(backend, a.particles.w), _np(backend, b.particles.w), atol=1e-10)
    np.testing.assert_allclose(_np(backend, a.snapshots[2].w), _np(backend, b.snapshots[2].w), atol=1e-10)
    if kind == "birth-death":
        assert int(np.sum(_np(backend, a.n_killed))) > 0  # the events happen inside the compiled run


def test_sphere_constraint_kept(backend):
    P = mf.three_spin(d=4, n_data=100, rng=0, backend=backend)
    tr = mf.gradient_flow(P, 16, dt=0.5, steps=10, birth_death=1.0, rng=0)
    r = np.linalg.norm(_np(backend, tr.particles.w), axis=1)
    np.testing.assert_allclose(r, 2.0, rtol=1e-12)


def test_birth_death_event_statistics_and_fixed_n(backend):
    # p_i = min(1, alpha dt |V_i - Vbar|): E[#deaths] = sum_{V_i > Vbar} p_i, E[#births] = sum_{V_i < Vbar} p_i
    # (free slots are never short here).
    V = np.linspace(-1.0, 1.0, 41)
    alpha, dt = 0.5, 0.4
    p = np.minimum(1, alpha * dt * np.abs(V - V.mean()))
    gen = backend.rng(0)
    Vb = backend.asarray(V)
    reps = 100
    kills, births = [], []
    for _ in range(reps):
        src, nk, nc = mf.birth_death_indices(Vb, alpha, dt, gen)
        s = _np(backend, src)
        assert s.shape == (41,) and s.min() >= 0 and s.max() < 41  # n fixed: every slot holds one particle
        kills.append(int(_np(backend, nk)))
        births.append(int(_np(backend, nc)))
        changed = int(np.sum(s != np.arange(41)))
        assert kills[-1] <= changed <= kills[-1] + births[-1]
        # every birth puts one more copy of a low-potential particle into the population
        low_copies = np.bincount(s, minlength=41)[V < 0] - 1
        assert np.all(low_copies >= -1)
    for counts, side in ((kills, V > 0), (births, V < 0)):
        mean, var = p[side].sum(), (p[side] * (1 - p[side])).sum()
        assert abs(np.mean(counts) - mean) < 4 * math.sqrt(var / reps)


def test_birth_death_deaths_copy_survivors(backend):
    V = backend.asarray(np.array([5.0, -1.0, -1.0, -1.0, -1.0, -1.0]))
    src, nk, nc = mf.birth_death_indices(V, alpha=10.0, dt=1.0, gen=backend.rng(1))
    s = _np(backend, src)
    assert int(_np(backend, nk)) == 1 and s[0] != 0  # particle 0 dies (p = 1) and copies a survivor
    assert int(_np(backend, nc)) == 0  # every other particle had an event (p = 1): no free slot to clone onto


def test_birth_death_helps_when_mass_is_far_from_initial_support(backend):
    # Teacher bumps at distance ~3 from a wide initial cloud: birth-death moves mass there non-locally.
    # (teacher of width 2 near the origin, students spread by N(0, 2^2 I), amplitudes starting at 0)
    P = mf.GaussianTeacherStudent(backend.asarray([3.0, -3.0]), backend.asarray([[1.0, 0.0], [-1.0, 0.5]]),
                                  width=0.5, w_scale=2.0, c_scale=0.0, backend=backend)
    for seed in range(2):
        p0 = P.init_particles(64, rng=_host(seed, backend))
        gf = float(mf.gradient_flow(P, p0, dt=0.5, steps=40, record_every=40).loss[-1])
        bd = mf.gradient_flow(P, p0, dt=0.5, steps=40, rng=_host(seed, backend), birth_death=4.0, record_every=40)
        assert bd.particles.n == 64
        assert float(bd.loss[-1]) < 0.6 * gf, (float(bd.loss[-1]), gf)


def test_quadratic_population_error_identity(backend):
    gen = backend.rng(0)
    W, Wt = gen.normal((3, 4)), gen.normal((2, 4))
    X = gen.normal((200_000, 4))
    y = mf.Quadratic().features(X, Wt, backend.xp) @ backend.xp.ones((2,), dtype=backend.dtype) / 2
    yh = mf.Quadratic().features(X, W, backend.xp) @ backend.xp.ones((3,), dtype=backend.dtype) / 3
    e = _np(backend, (yh - y) ** 2)
    exact = float(mf.quadratic_population_error(W, Wt))
    assert abs(e.mean() - exact) < 4 * e.std() / math.sqrt(e.size)


def test_quadratic_teacher_student_recovers_teacher(backend):
    # d = 4: n_data = 120 >> d(d+1)/2 = 10; student width 8 >= d.
    P = mf.quadratic_teacher_student(d=4, m_teacher=1, n_data=120, rng=_host(0, backend), backend=backend)
    p0 = P.init_particles(8, rng=_host(1, backend))
    e0 = float(P.population_error(p0.w))
    tr = mf.gradient_flow(P, p0, dt=0.05, steps=300, rng=0, record_every=300)
    e1 = float(P.population_error(tr.particles.w))
    assert e1 < 1e-3 * e0, (e0, e1)


def test_fit_power_law_exact_and_scaling_shape(backend):
    n = backend.asarray([32.0, 64.0, 128.0, 256.0])
    fit = mf.fit_power_law(n, 3.0 * n**-1.0)
    assert abs(fit.a - 1.0) < 1e-12 and abs(fit.log_C - math.log(3.0)) < 1e-12
    P = mf.gaussian_teacher_student(d=2, m_teacher=1, tau=1.0, init="teacher", rng=0, backend=backend)
    res = mf.scaling_exponent(P, [16, 32], seeds=[0], dt=0.5, steps=5)
    assert _np(backend, res.errors).shape == (1, 2) and np.isfinite(res.fit.a)
    with pytest.raises(ValueError, match="positive"):
        mf.fit_power_law(n, backend.asarray([1.0, 0.0, 1.0, 1.0]))


def test_initial_loss_is_order_one_over_n_at_teacher_init(backend):
    # i.i.d. particles from the teacher measure: E loss = Var/(2n) exactly, so n * E loss does not depend on n.
    P = mf.gaussian_teacher_student(d=2, m_teacher=1, tau=1.0, init="teacher", rng=0, backend=backend)
    gen = _host(3, backend)
    vals = {}
    for n in (16, 256):
        ls = []
        for _ in range(16):
            q = P.init_particles(n, rng=gen)
            ls.append(n * float(P.loss(q.c, q.w)))
        vals[n] = (np.mean(ls), np.std(ls, ddof=1) / math.sqrt(len(ls)))
    (m1, s1), (m2, s2) = vals[16], vals[256]
    assert abs(m1 - m2) < 4 * math.hypot(s1, s2), vals


def test_fluctuations_arrays(backend):
    P = mf.gaussian_teacher_student(d=2, m_teacher=1, tau=1.0, init="teacher", rng=0, backend=backend)
    Xp = backend.asarray(np.array([[0.0, 0.0], [1.0, -1.0], [0.5, 0.5]]))
    fl = mf.fluctuations(P, 32, Xp, seeds=range(4), dt=0.5, steps=10, record_every=5)
    assert _np(backend, fl.times).shape == (3,)
    assert _np(backend, fl.f_var).shape == (3, 3) and _np(backend, fl.losses).shape == (4, 3)
    np.testing.assert_allclose(_np(backend, fl.n_var), 32 * _np(backend, fl.f_var))
    assert np.all(_np(backend, fl.f_var) > 0)


def test_input_validation(backend):
    P = mf.gaussian_teacher_student(d=2, backend=backend)
    with pytest.raises(ValueError, match="dt"):
        mf.gradient_flow(P, 4, dt=-1.0)
    with pytest.raises(ValueError, match="birth_death"):
        mf.gradient_flow(P, 4, birth_death=-1.0)
    with pytest.raises(ValueError, match="n must be"):
        P.init_particles(0)
    with pytest.raises(ValueError, match="width"):
        mf.Gaussian(0.0)
    with pytest.raises(ValueError, match="unknown unit"):
        mf.get_unit("swish")
    with pytest.raises(ValueError, match="particles"):
        mf.gradient_flow(P, mf.Particles(backend.asarray([1.0]), backend.asarray([[1.0, 2.0, 3.0]])), steps=1)


def test_steps_to_reach():
    assert mf.steps_to_reach(np.array([3.0, 2.0, 1.0, 0.5]), 1.0) == 2
    assert mf.steps_to_reach(np.array([3.0, 2.0]), 1.0) == -1


def test_demo_runs(capsys, tmp_path):
    """The demo prints its table; with a path it writes a PNG through a pyplot-free Figure, leaving the user's
    matplotlib backend as it was."""
    mf.demo(small=True)
    out = capsys.readouterr().out
    assert "birth-death" in out
    matplotlib = pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    before, open_figs = matplotlib.get_backend(), list(plt.get_fignums())
    fig = mf.plot_losses({"a": (np.arange(1.0, 4.0), np.array([1.0, 0.5, 0.25]))}, str(tmp_path / "l.png"))
    assert (tmp_path / "l.png").stat().st_size > 0 and fig.axes[0].get_yscale() == "log"
    assert matplotlib.get_backend() == before and list(plt.get_fignums()) == open_figs  # pyplot untouched
