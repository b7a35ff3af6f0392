"""Free-energy estimators: ``bar`` and ``mbar`` for 10^3 to 10^6 samples on every backend, and pymbar (the peer)
on identical inputs (``PymbarBar``/``PymbarMbar``, NumPy)."""

from __future__ import annotations

import warnings

import numpy as np

from ._common import BACKENDS, backend_or_skip, block

SIZES = [10**3, 10**4, 10**5, 10**6]
K_STATES = 5


def bar_inputs(n: int):
    """Gaussian works satisfying Crooks (dF = 1, sigma = 2), n per direction."""
    rng = np.random.default_rng(0)
    s, dF = 2.0, 1.0
    return rng.normal(dF + s * s / 2, s, n), rng.normal(-dF + s * s / 2, s, n)


def mbar_inputs(n: int):
    """K harmonic states u_k(x) = k_k x^2 / 2, n samples in total, n/K from each state."""
    rng = np.random.default_rng(0)
    ks = np.linspace(1.0, 3.0, K_STATES)
    N_k = np.full(K_STATES, n // K_STATES)
    N_k[0] += n - N_k.sum()
    x = np.concatenate([rng.normal(0.0, 1 / np.sqrt(k), m) for k, m in zip(ks, N_k, strict=True)])
    return 0.5 * ks[:, None] * x[None, :] ** 2, N_k


class Bar:
    params = (BACKENDS, SIZES)
    param_names = ["backend", "n"]

    def setup(self, backend, n):
        from transportkit import free_energy as fe

        self.fe = fe
        be = backend_or_skip(backend)
        wf, wr = bar_inputs(n)
        self.wf, self.wr = be.asarray(wf), be.asarray(wr)
        block(fe.bar(self.wf, self.wr).value)  # warm-up: compile once

    def time_bar(self, backend, n):
        block(self.fe.bar(self.wf, self.wr).value)


class Mbar:
    params = (BACKENDS, SIZES)
    param_names = ["backend", "n"]

    def setup(self, backend, n):
        from transportkit import free_energy as fe

        self.fe = fe
        be = backend_or_skip(backend)
        u, self.N_k = mbar_inputs(n)
        self.u = be.asarray(u)
        block(fe.mbar(self.u, self.N_k).value)

    def time_mbar(self, backend, n):
        block(self.fe.mbar(self.u, self.N_k).value)


class PymbarBar:
    """The peer on the same inputs: ``pymbar.other_estimators.bar`` (false position, BAR uncertainty)."""

    params = [SIZES]
    param_names = ["n"]

    def setup(self, n):
        try:
            from pymbar import other_estimators
        except ImportError as exc:
            raise NotImplementedError("pymbar not installed") from exc
        self.bar = other_estimators.bar
        self.wf, self.wr = bar_inputs(n)

    def time_pymbar_bar(self, n):
        self.bar(self.wf, self.wr)


class PymbarMbar:
    """The peer on the same inputs: ``pymbar.MBAR`` + ``compute_free_energy_differences`` (as ``mbar`` does)."""

    params = [SIZES]
    param_names = ["n"]

    def setup(self, n):
        try:
            import pymbar
        except ImportError as exc:
            raise NotImplementedError("pymbar not installed") from exc
        self.MBAR = pymbar.MBAR
        self.u, self.N_k = mbar_inputs(n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.MBAR(self.u, self.N_k).compute_free_energy_differences()  # warm-up (pymbar jit-compiles with JAX)

    def time_pymbar_mbar(self, n):
        self.MBAR(self.u, self.N_k).compute_free_energy_differences()


def isotropic_transport(be, d: int):
    """The exact linear-interpolant field between N(0, I) and N(1, 0.36 I) in dimension d (array arithmetic on t only,
    so that the whole run compiles on JAX), its divergence and the two reduced energies."""
    xp = be.xp
    a2, c2 = 1.0, 0.36
    m1 = be.asarray(np.ones(d))

    def A(t):
        return (t * c2 - (1 - t) * a2) / ((1 - t) ** 2 * a2 + t * t * c2)

    def velocity(t, x):
        return m1 + A(t) * (x - t * m1)

    def divergence(t, x):
        return xp.zeros(x.shape[:1], dtype=x.dtype) + d * A(t)

    def U0(x):
        return 0.5 * xp.sum(x * x, axis=-1) / a2

    def U1(x):
        return 0.5 * xp.sum((x - m1) ** 2, axis=-1) / c2

    return velocity, divergence, U0, U1


class EscortedWorks:
    """``flow_works``: n walkers in d = 2 through 100 RK4 steps (one compiled program on JAX, a Python loop elsewhere);
    ``track_first_call`` is the first call's wall time with fresh fields (compilation included on JAX)."""

    params = (BACKENDS, [10**3, 10**4, 10**5])
    param_names = ["backend", "n"]
    n_steps = 100

    def setup(self, backend, n):
        from transportkit import free_energy as fe

        self.fe = fe
        self.be = be = backend_or_skip(backend)
        self.x = be.asarray(np.random.default_rng(0).normal(size=(n, 2)))
        self.fields = isotropic_transport(be, 2)
        block(fe.flow_works(*self.fields, self.x, steps=self.n_steps)[0])  # warm-up: compile once

    def time_flow_works(self, backend, n):
        block(self.fe.flow_works(*self.fields, self.x, steps=self.n_steps)[0])

    def track_first_call(self, backend, n):
        import time

        fields = isotropic_transport(self.be, 2)  # new functions: a new compiled program
        start = time.perf_counter()
        block(self.fe.flow_works(*fields, self.x, steps=self.n_steps)[0])
        return time.perf_counter() - start

    track_first_call.unit = "seconds"
