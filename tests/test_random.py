"""transportkit.random.Generator: moments within 4 standard errors, reproducibility, independent streams."""

from __future__ import annotations

import math

import numpy as np
import pytest

import transportkit as tk
from transportkit.random import Generator, default_rng

N = 200_000  # standard errors below: mean 1/sqrt(N) ~ 2.2e-3, variance sqrt(2/N) ~ 3.2e-3


def test_normal_moments(backend):
    z = backend.to_numpy(Generator(0, backend).normal((N,)))
    assert z.dtype == np.float64 and z.shape == (N,)
    assert abs(z.mean()) < 4 / math.sqrt(N)
    assert abs(z.var() - 1.0) < 4 * math.sqrt(2.0 / N)
    y = backend.to_numpy(Generator(1, backend).normal((N,), loc=2.0, scale=3.0))
    assert abs(y.mean() - 2.0) < 4 * 3.0 / math.sqrt(N)


def test_uniform_moments_and_range(backend):
    u = backend.to_numpy(Generator(0, backend).uniform((N,)))
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 4 * math.sqrt(1 / 12 / N)
    v = backend.to_numpy(Generator(0, backend).uniform((N,), low=-2.0, high=2.0))
    assert v.min() >= -2.0 and v.max() < 2.0


def test_integers_frequencies(backend):
    k = backend.to_numpy(Generator(0, backend).integers(3, 8, (N,)))
    assert k.min() == 3 and k.max() == 7
    p = 1 / 5
    freq = np.bincount(k - 3, minlength=5) / N
    assert np.all(np.abs(freq - p) < 4 * math.sqrt(p * (1 - p) / N))
    with pytest.raises(ValueError, match="low < high"):
        Generator(0, backend).integers(3, 3, (2,))


@pytest.mark.parametrize("offset", [0.0, 1e4, -1e4])
def test_categorical_inverse_cdf(backend, offset):
    p = np.array([0.1, 0.0, 0.6, 0.3])
    log_p = np.log(p, where=p > 0, out=np.full(4, -np.inf)) + offset
    k = backend.to_numpy(Generator(0, backend).categorical(backend.asarray(log_p), (N,)))
    freq = np.bincount(k, minlength=4) / N
    assert freq[1] == 0.0
    assert np.all(np.abs(freq - p) <= 4 * np.sqrt(p * (1 - p) / N) + 1e-15)


def test_categorical_gumbel_rows(backend):
    log_p = np.log(np.array([[0.2, 0.8], [0.9, 0.1]]))
    rows = np.repeat(log_p[None], 50_000, axis=0).reshape(-1, 2)
    k = backend.to_numpy(Generator(0, backend).categorical(backend.asarray(rows))).reshape(-1, 2)
    freq1 = k.mean(axis=0)  # frequency of category 1 in each row type
    se = np.sqrt(np.array([0.16, 0.09]) / 50_000)
    assert np.all(np.abs(freq1 - np.array([0.8, 0.1])) < 4 * se)


def test_categorical_rejects_impossible_rows(backend):
    gen = Generator(0, backend)
    with pytest.raises(ValueError, match="all -inf"):
        gen.categorical(backend.asarray([-np.inf, -np.inf]), (3,))
    with pytest.raises(ValueError, match="NaN"):
        gen.categorical(backend.asarray([0.0, np.nan]), (3,))


def test_permutation(backend):
    gen = Generator(0, backend)
    p = backend.to_numpy(gen.permutation(1000))
    assert sorted(p.tolist()) == list(range(1000)) and not np.array_equal(p, np.arange(1000))
    x = backend.asarray(np.arange(12.0).reshape(6, 2))
    rows = backend.to_numpy(gen.permutation(x))
    assert sorted(rows[:, 0].tolist()) == list(range(0, 12, 2)) and np.all(rows[:, 1] == rows[:, 0] + 1)


def test_same_seed_same_numbers_different_seed_different(backend):
    a = backend.to_numpy(Generator(42, backend).normal((100,)))
    b = backend.to_numpy(Generator(42, backend).normal((100,)))
    c = backend.to_numpy(Generator(43, backend).normal((100,)))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    g = Generator(42, backend)
    first, second = backend.to_numpy(g.normal((100,))), backend.to_numpy(g.normal((100,)))
    assert not np.allclose(first, second)  # the stream advances (JAX keys are split internally)


def test_spawned_streams_are_independent(backend):
    children = Generator(7, backend).spawn(3)
    z = np.stack([backend.to_numpy(c.normal((N,))) for c in children])
    corr = np.corrcoef(z)
    off = corr[~np.eye(3, dtype=bool)]
    assert np.all(np.abs(off) < 4 / math.sqrt(N))
    again = backend.to_numpy(Generator(7, backend).spawn(3)[1].normal((N,)))
    np.testing.assert_array_equal(again, z[1])


def test_rng_on_host_gives_identical_noise_on_every_backend(backend):
    ref = np.random.Generator(np.random.PCG64(np.random.SeedSequence(5))).standard_normal((4, 3))
    got = backend.to_numpy(Generator(5, backend, rng_on_host=True).normal((4, 3)))
    np.testing.assert_array_equal(got, ref)
    be32 = tk.get_backend(backend.name, dtype="float32")
    got32 = be32.to_numpy(Generator(5, be32, rng_on_host=True).normal((4, 3)))
    np.testing.assert_array_equal(got32, ref.astype(np.float32))


def test_float32_draws(backend):
    be32 = tk.get_backend(backend.name, dtype="float32")
    z = Generator(0, be32).normal((10,))
    assert z.dtype == be32.xp.float32
    assert Generator(0, backend).uniform((3,), dtype="float32").dtype == backend.xp.float32


def test_bad_seed_and_shape():
    with pytest.raises(ValueError, match="seed"):
        Generator(-1)
    with pytest.raises(ValueError, match="non-negative"):
        Generator(0).normal((-1,))


def test_default_rng_passes_generators_through():
    g = Generator(0)
    assert default_rng(g) is g
    assert default_rng(3, "numpy").backend.name == "numpy"


def test_generator_state_continues_the_stream_inside_jit():
    """``from_state(state())`` inside a compiled program draws what the stream would draw next, and ``set_state``
    of the state it returns continues the stream after those draws."""
    jax = pytest.importorskip("jax")
    be = tk.get_backend("jax")
    eager, fused = tk.random.default_rng(5, be), tk.random.default_rng(5, be)
    want = (eager.normal((3,)), eager.uniform((2,)))

    def program(state):
        g = fused.from_state(state)
        return g.normal((3,)), g.uniform((2,)), g.state()

    z, u, state = jax.jit(program)(fused.state())
    fused.set_state(state)
    for a, b in zip((z, u), want, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(fused.normal((4,))), np.asarray(eager.normal((4,))))
    assert tk.random.default_rng(5, "numpy").state() is None  # not a functional stream
