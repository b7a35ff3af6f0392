"""Three-layer network with a fixed random first layer (Chen, Vanden-Eijnden & Bruna, arXiv:2210.16286)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import transportkit.meanfield as mf


def test_three_layer_features_and_training(backend):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(24, 2))
    y = np.sin(3 * X[:, 0]) + X[:, 1] ** 2
    prob = mf.three_layer(backend.asarray(X), backend.asarray(y), features=32, rng=1)
    Z, b = np.asarray(backend.to_numpy(prob.Z)), np.asarray(backend.to_numpy(prob.b))
    psi = np.maximum(X @ Z.T + b, 0.0) / math.sqrt(32)
    np.testing.assert_allclose(np.asarray(backend.to_numpy(prob.X)), psi, atol=1e-12)
    np.testing.assert_allclose(np.asarray(backend.to_numpy(prob.first_layer(backend.asarray(X[:3])))), psi[:3],
                               atol=1e-12)
    assert prob.p == 32 and prob.d_input == 2
    tr = mf.gradient_flow(prob, 64, dt=0.5, steps=400, rng=2, record_every=100)
    loss = np.asarray(backend.to_numpy(tr.loss))
    assert np.all(np.diff(loss) < 0) and loss[-1] < 0.2 * loss[0], loss


def test_three_layer_checks():
    X = np.zeros((5, 2))
    with pytest.raises(ValueError, match="y must have"):
        mf.three_layer(X, np.zeros(4))
    with pytest.raises(ValueError, match="features"):
        mf.three_layer(X, np.zeros(5), features=0)
    with pytest.raises(ValueError, match="X"):
        mf.three_layer(np.full((5, 2), np.nan), np.zeros(5))
