r"""Common interface of time-dependent vector fields (exact, feature-fitted and neural).

A :class:`Field` has public methods that take arrays of any backend (``t`` a scalar or shape ``(n,)``,
``x`` of shape ``(n, d)``) and return arrays of that backend. Internally a field is *bound* to one backend
(:meth:`Field.bind`), which returns a :class:`BoundField` whose methods take arrays of that backend only and
resolve nothing: integrators and samplers bind once and call the bound methods in their loops.

SDE drifts follow the library's convention :math:`dX = (b + \varepsilon s)\,dt + \sqrt{2\varepsilon}\,dW` forward
and :math:`b_B = b - \varepsilon s` backward (Albergo, Boffi & Vanden-Eijnden 2023,
arXiv:2303.08797, §2.2).

Every field knows its **base** :math:`\rho_0` (:class:`Base`): :math:`N(0, I)` unless told otherwise, a
:class:`~transportkit.targets.Target`, an empirical sample, a point mass, rows given for one conditional draw, or the
:math:`x_0`-marginal of a coupling (Albergo, Goldstein, Boffi, Ranganath & Vanden-Eijnden 2024, "Stochastic
interpolants with data-dependent couplings", arXiv:2310.03725). Sampling starts from it; conversions that hold only
for the base :math:`N(0, I)` (the one-sided score, the base log-density :math:`N(0, \alpha^2 I)`) raise elsewhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._backend import Backend, host_backend, resolve_backend
from .._validation import as_choice
from ..errors import CapabilityError
from ..gaussians import GaussianMixture
from ..integrate import diffusion_function
from .interpolant import _col

__all__ = [
    "Base", "BoundField", "ConditionedField", "EmpiricalBase", "Field", "GivenStart", "PointMass", "StandardNormal",
    "TargetBase", "as_base", "diffusion_fn",
]  # fmt: skip


# ------------------------------------------------------------------------------------------------------ bases
class Base:
    r"""The law :math:`\rho_0` a field starts from: ``sample(n, gen, be)`` and, where known, ``log_prob(x, be)``.
    ``standard_normal`` is ``True`` only for :math:`N(0, I)` (the one-sided conversions assume it)."""

    dim: int
    standard_normal: bool = False

    def sample(self, n: int, gen: Any, be: Backend) -> Any:
        raise NotImplementedError

    def log_prob(self, x: Any, be: Backend) -> Any:
        raise CapabilityError(f"the base {self!r} has no log density (an empirical or degenerate law)")


class StandardNormal(Base):
    """:math:`N(0, I_d)`, the default base."""

    standard_normal = True

    def __init__(self, dim: int):
        self.dim = int(dim)

    def sample(self, n: int, gen: Any, be: Backend) -> Any:
        return gen.normal((n, self.dim))

    def log_prob(self, x: Any, be: Backend) -> Any:
        return -0.5 * be.xp.sum(x * x, axis=-1) - 0.5 * self.dim * math.log(2.0 * math.pi)

    def __repr__(self) -> str:
        return f"StandardNormal(dim={self.dim})"


class TargetBase(Base):
    """A :class:`~transportkit.targets.Target` with an exact sampler as the base (log density from the target)."""

    def __init__(self, target: Any):
        if not callable(getattr(target, "_sample", None)):
            raise TypeError(f"a base target needs an exact sampler; {type(target).__name__} has none")
        self.target, self.dim = target, int(target.dim)
        xp = host_backend().xp
        self.standard_normal = False
        if isinstance(target, GaussianMixture) and target.n_components == 1:
            h = target._host
            self.standard_normal = bool(xp.all(h["means"] == 0)) and bool(
                xp.all(h["covs"][0, ...] == xp.eye(self.dim, dtype=xp.float64)))

    def sample(self, n: int, gen: Any, be: Backend) -> Any:
        return self.target._sample(n, gen, be)

    def log_prob(self, x: Any, be: Backend) -> Any:
        return self.target._log_prob(x, be)

    def __repr__(self) -> str:
        return f"TargetBase({self.target!r})"


class _Rows(Base):
    def __init__(self, rows: Any, name: str, ndim: int = 2):
        from .._validation import as_points

        src = resolve_backend(rows)
        self.source = src
        a = as_points(name, rows, src, ndim=ndim)
        self.rows = host_backend().asarray(src.to_numpy(a), copy=True)
        self.dim = int(self.rows.shape[-1])
        self._on: dict[Any, Any] = {}

    def _rows_on(self, be: Backend) -> Any:
        key = (be.name, str(be.device), str(be.dtype))
        if key not in self._on:
            self._on[key] = be.asarray(self.rows)
        return self._on[key]


class EmpiricalBase(_Rows):
    """An empirical base: the rows of a sample (n, d), drawn uniformly with replacement (bootstrap)."""

    def __init__(self, rows: Any):
        super().__init__(rows, "base samples")

    def sample(self, n: int, gen: Any, be: Backend) -> Any:
        idx = gen.integers(0, int(self.rows.shape[0]), (n,))
        return be.xp.take(self._rows_on(be), idx, axis=0)

    def __repr__(self) -> str:
        return f"EmpiricalBase(n={self.rows.shape[0]}, dim={self.dim})"


class PointMass(Base):
    r"""The point mass :math:`\delta_{x_0}` at a point (d,)."""

    def __init__(self, point: Any):
        self._r = _Rows(point, "point", ndim=1)
        self.dim = self._r.dim

    def sample(self, n: int, gen: Any, be: Backend) -> Any:
        p = self._r._rows_on(be)
        return be.xp.broadcast_to(p[None, :], (n, self.dim)) + be.xp.zeros((n, self.dim), dtype=be.dtype,
                                                                             device=be.device)

    def __repr__(self) -> str:
        return f"PointMass(dim={self.dim})"


class GivenStart(_Rows):
    """Start points given row by row (one conditional draw per row): ``sample(n)`` returns them, in order, and
    needs ``n`` equal to their number."""

    def __init__(self, rows: Any, law: Base | None = None):
        super().__init__(rows, "x0")
        #: the law the rows were drawn from, for conversions (None: unknown)
        self.law = law
        self.standard_normal = bool(law is not None and law.standard_normal)

    def sample(self, n: int, gen: Any, be: Backend) -> Any:
        if n != self.rows.shape[0]:
            raise ValueError(f"this field starts from {self.rows.shape[0]} given points x0; ask for n = "
                             f"{self.rows.shape[0]} samples, got n = {n}")
        return self._rows_on(be)

    def __repr__(self) -> str:
        return f"GivenStart(n={self.rows.shape[0]}, dim={self.dim})"


def as_base(base: Any, dim: int | None = None) -> Base:
    """``base`` as a :class:`Base`: ``None`` -> :math:`N(0, I_{dim})`; a :class:`Base` itself; a Target with an
    exact sampler; a coupling (its :math:`x_0`-marginal); an array (n, d) -> :class:`EmpiricalBase`; (d,) ->
    :class:`PointMass`. ``dim``, when given, must match."""
    if base is None:
        if dim is None:
            raise ValueError("the default base N(0, I) needs a dimension")
        out: Base = StandardNormal(dim)
    elif isinstance(base, Base):
        out = base
    elif callable(getattr(base, "x0_base", None)):
        out = base.x0_base()
    elif hasattr(base, "_sample") and hasattr(base, "dim"):
        out = TargetBase(base)
    elif hasattr(base, "shape") or isinstance(base, (list, tuple)):
        nd = getattr(base, "ndim", None)
        if nd is None:
            nd = 2 if isinstance(base[0], (list, tuple)) else 1
        out = PointMass(base) if nd == 1 else EmpiricalBase(base)
    else:
        raise TypeError(f"base must be None, a Target, a coupling or an array of samples, got {type(base).__name__}")
    if dim is not None and out.dim != dim:
        raise ValueError(f"the base has dimension {out.dim} but the field has dimension {dim}")
    return out


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
        #: the base law (set by :meth:`Field.bind` from the field's ``base``)
        self.base_law: Base = StandardNormal(dim)

    def velocity(self, t: Any, x: Any) -> Any:
        raise NotImplementedError

    def score(self, t: Any, x: Any) -> Any:
        r"""Default for one-sided interpolants (§1.2):
        :math:`s = (\beta b - \beta' x) / (\alpha(\alpha\beta' - \alpha'\beta))`
        (singular where :math:`\alpha = 0`, i.e. at :math:`t = 1`)."""
        if not self.interpolant.one_sided:
            raise CapabilityError("this field has no score; fit one (fit_score) for a two-sided interpolant")
        if not self.base_law.standard_normal:
            raise CapabilityError(
                f"the one-sided score conversion assumes the base N(0, I), but this field's base is "
                f"{self.base_law!r}; sample with the ODE (method='ode'), or fit a score with a two-sided interpolant"
            )
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
                "use log_likelihood_hutchinson or a backend with value_and_grad"
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
        if not self.base_law.standard_normal:
            raise ValueError(
                f"this field's base is {self.base_law!r}: sampling must start at t = 0 of a schedule with exact "
                f"boundary conditions (the law at t0 = {t0} is unknown)"
            )
        a = self.interpolant.schedule.alpha(self.be.asarray(float(t0)), self.xp)
        return a * x0

    def base_samples(self, n: int, gen: Any) -> Any:
        """Draws from the field's base (:math:`N(0, I)` unless the field was fitted or built with another)."""
        return self.base_law.sample(n, gen, self.be)

    def base_log_prob(self, x: Any, t0: float) -> Any:
        r"""log-density of the law at ``t0`` that :meth:`initial_samples` draws from: :math:`N(0, \alpha(t_0)^2 I)`
        for the standard base, the base's own density at :math:`t_0 = 0` otherwise."""
        xp = self.xp
        if not self.base_law.standard_normal:
            if t0 == 0.0 and not self.interpolant.schedule.approximate:
                return self.base_law.log_prob(x, self.be)
            raise CapabilityError(f"the law at t0 = {t0} of a field with base {self.base_law!r} is unknown")
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
    #: the base rho_0 (anything :func:`as_base` takes; None: N(0, I))
    base: Any = None
    #: dimension of the conditioning variable xi the model takes (0: none)
    cond_dim: int = 0
    #: the conditional expectations :meth:`denoiser` gives in closed form (empty: none)
    denoisers: tuple[str, ...] = ()

    def base_law(self) -> Base:
        """The field's base as a :class:`Base`."""
        return as_base(self.base, self.dim)

    def bind(self, be: Backend) -> BoundField:
        """The field on backend ``be`` (cached)."""
        cache = self.__dict__.setdefault("_bound", {})
        key = (be.name, str(be.device), str(be.dtype))
        bf = cache.get(key)
        if bf is None:
            bf = self._make_bound(be)
            bf.base_law = self.base_law()
            cache[key] = bf
        return bf

    def with_base(self, base: Any) -> Field:
        """A copy of this field that starts from ``base`` (a Target, samples (n, d), a point (d,), a coupling or a
        :class:`Base`). Only meaningful for the base the field was built or fitted with: the velocity is unchanged."""
        import copy

        out = copy.copy(self)
        out.__dict__.pop("_bound", None)
        out.base = as_base(base, self.dim)
        return out

    def given(self, x0: Any, xi: Any = None) -> ConditionedField:
        r"""This field started from the given points ``x0`` (n, d), one conditional draw per row, with the
        conditioning ``xi`` (n, k) (or (k,), shared) passed to the model: ``tk.sample(field.given(x0, xi), n)``
        pushes each :math:`x_0` paired with the data (a coupling's conditional base) to a draw of
        :math:`\rho_1(\cdot|\xi)` (arXiv:2310.03725)."""
        return ConditionedField(self, x0, xi)

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

    def denoiser(self, t: Any, x: Any, which: str = "x1", *, backend: Any = None) -> Any:
        r"""The closed-form conditional expectations :math:`E[x_1|x_t=x]` (``"x1"``), :math:`E[x_0|x_t=x]`
        (``"x0"``) or :math:`E[z|x_t=x]` (``"z"``), shape (n, d), of the fields that have them (``which`` among the
        field's :attr:`denoisers`; a ``CapabilityError`` for a field without any)."""
        if not self.denoisers:
            raise CapabilityError(f"{type(self).__name__} has no closed-form denoiser")
        as_choice("which", which, self.denoisers)
        bf, t, x = self._prep(t, x, backend)
        return bf.denoiser(t, x, which)

    def jvp(self, t: Any, x: Any, v: Any, *, backend: Any = None) -> Any:
        r""":math:`(\nabla b)(t, x)\,v`, shape (n, d) (analytic for the exact fields, else a central difference)."""
        bf, t, x = self._prep(t, x, backend)
        return bf.jvp(t, x, bf.be.asarray(v))

    def drift(self, t: Any, x: Any, diffusion: Any = 1.0, direction: str = "forward", *, backend: Any = None) -> Any:
        r"""SDE drift :math:`b_F = b + \varepsilon s` (``direction="forward"``) or :math:`b_B = b - \varepsilon s`
        (``"backward"``), with ``diffusion`` :math:`\varepsilon(t)` a number or a callable of ``t``."""
        if direction not in ("forward", "backward"):
            raise ValueError(f"direction must be 'forward' or 'backward', got {direction!r}")
        eps = diffusion_fn(diffusion)
        bf, t, x = self._prep(t, x, backend)
        return bf.drift(t, x, eps(t, bf.xp), direction)


class ConditionedField(Field):
    """See :meth:`Field.given`: a field whose base is the given rows ``x0`` and whose model sees ``xi``."""

    def __init__(self, field: Field, x0: Any, xi: Any = None):
        if not isinstance(field, Field):
            raise TypeError(f"field must be a Field, got {type(field).__name__}")
        self.inner, self.interpolant, self.dim = field, field.interpolant, field.dim
        inner_law = field.base_law() if field.cond_dim == 0 else None
        self.base = GivenStart(x0, law=inner_law)
        # arrays in, same arrays out: sample on the backend of x0 (unless it is NumPy and the model lives elsewhere)
        self.backend = field.backend if self.base.source.is_host and field.backend is not None else self.base.source
        if self.base.dim != field.dim:
            raise ValueError(f"x0 must have {field.dim} coordinates, got shape {tuple(self.base.rows.shape)}")
        n = int(self.base.rows.shape[0])
        k = field.cond_dim
        if k == 0:
            if xi is not None:
                raise ValueError("this field takes no conditioning variable; pass xi=None")
            self.xi = None
        else:
            if xi is None:
                raise ValueError(f"this field is conditioned on xi with {k} coordinates; pass xi= (n, {k}) or ({k},)")
            r = _Rows(xi, "xi", ndim=1) if getattr(xi, "ndim", 2) == 1 else _Rows(xi, "xi")
            if r.dim != k:
                raise ValueError(f"xi must have {k} coordinates, got {r.dim}")
            h = r.rows
            if h.ndim == 1:
                h = host_backend().xp.broadcast_to(h[None, :], (n, k))
            if h.shape[0] != n:
                raise ValueError(f"xi must have one row per x0 row ({n}), got {h.shape[0]}")
            self.xi = host_backend().asarray(h, copy=True)

    def _make_bound(self, be: Backend) -> BoundField:
        return _BoundConditioned(be, self)

    def __repr__(self) -> str:
        return f"ConditionedField({self.inner!r}, n={self.base.rows.shape[0]})"


class _BoundConditioned(BoundField):
    def __init__(self, be: Backend, field: ConditionedField):
        super().__init__(be, field.interpolant, field.dim)
        self.inner = field.inner.bind(be)
        self.xi = None if field.xi is None else be.asarray(field.xi)

    def velocity(self, t: Any, x: Any) -> Any:
        if self.xi is None:
            return self.inner.velocity(t, x)
        return self.inner.velocity_xi(t, x, self.xi)

    def score(self, t: Any, x: Any) -> Any:
        if self.xi is not None:
            raise CapabilityError("a conditioned model has no score; sample it with the ODE (method='ode')")
        return self.inner.score(t, x)

    def divergence(self, t: Any, x: Any) -> Any:
        if self.xi is not None:
            raise CapabilityError("a conditioned model has no divergence")
        return self.inner.divergence(t, x)
