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
