"""Every built-in schedule carries its base to the target (issue #16, "Done when" 1).

A correlated 2-D Gaussian target N(m, C) is sampled with the exact field of each built-in schedule, with the
probability-flow ODE and with the forward SDE, on every backend; the sample mean and covariance must agree with the
exact law at t = 1 (``field.marginal(1)``: N(m, C) except for ``"ve"``, whose t = 1 law is N(m, C + sigma_min^2 I))
within 4 standard errors.

Sample size from the error formula: for Gaussian samples SE(mean_i) = sqrt(C_ii / n) and
SE(C_ij) = sqrt((C_ii C_jj + C_ij^2) / n). With n = 1500 the 4-SE band on a variance is 4 sqrt(2/n) = 15% of it, so a
schedule that mis-scales the covariance by more than 15% fails (the former ``"ve"`` bug, covariance ~ 0, fails by
~27 SE); the discretization bias (RK4, 100 steps: < 1e-6; Euler-Maruyama/Heun with 200 steps: ~ lambda dt / 2 ~ 3% of
the smallest variance) stays below that band.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import transportkit as tk

M = np.array([1.0, -0.5])
C = np.array([[1.0, 0.6], [0.6, 0.5]])
N = 1500
SCHEDULES = [("linear", 0), ("trig", 0), ("vp", 0), ("cosine", 0), ("ddpm", 0), ("ve", 0), ("linear", "sqrt")]


def _check_law(x: np.ndarray, mean: np.ndarray, cov: np.ndarray, k: float = 4.0) -> None:
    n = x.shape[0]
    se_m = np.sqrt(np.diag(cov) / n)
    z_m = (x.mean(0) - mean) / se_m
    se_c = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    z_c = (np.cov(x.T) - cov) / se_c
    assert np.all(np.abs(z_m) < k), f"mean off by {z_m} SE"
    assert np.all(np.abs(z_c) < k), f"covariance off by {z_c} SE"


@pytest.mark.parametrize("method", ["ode", "sde"])
@pytest.mark.parametrize(("name", "gamma"), SCHEDULES, ids=[f"{a}-{b}" for a, b in SCHEDULES])
def test_schedule_samples_correlated_gaussian(backend, name, gamma, method):
    f = tk.interpolants.exact_field(tk.Interpolant(name, gamma=gamma), tk.targets.Gaussian(M, C))
    law = f.marginal(1.0)
    mean, cov = np.asarray(law.means[0]), np.asarray(law.covs[0])
    kw = dict(steps=100, solver="rk4") if method == "ode" else dict(steps=200, diffusion=1.0)
    s = tk.sample(f, N, method=method, backend=backend, seed=11, **kw)
    x = s.to_numpy().x
    assert x.shape == (N, 2) and np.all(np.isfinite(x))
    _check_law(x, mean, cov)


def test_ve_start_law_is_the_t0_marginal():
    """The t = 0 law of "ve" is sigma_max z + x_1 (covariance sigma_max^2 I + C, mean m), not N(0, I)."""
    f = tk.interpolants.exact_field(tk.Interpolant("ve"), tk.targets.Gaussian(M, C))
    s = tk.sample(f, N, steps=1, solver="euler", seed=3, return_path=True)
    x0 = np.asarray(s.info["path"][0])
    _check_law(x0, M, 50.0**2 * np.eye(2) + C)


def test_ve_bug_would_be_caught():
    """The check has power: samples with the former bug's law (covariance C / sigma_max^2) fail it."""
    rng = np.random.default_rng(0)
    bad = M + rng.multivariate_normal(np.zeros(2), C / 2500.0, size=N)
    with pytest.raises(AssertionError, match="covariance"):
        _check_law(bad, M, C)


def test_sample_size_follows_from_error_formula():
    # 4 SE of a variance relative to it: 4 sqrt(2 / n) <= 0.15 at the n used
    assert 4 * math.sqrt(2 / N) <= 0.15
