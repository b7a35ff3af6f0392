r"""Common interface of time-dependent vector fields (exact, feature-fitted and neural).

A :class:`Field` has public methods that take arrays of any backend (``t`` a scalar or shape ``(n,)``,
``x`` of shape ``(n, d)``) and return arrays of that backend. Internally a field is *bound* to one backend
(:meth:`Field.bind`), which returns a :class:`BoundField` whose methods take arrays of that backend only and
resolve nothing: integrators and samplers bind once and call the bound methods in their loops.

SDE drifts follow the library's convention :math:`dX = (b + \varepsilon s)\,dt + \sqrt{2\varepsilon}\,dW` forward
and :math:`b_B = b - \varepsilon s` backward (Albergo, Boffi & Vanden-Eijnden 2023,
arXiv:2303.08797, §2.2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._backend import Backend, resolve_backend
from ..errors import CapabilityError
from ..integrate import diffusion_function
from .interpolant import _col

__all__ = ["BoundField", "Field", "diffusion_fn"]


def diffusion_fn(diffusion: Any) -> Callable[[Any, Any], Any]:
    """``eps`` as a function ``(t, xp) -> eps(t)`` (checked by :func:`transportkit.integrate.diffusion_function`)."""
    eps = diffusion_function(diffusion)
    return lambda t, xp: eps(t)


class BoundField:
    """A field on one backend. Subclasses implement ``velocity`` and, where they can, ``score``,
    ``divergence``, ``jvp`` and ``log_density``; ``t`` is a 0-d array or shape (n,), ``x`` has shape (n, d)."""

    def __init__(self, be: Backend, interpolant: Any, dim: int):
        self.dim = dim
        self.be = be
        self.xp = be.xp
        self.interpolant = interpolant

    def velocity(self, t: Any, x: Any) -> Any:
        raise NotImplementedError

    def score(self, t: Any, x: Any) -> Any:
        r"""Default for one-sided interpolants (§1.2):
        :math:`s = (\beta b - \beta' x) / (\alpha(\alpha\beta' - \alpha'\beta))`
        (singular where :math:`\alpha = 0`, i.e. at :math:`t = 1`)."""
        if not self.interpolant.one_sided:
            raise CapabilityError("this field has no score; fit one (fit_score) for a two-sided interpolant")
        xp = self.xp
        c = self.interpolant.coefficients(_col(t), xp)
        b = self.velocity(t, x)
        return (c.b * b - c.bd * x) / (c.a * (c.a * c.bd - c.ad * c.b))

    def drift(self, t: Any, x: Any, eps: Any, direction: str = "forward") -> Any:
        """:math:`b \\pm \\varepsilon s` with ``eps`` a number or an array broadcastable to ``t``."""
        if isinstance(eps, (int, float)) and eps == 0:
            return self.velocity(t, x)
        s = self.score(t, x)
        e = _col(eps) if hasattr(eps, "ndim") else eps
        return self.velocity(t, x) + (e * s if direction == "forward" else -(e * s))

    def divergence(self, t: Any, x: Any) -> Any:
        r""":math:`\nabla\cdot b` by autodiff, one reverse pass per dimension (small d)."""
        be, xp = self.be, self.xp
        vg = be.value_and_grad
        if vg is None:
            raise CapabilityError(
                f"this field has no analytic divergence and backend {be.name!r} has no autodiff; "
                "use divergence='hutchinson' or a backend with value_and_grad"
            )
        d = x.shape[-1]
        total = xp.zeros(x.shape[:-1], dtype=x.dtype, device=be.device)
        for i in range(d):
            gi = vg(lambda y, i=i: xp.sum(self.velocity(t, y)[:, i]))(x)[1]
            total = total + gi[:, i]
        return total

    def jvp(self, t: Any, x: Any, v: Any) -> Any:
        r""":math:`(\nabla b)\,v` by a central difference with step
        :math:`h = \epsilon^{1/3}(1 + |x|)`."""
        xp = self.xp
        h = float(xp.finfo(x.dtype).eps) ** (1.0 / 3.0)
        scale = h * (1.0 + xp.sqrt(xp.sum(x * x, axis=-1, keepdims=True)))
        return (self.velocity(t, x + scale * v) - self.velocity(t, x - scale * v)) / (2.0 * scale)

    def quad_form(self, t: Any, x: Any, v: Any) -> Any:
        r""":math:`v^T (\nabla b)\, v` per point (the Hutchinson probe). By reverse-mode autodiff when the
        backend has it (:math:`\nabla_x (b\cdot v)\cdot v`), else by :meth:`jvp`."""
        be, xp = self.be, self.xp
        vg = be.value_and_grad
        if vg is not None and type(self).jvp is BoundField.jvp:
            g = vg(lambda y: xp.sum(self.velocity(t, y) * v))(x)[1]
            return xp.sum(g * v, axis=-1)
        return xp.sum(self.jvp(t, x, v) * v, axis=-1)

    def log_density(self, t: Any, x: Any) -> Any:
        raise CapabilityError("this field has no closed-form log density; use log_likelihood")

    def initial_samples(self, n: int, t0: float, gen: Any) -> Any:
        r"""Samples at the start time ``t0``: :math:`\alpha(t_0) x_0` with :math:`x_0` from the base
        (exact for one-sided interpolants with :math:`\beta(t_0) = 0`)."""
        x0 = self.base_samples(n, gen)
        if t0 == 0.0 and not self.interpolant.schedule.approximate:
            return x0
        a = self.interpolant.schedule.alpha(self.be.asarray(float(t0)), self.xp)
        return a * x0

    def base_samples(self, n: int, gen: Any) -> Any:
        """Draws from the base :math:`N(0, I)` (models are fitted with this base unless told otherwise)."""
        return gen.normal((n, self.dim))

    def base_log_prob(self, x: Any, t0: float) -> Any:
        r"""log-density of the law at ``t0`` that :meth:`initial_samples` draws from: :math:`N(0, \alpha(t_0)^2 I)`."""
        xp = self.xp
        a2 = 1.0
        if not (t0 == 0.0 and not self.interpolant.schedule.approximate):
            a2 = float(self.interpolant.schedule.alpha(self.be.asarray(float(t0)), xp)) ** 2
        d = x.shape[-1]
        return -0.5 * xp.sum(x * x, axis=-1) / a2 - 0.5 * d * math.log(2.0 * math.pi * a2)



class Field:
    """Base class of the public field objects. Subclasses set ``interpolant``, ``dim`` and implement
    ``_make_bound(be)``; binding is cached per backend, device and dtype."""

    interpolant: Any
    dim: int
    #: backend of the field's own arrays (parameters), or None for backend-free fields
    backend: Backend | None = None

    def bind(self, be: Backend) -> BoundField:
        """The field on backend ``be`` (cached)."""
        cache = self.__dict__.setdefault("_bound", {})
        key = (be.name, str(be.device), str(be.dtype))
        bf = cache.get(key)
        if bf is None:
            bf = cache[key] = self._make_bound(be)
        return bf

    def _make_bound(self, be: Backend) -> BoundField:
        raise NotImplementedError

    def _prep(self, t: Any, x: Any, backend: Any) -> tuple[BoundField, Any, Any]:
        be = resolve_backend(x, t, backend=backend)
        xp = be.xp
        x = be.asarray(x)
        t = be.asarray(t)
        if x.ndim != 2 or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}), got {tuple(x.shape)}")
        if t.ndim not in (0, 1) or (t.ndim == 1 and t.shape[0] != x.shape[0]):
            raise ValueError(f"t must be a scalar or have shape ({x.shape[0]},), got {tuple(t.shape)}")
        if bool(xp.any(t < 0.0)) or bool(xp.any(t > 1.0)) or bool(xp.any(xp.isnan(t))):
            raise ValueError(f"t must lie in [0, 1], got values in [{float(xp.min(t))}, {float(xp.max(t))}]")
        return self.bind(be), t, x

    def velocity(self, t: Any, x: Any, *, backend: Any = None) -> Any:
        """The velocity :math:`b(t, x)`, shape (n, d)."""
        bf, t, x = self._prep(t, x, backend)
        return bf.velocity(t, x)

    def score(self, t: Any, x: Any, *, backend: Any = None) -> Any:
        r"""The score :math:`s(t, x) = \nabla\log\rho_t(x)`, shape (n, d)."""
        bf, t, x = self._prep(t, x, backend)
        return bf.score(t, x)

    def divergence(self, t: Any, x: Any, *, backend: Any = None) -> Any:
        r""":math:`\nabla\cdot b(t, x)`, shape (n,)."""
        bf, t, x = self._prep(t, x, backend)
        return bf.divergence(t, x)

    def log_density(self, t: Any, x: Any, *, backend: Any = None) -> Any:
        r""":math:`\log\rho_t(x)`, shape (n,) (closed-form fields only)."""
        bf, t, x = self._prep(t, x, backend)
        return bf.log_density(t, x)

    def drift(self, t: Any, x: Any, diffusion: Any = 1.0, direction: str = "forward", *, backend: Any = None) -> Any:
        r"""SDE drift :math:`b_F = b + \varepsilon s` (``direction="forward"``) or :math:`b_B = b - \varepsilon s`
        (``"backward"``), with ``diffusion`` :math:`\varepsilon(t)` a number or a callable of ``t``."""
        if direction not in ("forward", "backward"):
            raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
        eps = diffusion_fn(diffusion)
        bf, t, x = self._prep(t, x, backend)
        return bf.drift(t, x, eps(t, bf.xp), direction)
