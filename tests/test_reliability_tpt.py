"""Transition path theory at home in SciPy's types and never silently wrong (issues #15, #21, #24): sparse types in
and out, ``kind`` inferred, float32, checked ``pi``/``reversible``, refused bad inputs, reactive trajectories by
Doob's h-transform (statistics against Z_AB / F), deeptime's names and the docs' deeptime snippets, and a
hypothesis property test of the public entries."""

from __future__ import annotations

import itertools
import math
import os
import pathlib
import re
import subprocess
import sys
import warnings

import numpy
import pytest

import transportkit as tk
from transportkit.errors import ConvergenceWarning
from transportkit.tpt import birth_death, mueller_brown, random_network, reactive_flux

sp = pytest.importorskip("scipy.sparse")


def H(be, x):
    return numpy.asarray(be.to_numpy(x)) if hasattr(x, "shape") else x


# ------------------------------------------------------------------------------------------- SciPy's types
def test_examples_return_csr_array():
    """On numpy the example generators are scipy.sparse.csr_array matrices with their diagonal (rows sum to 0, a
    transition matrix's to 1); format="coo" keeps the old tuple."""
    Q, _xy, _A, _B = mueller_brown(n=12)
    assert isinstance(Q, sp.csr_array) and Q.shape == (144, 144)
    numpy.testing.assert_allclose(Q.sum(axis=1), 0, atol=1e-9 * abs(Q).max())
    P = random_network(9, kind="transition", rng=0)
    assert isinstance(P, sp.csr_array)
    numpy.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-14)
    L = birth_death([1.0, 2.0], [3.0, 4.0])
    numpy.testing.assert_allclose(L.toarray(), [[-1, 1, 0], [3, -5, 2], [0, 4, -4]])
    r, c, _v, n = birth_death([1.0, 2.0], [3.0, 4.0], format="coo")
    assert n == 3 and list(r) == [0, 1, 1, 2] and list(c) == [1, 0, 2, 1]
    D = mueller_brown(n=5, format="dense")[0]
    numpy.testing.assert_allclose(D, mueller_brown(n=5)[0].toarray())


def test_output_type_follows_input_type():
    """csr_matrix in -> csr_matrix out, csr_array -> csr_array, coo_array -> coo_array, COO tuple -> COO tuple."""
    Q, _xy, A, B = mueller_brown(n=10)
    ref = reactive_flux(Q, A, B)
    dense_f = ref.flux.toarray()
    for M, typ in ((Q, sp.csr_array), (sp.csr_matrix(Q), sp.csr_matrix), (sp.coo_array(Q), sp.coo_array),
                   (sp.csc_matrix(Q), sp.csc_matrix)):
        rf = reactive_flux(M, A, B)
        assert type(rf.flux) is typ and type(rf.net_flux) is typ and type(rf.gross_flux) is typ
        numpy.testing.assert_allclose(rf.flux.toarray(), dense_f, rtol=1e-12, atol=0)
    rt = reactive_flux(mueller_brown(n=10, format="coo")[0], A, B)
    assert isinstance(rt.flux, tuple) and len(rt.flux) == 4
    assert rt.rate == pytest.approx(ref.rate, rel=1e-12)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta:UserWarning")
@pytest.mark.parametrize("layout", ["coo", "csr"])
def test_torch_sparse_in_and_out(layout):
    """torch sparse COO/CSR tensors are accepted (they failed with 'aten::as_strided') and the fluxes come back in
    the same layout."""
    torch = pytest.importorskip("torch")
    Q, _xy, A, B = mueller_brown(n=10)
    ref = reactive_flux(Q, A, B)
    c = Q.tocoo()
    T = torch.sparse_coo_tensor(numpy.stack([c.row, c.col]), c.data, c.shape, check_invariants=True)
    T = T.to_sparse_csr() if layout == "csr" else T
    rf = reactive_flux(T, torch.as_tensor(A), torch.as_tensor(B))
    assert rf.flux.layout == T.layout and isinstance(rf.q_plus, torch.Tensor)
    numpy.testing.assert_allclose(rf.flux.to_dense().numpy(), ref.flux.toarray(), rtol=1e-12, atol=0)
    assert rf.rate == pytest.approx(ref.rate, rel=1e-12)


def test_jax_bcoo_in_and_out():
    jax = pytest.importorskip("jax")
    from jax.experimental import sparse as jsparse

    Q, _xy, A, B = mueller_brown(n=8)
    ref = reactive_flux(Q, A, B)
    c = Q.tocoo()
    M = jsparse.BCOO((jax.numpy.asarray(c.data), jax.numpy.asarray(numpy.stack([c.row, c.col], axis=1))),
                     shape=c.shape)
    rf = reactive_flux(M, A, B, backend="jax")
    assert isinstance(rf.flux, jsparse.BCOO)
    got = sp.coo_array((numpy.asarray(rf.flux.data), numpy.asarray(rf.flux.indices).T), shape=c.shape).toarray()
    numpy.testing.assert_allclose(got, ref.flux.toarray(), rtol=1e-12, atol=0)


def test_kind_inferred():
    """Rows summing to 1 -> transition matrix, to 0 -> generator; neither -> an error that names kind=."""
    P = random_network(15, kind="transition", reversible=False, rng=3)
    rf = reactive_flux(P, [0], [7])
    assert rf.kind == "transition"
    assert rf.rate == pytest.approx(reactive_flux(P, [0], [7], kind="transition").rate, rel=1e-14)
    L = random_network(15, reversible=False, rng=3)
    assert reactive_flux(L, [0], [7]).kind == "generator"
    with pytest.raises(ValueError, match="it is a transition matrix, pass kind='transition'"):
        reactive_flux(P, [0], [7], kind="generator")
    bad = P.toarray()
    bad[2, 2] += 0.3
    with pytest.raises(ValueError, match="pass kind='generator' or kind='transition'"):
        reactive_flux(bad, [0], [7])
    # without a diagonal to read (COO tuple of off-diagonal entries) kind=None means "generator"
    assert reactive_flux(random_network(15, kind="transition", rng=3, format="coo"), [0], [7]).kind == "generator"


# ------------------------------------------------------------------------------------------- float32
@pytest.mark.parametrize("name", ["numpy", "torch", "jax"])
def test_float32_mueller_brown(name):
    """The example in float32 (pi spans 1e-12 .. 1e-154 on the grid, below float32's range; 10^4 states on numpy,
    1600 elsewhere): computed in float64, returned in float32, also with reversible=False (a solve for pi). The
    rate agrees with float64 to the rounding of the float32 rates: pi_j / pi_i is a product of rate ratios along
    ~2n grid edges, each rounded to 2^-24 relative, so |dk / k| <= 4 n 2^-24 (2.4e-5 at n = 100; measured
    8.7e-8)."""
    if name != "numpy":
        pytest.importorskip(name)
    n = 100 if name == "numpy" else 40
    be = tk.get_backend(name, dtype="float32")
    Q, _xy, A, B = mueller_brown(n=n, beta=0.1, backend=be)
    ref = reactive_flux(*_mb(n))
    for rev in (None, False):
        rf = reactive_flux(Q, A, B, reversible=rev)
        assert rf.pi.dtype == be.dtype and rf.q_plus.dtype == be.dtype
        assert rf.rate == pytest.approx(ref.rate, rel=4 * n * 2.0**-24)
        assert numpy.all(numpy.isfinite(H(be, rf.q_minus)))


def test_jax_default_float32_mode():
    """In a fresh process with JAX's default (no 64-bit mode) the example runs on the jax backend."""
    pytest.importorskip("jax")
    code = ("import transportkit as tk\n"
            "Q, xy, A, B = tk.tpt.mueller_brown(n=60, beta=0.1, backend='jax')\n"
            "rf = tk.tpt.reactive_flux(Q, A, B)\n"
            "print(rf.pi.dtype, rf.rate)\n")
    env = {**os.environ, "JAX_ENABLE_X64": "0"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    dtype, rate = out.stdout.split()
    assert dtype == "float32"
    assert float(rate) == pytest.approx(reactive_flux(*_mb(60)).rate, rel=4 * 60 * 2.0**-24)


def _mb(n, beta=0.1, **kw):
    Q, _xy, A, B = mueller_brown(n=n, beta=beta, **kw)
    return Q, A, B


def test_large_beta_rates_in_log_space():
    """Rates exp(log(D/h^2) - beta dV/2) in log space: no overflow warning at large beta in float64 (RuntimeWarnings
    are errors in this suite), and a clear error when a rate is outside the dtype's range."""
    Q, A, B = _mb(60, beta=1.0)
    assert numpy.all(numpy.isfinite(Q.data))
    rf = reactive_flux(Q, A, B)
    assert rf.rate > 0 and math.isfinite(rf.rate)
    with pytest.raises(ValueError, match=r"rates span .* outside the range of float64.*lower beta"):
        mueller_brown(n=30, beta=5.0)
    with pytest.raises(ValueError, match="outside the range of float32"):
        mueller_brown(n=50, beta=1.0, backend=tk.get_backend("numpy", dtype="float32"))


# ------------------------------------------------------------------------------------------- #24: bad inputs
def test_wrong_pi_refused():
    """reactive_flux(Q, pi=wrong) gave rate 0.105 vs 0.0587: pi is now checked against pi^T L = 0 (O(nnz))."""
    Q = random_network(20, reversible=False, rng=4)
    pi = tk.tpt.stationary_distribution(Q)
    assert reactive_flux(Q, [0], [9], pi=pi).rate == pytest.approx(reactive_flux(Q, [0], [9]).rate, rel=1e-10)
    wrong = numpy.full(20, 1 / 20)
    with pytest.raises(ValueError, match=r"pi is not stationary .* fails at states"):
        reactive_flux(Q, [0], [9], pi=wrong)
    with pytest.raises(ValueError, match="pi is not stationary"):
        reactive_flux(Q, [0], [9], pi=pi * (1 + 1e-6 * numpy.arange(20)))


def test_reversible_true_checked():
    Q = random_network(20, reversible=False, rng=4)
    with pytest.raises(ValueError, match="reversible=True, but"):
        reactive_flux(Q, [0], [9], reversible=True)
    with pytest.raises(ValueError, match="reversible=True, but detailed balance"):
        reactive_flux(Q, [0], [9], reversible=True, pi=tk.tpt.stationary_distribution(Q))
    R = random_network(20, reversible=True, rng=4)
    assert reactive_flux(R, [0], [9], reversible=True).reversible


def test_bad_entries_refused():
    r, c, v, n = random_network(6, rng=1, format="coo")
    with pytest.raises(TypeError, match=r"rows of the COO tuple .* must be integer state indices"):
        reactive_flux((r + 0.5, c, v, n), [0], [3])
    with pytest.raises(TypeError, match="cols of the COO tuple"):
        reactive_flux((r, c.astype(float), v, n), [0], [3])
    with pytest.raises(TypeError, match="complex"):
        reactive_flux(tk.tpt.to_dense((r, c, v, n)).astype(complex), [0], [3])
    with pytest.raises(TypeError, match="complex"):
        reactive_flux((r, c, v.astype(complex), n), [0], [3])
    with pytest.raises(TypeError, match="complex"):
        reactive_flux(sp.csr_array(tk.tpt.to_dense((r, c, v, n)).astype(complex)), [0], [3])
    with pytest.raises(TypeError, match="M must hold real numbers"):
        reactive_flux(numpy.eye(6, dtype=bool), [0], [3])
    with pytest.raises(TypeError, match="size n of the COO tuple"):
        reactive_flux((r, c, v, 6.0), [0], [3])
    with pytest.raises(TypeError, match="reversible must be True or False"):
        reactive_flux((r, c, v, n), [0], [3], reversible="yes")
    with pytest.raises(ValueError, match=r"kind must be one of .*did you mean 'transition'"):
        reactive_flux((r, c, v, n), [0], [3], kind="transitions")
    with pytest.raises(TypeError, match="dask"):
        reactive_flux(type("FakeDask", (), {"__module__": "dask.array.core"})(), [0], [3])
    # NumPy integer scalars are counts like Python ones
    assert mueller_brown(n=numpy.int64(5))[0].shape == (25, 25)


@pytest.mark.parametrize("kw, match", [
    ({"beta": -1}, "beta must be >= 0"), ({"beta": float("nan")}, "beta must be a finite"),
    ({"D": 0.0}, "D must be > 0"), ({"radius": -0.1}, "radius must be > 0"), ({"n": 2}, "n must be an integer >= 3"),
    ({"n": 5.0}, "n must be an integer"), ({"xlim": (1.0, -1.0)}, "xlim must be increasing"),
    ({"format": "csr"}, "format must be one of"),
])
def test_mueller_brown_arguments(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        mueller_brown(**kw)


def test_example_arguments():
    with pytest.raises(ValueError, match="lam and mu must have the same length"):
        birth_death([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="must be positive"):
        birth_death([1.0, -2.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="lam contains NaN"):
        birth_death([1.0, float("nan")], [1.0, 1.0])
    with pytest.raises(TypeError, match="n must be an integer"):
        random_network(2.5)
    with pytest.raises(ValueError, match="degree must be >= 0"):
        random_network(5, degree=-1)


def test_isocommittor_level_in_open_interval():
    rf = reactive_flux(*_mb(12))
    for level in (2.0, 0.0, 1.0, float("nan")):
        with pytest.raises(ValueError, match="level must be"):
            tk.tpt.isocommittor_cut(rf, level)
    _edges, flux = tk.tpt.isocommittor_cut(rf, numpy.float64(0.3))
    assert flux == pytest.approx(rf.total_flux, rel=1e-8)


def test_truncated_paths_reported():
    """sample_reactive(3, max_steps=1) returned 'paths' that never reach B: now flagged, NaN duration, and warned."""
    rf = reactive_flux(birth_death(numpy.ones(8), numpy.ones(8)), [0], [8])
    with pytest.warns(ConvergenceWarning, match=r"3 of 3 paths did not reach B within max_steps=1"):
        paths = tk.tpt.sample_reactive(rf, 3, max_steps=1, rng=0)
    assert numpy.all(paths.truncated) and numpy.all(numpy.isnan(paths.durations))
    assert all(p.truncated and p.states[-1] != 8 for p in paths)
    with pytest.warns(ConvergenceWarning):
        tk.tpt.sample_reactive(rf, 3, method="net_flux", max_steps=1, rng=0)
    with pytest.raises(ValueError, match="method must be one of"):
        tk.tpt.sample_reactive(rf, 3, method="dob")
    with pytest.raises(TypeError, match="n_paths must be an integer"):
        tk.tpt.sample_reactive(rf, 3.0)


def test_rng_convention():
    """rng= per SPEC 7 (int, numpy Generator, transportkit Generator); seed= is a deprecated alias."""
    rf = reactive_flux(birth_death(numpy.ones(5), numpy.full(5, 1.5)), [0], [5])
    a = tk.tpt.sample_reactive(rf, 20, rng=7)
    b = tk.tpt.sample_reactive(rf, 20, rng=numpy.random.default_rng(7))
    c = tk.tpt.sample_reactive(rf, 20, rng=7)
    assert a.states == c.states and a.times == c.times and len(b) == 20
    with pytest.warns(DeprecationWarning, match="seed= is deprecated"):
        d = tk.tpt.sample_reactive(rf, 20, seed=7)
    assert d.states == a.states
    g = tk.random.Generator(3, "torch") if "torch" in tk.backends.available() else tk.random.Generator(3)
    assert len(tk.tpt.sample_reactive(rf, 5, rng=g)) == 5
    assert len(random_network(6, rng=g, format="coo")[0]) > 0
    with pytest.warns(DeprecationWarning):
        random_network(6, seed=1)


# ------------------------------------------------------------------------------------------- #21: reactive paths
def _bd_case():
    rng = numpy.random.default_rng(1)
    N = 10
    return N, rng.uniform(0.5, 2.0, N), rng.uniform(0.5, 2.0, N)


def _check_reactive(paths, A, B):
    """Every path starts in A, ends in B, never visits A after leaving it and never touches B before its end;
    entry times do not decrease."""
    A, B = set(A), set(B)
    for s, t in zip(paths.states, paths.times, strict=True):
        assert s[0] in A and s[-1] in B
        assert not any(x in A for x in s[1:]) and not any(x in B for x in s[:-1])
        assert all(b >= a for a, b in itertools.pairwise(t))


def test_doob_paths_birth_death_generator(backend):
    """Continuous time: the mean duration of the sampled reactive paths equals t_AB = Z_AB / F within 4 standard
    errors (SE = sample std / sqrt(n)); no path revisits A. 4000 paths: SE ~ 1.5 % of t_AB."""
    N, lam, mu = _bd_case()
    rf = reactive_flux(birth_death(lam, mu, format="coo", backend=backend), [0], [N])
    paths = rf.sample_reactive(4000, rng=0)
    d = H(backend, paths.durations)
    assert tk.backends.owner_of(paths.durations).name == backend.name
    assert not numpy.any(H(backend, paths.truncated))
    _check_reactive(paths, [0], [N])
    assert all(t[0] == 0.0 and t[1] == 0.0 for t in paths.times)
    se = d.std(ddof=1) / math.sqrt(d.size)
    assert abs(d.mean() - rf.transition_time) <= 4 * se, (d.mean(), rf.transition_time, se)
    # Z_AB / F from the closed form of the chain (independent of the solver)
    w = numpy.concatenate([[1.0], numpy.cumprod(lam / mu)])
    pi = w / w.sum()
    dd = numpy.concatenate([[1.0], numpy.cumprod(mu[: N - 1] / lam[1:])])
    q = numpy.concatenate([[0.0], numpy.cumsum(dd)]) / dd.sum()
    Z, F = numpy.sum(pi * q * (1 - q)), pi[0] * lam[0] * q[1]
    assert rf.transition_time == pytest.approx(Z / F, rel=1e-10)


def test_doob_paths_transition_matrix():
    """Discrete time (uniformized chain, self-loops): durations in steps outside A u B, mean Z_AB / F per step
    within 4 SE; times are step indices."""
    N, lam, mu = _bd_case()
    L = tk.tpt.to_dense(birth_death(lam, mu, format="coo"))
    P = numpy.eye(N + 1) + L / (1.1 * numpy.max(-numpy.diag(L)))
    rf = reactive_flux(sp.csr_array(P), [0], [N])
    assert rf.kind == "transition"
    paths = rf.sample_reactive(3000, rng=1)
    _check_reactive(paths, [0], [N])
    assert all(t[0] == 0 and t[1] == 1 and all(float(x).is_integer() for x in t) for t in paths.times)
    d = paths.durations
    se = d.std(ddof=1) / math.sqrt(d.size)
    assert abs(d.mean() - rf.transition_time) <= 4 * se


def test_doob_paths_edge_crossings_mueller_brown():
    """On a 20 x 20 Müller–Brown grid the net number of crossings per path of each edge of the isocommittor cut
    q+ = 1/2 matches (f_ij - f_ji) / F within 4 SE for every edge carrying >= 2 % of F, and the total through the
    cut is exactly one per path (the flux F per reactive trajectory). 2000 paths."""
    Q, A, B = _mb(20, radius=0.15)
    rf = reactive_flux(Q, A, B)
    paths = rf.sample_reactive(2000, rng=2)
    _check_reactive(paths, A.tolist(), B.tolist())
    r, c = rf.edges
    f = rf.flux_values
    q = rf.q_plus
    cut = (q[r] < 0.5) & (q[c] >= 0.5)
    key = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(r[cut], c[cut], strict=True))}
    counts = numpy.zeros((len(paths), len(key)))
    for p, s in enumerate(paths.states):
        for a, b in itertools.pairwise(s):
            if (a, b) in key:
                counts[p, key[(a, b)]] += 1
            elif (b, a) in key:
                counts[p, key[(b, a)]] -= 1
    numpy.testing.assert_array_equal(counts.sum(axis=1), 1.0)
    idx = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(r, c, strict=True))}
    expect = numpy.array([(f[idx[e]] - f[idx[(e[1], e[0])]]) / rf.total_flux for e in key])
    se = counts.std(axis=0, ddof=1) / math.sqrt(len(paths))
    big = expect >= 0.02
    assert big.sum() >= 3
    assert numpy.all(numpy.abs(counts.mean(axis=0) - expect)[big] <= 4 * se[big])


# ------------------------------------------------------------------------------------------- deeptime
def test_deeptime_aliases():
    dm = pytest.importorskip("deeptime.markov")
    P = random_network(18, kind="transition", reversible=False, rng=5)
    rf = reactive_flux(P, [0, 1], [12])
    ref = dm.reactive_flux(P.toarray(), [0, 1], [12])
    numpy.testing.assert_allclose(rf.forward_committor, ref.forward_committor, atol=1e-10)
    numpy.testing.assert_allclose(rf.backward_committor, ref.backward_committor, atol=1e-10)
    numpy.testing.assert_allclose(rf.stationary_distribution, ref.stationary_distribution, rtol=1e-8)
    numpy.testing.assert_allclose(rf.gross_flux.toarray(), ref.gross_flux, atol=1e-13)
    numpy.testing.assert_array_equal(rf.source_states, ref.source_states)
    numpy.testing.assert_array_equal(rf.target_states, ref.target_states)


def _deeptime_snippets() -> list[str]:
    text = (pathlib.Path(__file__).parents[1] / "docs" / "tpt.md").read_text()
    section = text.split("## Coming from deeptime", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_docs_deeptime_section_runs():
    """The side-by-side snippets of docs/tpt.md "Coming from deeptime" run and their assertions hold."""
    pytest.importorskip("deeptime.markov")
    blocks = _deeptime_snippets()
    assert len(blocks) >= 2
    ns: dict = {}
    for block in blocks:
        exec(compile(block, "docs/tpt.md", "exec"), ns)


# ------------------------------------------------------------------------------------------- property test
hyp = pytest.importorskip("hypothesis")
st = pytest.importorskip("hypothesis.strategies")


@st.composite
def _networks(draw):
    """A random small network: a ring (irreducible unless rates vanish) plus random extra edges, as a generator,
    a transition matrix or a broken matrix (negative, NaN, inf or a wrong diagonal entry); A and B mostly
    disjoint."""
    n = draw(st.integers(2, 7))
    dtype = draw(st.sampled_from(["float64", "float32"]))
    kind = draw(st.sampled_from(["generator", "generator", "transition", "transition", "broken"]))
    form = draw(st.sampled_from(["dense", "csr", "coo"]))
    rate = st.floats(1e-3, 5.0, allow_nan=False)
    M = numpy.zeros((n, n))
    for i in range(n):
        M[i, (i + 1) % n] += draw(rate)
        M[(i + 1) % n, i] += draw(rate)
    for _ in range(draw(st.integers(0, n))):
        M[draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))] = draw(st.floats(0.0, 5.0))
    numpy.fill_diagonal(M, 0.0)
    if kind == "transition":
        M /= draw(st.floats(1.0, 3.0)) * M.sum(1).max()
    d = M.sum(1)
    M[numpy.diag_indices(n)] = 1.0 - d if kind == "transition" else -d
    if kind == "broken":
        M[draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))] = draw(
            st.sampled_from([-1.0, float("nan"), float("inf"), 0.7]))
    M = M.astype(dtype)
    perm = draw(st.permutations(range(n)))
    a = draw(st.integers(1, n - 1))
    b = draw(st.integers(1, n - a))
    A, B = list(perm[:a]), list(perm[a:a + b])
    if draw(st.integers(0, 9)) == 0:  # sometimes overlapping sets
        B = B + A[:1]
    if form == "csr":
        M = sp.csr_array(M)
    elif form == "coo":
        r, c = numpy.nonzero(M)
        M = (r, c, M[r, c], n)
    return n, M, A, B


@hyp.settings(max_examples=60, deadline=None, derandomize=True)
@hyp.given(_networks())
def test_property_reactive_flux(case):
    """Random small networks (valid and broken, float32/float64, dense/csr/COO, any A, B): a documented exception
    (ValueError/TypeError) or finite, shape-correct results -- never NaN, never a warning."""
    n, M, A, B = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            rf = reactive_flux(M, A, B)
        except (ValueError, TypeError):
            return
        for name in ("pi", "q_plus", "q_minus"):
            a = numpy.asarray(getattr(rf, name))
            assert a.shape == (n,) and numpy.all(numpy.isfinite(a)), name
            assert numpy.all((a >= 0) & (a <= 1)), name
        assert numpy.all(numpy.isfinite(rf.flux_values)) and numpy.all(rf.flux_values >= 0)
        assert math.isfinite(rf.total_flux) and rf.total_flux >= 0 and math.isfinite(rf.rate)
        if rf.total_flux > 0:
            paths = rf.sample_reactive(4, rng=0, max_steps=10_000)
            assert len(paths) == 4 and not numpy.any(paths.truncated)
            _check_reactive(paths, A, B)
