"""Benchmark targets: analytic gradients vs finite differences, log Z vs quadrature/scipy, exact samplers."""

from __future__ import annotations

import math

import numpy
import pytest
import scipy.integrate
import scipy.stats

from transportkit._target_zoo import GMM40, GMM40_MEANS, Funnel, ManyWell, Phi4, StudentTMixture


def _targets():
    return [GMM40(), Funnel(dim=5), ManyWell(dim=4), StudentTMixture(dim=3, n_components=4, df=3.0), Phi4(L=3)]


def _points(t, rng):
    if isinstance(t, GMM40):
        return rng.normal(size=(6, 2)) * 3 + numpy.asarray(GMM40_MEANS[:6])
    if isinstance(t, Funnel):
        return rng.normal(size=(6, t.dim)) * 0.8
    return rng.normal(size=(6, t.dim)) * 1.5


@pytest.mark.parametrize("idx", range(5), ids=["gmm40", "funnel", "manywell", "studentt", "phi4"])
def test_gradient_matches_finite_differences(backend, idx):
    t = _targets()[idx]
    rng = numpy.random.default_rng(idx)
    x = _points(t, rng)
    g = backend.to_numpy(t.grad_log_prob(backend.asarray(x)))
    h = 1e-5
    fd = numpy.zeros_like(x)
    for j in range(t.dim):
        e = numpy.zeros(t.dim)
        e[j] = h
        up = backend.to_numpy(t.log_prob(backend.asarray(x + e)))
        dn = backend.to_numpy(t.log_prob(backend.asarray(x - e)))
        fd[:, j] = (up - dn) / (2 * h)
    # central differences: truncation O(h^2 f''') and rounding O(eps |f| / h)
    scale = 1 + numpy.abs(backend.to_numpy(t.log_prob(backend.asarray(x))))[:, None]
    assert numpy.all(numpy.abs(g - fd) <= 1e-6 * scale + 1e-6 * numpy.abs(fd))
    assert g.shape == x.shape


def test_log_densities_match_scipy(backend):
    rng = numpy.random.default_rng(1)
    f = Funnel(dim=4)
    x = rng.normal(size=(5, 4))
    ref = scipy.stats.norm.logpdf(x[:, 0], 0, 3) + scipy.stats.norm.logpdf(x[:, 1:], 0, numpy.exp(x[:, :1] / 2)).sum(1)
    numpy.testing.assert_allclose(backend.to_numpy(f.log_prob(backend.asarray(x))), ref, rtol=1e-12)
    s = StudentTMixture(dim=3, n_components=4, df=2.5, scale=1.5, weights=[1, 2, 3, 4])
    y = rng.normal(size=(5, 3)) * 5
    comps = numpy.stack(
        [
            numpy.log(w) + scipy.stats.t.logpdf(y, 2.5, loc=m, scale=1.5).sum(1)
            for w, m in zip(s.weights, s.means, strict=True)
        ]
    )
    ref = scipy.special.logsumexp(comps, axis=0)
    numpy.testing.assert_allclose(backend.to_numpy(s.log_prob(backend.asarray(y))), ref, rtol=1e-12)
    g = GMM40()
    z = rng.normal(size=(5, 2)) * 20
    comps = numpy.stack([scipy.stats.multivariate_normal.logpdf(z, m, g.scale**2) for m in GMM40_MEANS])
    ref = scipy.special.logsumexp(comps, axis=0) - math.log(40)
    numpy.testing.assert_allclose(backend.to_numpy(g.log_prob(backend.asarray(z))), ref, rtol=1e-10)


def test_manywell_log_Z_by_scipy_quadrature():
    one, _ = scipy.integrate.quad(lambda u: math.exp(-(u**4 - 6 * u**2 - 0.5 * u)), -10, 10, epsabs=0, epsrel=1e-13)
    assert abs(one - 11784.509265) < 1e-5
    t = ManyWell(32)
    assert abs(t.log_Z - 16 * (math.log(one) + 0.5 * math.log(2 * math.pi))) < 1e-9
    assert abs(t.log_Z - 164.69568) < 1e-5


def test_gmm40_table_and_normalization():
    m = numpy.asarray(GMM40_MEANS)
    assert m.shape == (40, 2) and numpy.all(numpy.abs(m) <= 40)
    assert abs(GMM40().scale - math.log1p(math.e)) < 1e-15
    assert GMM40().log_Z == 0.0 and Funnel().log_Z == 0.0 and Phi4().log_Z is None


def test_exact_samplers_moments(backend):
    n = 4000
    g = GMM40()
    x = backend.to_numpy(g.sample(n, 0, backend=backend))
    mu = numpy.asarray(GMM40_MEANS)
    var = mu.var(0) + g.scale**2
    assert numpy.all(numpy.abs(x.mean(0) - mu.mean(0)) < 4 * numpy.sqrt(var / n))
    assert g.modes_visited(x) == 40
    w = ManyWell(4)
    y = backend.to_numpy(w.sample(n, 1, backend=backend))
    grid = numpy.linspace(-6, 6, 200001)
    p = numpy.exp(-(grid**4 - 6 * grid**2 - 0.5 * grid))
    p /= p.sum()
    m1, v1 = (grid * p).sum(), (grid**2 * p).sum() - (grid * p).sum() ** 2
    assert numpy.all(numpy.abs(y[:, [0, 2]].mean(0) - m1) < 4 * math.sqrt(v1 / n))
    assert numpy.all(numpy.abs(y[:, [1, 3]].var(0) - 1) < 4 * math.sqrt(2 / n))
    f = Funnel(3)
    z = backend.to_numpy(f.sample(n, 2, backend=backend))
    assert abs(z[:, 0].var() - 9) < 4 * 9 * math.sqrt(2 / n)
    s = StudentTMixture(dim=2, n_components=3, df=3.0)
    u = backend.to_numpy(s.sample(n, 3, backend=backend))
    mean = numpy.asarray(s.means).mean(0)
    sd = numpy.sqrt(numpy.asarray(s.means).var(0) + 3.0)
    assert numpy.all(numpy.abs(u.mean(0) - mean) < 4 * sd / math.sqrt(n))


def test_phi4_action_of_constant_field(backend):
    t = Phi4(L=4, kappa=0.2, lam=0.5)
    a = 0.7
    x = backend.asarray(numpy.full((1, 16), a))
    per_site = -2 * 0.2 * 2 * a * a + a * a + 0.5 * (a * a - 1) ** 2
    assert abs(float(backend.to_numpy(t.log_prob(x))[0]) + 16 * per_site) < 1e-12
    assert abs(float(backend.to_numpy(t.magnetization(x))[0]) - a) < 1e-12


def test_wrong_dimension_is_a_value_error(backend):
    with pytest.raises(ValueError, match="shape"):
        GMM40().log_prob(backend.asarray(numpy.zeros((3, 5))))
    with pytest.raises(ValueError):
        ManyWell(dim=3)
