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
    r = mcmc(Gaussian(MEAN, COV), n, kernel=kernel, steps=150, backend=backend, seed=3)
    x = backend.to_numpy(r.x)
    # n independent chains, each (approximately) at stationarity: mean SE sqrt(C_ii/n), variance SE C_ii sqrt(2/n)
    sd = numpy.sqrt(numpy.diag(COV))
    assert numpy.all(numpy.abs(x.mean(0) - MEAN) < 4 * sd / math.sqrt(n))
    assert numpy.all(numpy.abs(x.var(0) - numpy.diag(COV)) < 4 * numpy.diag(COV) * math.sqrt(2 / n))
    assert 0.1 < r.info["acceptance"] < 0.95 and r.ess == n


def test_ula_bias_matches_closed_form(backend):
    # U = x^2/2, fixed h: x' = (1-h)x + sqrt(2h) xi has stationary variance 1/(1 - h/2) (ALGORITHMS.md §5.6)
    h, n = 0.4, 20000
    r = mcmc(
        Gaussian(numpy.zeros(1), 1.0),
        n,
        kernel="ula",
        steps=30,
        step_size=h,
        adapt_step_size=False,
        backend=backend,
        seed=0,
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
