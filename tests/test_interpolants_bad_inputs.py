"""Bad and extreme inputs at the public entries of tk.interpolants (issue #24): each is a clear error naming the
argument, NumPy scalars are accepted where Python ones are, and seed= is a deprecated alias of rng=."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import transportkit as tk
from transportkit.interpolants import (
    TensorFeatures,
    fit_velocity,
    log_likelihood,
    log_likelihood_hutchinson,
    sliced_w2,
)


@pytest.mark.parametrize(
    ("call", "exc", "msg"),
    [
        (lambda: tk.Interpolant("lineer"), ValueError, "did you mean 'linear'"),
        (lambda: tk.Interpolant("linear", gamma="sqrt", a=-1.0), ValueError, "amplitude"),
        (lambda: tk.Interpolant("ve", sigma_min=1.0, sigma_max=float("nan")), ValueError, "sigma_min < sigma_max"),
        (lambda: tk.interpolants.exact_field("linear", object()), TypeError, "Gaussian or GaussianMixture"),
        (lambda: fit_velocity("linear", np.ones((5, 2), dtype=complex)), TypeError, "x1 must be a real"),
        (lambda: fit_velocity("linear", np.full((5, 2), np.nan)), ValueError, "x1 contains NaN"),
        (lambda: fit_velocity("linear", np.zeros((5, 2)), ridge=float("nan")), ValueError, "ridge"),
        (lambda: fit_velocity("linear", np.zeros((5, 2)), repeats=2.5), TypeError, "repeats must be an integer"),
        (lambda: fit_velocity("linear", np.zeros((5, 2)), chunk_size=True), TypeError, "chunk_size"),
        (lambda: fit_velocity(3, np.zeros((5, 2))), TypeError, "interpolant must be"),
        (lambda: sliced_w2(np.zeros((4, 2)), np.zeros((5, 2))), ValueError, "same shape"),
        (lambda: sliced_w2(np.zeros((4, 2)), np.zeros((4, 2)), n_projections=0), ValueError, "n_projections"),
        (lambda: tk.interpolants.eight_mode_mixture(radius=-1.0), ValueError, "radius"),
        (lambda: tk.interpolants.dilated_schedule("vp", 0, 1.0), ValueError, "d must be"),
        (lambda: tk.interpolants.optimal_diffusion("linear", cap=0.0), ValueError, "cap"),
        (lambda: tk.interpolants.geodesic_schedule(tk.targets.SymmetricMixture(10, 0.5, 0.0)), ValueError,
         "m != 0"),
        (lambda: tk.targets.GaussianRandomField(1), ValueError, "n must be"),
        (lambda: tk.interpolants.energy_spectrum(np.zeros((0, 4, 4))), ValueError, "empty"),
    ],
)
def test_clear_errors(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


def test_numpy_scalars_are_accepted():
    tk.Interpolant("ddpm", beta_min=0.1, beta_max=20.0)
    tk.interpolants.dilated_schedule("ve", np.int64(100), np.float64(3.0))
    tk.interpolants.optimal_gaussian_schedule(np.float32(0.01))
    feats = TensorFeatures(np.int64(2), n_fourier=4, rng=np.int64(3))
    x1 = np.random.default_rng(0).normal(size=(50, 2))
    fit_velocity("linear", x1, features=feats, repeats=np.int64(1), ridge=np.float64(1e-6), rng=0)
    assert sliced_w2(x1, x1, n_projections=np.int64(8), rng=0) == 0.0


def test_seed_is_a_deprecated_alias_of_rng():
    x1 = np.random.default_rng(0).normal(size=(50, 2))
    feats = TensorFeatures(2, n_fourier=4, rng=0)
    with pytest.warns(DeprecationWarning, match="rng="):
        a = fit_velocity("linear", x1, features=feats, seed=5)
    b = fit_velocity("linear", x1, features=feats, rng=5)
    np.testing.assert_array_equal(np.asarray(a.theta), np.asarray(b.theta))
    with pytest.raises(TypeError, match="rng= only"):
        fit_velocity("linear", x1, features=feats, seed=5, rng=5)
    with pytest.warns(DeprecationWarning):
        TensorFeatures(2, n_fourier=4, seed=1)
    with pytest.warns(DeprecationWarning):
        sliced_w2(x1, x1, seed=1)
    f = tk.interpolants.exact_field("linear", tk.targets.Gaussian(np.zeros(2), np.eye(2)))
    with pytest.warns(DeprecationWarning):
        log_likelihood_hutchinson(f, x1[:3], steps=4, probes=2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log_likelihood_hutchinson(f, x1[:3], steps=4, probes=2, rng=np.random.default_rng(0))
    with pytest.warns(DeprecationWarning, match="log_likelihood_hutchinson"):  # the old spelling, same Estimate
        old = log_likelihood(f, x1[:3], steps=4, divergence="hutchinson", probes=2, rng=0)
    new = log_likelihood_hutchinson(f, x1[:3], steps=4, probes=2, rng=0)
    np.testing.assert_array_equal(np.asarray(old.value), np.asarray(new.value))


def test_rng_accepts_spec7_values():
    x1 = np.random.default_rng(0).normal(size=(40, 2))
    feats = TensorFeatures(2, n_fourier=4, rng=0)
    a = fit_velocity("linear", x1, features=feats, rng=np.random.default_rng(7))
    b = fit_velocity("linear", x1, features=feats, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(np.asarray(a.theta), np.asarray(b.theta))
    fit_velocity("linear", x1, features=feats, rng=None)
    fit_velocity("linear", x1, features=feats, rng=tk.random.Generator(1))
    with pytest.raises((TypeError, ValueError), match="rng"):
        fit_velocity("linear", x1, features=feats, rng="0")
