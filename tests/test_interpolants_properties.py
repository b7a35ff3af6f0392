"""Property-based checks (hypothesis) of the interpolant entries (issue #24): random shapes and values give either a
documented exception or a finite, shape-correct result, never NaN."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import transportkit as tk

ONE_SIDED = ["linear", "trig", "vp", "cosine", "ddpm", "ve"]
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(ONE_SIDED),
    d=st.integers(1, 4),
    n=st.integers(1, 5),
    t=st.floats(0.0, 1.0),
    data=st.data(),
)
def test_exact_fields_finite_and_shaped(name, d, n, t, data):
    x = np.array(data.draw(st.lists(finite, min_size=n * d, max_size=n * d))).reshape(n, d)
    T = tk.targets.Gaussian(np.linspace(-1, 1, d), np.diag(np.linspace(0.5, 2.0, d)))
    for f in (tk.interpolants.exact_field(name, T),
              tk.interpolants.exact_field(name, tk.targets.SymmetricMixture(d, 0.3, 1.0, 0.5))):
        for out in (f.velocity(t, x), f.score(t, x)):
            assert out.shape == (n, d) and np.all(np.isfinite(out)), (name, t)
        assert f.log_density(t, x).shape == (n,)


@settings(max_examples=25, deadline=None)
@given(src=st.sampled_from(ONE_SIDED), dst=st.sampled_from(["linear", "trig", "ve"]), t=st.floats(0.0, 0.99),
       n=st.integers(1, 4))
def test_transfer_finite(src, dst, t, n):
    T = tk.targets.Gaussian(np.array([1.0, -1.0]), np.array([[0.5, 0.1], [0.1, 0.3]]))
    f = tk.interpolants.transfer(tk.interpolants.exact_field(src, T), dst)
    x = np.linspace(-3, 3, 2 * n).reshape(n, 2)
    v = f.velocity(t, x)
    assert v.shape == (n, 2) and np.all(np.isfinite(v))


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 3), n=st.sampled_from([2, 4, 8]), scale=st.floats(1e-3, 1e3))
def test_energy_spectrum_shapes(k, n, scale):
    x = scale * np.random.default_rng(0).normal(size=(k, n, n))
    ks, e = tk.interpolants.energy_spectrum(x)
    assert ks.shape == (n // 2,) and e.shape == (n // 2,) and np.all(np.isfinite(e)) and np.all(e >= 0)
