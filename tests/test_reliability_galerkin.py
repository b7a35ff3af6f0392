"""Bad and extreme inputs to transportkit.galerkin (issue 24): a clear error naming the argument before any work,
a bounded run, or a documented warning/error — never a hang or a silent NaN."""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transportkit import galerkin as g


def _problem():
    pde = g.advection(1, centers=[[0.2], [0.9]], stds=[[0.15], [0.3]], weights=[1.0, 0.6])
    P = g.GaussianUnits(2, 1)
    th = np.array([1.0, 0.6, 1 / 0.15, 1 / 0.3, 0.2, 0.9])
    return pde, P, th, g.GridSampler(-1, 3, 32, periodic=False)


def test_tiny_dt_refused_before_work():
    """dt = 1e-9 asked for 10^9 steps and ran with no guard; now a ValueError naming max_steps, at once."""
    pde, P, th, samp = _problem()
    t = time.perf_counter()
    with pytest.raises(ValueError, match=r"1000000000 time steps, more than max_steps=1000000"):
        g.solve(pde, P, th, 1.0, 1e-9, sampler=samp, fit=False)
    assert time.perf_counter() - t < 1.0
    with pytest.raises(ValueError, match="max_steps=10;"):
        g.solve(pde, P, th, 1.0, 0.01, sampler=samp, fit=False, max_steps=10)


def test_dopri5_attempts_bounded():
    pde, P, th, samp = _problem()
    with pytest.raises(RuntimeError, match=r"dopri5 used up max_steps=3"):
        g.solve(pde, P, th, 0.5, 0.25, sampler=samp, scheme="dopri5", fit=False, rtol=1e-12, atol=1e-14,
                max_steps=3)


@pytest.mark.parametrize(
    ("kw", "err", "match"),
    [
        ({"dt": math.nan}, ValueError, "dt"),
        ({"dt": -0.1}, ValueError, "dt"),
        ({"t_final": math.inf}, ValueError, "t_final"),
        ({"t_final": "1"}, TypeError, "t_final"),
        ({"save_every": True}, TypeError, "save_every"),
        ({"save_every": 1.5}, TypeError, "save_every"),
        ({"newton_iters": 0}, ValueError, "newton_iters"),
        ({"max_steps": 0}, ValueError, "max_steps"),
        ({"scheme": "rk45"}, ValueError, "did you mean"),
        ({"fit": 1}, TypeError, "fit"),
        ({"jit": "yes"}, TypeError, "jit"),
        ({"sampler": "grid"}, TypeError, "sampler"),
        ({"theta0": np.ones(6, dtype=complex)}, TypeError, "theta0"),
        ({"theta0": np.ones((6, 1))}, ValueError, "theta0"),
        ({"theta0": np.ones(5)}, ValueError, "theta0"),
        ({"fit_points": np.ones((4, 2))}, ValueError, "fit_points"),
        ({"fit_points": np.array([[0.0], [np.inf]])}, ValueError, "fit_points"),
        ({"pde": "advection"}, TypeError, "pde"),
    ],
)
def test_solve_bad_arguments_named(kw, err, match):
    pde, P, th, samp = _problem()
    args = {"pde": pde, "param": P, "theta0": th, "t_final": 0.1, "dt": 0.05}
    args.update({k: kw.pop(k) for k in list(kw) if k in args})
    with pytest.raises(err, match=match):
        g.solve(args["pde"], args["param"], args["theta0"], args["t_final"], args["dt"], sampler=samp, **kw)


def test_numpy_scalars_accepted_and_seed_deprecated():
    pde, P, th, samp = _problem()
    res = g.solve(pde, P, th, np.float32(0.1), np.float64(0.05), sampler=samp, fit=False,
                  save_every=np.int64(1), newton_iters=np.int32(3), rng=np.random.default_rng(0))
    assert res.steps == res.n_steps == 2 and np.all(np.isfinite(res.theta))
    with pytest.warns(DeprecationWarning, match="rng="):
        g.solve(pde, P, th, 0.1, 0.05, sampler=samp, fit=False, seed=0)


def test_other_entries_check_shapes():
    pde, P, th, _ = _problem()
    X = np.linspace(-1, 3, 16)[:, None]
    with pytest.raises(ValueError, match=r"f must have J.shape\[0\] = 4"):
        g.regularized_lstsq(np.ones((4, 2)), np.ones(3))  # broadcast into an answer before
    with pytest.raises(TypeError, match="J must be a real floating array"):
        g.regularized_lstsq(np.ones((4, 2), dtype=complex), np.ones(4))
    with pytest.raises(ValueError, match="X must have 1 coordinates"):
        g.galerkin_velocity(pde, P, th, np.ones((5, 2)), 0.0)
    with pytest.raises(ValueError, match="t must be a finite number"):
        g.galerkin_velocity(pde, P, th, X, math.nan)
    with pytest.raises(ValueError, match="h must be non-zero"):
        g.implicit_step(pde, P, th, X, 0.0, 0.0)
    with pytest.raises(ValueError, match="alpha"):
        g.implicit_step(pde, P, th, X, 0.0, 0.01, alpha=2.0)
    with pytest.raises(ValueError, match="target must have one value per point"):
        g.fit_initial(P, np.ones(3), th, X)
    with pytest.raises(ValueError, match="damping"):
        g.fit_initial(P, np.ones(16), th, X, damping=0.0)
    v, _ = g.galerkin_velocity(pde, P, th, X, np.float64(0.0))
    assert v.shape == (P.n_params,) and np.all(np.isfinite(v))


_settings = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(
    t_final=st.sampled_from([0.05, 0.1, 0.0, -1.0, math.inf, math.nan]),
    dt=st.sampled_from([0.05, 0.025, 1e-9, 0.0, 1.0, math.nan]),
    p=st.sampled_from([6, 5, 7]),
    scale=st.sampled_from([1.0, 0.0, -1.0, 1e300, math.nan]),
    dtype=st.sampled_from(["float64", "float32", "complex128", "bool"]),
    scheme=st.sampled_from(["euler", "rk4", "backward_euler"]),
)
def test_property_solve(t_final, dt, p, scale, dtype, scheme):
    """Random values/shapes/dtypes of the numeric arguments: a documented exception or a finite, shape-correct
    result (a blow-up is the documented FloatingPointError naming the step)."""
    pde, P, th, samp = _problem()
    base = np.resize(th, p) * (scale if math.isfinite(scale) else 1.0)
    if math.isnan(scale):
        base[0] = math.nan
    with np.errstate(all="ignore"):
        theta0 = base.astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's own overflow warnings of a blow-up
        try:
            res = g.solve(pde, P, theta0, t_final, dt, sampler=samp, scheme=scheme, fit=False)
        except (TypeError, ValueError, FloatingPointError, RuntimeError) as err:
            assert str(err)
            return
    assert res.theta.shape == (res.steps + 1, P.n_params)
    assert np.all(np.isfinite(res.theta))
