"""Bad and extreme inputs to transportkit.integrate (issue 24): a clear error naming the argument, or a warning.

Each case is one that was silently wrong, unclear or unbounded before the validation layer."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transportkit.errors import NonFiniteWarning
from transportkit.integrate import odeint, sdeint, time_grid


def _decay(t, x):
    return -x


# ---------------------------------------------------------------- SDE diffusion
def test_sde_negative_callable_diffusion_refused(backend):
    x0 = backend.asarray(np.ones((4, 2)))
    xp = backend.xp
    with pytest.raises(ValueError, match=r"diffusion\(t\) must be finite and non-negative"):
        sdeint(_decay, x0, lambda t: -1.0 + 0.0 * t, steps=5, rng=0)
    # negative only late in the run: found before any work, naming the time
    with pytest.raises(ValueError, match=r"t = 0\.8"):
        sdeint(_decay, x0, lambda t: xp.where(t > 0.7, -1.0 + 0 * t, 1.0 + 0 * t), steps=5, rng=0)


@pytest.mark.parametrize("bad", [-1.0, np.float64(-0.5), math.nan, math.inf])
def test_sde_bad_constant_diffusion(bad):
    with pytest.raises(ValueError, match="diffusion"):
        sdeint(_decay, np.ones((3, 1)), bad, steps=3, rng=0)


def test_sde_numpy_scalars_accepted():
    out = sdeint(_decay, np.ones((3, 1)), np.float32(0.5), steps=np.int64(4), rng=np.random.default_rng(1))
    assert out.shape == (3, 1) and np.all(np.isfinite(out))


def test_sde_seed_is_deprecated_alias():
    with pytest.warns(DeprecationWarning, match="rng="):
        a = sdeint(_decay, np.ones((3, 1)), 1.0, steps=3, seed=5)
    np.testing.assert_array_equal(a, sdeint(_decay, np.ones((3, 1)), 1.0, steps=3, rng=5))


# ---------------------------------------------------------------- shapes of user callables
@pytest.mark.parametrize("solver", ["rk4", "dopri5"])
def test_odeint_field_wrong_shape_refused(backend, solver):
    xp = backend.xp
    x0 = backend.asarray(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"f at \(t0, x0\) returned shape \(5, 1\); expected \(5, 3\)"):
        odeint(lambda t, x: xp.sum(x, axis=1, keepdims=True), x0, steps=4, solver=solver)


def test_sdeint_drift_wrong_shape_refused():
    with pytest.raises(ValueError, match=r"f at \(t0, x0\) returned shape"):
        sdeint(lambda t, x: x[:, :1], np.ones((5, 3)), 1.0, steps=4, rng=0)


def test_field_not_callable():
    with pytest.raises(TypeError, match="f must be callable"):
        odeint(np.ones(3), np.ones((2, 3)), steps=2)


# ---------------------------------------------------------------- dopri5 on NaN fields
def test_dopri5_nan_field_names_nan(backend):
    xp = backend.xp
    x0 = backend.asarray(np.ones((2, 2)))
    with pytest.raises(FloatingPointError, match="NaN"):
        odeint(lambda t, x: x * xp.nan, x0, solver="dopri5", max_steps=100_000)


def test_dopri5_field_nan_midway(backend):
    # NaN from t > 0.5 on: the error names NaN and the time reached, not "exceeded max_steps at t=0"
    xp = backend.xp
    x0 = backend.asarray(np.ones((2, 2)))
    with pytest.raises(FloatingPointError, match=r"NaN or inf at t = 0\.[45]"):
        odeint(lambda t, x: xp.where(t > 0.5, xp.nan * x, -x), x0, solver="dopri5")


def test_dopri5_max_steps_message():
    with pytest.raises(RuntimeError, match="max_steps=3"):
        odeint(_decay, np.ones((2, 2)), solver="dopri5", rtol=1e-12, atol=1e-14, max_steps=3)


@pytest.mark.parametrize(("kw", "match"), [({"rtol": 0.0}, "rtol"), ({"atol": -1.0}, "atol"),
                                           ({"max_steps": 0}, "max_steps"), ({"max_steps": 2.5}, "max_steps"),
                                           ({"rtol": math.nan}, "rtol")])
def test_dopri5_bad_tolerances(kw, match):
    with pytest.raises((TypeError, ValueError), match=match):
        odeint(_decay, np.ones((2, 2)), solver="dopri5", **kw)


def test_fixed_step_nan_result_warns():
    with pytest.warns(NonFiniteWarning, match="NaN or inf"), np.errstate(over="ignore", invalid="ignore"):
        out = odeint(lambda t, x: x * x, np.full((2, 1), 10.0), steps=20, t_span=(0.0, 40.0), solver="euler")
    assert not np.all(np.isfinite(out))


# ---------------------------------------------------------------- grids and counts
@pytest.mark.parametrize("power", [-1.0, 0.0, math.nan])
def test_time_grid_nonpositive_power_refused(power):
    with pytest.raises(ValueError, match="power"):
        time_grid(10, kind="start", power=power)


def test_time_grid_numpy_scalars_and_bad_counts():
    g = time_grid(np.int64(4), np.float64(0.0), np.float32(1.0), power=np.float64(3.0), kind="end")
    assert g.shape == (5,) and np.all(np.diff(g) > 0)
    with pytest.raises(TypeError, match="steps must be an integer"):
        time_grid(2.5)
    with pytest.raises(TypeError, match="steps must be an integer"):
        time_grid(True)
    with pytest.raises(ValueError, match="steps must be an integer in"):
        time_grid(10**9)
    with pytest.raises(ValueError, match="did you mean 'ends'"):
        time_grid(4, kind="end s")
    with pytest.raises(ValueError, match="t0 and t1 must differ"):
        time_grid(4, 1.0, 1.0)


def test_odeint_counts_and_inputs():
    x0 = np.ones((2, 2))
    assert odeint(_decay, x0, steps=np.int64(3)).shape == (2, 2)
    with pytest.raises(TypeError, match="steps"):
        odeint(_decay, x0, steps=3.0)
    with pytest.raises(ValueError, match="x0 contains NaN"):
        odeint(_decay, np.array([[1.0, np.nan]]), steps=3)
    with pytest.raises(TypeError, match="x0 must be a real floating array"):
        odeint(_decay, np.ones((2, 2), dtype=complex), steps=3)
    with pytest.raises(ValueError, match="x0 is empty"):
        odeint(_decay, np.ones((0, 2)), steps=3)
    with pytest.raises(ValueError, match="t_span"):
        odeint(_decay, x0, steps=3, t_span=(0.0, math.nan))
    with pytest.raises(ValueError, match="grid contains NaN"):
        odeint(_decay, x0, grid=[0.0, math.nan, 1.0])
    with pytest.raises(TypeError, match="return_path"):
        odeint(_decay, x0, steps=3, return_path=1)


# ---------------------------------------------------------------- property test
_settings = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(
    n=st.integers(0, 3), d=st.integers(0, 3), steps=st.one_of(st.integers(-1, 4), st.floats(-1, 4)),
    scale=st.sampled_from([0.0, 1.0, -3.0, 1e300, math.nan, math.inf]),
    dtype=st.sampled_from(["float64", "float32", "int64", "complex128", "bool"]),
    solver=st.sampled_from(["euler", "rk4", "dopri5", "euler_maruyama", "heun"]),
    diffusion=st.sampled_from([0.5, 0.0, -1.0, math.nan]),
)
def test_property_integrators(n, d, steps, scale, dtype, solver, diffusion):
    """Random shapes/dtypes/values: a documented exception, or a shape-correct result that is finite unless a
    NonFiniteWarning was raised."""
    x0 = (np.ones((n, d)) * scale if not (dtype == "int64" and not math.isfinite(scale)) else np.ones((n, d)))
    with np.errstate(over="ignore", invalid="ignore"):
        x0 = x0.astype(dtype)
    sde = solver in ("euler_maruyama", "heun")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if sde:
                out = sdeint(_decay, x0, diffusion, steps=steps, solver=solver, rng=0)
            else:
                out = odeint(_decay, x0, steps=steps, solver=solver)
        except (TypeError, ValueError, FloatingPointError, RuntimeError) as err:
            assert str(err)
            return
    assert out.shape == (n, d)
    if not np.all(np.isfinite(out)):
        assert any(issubclass(w.category, NonFiniteWarning) for w in caught)
