"""Free-energy estimators at their public entries: every bad argument raises before any evaluation (spies count
evaluations), typed diagnostics that still read like dicts, and escorted works as one compiled run on JAX that
gives the numbers of the Python loop and of a hand-written RK4."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import transportkit as tk
from transportkit import free_energy as fe
from transportkit.free_energy import escorted, exp_bar
from transportkit.free_energy import multistate as mbar_module


def to_np(be, x):
    return np.asarray(be.to_numpy(x))


# ---------------------------------------------------------------------------------------------- spies
class Spy:
    """Wraps a callable and counts its calls."""

    def __init__(self, f):
        self.f, self.calls = f, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.f(*args, **kwargs)


@pytest.fixture
def estimator_spies(monkeypatch):
    """Count the kernels (EXP), solves (BAR, MBAR) and bootstrap runs of the estimators."""
    spies = {
        "kernel": Spy(exp_bar.kernel),
        "bar_solve": Spy(exp_bar.solve_bar),
        "mbar_solve": Spy(mbar_module._mbar_solve),
    }
    monkeypatch.setattr(exp_bar, "kernel", spies["kernel"])
    monkeypatch.setattr(exp_bar, "solve_bar", spies["bar_solve"])
    monkeypatch.setattr(mbar_module, "_mbar_solve", spies["mbar_solve"])
    return spies


W = np.array([0.5, 1.0, 1.5, 2.0])
W2 = np.array([[0.5, 1.0], [1.5, 2.0]])

EXP_CASES = [
    ({"bootstrap": 1}, ValueError, "bootstrap"),
    ({"bootstrap": 2.5}, TypeError, "bootstrap"),
    ({"bootstrap": True}, TypeError, "bootstrap"),
    ({"direction": "sideways"}, ValueError, "direction"),
    ({"nan_policy": "ignore"}, ValueError, "nan_policy"),
    ({"ess_warning": math.nan}, ValueError, "ess_warning"),
    ({"ess_warning": "high"}, TypeError, "ess_warning"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), EXP_CASES)
def test_exp_bad_arguments_raise_before_work(backend, estimator_spies, kwargs, error, match):
    with pytest.raises(error, match=match):
        fe.exp(backend.asarray(W), **kwargs)
    assert estimator_spies["kernel"].calls == 0


def test_exp_bootstrap_needs_1d_works_before_work(backend, estimator_spies):
    with pytest.raises(ValueError, match="1-D"):
        fe.exp(backend.asarray(W2), bootstrap=10)
    assert estimator_spies["kernel"].calls == 0


BAR_CASES = [
    ({"bootstrap": 1}, ValueError, "bootstrap"),
    ({"bootstrap": 0}, ValueError, "bootstrap"),
    ({"uncertainty_method": "bootstrap"}, ValueError, "uncertainty_method"),
    ({"rtol": 0.0}, ValueError, "rtol"),
    ({"rtol": math.nan}, ValueError, "rtol"),
    ({"maxiter": 0}, ValueError, "maxiter"),
    ({"maxiter": 2.0}, TypeError, "maxiter"),
    ({"nan_policy": "skip"}, ValueError, "nan_policy"),
    ({"ess_warning": math.nan}, ValueError, "ess_warning"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAR_CASES)
def test_bar_bad_arguments_raise_before_work(backend, estimator_spies, kwargs, error, match):
    with pytest.raises(error, match=match):
        fe.bar(backend.asarray(W), backend.asarray(-W), **kwargs)
    assert estimator_spies["bar_solve"].calls == 0 and estimator_spies["kernel"].calls == 0


def test_bar_shapes_checked_before_work(backend, estimator_spies):
    with pytest.raises(ValueError, match="leading"):
        fe.bar(backend.asarray(W2), backend.asarray(W))
    with pytest.raises(ValueError, match="1-D"):
        fe.bar(backend.asarray(W2), backend.asarray(W2), bootstrap=5)
    with pytest.raises(ValueError, match="nan_policy"):
        fe.bounds(backend.asarray(W), nan_policy="drop")
    assert estimator_spies["bar_solve"].calls == 0


U = np.array([[0.0, 0.1, 0.2, 0.3], [0.5, 0.2, 0.1, 0.0]])
MBAR_CASES = [
    ({"bootstrap": 1}, ValueError, "bootstrap"),
    ({"tol": -1e-12}, ValueError, "tol"),
    ({"maxiter": 0}, ValueError, "maxiter"),
    ({"f_k_init": [0.0, 1.0, 2.0]}, ValueError, "f_k_init"),
    ({"f_k_init": [0.0, math.inf]}, ValueError, "f_k_init"),
    ({"ess_warning": math.nan}, ValueError, "ess_warning"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), MBAR_CASES)
def test_mbar_bad_arguments_raise_before_work(backend, estimator_spies, kwargs, error, match):
    with pytest.raises(error, match=match):
        fe.mbar(backend.asarray(U), [2, 2], **kwargs)
    assert estimator_spies["mbar_solve"].calls == 0


@pytest.mark.parametrize(("N_k", "match"), [([2, 3], "sum"), ([1, 1, 2], "entries"), ([-1, 5], "non-negative"),
                                            ([1.5, 2.5], "integer")])  # fmt: skip
def test_mbar_bad_counts_raise_before_work(backend, estimator_spies, N_k, match):
    with pytest.raises(ValueError, match=match):
        fe.mbar(backend.asarray(U), N_k)
    assert estimator_spies["mbar_solve"].calls == 0


# ---------------------------------------------------------------------------------------------- escorted
def _isotropic_transport(be, m0, a, m1, c):
    """Exact linear-interpolant field between N(m0, a^2 I) and N(m1, c^2 I), written with array arithmetic on t
    only (traceable): b = m1 - m0 + A_t (x - mu_t), A_t = (t c^2 - (1 - t) a^2) / ((1 - t)^2 a^2 + t^2 c^2)."""
    d = len(m0)
    M0, M1 = be.asarray(m0), be.asarray(m1)

    def A(t):
        return (t * c * c - (1 - t) * a * a) / ((1 - t) ** 2 * a * a + t * t * c * c)

    def velocity(t, x):
        return (M1 - M0) + A(t) * (x - ((1 - t) * M0 + t * M1))

    def divergence(t, x):
        return be.xp.zeros(x.shape[:1], dtype=x.dtype) + d * A(t)

    def U0(x):
        return 0.5 * be.xp.sum((x - M0) ** 2, axis=-1) / (a * a)

    def U1(x):
        return 0.5 * be.xp.sum((x - M1) ** 2, axis=-1) / (c * c)

    return velocity, divergence, U0, U1, -d * math.log(c / a)


def _escorted_inputs(backend, d=2, n=200):
    rng = np.random.default_rng(4)
    m0, m1, a, c = np.zeros(d), np.linspace(1.0, -1.0, d), 1.0, 0.6
    x0 = backend.asarray(rng.normal(0.0, a, (n, d)) + m0)
    x1 = backend.asarray(rng.normal(0.0, c, (n, d)) + m1)
    return (*_isotropic_transport(backend, m0, a, m1, c), x0, x1)


ESCORTED_CASES = [
    (lambda v, dv, U0, U1, x0, x1: fe.escorted_jarzynski(v, dv, U0, U1, x0, x1, steps=0), ValueError, "steps"),
    (lambda v, dv, U0, U1, x0, x1: fe.escorted_jarzynski(v, dv, U0, U1, x0, x1, steps=2.0), TypeError, "steps"),
    (lambda v, dv, U0, U1, x0, x1: fe.escorted_jarzynski(v, dv, U0, U1, x0, x1[:, :1]), ValueError, "dimension"),
    (lambda v, dv, U0, U1, x0, x1: fe.escorted_jarzynski(v, dv, U0, U1, x0[0, ...]), ValueError, "x0"),
    (lambda v, dv, U0, U1, x0, x1: fe.escorted_jarzynski(v, dv, U0, U1, x0, jit="yes"), ValueError, "jit"),
    (lambda v, dv, U0, U1, x0, x1: fe.escorted_jarzynski(v, dv, U0, U1, x0, ess_warning=math.nan), ValueError,
     "ess_warning"),
    (lambda v, dv, U0, U1, x0, x1: fe.escorted_jarzynski(v, 1.0, U0, U1, x0), TypeError, "divergence"),
    (lambda v, dv, U0, U1, x0, x1: fe.escorted_jarzynski(v, dv, U0, None, x0), TypeError, "U1"),
    (lambda v, dv, U0, U1, x0, x1: fe.flow_works(v, dv, U0, U1, x0, t_end=math.nan), ValueError, "t_end"),
    (lambda v, dv, U0, U1, x0, x1: fe.flow_works(v, dv, U0, U1, x0[:0, ...]), ValueError, "empty"),
    (lambda v, dv, U0, U1, x0, x1: fe.flow_works("b", dv, U0, U1, x0), TypeError, "velocity"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "match"), ESCORTED_CASES)
def test_escorted_bad_arguments_raise_before_any_evaluation(backend, call, error, match):
    v, dv, U0, U1, _, x0, x1 = _escorted_inputs(backend)
    spies = [Spy(f) for f in (v, dv, U0, U1)]
    with pytest.raises(error, match=match):
        call(*spies, x0, x1)
    assert [s.calls for s in spies] == [0, 0, 0, 0]


def _rk4_reference(velocity, divergence, x, t0, t1, n_steps):
    """The fixed-step RK4 of (x, integral of div b) as written before the shared stack, for comparison."""
    h = (t1 - t0) / n_steps
    ell = np.zeros(x.shape[0])
    for i in range(n_steps):
        t = t0 + i * h
        k1, d1 = velocity(t, x), divergence(t, x)
        k2, d2 = velocity(t + h / 2, x + h / 2 * k1), divergence(t + h / 2, x + h / 2 * k1)
        k3, d3 = velocity(t + h / 2, x + h / 2 * k2), divergence(t + h / 2, x + h / 2 * k2)
        k4, d4 = velocity(t + h, x + h * k3), divergence(t + h, x + h * k3)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        ell = ell + h / 6 * (d1 + 2 * d2 + 2 * d3 + d4)
    return x, ell


def test_flow_works_match_hand_written_rk4(backend):
    """A nonlinear field: the shared Runge-Kutta stack gives the numbers of a hand-written RK4 to round-off."""
    xp = backend.xp
    rng = np.random.default_rng(9)
    x = rng.normal(size=(50, 3))

    def velocity_np(t, x):
        return np.sin(x + t) - 0.3 * x**3 * (1 - t)

    def divergence_np(t, x):
        return np.sum(np.cos(x + t) - 0.9 * x**2 * (1 - t), axis=-1)

    def velocity(t, x):
        return xp.sin(x + t) - 0.3 * x**3 * (1 - t)

    def divergence(t, x):
        return xp.sum(xp.cos(x + t) - 0.9 * x**2 * (1 - t), axis=-1)

    def U(x):
        return 0.5 * xp.sum(x * x, axis=-1)

    x_ref, ell = _rk4_reference(velocity_np, divergence_np, x, 0.2, 0.9, 25)
    w, x_end = fe.flow_works(velocity, divergence, U, U, backend.asarray(x), t_start=0.2, t_end=0.9, steps=25)
    w_ref = 0.5 * np.sum(x_ref**2, axis=-1) - 0.5 * np.sum(x**2, axis=-1) - ell
    np.testing.assert_allclose(to_np(backend, x_end), x_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(to_np(backend, w), w_ref, rtol=1e-11, atol=1e-12)


def test_escorted_run_is_one_compiled_program(backend):
    """On JAX the fields are traced once per run (4 RK stages), not once per step, and a second run reuses the
    compiled program; elsewhere the Python loop calls them 4 times per step. Same numbers either way."""
    v, dv, U0, U1, dF, x0, x1 = _escorted_inputs(backend)
    n_steps = 30
    spy_v, spy_dv = Spy(v), Spy(dv)
    est = fe.escorted_jarzynski(spy_v, spy_dv, U0, U1, x0, x1, steps=n_steps)
    first = spy_v.calls
    again = fe.escorted_jarzynski(spy_v, spy_dv, U0, U1, x0, x1, steps=n_steps)
    if backend.compiles_loops:
        assert first <= 2 * 4, first  # traced once per direction at most, never per step
        assert spy_v.calls == first  # the second run reuses the compiled program
    else:
        assert first == 2 * 4 * n_steps
    plain = fe.escorted_jarzynski(v, dv, U0, U1, x0, x1, steps=n_steps, jit=False)
    for e in (again, plain):
        np.testing.assert_allclose(to_np(backend, e.value), to_np(backend, est.value), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(
            to_np(backend, e.diagnostics.w_forward), to_np(backend, est.diagnostics.w_forward), rtol=1e-12, atol=1e-12
        )
    # exact transport: works equal dF up to the RK4 error
    np.testing.assert_allclose(float(to_np(backend, est.value)), dF, atol=1e-6)


def test_untraceable_fields_fall_back_with_a_warning(backend):
    """A field that calls NumPy on t still runs on JAX (Python loop, one warning); ``jit=False`` is silent."""
    v, dv, U0, U1, _, x0, _ = _escorted_inputs(backend)

    def v_host(t, x):
        return v(float(np.asarray(t)), x)

    w_ref, _ = fe.flow_works(v, dv, U0, U1, x0, steps=10, jit=False)
    if backend.compiles_loops:
        with pytest.warns(UserWarning, match="could not be compiled"):
            w, _ = fe.flow_works(v_host, dv, U0, U1, x0, steps=10)
        with pytest.raises(Exception):  # noqa: B017 - the tracing error of JAX, whatever its class
            fe.flow_works(v_host, dv, U0, U1, x0, steps=10, jit=True)
    else:
        w, _ = fe.flow_works(v_host, dv, U0, U1, x0, steps=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        w2, _ = fe.flow_works(v_host, dv, U0, U1, x0, steps=10, jit=False, progress=True)
    for got in (w, w2):
        np.testing.assert_allclose(to_np(backend, got), to_np(backend, w_ref), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------- typed results
def test_diagnostics_are_typed_and_read_like_dicts(backend):
    rng = np.random.default_rng(2)  # sizes as in test_free_energy.py, so that JAX reuses its compiled programs
    wf, wr = backend.asarray(rng.normal(1.5, 1.0, 300)), backend.asarray(rng.normal(-0.5, 1.0, 200))
    x = rng.normal(0.0, 1.0, 400)
    u = backend.asarray(np.stack([0.5 * k * x**2 for k in (1.0, 1.5, 2.0, 2.5)]))
    cases = [
        (fe.exp(wf), fe.ExpDiagnostics, "ess"),
        (fe.exp_gauss(wf), fe.GaussDiagnostics, "n"),
        (fe.bar(wf, wr), fe.BarDiagnostics, "overlap"),
        (fe.mbar(u, [100, 100, 100, 100], ess_warning=0), fe.MbarDiagnostics, "theta"),
    ]
    for est, cls, key in cases:
        assert isinstance(est, fe.FreeEnergyEstimate) and isinstance(est.diagnostics, cls)
        d = est.diagnostics
        assert d[key] is getattr(d, key) and key in d and d.get("missing") is None
        assert set(dict(d)) == set(d.keys())
        with pytest.raises(KeyError):
            d["missing"]
        host = est.to_numpy()
        assert isinstance(host.diagnostics, cls)
        assert isinstance(np.asarray(host.diagnostics[key]), np.ndarray)
    v, dv, U0, U1, _, x0, x1 = _escorted_inputs(backend)
    esc = fe.escorted_jarzynski(v, dv, U0, U1, x0, x1, steps=30)
    d = esc.diagnostics
    assert isinstance(d, fe.EscortedDiagnostics) and d.method == "bar" and isinstance(d.estimator, fe.BarDiagnostics)
    for key in ("overlap", "ess_forward", "w_forward", "w_reverse", "lower_bound", "upper_bound", "exp_forward"):
        assert key in d and d[key] is not None
    assert isinstance(fe.bounds(wf, wr), fe.WorkBounds)


def test_submodules_do_not_import_the_package_root():
    """Each module of the package imports what it needs from transportkit's private modules, never the root."""
    import ast
    import pathlib

    root = pathlib.Path(fe.__file__).parent
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                assert node.module is not None, f"{path.name} imports the package root"
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "transportkit":
                raise AssertionError(f"{path.name} imports the package root")
    assert tk.free_energy is fe and escorted.flow_works is fe.flow_works


def test_bar_and_mbar_solves_are_one_compiled_program(backend, monkeypatch):
    """On JAX the BAR and MBAR solves are each traced once (their loops are while_loops inside one program) and a
    second call reuses the program; elsewhere the kernels run once per iteration."""
    from transportkit.free_energy import bar_equation

    spy_h, spy_eval = Spy(bar_equation._bar_h), Spy(mbar_module._mbar_evaluate)
    monkeypatch.setattr(bar_equation, "_bar_h", spy_h)
    monkeypatch.setattr(mbar_module, "_mbar_evaluate", spy_eval)
    rng = np.random.default_rng(8)
    wf, wr = backend.asarray(rng.normal(3.0, 2.0, 300)), backend.asarray(rng.normal(-1.0, 2.0, 200))
    x = rng.normal(0.0, 1.0, 400)
    u = backend.asarray(np.stack([0.5 * k * x**2 for k in (1.0, 1.5, 2.0, 2.5)]))
    rtol, tol = 1.2345e-14, 1.2345e-12  # a fresh compile-cache key: this test's own programs
    b = fe.bar(wf, wr, rtol=rtol)
    m = fe.mbar(u, [100, 100, 100, 100], tol=tol, ess_warning=0)
    first_h, first_eval = spy_h.calls, spy_eval.calls
    b2 = fe.bar(wf, wr, rtol=rtol)
    m2 = fe.mbar(u, [100, 100, 100, 100], tol=tol, ess_warning=0)
    n_bar, n_mbar = b.diagnostics.n_iterations, m.diagnostics.n_iterations
    if backend.compiles_loops:
        assert first_h <= 5 and first_eval <= 3, (first_h, first_eval)  # traced, not run per iteration
        assert (spy_h.calls, spy_eval.calls) == (first_h, first_eval)  # the second calls reuse the programs
    else:
        assert first_h >= 2 + n_bar and first_eval >= 1 + n_mbar
        assert spy_h.calls == 2 * first_h and spy_eval.calls == 2 * first_eval
    np.testing.assert_array_equal(to_np(backend, b2.value), to_np(backend, b.value))
    np.testing.assert_array_equal(to_np(backend, m2.value), to_np(backend, m.value))
