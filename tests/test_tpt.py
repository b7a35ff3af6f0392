"""Transition path theory: closed forms (birth–death chains), identities on random and Müller–Brown networks,
deeptime as referee, bad inputs."""

from __future__ import annotations

import itertools

import numpy
import pytest

import transportkit as tk
from transportkit.tpt import birth_death, mueller_brown, random_network, reactive_flux, to_dense

TOL = 1e-14  # relative residual for the iterative solvers (accelerators); CPU backends solve directly


def H(be, x):
    """Host copy of a backend array (or a Python scalar)."""
    return numpy.asarray(be.to_numpy(x)) if hasattr(x, "shape") else x


def coo_host(be, c):
    """Off-diagonal COO of a COO tuple or a scipy.sparse matrix, on the host."""
    if hasattr(c, "tocoo"):
        m = c.tocoo()
        off = m.row != m.col
        return m.row[off].astype(numpy.int64), m.col[off].astype(numpy.int64), m.data[off], m.shape[0]
    r, cc, v, n = c
    return H(be, r), H(be, cc), H(be, v), n


def dense_host(be, c, kind="generator"):
    if hasattr(c, "toarray"):
        return c.toarray()
    r, cc, v, n = coo_host(be, c)
    M = numpy.zeros((n, n))
    M[r, cc] = v
    d = M.sum(1)
    return M - numpy.diag(d) if kind == "generator" else M + numpy.diag(1 - d)


def bd_closed_form(lam, mu):
    """q+, pi, F for the birth–death chain 0..N with A={0}, B={N}."""
    N = len(lam)
    d = numpy.concatenate([[1.0], numpy.cumprod(mu[:N - 1] / lam[1:])])  # d_i = prod_{m=1}^i mu_m/lam_m
    # mu[m-1] is the rate m -> m-1, lam[m] the rate m -> m+1
    S = numpy.concatenate([[0.0], numpy.cumsum(d)])  # S_i = sum_{k<i} d_k
    q = S / S[N]
    w = numpy.concatenate([[1.0], numpy.cumprod(lam / mu)])  # pi_i prop. prod_{m<i} lam_m / mu_{m+1}
    pi = w / w.sum()
    F = pi[0] * lam[0] * q[1]
    return q, pi, F


# ------------------------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("case", ["random", "equal", "ratio"])
def test_birth_death_closed_form(backend, case):
    N = 12
    rng = numpy.random.default_rng(1)
    if case == "random":
        lam, mu = rng.uniform(0.5, 2.0, N), rng.uniform(0.5, 2.0, N)
    elif case == "equal":
        lam = mu = numpy.full(N, 1.7)
    else:
        lam, mu = numpy.full(N, 1.0), numpy.full(N, 0.6)
    Q = birth_death(lam, mu, backend=backend)
    rf = reactive_flux(Q, [0], [N], tol=TOL)
    q, pi, F = bd_closed_form(lam, mu)
    numpy.testing.assert_allclose(H(backend, rf.q_plus), q, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(H(backend, rf.q_minus), 1 - q, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(H(backend, rf.pi), pi, rtol=1e-10, atol=1e-14)
    assert rf.reversible
    assert rf.total_flux == pytest.approx(F, rel=1e-10)
    assert rf.rate == pytest.approx(F / numpy.sum(pi * (1 - q)), rel=1e-10)
    # every edge i -> i+1 carries the same net flux F
    r, c = (H(backend, e) for e in rf.edges)
    fp = H(backend, rf.net_flux_values)
    up = c == r + 1
    numpy.testing.assert_allclose(fp[up], F, rtol=1e-9)
    assert numpy.all(fp[~up] == 0)
    if case == "equal":
        assert rf.total_flux == pytest.approx(1.7 / (N * (N + 1)), rel=1e-10)
        assert rf.rate == pytest.approx(2 * 1.7 / (N * (N + 1)), rel=1e-10)
        assert rf.mfpt == pytest.approx(N * (N + 1) / (2 * 1.7), rel=1e-10)
        tau = tk.tpt.mean_first_passage_times(Q, [N], tol=TOL)
        assert float(H(backend, tau)[0]) == pytest.approx(N * (N + 1) / (2 * 1.7), rel=1e-10)
    if case == "ratio":
        numpy.testing.assert_allclose(q, (1 - 0.6 ** numpy.arange(N + 1)) / (1 - 0.6**N), rtol=1e-12)


def test_birth_death_transition_kind(backend):
    """Uniformized chain P = I + L / Lambda: same pi and committors, per-step fluxes = continuous / Lambda."""
    N = 10
    lam, mu = numpy.linspace(0.5, 1.5, N), numpy.linspace(1.2, 0.4, N)
    L = dense_host(backend, birth_death(lam, mu))
    Lam = 1.1 * numpy.max(-numpy.diag(L))
    P = numpy.eye(N + 1) + L / Lam
    rfc = reactive_flux(backend.asarray(L), [0], [N], tol=TOL)
    rfd = reactive_flux(backend.asarray(P), [0], [N], kind="transition", tol=TOL)
    numpy.testing.assert_allclose(H(backend, rfd.q_plus), H(backend, rfc.q_plus), rtol=1e-10, atol=1e-13)
    numpy.testing.assert_allclose(H(backend, rfd.pi), H(backend, rfc.pi), rtol=1e-10)
    numpy.testing.assert_allclose(H(backend, rfd.flux) * Lam, H(backend, rfc.flux), rtol=1e-9, atol=1e-15)
    assert rfd.rate * Lam == pytest.approx(rfc.rate, rel=1e-10)


# ------------------------------------------------------------------------------------------- identities
@pytest.mark.parametrize("reversible", [True, False])
def test_random_network_identities(backend, reversible):
    n = 40
    for seed in range(3):
        Q = random_network(n, degree=3, reversible=reversible, rng=seed, backend=backend)
        A, B = [0, 1, 2], [n // 2, n // 2 + 1]
        rf = reactive_flux(Q, A, B, tol=TOL)
        assert rf.reversible == reversible
        L = dense_host(backend, Q)
        pi, qp, qm = H(backend, rf.pi), H(backend, rf.q_plus), H(backend, rf.q_minus)
        # stationarity and committor equations
        numpy.testing.assert_allclose(pi @ L, 0, atol=1e-12)
        inner = numpy.setdiff1d(numpy.arange(n), A + B)
        numpy.testing.assert_allclose((L @ qp)[inner], 0, atol=1e-11)
        Lt = (pi[None, :] * L.T) / pi[:, None]
        numpy.testing.assert_allclose((Lt @ qm)[inner], 0, atol=1e-11)
        numpy.testing.assert_allclose(qp[A], 0)
        numpy.testing.assert_allclose(qp[B], 1)
        numpy.testing.assert_allclose(qm[A], 1)
        numpy.testing.assert_allclose(qm[B], 0)
        if reversible:
            numpy.testing.assert_allclose(pi[:, None] * L, (pi[:, None] * L).T, atol=1e-14)
            # the backward solve agrees with q- = 1 - q+
            rf2 = reactive_flux(Q, A, B, reversible=False, tol=TOL)
            numpy.testing.assert_allclose(H(backend, rf2.q_minus), 1 - qp, atol=1e-10)
        r, c = (H(backend, e) for e in rf.edges)
        f = H(backend, rf.flux_values)
        fp = H(backend, rf.net_flux_values)
        div = numpy.zeros(n)
        numpy.add.at(div, r, fp)
        numpy.add.at(div, c, -fp)
        numpy.testing.assert_allclose(div[inner], 0, atol=1e-13)
        outA = f[numpy.isin(r, A) & ~numpy.isin(c, A)].sum()
        intoB = f[~numpy.isin(r, B) & numpy.isin(c, B)].sum()
        assert rf.total_flux == pytest.approx(outA, rel=1e-12)
        assert intoB == pytest.approx(outA, rel=1e-9)
        assert fp[numpy.isin(r, A)].sum() == pytest.approx(rf.total_flux, rel=1e-9)
        # coarse graining into (A, rest, B): all flux leaves A, all arrives in B
        C = H(backend, rf.coarse_grain([A, inner, B]))
        assert C[0, 1] + C[0, 2] == pytest.approx(rf.total_flux, rel=1e-9)
        assert C[0, 2] + C[1, 2] == pytest.approx(rf.total_flux, rel=1e-9)


def test_backward_committor_wide_pi(backend):
    """Non-reversible chain with pi over ~20 orders of magnitude: the backward committor (one transposed solve with
    the forward factorization, then one refinement step) satisfies the time-reversed equations to a componentwise
    backward error of a few n * eps, like a solve of the reversed system itself."""
    n = 60
    r, c, v, _ = random_network(n, degree=3, reversible=False, rng=5, format="coo")
    rng = numpy.random.default_rng(0)
    E = 40.0 * rng.uniform(0, 1, n)
    v = v * numpy.exp(-(E[c] - E[r]) / 2) * numpy.exp(rng.normal(size=v.size))
    A, B = [0, 1], [30, 31]
    Q = (backend.asarray(r), backend.asarray(c), backend.asarray(v), n)
    rf = reactive_flux(Q, A, B, tol=TOL)
    pi, qm = H(backend, rf.pi), H(backend, rf.q_minus)
    assert not rf.reversible and pi.min() < 1e-15 * pi.max()
    L = numpy.zeros((n, n))
    L[r, c] = v
    L -= numpy.diag(L.sum(1))
    Lt = (pi[None, :] * L.T) / pi[:, None]
    inner = numpy.setdiff1d(numpy.arange(n), A + B)
    M, b = Lt[numpy.ix_(inner, inner)], -Lt[numpy.ix_(inner, A)].sum(1)
    berr = numpy.abs(M @ qm[inner] - b) / (numpy.abs(M) @ numpy.abs(qm[inner]) + numpy.abs(b))
    assert berr.max() <= 10 * n * numpy.finfo(float).eps


def test_input_forms_agree(backend):
    """Dense, COO and (numpy) scipy.sparse / networkx inputs give the same numbers; sparse in, sparse out."""
    n = 25
    Q = random_network(n, reversible=False, rng=7, format="coo", backend=backend)
    A, B = [0], [12, 13]
    ref = reactive_flux(Q, A, B, tol=TOL)
    assert isinstance(ref.flux, tuple) and len(ref.flux) == 4
    D = to_dense(Q)
    rd = reactive_flux(D, A, B, tol=TOL)
    assert tuple(rd.flux.shape) == (n, n)
    numpy.testing.assert_allclose(H(backend, rd.q_plus), H(backend, ref.q_plus), atol=1e-12)
    numpy.testing.assert_allclose(H(backend, rd.q_minus), H(backend, ref.q_minus), atol=1e-12)
    Fd = H(backend, rd.flux)
    r, c, v, _ = (H(backend, x) for x in ref.flux)
    dense_f = numpy.zeros((n, n))
    dense_f[r, c] = v
    numpy.testing.assert_allclose(Fd, dense_f, atol=1e-15)
    mask = numpy.zeros(n, bool)
    mask[B] = True
    rm = reactive_flux(Q, A, backend.asarray(mask), tol=TOL)
    assert rm.rate == pytest.approx(ref.rate, rel=1e-10)
    if backend.name == "numpy":
        import networkx as nx
        import scipy.sparse as sp

        rs = reactive_flux(sp.csr_matrix(H(backend, D)), A, B)
        assert hasattr(rs.flux, "tocoo") and hasattr(rs.net_flux, "tocoo")
        numpy.testing.assert_allclose(rs.flux.toarray(), dense_f, atol=1e-15)
        G = nx.DiGraph()
        labels = [f"s{i}" for i in range(n)]
        G.add_nodes_from(labels)
        rr, cc, vv, _ = coo_host(backend, Q)
        for i, j, w in zip(rr, cc, vv, strict=False):
            G.add_edge(labels[i], labels[j], rate=w)
        rg = reactive_flux(G, ["s0"], ["s12", "s13"])
        assert rg.rate == pytest.approx(ref.rate, rel=1e-10)
        paths = rg.pathways(k=2)
        assert paths[0][0][0] == "s0" and paths[0][0][-1] in ("s12", "s13")
        out = rg.to_networkx()
        assert out.nodes["s0"]["in_A"] and out.number_of_edges() == int((rg.net_flux[2] > 0).sum())


# ------------------------------------------------------------------------------------------- deeptime
@pytest.mark.parametrize("reversible", [True, False])
def test_agrees_with_deeptime(backend, reversible):
    dt = pytest.importorskip("deeptime.markov", reason="deeptime is the TPT referee (pip install deeptime)")
    # 10 reversible + 10 non-reversible = 20 random networks of 15..24 states
    for seed in range(10):
        n = 15 + seed
        P = random_network(n, degree=3, reversible=reversible, kind="transition", rng=100 + seed, dense=True,
                           backend=backend)
        Ph = H(backend, P)
        A, B = [0, 1], [n - 3, n - 1]
        ours = reactive_flux(P, A, B, kind="transition", tol=TOL)
        ref = dt.reactive_flux(Ph, A, B)
        numpy.testing.assert_allclose(H(backend, ours.pi), ref.stationary_distribution, rtol=1e-8, atol=1e-12)
        numpy.testing.assert_allclose(H(backend, ours.q_plus), ref.forward_committor, atol=1e-8)
        numpy.testing.assert_allclose(H(backend, ours.q_minus), ref.backward_committor, atol=1e-8)
        numpy.testing.assert_allclose(H(backend, ours.flux), ref.gross_flux, atol=1e-10, rtol=1e-8)
        numpy.testing.assert_allclose(H(backend, ours.net_flux), ref.net_flux, atol=1e-10, rtol=1e-8)
        assert ours.total_flux == pytest.approx(ref.total_flux, rel=1e-8)
        assert ours.rate == pytest.approx(ref.rate, rel=1e-8)
        assert ours.mfpt == pytest.approx(ref.mfpt, rel=1e-8)
        ref_paths, ref_caps = ref.pathways(fraction=1.0)
        paths = ours.pathways(k=3)
        for (states, share), rp, rc in zip(paths, ref_paths[:3], ref_caps[:3], strict=False):
            assert list(states) == list(rp)
            assert share == pytest.approx(rc / ref.total_flux, rel=1e-8)
        assert len(paths) == min(3, len(ref_paths))


# ------------------------------------------------------------------------------------------- Müller–Brown
def test_mueller_brown_small_grid(backend):
    n, beta = 16, 0.1
    Q, xy, A, B = mueller_brown(n=n, beta=beta, backend=backend)
    rf = reactive_flux(Q, A, B, tol=TOL)
    assert rf.reversible
    V = H(backend, tk.tpt.mueller_brown_potential(xy[:, 0], xy[:, 1]))
    p = numpy.exp(-beta * (V - V.min()))
    p /= p.sum()
    pi = H(backend, rf.pi)
    big = p > 1e-10 * p.max()
    numpy.testing.assert_allclose(pi[big], p[big], rtol=1e-8)
    numpy.testing.assert_allclose(pi, p, atol=1e-15)
    L = dense_host(backend, Q)
    qp = H(backend, rf.q_plus)
    Ah, Bh = H(backend, A), H(backend, B)
    inner = numpy.setdiff1d(numpy.arange(n * n), numpy.concatenate([Ah, Bh]))
    numpy.testing.assert_allclose((L @ qp)[inner], 0, atol=1e-9 * numpy.abs(L).max())
    numpy.testing.assert_allclose(H(backend, rf.q_minus), 1 - qp, atol=1e-15)
    r, c = (H(backend, e) for e in rf.edges)
    f = H(backend, rf.flux_values)
    outA = f[numpy.isin(r, Ah) & ~numpy.isin(c, Ah)].sum()
    intoB = f[~numpy.isin(r, Bh) & numpy.isin(c, Bh)].sum()
    assert intoB == pytest.approx(outA, rel=1e-8)
    # the same answer with pi given (one committor solve)
    rp = reactive_flux(Q, A, B, pi=backend.asarray(p), tol=TOL)
    assert rp.rate == pytest.approx(rf.rate, rel=1e-8)
    # isocommittor cut carries all the flux (reversible), the bottleneck lies on the first pathway
    _edges, through = tk.tpt.isocommittor_cut(rf)
    assert through == pytest.approx(rf.total_flux, rel=1e-8)
    i, j, cap = rf.bottleneck()
    first = rf.pathways(k=1)[0][0]
    assert i in first and j in first and cap > 0


def test_mueller_brown_deeptime_uniformized():
    dt = pytest.importorskip("deeptime.markov", reason="deeptime is the TPT referee (pip install deeptime)")
    Q, _xy, A, B = mueller_brown(n=16, beta=0.01)
    L = dense_host(tk.get_backend("numpy"), Q)
    Lam = 1.05 * numpy.max(-numpy.diag(L))
    P = numpy.eye(L.shape[0]) + L / Lam
    rf = reactive_flux(Q, A, B)
    ref = dt.reactive_flux(P, A, B)
    numpy.testing.assert_allclose(rf.q_plus, ref.forward_committor, atol=1e-9)
    # deeptime's eigenvector is accurate relative to its largest entry (ours is assembled in log space)
    numpy.testing.assert_allclose(rf.pi, ref.stationary_distribution, rtol=1e-8, atol=1e-12 * rf.pi.max())
    assert rf.total_flux / Lam == pytest.approx(ref.total_flux, rel=1e-8)
    assert rf.rate / Lam == pytest.approx(ref.rate, rel=1e-8)


def test_mueller_brown_grid_refinement():
    """k_AB converges under grid refinement (h -> h/2): successive differences shrink."""
    rates = [reactive_flux(*_mb(n)).rate for n in (21, 41, 81)]
    assert abs(rates[2] - rates[1]) < abs(rates[1] - rates[0])


def _mb(n):
    Q, _xy, A, B = mueller_brown(n=n, beta=0.1, radius=0.15)
    return Q, A, B


# ------------------------------------------------------------------------------------------- pathways, sampling
def test_pathways_parallel_channels(backend):
    """Two parallel channels 0 -> 1 -> 3 and 0 -> 2 -> 3 with known net fluxes: shares are their fractions."""
    rows = [0, 1, 0, 2, 1, 3, 2, 3]
    cols = [1, 0, 2, 0, 3, 1, 3, 2]
    vals = [3.0, 1.0, 1.0, 1.0, 1.0, 3.0, 1.0, 1.0]
    Q = (backend.asarray(rows), backend.asarray(cols), backend.asarray(vals), 4)
    rf = reactive_flux(Q, [0], [3], tol=TOL)
    fp = H(backend, rf.net_flux_values)
    r, c = (H(backend, e) for e in rf.edges)
    f13 = fp[(r == 1) & (c == 3)][0]
    f23 = fp[(r == 2) & (c == 3)][0]
    paths = rf.pathways(k=None)
    assert len(paths) == 2
    got = dict((tuple(s), w) for s, w in paths)
    assert got[(0, 1, 3)] == pytest.approx(f13 / rf.total_flux, rel=1e-10)
    assert got[(0, 2, 3)] == pytest.approx(f23 / rf.total_flux, rel=1e-10)
    assert sum(got.values()) == pytest.approx(1.0, rel=1e-10)


def test_sample_reactive_edge_frequencies(backend):
    """Detour-free paths on a reversible network visit edge e with probability f+_e / F (acyclic f+)."""
    Q = random_network(20, degree=3, reversible=True, rng=3, backend=backend)
    rf = reactive_flux(Q, [0], [10], tol=TOL)
    N = 4000
    paths = rf.sample_reactive(N, method="net_flux", rng=0).states
    assert all(p[0] == 0 and p[-1] == 10 for p in paths)
    r, c = (H(backend, e) for e in rf.edges)
    fp = H(backend, rf.net_flux_values)
    index = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(r, c, strict=False))}
    counts = numpy.zeros(len(r))
    for p in paths:
        for a, b in itertools.pairwise(p):
            counts[index[(a, b)]] += 1
    p_e = fp / rf.total_flux
    se = numpy.sqrt(p_e * (1 - p_e) / N)
    assert numpy.all(numpy.abs(counts / N - p_e) <= 5 * se + 1e-12)


# ------------------------------------------------------------------------------------------- bad inputs
def test_bad_inputs(backend):
    n = 6
    Q = random_network(n, reversible=True, rng=1, format="coo", backend=backend)
    with pytest.raises(ValueError, match="A is empty"):
        reactive_flux(Q, [], [3])
    with pytest.raises(ValueError, match=r"overlap at states \[2\]"):
        reactive_flux(Q, [0, 2], [2, 3])
    with pytest.raises(ValueError, match="outside"):
        reactive_flux(Q, [0], [n])
    with pytest.raises(ValueError, match="boolean mask B has length"):
        reactive_flux(Q, [0], backend.asarray([True, False]))
    r, c, v, _ = Q
    neg = (r, c, backend.xp.where(r == 4, -v, v), n)  # negate the rates out of state 4
    with pytest.raises(ValueError, match=r"negative off-diagonal rates on edges \(from states \[4"):
        reactive_flux(neg, [0], [3])
    D = to_dense(Q)
    bad = H(backend, D).copy()
    bad[1, 1] += 0.5
    with pytest.raises(ValueError, match=r"cannot tell whether M is a generator \(rows summing to 0; fails at "
                       r"states \[1\]\)"):
        reactive_flux(backend.asarray(bad), [0], [3])
    with pytest.raises(ValueError, match=r"do not sum to 0 \(states \[1\]\)"):
        reactive_flux(backend.asarray(bad), [0], [3], kind="generator")
    fixed = reactive_flux(backend.asarray(bad), [0], [3], fix_diagonal=True, tol=TOL)
    assert fixed.rate == pytest.approx(reactive_flux(Q, [0], [3], tol=TOL).rate, rel=1e-10)
    P = H(backend, to_dense(random_network(n, kind="transition", rng=2, format="coo"), kind="transition"))
    P[2, 2] -= 0.1
    with pytest.raises(ValueError, match=r"do not sum to 1 \(states \[2\]\)"):
        reactive_flux(backend.asarray(P), [0], [3], kind="transition")
    with pytest.raises(ValueError, match="kind must be"):
        reactive_flux(Q, [0], [3], kind="rate")
    # duplicates in a COO tuple
    dup = (backend.asarray([0, 0, 1]), backend.asarray([1, 1, 0]), backend.asarray([1.0, 1.0, 1.0]), 2)
    with pytest.raises(ValueError, match="duplicate COO entries"):
        reactive_flux(dup, [0], [1])
    # a chain 0 <-> 1 <-> 2 <-> 3 and a separate pair 4 <-> 5 (which cannot reach A or B; uniform pi is stationary)
    rows = backend.asarray([0, 1, 1, 2, 2, 3, 4, 5])
    cols = backend.asarray([1, 0, 2, 1, 3, 2, 5, 4])
    vals = backend.asarray([1.0] * 8)
    chain = (rows, cols, vals, 6)
    with pytest.raises(ValueError, match=r"not irreducible: states \[4, 5\]"):
        reactive_flux(chain, [0], [3])
    pi = backend.asarray([1.0] * 6)
    with pytest.raises(ValueError, match=r"states \[4, 5\] cannot reach A or B"):
        reactive_flux(chain, [0], [3], pi=pi)
    with pytest.raises(ValueError, match=r"pi must have shape \(6,\)"):
        reactive_flux(chain, [0], [3], pi=backend.asarray([1.0, 2.0]))
    # B unreachable from A: two separate two-state components, pi given
    two = (backend.asarray([0, 1, 2, 3]), backend.asarray([1, 0, 3, 2]), backend.asarray([1.0] * 4), 4)
    with pytest.raises(ValueError, match="B cannot be reached from A"):
        reactive_flux(two, [0], [2], pi=backend.asarray([1.0] * 4), reversible=True)
    with pytest.raises(ValueError, match="target"):
        tk.tpt.mean_first_passage_times(chain, [], )


def test_strict_dense_limit():
    """Backends without a sparse solver refuse large systems with a clear error (before solving)."""
    pytest.importorskip("array_api_strict")
    from transportkit.tpt import solvers

    Q, _xy, A, B = mueller_brown(n=8, backend="array_api_strict")
    old = solvers.DENSE_LIMIT
    try:
        import transportkit.tpt.solvers as fx

        fx.DENSE_LIMIT = 10
        with pytest.raises(ValueError, match="has no sparse solver"):
            reactive_flux(Q, A, B)
    finally:
        fx.DENSE_LIMIT = old


# ------------------------------------------------------------------------------------------- house rules
def test_results_on_callers_backend(backend):
    """Arrays come back on the caller's backend (JAX computes on the host and moves the results once) and agree
    with numpy's to rounding: the same SuperLU solves the same systems."""
    Q = random_network(30, reversible=False, rng=11, format="coo", backend=backend)
    rf = reactive_flux(Q, [0, 1], [15], tol=TOL)
    ref = reactive_flux(coo_host(backend, Q), [0, 1], [15], tol=TOL)
    for name in ("pi", "q_plus", "q_minus", "A", "B", "flux_values", "net_flux_values"):
        got = getattr(rf, name)
        assert tk.backends.owner_of(got).name == backend.name, name
        numpy.testing.assert_allclose(H(backend, got), getattr(ref, name), rtol=1e-10, atol=1e-15, err_msg=name)
    assert all(tk.backends.owner_of(a).name == backend.name for a in (*rf.edges, *rf.flux[:3]))
    assert rf.rate == pytest.approx(ref.rate, rel=1e-10)
    tau = tk.tpt.mean_first_passage_times(Q, [15], tol=TOL)
    pi = tk.tpt.stationary_distribution(Q, tol=TOL)
    assert tk.backends.owner_of(tau).name == tk.backends.owner_of(pi).name == backend.name
    numpy.testing.assert_allclose(H(backend, pi), ref.pi, rtol=1e-10)


def test_jax_compiles_nothing():
    """On JAX the whole computation runs on the host: no XLA compilation at all, for any network size (it was
    4-30 s of compilation per size before)."""
    pytest.importorskip("jax")
    import jax.monitoring as mon

    be = tk.get_backend("jax")
    compiles = []

    def listener(name, _duration, **_kw):
        if name.endswith("backend_compile_duration"):
            compiles.append(name)

    Qs = [mueller_brown(n=n, beta=0.1, backend=be) for n in (12, 13)]
    R = random_network(17, reversible=False, rng=2, backend=be)
    mon.register_event_duration_secs_listener(listener)
    try:
        for Q, _xy, A, B in Qs:
            reactive_flux(Q, A, B)
        reactive_flux(R, [0], [9])
        tk.tpt.mean_first_passage_times(R, [9])
    finally:
        mon.unregister_event_duration_listener(listener)
    assert compiles == []


def _bad_calls(backend):
    """(call, message) pairs: each a bad argument that must be refused before any factorization."""
    n = 6
    Q = random_network(n, reversible=True, rng=1, format="coo", backend=backend)
    r, c, v, _ = Q
    chain = (backend.asarray([0, 1, 1, 2, 2, 3, 4, 5]), backend.asarray([1, 0, 2, 1, 3, 2, 5, 4]),
             backend.asarray([1.0] * 8), 6)
    two = (backend.asarray([0, 1, 2, 3]), backend.asarray([1, 0, 3, 2]), backend.asarray([1.0] * 4), 4)
    bad_rows = H(backend, to_dense(Q)).copy()
    bad_rows[1, 1] += 0.5
    rf = reactive_flux
    return [
        (lambda: rf(Q, [0], [3], kind="rate"), "kind must be"),
        (lambda: rf(Q, [0], [3], tol=0.0), "tol must be"),
        (lambda: rf(Q, [0], [3], tol=float("nan")), "tol must be"),
        (lambda: rf(Q, [0], [3], tol="small"), "tol must be"),
        (lambda: rf(Q, [0], [3], reversible="yes"), "reversible must be"),
        (lambda: rf(Q, [0], [3], check=1), "check must be"),
        (lambda: rf(Q, [0], [3], fix_diagonal=None), "fix_diagonal must be"),
        (lambda: rf(Q, [0], [3], rate_attr=3), "rate_attr must be"),
        (lambda: rf(Q, [], [3]), "A is empty"),
        (lambda: rf(Q, [0, 2], [2, 3]), "overlap"),
        (lambda: rf(Q, [0], [n]), "outside"),
        (lambda: rf(Q, [0], [0.5]), "integer state indices"),
        (lambda: rf(Q, [0], backend.asarray([True, False])), "boolean mask B has length"),
        (lambda: rf((r, c, backend.xp.where(r == 4, -v, v), n), [0], [3]), "negative off-diagonal"),
        (lambda: rf((r, c, backend.xp.where(r == 4, v * float("nan"), v), n), [0], [3]), "non-finite"),
        (lambda: rf((r, c, v, 2.5), [0], [1]), "must be an integer"),
        (lambda: rf((r, c, v, 3), [0], [1]), r"COO indices must lie in \[0, 3\)"),
        (lambda: rf(backend.asarray(bad_rows), [0], [3]), "cannot tell whether M is a generator"),
        (lambda: rf(backend.asarray(bad_rows), [0], [3], kind="generator"), "do not sum to 0"),
        (lambda: rf(backend.asarray(bad_rows * numpy.where(numpy.eye(n) > 0, numpy.nan, 1.0)), [0], [3]),
         r"non-finite diagonal entries at states \[0, 1, 2"),
        (lambda: rf(chain, [0], [3]), "not irreducible"),
        (lambda: rf(chain, [0], [3], pi=backend.asarray([1.0] * 6)), "cannot reach A or B"),
        (lambda: rf(chain, [0], [3], pi=backend.asarray([1.0, 2.0])), r"pi must have shape"),
        (lambda: rf(Q, [0], [3], pi=backend.asarray([1.0, 0.0, 1.0, 1.0, 1.0, 1.0])), "not positive"),
        (lambda: rf(Q, [0], [3], pi=backend.asarray([1.0] * 5 + [float("inf")])), "non-finite"),
        (lambda: rf(two, [0], [2], pi=backend.asarray([1.0] * 4), reversible=True), "B cannot be reached"),
        (lambda: tk.tpt.mean_first_passage_times(chain, []), "target is empty"),
        (lambda: tk.tpt.mean_first_passage_times(chain, [0], tol=-1.0), "tol must be"),
        (lambda: tk.tpt.stationary_distribution(chain), "not irreducible"),
        (lambda: tk.tpt.stationary_distribution(Q, kind="rates"), "kind must be"),
    ]


def test_errors_before_any_solve(backend, monkeypatch):
    """Every bad argument is a ValueError (TypeError for a wrong type) raised before the first factorization (a
    spy counts them)."""
    from transportkit.tpt import solvers

    calls = []
    real = solvers.factor

    def spy(*args, **kwargs):
        calls.append(args[-1])
        return real(*args, **kwargs)

    monkeypatch.setattr(solvers, "factor", spy)
    Q = random_network(6, reversible=True, rng=1, format="coo", backend=backend)
    reactive_flux(Q, [0], [3], tol=TOL)
    assert calls == ["forward-committor"]  # the spy sees the solves
    for call, message in _bad_calls(backend):
        calls.clear()
        with pytest.raises((ValueError, TypeError), match=message):
            call()
        assert calls == [], message


def test_pathway_arguments_checked(backend):
    Q = random_network(12, reversible=True, rng=4, backend=backend)
    rf = reactive_flux(Q, [0], [6], tol=TOL)
    with pytest.raises(ValueError, match="k must be"):
        rf.pathways(k=0)
    with pytest.raises(ValueError, match="fraction must be"):
        rf.pathways(fraction=0.0)
    with pytest.raises(ValueError, match="n_paths must be"):
        rf.sample_reactive(0)
    with pytest.raises(ValueError, match="max_steps must be"):
        rf.sample_reactive(3, max_steps=0)
    with pytest.raises(ValueError, match="level must be"):
        tk.tpt.isocommittor_cut(rf, 1.5)
    with pytest.raises(ValueError, match="disjoint"):
        rf.coarse_grain([[0, 1], [1, 2]])
    C = H(backend, rf.coarse_grain([[0], list(range(1, 6)) + list(range(7, 12)), [6]]))
    assert C.shape == (3, 3) and numpy.all(numpy.diag(C) == 0)
    assert C[0, 1] + C[0, 2] == pytest.approx(rf.total_flux, rel=1e-9)


def test_typed_results():
    """ReactiveFlux is a dataclass with typed fields; every public function states a return type that is not Any."""
    import dataclasses
    import inspect
    import typing

    import transportkit.tpt as tpt

    assert dataclasses.is_dataclass(tpt.ReactiveFlux)
    assert all(f.type != "Any" or f.name in ("flux", "net_flux") for f in dataclasses.fields(tpt.ReactiveFlux)
               if f.name != "backend")
    for name in tpt.__all__:
        obj = getattr(tpt, name)
        if inspect.isfunction(obj):
            hints = typing.get_type_hints(obj)
            assert "return" in hints and hints["return"] is not typing.Any, name


def test_float32(backend):
    """float32 on request: the reversible network is recognized (detailed balance checked to what float32 resolves)
    and the rate agrees with float64 to 1e-4 relative (measured 4e-7 on the 16 x 16 grid: float32 rounding of
    sums of 10^3 terms)."""
    b32 = tk.get_backend(backend, dtype="float32")
    Q, _xy, A, B = mueller_brown(n=16, beta=0.1, backend=b32)
    rf = reactive_flux(Q, A, B)
    ref = reactive_flux(*_mb_host(16))
    assert rf.reversible and rf.pi.dtype == b32.dtype
    assert rf.rate == pytest.approx(ref.rate, rel=1e-4)
    numpy.testing.assert_allclose(H(b32, rf.q_plus), ref.q_plus, atol=1e-5)


def _mb_host(n):
    Q, _xy, A, B = mueller_brown(n=n, beta=0.1)
    return Q, A, B
