r"""Units :math:`\varphi(x; w)` of shallow networks, with analytic gradients in the parameters ``w``.

Every unit works on a batch of inputs ``X`` of shape ``(B, d)`` and a population of ``n`` parameter vectors
``W`` of shape ``(n, p)``:

- :meth:`Unit.features` returns :math:`\Phi_{bi} = \varphi(x_b; w_i)`, shape ``(B, n)``;
- :meth:`Unit.vjp` returns :math:`\sum_b G_{bi} \nabla_w \varphi(x_b; w_i)`, shape ``(n, p)``, for weights
  ``G`` of shape ``(B, n)`` -- the only contraction the particle dynamics needs (no ``(B, n, p)`` array);
- :meth:`Unit.jacobian` returns the full :math:`\nabla_w \varphi(x_b; w_i)`, shape ``(B, n, p)`` (tests).

Ridge units are :math:`\varphi(x; w) = \sigma(w \cdot x)` (with ``bias=True`` the last entry of ``w`` is a bias,
:math:`\sigma(w_{:d} \cdot x + w_d)`), so :math:`\nabla_w \varphi = \sigma'(w\cdot x)\,x`. The Gaussian unit is
:math:`\varphi(x; z) = \exp(-|x - z|^2 / 2s^2)` with :math:`\nabla_z \varphi = \varphi\,(x - z)/s^2`; with ``x`` and
``z`` on the sphere of radius :math:`R` it is the "unit on the sphere" :math:`\exp((x\cdot z - R^2)/s^2)`.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Gaussian", "Quadratic", "ReLU", "Ridge", "Sigmoid", "Tanh", "Unit", "get_unit"]


class Unit:
    """Base class: a unit :math:`\\varphi(x; w)` with ``w`` in :math:`\\mathbb{R}^p`."""

    name: str = "unit"

    def n_params(self, d: int) -> int:
        """The number ``p`` of parameters of one unit acting on inputs of dimension ``d``."""
        return d

    def features(self, X: Any, W: Any, xp: Any) -> Any:
        raise NotImplementedError

    def vjp(self, X: Any, W: Any, G: Any, xp: Any) -> Any:
        raise NotImplementedError

    def jacobian(self, X: Any, W: Any, xp: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Ridge(Unit):
    """:math:`\\varphi(x; w) = \\sigma(w \\cdot x)` (``bias=True``: :math:`\\sigma(w_{:d}\\cdot x + w_d)`)."""

    name = "ridge"

    def __init__(self, bias: bool = False):
        self.bias = bool(bias)

    def n_params(self, d: int) -> int:
        return d + 1 if self.bias else d

    def sigma(self, z: Any, xp: Any) -> Any:
        raise NotImplementedError

    def dsigma(self, z: Any, xp: Any) -> Any:
        raise NotImplementedError

    def _pre(self, X: Any, W: Any, xp: Any) -> Any:
        d = X.shape[1]
        if W.shape[1] != self.n_params(d):
            raise ValueError(f"{self!r}: W has {W.shape[1]} columns, expected {self.n_params(d)} for d={d}")
        if self.bias:
            return X @ xp.matrix_transpose(W[:, :d]) + W[:, d]
        return X @ xp.matrix_transpose(W)

    def features(self, X: Any, W: Any, xp: Any) -> Any:
        return self.sigma(self._pre(X, W, xp), xp)

    def vjp(self, X: Any, W: Any, G: Any, xp: Any) -> Any:
        Gs = G * self.dsigma(self._pre(X, W, xp), xp)  # (B, n)
        out = xp.matrix_transpose(Gs) @ X  # (n, d)
        if self.bias:
            out = xp.concat([out, xp.sum(Gs, axis=0)[:, None]], axis=1)
        return out

    def jacobian(self, X: Any, W: Any, xp: Any) -> Any:
        ds = self.dsigma(self._pre(X, W, xp), xp)  # (B, n)
        Xa = X
        if self.bias:
            Xa = xp.concat([X, xp.ones((X.shape[0], 1), dtype=X.dtype, device=X.device)], axis=1)
        return ds[:, :, None] * Xa[:, None, :]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(bias={self.bias})"


class ReLU(Ridge):
    """:math:`\\sigma(z) = \\max(z, 0)`, :math:`\\sigma'(z) = 1_{z > 0}`."""

    name = "relu"

    def sigma(self, z, xp):
        return xp.maximum(z, xp.zeros_like(z))

    def dsigma(self, z, xp):
        return xp.astype(z > 0, z.dtype)


class Tanh(Ridge):
    """:math:`\\sigma(z) = \\tanh z`, :math:`\\sigma'(z) = 1 - \\tanh^2 z`."""

    name = "tanh"

    def sigma(self, z, xp):
        return xp.tanh(z)

    def dsigma(self, z, xp):
        t = xp.tanh(z)
        return 1.0 - t * t


class Sigmoid(Ridge):
    """:math:`\\sigma(z) = 1/(1 + e^{-z})`, :math:`\\sigma' = \\sigma(1 - \\sigma)` (overflow-free form)."""

    name = "sigmoid"

    def sigma(self, z, xp):
        e = xp.exp(-xp.abs(z))
        return xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))

    def dsigma(self, z, xp):
        s = self.sigma(z, xp)
        return s * (1.0 - s)


class Quadratic(Ridge):
    """:math:`\\sigma(z) = z^2`, :math:`\\sigma'(z) = 2z` (the quadratic-activation network
    of Sarao Mannelli, Vanden-Eijnden & Zdeborová, NeurIPS 2020)."""

    name = "quadratic"

    def sigma(self, z, xp):
        return z * z

    def dsigma(self, z, xp):
        return 2.0 * z


class Gaussian(Unit):
    """:math:`\\varphi(x; z) = h\\exp(-|x - z|^2 / 2s^2)`, :math:`\\nabla_z\\varphi = \\varphi\\,(x - z)/s^2`.

    Parameters
    ----------
    width
        the length scale ``s > 0``.
    height
        the constant factor ``h > 0`` (default 1).
    """

    name = "gaussian"

    def __init__(self, width: float = 1.0, height: float = 1.0):
        width, height = float(width), float(height)
        if not (width > 0 and math.isfinite(width)):
            raise ValueError(f"Gaussian unit needs width > 0, got {width}")
        if not (height > 0 and math.isfinite(height)):
            raise ValueError(f"Gaussian unit needs height > 0, got {height}")
        self.width, self.height = width, height

    def _sq(self, X, W, xp):
        if W.shape[1] != X.shape[1]:
            raise ValueError(f"{self!r}: W has {W.shape[1]} columns, expected d={X.shape[1]}")
        x2 = xp.sum(X * X, axis=1)[:, None]
        w2 = xp.sum(W * W, axis=1)[None, :]
        return xp.clip(x2 + w2 - 2.0 * (X @ xp.matrix_transpose(W)), min=0.0)

    def features(self, X, W, xp):
        return self.height * xp.exp(-self._sq(X, W, xp) / (2.0 * self.width**2))

    def vjp(self, X, W, G, xp):
        GP = G * self.features(X, W, xp)  # (B, n)
        return (xp.matrix_transpose(GP) @ X - xp.sum(GP, axis=0)[:, None] * W) / self.width**2

    def jacobian(self, X, W, xp):
        P = self.features(X, W, xp)
        return P[:, :, None] * (X[:, None, :] - W[None, :, :]) / self.width**2

    def __repr__(self) -> str:
        return f"Gaussian(width={self.width}, height={self.height})"


_UNITS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "quadratic": Quadratic, "gaussian": Gaussian}


def get_unit(unit: str | Unit, **kwargs: Any) -> Unit:
    """A :class:`Unit` from its name (``"relu"``, ``"tanh"``, ``"sigmoid"``, ``"quadratic"``, ``"gaussian"``)."""
    if isinstance(unit, Unit):
        return unit
    if unit not in _UNITS:
        raise ValueError(f"unknown unit {unit!r}; known: {sorted(_UNITS)}")
    return _UNITS[unit](**kwargs)
