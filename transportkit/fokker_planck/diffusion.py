"""The diffusion matrix ``D`` of ``dX = b dt + √(2D) dW``: a positive scalar or a symmetric positive-definite matrix."""

from __future__ import annotations

import math
import numbers
from typing import Any

from .._validation import as_real

__all__ = ["Diffusion"]


class Diffusion:
    """``D`` on one backend: products ``D v``, ``D⁻¹ v``, ``D W`` and the checks of the public entries."""

    def __init__(self, D: Any, dim: int, be: Any) -> None:
        xp = be.xp
        self.xp = xp
        if isinstance(D, numbers.Real) or getattr(D, "ndim", None) == 0:
            self.scalar = as_real("D", D, low=0.0, low_open=True)
            self.matrix = None
            return
        m = be.asarray(D)
        if m.ndim != 2 or m.shape != (dim, dim):
            raise ValueError(f"D must be a positive number or a ({dim}, {dim}) matrix, got shape {tuple(m.shape)}")
        if not bool(xp.all(xp.isfinite(m))) or not bool(xp.all(xp.abs(m - m.T) <= 1e-12 * xp.max(xp.abs(m)))):
            raise ValueError("D must be a finite symmetric matrix")
        if not bool(xp.all(xp.linalg.eigvalsh(m) > 0)):
            raise ValueError("D must be positive definite")
        self.scalar = None
        self.matrix = m
        self.inverse = xp.linalg.inv(m)

    def apply(self, v: Any) -> Any:
        """``D v`` for rows ``v`` of shape ``(n, d)``."""
        return v * self.scalar if self.matrix is None else v @ self.matrix

    def solve(self, v: Any) -> Any:
        """``D⁻¹ v`` for rows ``v``."""
        return v / self.scalar if self.matrix is None else v @ self.inverse

    def times_coef(self, w: Any) -> Any:
        """``D W`` for a coefficient matrix ``W`` of shape ``(d, p)``."""
        return w * self.scalar if self.matrix is None else self.matrix @ w

    def noise_scale(self) -> Any:
        """``√(2D)`` (a float, or the Cholesky factor of ``2D``)."""
        if self.matrix is None:
            return math.sqrt(2 * self.scalar)
        return self.xp.linalg.cholesky(2 * self.matrix)
