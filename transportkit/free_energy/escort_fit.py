r"""Escort drifts for FEAT (:func:`transportkit.free_energy.feat`), learned from samples of both end states with the
linear stochastic interpolant :math:`x_t = (1-t)x_a + t x_b` (independent coupling) by minimizing
:math:`E|\hat b(t, x_t) - (x_b - x_a)|^2` over :math:`t \sim U[0, 1]`, :math:`x_a \sim \hat\rho_a`,
:math:`x_b \sim \hat\rho_b` (Albergo, Boffi & Vanden-Eijnden 2023, "Stochastic interpolants", arXiv:2303.08797;
He et al. 2025, "FEAT", arXiv:2504.11516).

- :func:`fit_linear_escort`: :math:`\hat b(t, x) = \sum_k P_k(t)\,(xW_k + c_k)` with shifted Legendre polynomials
  :math:`P_k`. The loss is quadratic in the parameters and, because the features are linear in :math:`x`, its
  expectation over *all* pairs of the two sample sets and all :math:`t` depends only on the empirical first and
  second moments and on polynomial integrals in :math:`t` (Gauss–Legendre quadrature, exact): the normal equations
  are assembled in closed form, with no Monte-Carlo pairs (``pairs=None``; an int draws that many random pairs).
- :func:`fit_mlp_escort`: the MLP of :mod:`transportkit.interpolants.mlp`, Adam on the same loss (torch, jax).

Both carry the score :math:`s_t(x) = -(x - \mu_t)\Sigma_t^{-1}` of the moment-matched Gaussian interpolant.
"""

from __future__ import annotations

import math
from typing import Any

from .._backend import Backend
from ..numerics import legendre_shifted
from .diagnostics import Array

__all__ = ["LinearEscort", "fit_linear_escort", "fit_mlp_escort"]


class LinearEscort:
    r"""A fitted drift :math:`b(t, x) = \sum_k P_k(t)\,[x, 1]\,\Theta_k` and the Gaussian interpolant score
    :math:`s_t(x) = -(x - \mu_t)\Sigma_t^{-1}` (see the module docstring). ``theta``: (K, d + 1, d)."""

    def __init__(self, theta: Array, m_a: Array, C_a: Array, m_b: Array, C_b: Array, be: Backend) -> None:
        self.theta, self.m_a, self.C_a, self.m_b, self.C_b, self.be = theta, m_a, C_a, m_b, C_b, be
        self.degree = int(theta.shape[0]) - 1

    def without_drift(self) -> LinearEscort:
        """The same score with :math:`b = 0`: the unescorted (annealed-Langevin) reference process."""
        return LinearEscort(0.0 * self.theta[:1, ...], self.m_a, self.C_a, self.m_b, self.C_b, self.be)

    def affine(self, t: Any) -> tuple[Any, Any]:
        """``(A, c)`` with :math:`b(t, x) = xA + c` (row vectors): ``A`` (d, d), ``c`` (d,)."""
        P = legendre_shifted(t, self.degree)
        M = P[0] * self.theta[0, ...]
        for k in range(1, self.degree + 1):
            M = M + P[k] * self.theta[k, ...]
        return M[:-1, :], M[-1, :]

    def velocity(self, t: Any, x: Any) -> Any:
        A, c = self.affine(t)
        return x @ A + c

    def score(self, t: Any, x: Any) -> Any:
        xp = self.be.xp
        mu = (1.0 - t) * self.m_a + t * self.m_b
        S = (1.0 - t) ** 2 * self.C_a + t**2 * self.C_b
        return -((x - mu) @ xp.linalg.inv(S))  # S is symmetric (d x d): one small inverse, then a matmul


def _moments(x: Array, xp: Any) -> tuple[Array, Array]:
    m = xp.mean(x, axis=0)
    y = x - m
    return m, (xp.matrix_transpose(y) @ y) / (x.shape[0] - 1)


def gauss_legendre01(n: int) -> tuple[list[float], list[float]]:
    """Nodes and weights of the n-point Gauss–Legendre rule on [0, 1] (Newton on :math:`P_n`; exact for
    polynomials of degree :math:`2n - 1`)."""
    nodes, weights = [], []
    for i in range(1, n + 1):
        x = math.cos(math.pi * (i - 0.25) / (n + 0.5))
        for _ in range(100):
            p0, p1 = 1.0, x
            for k in range(2, n + 1):
                p0, p1 = p1, ((2 * k - 1) * x * p1 - (k - 1) * p0) / k
            dp = n * (x * p1 - p0) / (x * x - 1.0)
            dx = p1 / dp
            x -= dx
            if abs(dx) < 1e-15:
                break
        nodes.append(0.5 * (1.0 - x))
        weights.append(1.0 / ((1.0 - x * x) * dp * dp))
    return nodes, weights


def _normal_equations_exact(xa: Array, xb: Array, be: Backend, degree: int) -> tuple[Array, Array]:
    r""":math:`G = E[\phi\phi^\top]`, :math:`r = E[\phi(x_b - x_a)^\top]` for :math:`\phi = P(t) \otimes [x_t, 1]`
    over the product of the two empirical measures and :math:`t \sim U[0, 1]`: given :math:`t`,
    :math:`E[x_tx_t^\top] = (1-t)^2S_a + t^2S_b + t(1-t)(m_am_b^\top + m_bm_a^\top)` and
    :math:`E[x_t(x_b - x_a)^\top] = (1-t)(m_am_b^\top - S_a) + t(S_b - m_bm_a^\top)` (:math:`S` the uncentered
    second moments); the time integrals are polynomial of degree :math:`2K + 2`, done exactly by quadrature."""
    xp = be.xp
    d = xa.shape[1]
    m_a, m_b = xp.mean(xa, axis=0), xp.mean(xb, axis=0)
    S_a, S_b = (xp.matrix_transpose(xa) @ xa) / xa.shape[0], (xp.matrix_transpose(xb) @ xb) / xb.shape[0]
    ab = m_a[:, None] * m_b[None, :]
    ba = xp.matrix_transpose(ab)
    K = degree + 1
    nodes, weights = gauss_legendre01(degree + 2)
    G4 = R3 = 0.0
    for t, w in zip(nodes, weights, strict=True):
        mu = (1.0 - t) * m_a + t * m_b
        S = (1.0 - t) ** 2 * S_a + t * t * S_b + t * (1.0 - t) * (ab + ba)
        Ez = xp.concat([xp.concat([S, mu[:, None]], axis=1), xp.concat([mu, xp.ones_like(mu[:1])])[None, :]], axis=0)
        Er = xp.concat([(1.0 - t) * (ab - S_a) + t * (S_b - ba), (m_b - m_a)[None, :]], axis=0)  # (d+1, d)
        P = xp.asarray([float(p) for p in legendre_shifted(t, degree)], dtype=xa.dtype, device=be.device)
        G4 = G4 + w * (P[:, None, None, None] * Ez[None, :, None, :]) * P[None, None, :, None]
        R3 = R3 + w * P[:, None, None] * Er[None, :, :]
    return xp.reshape(G4, (K * (d + 1), K * (d + 1))), xp.reshape(R3, (K * (d + 1), d))


def fit_linear_escort(
    xa: Array, xb: Array, be: Backend, gen: Any, *, degree: int = 7, pairs: int | None = None, ridge: float = 1e-8
) -> LinearEscort:
    r"""Least-squares fit of the linear-in-parameters interpolant velocity (module docstring): with
    ``pairs=None`` the normal equations are the exact expectation over all pairs of ``xa`` and ``xb`` and all
    :math:`t` (:func:`_normal_equations_exact`); an int ``pairs`` uses that many random pairs
    :math:`(x_a, x_b, t)`, :math:`t \sim U[0, 1]`, instead. Relative ridge ``ridge`` (times the mean diagonal)."""
    xp = be.xp
    d = xa.shape[1]
    if pairs is None:
        G, r = _normal_equations_exact(xa, xb, be, degree)
    else:
        a = xp.take(xa, gen.integers(0, xa.shape[0], (pairs,)), axis=0)
        b = xp.take(xb, gen.integers(0, xb.shape[0], (pairs,)), axis=0)
        t = gen.uniform((pairs,))
        xt = (1.0 - t)[:, None] * a + t[:, None] * b
        z = xp.concat([xt, xp.ones((pairs, 1), dtype=xa.dtype, device=be.device)], axis=1)  # (m, d+1)
        Phi = xp.concat([p[:, None] * z for p in legendre_shifted(t, degree)], axis=1)  # (m, K(d+1))
        G, r = xp.matrix_transpose(Phi) @ Phi / pairs, xp.matrix_transpose(Phi) @ (b - a) / pairs
    scale = xp.mean(xp.linalg.diagonal(G))
    G = G + ridge * scale * xp.eye(G.shape[0], dtype=G.dtype, device=be.device)
    theta = xp.reshape(xp.linalg.solve(G, r), (degree + 1, d + 1, d))
    m_a, C_a = _moments(xa, xp)
    m_b, C_b = _moments(xb, xp)
    return LinearEscort(theta, m_a, C_a, m_b, C_b, be)


class _MLPEscort(LinearEscort):
    """The Gaussian score of :class:`LinearEscort` with an MLP drift (not affine: the ``"em"`` scheme)."""

    affine = None  # type: ignore[assignment]

    def __init__(self, params: dict[str, Any], moments: LinearEscort) -> None:
        self.params = params
        self.m_a, self.C_a, self.m_b, self.C_b, self.be = (
            moments.m_a, moments.C_a, moments.m_b, moments.C_b, moments.be,
        )  # fmt: skip

    def velocity(self, t: Any, x: Any) -> Any:
        from ..interpolants.mlp import mlp_apply

        xp = self.be.xp
        return mlp_apply(self.params, xp.asarray(t, dtype=x.dtype, device=self.be.device), x, xp)


def fit_mlp_escort(
    xa: Array, xb: Array, be: Backend, gen: Any, hidden: tuple[int, ...], train_steps: int, lr: float, batch: int
) -> _MLPEscort:
    from ..interpolants.mlp import adam, init_mlp, mlp_apply

    xp = be.xp
    d = xa.shape[1]
    params = init_mlp(d, hidden, 4, rng=int(be.to_numpy(gen.integers(0, 2**31))), backend=be)

    def batches(i: int) -> tuple[Array, Array, Array]:
        a = xp.take(xa, gen.integers(0, xa.shape[0], (batch,)), axis=0)
        b = xp.take(xb, gen.integers(0, xb.shape[0], (batch,)), axis=0)
        return gen.uniform((batch,)), a, b

    def loss(p: dict[str, Any], bt: tuple[Array, Array, Array]) -> Any:
        t, a, b = bt
        xt = (1.0 - t)[:, None] * a + t[:, None] * b
        r = mlp_apply(p, t, xt, xp) - (b - a)
        return xp.mean(xp.sum(r * r, axis=1))

    params, _ = adam(be, loss, params, batches, steps=train_steps, lr=lr)
    m_a, C_a = _moments(xa, xp)
    m_b, C_b = _moments(xb, xp)
    return _MLPEscort(params, LinearEscort(xp.zeros((1, d + 1, d), dtype=xa.dtype), m_a, C_a, m_b, C_b, be))
