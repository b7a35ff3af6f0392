"""Neural conservation laws: a density path and a flux that satisfy the continuity equation by construction.

Following Hua, Vanden-Eijnden, Chen et al. (2025, "Simulation-free differential dynamics through neural conservation
laws", UAI, arXiv 2506.18604), the density ``ρ_t`` and the flux ``j_t`` are parametrized jointly so that

    ∂_t ρ + ∇·j = 0                                                               (continuity)

holds exactly for every parameter value; the diffusion ``dX = u dt + g dW`` with ``u = (j + ½g²∇ρ)/ρ`` then has
marginals ``ρ_t`` and can be trained by maximum likelihood on time-stamped samples without simulating it.

The construction here is autoregressive. Coordinate ``i`` has the conditional CDF
``F_i(t, x_i | x_{<i}) = Σ_k w_k σ((x_i − a_k)/e^{c_k})`` (a mixture of ``K`` logistic laws whose weights,
locations and log-scales are an MLP of ``(t, x_{<i})``), so ``ρ = Π_i ∂_{x_i}F_i`` is a normalized density. The
flux is built up one coordinate at a time: with ``J`` the flux of the first ``i − 1`` coordinates' marginal
``ρ_{<i}``,

    J_l ← J_l ρ_i  (l < i),    J_i = −ρ_{<i} ∂_t F_i − Σ_{l<i} J_l ∂_{x_l} F_i,

starting from ``J_1 = −∂_t F_1``; differentiating shows ``∂_t(ρ_{<i}ρ_i) + Σ_{l≤i} ∂_l J_l = 0`` at every stage
(the derivation is in docs/fokker_planck.md). The derivatives of the CDFs come from the backend's autodiff, so the
class needs ``value_and_grad`` (torch, jax). The flux is fixed by the CDFs: no divergence-free ("spurious") part
can be added, so the paper's regularizer of it is not needed for this family.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import get_backend
from .._capabilities import declare
from .._validation import as_count, as_points, as_real
from ..random import SEED_DEPRECATED, resolve_rng

__all__ = ["ConservationLaw"]


def _softplus(z: Any, xp: Any) -> Any:
    return xp.maximum(z, 0.0) + xp.log1p(xp.exp(-xp.abs(z)))


@declare(needs=("value_and_grad",), name="tk.fokker_planck.ConservationLaw")
class ConservationLaw:
    """A density path ``ρ_t`` on ``R^dim`` with a flux ``j_t`` obeying ``∂_tρ + ∇·j = 0`` exactly (module docstring).

    Parameters
    ----------
    dim : int
        dimension.
    n_components : int
        logistic components ``K`` per conditional CDF.
    hidden : tuple of int
        hidden widths of each coordinate's MLP (input ``(t, x_{<i})``, output ``3K``).
    g : float
        noise level of the induced diffusion ``dX = u dt + g dW`` (0: the deterministic flow ``u = j/ρ``).
    rng, backend
        initialization stream (SPEC 7) and backend (needs ``value_and_grad``: torch or jax).
    """

    def __init__(self, dim: int, n_components: int = 8, hidden: tuple[int, ...] = (32, 32), *, g: float = 0.0,
                 rng: Any = None, seed: Any = SEED_DEPRECATED, backend: Any = None) -> None:
        self.dim = as_count("dim", dim)
        self.k = as_count("n_components", n_components)
        self.hidden = tuple(as_count("hidden", h) for h in hidden)
        self.g = as_real("g", g, low=0.0)
        self.backend = be = get_backend(backend)
        self._vg = be.require("value_and_grad")
        gen = resolve_rng(rng, be, seed=seed)
        params: dict[str, Any] = {}
        for i in range(self.dim):
            sizes = [1 + i, *self.hidden, 3 * self.k]
            for layer in range(len(sizes) - 1):
                a, b = sizes[layer], sizes[layer + 1]
                params[f"W{i}_{layer}"] = gen.normal((a, b)) * math.sqrt(1.0 / a)
                params[f"c{i}_{layer}"] = be.xp.zeros((b,), dtype=be.dtype, device=be.device)
            # spread the initial locations so that the first fit starts from a broad mixture
            last = len(sizes) - 2
            params[f"c{i}_{last}"] = be.xp.concat([
                be.xp.zeros((self.k,), dtype=be.dtype),
                be.asarray([4.0 * (j / max(self.k - 1, 1) - 0.5) for j in range(self.k)]),
                be.xp.zeros((self.k,), dtype=be.dtype),
            ])
        self.params = params
        self.history: list[float] = []

    # ------------------------------------------------------------------------------------ the parametrization
    def _mixture(self, params: dict[str, Any], i: int, t: Any, x: Any) -> tuple[Any, Any, Any]:
        """Log-weights, locations and scales of coordinate ``i``'s conditional law at ``(t, x_{<i})``."""
        xp = self.backend.xp
        h = xp.concat([t[:, None], x[:, :i]], axis=1)
        n_layers = len(self.hidden) + 1
        for layer in range(n_layers):
            h = h @ params[f"W{i}_{layer}"] + params[f"c{i}_{layer}"]
            if layer < n_layers - 1:
                h = xp.tanh(h)
        k = self.k
        alpha = h[:, :k]
        logw = alpha - (xp.max(alpha, axis=1, keepdims=True)
                        + xp.log(xp.sum(xp.exp(alpha - xp.max(alpha, axis=1, keepdims=True)), axis=1, keepdims=True)))
        return logw, h[:, k:2 * k], h[:, 2 * k:]

    def _cdf(self, params: dict[str, Any], i: int, t: Any, x: Any) -> Any:
        xp = self.backend.xp
        logw, a, c = self._mixture(params, i, t, x)
        z = (x[:, i:i + 1] - a) * xp.exp(-c)
        return xp.sum(xp.exp(logw) * (0.5 + 0.5 * xp.tanh(z / 2)), axis=1)

    def _log_cond(self, params: dict[str, Any], i: int, t: Any, x: Any) -> Any:
        """``log ∂_{x_i} F_i``: log-sum-exp of ``log w_k − c_k + log σ'(z_k)``, ``log σ'(z) = −softplus(z) −
        softplus(−z)``."""
        xp = self.backend.xp
        logw, a, c = self._mixture(params, i, t, x)
        z = (x[:, i:i + 1] - a) * xp.exp(-c)
        terms = logw - c - _softplus(z, xp) - _softplus(-z, xp)
        m = xp.max(terms, axis=1, keepdims=True)
        return m[:, 0] + xp.log(xp.sum(xp.exp(terms - m), axis=1))

    def _log_density(self, params: dict[str, Any], t: Any, x: Any) -> Any:
        out = self._log_cond(params, 0, t, x)
        for i in range(1, self.dim):
            out = out + self._log_cond(params, i, t, x)
        return out

    def _inputs(self, t: Any, x: Any) -> tuple[Any, Any]:
        be = self.backend
        x = as_points("x", x, be, dim=self.dim)
        tt = be.asarray(t)
        if tt.ndim == 0:
            tt = tt * be.xp.ones((x.shape[0],), dtype=x.dtype)
        if tt.shape != (x.shape[0],):
            raise ValueError(f"t must be a scalar or have shape ({x.shape[0]},), got {tuple(tt.shape)}")
        return tt, x

    # ------------------------------------------------------------------------------------ public face
    def log_density(self, t: Any, x: Any) -> Any:
        """``log ρ_t(x)`` for rows ``x``; ``t`` a scalar or one time per row."""
        tt, x = self._inputs(t, x)
        return self._log_density(self.params, tt, x)

    def density(self, t: Any, x: Any) -> Any:
        """``ρ_t(x)``."""
        return self.backend.xp.exp(self.log_density(t, x))

    def _flux(self, params: dict[str, Any], t: Any, x: Any) -> Any:
        xp = self.backend.xp
        cols: list[Any] = []
        rho_prev = None
        for i in range(self.dim):

            def total_cdf(tt: Any, xx: Any, i: int = i) -> Any:
                return xp.sum(self._cdf(params, i, tt, xx))

            _, (dfdt, dfdx) = self._vg(total_cdf, argnums=(0, 1))(t, x)
            if i == 0:
                cols = [-dfdt]
            else:
                rho_i = xp.exp(self._log_cond(params, i, t, x))
                ji = -rho_prev * dfdt
                for l_, jl in enumerate(cols):
                    ji = ji - jl * dfdx[:, l_]
                cols = [jl * rho_i for jl in cols] + [ji]
            rho_prev = xp.exp(self._log_cond(params, i, t, x)) if i == 0 else rho_prev * xp.exp(
                self._log_cond(params, i, t, x))
        return xp.stack(cols, axis=1)

    def flux(self, t: Any, x: Any) -> Any:
        """The flux ``j_t(x)``, shape ``(n, dim)``, with ``∂_tρ + ∇·j = 0`` by construction."""
        tt, x = self._inputs(t, x)
        return self._flux(self.params, tt, x)

    def drift(self, t: Any, x: Any) -> Any:
        """``u = (j + ½g²∇ρ)/ρ`` (``j/ρ + ½g²∇log ρ``): the drift of ``dX = u dt + g dW`` whose marginals are ρ_t."""
        xp = self.backend.xp
        tt, x = self._inputs(t, x)
        params = self.params
        logp = self._log_density(params, tt, x)
        u = self._flux(params, tt, x) / xp.exp(logp)[:, None]
        if self.g > 0:
            _, gl = self._vg(lambda xx: xp.sum(self._log_density(params, tt, xx)))(x)
            u = u + 0.5 * self.g ** 2 * gl
        return u

    def fit(self, t: Any, x: Any, *, steps: int = 500, lr: float = 1e-2, batch: int | None = None,
            rng: Any = None) -> ConservationLaw:
        """Maximum likelihood on time-stamped samples ``(t_n, x_n)``: minimize ``−mean log ρ_{t_n}(x_n)`` with Adam
        (no simulation of the dynamics). Returns ``self`` with ``params`` and ``history`` (the loss every 50 steps)."""
        from ..interpolants.mlp import adam

        be = self.backend
        tt, x = self._inputs(t, x)
        steps = as_count("steps", steps)
        lr = as_real("lr", lr, low=0.0, low_open=True)
        n = x.shape[0]
        bsz = n if batch is None else as_count("batch", batch, high=n)
        gen = resolve_rng(rng, be)

        def batches(i: int) -> tuple[Any, Any]:
            if bsz == n:
                return tt, x
            idx = gen.integers(0, n, (bsz,))
            return be.xp.take(tt, idx, axis=0), be.xp.take(x, idx, axis=0)

        def loss(params: dict[str, Any], b: tuple[Any, Any]) -> Any:
            return -be.xp.mean(self._log_density(params, b[0], b[1]))

        self.params, hist = adam(be, loss, self.params, batches, steps=steps, lr=lr)
        self.history = self.history + hist
        return self

    def __repr__(self) -> str:
        return f"ConservationLaw(dim={self.dim}, n_components={self.k}, hidden={self.hidden}, g={self.g})"
