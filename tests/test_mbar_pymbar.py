"""tk.free_energy.MBAR against pymbar.MBAR (pymbar 4) on pymbar's own test systems, on every backend: free energies,
uncertainties (svd-ew, svd, approximate), expectations (averages, differences, state-dependent), perturbed free
energies, overlap, effective sample numbers and the histogram PMF (pymbar's FES) to 1e-10; pymbar's keywords; the
bootstrap with rng=; results that convert with float() and read like pymbar's dicts."""

from __future__ import annotations

import logging
import math
import warnings

import numpy as np
import pytest

import transportkit as tk
from transportkit import free_energy as fe
from transportkit._capabilities import algorithm_test

pymbar = pytest.importorskip("pymbar", reason="pymbar is not installed (make test installs it)")
from pymbar import testsystems  # noqa: E402

ATOL = 1e-10
N_K = [30, 60, 90, 0, 60]  # the fourth state unsampled


def to_np(be, x):
    return np.asarray(be.to_numpy(x))


def _system(name):
    ts = testsystems.HarmonicOscillatorsTestCase() if name == "harmonic" else testsystems.ExponentialTestCase()
    x_n, u_kn, N_k, _ = ts.sample(N_k=N_K, mode="u_kn", seed=1)
    u_ln = np.stack([1.1 * u_kn[0], u_kn[2] + 0.3 * x_n, u_kn[4]])
    edges = np.quantile(x_n, np.linspace(0.0, 1.0, 7))
    edges[0], edges[-1] = edges[0] - 1e-9, edges[-1] + 1e-9
    return x_n, u_kn, np.asarray(N_k), u_ln, edges


def _calls(x_n, u_kn, u_ln):
    """(label, call, keys): the same call on pymbar's object and ours."""
    return [
        ("fe", lambda o, a: o.compute_free_energy_differences(), ["Delta_f", "dDelta_f"]),
        ("fe-svd", lambda o, a: o.compute_free_energy_differences(uncertainty_method="svd"), ["dDelta_f"]),
        ("fe-approx", lambda o, a: o.compute_free_energy_differences(uncertainty_method="approximate"), ["dDelta_f"]),
        ("fe-theta", lambda o, a: o.compute_free_energy_differences(return_theta=True), ["Theta"]),
        ("exp-x", lambda o, a: o.compute_expectations(a(x_n)), ["mu", "sigma"]),
        ("exp-x2-diff", lambda o, a: o.compute_expectations(a(x_n**2), output="differences"), ["mu", "sigma"]),
        ("exp-new-states", lambda o, a: o.compute_expectations(a(x_n), a(u_ln)), ["mu", "sigma"]),
        ("exp-state-dep", lambda o, a: o.compute_expectations(a(u_kn), state_dependent=True), ["mu", "sigma"]),
        ("perturbed", lambda o, a: o.compute_perturbed_free_energies(a(u_ln)), ["Delta_f", "dDelta_f"]),
        ("overlap", lambda o, a: o.compute_overlap(), ["scalar", "eigenvalues", "matrix"]),
        ("ess", lambda o, a: {"ess": o.compute_effective_sample_number()}, ["ess"]),
        ("weights", lambda o, a: {"W_nk": o.W_nk}, ["W_nk"]),
    ]  # fmt: skip


@pytest.fixture(scope="module")
def reference():
    """pymbar's results on both systems (computed once)."""
    logging.disable(logging.WARNING)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in ("harmonic", "exponential"):
            x_n, u_kn, N_k, u_ln, edges = _system(name)
            m = pymbar.MBAR(u_kn, N_k, relative_tolerance=1e-12)
            res = {label: {k: np.real(np.asarray(call(m, lambda v: v)[k])) for k in keys}
                   for label, call, keys in _calls(x_n, u_kn, u_ln)}  # fmt: skip
            fes = pymbar.FES(u_kn, N_k, mbar_options={"relative_tolerance": 1e-12})
            fes.generate_fes(u_kn[0], x_n, fes_type="histogram", histogram_parameters={"bin_edges": [edges]})
            centers = 0.5 * (edges[1:] + edges[:-1])
            res["pmf"] = fes.get_fes(centers, reference_point="from-lowest", uncertainty_method="analytical")
            out[name] = res
    logging.disable(logging.NOTSET)
    return out


@algorithm_test(fe.MBAR)
@pytest.mark.parametrize("name", ["harmonic", "exponential"])
def test_mbar_object_matches_pymbar(backend, reference, name):
    x_n, u_kn, N_k, u_ln, edges = _system(name)
    m = fe.MBAR(backend.asarray(u_kn), N_k, ess_warning=0)
    worst = 0.0
    for label, call, keys in _calls(x_n, u_kn, u_ln):
        got = call(m, backend.asarray)
        for k in keys:
            ref, val = reference[name][label][k], to_np(backend, got[k])
            assert val.shape == ref.shape, (label, k)
            np.testing.assert_allclose(val, ref, rtol=0, atol=ATOL, err_msg=f"{label}[{k}]")
            worst = max(worst, float(np.max(np.abs(val - ref))))
    bin_n = np.digitize(x_n, edges) - 1
    pmf = m.compute_pmf(backend.asarray(u_kn[0]), backend.asarray(bin_n), 6)
    for k in ("f_i", "df_i"):
        np.testing.assert_allclose(to_np(backend, pmf[k]), reference[name]["pmf"][k], rtol=0, atol=ATOL)
    # the result arrays are the caller's
    assert tk.resolve_backend(m.f_k).name == backend.name
    assert worst < ATOL


def test_mbar_object_agrees_with_mbar_function():
    _, u_kn, N_k, _, _ = _system("harmonic")
    m = fe.MBAR(u_kn, N_k, ess_warning=0)
    est = fe.mbar(u_kn, N_k, ess_warning=0)
    d = m.compute_free_energy_differences()
    np.testing.assert_allclose(d["Delta_f"][0], est.value, atol=1e-12)
    np.testing.assert_allclose(d["dDelta_f"][0], est.stderr, atol=1e-12)
    # the estimate reads like pymbar's dict too
    np.testing.assert_allclose(est["Delta_f"], d["Delta_f"], atol=1e-12)
    np.testing.assert_allclose(est["dDelta_f"], d["dDelta_f"], atol=1e-12)
    assert float(m.compute_overlap()["scalar"]) == pytest.approx(float(est.diagnostics.overlap), abs=1e-12)


def test_pymbar_keywords_are_accepted_and_others_refused():
    _, u_kn, N_k, _, _ = _system("exponential")
    a = fe.MBAR(u_kn, N_k, relative_tolerance=1e-12, maximum_iterations=50, initial_f_k=np.zeros(5), verbose=False)
    b = fe.MBAR(u_kn, N_k, tol=1e-12, maxiter=50, f_k_init=np.zeros(5))
    np.testing.assert_array_equal(a.f_k, b.f_k)
    c = fe.mbar(u_kn, N_k, relative_tolerance=1e-12, maximum_iterations=50, initial_f_k=np.zeros(5))
    np.testing.assert_array_equal(c.value, b.f_k)
    with pytest.raises(ValueError, match="maximum_iterations"):
        fe.mbar(u_kn, N_k, maximum_iterations=0)
    e = fe.exp(u_kn[0], compute_uncertainty=False, ess_warning=0)
    assert math.isnan(float(e.stderr)) and float(e) == float(fe.exp(u_kn[0], ess_warning=0))
    r = a.compute_free_energy_differences(compute_uncertainty=False)
    assert set(r) == {"Delta_f"} and r.Delta_f.shape == (5, 5)
    with pytest.raises(TypeError, match=r"rseed.*rng="):
        fe.MBAR(u_kn, N_k, rseed=1)
    with pytest.raises(TypeError, match="solver_protocol"):
        fe.MBAR(u_kn, N_k, solver_protocol="robust")
    with pytest.raises(TypeError, match=r"unknown option 'relative_tolerence'.*did you mean 'relative_tolerance'"):
        fe.MBAR(u_kn, N_k, relative_tolerence=1e-8)
    with pytest.raises(TypeError, match="initial_f_k"):
        fe.MBAR(u_kn, N_k, f_k_init=np.zeros(5), initial_f_k=np.zeros(5))
    b_ = fe.bar(np.array([1.0, 2.0, 1.5]), np.array([-1.0, -1.2, -0.8]), relative_tolerance=1e-12,
                maximum_iterations=20, compute_uncertainty=False, ess_warning=0)  # fmt: skip
    assert math.isnan(float(b_.stderr)) and math.isfinite(float(b_))


def test_bad_arguments_of_the_methods():
    x_n, u_kn, N_k, _, _ = _system("harmonic")
    m = fe.MBAR(u_kn, N_k, ess_warning=0)
    with pytest.raises(ValueError, match=r"uncertainty_method.*did you mean 'svd'"):
        m.compute_free_energy_differences(uncertainty_method="svdd")
    with pytest.raises(ValueError, match="n_bootstraps"):
        m.compute_free_energy_differences(uncertainty_method="bootstrap")
    with pytest.raises(ValueError, match="A_n"):
        m.compute_expectations(x_n[:-1])
    with pytest.raises(TypeError, match="A_n"):
        m.compute_expectations(x_n + 0j)
    with pytest.raises(ValueError, match="state_dependent"):
        m.compute_expectations(x_n, state_dependent=True)
    with pytest.raises(ValueError, match="output"):
        m.compute_expectations(x_n, output="average")
    with pytest.raises(ValueError, match="u_ln"):
        m.compute_perturbed_free_energies(u_kn[:, :10])
    with pytest.raises(ValueError, match=r"u_ln.*NaN"):
        m.compute_perturbed_free_energies(np.full_like(u_kn, np.nan))
    with pytest.raises(TypeError, match="bin_n"):
        m.compute_pmf(u_kn[0], x_n, 4)
    with pytest.raises(ValueError, match="pmf_reference"):
        m.compute_pmf(u_kn[0], np.zeros(len(x_n), dtype=int), 2, uncertainties="from-specified")
    with pytest.raises(ValueError, match="u_kln"):
        fe.MBAR(np.zeros((5, 5, 48)), N_k)
    with pytest.raises(ValueError, match="f_k_init must hold one free energy per state"):
        fe.MBAR(u_kn, N_k, f_k_init=[0.0, 1.0])
    with pytest.raises(ValueError, match="n_bootstraps"):
        fe.MBAR(u_kn, N_k, n_bootstraps=1)
    assert repr(m) == "MBAR(K=5, N=240, N_k=[30, 60, 90, 0, 60], converged=True, n_bootstraps=0, backend='numpy')"


def test_pmf_options_and_empty_bins():
    x_n, u_kn, N_k, _, _ = _system("harmonic")
    m = fe.MBAR(u_kn, N_k, ess_warning=0)
    bin_n = np.digitize(x_n, np.quantile(x_n, [0.25, 0.5, 0.75]))  # 4 bins, 0..3
    low = m.compute_pmf(u_kn[0], bin_n)
    j = int(np.argmin(low["f_i"]))
    assert low["f_i"][j] == 0 and low["df_i"][j] == 0
    spec = m.compute_pmf(u_kn[0], bin_n, 4, uncertainties="from-specified", pmf_reference=2)
    np.testing.assert_allclose(spec["f_i"], low["f_i"] - low["f_i"][2], atol=1e-12)
    norm = m.compute_pmf(u_kn[0], bin_n, 4, uncertainties="from-normalization")
    np.testing.assert_allclose(np.exp(-norm["f_i"]).sum(), 1.0, atol=1e-12)
    assert np.all(np.isfinite(norm["df_i"])) and np.all(norm["df_i"] > 0)
    with pytest.warns(fe.FreeEnergyUncertaintyWarning, match=r"bins \[3, 4\]"):
        six = m.compute_pmf(u_kn[0], np.where(bin_n == 3, 5, bin_n), 6)
    assert np.all(six["f_i"][3:5] == math.inf) and np.all(np.isnan(six["df_i"][3:5]))
    np.testing.assert_allclose(six["f_i"][[0, 1, 2, 5]], low["f_i"], atol=1e-12)
    np.testing.assert_allclose(six["df_i"][[0, 1, 2, 5]], low["df_i"], atol=1e-12)


def test_bootstrap_uses_rng_and_agrees_with_the_asymptotic_uncertainty():
    x_n, u_kn, N_k, _ = testsystems.HarmonicOscillatorsTestCase().sample(N_k=[200, 200, 200, 0, 200], mode="u_kn",
                                                                       seed=0)  # fmt: skip
    u_ln = np.stack([1.1 * u_kn[0], u_kn[2] + 0.3 * x_n])
    B = 60
    m = fe.MBAR(u_kn, N_k, n_bootstraps=B, rng=np.random.default_rng(3), ess_warning=0)
    again = fe.MBAR(u_kn, N_k, n_bootstraps=B, rng=np.random.default_rng(3), ess_warning=0)
    boot = m.compute_free_energy_differences(uncertainty_method="bootstrap")["dDelta_f"]
    same = again.compute_free_energy_differences(uncertainty_method="bootstrap")["dDelta_f"]
    np.testing.assert_array_equal(boot, same)
    asym = m.compute_free_energy_differences()["dDelta_f"]
    # a bootstrap std from B resamples has relative standard error ~ 1/sqrt(2(B-1)) (Gaussian statistic): 4 of them,
    # for neighbouring sampled states with good overlap (across the unsampled state the estimate is skewed at this
    # N and the asymptotic formula is not yet exact)
    rel = 4 / math.sqrt(2 * (B - 1))
    for i, j in ((0, 1), (1, 2)):
        assert abs(boot[i, j] / asym[i, j] - 1) < rel, (i, j, boot[i, j], asym[i, j])
    e = m.compute_expectations(u_kn[0], uncertainty_method="bootstrap")
    p = m.compute_perturbed_free_energies(u_ln, uncertainty_method="bootstrap")
    assert e["sigma"].shape == (5,) and np.all(np.isfinite(e["sigma"])) and p["dDelta_f"].shape == (2, 2)
    with pytest.warns(DeprecationWarning, match="rng="):
        fe.MBAR(u_kn, N_k, n_bootstraps=2, seed=1, ess_warning=0)


def test_mbar_object_warns_on_poor_overlap():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0.0, 1.0, 100), rng.normal(30.0, 1.0, 100)])
    u = np.stack([0.5 * x**2, 0.5 * (x - 30.0) ** 2])
    with pytest.warns(tk.errors.OverlapWarning, match="barely overlap"):
        fe.MBAR(u, [100, 100])
