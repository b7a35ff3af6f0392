"""AIS/SMC/MCMC never silently wrong (issue 24) and SMC that mixes (issue 15): bad arguments refused at entry with the
argument named, NaN/+inf met mid-run counted and warned, degenerate or heavy-tailed weights and islands that disagree
with the stderr warned, rng= per SPEC 7, x0= for AIS, option typos naming the function called, the banana's log Z
with the defaults, and a property test over random small inputs."""

from __future__ import annotations

import math
import warnings

import numpy
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transportkit.errors import DegenerateWeightsWarning, NonFiniteWarning, TransportkitWarning, UncertaintyWarning
from transportkit.sampling.ais import PARETO_K_WARNING, _diagnose, ais, pareto_k, smc
from transportkit.sampling.mcmc import mala, mcmc, rwm
from transportkit.targets import Gaussian


class Banana:
    r"""x1 ~ N(0, 1), x2 | x1 ~ N(x1^2, 0.2): :math:`\log\tilde\rho = -x_1^2/2 - (x_2 - x_1^2)^2/0.4`, so that
    :math:`Z = 2\pi\sqrt{0.2}` exactly (the shear :math:`x_2 \mapsto x_2 - x_1^2` has unit Jacobian):
    log Z = 1.03316."""

    dim = 2
    log_Z = math.log(2 * math.pi * math.sqrt(0.2))

    def log_prob(self, x):
        u = x[:, 1] - x[:, 0] ** 2
        return -0.5 * x[:, 0] ** 2 - u * u / 0.4

    def grad_log_prob(self, x):
        from array_api_compat import array_namespace

        xp = array_namespace(x)
        u = x[:, 1] - x[:, 0] ** 2
        return xp.stack([-x[:, 0] + 10.0 * u * x[:, 0], -5.0 * u], axis=1)


class Spy:
    """A standard normal in d = 2 that counts its evaluations (arguments must be checked before any)."""

    dim = 2

    def __init__(self):
        self.calls = 0

    def log_prob(self, x):
        self.calls += 1
        return -0.5 * (x[:, 0] ** 2 + x[:, 1] ** 2)

    def grad_log_prob(self, x):
        self.calls += 1
        return -x


def test_banana_log_z_with_the_defaults():
    # the case: 0.871 +- 0.021 (7.7 SE off) with one move per temperature from N(0, I); over 16 seeds with
    # n = 1000 the defaults give rms z 1.07, max |z| 2.3 (benchmarks/smc_banana.py)
    t = Banana()
    r = smc(t, 500, rng=0)
    assert abs(r.log_Z - t.log_Z) < 4 * r.log_Z_stderr
    assert r.info.pilot is not None and max(r.info.n_moves) > 1


BAD = [
    ({"step_size": float("nan")}, ValueError, "step_size"),
    ({"step_size": -0.1}, ValueError, "step_size"),
    ({"step_size": "0.1"}, TypeError, "step_size"),
    ({"target_accept": 2}, ValueError, "target_accept"),
    ({"target_accept": float("nan")}, ValueError, "target_accept"),
    ({"n_mcmc": 2.5}, TypeError, "n_mcmc"),
    ({"max_mcmc": 0}, ValueError, "max_mcmc"),
    ({"precondition": "ful"}, ValueError, "did you mean 'full'"),
    ({"kernel": "mal"}, ValueError, "did you mean 'mala'"),
    ({"steps": 2.5}, TypeError, "steps"),
    ({"adaptive": 1}, TypeError, "adaptive"),
    ({"ess_threshold": float("nan"), "resample": "systematic"}, ValueError, "ess_threshold"),
    ({"islands": 2.0, "resample": "systematic"}, TypeError, "islands"),
    ({"rng": "0"}, TypeError, "rng"),
    ({"rng": -1}, ValueError, "rng"),
    ({"x0": numpy.zeros((7, 2))}, ValueError, "x0"),
    ({"x0": numpy.full((50, 2), numpy.nan)}, ValueError, "x0"),
]


@pytest.mark.parametrize("kwargs, err, match", BAD, ids=[m for *_, m in BAD])
def test_ais_bad_arguments_named_before_any_evaluation(kwargs, err, match):
    spy = Spy()
    with pytest.raises(err, match=match):
        ais(spy, 50, **{"steps": 3, **kwargs})
    assert spy.calls == 0


def test_mcmc_bad_arguments_named_before_any_evaluation():
    spy = Spy()
    for kwargs, err, match in (
        ({"step_size": -0.1}, ValueError, "step_size"),
        ({"target_accept": 2}, ValueError, "target_accept"),
        ({"steps": 2.5}, TypeError, "steps"),
        ({"x0": numpy.zeros((4, 2), dtype=complex)}, TypeError, "x0"),
    ):
        with pytest.raises(err, match=match):
            mala(spy, 4, **{"steps": 3, **kwargs})
    assert spy.calls == 0


def test_numpy_scalars_accepted_and_dim_must_be_an_integer():
    t = Gaussian(numpy.zeros(2), 1.0)
    r = ais(t, numpy.int64(50), steps=numpy.int32(3), step_size=numpy.float32(0.3), target_accept=numpy.float64(0.5),
            n_mcmc=numpy.int64(1), rng=numpy.int64(0))  # fmt: skip
    assert tuple(r.x.shape) == (50, 2)
    assert tuple(mcmc(t, numpy.int64(5), steps=numpy.int64(3), rng=0).x.shape) == (5, 2)

    class Frac(Spy):
        dim = 2.5

    for f in (ais, smc, rwm):
        with pytest.raises(TypeError, match="dim"):
            f(Frac(), 50, steps=2)


def test_option_typos_name_the_function_called():
    t = Gaussian(numpy.zeros(2), 1.0)
    with pytest.raises(TypeError, match=r"smc\(\).*'n_mcmcc'.*did you mean 'n_mcmc'"):
        smc(t, 50, n_mcmcc=1)
    with pytest.raises(TypeError, match=r"ais\(\).*did you mean .n_mcmc."):
        ais(t, 50, n_mcmcc=1)
    with pytest.raises(TypeError, match=r"rwm\(\).*did you mean 'steps'"):
        rwm(t, 5, stepz=3)
    with pytest.raises(ValueError, match=r"smc\(\): kernel"):
        smc(t, 50, kernel="nuts")


class LateNaN:
    """A standard normal whose log_prob returns ``bad`` (NaN or +inf) for x[:, 0] > 1 after the first call."""

    dim = 2

    def __init__(self, bad):
        self.bad, self.calls = bad, 0

    def log_prob(self, x):
        from array_api_compat import array_namespace

        xp = array_namespace(x)
        self.calls += 1
        v = -0.5 * xp.sum(x * x, axis=1)
        return v if self.calls == 1 else xp.where(x[:, 0] > 1.0, self.bad, v)

    def grad_log_prob(self, x):
        return -x


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nonfinite_target_values_mid_run_are_counted_and_warned(bad):
    with pytest.warns(NonFiniteWarning, match="rejected"):
        r = ais(LateNaN(bad), 200, steps=4, n_mcmc=2, base_scale=1.0, rng=0)
    assert r.info.n_nonfinite > 0 and math.isfinite(r.log_Z) and math.isfinite(r.log_Z_stderr)
    assert numpy.all(numpy.isfinite(numpy.asarray(r.x)))
    with pytest.warns(NonFiniteWarning):
        q = mcmc(LateNaN(bad), 100, steps=6, x0=numpy.zeros((100, 2)), rng=0)
    # a NaN/+inf proposal is never accepted: every walker stays where the density is finite (x[:, 0] <= 1)
    assert q.info.n_nonfinite > 0 and numpy.all(numpy.asarray(q.x)[:, 0] <= 1.0)


def test_zero_density_regions_are_not_non_finite_values():
    class HalfPlane:
        """N(0, I) restricted to x1 > -0.5 (log_prob = -inf elsewhere): Z = 2 pi Phi(0.5)."""

        dim = 2

        def log_prob(self, x):
            from array_api_compat import array_namespace

            xp = array_namespace(x)
            return xp.where(x[:, 0] > -0.5, -0.5 * xp.sum(x * x, axis=1), -math.inf)

        def grad_log_prob(self, x):
            return -x

    # numpy's "invalid value in multiply": the geometric path's (1 - t) lp0 + t lp1 at t = 0 with lp1 = -inf
    # (sampling/_common.py, GeometricPath._mix) -- a NaN that the reweighting treats as zero density
    with warnings.catch_warnings(), numpy.errstate(invalid="ignore"):
        warnings.simplefilter("error", NonFiniteWarning)
        r = smc(HalfPlane(), 500, steps=10, base_scale=1.0, rng=0)
    truth = math.log(2 * math.pi * 0.5 * (1 + math.erf(0.5 / math.sqrt(2))))
    assert r.info.n_nonfinite == 0 and abs(r.log_Z - truth) < 4 * r.log_Z_stderr


def test_improper_target_is_not_a_confident_log_z():
    class Flat:
        dim = 2

        def log_prob(self, x):
            return 0.0 * x[:, 0]

        def grad_log_prob(self, x):
            return 0.0 * x

    # log Z = +inf: the last annealing step's weights are Pareto with k = 1 (infinite mean)
    for f in (ais, smc):
        with pytest.warns(DegenerateWeightsWarning, match="Pareto"):
            r = f(Flat(), 500, steps=30, rng=0)
        assert r.info.pareto_k > PARETO_K_WARNING


def test_degenerate_weights_warn():
    t = Gaussian(numpy.full(2, 6.0), 0.05)  # far and narrow: one AIS step from N(0, I) leaves ESS ~ 1
    with pytest.warns(DegenerateWeightsWarning, match="ESS/n"):
        r = ais(t, 200, steps=1, n_mcmc=0, base_scale=1.0, rng=0)
    assert r.ess / 200 < 0.01


def test_well_behaved_runs_do_not_warn():
    t = Gaussian([1.0, -1.0], [[1.0, 0.3], [0.3, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", TransportkitWarning)
        r = smc(t, 500, steps=20, rng=1)
    assert abs(r.log_Z) < 4 * r.log_Z_stderr
    assert r.info.pareto_k < PARETO_K_WARNING and r.info.n_nonfinite == 0


def test_islands_inconsistent_with_the_stderr_warn():
    with pytest.warns(UncertaintyWarning, match="islands"):
        _diagnose("smc()", 0.0, 1.0, [0.0] * 9 + [30.0], 0.5, 1000, 0.1, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TransportkitWarning)
        _diagnose("smc()", 0.0, 0.1, [0.1, -0.2, 0.3, 0.0, -0.1], 0.5, 1000, 0.1, 0)


def test_pareto_k_recovers_known_tails():
    r = numpy.random.default_rng(0)
    # Pareto(alpha) weights have k = 1/alpha; bounded weights k < 0 (SE of k-hat ~ 0.1 at n = 10^4)
    for alpha in (1.0, 2.0):
        k = pareto_k(list(numpy.log(r.pareto(alpha, size=10_000) + 1.0)))
        assert abs(k - 1 / alpha) < 0.3, (alpha, k)
    assert pareto_k(list(r.uniform(size=10_000))) < 0.2
    assert math.isnan(pareto_k([0.0] * 5))


def test_rng_conventions():
    t = Gaussian(numpy.zeros(2), 1.0)
    a = smc(t, 100, steps=3, n_mcmc=1, rng=numpy.random.default_rng(5))
    b = smc(t, 100, steps=3, n_mcmc=1, rng=numpy.random.default_rng(5))
    assert numpy.array_equal(numpy.asarray(a.x), numpy.asarray(b.x))
    with pytest.warns(DeprecationWarning, match="seed"):
        c = smc(t, 100, steps=3, n_mcmc=1, seed=7)
    d = smc(t, 100, steps=3, n_mcmc=1, rng=7)
    assert numpy.array_equal(numpy.asarray(c.x), numpy.asarray(d.x))
    with pytest.raises(TypeError, match="rng"):
        mcmc(t, 5, steps=2, rng=1, seed=1)


def test_ais_accepts_x0_and_it_tells_the_dimension():
    def lp(x):
        return -0.5 * (x[:, 0] ** 2 + x[:, 1] ** 2 + x[:, 2] ** 2)

    def grad(x):
        return -x

    x0 = numpy.random.default_rng(0).normal(size=(300, 3))
    r = ais((lp, grad), 300, steps=3, x0=x0, rng=0)
    assert tuple(r.x.shape) == (300, 3) and abs(r.log_Z - 1.5 * math.log(2 * math.pi)) < 1e-9
    with pytest.raises(ValueError, match="x0 does not look like draws from the base"):
        ais((lp, grad), 300, steps=3, x0=x0 + 3.0, rng=0)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    method=st.sampled_from(["ais", "smc", "mcmc"]),
    n=st.integers(2, 40),
    d=st.integers(1, 3),
    steps=st.integers(1, 4),
    kernel=st.sampled_from(["rwm", "mala", "hmc", "ula"]),
    n_mcmc=st.one_of(st.none(), st.integers(0, 2)),
    step_size=st.one_of(st.none(), st.floats(-1.0, 5.0), st.just(math.nan)),
    scale=st.floats(0.1, 10.0),
)
def test_property_documented_error_or_finite_shape_correct(method, n, d, steps, kernel, n_mcmc, step_size, scale):
    t = Gaussian(numpy.ones(d), scale**2)
    kw = {"steps": steps, "kernel": kernel, "step_size": step_size, "rng": 0}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TransportkitWarning)
            if method == "mcmc":
                r = mcmc(t, n, **kw)
            else:
                r = (ais if method == "ais" else smc)(t, n, n_mcmc=n_mcmc, **kw)
    except (TypeError, ValueError) as err:
        assert (step_size is not None and not (step_size > 0)) or (method == "ais" and n < 2), err
        assert "step_size" in str(err) or "n" in str(err)
        return
    assert tuple(r.x.shape) == (n, d) and numpy.all(numpy.isfinite(numpy.asarray(r.x)))
    if method != "mcmc":
        assert math.isfinite(r.log_Z) and math.isfinite(r.log_Z_stderr) and 1 - 1e-9 <= r.ess <= n + 1e-9
