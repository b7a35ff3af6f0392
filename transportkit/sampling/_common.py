r"""Plumbing shared by the samplers of unnormalized densities (MCMC, AIS/SMC, NETS).

- :func:`as_density` wraps a target — anything :func:`transportkit.targets.as_target` accepts: a
  :class:`~transportkit.targets.Target`, an object with ``log_prob`` (and optionally ``grad_log_prob``), a pair
  ``(log_prob, grad_log_prob)``, a bare log-density callable, a frozen ``scipy.stats`` distribution — and
  validates its output on the first batch: a NaN or ``+inf`` log-density, a gradient of the wrong shape or with
  non-finite entries raises ``ValueError`` naming the first offending walker and value. The gradient is lazy:
  a target without one (and a backend without autodiff) raises a :class:`~transportkit.CapabilityError` naming
  ``grad=`` only when a gradient is actually evaluated, so gradient-free kernels never demand one.
  :meth:`Density.nonfinite` / :meth:`Density.count_nonfinite` / :meth:`Density.sanitize` make NaN/``+inf``
  log-densities met mid-run detectable and countable (traceable, no host sync).
- :class:`GaussianBase` is the default base :math:`\rho_0 = \mathcal N(m, \sigma^2 I)` (normalized).
- :class:`GeometricPath` is the default path :math:`\log\rho_t = (1-\lambda(t))\log\rho_0 + \lambda(t)\log\rho_1`;
  :class:`CustomPath` adapts a user path given by ``log_prob(t, x)``, ``grad_log_prob(t, x)``,
  ``dt_log_prob(t, x)`` (NETS only), ``sample0(n, gen)`` and ``log_Z0`` (a path with a ``bind(backend)``
  method, such as :class:`~transportkit.sampling.paths.InterpolantPath`, is bound once per sampler call).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .._backend import Backend, scalar_device
from .._loops import progress_range
from ..errors import CapabilityError
from ..targets import CallableTarget, as_target
from .results import Samples

__all__ = ["CustomPath", "GaussianBase", "GeometricPath", "as_density", "make_path", "progress_range", "samples"]


def samples(**fields: Any) -> Samples:
    """Build a :class:`~transportkit.sampling.results.Samples` (compatibility wrapper: call ``Samples`` directly)."""
    return Samples(**fields)


def _first_bad(xp: Any, bad: Any) -> int:
    return int(xp.argmax(xp.astype(bad, xp.int32)))


def _any_bad(xp: Any, lp: Any, g: Any) -> Any:
    """0-d bool: some log-density is NaN/+inf, or some gradient of a walker with finite density is not finite."""
    gbad = xp.any(~xp.isfinite(g), axis=-1) & (lp > -math.inf)
    return xp.any(xp.isnan(lp) | (lp == math.inf)) | xp.any(gbad)


class Density:
    """A target as two batched functions of x of shape (n, d): ``log_prob -> (n,)``, ``grad -> (n, d)``.

    ``grad`` may be ``None`` (no gradient available): then ``grad`` and ``value_and_grad`` raise a
    :class:`~transportkit.CapabilityError` naming ``grad=`` when called (``has_grad`` is ``False``), and
    ``value_and_grad(x, need_grad=False)`` returns a zeros placeholder for kernels that never read it."""

    def __init__(
        self,
        log_prob: Callable,
        grad: Callable | None,
        dim: int | None,
        name: str,
        laplacian: Callable | None = None,
        *,
        grad_error: str | None = None,
        value_and_grad: Callable | None = None,
    ):
        self.log_prob, self.dim, self.name = log_prob, dim, name
        self._vg = value_and_grad if grad is not None else None
        self.has_grad = grad is not None
        self._grad_error = grad_error or (
            f"this method needs the gradient of {name}, which has none: pass grad= to tk.targets.from_log_prob "
            "(or give the object a grad_log_prob method), use a backend with autodiff, or a gradient-free method "
            "(method='rwm', or kernel='rwm')"
        )
        self.grad: Callable = grad if grad is not None else self._no_grad
        self._laplacian = laplacian
        #: a bound :class:`~transportkit.targets.Target` (parameters already on the backend: safe to trace on first
        #: use); other targets are evaluated eagerly once first, so that their own caches never hold tracers
        self.bound = False

    def _no_grad(self, x: Any) -> Any:
        raise CapabilityError(self._grad_error)

    @property
    def grad_log_prob(self) -> Callable:
        """The gradient function (raises :class:`~transportkit.CapabilityError` on use when there is none)."""
        return self.grad

    @staticmethod
    def nonfinite(xp: Any, lp: Any) -> Any:
        """(n,) bool: walkers whose log-density is NaN or ``+inf`` (an invalid target value; traceable)."""
        return xp.isnan(lp) | (lp == math.inf)

    @staticmethod
    def count_nonfinite(xp: Any, lp: Any) -> Any:
        """0-d int array: how many log-densities are NaN or ``+inf`` (for the ``info`` counters of a run)."""
        return xp.sum(xp.astype(Density.nonfinite(xp, lp), xp.int32))

    @staticmethod
    def sanitize(xp: Any, lp: Any) -> Any:
        """``lp`` with NaN/``+inf`` replaced by ``-inf`` (zero density: such a proposal is rejected, such a walker
        gets weight 0). Use together with :meth:`count_nonfinite`, so that the replacement is reported."""
        return xp.where(Density.nonfinite(xp, lp), -math.inf, lp)

    #: ``any_bad(xp, lp, g)``: whether :meth:`check` would raise for shape-correct values (0-d bool, traceable)
    any_bad = staticmethod(_any_bad)

    def laplacian(self, x: Any, xp: Any) -> Any:
        r""":math:`\Delta\log\tilde\rho(x)`: the target's ``laplacian_log_prob`` if it has one, else central
        differences of the gradient, :math:`\sum_i[g_i(x + \delta e_i) - g_i(x - \delta e_i)]/2\delta`
        (2d extra gradient evaluations per point, in one batched call)."""
        if self._laplacian is not None:
            try:
                return self._laplacian(x)
            except NotImplementedError:
                pass
        return fd_laplacian(self.grad, x, xp)

    def value_and_grad(self, x: Any, need_grad: bool = True) -> tuple[Any, Any]:
        """``(log_prob(x), grad(x))``; with ``need_grad=False`` and no gradient available, ``grad`` is a zeros
        placeholder (for gradient-free kernels)."""
        if not need_grad and not self.has_grad:
            return self.log_prob(x), _zeros_like(x)
        if self._vg is not None:  # the target's own value_and_grad (one pass where it has one)
            return self._vg(x)
        return self.log_prob(x), self.grad(x)

    def check(self, xp: Any, x: Any, lp: Any, g: Any, where: str = "the first step") -> None:
        """Raise ``ValueError`` at the first walker whose log-density is NaN/+inf or whose gradient is bad."""
        n, d = x.shape
        if tuple(lp.shape) != (n,):
            raise ValueError(
                f"{self.name}.log_prob returned shape {tuple(lp.shape)} for x of shape {(n, d)}; expected ({n},)"
            )
        if tuple(g.shape) != (n, d):
            raise ValueError(
                f"{self.name} gradient has shape {tuple(g.shape)} for x of shape {(n, d)}; expected {(n, d)}"
            )
        if not bool(self.any_bad(xp, lp, g)):
            return
        bad = xp.isnan(lp) | (lp == math.inf)
        if bool(xp.any(bad)):
            i = _first_bad(xp, bad)
            raise ValueError(
                f"{self.name}.log_prob is {float(lp[i])} (NaN or +inf) for walker {i} at {where} "
                f"(x[{i}] = {_fmt(x[i, ...])})"
            )
        gbad = xp.any(~xp.isfinite(g), axis=-1) & (lp > -math.inf)
        if bool(xp.any(gbad)):
            i = _first_bad(xp, gbad)
            raise ValueError(
                f"{self.name} gradient is not finite for walker {i} at {where}: "
                f"{_fmt(g[i, ...])} (x[{i}] = {_fmt(x[i, ...])})"
            )


def fd_laplacian(grad: Callable, x: Any, xp: Any, rel_step: float = 1e-4) -> Any:
    r"""Central-difference Laplacian of a scalar field from its gradient ``grad`` (batched over rows), with
    step :math:`\delta = ` ``rel_step`` :math:`\cdot\max(1, \mathrm{rms}(x))`."""
    n, d = x.shape
    delta = rel_step * max(1.0, float(xp.sqrt(xp.mean(x * x))))
    eye = xp.eye(d, dtype=x.dtype, device=scalar_device(x)) * delta
    shifted = xp.reshape(
        xp.concat([x[None, :, :] + eye[:, None, :], x[None, :, :] - eye[:, None, :]], axis=0), (2 * d * n, d)
    )
    g = xp.reshape(grad(shifted), (2, d, n, d))
    diag = xp.sum(xp.reshape(eye, (d, 1, d)) * (g[0, ...] - g[1, ...]), axis=-1)  # (d, n): delta * (g_i(x+) - g_i(x-))
    return xp.sum(diag, axis=0) / (2 * delta * delta)


def _fmt(v: Any) -> str:
    vals = [float(v[j]) for j in range(min(v.shape[0], 6))]
    return "[" + ", ".join(f"{a:.4g}" for a in vals) + (", ...]" if v.shape[0] > 6 else "]")


def _zeros_like(x: Any) -> Any:
    from array_api_compat import array_namespace

    return array_namespace(x).zeros_like(x)


def as_density(
    target: Any,
    be: Backend,
    *,
    dim: Any = None,
    x0: Any = None,
    base: Any = None,
    need_grad: bool | None = None,
) -> Density:
    """``target`` as a :class:`Density` on ``be``: anything :func:`transportkit.targets.as_target` accepts (a
    :class:`~transportkit.targets.Target`, an object with ``log_prob`` and optionally ``grad_log_prob``, a pair
    ``(log_prob, grad_log_prob)``, a bare log-density callable, a frozen ``scipy.stats`` distribution).

    The dimension comes from the target, ``dim``, ``x0`` or ``base``; a callable is probed once on ``be`` when it
    is known (wrong output shape, or arrays of another library: an error that says ``backend=``).
    ``need_grad``: ``None`` (default) makes the gradient lazy — a :class:`~transportkit.CapabilityError` naming
    ``grad=`` only when it is evaluated and there is none (no ``grad``, no autodiff on ``be``); ``True`` raises
    that error now; ``False`` never evaluates a gradient (``grad`` is a zeros placeholder: gradient-free kernels).
    """
    t = as_target(target, dim=dim, x0=x0, base=base)
    bound = t.bind(be)
    has = t.has_grad(be)
    err = t.no_grad_message(be) if not has and isinstance(t, CallableTarget) else None
    if need_grad and not has:
        raise CapabilityError(err)
    grad = _zeros_like if need_grad is False else (bound.grad_log_prob if has else None)
    vg = getattr(bound, "value_and_grad", None) if has and need_grad is not False else None
    density = Density(bound.log_prob, grad, t.dim, t.name, bound.laplacian_log_prob, grad_error=err,
                      value_and_grad=vg)
    density.has_grad = has and need_grad is not False
    density.bound = not isinstance(t, CallableTarget)
    #: the normalized :class:`~transportkit.targets.Target`
    density.target = t
    #: identifies the target across calls (a compile-cache key; a user's callable is wrapped anew on every call)
    density.key = (getattr(t, "cache_key", t), need_grad is not False)
    return density


class GaussianBase:
    r"""The normalized base :math:`\rho_0 = \mathcal N(m, \sigma^2 I_d)`:
    :math:`\log\rho_0(x) = -|x-m|^2/2\sigma^2 - \tfrac d2\log(2\pi\sigma^2)`,
    :math:`\nabla\log\rho_0 = -(x-m)/\sigma^2`.
    ``mean`` is a scalar or a length-d sequence/array."""

    log_Z = 0.0

    def __init__(self, dim: int, mean: Any = 0.0, scale: float = 1.0):
        if not float(scale) > 0:
            raise ValueError(f"base scale must be positive, got {scale}")
        self.dim, self.scale = int(dim), float(scale)
        if hasattr(mean, "shape") or isinstance(mean, (list, tuple)):
            m = [float(v) for v in (mean.tolist() if hasattr(mean, "tolist") else mean)]
            if len(m) != self.dim:
                raise ValueError(f"base mean has length {len(m)}, expected dim = {self.dim}")
            self.mean: Any = m
        else:
            self.mean = float(mean)

    def _m(self, x: Any, xp: Any) -> Any:
        if isinstance(self.mean, float):
            return self.mean
        return xp.asarray(self.mean, dtype=x.dtype, device=scalar_device(x))

    def log_prob(self, x: Any, xp: Any) -> Any:
        z = x - self._m(x, xp)
        return -xp.sum(z * z, axis=-1) / (2 * self.scale**2) - 0.5 * self.dim * math.log(2 * math.pi * self.scale**2)

    def grad_log_prob(self, x: Any, xp: Any) -> Any:
        return -(x - self._m(x, xp)) / self.scale**2

    def sample(self, n: int, gen: Any, xp: Any) -> Any:
        z = gen.normal((n, self.dim))
        return z * self.scale + self._m(z, xp)


class Unfusable(Exception):
    """Raised while building a whole run as one compiled program when it cannot be one (a target whose values have
    the wrong shapes, a drift that cannot be traced): the caller then runs step by step, whose checks name the
    problem."""


def _IDENTITY(t: Any) -> Any:
    return t


def _ONE(t: Any) -> float:
    return 1.0


class GeometricPath:
    r"""Geometric path between a normalized base and the target:

    .. math:: \log\rho_t = (1-\lambda(t))\log\rho_0 + \lambda(t)\log\tilde\rho_1,\qquad
              \partial_t\log\rho_t = \lambda'(t)(\log\tilde\rho_1 - \log\rho_0),

    with :math:`\lambda(t) = t` unless ``schedule = (lam, dlam)`` is given. Per-walker "parts"
    ``(lp0, lp1, g0, g1)`` are evaluated once per position, so moving t is free."""

    geometric = True

    def __init__(self, base: GaussianBase, density: Density, xp: Any, schedule: Any = None):
        self.base, self.density, self.xp = base, density, xp
        self.log_Z0 = base.log_Z
        if schedule is None:
            self.lam: Callable = _IDENTITY
            self.dlam: Callable = _ONE
        else:
            self.lam, self.dlam = schedule
            if abs(self.lam(0.0)) > 1e-12 or abs(self.lam(1.0) - 1.0) > 1e-12:
                raise ValueError(
                    f"schedule must satisfy lam(0) = 0 and lam(1) = 1, got {self.lam(0.0)}, {self.lam(1.0)}"
                )

    def sample0(self, n: int, gen: Any) -> Any:
        return self.base.sample(n, gen, self.xp)

    def evaluate(self, x: Any) -> tuple[Any, ...]:
        lp1, g1 = self.density.value_and_grad(x)
        return (self.base.log_prob(x, self.xp), lp1, self.base.grad_log_prob(x, self.xp), g1)

    def check(self, x: Any, parts: tuple[Any, ...]) -> None:
        self.density.check(self.xp, x, parts[1], parts[3])

    def shapes_ok(self, parts: tuple[Any, ...], n: int) -> bool:
        """Whether the parts at ``n`` walkers have the shapes a run needs (log-densities (n,), gradients (n, d)):
        known while tracing, so that a compiled run can refuse a target before any work."""
        return tuple(parts[1].shape) == (n,) and tuple(parts[3].shape) == (n, self.base.dim)

    def any_bad(self, parts: tuple[Any, ...]) -> Any:
        """0-d bool array: whether :meth:`check` would raise for shape-correct parts (traceable: no host sync)."""
        return _any_bad(self.xp, parts[1], parts[3])

    def _mix(self, t: Any, p0: Any, p1: Any) -> Any:
        """:math:`(1-\\lambda)p_0 + \\lambda p_1`, exactly :math:`p_1` at λ = 1 (t a float or a 0-d array)."""
        a = self.lam(t)
        if isinstance(a, (int, float)):
            return (1 - a) * p0 + a * p1 if a != 1 else p1
        return self.xp.where(a == 1, p1, (1 - a) * p0 + a * p1)

    def log_prob(self, t: Any, parts: tuple[Any, ...]) -> Any:
        return self._mix(t, parts[0], parts[1])

    def grad(self, t: Any, parts: tuple[Any, ...]) -> Any:
        return self._mix(t, parts[2], parts[3])

    def cache_key(self, target: Any) -> tuple:
        """What a compiled run along this path closes over besides ``target`` (for the backend's compile cache)."""
        mean = tuple(self.base.mean) if isinstance(self.base.mean, list) else self.base.mean
        lam = None if self.lam is _IDENTITY else (self.lam, self.dlam)
        return ("geometric", target, self.base.dim, self.base.scale, mean, lam)

    def dt_log_prob(self, t: float, parts: tuple[Any, ...]) -> Any:
        return self.dlam(t) * (parts[1] - parts[0])

    def laplacian(self, t: float, x: Any) -> Any:
        r""":math:`\Delta\log\rho_t = -(1-\lambda)d/\sigma^2 + \lambda\,\Delta\log\tilde\rho_1`."""
        a = self.lam(t)
        return -(1 - a) * self.base.dim / self.base.scale**2 + a * self.density.laplacian(x, self.xp)

    def target_log_prob(self, parts: tuple[Any, ...]) -> Any:
        return parts[1]


def _host_t(t: Any) -> float:
    """A user path is called with Python floats (it is stepped in Python, never traced)."""
    return t if isinstance(t, float) else float(t)


class CustomPath:
    """A user path: an object with ``log_prob(t, x)``, ``grad_log_prob(t, x)`` (batched over x of shape
    (n, d)), ``dt_log_prob(t, x)`` (NETS), ``sample0(n, gen)`` (exact draws from the normalized-by-``log_Z0``
    density at t = 0, ``gen`` a :class:`transportkit.random.Generator`) and a float ``log_Z0``."""

    geometric = False

    def __init__(self, path: Any, xp: Any):
        for attr in ("log_prob", "grad_log_prob", "sample0", "log_Z0"):
            if not hasattr(path, attr):
                raise TypeError(f"a custom path needs {attr!r}; got {type(path).__name__}")
        self.path, self.xp, self.log_Z0 = path, xp, float(path.log_Z0)
        self.density = Density(lambda x: path.log_prob(1.0, x), lambda x: path.grad_log_prob(1.0, x), None, "path")

    def sample0(self, n: int, gen: Any) -> Any:
        return self.path.sample0(n, gen)

    def evaluate(self, x: Any) -> tuple[Any, ...]:
        return (x,)

    def check(self, x: Any, parts: tuple[Any, ...]) -> None:
        lp, g = self.path.log_prob(0.0, x), self.path.grad_log_prob(0.0, x)
        self.density.check(self.xp, x, lp, g)

    def log_prob(self, t: Any, parts: tuple[Any, ...]) -> Any:
        return self.path.log_prob(_host_t(t), parts[0])

    def grad(self, t: Any, parts: tuple[Any, ...]) -> Any:
        return self.path.grad_log_prob(_host_t(t), parts[0])

    def laplacian(self, t: float, x: Any) -> Any:
        """The path's ``laplacian_log_prob(t, x)`` if it has one, else central differences of its gradient."""
        if hasattr(self.path, "laplacian_log_prob"):
            return self.path.laplacian_log_prob(t, x)
        return fd_laplacian(lambda y: self.path.grad_log_prob(t, y), x, self.xp)

    def dt_log_prob(self, t: float, parts: tuple[Any, ...]) -> Any:
        if not hasattr(self.path, "dt_log_prob"):
            raise TypeError("this sampler needs the path's dt_log_prob(t, x)")
        return self.path.dt_log_prob(t, parts[0])

    def target_log_prob(self, parts: tuple[Any, ...]) -> Any:
        return self.path.log_prob(1.0, parts[0])


def infer_dim(density: Density, target: Any, x0: Any = None, base: Any = None) -> int:
    """The dimension of the target: its own, else the last axis of ``x0``, else ``base.dim``; otherwise a
    ``ValueError`` saying how to give it."""
    dim = density.dim if density.dim is not None else getattr(target, "dim", None)
    if dim is None and x0 is not None:
        dim = x0.shape[-1]
    if dim is None and base is not None:
        dim = getattr(base, "dim", None)
    if dim is None:
        raise ValueError(
            "cannot tell the dimension of the target: use tk.targets.from_log_prob(fn, dim=d), give the object a "
            "`dim` attribute, or pass x0= (or base=)"
        )
    return int(dim)


def make_path(
    target: Any,
    be: Backend,
    *,
    path: Any = None,
    base: Any = None,
    base_mean: Any = 0.0,
    base_scale: float | None = None,
    schedule: Any = None,
    x0: Any = None,
    need_grad: bool | None = None,
) -> Any:
    """The path used by AIS/SMC/NETS: ``path`` if given, else geometric from ``base`` (default
    N(base_mean, base_scale^2 I), ``base_scale`` defaulting to ``target.base_scale`` or 1). The target's dimension
    may come from ``base``, ``x0`` or a vector ``base_mean``; ``need_grad`` is passed to :func:`as_density`
    (``False`` for gradient-free kernels: the target's gradient is then never evaluated)."""
    xp = be.xp
    if path is not None:
        if callable(getattr(path, "bind", None)):  # e.g. InterpolantPath: bound to the backend once per call
            path = path.bind(be)
        return CustomPath(path, xp)
    gbase = base if isinstance(base, GaussianBase) else None
    if gbase is None and x0 is None and (hasattr(base_mean, "shape") or isinstance(base_mean, (list, tuple))):
        gbase = GaussianBase(len(base_mean.tolist() if hasattr(base_mean, "tolist") else base_mean), base_mean)
    density = as_density(target, be, base=gbase, x0=x0, need_grad=need_grad)
    dim = infer_dim(density, target, x0=x0, base=gbase)
    if base is None:
        scale = base_scale if base_scale is not None else getattr(target, "base_scale", 1.0)
        base = GaussianBase(dim, base_mean, scale)
    elif not isinstance(base, GaussianBase):
        raise TypeError("base must be a transportkit.sampling._common.GaussianBase; for other bases give a path")
    if base.dim != dim:
        raise ValueError(f"base has dimension {base.dim}, target has dimension {dim}")
    return GeometricPath(base, density, xp, schedule)


def where_parts(mask: Any, new: tuple[Any, ...], old: tuple[Any, ...], xp: Any) -> tuple[Any, ...]:
    """Per-walker selection between two tuples of walker arrays (leading axis n)."""
    out = []
    for a, b in zip(new, old, strict=True):
        m = mask if a.ndim == 1 else mask[:, None]
        out.append(xp.where(m, a, b))
    return tuple(out)


def take_parts(parts: tuple[Any, ...], idx: Any, xp: Any) -> tuple[Any, ...]:
    return tuple(xp.take(a, idx, axis=0) for a in parts)
