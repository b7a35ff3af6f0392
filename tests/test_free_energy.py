"""Free-energy estimators: pymbar as referee, Gaussian works that satisfy Crooks exactly, extreme works,
diagnostics and bad input, bootstrap, Samples helpers, escorted Jarzynski with an exact Gaussian transport."""

from __future__ import annotations

import math
import types
import warnings

import numpy as np
import pytest

import transportkit as tk
from transportkit import free_energy as fe

DF = 1.0


def to_np(be, x):
    return np.asarray(be.to_numpy(x))


# ---------------------------------------------------------------------------------------------- pymbar
def _pymbar_cases():
    """10 random cases: works with random means/widths (some heavy-tailed) and random harmonic MBAR systems.

    Sizes are fixed (n_F = 300, n_R = 200; K = 4 states, N = 400 samples) so that JAX (ours and pymbar's)
    compiles each kernel once, not ten times; the split N_k of the MBAR samples over the states is random,
    and the last case has an unsampled state."""
    rng = np.random.default_rng(20260)
    cases = []
    for i in range(10):
        nF, nR, K, N = 300, 200, 4, 400
        s, dF = rng.uniform(0.3, 3.0), rng.uniform(-5.0, 5.0)
        wf = rng.normal(dF + s * s / 2, s, nF) + (rng.standard_t(5, nF) if i % 3 == 0 else 0.0)
        wr = rng.normal(-dF + s * s / 2, s, nR)
        cut = np.sort(rng.choice(np.arange(10, N - 10), K - 1, replace=False))
        N_k = np.diff(np.concatenate([[0], cut, [N]]))
        if i == 9:
            N_k[K - 2] += N_k[K - 1]
            N_k[K - 1] = 0  # an unsampled state
        mu, kk = rng.normal(0, 1.0, K), rng.uniform(0.5, 3.0, K)
        x = np.concatenate([rng.normal(mu[k], 1 / np.sqrt(kk[k]), N_k[k]) for k in range(K)])
        u = 0.5 * kk[:, None] * (x[None, :] - mu[:, None]) ** 2 + rng.normal(0, 2.0, K)[:, None]
        cases.append((wf, wr, u, N_k))
    return cases


@pytest.fixture(scope="module")
def pymbar_reference():
    pymbar = pytest.importorskip("pymbar", reason="pymbar is not installed (make test installs it)")
    from pymbar import other_estimators as oe

    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for wf, wr, u, N_k in _pymbar_cases():
            m = pymbar.MBAR(u, N_k, relative_tolerance=1e-12)
            d = m.compute_free_energy_differences()
            out.append(
                dict(
                    exp=oe.exp(wf),
                    exp_r=oe.exp(wr),
                    exp_gauss=oe.exp_gauss(wf),
                    bar=oe.bar(wf, wr),
                    bar_mbar=oe.bar(wf, wr, uncertainty_method="MBAR"),
                    mbar_f=d["Delta_f"][0],
                    mbar_df=d["dDelta_f"][0],
                    mbar_ess=m.compute_effective_sample_number(),
                    mbar_overlap=m.compute_overlap()["scalar"],
                )
            )
        out[0]["bar_overlap"] = oe.bar_overlap(*_pymbar_cases()[0][:2])
    return out


def test_exp_and_bar_match_pymbar(backend, pymbar_reference):
    for (wf, wr, _, _), ref in zip(_pymbar_cases(), pymbar_reference, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fe.FreeEnergyWarning)
            e = fe.exp(backend.asarray(wf))
            er = fe.exp(backend.asarray(wr), direction="reverse")
            eg = fe.exp_gauss(backend.asarray(wf))
            b = fe.bar(backend.asarray(wf), backend.asarray(wr))
            bm = fe.bar(backend.asarray(wf), backend.asarray(wr), uncertainty_method="MBAR")
        for got, want, sign in [(e, ref["exp"], 1), (er, ref["exp_r"], -1), (eg, ref["exp_gauss"], 1),
                                (b, ref["bar"], 1), (bm, ref["bar_mbar"], 1)]:  # fmt: skip
            np.testing.assert_allclose(to_np(backend, got.value), sign * want["Delta_f"], rtol=1e-8)
            np.testing.assert_allclose(to_np(backend, got.stderr), want["dDelta_f"], rtol=1e-8)
    wf, wr = _pymbar_cases()[0][:2]
    ov = fe.bar_overlap(backend.asarray(wf), backend.asarray(wr))
    np.testing.assert_allclose(to_np(backend, ov), pymbar_reference[0]["bar_overlap"], rtol=1e-8)


def test_mbar_matches_pymbar(backend, pymbar_reference):
    for (_, _, u, N_k), ref in zip(_pymbar_cases(), pymbar_reference, strict=True):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fe.FreeEnergyWarning)
            m = fe.mbar(backend.asarray(u), N_k)
        assert isinstance(m, tk.Estimate)
        np.testing.assert_allclose(to_np(backend, m.value), ref["mbar_f"], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(to_np(backend, m.stderr), ref["mbar_df"], rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(to_np(backend, m.diagnostics["ess"]), ref["mbar_ess"], rtol=1e-8)
        np.testing.assert_allclose(to_np(backend, m.diagnostics["overlap"]), ref["mbar_overlap"], rtol=1e-8)


# ---------------------------------------------------------------------------------------------- Crooks
N_REP = 50
N_BAR = 2000


def _n_exp(s: float) -> int:
    """EXP's delta-method SE is asymptotic in n e^{-s^2}: use n >= 10 e^{s^2} (and >= N_BAR)."""
    return max(N_BAR, math.ceil(10 * math.exp(s * s)))


@pytest.fixture(scope="module")
def crooks_works():
    """Host works for 50 repetitions: forward N(dF + s^2/2, s^2), reverse N(-dF + s^2/2, s^2)."""
    rng = np.random.default_rng(12345)
    out = {}
    for s in (0.5, 1.0, 2.0, 3.0):
        n = _n_exp(s)
        out[s] = (rng.normal(DF + s * s / 2, s, (N_REP, n)), rng.normal(-DF + s * s / 2, s, (N_REP, n)))
    return out


def _check_repetitions(value, stderr, *, check_spread=True):
    """Unbiased within 4 reported SE of the mean of 50 repetitions; RMS reported SE vs spread within 30%
    (the spread's own relative error over 50 repetitions is about 1/sqrt(98) = 10%)."""
    rms_se = float(np.sqrt(np.mean(stderr**2)))
    assert abs(value.mean() - DF) < 4 * rms_se / math.sqrt(N_REP), (value.mean(), rms_se)
    if check_spread:
        spread = float(value.std(ddof=1))
        assert abs(rms_se / spread - 1) < 0.3, (rms_se, spread)


@pytest.mark.parametrize("s", [0.5, 1.0, 2.0, 3.0])
def test_crooks_gaussian_works_exp_and_bar(backend, crooks_works, s):
    wf, wr = crooks_works[s]
    wf_b, wr_b = backend.asarray(wf), backend.asarray(wr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fe.FreeEnergyWarning)
        e_f = fe.exp(wf_b)  # 50 repetitions at once: works (50, n) -> estimates (50,)
        e_r = fe.exp(wr_b, direction="reverse")
        b = fe.bar(wf_b[:, :N_BAR], wr_b[:, :N_BAR])
    # EXP's delta-method SE at s = 3 is itself heavy-tailed (lognormal weights): its spread check is not
    # meaningful at any affordable n, only unbiasedness is asserted there.
    for e in (e_f, e_r):
        _check_repetitions(to_np(backend, e.value), to_np(backend, e.stderr), check_spread=s < 3)
    _check_repetitions(to_np(backend, b.value), to_np(backend, b.stderr))
    lo_up = fe.bounds(wf_b, wr_b)
    assert np.all(to_np(backend, lo_up.lower) <= DF) and np.all(to_np(backend, lo_up.upper) >= DF)


# ---------------------------------------------------------------------------------------------- extremes
def test_works_of_magnitude_1e4_and_one_sided_overlap(backend):
    rng = np.random.default_rng(7)
    # nearly disjoint work distributions: BAR overlap ~ 1e-12
    wf0, wr0 = rng.normal(30.0, 1.0, 300), rng.normal(30.0, 1.0, 200)
    ref = fe.bar(wf0, wr0, ess_warning=0)
    assert 1e-16 < float(ref.diagnostics["overlap"]) < 1e-9
    for shift in (1e4, -1e4):
        b = fe.bar(backend.asarray(wf0 + shift), backend.asarray(wr0 - shift), ess_warning=0)
        v, se = float(to_np(backend, b.value)), float(to_np(backend, b.stderr))
        assert math.isfinite(v) and math.isfinite(se)
        np.testing.assert_allclose(v - shift, float(ref.value), atol=1e-8)
        np.testing.assert_allclose(se, float(ref.stderr), rtol=1e-6)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fe.FreeEnergyWarning)
            e = fe.exp(backend.asarray(wf0 + shift))
        assert math.isfinite(float(to_np(backend, e.value))) and math.isfinite(float(to_np(backend, e.stderr)))
        np.testing.assert_allclose(float(to_np(backend, e.value)) - shift, float(fe.exp(wf0).value), atol=1e-8)
    # one-sided: Crooks-consistent Gaussian works with s = 8 (overlap ~ 1e-4), shifted by 1e4
    s = 8.0
    wf, wr = rng.normal(1e4 + s * s / 2, s, 300), rng.normal(-1e4 + s * s / 2, s, 200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fe.FreeEnergyWarning)
        b = fe.bar(backend.asarray(wf), backend.asarray(wr))
    v, se = float(to_np(backend, b.value)), float(to_np(backend, b.stderr))
    assert math.isfinite(v) and 0 < se < 10 and abs(v - 1e4) < 4 * se + 1e-6
    # MBAR with reduced energies of magnitude 1e4: f_k shifts by the per-state constants
    x = rng.normal(0.0, 1.0, 400)
    u = np.stack([0.5 * k * x**2 for k in (1.0, 2.0, 3.0, 4.0)])
    c = np.array([0.0, 1e4, -1e4, 3e4])
    m0 = fe.mbar(u, [100, 100, 100, 100])
    m = fe.mbar(backend.asarray(u + c[:, None]), [100, 100, 100, 100])
    np.testing.assert_allclose(to_np(backend, m.value), m0.value + c, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(to_np(backend, m.stderr), m0.stderr, rtol=1e-6)


# ---------------------------------------------------------------------------------------------- diagnostics
def test_diagnostics_and_dominance_warning(backend):
    rng = np.random.default_rng(3)
    w = rng.normal(2.0, 1.0, 300)
    e = fe.exp(backend.asarray(w))
    np.testing.assert_allclose(float(to_np(backend, e.diagnostics["ess"])), float(tk.numerics.ess(-w)), rtol=1e-10)
    dominated = np.concatenate([[0.0], np.full(99, 40.0)])  # all weight on one sample
    with pytest.warns(fe.FreeEnergyWarning, match="dominated by a few samples"):
        fe.exp(backend.asarray(dominated))
    with pytest.warns(fe.FreeEnergyWarning, match="dominated"):
        fe.bar(backend.asarray(dominated), backend.asarray(rng.normal(0.0, 1.0, 100)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fe.exp(backend.asarray(dominated), ess_warning=0)  # disabled: silent
        b = fe.bar(backend.asarray(w), backend.asarray(rng.normal(-1.0, 1.0, 200)))
    d = b.diagnostics
    for key in ("overlap", "ess_forward", "ess_reverse", "ess_bar_forward", "ess_bar_reverse"):
        assert math.isfinite(float(to_np(backend, d[key])))
    assert 0 < float(to_np(backend, d["overlap"])) <= 1


def test_bad_input(backend):
    w = np.array([1.0, 2.0, np.nan, 3.0, np.inf])
    with pytest.raises(ValueError, match="index 2"):
        fe.exp(backend.asarray(w))
    with pytest.raises(ValueError, match=r"w_reverse.*index 4"):
        fe.bar(backend.asarray([1.0, 2.0]), backend.asarray([1.0, 2.0, 3.0, 0.0, np.inf]))
    omitted = fe.exp(backend.asarray(w), nan_policy="omit")
    np.testing.assert_allclose(to_np(backend, omitted.value), fe.exp(np.array([1.0, 2.0, 3.0])).value, rtol=1e-12)
    ob = fe.bar(backend.asarray(w), backend.asarray(-w), nan_policy="omit")
    np.testing.assert_allclose(
        to_np(backend, ob.value), fe.bar(np.array([1.0, 2.0, 3.0]), -np.array([1.0, 2.0, 3.0])).value, rtol=1e-12
    )
    with pytest.raises(ValueError, match="nan_policy"):
        fe.exp(backend.asarray(w), nan_policy="ignore")
    with pytest.raises(ValueError, match="empty"):
        fe.exp(backend.asarray(np.zeros(0)))
    with pytest.raises(ValueError, match="empty"):
        fe.bar(backend.asarray([1.0]), backend.asarray(np.zeros(0)))
    with pytest.raises(ValueError, match="no finite works"):
        fe.exp(backend.asarray([np.nan, np.nan]), nan_policy="omit")
    u = np.zeros((2, 4))
    with pytest.raises(ValueError, match="sum"):
        fe.mbar(backend.asarray(u), [2, 3])
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        fe.mbar(backend.asarray(np.where(np.arange(8).reshape(2, 4) == 6, np.nan, 0.0)), [2, 2])
    with pytest.raises(ValueError, match="bootstrap"):
        fe.exp(backend.asarray([1.0, 2.0]), bootstrap=1)


def test_mixed_backends_is_a_type_error():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="numpy"):
        fe.bar(np.zeros(3), torch.zeros(3))


# ---------------------------------------------------------------------------------------------- bootstrap
def test_bootstrap_stderr_agrees_with_asymptotic(backend):
    rng = np.random.default_rng(11)
    s, n, B = 1.0, 300, 200
    wf, wr = rng.normal(DF + s * s / 2, s, n), rng.normal(-DF + s * s / 2, s, 200)
    wf_b, wr_b = backend.asarray(wf), backend.asarray(wr)
    # the bootstrap SD over B resamples has relative sampling error ~ 1/sqrt(2B) = 3.5%; allow 4 of those
    # plus the O(1/sqrt(n)) difference between bootstrap and delta method (~6%)
    tol = 4 / math.sqrt(2 * B) + 1 / math.sqrt(n)
    for est in (fe.exp(wf_b, bootstrap=B, rng=1), fe.bar(wf_b, wr_b, bootstrap=B, rng=1)):
        ratio = float(to_np(backend, est.stderr)) / float(to_np(backend, est.diagnostics["stderr_asymptotic"]))
        assert abs(ratio - 1) < tol, ratio
    again = fe.bar(wf_b, wr_b, bootstrap=B, rng=1)
    assert float(to_np(backend, again.stderr)) == float(to_np(backend, fe.bar(wf_b, wr_b, bootstrap=B, rng=1).stderr))
    # MBAR: each resample is a full solve (sequential), so fewer resamples and a correspondingly wider tolerance
    x = np.concatenate([rng.normal(0.0, 1.0, 200), rng.normal(0.0, 1 / math.sqrt(2.0), 200)])
    u = np.stack([0.5 * k * x**2 for k in (1.0, 2.0)])
    m = fe.mbar(backend.asarray(u), [200, 200], bootstrap=30, rng=2)
    ratio = float(to_np(backend, m.stderr)[1] / to_np(backend, m.diagnostics["stderr_asymptotic"])[1])
    assert abs(ratio - 1) < 4 / math.sqrt(2 * 30) + 1 / math.sqrt(200), ratio


# ---------------------------------------------------------------------------------------------- samples
def test_works_from_samples_duck_typed(backend):
    rng = np.random.default_rng(5)
    w = rng.normal(2.0, 1.0, 200)
    s1 = types.SimpleNamespace(log_weights=backend.asarray(-w), info={})
    s2 = types.SimpleNamespace(log_weights=None, info={"works": backend.asarray(w)})
    for smp in (s1, s2):
        np.testing.assert_allclose(to_np(backend, fe.works_from_samples(smp)), w)
    e = fe.from_samples(s1)
    np.testing.assert_allclose(to_np(backend, e.value), fe.exp(w).value, rtol=1e-12)
    b = fe.from_samples(s1, s2)
    np.testing.assert_allclose(to_np(backend, b.value), fe.bar(w, w).value, rtol=1e-12)
    with pytest.raises(TypeError):
        fe.works_from_samples(object())


# ---------------------------------------------------------------------------------------------- escorted
def _gaussian_transport(be, m0, C0, m1, C1, extra: float = 0.0):
    """Exact linear-interpolant field x_t = (1-t) x0 + t x1 between N(m0, C0) and N(m1, C1)
    (Albergo, Boffi & Vanden-Eijnden 2023, arXiv:2303.08797):
    b = m1 - m0 + A_t (x - mu_t), A_t = (-(1-t) C0 + t C1) Sigma_t^{-1}, Sigma_t = (1-t)^2 C0 + t^2 C1;
    ``extra`` adds the non-transporting field extra * sin(pi t) x (escorted Jarzynski stays unbiased)."""
    xp = be.xp

    def A(t):
        S = (1 - t) ** 2 * C0 + t**2 * C1
        return np.linalg.solve(S.T, (-(1 - t) * C0 + t * C1).T).T

    def velocity(t, x):
        mu = be.asarray((1 - t) * m0 + t * m1)
        At = be.asarray(A(t) + extra * math.sin(math.pi * t) * np.eye(len(m0)))
        return be.asarray(m1 - m0) + (x - mu) @ xp.matrix_transpose(At) + extra * math.sin(math.pi * t) * mu

    def divergence(t, x):
        return xp.zeros(x.shape[:1], dtype=x.dtype) + float(np.trace(A(t)) + extra * math.sin(math.pi * t) * len(m0))

    def energy(m, C):
        P = be.asarray(np.linalg.inv(C))
        mm = be.asarray(m)

        def U(x):
            y = x - mm
            return 0.5 * xp.sum((y @ P) * y, axis=-1)

        return U

    return velocity, divergence, energy(m0, C0), energy(m1, C1)


def test_escorted_jarzynski_exact_gaussian_transport(backend):
    rng = np.random.default_rng(21)
    d, n = 3, 2000
    m0, m1 = np.zeros(d), np.array([1.0, -2.0, 0.5])
    L0, L1 = rng.normal(0, 0.3, (d, d)), rng.normal(0, 0.3, (d, d))
    C0, C1 = np.eye(d) + L0 @ L0.T, 0.3 * np.eye(d) + L1 @ L1.T
    dF = -0.5 * (np.linalg.slogdet(C1)[1] - np.linalg.slogdet(C0)[1])  # -log(Z1/Z0)
    x0 = rng.multivariate_normal(m0, C0, n)
    x1 = rng.multivariate_normal(m1, C1, n)
    b, div, U0, U1 = _gaussian_transport(backend, m0, C0, m1, C1)
    est = fe.escorted_jarzynski(b, div, U0, U1, backend.asarray(x0), backend.asarray(x1), steps=40)
    w_esc = to_np(backend, est.diagnostics["w_forward"])
    w_plain = to_np(backend, U1(backend.asarray(x0)) - U0(backend.asarray(x0)))  # plain Jarzynski (FEP)
    ratio = np.var(w_plain) / np.var(w_esc)
    assert ratio > 10, ratio  # exact transport: the escorted works are constant up to the RK4 error
    np.testing.assert_allclose(float(to_np(backend, est.value)), dF, atol=1e-6)  # RK4 error, 40 steps
    lo, up = (
        float(to_np(backend, est.diagnostics["lower_bound"])),
        float(to_np(backend, est.diagnostics["upper_bound"])),
    )
    assert lo - 1e-6 <= dF <= up + 1e-6
    # a transport that is not exact: still unbiased (controlled Crooks + BAR), within 4 SE
    b2, div2, _, _ = _gaussian_transport(backend, m0, C0, m1, C1, extra=0.8)
    est2 = fe.escorted_jarzynski(b2, div2, U0, U1, backend.asarray(x0), backend.asarray(x1), steps=40)
    v, se = float(to_np(backend, est2.value)), float(to_np(backend, est2.stderr))
    assert se > 1e-3 and abs(v - dF) < 4 * se, (v, se, dF)
    plain = fe.exp(backend.asarray(w_plain), ess_warning=0)
    assert abs(float(to_np(backend, plain.value)) - dF) < 4 * float(to_np(backend, plain.stderr))


def test_demo_runs(capsys):
    fe.demo()
    assert "BAR" in capsys.readouterr().out
