"""Bad and extreme inputs to transportkit.meanfield (issue 24): a clear error naming the argument before any
work, or a NonFiniteWarning naming the step where a run diverged — never NaN losses without a word."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import transportkit as tk
from transportkit import meanfield as mf
from transportkit.errors import NonFiniteWarning


def _problem(backend=None):
    return mf.gaussian_teacher_student(d=2, m_teacher=2, rng=0, backend=backend)


def _relu(backend=None):
    return mf.teacher_student(d=2, m_teacher=2, n_data=50, unit="relu", rng=0, backend=backend)


@pytest.mark.parametrize("runner", ["gradient_flow", "sgd"])
def test_empty_particle_set_refused(backend, runner):
    """Width 0 ran and returned NaN losses (numpy warned, torch was silent)."""
    xp = backend.xp
    P = mf.teacher_student(d=2, m_teacher=2, n_data=20, rng=0, backend=backend)
    empty = mf.Particles(xp.zeros((0,), dtype=backend.dtype), xp.zeros((0, P.p), dtype=backend.dtype),
                         backend=backend)
    kw = {"batch_size": 4} if runner == "sgd" else {}
    with pytest.raises(ValueError, match=r"particles is empty \(width 0\)"):
        getattr(mf, runner)(P, empty, steps=2, rng=0, **kw)
    with pytest.raises(ValueError, match=r"particles \(the width\) must be an integer >= 1"):
        getattr(mf, runner)(P, 0, steps=2, rng=0, **kw)


@pytest.mark.parametrize(("alpha", "dt", "match"), [(1.0, -1.0, "dt"), (1.0, math.nan, "dt"), (1.0, 0.0, "dt"),
                                                    (-1.0, 0.1, "alpha"), (math.nan, 0.1, "alpha"),
                                                    (1.0, math.inf, "dt")])
def test_birth_death_bad_rates_refused(backend, alpha, dt, match):
    """dt = -1, NaN or a negative rate silently meant "no events"."""
    gen = tk.random.default_rng(0, backend)
    V = backend.asarray(np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=match):
        mf.birth_death_indices(V, alpha, dt, gen)


def test_birth_death_other_inputs(backend):
    gen = tk.random.default_rng(0, backend)
    with pytest.raises(ValueError, match="V must be a non-empty 1-D"):
        mf.birth_death_indices(backend.asarray(np.zeros((0,))), 1.0, 0.1, gen)
    with pytest.raises(TypeError, match=r"gen must be a transportkit\.random\.Generator"):
        mf.birth_death_indices(backend.asarray(np.zeros(3)), 1.0, 0.1, 0)
    src, _, _ = mf.birth_death_indices(backend.asarray(np.array([0.0, 1.0, 2.0])), np.float32(1.0),
                                       np.float64(0.1), gen)
    assert tuple(src.shape) == (3,)


def test_divergence_warns_with_the_step(backend):
    """gradient_flow(dt=1e6) returned NaN losses with no warning."""
    P = _relu(backend)
    with pytest.warns(NonFiniteWarning, match=r"loss is NaN or inf at step \d+"), np.errstate(all="ignore"):
        tr = mf.gradient_flow(P, 8, dt=1e6, steps=8, rng=1)
    assert not np.all(np.isfinite(backend.to_numpy(tr.loss)))


def test_divergence_step_is_exact():
    """The warning names the first step whose loss is non-finite, also inside a record block."""
    P = _relu()
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        tr = mf.gradient_flow(P, 8, dt=1e6, steps=12, rng=1, record_every=1)
        tr5 = mf.gradient_flow(P, 8, dt=1e6, steps=12, rng=1, record_every=5)
    msgs = [str(w.message) for w in caught if issubclass(w.category, NonFiniteWarning)]
    loss = np.asarray(tr.loss)
    first = int(np.argmin(np.isfinite(loss)))  # loss[k] is the loss before step k
    assert len(msgs) == 2 and f"at step {first} " in msgs[0] and f"at step {first} " in msgs[1], (msgs, loss)
    assert tr5.loss.shape[0] < tr.loss.shape[0]


def test_well_posed_run_is_silent_and_aliases():
    P = _problem()
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteWarning)
        tr = mf.gradient_flow(P, np.int64(8), dt=np.float32(0.5), steps=np.int64(5), rng=np.random.default_rng(3))
    assert np.all(np.isfinite(tr.loss)) and tr.loss.shape == (6,)
    with pytest.warns(DeprecationWarning, match="n_steps"):
        a = mf.gradient_flow(P, 8, dt=0.5, n_steps=3, rng=2)
    with pytest.warns(DeprecationWarning, match="rng="):
        b = mf.gradient_flow(P, 8, dt=0.5, steps=3, seed=2)
    np.testing.assert_array_equal(a.loss, b.loss)
    with pytest.warns(DeprecationWarning, match="rng="):
        P.init_particles(3, seed=0)


@pytest.mark.parametrize(
    ("kw", "err", "match"),
    [({"dt": -0.1}, ValueError, "dt"), ({"dt": math.nan}, ValueError, "dt"), ({"steps": 2.5}, TypeError, "steps"),
     ({"steps": -1}, ValueError, "steps"), ({"record_every": 0}, ValueError, "record_every"),
     ({"birth_death": -1.0}, ValueError, "birth_death"), ({"record_particles": 1}, TypeError, "record_particles"),
     ({"jit": "no"}, TypeError, "jit"), ({"batch_size": 0}, ValueError, "batch_size"),
     ({"particles": True}, TypeError, "particles"), ({"particles": 2.0}, TypeError, "particles"),
     ({"problem": "three_spin"}, TypeError, "problem")],
)
def test_train_bad_arguments_named(kw, err, match):
    P = mf.teacher_student(d=2, m_teacher=2, n_data=20, rng=0)
    problem, particles = kw.pop("problem", P), kw.pop("particles", 4)
    with pytest.raises(err, match=match):
        mf.train(problem, particles, steps=kw.pop("steps", 2), rng=0, **kw)


def test_particle_values_checked():
    P = mf.teacher_student(d=2, m_teacher=2, n_data=20, rng=0)
    p = P.init_particles(3, rng=0)
    bad = mf.Particles(np.array([1.0, np.nan, 0.0]), np.asarray(p.w))
    with pytest.raises(ValueError, match=r"particles.c contains NaN"):
        mf.gradient_flow(P, bad, steps=1)
    with pytest.raises(ValueError, match=r"particles need c \(n,\) and w \(n, 2\)"):
        mf.gradient_flow(P, mf.Particles(np.ones(3), np.ones((2, 2))), steps=1)
    with pytest.raises(TypeError, match="d must be an integer"):
        mf.teacher_student(d=2.5)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        P.init_particles(0)


_settings = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_settings
@given(
    width=st.sampled_from([0, 1, 3, -2, 2.0]),
    dt=st.sampled_from([0.5, 1e6, 0.0, -1.0, math.nan, math.inf]),
    steps=st.sampled_from([0, 1, 3, -1]),
    scale=st.sampled_from([1.0, 0.0, 1e300, math.nan]),
    dtype=st.sampled_from(["float64", "float32", "complex128"]),
    birth_death=st.sampled_from([0.0, 1.0, -1.0]),
    batch=st.sampled_from([None, 2]),
)
def test_property_train(width, dt, steps, scale, dtype, birth_death, batch):
    """Random widths/values/dtypes: a documented exception, or a Trajectory of the right shape whose losses are
    finite unless a NonFiniteWarning was raised."""
    P = mf.teacher_student(d=2, m_teacher=2, n_data=10, rng=0)
    particles = width
    if isinstance(width, int) and width > 0 and scale != 1.0:
        p = P.init_particles(width, rng=0)
        with np.errstate(all="ignore"):
            particles = mf.Particles(np.asarray(p.c * scale).astype(dtype), np.asarray(p.w))
    with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
        warnings.simplefilter("always")
        try:
            tr = mf.train(P, particles, dt=dt, steps=steps, birth_death=birth_death, batch_size=batch, rng=0)
        except (TypeError, ValueError) as err:
            assert str(err)
            return
    assert tr.loss.shape == (steps + 1,) and tr.times.shape == (steps + 1,)
    if not np.all(np.isfinite(tr.loss)):
        assert any(issubclass(w.category, NonFiniteWarning) for w in caught)
