"""MCMC kernels: stationarity on Gaussians (many independent chains), the ULA bias in closed form, bad input."""

from __future__ import annotations

import math

import numpy
import pytest

from transportkit.sampling.mcmc import mala, mcmc
from transportkit.targets import Gaussian

MEAN = numpy.array([1.0, -2.0, 0.5])
COV = numpy.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])


@pytest.mark.parametrize("kernel", ["mala", "hmc", "rwm"])
def test_chains_reach_the_gaussian(backend, kernel):
    n = 1500
    r = mcmc(Gaussian(MEAN, COV), n, kernel=kernel, steps=150, backend=backend, rng=3)
    x = backend.to_numpy(r.x)
    # n independent chains, each (approximately) at stationarity: mean SE sqrt(C_ii/n), variance SE C_ii sqrt(2/n)
    sd = numpy.sqrt(numpy.diag(COV))
    assert numpy.all(numpy.abs(x.mean(0) - MEAN) < 4 * sd / math.sqrt(n))
    assert numpy.all(numpy.abs(x.var(0) - numpy.diag(COV)) < 4 * numpy.diag(COV) * math.sqrt(2 / n))
    assert 0.1 < r.info["acceptance"] < 0.95 and r.ess == n


def test_ula_bias_matches_closed_form(backend):
    # U = x^2/2, fixed h: x' = (1-h)x + sqrt(2h) xi has stationary variance 1/(1 - h/2) (Roberts & Tweedie 1996)
    h, n = 0.4, 20000
    r = mcmc(
        Gaussian(numpy.zeros(1), 1.0),
        n,
        kernel="ula",
        steps=30,
        step_size=h,
        adapt_step_size=False,
        backend=backend,
        rng=0,
    )
    v = float(backend.to_numpy(r.x).var())
    want = 1 / (1 - h / 2)
    assert abs(v - want) < 4 * want * math.sqrt(2 / n)


def test_bad_inputs_raise_before_work(backend):
    g = Gaussian(numpy.zeros(2), 1.0)
    with pytest.raises(ValueError, match=r"x0 must have shape"):
        mala(g, 4, steps=5, x0=backend.asarray(numpy.zeros((4, 3))), backend=backend)
    xp = backend.xp

    def lp(x):
        v = -0.5 * xp.sum(x * x, axis=1)
        return xp.where(x[:, 0] > 100.0, math.nan, v)

    def grad(x):
        return -x

    x0 = numpy.zeros((5, 2))
    x0[3, 0] = 101.0
    with pytest.raises(ValueError, match=r"walker 3"):
        mala((lp, grad), 5, steps=5, x0=backend.asarray(x0), backend=backend)
    with pytest.raises(ValueError, match=r"gradient has shape"):
        mala((lp, lambda x: x[:, :1]), 5, steps=5, x0=backend.asarray(numpy.zeros((5, 2))), backend=backend)


class Spy:
    dim = 2

    def __init__(self):
        self.calls = 0

    def log_prob(self, x):
        self.calls += 1
        return -0.5 * (x[:, 0] ** 2 + x[:, 1] ** 2)

    def grad_log_prob(self, x):
        self.calls += 1
        return -x


BAD_MCMC = [
    ({"kernel": "nuts"}, "kernel"),
    ({"steps": 0}, "steps"),
    ({"warmup": 20}, "warmup"),
    ({"warmup": -1}, "warmup"),
    ({"thin": -2}, "thin"),
    ({"step_size": -0.1}, "step_size"),
    ({"target_accept": 0.0}, "target_accept"),
    ({"n_leapfrog": 0}, "n_leapfrog"),
    ({"adapt_step_size": None}, "adapt_step_size"),
    ({"backend": "nope"}, "backend"),
    ({"rng": 1.5}, "rng"),
    ({"x0": numpy.zeros((3, 2))}, "x0"),
]


@pytest.mark.parametrize("kwargs, match", BAD_MCMC, ids=[m for _, m in BAD_MCMC])
def test_bad_arguments_raise_before_any_evaluation(kwargs, match):
    spy = Spy()
    with pytest.raises((TypeError, ValueError), match=match):
        mcmc(spy, 4, **{"steps": 10, **kwargs})
    assert spy.calls == 0


def test_state_and_info_are_typed_pure_steps(backend):
    from transportkit.sampling.kernels import KERNEL_STEPS, MCMCParams, adapt_step_size, init_state
    from transportkit.sampling.mcmc import MCMCInfo, MCMCState

    xp = backend.xp
    x = backend.asarray(numpy.zeros((5, 2)))

    def fn(y):
        return -0.5 * xp.sum(y * y, axis=1), -y, ()

    for kind, step in KERNEL_STEPS.items():
        s = init_state(x, fn(x)[0], fn(x)[1], (), 0.5)
        s2, info = step(s, backend.rng(0), MCMCParams(fn, 3))
        assert isinstance(s2, MCMCState) and isinstance(info, MCMCInfo), kind
        assert tuple(s2.x.shape) == (5, 2) and tuple(info.acceptance_rate.shape) == (5,)
    s3 = adapt_step_size(s, backend.asarray(1.0), 0.5)  # accepted everything: the step doubles at most
    assert abs(float(s3.step_size) - 0.5 * math.exp(0.25)) < 1e-12


def test_typed_info_to_numpy(backend):
    from transportkit.sampling.results import MCMCRunInfo

    r = mcmc(Gaussian(MEAN, COV), 50, kernel="rwm", steps=6, thin=2, backend=backend, rng=0)
    assert isinstance(r.info, MCMCRunInfo) and r.info["warmup"] == 3 and len(r.info.acceptance_trace) == 6
    q = r.to_numpy()
    assert isinstance(q.x, numpy.ndarray) and isinstance(q.info["trace"], numpy.ndarray)
    assert q.info["trace"].shape == (1, 50, 3)
