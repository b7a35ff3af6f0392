"""Numerical helpers on extreme inputs (values of +-1e4, -inf entries) on every backend."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transportkit import numerics as nm


def _ref_logsumexp(a):
    finite = [mpmath.mpf(v) for v in a if v != -math.inf]
    if not finite:
        return -math.inf
    with mpmath.workdps(60):
        return float(mpmath.log(mpmath.fsum(mpmath.exp(v) for v in finite)))


CASES = [
    [1e4, 1e4 - 1.0, -1e4],
    [-1e4, -1e4 + 2.0, -math.inf],
    [0.0, -math.inf, 3.0],
    [-math.inf, -math.inf],
    [5.0],
]


@pytest.mark.parametrize("a", CASES)
def test_logsumexp_matches_arbitrary_precision(backend, a):
    got = float(nm.logsumexp(backend.asarray(a)))
    ref = _ref_logsumexp(a)
    assert got == ref if math.isinf(ref) else got == pytest.approx(ref, rel=1e-14, abs=1e-12)


def test_logsumexp_axes_keepdims_and_inf(backend):
    a = np.array([[1e4, 0.0, -np.inf], [-np.inf, -np.inf, -np.inf], [np.inf, 1.0, 2.0]])
    got = backend.to_numpy(nm.logsumexp(backend.asarray(a), axis=1))
    assert got[0] == pytest.approx(1e4, rel=1e-15) and got[1] == -np.inf and got[2] == np.inf
    kd = nm.logsumexp(backend.asarray(a), axis=0, keepdims=True)
    assert tuple(kd.shape) == (1, 3)
    np.testing.assert_allclose(backend.to_numpy(kd)[0], [np.inf, np.log(1 + np.e), 2.0], rtol=1e-15)
    assert np.isnan(float(nm.logsumexp(backend.asarray([1.0, np.nan, 1e4]))))
    assert float(nm.logsumexp(backend.asarray(a[:1]))) == pytest.approx(1e4)


def test_logmeanexp(backend):
    a = np.array([1e4, 1e4, 1e4, 1e4])
    assert float(nm.logmeanexp(backend.asarray(a))) == pytest.approx(1e4, rel=1e-15)
    b = np.array([[0.0, math.log(3.0)], [-1e4, -1e4]])
    got = backend.to_numpy(nm.logmeanexp(backend.asarray(b), axis=1))
    np.testing.assert_allclose(got, [math.log(2.0), -1e4], rtol=1e-14)
    with pytest.raises(ValueError, match="empty"):
        nm.logmeanexp(backend.asarray(np.zeros(0)))


def test_weights_and_ess(backend):
    n = 1000
    assert float(nm.ess(backend.asarray(np.full(n, -1e4)))) == pytest.approx(n, rel=1e-12)
    one = np.full(n, -1e4)
    one[3] = 1e4
    assert float(nm.ess(backend.asarray(one))) == pytest.approx(1.0, rel=1e-12)
    w = backend.to_numpy(nm.normalized_weights(backend.asarray(one)))
    assert w[3] == pytest.approx(1.0) and w.sum() == pytest.approx(1.0)
    lw = np.log(np.array([1.0, 2.0, 3.0, 0.0], dtype=float), where=[1, 1, 1, 0], out=np.full(4, -np.inf))
    w = np.array([1.0, 2.0, 3.0, 0.0])
    expected = w.sum() ** 2 / (w**2).sum()
    assert float(nm.ess(backend.asarray(lw))) == pytest.approx(expected, rel=1e-14)
    assert float(nm.ess(backend.asarray(lw), relative=True)) == pytest.approx(expected / 4, rel=1e-14)


@pytest.mark.parametrize("x", [-1e-20, -1e-10, -0.5, -math.log(2.0), -1.0, -30.0, -1e4])
def test_log1mexp_is_accurate(backend, x):
    with mpmath.workdps(60):
        ref = float(mpmath.log(1 - mpmath.exp(mpmath.mpf(x))))
    got = float(nm.log1mexp(backend.asarray([x]))[0])
    assert got == pytest.approx(ref, rel=1e-14, abs=1e-300)


def test_log1mexp_edges(backend):
    got = backend.to_numpy(nm.log1mexp(backend.asarray([0.0, -math.inf, 1.0])))
    assert got[0] == -np.inf and got[1] == 0.0 and np.isnan(got[2])


def test_cholesky_solve_batched(backend):
    rng = np.random.default_rng(0)
    m = rng.normal(size=(4, 5, 5))
    a = m @ np.swapaxes(m, -1, -2) + 5 * np.eye(5)
    b = rng.normal(size=(4, 5))
    bk = rng.normal(size=(4, 5, 2))
    x, logdet = nm.cholesky_solve(backend.asarray(a), backend.asarray(b), return_logdet=True)
    np.testing.assert_allclose(backend.to_numpy(x), np.linalg.solve(a, b[..., None])[..., 0], rtol=1e-10)
    np.testing.assert_allclose(backend.to_numpy(logdet), np.linalg.slogdet(a)[1], rtol=1e-12)
    xk = nm.cholesky_solve(backend.asarray(a), backend.asarray(bk))
    np.testing.assert_allclose(backend.to_numpy(xk), np.linalg.solve(a, bk), rtol=1e-10)


def test_cholesky_solve_rejects_indefinite(backend):
    a = backend.asarray(np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="positive definite"):
        nm.cholesky_solve(a, backend.asarray([1.0, 1.0]))


finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(a=st.lists(finite, min_size=1, max_size=20), c=st.floats(min_value=-1e3, max_value=1e3))
def test_logsumexp_properties(a, c):
    """Shift equivariance and the bounds max(a) <= logsumexp(a) <= max(a) + log n."""
    x = np.array(a)
    lse = float(nm.logsumexp(x))
    assert x.max() <= lse <= x.max() + math.log(len(a)) + 1e-12
    assert float(nm.logsumexp(x + c)) == pytest.approx(lse + c, rel=1e-12, abs=1e-9)
    assert float(nm.ess(x)) == pytest.approx(np.exp(2 * lse - float(nm.logsumexp(2 * x))), rel=1e-12)


# ---------------------------------------------------------------- empty and lazy input (issues 24, 15)
def test_logsumexp_empty_is_minus_inf_like_scipy(backend):
    from scipy.special import logsumexp as sp_lse

    xp = backend.xp
    assert float(nm.logsumexp(xp.zeros((0,), dtype=backend.dtype))) == -math.inf == sp_lse(np.zeros(0))
    out = nm.logsumexp(xp.zeros((0, 3), dtype=backend.dtype), axis=0)
    np.testing.assert_array_equal(backend.to_numpy(out), sp_lse(np.zeros((0, 3)), axis=0))
    assert tuple(nm.logsumexp(xp.zeros((2, 0), dtype=backend.dtype), axis=-1, keepdims=True).shape) == (2, 1)
    assert tuple(nm.logsumexp(xp.zeros((0, 3), dtype=backend.dtype), axis=1).shape) == (0,)


def test_lists_accepted_and_empty_means_refused():
    assert nm.logsumexp([]) == -math.inf
    assert abs(float(nm.logsumexp([0.0, 0.0])) - math.log(2.0)) < 1e-15
    with pytest.raises(ValueError, match="empty"):
        nm.logmeanexp(np.zeros(0))
    with pytest.raises(ValueError, match="at least one weight"):
        nm.ess(np.zeros(0))


class _FakeDask:  # what refuse_lazy looks at: the defining module of the array type
    __module__ = "dask.array.core"
    shape, ndim, dtype = (3,), 1, "float64"


@pytest.mark.parametrize("fn", [nm.logsumexp, nm.logmeanexp, nm.normalized_weights, nm.ess, nm.log1mexp])
def test_dask_refused(fn):
    with pytest.raises(TypeError, match=r"dask array.*compute\(\)"):
        fn(_FakeDask())
