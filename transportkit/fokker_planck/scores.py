"""Score models fitted in closed form by implicit score matching, on every backend.

A feature score is ``s(x) = W φ(x)`` with features ``φ = [cos(Ωx + c)·√(2/m), x, 1]`` (``m`` random Fourier
features, Rahimi & Recht 2007, plus the linear ones). Hyvärinen's implicit score-matching loss (Hyvärinen 2005,
JMLR 6, 695)

    L(W) = E|W φ(X)|² + 2 E[∇·(W φ)(X)] = tr(W G Wᵀ) + 2 tr(W H),   G = E[φ φᵀ],  H_{ka} = E[∂_a φ_k],

is quadratic in ``W``, so its minimizer is one linear solve: ``Wᵀ = −(G + λ I)⁻¹ H``. With the linear features
alone this is the score of the Gaussian fitted to the samples, exact for Gaussian densities (linear drifts);
Fourier features add non-Gaussian shape. This is the "random features + least squares" score of the
score-based transport model (Boffi & Vanden-Eijnden 2023, Mach. Learn.: Sci. Technol. 4 035012, arXiv 2206.04642),
written with Array API operations only, so that it is traceable inside a compiled time loop.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .._validation import as_count, as_real

__all__ = ["BoundFeatureScore", "FeatureScore"]


@dataclasses.dataclass(frozen=True)
class FeatureScore:
    """A linear-in-parameters score model ``s(x) = W φ(x)`` fitted by implicit score matching in closed form.

    Parameters
    ----------
    n_features : int
        number ``m`` of random Fourier features ``√(2/m) cos(ω·x + c)`` (0: linear features only, the Gaussian
        score — exact for linear drifts and Gaussian initial laws).
    bandwidth : float
        length scale ``ℓ`` of the Fourier features: ``ω ~ N(0, ℓ⁻² I)``, ``c ~ U[0, 2π)``.
    ridge : float
        Tikhonov regularization ``λ`` relative to ``tr(G)/dim(G)``.
    """

    n_features: int = 0
    bandwidth: float = 1.0
    ridge: float = 1e-10

    def __post_init__(self) -> None:
        as_count("n_features", self.n_features, low=0)
        as_real("bandwidth", self.bandwidth, low=0.0, low_open=True)
        as_real("ridge", self.ridge, low=0.0)

    def bind(self, be: Any, dim: int, gen: Any) -> BoundFeatureScore:
        """The model on backend ``be`` for ``dim`` coordinates (Fourier frequencies drawn from ``gen``)."""
        m = self.n_features
        if m:
            omega = gen.normal((m, dim)) / self.bandwidth
            phase = gen.uniform((m,)) * (2 * math.pi)
        else:
            omega = phase = None
        return BoundFeatureScore(be.xp, dim, omega, phase, self.ridge)


class BoundFeatureScore:
    """A :class:`FeatureScore` with its frequencies drawn: ``fit``, ``score`` and ``divergence`` on one backend.

    The coefficients ``W`` (shape ``(dim, m + dim + 1)``) are plain arrays passed in and out, so a compiled time
    loop carries them."""

    def __init__(self, xp: Any, dim: int, omega: Any, phase: Any, ridge: float) -> None:
        self.xp, self.dim, self.omega, self.phase, self.ridge = xp, dim, omega, phase, ridge
        self.m = 0 if omega is None else omega.shape[0]

    def features(self, x: Any) -> Any:
        """``φ(x)``, shape ``(n, m + dim + 1)``."""
        xp = self.xp
        parts = []
        if self.m:
            parts.append(math.sqrt(2.0 / self.m) * xp.cos(x @ self.omega.T + self.phase))
        parts += [x, xp.ones((x.shape[0], 1), dtype=x.dtype, device=getattr(x, "device", None))]
        return xp.concat(parts, axis=1)

    def fit(self, x: Any) -> Any:
        """The implicit score-matching minimizer ``W`` on the samples ``x`` (one ``(p, p)`` solve, p = m + d + 1)."""
        xp = self.xp
        n, d = x.shape
        phi = self.features(x)
        p = phi.shape[1]
        g = phi.T @ phi / n
        eye = xp.eye(p, dtype=x.dtype)
        lin = xp.concat([xp.zeros((self.m, d), dtype=x.dtype), xp.eye(d, dtype=x.dtype),
                         xp.zeros((1, d), dtype=x.dtype)], axis=0)
        if self.m:
            s = -math.sqrt(2.0 / self.m) * xp.mean(xp.sin(x @ self.omega.T + self.phase), axis=0)
            rff = s[:, None] * self.omega
            lin = lin + xp.concat([rff, xp.zeros((d + 1, d), dtype=x.dtype)], axis=0)
        lam = self.ridge * xp.linalg.trace(g) / p
        wt = -xp.linalg.solve(g + lam * eye, lin)
        return wt.T

    def score(self, w: Any, x: Any) -> Any:
        """``s(x) = W φ(x)``, shape ``(n, dim)``."""
        return self.features(x) @ w.T

    def divergence(self, m_coef: Any, x: Any) -> Any:
        """``∇·(M φ)(x)`` for coefficients ``M`` of shape ``(dim, p)`` (pass ``M = D W`` for ``∇·(D s)``)."""
        xp = self.xp
        d = self.dim
        lin = m_coef[:, self.m:self.m + d]
        div = xp.linalg.trace(lin) * xp.ones((x.shape[0],), dtype=x.dtype)
        if self.m:
            c = xp.sum(m_coef[:, :self.m].T * self.omega, axis=1)
            div = div - math.sqrt(2.0 / self.m) * (xp.sin(x @ self.omega.T + self.phase) @ c)
        return div
