r"""The base class of targets: :class:`Target` (validated public methods ``log_prob``, ``grad_log_prob``,
``sample``) and :class:`BoundTarget`, a target bound to one backend by :meth:`Target.bind` (what the samplers call
inside their loops: no resolution, validation or host sync per call)."""

from __future__ import annotations

from typing import Any

from ._backend import Backend, get_backend, resolve_backend
from .random import default_rng

__all__ = ["BoundTarget", "Target"]


class Target:
    """Base class of targets. Subclasses implement ``_log_prob(x, be)`` (and ``_grad_log_prob``, ``_sample``
    where they can); the public methods resolve the backend once and convert the input."""

    dim: int
    #: log of the normalizing constant of exp(log_prob); 0.0 for normalized densities
    log_Z: float = 0.0
    #: the backend the target's parameters were given on (default backend of ``sample``)
    backend: Backend

    def _resolve(self, x: Any, backend: Any, dtype: Any = None) -> tuple[Backend, Any]:
        be = resolve_backend(x, backend=backend, dtype=dtype)
        x = be.asarray(x)
        if x.ndim not in (1, 2) or x.shape[-1] != self.dim:
            raise ValueError(f"x must have shape (n, {self.dim}) or ({self.dim},), got {tuple(x.shape)}")
        return be, x

    def log_prob(self, x: Any, *, backend: Any = None) -> Any:
        """log density at the rows of ``x`` (shape ``(n, d)`` -> ``(n,)``; ``(d,)`` -> scalar)."""
        be, x = self._resolve(x, backend)
        single = x.ndim == 1
        out = self._log_prob(x[None, :] if single else x, be)
        return out[0] if single else out

    def grad_log_prob(self, x: Any, *, backend: Any = None) -> Any:
        """Gradient of ``log_prob`` with respect to ``x`` (same shape as ``x``)."""
        be, x = self._resolve(x, backend)
        single = x.ndim == 1
        out = self._grad_log_prob(x[None, :] if single else x, be)
        return out[0] if single else out

    def sample(self, n: int, seed: Any = None, *, backend: Any = None, dtype: Any = None, device: Any = None) -> Any:
        """``n`` exact samples, shape ``(n, d)``; ``seed`` is an int, ``None`` or a
        :class:`transportkit.random.Generator` (whose backend is then used unless ``backend`` is given)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        if backend is None and hasattr(seed, "backend") and hasattr(seed, "normal"):
            backend = seed.backend
        be = get_backend(self.backend if backend is None else backend, device=device, dtype=dtype)
        gen = default_rng(seed, be)
        if gen.backend is not be:
            raise ValueError(f"the generator's backend {gen.backend!r} differs from backend={be!r}")
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
        """``(log_prob(x), grad_log_prob(x))``."""
        return self.log_prob(x), self.grad_log_prob(x)

    def laplacian_log_prob(self, x: Any) -> Any:
        """The target's Laplacian of the log-density (``NotImplementedError`` where it has none)."""
        lap = getattr(self.target, "_laplacian_log_prob", None)
        if lap is None:
            raise NotImplementedError(f"{type(self.target).__name__} has no laplacian_log_prob")
        return lap(x, self.backend)

    def __repr__(self) -> str:
        return f"BoundTarget({self.target!r}, backend={self.backend.name!r})"
