"""Free energies never silently wrong (issue #24): the bad and extreme inputs that once gave a confident number or
an unclear error now raise a clear error naming the argument, or warn with a member of the TransportkitWarning
family; a property test feeds random shapes, dtypes and values to the public entries."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import transportkit as tk
from transportkit import free_energy as fe
from transportkit.errors import OverlapWarning, TransportkitWarning, UncertaintyWarning
from transportkit.free_energy import exp_bar
from transportkit.free_energy import multistate as mbar_module


class FakeDask:
    """Stands in for a dask array (dask is not installed here): what the entries test is the module of its type."""

    __module__ = "dask.array.core"
    shape, ndim, dtype = (4,), 1, np.dtype("float64")

    def __array__(self, dtype=None, copy=None):  # a materialization would succeed silently: it must not happen
        return np.arange(4.0)


def _spies(monkeypatch):
    calls = {"n": 0}

    def count(f):
        def g(*a, **k):
            calls["n"] += 1
            return f(*a, **k)

        return g

    monkeypatch.setattr(exp_bar, "kernel", count(exp_bar.kernel))
    monkeypatch.setattr(exp_bar, "solve_bar", count(exp_bar.solve_bar))
    monkeypatch.setattr(mbar_module, "_mbar_solve", count(mbar_module._mbar_solve))
    return calls


# ---------------------------------------------------------------------------------------------- the cases of #24
def test_bar_without_overlap_warns(backend):
    rng = np.random.default_rng(0)
    wf, wr = rng.normal(1.5, 1.0, 100), rng.normal(-0.5, 1.0, 100)
    # forward and reverse works shifted the same way: no overlap (was 0.95 +- 0.10 with overlap 0.0, silently)
    with pytest.warns(OverlapWarning, match="barely overlap"):
        b = fe.bar(backend.asarray(wf + 1e4), backend.asarray(wr + 1e4))
    assert float(backend.to_numpy(b.diagnostics.overlap)) < 1e-3
    with pytest.warns(fe.FreeEnergyWarning):  # the family's own class still catches it
        fe.bar(backend.asarray(wf + 1e4), backend.asarray(wr + 1e4))
    with warnings.catch_warnings():
        warnings.simplefilter("error", TransportkitWarning)
        fe.bar(backend.asarray(wf), backend.asarray(wr))  # good overlap: silent
        fe.bar(backend.asarray(wf + 1e4), backend.asarray(wr + 1e4), ess_warning=0)  # disabled


def test_one_sample_has_no_standard_error(backend):
    with pytest.warns(UncertaintyWarning, match="one sample"):
        e = fe.exp(backend.asarray([2.0]))
    assert float(e) == 2.0 and math.isnan(float(backend.to_numpy(e.stderr)))
    with pytest.warns(UncertaintyWarning, match="one work"):
        b = fe.bar(backend.asarray([2.0]), backend.asarray([-1.0, -2.0, -1.5]), ess_warning=0)
    assert math.isnan(float(backend.to_numpy(b.stderr)))


def test_complex_bool_and_object_works_are_type_errors(backend, monkeypatch):
    calls = _spies(monkeypatch)
    with pytest.raises(TypeError, match="w must be a real floating array, got complex"):
        fe.exp(np.array([1.0 + 1j, 2.0]))
    with pytest.raises(TypeError, match=r"w_forward.*booleans"):
        fe.bar(backend.asarray(np.array([True, False])), backend.asarray([1.0, 2.0]))
    with pytest.raises(TypeError, match="w_reverse"):
        fe.bar(np.array([1.0, 2.0]), np.array(["a", "b"]))
    with pytest.raises(TypeError, match="u_kn"):
        fe.mbar(np.zeros((2, 4)) + 0j, [2, 2])
    assert calls["n"] == 0


def test_wrong_length_f_k_init_is_a_clear_value_error(backend, monkeypatch):
    calls = _spies(monkeypatch)
    u = backend.asarray(np.array([[0.0, 0.1, 0.2, 0.3], [0.5, 0.2, 0.1, 0.0]]))
    for bad in ([0.0, 1.0, 2.0], [0.0], np.zeros((2, 1))):
        with pytest.raises(ValueError, match="f_k_init"):
            fe.mbar(u, [2, 2], f_k_init=bad)
        with pytest.raises(ValueError, match="f_k_init"):
            fe.MBAR(u, [2, 2], initial_f_k=bad)
    assert calls["n"] == 0


def test_dask_input_is_refused_before_any_work(monkeypatch):
    calls = _spies(monkeypatch)
    d = FakeDask()
    for call, name in [
        (lambda: fe.exp(d), "w"),
        (lambda: fe.exp_gauss(d), "w"),
        (lambda: fe.bar(d, np.ones(3)), "w_forward"),
        (lambda: fe.bar(np.ones(3), d), "w_reverse"),
        (lambda: fe.bounds(d), "w_forward"),
        (lambda: fe.mbar(d, [2, 2]), "u_kn"),
        (lambda: fe.MBAR(d, [2, 2]), "u_kn"),
        (lambda: fe.mbar(np.zeros((2, 4)), d), "N_k"),
    ]:
        with pytest.raises(TypeError, match=f"{name} is a dask array"):
            call()
    assert calls["n"] == 0


def test_numpy_scalars_are_accepted_and_bools_are_not():
    w = np.random.default_rng(1).normal(1.0, 1.0, 50)
    a = fe.bar(w, -w, maxiter=np.int64(50), rtol=np.float64(1e-12), bootstrap=np.int32(3), rng=np.int64(0))
    assert math.isfinite(float(a))
    m = fe.mbar(np.stack([0.5 * w**2, 0.5 * (w - 0.3) ** 2]), np.array([50, 0]), maxiter=np.int64(20))
    assert m.value.shape == (2,)
    with pytest.raises(TypeError, match="maxiter"):
        fe.bar(w, -w, maxiter=True)
    with pytest.raises(TypeError, match="N_k"):
        fe.mbar(np.zeros((2, 2)), [True, True])


def test_results_convert_and_read_like_pymbar(backend):
    w = np.random.default_rng(2).normal(1.0, 1.0, 100)  # the sizes of test_bar_without_overlap_warns: JAX's
    e, b = fe.exp(backend.asarray(w)), fe.bar(backend.asarray(w), backend.asarray(-w + 0.5))  # programs are reused
    for est in (e, b):
        assert isinstance(float(est), float) and float(est) == float(backend.to_numpy(est.value))
        assert est["Delta_f"] is est.value and est["dDelta_f"] is est.stderr
        v, s = est  # unpacking still gives (value, stderr)
        assert v is est.value and s is est.stderr
    if backend.is_host:  # NumPy in: NumPy scalars out, from every estimator alike
        assert type(e.value) is type(b.value) is np.float64
    assert b["overlap"] is b.diagnostics.overlap
    with pytest.raises(KeyError):
        b["nonsense"]
    m = fe.mbar(np.stack([0.5 * w**2, 0.5 * (w - 0.3) ** 2]), [100, 0])  # (backend-independent logic)
    with pytest.raises(TypeError, match="scalar estimate"):
        float(m)
    assert tuple(m["Delta_f"].shape) == (2, 2)


# ---------------------------------------------------------------------------------------------- property test
_values = st.one_of(
    st.floats(min_value=-1e4, max_value=1e4, allow_nan=False),
    st.sampled_from([0.0, 1e4, -1e4, 1e-300, math.nan, math.inf, -math.inf]),
)
_works = st.lists(_values, min_size=0, max_size=12)
_dtypes = st.sampled_from(["float64", "float32", "int64", "complex128", "bool"])


def _array(vals, dtype):
    a = np.asarray(vals, dtype=float)
    if dtype == "int64":
        return np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0).astype(np.int64)
    if dtype == "bool":
        return a > 0
    with np.errstate(all="ignore"):
        return a.astype(dtype)


def _check(call):
    """A documented exception (ValueError/TypeError naming an argument), or a finite value whose non-finite
    stderr comes with a TransportkitWarning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            est = call()
        except (ValueError, TypeError) as err:
            assert any(n in str(err) for n in ("w", "u_kn", "N_k", "f_k_init", "nan_policy")), str(err)
            return
    value, stderr = (np.asarray(tk.get_backend("numpy").to_numpy(x), dtype=float) for x in (est.value, est.stderr))
    assert np.all(np.isfinite(value)), value
    warned = any(issubclass(c.category, TransportkitWarning) for c in caught)
    assert np.all(np.isfinite(stderr)) or warned, (stderr, [str(c.message) for c in caught])
    assert not any(issubclass(c.category, RuntimeWarning) for c in caught), [str(c.message) for c in caught]


@settings(max_examples=40, deadline=None)
@given(wf=_works, wr=_works, dt=_dtypes, omit=st.booleans())
def test_property_exp_and_bar_never_silently_wrong(wf, wr, dt, omit):
    policy = "omit" if omit else "raise"
    _check(lambda: fe.exp(_array(wf, dt), nan_policy=policy))
    _check(lambda: fe.bar(_array(wf, dt), _array(wr, dt), nan_policy=policy))


@settings(max_examples=25, deadline=None)
@given(
    K=st.integers(1, 3),
    n=st.integers(0, 6),
    scale=st.sampled_from([1.0, 1e3, 1e4]),
    dt=_dtypes,
    seed=st.integers(0, 2**16),
    N_k=st.one_of(st.none(), st.lists(st.integers(-1, 6), min_size=1, max_size=4)),
)
def test_property_mbar_never_silently_wrong(K, n, scale, dt, seed, N_k):
    rng = np.random.default_rng(seed)
    u = _array(scale * rng.normal(size=(K, K * n)), dt)
    counts = [n] * K if N_k is None else N_k
    _check(lambda: fe.mbar(u, counts))
    _check(lambda: _mbar_object(u, counts))


def _mbar_object(u, counts):
    """The MBAR object's f_k - f_0 and their stderr, as an estimate."""
    r = fe.MBAR(u, counts).compute_free_energy_differences()
    return fe.FreeEnergyEstimate(r["Delta_f"][0], r["dDelta_f"][0])
