"""Whole runs as loops: Backend.fori_loop/while_loop/scan on every backend, draws inside compiled loops, the one
Runge–Kutta stack (orders of accuracy), single compilation of ODE/SDE runs on JAX, and the structure-aware exact
fields (one time for all points) against the general per-point evaluation."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import special as scipy_special

import transportkit as tk
from transportkit._loops import run_steps, scan_steps
from transportkit._target_zoo import Funnel
from transportkit.runge_kutta import TABLEAUS, error_norm, rk_step, rk_step_error
from transportkit.sampling.ais import smc
from transportkit.sampling.nets import nets


def test_loops_agree_with_python(backend):
    xp = backend.xp
    out = backend.fori_loop(0, 10, lambda i, c: c + i, xp.asarray(0.0, dtype=backend.dtype))
    assert float(out) == 45.0
    w = backend.while_loop(lambda c: c < 100.0, lambda c: 2.0 * c, xp.asarray(3.0, dtype=backend.dtype))
    assert float(w) == 192.0
    carry, ys = backend.scan(lambda i, c: (c + 1.0, c * 2.0), xp.asarray(1.0, dtype=backend.dtype), 0, 4)
    assert float(carry) == 5.0
    np.testing.assert_allclose(backend.to_numpy(ys), [2.0, 4.0, 6.0, 8.0])


def test_run_steps_and_scan_steps(backend):
    xp = backend.xp
    times = xp.linspace(0.0, 1.0, 11, dtype=backend.dtype)

    def body(i, x, ts):
        return x + (ts[i + 1] - ts[i]) * x

    x = run_steps(backend, body, xp.ones((3,), dtype=backend.dtype), 10, consts=times, key=("test-euler",))
    np.testing.assert_allclose(backend.to_numpy(x), np.full(3, 1.1**10), rtol=1e-12)
    _, path = scan_steps(backend, lambda i, x, ts: (body(i, x, ts), x), xp.ones((2,), dtype=backend.dtype), 10,
                         consts=times, progress=True)
    assert tuple(path.shape) == (10, 2)
    np.testing.assert_allclose(backend.to_numpy(path)[:, 0], 1.1 ** np.arange(10), rtol=1e-12)


def test_draws_inside_loops_are_reproducible(backend):
    gen = tk.random.default_rng(3, backend)
    key = gen.loop_key()
    a = gen.at(key, 5).normal((4,))
    if gen.functional:  # JAX: a pure function of (key, step)
        np.testing.assert_array_equal(backend.to_numpy(a), backend.to_numpy(gen.at(key, 5).normal((4,))))
        assert not np.array_equal(backend.to_numpy(a), backend.to_numpy(gen.at(key, 6).normal((4,))))
    else:
        assert gen.at(key, 5) is gen


@pytest.mark.parametrize("compiled", [True, False])
def test_loops_when_runs_the_branch_only_when_asked(backend, compiled):
    from transportkit._loops import Loops

    xp, loops = backend.xp, Loops(backend, compiled)
    x = (xp.asarray([1.0, 2.0], dtype=backend.dtype), xp.asarray(3, dtype=xp.int32))

    def double(v):
        return v[0] * 2.0, v[1] + 1

    for pred, want in ((True, ([2.0, 4.0], 4)), (False, ([1.0, 2.0], 3))):
        out = loops.when(xp.asarray(pred), double, x)
        np.testing.assert_array_equal(backend.to_numpy(out[0]), want[0])
        assert int(out[1]) == want[1]


@pytest.mark.parametrize("shape", [(2000, 10), (7,), ()])
def test_compiled_draws_are_jax_randoms(shape):
    """The unrolled threefry draws of compiled loops (transportkit.backends._jax_draws) are ``jax.random``'s own
    numbers for the step's keys, inside and outside ``jit``: bit for bit in float32 and for float64 uniforms; float64
    normals (AS241 instead of XLA's erf_inv) to 1e-12 relative, and closer to SciPy's ``erfinv`` than XLA's."""
    jax = pytest.importorskip("jax")
    be = tk.get_backend("jax")
    gen = tk.random.default_rng(3, be)
    key = gen.loop_key()
    for dt in {be.dtype, be.xp.float32}:

        def draw(k, dt=dt):
            g = gen.at(k, 7)
            return g.normal(shape, dtype=dt), g.uniform(shape, dtype=dt)

        step = jax.random.fold_in(key, 7)
        want = (jax.random.normal(jax.random.fold_in(step, 1), shape, dtype=dt),
                jax.random.uniform(jax.random.fold_in(step, 2), shape, dtype=dt))  # fmt: skip
        for got in (draw(key), jax.jit(draw)(key)):
            for a, b in zip(got, want, strict=True):
                assert a.dtype == b.dtype and a.shape == b.shape
            np.testing.assert_array_equal(np.asarray(got[1]), np.asarray(want[1]))
            if dt == be.xp.float32:
                np.testing.assert_array_equal(np.asarray(got[0]), np.asarray(want[0]))
                continue
            np.testing.assert_allclose(np.asarray(got[0]), np.asarray(want[0]), rtol=1e-12, atol=1e-15)
            if shape == (2000, 10):  # the uniform behind the normal is the one jax.random.normal uses
                u = np.asarray(jax.random.uniform(jax.random.fold_in(step, 1), shape, dtype=dt,
                                                  minval=np.nextafter(-1.0, 0.0), maxval=1.0))
                ref = np.sqrt(2) * scipy_special.erfinv(u)
                err = np.abs(np.asarray(got[0]) - ref).max()
                assert err <= np.abs(np.asarray(want[0]) - ref).max() and err < 1e-14


@pytest.mark.parametrize("name", ["euler", "heun", "midpoint", "rk4", "bosh3", "dopri5"])
def test_tableau_orders(name):
    """Global error of x' = -x + cos t on [0, 1] falls as h^p: the halving ratio is 2^p (within 0.3 in the exponent;
    the ratio is deterministic)."""
    tab = TABLEAUS[name]

    def f(t, x):
        return -x + math.cos(t)

    def solve(n):
        x, h = 0.0, 1.0 / n
        for i in range(n):
            x = rk_step(tab, f, i * h, h, x)
        return x

    exact = 0.5 * (math.cos(1.0) + math.sin(1.0) - math.exp(-1.0))
    e1, e2 = abs(solve(16) - exact), abs(solve(32) - exact)
    assert abs(math.log2(e1 / e2) - tab.order) < 0.3


def test_embedded_error_estimate_is_local_error():
    """Dormand–Prince's estimate is the local error of its 4th-order companion: O(h^5) (halving h divides it by
    2^5 within a factor 1.5, deterministic), larger than the true error of the 5th-order solution it keeps."""
    xp = tk.get_backend("numpy").xp
    x0 = xp.asarray([1.0])
    errs = []
    for h in (0.1, 0.05):
        x_new, err, k_next = rk_step_error("dopri5", lambda t, x: -x, 0.0, h, x0)
        assert abs(float(x_new[0]) - math.exp(-h)) < abs(float(err[0]))
        np.testing.assert_allclose(k_next, -x_new)  # FSAL: the last stage is f(t + h, x_new)
        errs.append(abs(float(err[0])))
    assert 32 / 1.5 < errs[0] / errs[1] < 32 * 1.5
    assert float(error_norm(xp.asarray([1e-7]), x0, x0, 1e-6, 0.0, xp)) == pytest.approx(0.1)


class _CountingField:
    """A velocity that counts its Python calls: under a compiled run on JAX it is called only while tracing."""

    def __init__(self):
        self.calls = 0

    def __call__(self, t, x):
        self.calls += 1
        return -x * (1.0 + t)


def test_ode_run_compiles_once_on_jax():
    be = tk.get_backend("jax")
    f = _CountingField()
    x0 = be.asarray(np.ones((5, 2), dtype=np.float32))
    x1 = tk.integrate.odeint(f, x0, steps=50, solver="rk4", backend=be)
    assert f.calls == 4  # one trace of the four RK4 stages, not 4 x 50 calls
    tk.integrate.odeint(f, x0 * 2, steps=50, solver="rk4", backend=be)
    assert f.calls == 4  # the compiled run is reused for the same f
    np.testing.assert_allclose(be.to_numpy(x1), np.exp(-1.5) * np.ones((5, 2)), rtol=1e-4)
    tk.integrate.sdeint(f, x0, 0.1, steps=20, rng=0, backend=be)
    assert f.calls == 5  # Euler–Maruyama: one trace of one evaluation for the whole SDE run


def test_ode_numpy_loop_calls_every_step():
    f = _CountingField()
    tk.integrate.odeint(f, np.ones((3, 1)), steps=10, solver="rk4")
    assert f.calls == 40


@pytest.mark.parametrize("structure", ["isotropic", "diagonal", "full"])
def test_exact_field_one_time_matches_per_point_form(backend, structure):
    """The large-matmul evaluation at one shared time equals the general per-point evaluation (to 1e-12 in float64)."""
    rng = np.random.default_rng(1)
    k, d = 5, 3
    if structure == "isotropic":
        covs = rng.uniform(0.1, 1.0, k)
    elif structure == "diagonal":
        covs = rng.uniform(0.1, 1.0, (k, d))
    else:
        a = rng.normal(size=(k, d, d))
        covs = a @ np.swapaxes(a, 1, 2) + 0.2 * np.eye(d)
    target = tk.targets.GaussianMixture(rng.dirichlet(np.ones(k)), 2 * rng.normal(size=(k, d)), covs)
    field = tk.interpolants.exact_field(tk.Interpolant("linear", gamma="sqrt"), target)
    x = backend.asarray(1.5 * rng.normal(size=(40, d)))
    tol = 1e-12 if backend.dtype == backend.xp.float64 else 1e-4
    for t in (0.0, 0.37, 1.0):
        ts = backend.asarray(np.full(40, t))
        for name in ("velocity", "score", "log_density"):
            one = backend.to_numpy(getattr(field, name)(backend.asarray(t), x))
            per = backend.to_numpy(getattr(field, name)(ts, x))
            np.testing.assert_allclose(one, per, rtol=tol, atol=tol * (1 + np.abs(per).max()))
        one = backend.to_numpy(field.drift(backend.asarray(t), x, 0.7))
        per = backend.to_numpy(field.drift(ts, x, 0.7))
        np.testing.assert_allclose(one, per, rtol=tol, atol=tol * (1 + np.abs(per).max()))


class _CountingFunnel(Funnel):
    """Neal's funnel that counts the Python calls of its density (traces, under a compiled run)."""

    def __init__(self, dim: int, wrong_shape: bool = False) -> None:
        super().__init__(dim)
        self.calls, self.wrong_shape = 0, wrong_shape

    def _log_prob(self, x, be):
        self.calls += 1
        lp = super()._log_prob(x, be)
        return lp[:, None] if self.wrong_shape else lp

    def _grad_log_prob(self, x, be):
        self.calls += 1
        return super()._grad_log_prob(x, be)


def test_smc_run_is_one_program_with_the_step_by_step_numbers():
    """A fixed-grid SMC run on JAX (base draws, first evaluation, every step, summary) is one compiled program,
    traced once per configuration, and gives the numbers of the step-by-step run (``progress=True``: chunked scans
    with the first evaluation apart) from the same seed."""
    pytest.importorskip("jax")
    be = tk.get_backend("jax")
    t = _CountingFunnel(4)
    kw = {"steps": 8, "n_mcmc": 1, "precondition": "none", "islands": 1, "backend": be}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tk.errors.TransportkitWarning)  # 300 walkers, 8 steps: rough weights
        whole = smc(t, 300, rng=0, **kw)
        traced = t.calls
        smc(t, 300, rng=1, **kw)
        assert t.calls == traced  # the second call reuses the program
        stepwise = smc(t, 300, rng=0, progress=True, **kw)
    assert abs(whole.log_Z - stepwise.log_Z) < 1e-10
    np.testing.assert_allclose(be.to_numpy(whole.x), be.to_numpy(stepwise.x), rtol=1e-10, atol=1e-12)
    assert whole.info.step_size_trace == pytest.approx(stepwise.info.step_size_trace, rel=1e-10)


def test_smc_whole_run_falls_back_to_name_a_bad_target():
    """A target whose log_prob has the wrong shape cannot be fused: the step-by-step run's check names it."""
    pytest.importorskip("jax")
    for islands in (1, 2):
        with pytest.raises(ValueError, match="log_prob returned shape"):
            smc(_CountingFunnel(3, wrong_shape=True), 200, steps=4, islands=islands, backend="jax", rng=0)
        with pytest.raises(ValueError, match=r"log_prob is nan \(NaN or \+inf\) for walker 3"):
            smc(_NanAt3Funnel(3), 200, steps=4, islands=islands, backend="jax", rng=0)


class _NanAt3Funnel(Funnel):
    def _log_prob(self, x, be):
        xp = be.xp
        return xp.where(xp.arange(x.shape[0]) == 3, xp.nan, super()._log_prob(x, be))


def test_smc_islands_are_one_program_with_the_island_by_island_numbers():
    """Default islands on JAX run as one program mapped over the islands' streams; each island is the run that
    island_task makes from its seed (compared with the island-by-island path that ``progress=True`` takes)."""
    pytest.importorskip("jax")
    be = tk.get_backend("jax")
    t = _CountingFunnel(3)
    kw = {"steps": 6, "n_mcmc": 1, "islands": 4, "backend": be}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tk.errors.TransportkitWarning)
        batched = smc(t, 400, rng=2, **kw)
        traced = t.calls
        smc(t, 400, rng=3, **kw)
        assert t.calls == traced
        one_by_one = smc(t, 400, rng=2, progress=True, **kw)
    assert batched.info.log_Z_islands == pytest.approx(one_by_one.info.log_Z_islands, rel=0, abs=1e-10)
    assert abs(batched.log_Z - one_by_one.log_Z) < 1e-10
    np.testing.assert_allclose(be.to_numpy(batched.x), be.to_numpy(one_by_one.x), rtol=1e-10, atol=1e-12)
    for a, b in zip(batched.info.island_info, one_by_one.info.island_info, strict=True):
        assert a.n_resample == b.n_resample and a.step_size == pytest.approx(b.step_size, rel=1e-10)
        assert a.log_Z_epochs == pytest.approx(b.log_Z_epochs, rel=0, abs=1e-10)


def test_float64_normal_quantile_is_accurate_to_the_far_tails():
    """AS241 of the compiled float64 normals against SciPy's erfinv, from the smallest uniform jax.random.normal
    draws (-1 + 2^-53) to the largest, bulk and tails: relative error below 4 ulp (XLA's erf_inv: ~1e-10 there)."""
    jax = pytest.importorskip("jax")
    from transportkit.backends._jax_draws import _sqrt2_erfinv64

    u = np.concatenate([np.nextafter(-1.0, 0.0) + np.arange(50) * 2.0**-53, -1 + np.logspace(-15, 0, 500)[:-1],
                        np.linspace(-0.99, 0.99, 2001), 1 - np.logspace(-15, -1, 500), [1 - 2.0**-52]])  # fmt: skip
    x = tk.get_backend("jax").asarray(u)
    if x.dtype != np.float64:
        pytest.skip("JAX without 64-bit mode")
    z = np.asarray(jax.jit(_sqrt2_erfinv64)(x))
    ref = np.sqrt(2) * scipy_special.erfinv(u)
    np.testing.assert_allclose(z, ref, rtol=4 * np.finfo(float).eps, atol=1e-300)


def test_nets_islands_are_one_program_with_the_island_by_island_numbers():
    """NETS's final run over islands on JAX is one program mapped over the islands' streams, with the numbers of
    the island-by-island run (``progress=True``) from the same seed."""
    pytest.importorskip("jax")
    be = tk.get_backend("jax")
    t = _CountingFunnel(3)
    kw = {"steps": 10, "rounds": 0, "eps": 0.5, "resample": "systematic", "islands": 4, "backend": be}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tk.errors.TransportkitWarning)
        batched = nets(t, 400, rng=5, **kw)
        traced = t.calls
        nets(t, 400, rng=6, **kw)
        assert t.calls == traced
        one_by_one = nets(t, 400, rng=5, progress=True, **kw)
    assert batched.info["log_Z_islands"] == pytest.approx(one_by_one.info["log_Z_islands"], rel=0, abs=1e-10)
    assert abs(batched.log_Z - one_by_one.log_Z) < 1e-10 and batched.ess == pytest.approx(one_by_one.ess, rel=1e-10)
    np.testing.assert_allclose(be.to_numpy(batched.x), be.to_numpy(one_by_one.x), rtol=1e-10, atol=1e-12)
    assert batched.info["n_resample"] == one_by_one.info["n_resample"]
