"""MLP route: Adam via value_and_grad on torch/jax (CapabilityError elsewhere); autodiff divergence."""

from __future__ import annotations

import numpy as np
import pytest

import transportkit as tk
from transportkit._capabilities import algorithm_test
from transportkit.interpolants import train_velocity


@algorithm_test(train_velocity)
def test_training_lowers_the_loss_and_divergence_by_autodiff(backend):
    # Smoke-size training (the full SW2 criterion run is reported in the docs): the loss decreases, the model
    # samples, and its autodiff divergence matches finite differences of its velocity.
    T = tk.interpolants.eight_mode_mixture()
    model = train_velocity("linear", backend.asarray(T.sample(2000, rng=1)), hidden=(32, 32), steps=120, rng=0)
    hist = model.info["loss_history"]
    assert hist[-1] < hist[0]
    x = tk.sample(model, 50, steps=10, rng=1).to_numpy().x
    assert x.shape == (50, 2) and np.all(np.isfinite(x))
    xb = backend.asarray(np.random.default_rng(0).normal(size=(5, 2)))
    div = backend.to_numpy(model.divergence(0.3, xb))
    xn = backend.to_numpy(xb)
    h = 1e-6
    v = lambda y: backend.to_numpy(model.velocity(0.3, backend.asarray(y)))  # noqa: E731
    fd = sum((v(xn + h * e) - v(xn - h * e))[:, i] / (2 * h) for i, e in enumerate(np.eye(2)))
    np.testing.assert_allclose(div, fd, rtol=1e-5, atol=1e-6)


def test_capability_error_without_autodiff(backend):
    if backend.value_and_grad is not None:
        pytest.skip("backend has value_and_grad")
    with pytest.raises(tk.CapabilityError, match="value_and_grad"):
        train_velocity("linear", backend.asarray(np.zeros((10, 2))), steps=1)
