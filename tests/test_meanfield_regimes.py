"""Lazy (NTK) vs feature (mean-field) scaling and the 2-norm regularizer of ``tk.meanfield.gradient_flow``
(Chen, Vanden-Eijnden & Bruna, arXiv:2204.10782; Chen, Rotskoff, Bruna & Vanden-Eijnden, arXiv:2008.09623)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import transportkit.meanfield as mf
from transportkit import get_backend


def _np(be, x):
    return np.asarray(be.to_numpy(x))


def _problem(be, d=3, n_data=11, rng=0):
    return mf.teacher_student(d=d, m_teacher=2, n_data=n_data, unit="tanh", rng=rng, backend=be)


def test_lazy_step_is_the_plain_gradient_of_the_ntk_loss():
    """One Euler step of the lazy regime moves theta by -dt * grad l with l(c, W) = loss of n^{-1/2} sum c phi."""
    prob = _problem("numpy")
    p0 = prob.init_particles(4, rng=1)
    c, W = np.asarray(p0.c), np.asarray(p0.w)
    n, dt, eps = c.shape[0], 1e-3, 1e-6
    L = lambda c, W: float(prob.loss(math.sqrt(n) * c, W))  # noqa: E731
    gc = np.array([(L(c + e, W) - L(c - e, W)) / (2 * eps) for e in np.eye(n) * eps])
    gw = np.zeros_like(W)
    for i in range(n):
        for k in range(W.shape[1]):
            E = np.zeros_like(W)
            E[i, k] = eps
            gw[i, k] = (L(c, W + E) - L(c, W - E)) / (2 * eps)
    tr = mf.gradient_flow(prob, p0, dt=dt, steps=1, regime="lazy", jit=False)
    np.testing.assert_allclose((np.asarray(tr.particles.c) - c) / dt, -gc, atol=1e-7)
    np.testing.assert_allclose((np.asarray(tr.particles.w) - W) / dt, -gw, atol=1e-7)
    np.testing.assert_allclose(float(tr.loss[0]), L(c, W), rtol=1e-12)
    X = np.asarray(prob.X)
    np.testing.assert_allclose(np.asarray(tr.predict(X, prob)),
                               np.tanh(X @ np.asarray(tr.particles.w).T) @ np.asarray(tr.particles.c) / math.sqrt(n))


@pytest.mark.parametrize("regime", ["feature", "lazy"])
def test_l2_adds_minus_lambda_theta(backend, regime):
    prob = _problem(backend)
    p0 = prob.init_particles(5, rng=2)
    lam, dt = 0.3, 0.01
    a = mf.gradient_flow(prob, p0, dt=dt, steps=1, regime=regime, jit=False)
    b = mf.gradient_flow(prob, p0, dt=dt, steps=1, regime=regime, l2=lam, jit=False)
    for x0, xa, xb in ((p0.c, a.particles.c, b.particles.c), (p0.w, a.particles.w, b.particles.w)):
        np.testing.assert_allclose(_np(backend, xb) - _np(backend, xa), -dt * lam * _np(backend, x0), atol=1e-12)
    assert b.l2 == lam and b.regime == regime


def _mean_move(be, prob, n, regime):
    p0 = prob.init_particles(n, rng=3)
    tr = mf.gradient_flow(prob, p0, dt=0.2, steps=20, regime=regime, jit=False)
    return float(np.mean(np.linalg.norm(_np(be, tr.particles.w) - _np(be, p0.w), axis=1)))


def test_lazy_units_move_like_n_to_the_minus_half_feature_units_do_not():
    """NTK scaling: each unit moves O(n^{-1/2}) (ratio 4 between n = 64 and 1024); mean-field scaling: O(1)
    (numpy: the step itself is checked on every backend above)."""
    backend = get_backend("numpy")
    prob = _problem(backend, d=4, n_data=32)
    lazy = _mean_move(backend, prob, 64, "lazy") / _mean_move(backend, prob, 1024, "lazy")
    feat = _mean_move(backend, prob, 64, "feature") / _mean_move(backend, prob, 1024, "feature")
    assert 2.5 < lazy < 6.0, lazy
    assert 0.5 < feat < 2.0, feat


def test_linear_convergence_when_d_exceeds_n_data(backend):
    """Chen, Vanden-Eijnden & Bruna (arXiv:2204.10782): for d >= n_data the mean-field training loss decays at a
    linear rate; log(loss) is a line in t (R^2 > 0.99) once the loss is below 1 % of its start."""
    prob = mf.teacher_student(d=32, m_teacher=3, n_data=8, unit="tanh", rng=1, backend=backend)
    tr = mf.gradient_flow(prob, 128, dt=0.5, steps=200, rng=11, record_every=5)
    t, loss = _np(backend, tr.times), _np(backend, tr.loss)
    ok = (loss < 1e-2 * loss[0]) & (loss > 1e-22)
    assert ok.sum() >= 20
    a = np.polyfit(t[ok], np.log(loss[ok]), 1)
    resid = np.log(loss[ok]) - np.polyval(a, t[ok])
    r2 = 1 - np.sum(resid**2) / np.sum((np.log(loss[ok]) - np.log(loss[ok]).mean()) ** 2)
    assert a[0] < 0 and r2 > 0.99, (a, r2)


def test_regime_and_l2_are_checked():
    prob = _problem("numpy")
    with pytest.raises(ValueError, match=r"regime.*did you mean 'lazy'"):
        mf.gradient_flow(prob, 4, steps=1, regime="lazzy")
    with pytest.raises(ValueError, match="l2"):
        mf.gradient_flow(prob, 4, steps=1, l2=-1.0)
    with pytest.raises(ValueError, match="l2"):
        mf.gradient_flow(prob, 4, steps=1, l2=float("nan"))
    with pytest.raises(ValueError, match=r"birth_death needs regime='feature'"):
        mf.gradient_flow(prob, 4, steps=1, regime="lazy", birth_death=1.0)
    assert mf.gradient_flow(prob, 4, steps=1, l2=np.float32(0.1), rng=0).l2 == pytest.approx(0.1)
