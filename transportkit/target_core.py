r"""The base class of targets: :class:`Target` (validated public methods ``log_prob``, ``grad_log_prob``,
``sample``) and :class:`BoundTarget`, a target bound to one backend by :meth:`Target.bind` (what the samplers call
inside their loops: no resolution, validation or host sync per call). Targets from a log-density function
(:class:`~transportkit.callable_target.CallableTarget`, :func:`~transportkit.callable_target.from_log_prob`) live in
:mod:`transportkit.callable_target`; the normalizer of everything else, :func:`transportkit.targets.as_target`,
lives in the public face, which sees the Gaussian family. :mod:`transportkit.target_base` (the old home of all of
these) re-exports both modules' names.

Rules of the public methods (the bound ones skip them):

- ``x`` is a real floating array of shape ``(n, d)`` or ``(d,)`` (``as_points``); NaN in ``x`` is a ``ValueError``;
- ``log_prob`` at a row with an infinite coordinate is ``-inf`` for targets whose density vanishes at infinity (every
  built-in target); ``grad_log_prob`` at an infinite coordinate is a ``ValueError`` (no limit to give);
- a NaN (or, for the gradient, an infinite) value in the result is never silent: a
  :class:`~transportkit.errors.NonFiniteWarning` names the target, the method and the first offending row;
- nothing computed while ``x`` is a JAX tracer (under ``jit``/``grad``/``vmap``) is cached or checked on the host.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from ._backend import Backend, get_backend, host_backend, resolve_backend
from ._validation import as_count, as_points
from .errors import NonFiniteWarning
from .random import SEED_DEPRECATED, resolve_rng

__all__ = ["BoundTarget", "Target", "is_traced"]


def is_traced(*arrays: Any) -> bool:
    """Whether any of ``arrays`` is an abstract value of a tracing transformation (a JAX ``Tracer`` under ``jit``,
    ``grad``, ``vmap``): such values must never be cached or converted to host numbers."""
    return any(any(c.__name__ == "Tracer" for c in type(a).__mro__) for a in arrays)


def sample_arguments(
    default_backend: Any, n: Any, rng: Any, seed: Any, backend: Any, device: Any, dtype: Any
) -> tuple[int, Backend, Any]:
    """The checked arguments of an exact ``sample(n, rng, *, backend, dtype, device, seed)``: ``n`` (an int >= 0),
    the backend (``backend``, else that of a transportkit Generator passed as ``rng``/``seed``, else
    ``default_backend``) and the generator of ``rng`` (SPEC 7; ``seed=`` its deprecated alias), which must be on
    that backend."""
    n = as_count("n", n, low=0)
    src = rng if seed is SEED_DEPRECATED else seed
    if backend is None and hasattr(src, "backend") and hasattr(src, "normal"):
        backend = src.backend
    be = get_backend(default_backend if backend is None else backend, device=device, dtype=dtype)
    gen = resolve_rng(rng, be, seed=seed)
    if gen.backend is not be:
        raise ValueError(f"the generator's backend {gen.backend!r} differs from backend={be!r}")
    return n, be, gen


def _first_row(xp: Any, bad: Any) -> int:
    return int(xp.argmax(xp.astype(bad, xp.int32)))


class Target:
    """Base class of targets. Subclasses implement ``_log_prob(x, be)`` (and ``_grad_log_prob``, ``_sample``
    where they can); the public methods resolve the backend once, validate and convert the input, and warn
    (:class:`~transportkit.errors.NonFiniteWarning`) on NaN results."""

    dim: int
    #: log of the normalizing constant of exp(log_prob); 0.0 for normalized densities
    log_Z: float | None = 0.0
    #: the backend the target's parameters were given on (default backend of ``sample``)
    backend: Backend
    #: the density tends to 0 as any coordinate tends to +-inf (so ``log_prob`` there is ``-inf``)
    _vanishes_at_infinity: bool = True

    @property
    def name(self) -> str:
        return type(self).__name__

    def _resolve(self, x: Any, backend: Any, dtype: Any = None) -> tuple[Backend, Any]:
        be = resolve_backend(x, backend=backend, dtype=dtype)
        x = as_points("x", x, be, ndim=(1, 2), finite=False)
        dim = getattr(self, "dim", None)
        if dim is not None and x.shape[-1] != dim:
            raise ValueError(f"x must have shape (n, {dim}) or ({dim},), got {tuple(x.shape)}")
        if not is_traced(x):
            xp = be.xp
            nan = xp.isnan(x) if x.ndim == 1 else xp.any(xp.isnan(x), axis=-1)
            if bool(xp.any(nan)):
                where = "" if x.ndim == 1 else f" (row {_first_row(xp, nan)})"
                raise ValueError(f"x contains NaN{where}: {self.name}.log_prob is not defined there")
        return be, x

    def _inf_rows(self, x: Any, be: Backend) -> Any:
        return be.xp.any(be.xp.isinf(x), axis=-1)

    def log_prob(self, x: Any, *, backend: Any = None) -> Any:
        """log density at the rows of ``x`` (shape ``(n, d)`` -> ``(n,)``; ``(d,)`` -> scalar); ``-inf`` at rows
        with an infinite coordinate (densities that vanish at infinity)."""
        be, x = self._resolve(x, backend)
        single = x.ndim == 1
        x2 = x[None, :] if single else x
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # overflow at extreme x: the limits are handled here
            out = self._log_prob(x2, be)
            if self._vanishes_at_infinity:
                out = be.xp.where(self._inf_rows(x2, be), -math.inf, out)
        self._check_output("log_prob", x2, out, be, (x2.shape[0],), gradient=False)
        return out[0] if single else out

    def grad_log_prob(self, x: Any, *, backend: Any = None) -> Any:
        """Gradient of ``log_prob`` with respect to ``x`` (same shape as ``x``); ``ValueError`` at infinite x."""
        be, x = self._resolve(x, backend)
        single = x.ndim == 1
        x2 = x[None, :] if single else x
        if not is_traced(x2):
            inf = self._inf_rows(x2, be)
            if bool(be.xp.any(inf)):
                raise ValueError(
                    f"x has an infinite coordinate (row {_first_row(be.xp, inf)}): {self.name}.grad_log_prob is "
                    "not defined there"
                )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            out = self._grad_log_prob(x2, be)
        self._check_output("grad_log_prob", x2, out, be, tuple(x2.shape), gradient=True)
        return out[0] if single else out

    def _check_output(self, what: str, x: Any, out: Any, be: Backend, shape: tuple, gradient: bool) -> None:
        """Shape check, and a :class:`NonFiniteWarning` for NaN (log-density and gradient), ``+inf`` (log-density)
        or infinite (gradient) values (skipped under tracing)."""
        if tuple(getattr(out, "shape", ())) != shape:
            raise ValueError(f"{self.name}.{what} returned shape {tuple(getattr(out, 'shape', ()))}; expected {shape}")
        if is_traced(out):
            return
        xp = be.xp
        bad = ~xp.isfinite(out) if gradient else (xp.isnan(out) | (out == math.inf))
        if gradient:
            bad = xp.any(bad, axis=-1)
        if bool(xp.any(bad)):
            i = _first_row(xp, bad)
            k = int(xp.sum(xp.astype(bad, xp.int32)))
            warnings.warn(
                f"{self.name}.{what} is not finite at {k} of {shape[0]} rows (first: row {i}, value "
                f"{_fmt_row(out[i, ...] if gradient else out[i])}); the target's formula fails there "
                "(overflow or an undefined point)",
                NonFiniteWarning,
                stacklevel=3,
            )

    def sample(
        self,
        n: int,
        rng: Any = None,
        *,
        backend: Any = None,
        dtype: Any = None,
        device: Any = None,
        seed: Any = SEED_DEPRECATED,
    ) -> Any:
        """``n`` exact samples, shape ``(n, d)``. ``rng`` (SPEC 7): ``None`` (fresh entropy), an int, a
        ``numpy.random.Generator`` or a :class:`transportkit.random.Generator` (whose backend is then used unless
        ``backend`` is given); ``seed=`` is its deprecated alias."""
        n, be, gen = sample_arguments(self.backend, n, rng, seed, backend, device, dtype)
        return self._sample(n, gen, be)

    def bind(self, backend: Any) -> BoundTarget:
        """This target on one backend: a :class:`BoundTarget` whose methods take (n, d) arrays of that backend and
        do no resolution, validation or host sync (what the samplers call inside their loops)."""
        be = get_backend(backend)
        cache = self.__dict__.setdefault("_bound_targets", {})
        bound = cache.get(be)  # one bound object per backend object: compiled runs keyed by its methods are reused
        if bound is None:
            self._prepare(be)
            bound = cache[be] = BoundTarget(self, be)
        return bound

    def has_grad(self, be: Backend) -> bool:
        """Whether :meth:`grad_log_prob` is available on ``be`` (analytic, or by the backend's autodiff)."""
        return True

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the per-backend caches (bound targets, parameters converted to a device), which hold
        device objects that do not pickle and are rebuilt on first use: a target used on JAX or torch here still
        travels to a Dask worker (``client=``)."""
        state = dict(self.__dict__)
        state.pop("_bound_targets", None)
        if isinstance(state.get("_cache"), dict):
            state["_cache"] = {}
        return state

    # -- to implement -------------------------------------------------------------------------------
    def _prepare(self, be: Backend) -> None:
        """Move the parameters to ``be`` (called by :meth:`bind`, outside any compiled program)."""

    def _log_prob(self, x: Any, be: Backend) -> Any:
        raise NotImplementedError

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        vg = be.require("value_and_grad")
        return vg(lambda y: be.xp.sum(self._log_prob(y, be)))(x)[1]

    def _sample(self, n: int, gen: Any, be: Backend) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no exact sampler")


def _owner(cls: type, name: str) -> type:
    return next(k for k in cls.__mro__ if name in k.__dict__)


def _fused_value_and_grad(cls: type) -> bool:
    """Whether ``cls._value_and_grad`` may stand for ``_log_prob`` and ``_grad_log_prob``: it is defined below
    :class:`Target`, in a class that derives from the classes defining both."""
    owner = _owner(cls, "_value_and_grad") if hasattr(cls, "_value_and_grad") else Target
    return owner is not Target and all(issubclass(owner, _owner(cls, n)) for n in ("_log_prob", "_grad_log_prob"))


def _fmt_row(v: Any) -> str:
    if getattr(v, "ndim", 0) == 0:
        return f"{float(v):.4g}"
    vals = [float(v[j]) for j in range(min(v.shape[0], 4))]
    return "[" + ", ".join(f"{a:.4g}" for a in vals) + (", ...]" if v.shape[0] > 4 else "]")


class BoundTarget:
    """A :class:`Target` bound to a backend by :meth:`Target.bind`: ``log_prob(x)``, ``grad_log_prob(x)``,
    ``value_and_grad(x)`` and ``laplacian_log_prob(x)`` on arrays ``x`` of shape (n, d) of that backend, with no
    resolution, validation or host sync per call."""

    def __init__(self, target: Target, be: Backend):
        self.target, self.backend, self.dim = target, be, target.dim
        self.log_Z = target.log_Z

    def log_prob(self, x: Any) -> Any:
        """:math:`\\log\\tilde\\rho` at the rows of ``x`` (n, d) -> (n,)."""
        return self.target._log_prob(x, self.backend)

    def grad_log_prob(self, x: Any) -> Any:
        """:math:`\\nabla\\log\\tilde\\rho` at the rows of ``x`` (n, d) -> (n, d)."""
        return self.target._grad_log_prob(x, self.backend)

    def value_and_grad(self, x: Any) -> tuple[Any, Any]:
        """``(log_prob(x), grad_log_prob(x))``: the target's ``_value_and_grad`` (one pass where the two share work)
        unless a subclass overrides ``_log_prob`` or ``_grad_log_prob`` below the class that defines it."""
        if _fused_value_and_grad(type(self.target)):
            return self.target._value_and_grad(x, self.backend)
        return self.log_prob(x), self.grad_log_prob(x)

    def laplacian_log_prob(self, x: Any) -> Any:
        """The target's Laplacian of the log-density (``NotImplementedError`` where it has none)."""
        lap = getattr(self.target, "_laplacian_log_prob", None)
        if lap is None:
            raise NotImplementedError(f"{type(self.target).__name__} has no laplacian_log_prob")
        return lap(x, self.backend)

    def __repr__(self) -> str:
        return f"BoundTarget({self.target!r}, backend={self.backend.name!r})"


class _ParamTarget(Target):
    """Shared plumbing of the built-in targets: parameters stored as Python floats, converted once per
    (backend, device, dtype)."""

    log_Z: float | None = None

    def __init__(self) -> None:
        self._cache: dict[tuple, dict[str, Any]] = {}
        self.backend = host_backend()

    def _params(self, be: Backend) -> dict[str, Any]:
        key = (be.name, str(be.device), str(be.dtype))
        p = self._cache.get(key)
        if p is None:
            p = {k: be.asarray(v) for k, v in self._raw_params().items()}
            if not is_traced(*p.values()):  # converted under a JAX trace: tracers, never cached
                self._cache[key] = p
        return p

    def _raw_params(self) -> dict[str, Any]:
        return {}

    def _prepare(self, be: Backend) -> None:
        self._params(be)

    def laplacian_log_prob(self, x: Any, *, backend: Any = None) -> Any:
        r"""The Laplacian :math:`\Delta\log\tilde\rho(x) = \sum_i\partial_i^2\log\tilde\rho` at the rows of ``x``
        (analytic; used by the NETS drift features that contain the score)."""
        be, x = self._resolve(x, backend)
        single = x.ndim == 1
        out = self._laplacian_log_prob(x[None, :] if single else x, be)
        return out[0] if single else out

    def _laplacian_log_prob(self, x: Any, be: Backend) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dim={self.dim}, log_Z={self.log_Z})"
