r"""Nonlinear parametrizations :math:`u(x;\theta)` with analytic parameter Jacobians and spatial derivatives.

Every parametrization is a shallow network :math:`u(x;\theta) = \sum_{i=1}^m c_i\,\varphi(x;\theta_i)` and
exposes, for a flat parameter vector ``theta`` of shape ``(p,)`` and points ``x`` of shape ``(n, d)``,

- ``evaluate(theta, x, need)``: a dict with the requested entries among ``"u"`` ``(n,)``, ``"jac"``
  :math:`\partial u/\partial\theta` ``(n, p)``, ``"grad"`` :math:`\nabla_x u` ``(n, d)``, ``"lap"``
  :math:`\Delta u` ``(n,)`` and ``"dxxx"`` :math:`\partial_x^3 u` ``(n,)`` (``d = 1`` only), computed with
  shared intermediates;
- ``value``, ``jacobian``, ``gradient``, ``laplacian``, ``third_derivative`` as shortcuts.

No autodiff is used: all derivatives are closed-form (and tested against central finite differences).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from array_api_compat import array_namespace

from .._capabilities import declare

__all__ = ["AutodiffParametrization", "GaussianUnits", "Parametrization", "TanhUnits", "gaussian_density"]

_NEEDS = ("u", "jac", "grad", "lap", "dxxx")


def _check_need(need: Sequence[str], d: int) -> tuple[str, ...]:
    need = tuple(need)
    for k in need:
        if k not in _NEEDS:
            raise ValueError(f"unknown field {k!r}; choose from {_NEEDS}")
    if "dxxx" in need and d != 1:
        raise ValueError(f"the third derivative 'dxxx' is defined for d = 1 only, got d = {d}")
    return need


class Parametrization:
    r"""Base class. Subclasses set ``m`` (units), ``d`` (dimension), ``n_params`` and implement ``evaluate``.

    ``rowwise = True`` declares that ``evaluate`` also accepts per-point parameters ``theta`` of shape
    ``(n, p)`` (row :math:`j` used at point :math:`x_j`); then one reverse-mode pass of
    :math:`\sum_j f_j(\Theta_j)` gives the exact Jacobian :math:`\partial f_j/\partial\theta` of a
    pointwise right-hand side (see :func:`transportkit.galerkin.schemes.dfdtheta_autodiff`).
    """

    m: int
    d: int
    n_params: int
    rowwise: bool = False

    def evaluate(self, theta: Any, x: Any, need: Sequence[str] = ("u",)) -> dict[str, Any]:  # pragma: no cover
        raise NotImplementedError

    def value(self, theta: Any, x: Any) -> Any:
        """:math:`u(x;\\theta)`, shape ``(n,)``."""
        return self.evaluate(theta, x, ("u",))["u"]

    def jacobian(self, theta: Any, x: Any) -> Any:
        """:math:`\\partial u(x_j;\\theta)/\\partial\\theta_k`, shape ``(n, p)``."""
        return self.evaluate(theta, x, ("jac",))["jac"]

    def gradient(self, theta: Any, x: Any) -> Any:
        """:math:`\\nabla_x u`, shape ``(n, d)``."""
        return self.evaluate(theta, x, ("grad",))["grad"]

    def laplacian(self, theta: Any, x: Any) -> Any:
        """:math:`\\Delta_x u`, shape ``(n,)``."""
        return self.evaluate(theta, x, ("lap",))["lap"]

    def third_derivative(self, theta: Any, x: Any) -> Any:
        """:math:`\\partial_x^3 u` (``d = 1``), shape ``(n,)``."""
        return self.evaluate(theta, x, ("dxxx",))["dxxx"]

    def _check_inputs(self, theta: Any, x: Any) -> None:
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x must have shape (n, {self.d}), got {tuple(x.shape)}")
        ok = theta.ndim == 1 or (self.rowwise and theta.ndim == 2 and theta.shape[0] == x.shape[0])
        if not ok or theta.shape[-1] != self.n_params:
            rows = " or (n, p) per-point rows" if self.rowwise else ""
            raise ValueError(f"theta must have shape ({self.n_params},){rows}, got {tuple(theta.shape)}")


class GaussianUnits(Parametrization):
    r"""Shallow network of Gaussian units, optionally periodic and/or normalized.

    .. math::
        u(x;\theta) = \sum_{i=1}^m c_i\,N_i\,\exp\Big(-\tfrac12\sum_{k=1}^d w_{ik}^2\,q(x_k - b_{ik})\Big),

    with :math:`q(r) = r^2` (free space) or :math:`q(r) = \sin^2(\pi r/L_k)` (periodic with period
    :math:`L_k`, the domain length), and :math:`N_i = \prod_k (w_{ik}^2/2\pi)^{1/2}` when ``normalized``
    (then :math:`c_i` are masses and :math:`u` is a mixture density when :math:`c_i \ge 0`, :math:`\sum c_i=1`).
    ``widths="isotropic"`` shares one :math:`w_i` across dimensions; ``"diagonal"`` has one per dimension.

    Parameter layout: ``theta = [c (m,), w (m,) or (m, d) flattened, b (m, d) flattened]`` (``evaluate`` also
    takes per-point rows ``(n, p)``: ``rowwise``).

    Derivatives, with :math:`g = -\tfrac12\sum_k w_k^2 q_k`, :math:`g_k' = -\tfrac12 w_k^2 q'(x_k-b_k)` etc.:
    :math:`\partial u/\partial c_i = \varphi_i`,
    :math:`\partial u/\partial w_{ik} = c_i\varphi_i(-w_{ik}q_{ik} + [\text{normalized}]\,w_{ik}^{-1})`,
    :math:`\partial u/\partial b_{ik} = -c_i\varphi_i g'_{ik}`,
    :math:`\partial_k u = \sum_i c_i\varphi_i g'_{ik}`,
    :math:`\Delta u = \sum_i c_i\varphi_i\sum_k (g''_{ik} + g'^2_{ik})`,
    :math:`\partial_x^3 u = \sum_i c_i\varphi_i(g''' + 3g'g'' + g'^3)`.
    """

    def __init__(
        self,
        m: int,
        d: int = 1,
        *,
        widths: str = "isotropic",
        periodic: float | Sequence[float] | None = None,
        normalized: bool = False,
    ) -> None:
        if int(m) < 1:
            raise ValueError(f"m (number of units) must be >= 1, got {m}")
        if int(d) < 1:
            raise ValueError(f"d must be >= 1, got {d}")
        if widths not in ("isotropic", "diagonal"):
            raise ValueError(f"widths must be 'isotropic' or 'diagonal', got {widths!r}")
        self.m, self.d, self.widths, self.normalized = int(m), int(d), widths, bool(normalized)
        if periodic is not None:
            L = [float(periodic)] * self.d if isinstance(periodic, (int, float)) else [float(v) for v in periodic]
            if len(L) != self.d or any(not (v > 0) for v in L):
                raise ValueError(f"periodic must be a positive length or d = {self.d} lengths, got {periodic}")
            if normalized:
                raise ValueError("normalized units are free-space Gaussians: use periodic=None")
            self.periods: list[float] | None = L
        else:
            self.periods = None
        self.n_w = self.m if widths == "isotropic" else self.m * self.d
        self.n_params = self.m + self.n_w + self.m * self.d

    def __repr__(self) -> str:
        return (
            f"GaussianUnits(m={self.m}, d={self.d}, widths={self.widths!r}, periodic={self.periods}, "
            f"normalized={self.normalized})"
        )

    # ------------------------------------------------------------------------------------- layout
    rowwise = True

    def unpack(self, theta: Any) -> tuple[Any, Any, Any]:
        """``(c (m,), w (m,) or (m, d), b (m, d))`` from the flat vector (with a leading axis for rows
        ``(n, p)``)."""
        xp = array_namespace(theta)
        m, d = self.m, self.d
        lead = tuple(theta.shape[:-1])
        c = theta[..., :m]
        w = theta[..., m : m + self.n_w]
        if self.widths == "diagonal":
            w = xp.reshape(w, (*lead, m, d))
        b = xp.reshape(theta[..., m + self.n_w :], (*lead, m, d))
        return c, w, b

    def pack(self, c: Any, w: Any, b: Any) -> Any:
        """The flat vector from ``c (m,)``, ``w (m,)`` or ``(m, d)``, ``b (m, d)``."""
        xp = array_namespace(c, w, b)
        return xp.concat([xp.reshape(c, (-1,)), xp.reshape(w, (-1,)), xp.reshape(b, (-1,))])

    def centers_and_scales(self, theta: Any) -> tuple[Any, Any]:
        """Unit centers ``b (m, d)`` and per-dimension length scales ``1/|w| (m, d)`` (used by samplers)."""
        xp = array_namespace(theta)
        _, w, b = self.unpack(theta)
        wd = w if w.ndim == 2 else w[:, None] * xp.ones_like(b)
        return b, 1.0 / xp.maximum(xp.abs(wd), xp.asarray(1e-12, dtype=theta.dtype))

    def moments(self, theta: Any) -> tuple[Any, Any, Any]:
        r"""Mass :math:`\sum c_i`, mean and covariance of :math:`u` read as a (signed) mixture density.

        Normalized free-space units only: :math:`\bar x = \sum_i c_i b_i / \sum c_i`,
        :math:`C = \sum_i c_i(\mathrm{diag}(w_i^{-2}) + b_ib_i^T)/\sum c_i - \bar x\bar x^T`.
        """
        if not self.normalized:
            raise ValueError("moments need normalized units (normalized=True)")
        xp = array_namespace(theta)
        c, w, b = self.unpack(theta)
        wd = w if w.ndim == 2 else w[:, None] * xp.ones_like(b)
        mass = xp.sum(c)
        mean = (c @ b) / mass
        var_diag = xp.sum(c[:, None] / wd**2, axis=0) / mass
        eye = xp.eye(self.d, dtype=theta.dtype, device=getattr(theta, "device", None))
        second = eye * var_diag[None, :] + ((b * c[:, None]).T @ b) / mass
        cov = second - mean[:, None] * mean[None, :]
        return mass, mean, cov

    # ------------------------------------------------------------------------------------- evaluation
    def evaluate(self, theta: Any, x: Any, need: Sequence[str] = ("u",)) -> dict[str, Any]:
        need = _check_need(need, self.d)
        self._check_inputs(theta, x)
        xp = array_namespace(theta, x)
        n, m, d = x.shape[0], self.m, self.d
        c, w, b = self.unpack(theta)  # c (m,), b (m, d); with rows (n, p): c (n, m), b (n, m, d)
        wd = w if self.widths == "diagonal" else w[..., None] * xp.ones_like(b)  # (m, d) or (n, m, d)
        w2 = wd**2
        if self.periods is None:
            r = x[:, None, :] - b  # (n, m, d)
            q = r**2
            q1 = 2.0 * r
            q2 = 2.0 * xp.ones_like(r)
            q3 = xp.zeros_like(r)
        else:
            k = xp.asarray([math.pi / L for L in self.periods], dtype=theta.dtype)  # (d,)
            if theta.ndim == 1:
                # sin, cos of z = k(x - b) by angle addition: 2(n + m)d transcendentals instead of 3nmd
                kx, kb = x * k, b * k
                sx, cx, sb, cb = xp.sin(kx)[:, None, :], xp.cos(kx)[:, None, :], xp.sin(kb), xp.cos(kb)
                sz, cz = sx * cb - cx * sb, cx * cb + sx * sb
            else:
                z = (x[:, None, :] - b) * k
                sz, cz = xp.sin(z), xp.cos(z)
            s2z, c2z = 2.0 * sz * cz, 1.0 - 2.0 * sz**2
            q = sz**2
            q1 = k * s2z
            q2 = 2.0 * k**2 * c2z
            q3 = -4.0 * k**3 * s2z
        g = -0.5 * xp.sum(w2 * q, axis=2)  # (n, m)
        phi = xp.exp(g)
        if self.normalized:
            norm = xp.prod(xp.sqrt(w2 / (2.0 * math.pi)), axis=-1)  # (m,) or (n, m)
            phi = phi * norm
        cphi = c * phi  # (n, m)
        g1 = -0.5 * w2 * q1  # (n, m, d)
        out: dict[str, Any] = {}
        if "u" in need:
            out["u"] = xp.sum(cphi, axis=1)
        if "jac" in need:
            dw = -wd * q  # (n, m, d)
            if self.normalized:
                safe = xp.where(wd == 0, xp.ones_like(wd), wd)
                dw = dw + xp.where(wd == 0, xp.zeros_like(wd), 1.0 / safe)
            jw = cphi[:, :, None] * dw
            if self.widths == "isotropic":
                jw = xp.sum(jw, axis=2)
            else:
                jw = xp.reshape(jw, (n, m * d))
            jb = xp.reshape(-cphi[:, :, None] * g1, (n, m * d))
            out["jac"] = xp.concat([phi, jw, jb], axis=1)
        if "grad" in need:
            out["grad"] = xp.sum(cphi[:, :, None] * g1, axis=1)
        if "lap" in need or "dxxx" in need:
            g2 = -0.5 * w2 * q2
            if "lap" in need:
                out["lap"] = xp.sum(cphi * xp.sum(g2 + g1**2, axis=2), axis=1)
            if "dxxx" in need:
                g3 = -0.5 * w2 * q3
                out["dxxx"] = xp.sum(cphi * (g3 + 3.0 * g1 * g2 + g1**3)[:, :, 0], axis=1)
        return out


def gaussian_density(m: int, d: int = 1, *, widths: str = "diagonal") -> GaussianUnits:
    r"""Sum-of-Gaussians density :math:`u = \sum_i c_i\,\mathcal N(x; b_i, \mathrm{diag}(w_i^{-2}))`
    (normalized Gaussian units; :math:`c_i` are masses). Used for Fokker–Planck equations."""
    return GaussianUnits(m, d, widths=widths, normalized=True)


class TanhUnits(Parametrization):
    r"""Shallow tanh network :math:`u(x;\theta) = \sum_i c_i \tanh(w_i\cdot x + b_i)`.

    Layout ``theta = [c (m,), W (m, d) flattened, b (m,)]`` (``evaluate`` also takes per-point rows
    ``(n, p)``: ``rowwise``). With :math:`s_i = w_i\cdot x + b_i`,
    :math:`\sigma = \tanh`, :math:`\sigma' = 1-\sigma^2`, :math:`\sigma'' = -2\sigma\sigma'`,
    :math:`\sigma''' = (6\sigma^2 - 2)\sigma'`:
    :math:`\partial u/\partial c_i = \sigma(s_i)`, :math:`\partial u/\partial W_{ik} = c_i\sigma'(s_i)x_k`,
    :math:`\partial u/\partial b_i = c_i\sigma'(s_i)`, :math:`\nabla u = \sum_i c_i\sigma'(s_i)w_i`,
    :math:`\Delta u = \sum_i c_i\sigma''(s_i)|w_i|^2`, :math:`\partial_x^3 u = \sum_i c_i\sigma'''(s_i)w_i^3`.
    """

    def __init__(self, m: int, d: int = 1) -> None:
        if int(m) < 1:
            raise ValueError(f"m (number of units) must be >= 1, got {m}")
        if int(d) < 1:
            raise ValueError(f"d must be >= 1, got {d}")
        self.m, self.d = int(m), int(d)
        self.n_params = self.m * (self.d + 2)

    def __repr__(self) -> str:
        return f"TanhUnits(m={self.m}, d={self.d})"

    rowwise = True

    def unpack(self, theta: Any) -> tuple[Any, Any, Any]:
        """``(c (m,), W (m, d), b (m,))`` from the flat vector (with a leading axis for rows ``(n, p)``)."""
        xp = array_namespace(theta)
        m, d = self.m, self.d
        lead = tuple(theta.shape[:-1])
        return theta[..., :m], xp.reshape(theta[..., m : m + m * d], (*lead, m, d)), theta[..., m + m * d :]

    def pack(self, c: Any, W: Any, b: Any) -> Any:
        xp = array_namespace(c, W, b)
        return xp.concat([xp.reshape(c, (-1,)), xp.reshape(W, (-1,)), xp.reshape(b, (-1,))])

    def evaluate(self, theta: Any, x: Any, need: Sequence[str] = ("u",)) -> dict[str, Any]:
        need = _check_need(need, self.d)
        self._check_inputs(theta, x)
        xp = array_namespace(theta, x)
        n, m, d = x.shape[0], self.m, self.d
        c, W, b = self.unpack(theta)  # c, b (m,) and W (m, d); with rows (n, p): (n, m) and (n, m, d)
        s = x @ W.T + b if theta.ndim == 1 else xp.sum(x[:, None, :] * W, axis=-1) + b
        t = xp.tanh(s)  # (n, m)
        t1 = 1.0 - t**2
        ct1 = c * t1
        out: dict[str, Any] = {}
        if "u" in need:
            out["u"] = xp.sum(t * c, axis=-1)
        if "jac" in need:
            jw = xp.reshape(ct1[:, :, None] * x[:, None, :], (n, m * d))
            out["jac"] = xp.concat([t, jw, ct1], axis=1)
        if "grad" in need:
            out["grad"] = ct1 @ W if theta.ndim == 1 else xp.sum(ct1[:, :, None] * W, axis=1)
        if "lap" in need:
            out["lap"] = xp.sum(c * (-2.0 * t * t1) * xp.sum(W**2, axis=-1), axis=-1)
        if "dxxx" in need:
            out["dxxx"] = xp.sum(c * (6.0 * t**2 - 2.0) * t1 * W[..., 0] ** 3, axis=-1)
        return out


@declare(needs=("value_and_grad",))
class AutodiffParametrization(Parametrization):
    r"""A user parametrization differentiated by the backend's autodiff (torch, jax: ``value_and_grad``).

    ``fn(Theta, x) -> (n,)`` evaluates :math:`u(x_j;\Theta_j)` row by row: ``Theta`` ``(n, p)`` holds one
    parameter vector per point (all equal to :math:`\theta` here), ``x`` ``(n, d)``. Because row :math:`j` of
    the output depends only on row :math:`j` of ``Theta`` and ``x``, one reverse pass of
    :math:`s = \sum_j u(x_j;\Theta_j)` gives the whole Jacobian :math:`\partial s/\partial\Theta_{jk} =
    \partial_{\theta_k}u(x_j;\theta)` and the gradients :math:`\partial s/\partial x_{jk} = \partial_k u(x_j)`;
    the Laplacian and :math:`\partial_x^3 u` use nested reverse passes (one per dimension).
    """

    rowwise = True

    def __init__(self, fn: Any, n_params: int, d: int, *, backend: Any, m: int = 1) -> None:
        if int(n_params) < 1 or int(d) < 1:
            raise ValueError(f"n_params and d must be >= 1, got {n_params}, {d}")
        self.fn, self.n_params, self.d, self.m = fn, int(n_params), int(d), int(m)
        self.backend = backend
        self._vg = backend.require("value_and_grad")

    def __repr__(self) -> str:
        return f"AutodiffParametrization(n_params={self.n_params}, d={self.d}, backend={self.backend.name!r})"

    def evaluate(self, theta: Any, x: Any, need: Sequence[str] = ("u",)) -> dict[str, Any]:
        need = _check_need(need, self.d)
        self._check_inputs(theta, x)
        xp = array_namespace(theta, x)
        n = x.shape[0]
        Theta = theta if theta.ndim == 2 else xp.broadcast_to(theta[None, :], (n, self.n_params))
        vg = self._vg
        fn = self.fn
        out: dict[str, Any] = {}
        if "u" in need:
            out["u"] = fn(Theta, x)
        if "jac" in need:
            out["jac"] = vg(lambda T: xp.sum(fn(T, x)))(Theta)[1]

        def grad_x(y: Any) -> Any:
            return vg(lambda z: xp.sum(fn(Theta, z)))(y)[1]

        if "grad" in need:
            out["grad"] = grad_x(x)
        if "lap" in need:
            lap = xp.zeros(n, dtype=x.dtype)
            for k in range(self.d):
                lap = lap + vg(lambda z, k=k: xp.sum(grad_x(z)[:, k]))(x)[1][:, k]
            out["lap"] = lap

        if "dxxx" in need:
            def second(z: Any) -> Any:
                return vg(lambda y: xp.sum(grad_x(y)[:, 0]))(z)[1][:, 0]

            out["dxxx"] = vg(lambda z: xp.sum(second(z)))(x)[1][:, 0]
        return out
