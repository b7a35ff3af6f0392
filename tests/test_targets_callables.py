"""Targets from anything sensible: tk.targets.from_log_prob / as_target (callables, pairs, objects, scipy.stats),
the array library of a callable detected by a probe, lazy gradients, and every sampler accepting every form."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import transportkit as tk
from transportkit._capabilities import algorithm_test
from transportkit.sampling._common import Density, as_density
from transportkit.sampling.mcmc import rwm


def _np_gauss(x):
    return -0.5 * np.sum(x * x, axis=-1)


def _np_grad(x):
    return -x


def test_old_home_target_base_reexports_the_callable_targets():
    """``transportkit.target_base`` held these names before the split; they are the same objects there (issue #14)."""
    import transportkit.target_base as old

    assert old.CallableTarget is tk.targets.CallableTarget and old.from_log_prob is tk.targets.from_log_prob
    assert old.gradient_free is tk.targets.gradient_free and old.Target is tk.targets.Target
    t = old.CallableTarget(_np_gauss, dim=2)
    assert isinstance(t, old.Target) and t.dim == 2


def test_from_log_prob_values_dim_and_repr():
    t = tk.targets.from_log_prob(_np_gauss, dim=3)
    assert isinstance(t, tk.targets.Target) and t.dim == 3 and t.log_Z is None
    x = np.random.default_rng(0).normal(size=(5, 3))
    np.testing.assert_allclose(t.log_prob(x), _np_gauss(x))
    assert np.ndim(t.log_prob(x[0])) == 0
    assert "dim=3" in repr(t) and t.backend.name == "numpy"
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        t.log_prob(np.zeros((2, 4)))


@pytest.mark.parametrize("dim", [2.5, 0, -1, True, "2"])
def test_dim_must_be_a_positive_integer(dim):
    with pytest.raises((TypeError, ValueError), match="dim"):
        tk.targets.from_log_prob(_np_gauss, dim=dim)


def test_dim_accepts_numpy_integers():
    assert tk.targets.from_log_prob(_np_gauss, dim=np.int64(2)).dim == 2


def test_per_point_function(backend):
    xp = backend.xp

    def point(x):  # (d,) -> scalar, written with the backend's namespace
        return -0.5 * xp.sum(x * x)

    t = tk.targets.from_log_prob(point, dim=2, vectorized=False, backend=backend)
    x = np.random.default_rng(1).normal(size=(4, 2))
    out = backend.to_numpy(t.log_prob(backend.asarray(x)))
    np.testing.assert_allclose(out, _np_gauss(x), rtol=1e-12)


def test_per_point_function_given_as_vectorized_says_so():
    t = tk.targets.from_log_prob(lambda x: -0.5 * float(np.sum(x * x)), dim=2)
    with pytest.raises((TypeError, ValueError), match="vectorized=False"):
        as_density(t, tk.get_backend("numpy"))


def test_library_detected_from_a_probe_call():
    torch = pytest.importorskip("torch")
    t = tk.targets.from_log_prob(lambda x: -0.5 * torch.sum(x * x, dim=-1), dim=2)
    assert t.backend.name == "torch"
    out = t.log_prob(np.ones((3, 2)))  # host input goes to the target's library
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), [-1.0] * 3)
    g = t.grad_log_prob(np.ones((3, 2)))  # torch autodiff
    np.testing.assert_allclose(g.numpy(), -np.ones((3, 2)))
    # the same function refused on numpy with an error that says backend=
    with pytest.raises(TypeError, match="backend="):
        as_density(t, tk.get_backend("numpy"))


def test_library_of_jax_function_detected():
    jnp = pytest.importorskip("jax.numpy")
    t = tk.targets.from_log_prob(lambda x: -0.5 * jnp.sum(x * x, axis=-1), dim=2)
    assert t.backend.name == "jax"


def test_function_that_fails_everywhere_says_backend():
    def broken(x):
        raise RuntimeError("nope")

    with pytest.raises(TypeError, match="backend="):
        _ = tk.targets.from_log_prob(broken, dim=2).backend


def test_gradient_is_lazy_and_names_grad():
    t = tk.targets.from_log_prob(_np_gauss, dim=2)
    d = as_density(t, tk.get_backend("numpy"))  # no error: nothing asked for a gradient yet
    assert not d.has_grad
    x = np.zeros((3, 2))
    np.testing.assert_allclose(d.log_prob(x), 0.0)
    with pytest.raises(tk.CapabilityError, match="grad="):
        d.grad(x)
    with pytest.raises(tk.CapabilityError, match="grad="):
        t.grad_log_prob(x)
    with pytest.raises(tk.CapabilityError, match="grad="):
        as_density(t, tk.get_backend("numpy"), need_grad=True)
    _, g = as_density(t, tk.get_backend("numpy"), need_grad=False).value_and_grad(x)
    assert np.all(g == 0) and g.shape == x.shape
    # a given gradient is used
    t2 = tk.targets.from_log_prob(_np_gauss, dim=2, grad=_np_grad)
    np.testing.assert_allclose(as_density(t2, tk.get_backend("numpy")).grad(np.ones((2, 2))), -np.ones((2, 2)))


class _Obj:
    dim = 2

    def log_prob(self, x):
        return _np_gauss(x)

    def grad_log_prob(self, x):
        return _np_grad(x)


def test_as_target_forms():
    x = np.random.default_rng(2).normal(size=(4, 2))
    ref = _np_gauss(x)
    g = tk.targets.Gaussian.standard(2)
    assert tk.targets.as_target(g) is g
    forms = [_Obj(), (_np_gauss, _np_grad), _np_gauss]
    for f in forms:
        t = tk.targets.as_target(f, dim=2)
        np.testing.assert_allclose(t.log_prob(x), ref)
    t = tk.targets.as_target((_np_gauss, _np_grad), x0=np.zeros((5, 2)))
    assert t.dim == 2
    with pytest.raises(ValueError, match="dimension"):
        tk.targets.as_target(_Obj(), dim=3)
    with pytest.raises(TypeError, match="log_prob"):
        tk.targets.as_target(42)
    with pytest.raises(TypeError, match="pair"):
        tk.targets.as_target((_np_gauss, _np_grad, _np_gauss))


def test_scipy_frozen_distributions():
    x = np.random.default_rng(3).normal(size=(6, 2))
    mvn = stats.multivariate_normal([0.5, -1.0], [[2.0, 0.3], [0.3, 1.0]])
    t = tk.targets.as_target(mvn)
    assert isinstance(t, tk.targets.Gaussian)  # exact, with gradients on every backend
    np.testing.assert_allclose(t.log_prob(x), mvn.logpdf(x), rtol=1e-12)
    mt = stats.multivariate_t([0.0, 1.0], [[1.0, 0.2], [0.2, 1.0]], df=4)
    t = tk.targets.as_target(mt)
    assert t.dim == 2
    np.testing.assert_allclose(t.log_prob(x), mt.logpdf(x), rtol=1e-12)
    u = tk.targets.as_target(stats.norm(1.0, 2.0))
    assert u.dim == 1
    np.testing.assert_allclose(u.log_prob(x[:, :1]), stats.norm(1.0, 2.0).logpdf(x[:, 0]), rtol=1e-12)
    s = u.sample(2000, rng=0)
    assert s.shape == (2000, 1) and abs(float(s.mean()) - 1.0) < 4 * 2.0 / math.sqrt(2000)
    with pytest.raises(TypeError, match="backend='numpy'"):
        jax_be = pytest.importorskip("jax") and tk.get_backend("jax")
        as_density(t, jax_be)


def test_density_counts_nonfinite_values():
    xp = tk.get_backend("numpy").xp
    lp = np.array([0.0, np.nan, np.inf, -np.inf])
    assert list(Density.nonfinite(xp, lp)) == [False, True, True, False]
    assert int(Density.count_nonfinite(xp, lp)) == 2
    assert list(Density.sanitize(xp, lp)) == [0.0, -np.inf, -np.inf, -np.inf]


@algorithm_test(rwm)
def test_rwm_with_a_bare_callable_needs_no_gradient(backend):
    xp = backend.xp
    n = 400
    r = tk.sample(lambda x: -0.5 * xp.sum(x * x, axis=-1), n, method="rwm", x0=np.zeros((n, 2)), steps=60,
                  backend=backend, rng=0)  # fmt: skip
    x = backend.to_numpy(r.x)
    assert x.shape == (n, 2)
    # N(0, I): the mean of n chains is within 4 SE (chains started at 0 and mixed for 60 steps: variance <= 1)
    assert np.all(np.abs(x.mean(0)) < 4 / math.sqrt(n))


@pytest.mark.parametrize("method", ["rwm", "mala", "ais", "smc", "nets"])
@pytest.mark.parametrize("form", ["pair", "object", "target", "scipy"])
def test_every_method_accepts_every_form(method, form):
    """Each form of a 2-D standard Gaussian through tk.sample (numpy; tiny runs: the point is acceptance)."""
    mk = {
        "pair": lambda: (_np_gauss, _np_grad),
        "object": _Obj,
        "target": lambda: tk.targets.from_log_prob(_np_gauss, dim=2, grad=_np_grad),
        "scipy": lambda: stats.multivariate_normal([0.0, 0.0]),
    }[form]
    opts = {"rwm": dict(steps=5), "mala": dict(steps=5), "ais": dict(steps=3), "smc": dict(steps=3),
            "nets": dict(steps=4, rounds=0)}[method]  # fmt: skip
    if method in ("rwm", "mala"):
        opts["x0"] = np.zeros((20, 2))
    elif form == "pair":
        opts["base"] = None
        obj = tk.targets.as_target(mk(), dim=2)  # a pair has no dim: give it (ais/smc/nets take it from here)
        r = tk.sample(obj, 20, method=method, rng=0, **{k: v for k, v in opts.items() if k != "base"})
        assert tuple(r.x.shape) == (20, 2)
        return
    r = tk.sample(mk(), 20, method=method, rng=0, **opts)
    assert tuple(r.x.shape) == (20, 2)


def test_dimension_free_callable_takes_it_from_the_points():
    t = tk.targets.from_log_prob(_np_gauss)
    assert t.dim is None
    np.testing.assert_allclose(t.log_prob([[1.0, 2.0]]), [-2.5])
    np.testing.assert_allclose(t.log_prob([1.0, 2.0, 3.0]), -7.0)
    with pytest.raises(ValueError, match="dimension of the target"):
        from transportkit.sampling._common import make_path

        make_path(t, tk.get_backend("numpy"))


def test_make_path_for_gradient_free_kernels():
    from transportkit.sampling._common import make_path

    be = tk.get_backend("numpy")
    pth = make_path(_np_gauss, be, x0=np.zeros((4, 3)), need_grad=False)
    x = np.ones((4, 3))
    _, lp1, _, g1 = pth.evaluate(x)
    np.testing.assert_allclose(lp1, _np_gauss(x))
    assert np.all(g1 == 0)  # a placeholder: never evaluated, never demanded
    with pytest.raises(tk.CapabilityError, match="grad="):
        make_path(_np_gauss, be, x0=np.zeros((4, 3))).evaluate(x)


def test_pair_through_smc_takes_the_dimension_from_base_mean():
    r = tk.sample((_np_gauss, _np_grad), 200, method="smc", base_mean=np.zeros(3), steps=5, rng=0)
    # target = N(0, I) unnormalized, base N(0, I): every weight equal, log Z = (3/2) log 2 pi exactly
    assert tuple(r.x.shape) == (200, 3) and abs(r.log_Z - 1.5 * math.log(2 * math.pi)) < 1e-12
