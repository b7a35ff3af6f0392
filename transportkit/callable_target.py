r"""Targets from user callables: :class:`CallableTarget` and :func:`from_log_prob` (a log-density function of one
array library, its library detected by a probe call and its output checked once per backend), and
:func:`gradient_free`, the view of a target for kernels that never read the gradient (random-walk Metropolis).

The base class and its rules (validated public methods, :class:`~transportkit.errors.NonFiniteWarning` on non-finite
values, nothing cached under tracing) are those of :mod:`transportkit.target_core`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from . import backends
from ._backend import Backend, get_backend, host_backend, resolve_backend
from ._validation import as_bool, as_count, as_points, check_callable
from .errors import BackendUnavailableError, CapabilityError
from .target_core import Target, is_traced

__all__ = ["CallableTarget", "from_log_prob", "gradient_free"]

#: backends tried, in order, to find the array library a log-density function is written for
_PROBE_ORDER = ("numpy", "torch", "jax")


def _library_of(out: Any) -> str | None:
    """The backend name owning ``out`` (None: a Python number, which any backend can take)."""
    if isinstance(out, (int, float)) and not isinstance(out, bool):
        return None
    ad = backends.owner_of(out)
    return None if ad is None else ad.name


def _probe_points(be: Backend, dim: int, n: int = 2) -> Any:
    """``n`` deterministic, generic points (no zeros, no symmetric pairs) of dimension ``dim``."""
    vals = [[0.3 + 0.1 * i - 0.07 * j for j in range(dim)] for i in range(n)]
    return be.asarray(vals)


class CallableTarget(Target):
    r"""A target from a user log-density :math:`\log\tilde\rho` given as a function (see :func:`from_log_prob`).

    ``fn(x)`` takes an ``(n, d)`` array and returns ``(n,)`` (``vectorized=True``), or takes a ``(d,)`` point and
    returns a scalar (``vectorized=False``: vmapped where the backend's adapter provides ``vmap`` — JAX —, looped
    over the points elsewhere). ``grad`` (same convention, returning ``(n, d)`` / ``(d,)``) is optional: without it
    the gradient is the backend's autodiff (torch, jax) and, where there is none, asking for a gradient raises a
    :class:`~transportkit.CapabilityError` naming ``grad=`` — gradient-free methods never ask.
    ``log_Z`` is ``None`` (unknown) unless given.
    """

    _vanishes_at_infinity = False

    def __init__(
        self,
        fn: Callable,
        *,
        dim: int | None = None,
        grad: Callable | None = None,
        vectorized: bool = True,
        backend: Any = None,
        log_Z: float | None = None,
        name: str | None = None,
        laplacian: Callable | None = None,
        host: bool = False,
        source: Any = None,
        probe: bool = True,
    ) -> None:
        self.fn = check_callable("fn", fn)
        self.grad_fn = None if grad is None else check_callable("grad", grad)
        self.vectorized = as_bool("vectorized", vectorized)
        self.dim = None if dim is None else as_count("dim", dim)  # type: ignore[assignment]
        self.log_Z = log_Z
        self._name = name or getattr(fn, "__qualname__", None) or type(fn).__name__
        self._laplacian = laplacian
        #: evaluated on the host with NumPy (a scipy.stats distribution): not traceable, not differentiable
        self.host = host
        #: the object this target was made from (for ``base_scale``, ``sample``)
        self.source = source
        self._explicit_backend = backend is not None
        self._backend = get_backend(backend) if backend is not None else None
        #: probe ``fn`` when bound to a backend (output shape, array library); off for objects with a ``log_prob``
        #: method, which are checked on the sampler's first evaluation instead
        self._probe = probe
        self._with_dim: dict[int, CallableTarget] = {}
        self._probed: set = set()
        #: what identifies this target across calls (compile caches key on it): the user's object or functions
        self.cache_key = (source if source is not None else fn, self.grad_fn, self.vectorized, self.dim, host)
        bs = getattr(source, "base_scale", None)
        if bs is not None:
            self.base_scale = bs

    @property
    def name(self) -> str:
        return self._name

    @property
    def backend(self) -> Backend | None:  # type: ignore[override]
        """The library ``fn`` is written for: given, or detected by a probe call once the dimension is known
        (``None`` while unknown)."""
        if self._backend is None and self.dim is not None and (self._probe or self.host):
            self._backend = self._detect_backend()
        return self._backend

    # -- dimension and library -------------------------------------------------------------------------
    def with_dim(self, dim: int) -> CallableTarget:
        """This target with its dimension set (``self`` if it has it; one cached copy per dimension otherwise)."""
        dim = as_count("dim", dim)
        if self.dim is not None:
            if dim != self.dim:
                raise ValueError(f"target {self.name} has dimension {self.dim}, but {dim} was given")
            return self
        t = self._with_dim.get(dim)
        if t is None:
            t = self._with_dim[dim] = CallableTarget(
                self.fn, dim=dim, grad=self.grad_fn, vectorized=self.vectorized,
                backend=self._backend if self._explicit_backend else None, log_Z=self.log_Z, name=self._name,
                laplacian=self._laplacian, host=self.host, source=self.source, probe=self._probe,
            )  # fmt: skip
        return t

    def _call(self, f: Callable, x: Any, be: Backend, grad: bool) -> Any:
        if self.host:
            out = f(be.to_numpy(x))
            return be.asarray(out)
        if self.vectorized:
            return f(x)
        vmap = getattr(be.adapter, "vmap", None)
        if vmap is not None:
            return vmap()(f)(x)
        xp = be.xp
        rows = [f(x[i, ...]) for i in range(x.shape[0])]
        if not rows:
            return xp.zeros((0, x.shape[1]) if grad else (0,), dtype=x.dtype, device=be.device)
        rows = [r if hasattr(r, "shape") else be.asarray(r) for r in rows]
        return xp.stack([xp.asarray(r, dtype=x.dtype) for r in rows], axis=0)

    def _detect_backend(self) -> Backend:
        """The library ``fn`` is written for: the first of numpy, torch, jax on whose arrays it runs (or the library
        of what it returns); a ``TypeError`` that says ``backend=`` when none works."""
        if self.host:
            return host_backend()
        errors = []
        for name in _PROBE_ORDER:
            try:
                be = get_backend(name)
            except (BackendUnavailableError, ImportError, ValueError):
                continue
            x = _probe_points(be, self.dim)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    out = self._call(self.fn, x, be, grad=False)
            except Exception as err:  # the user's function failed on this library's arrays: try the next
                errors.append(f"{name}: {type(err).__name__}: {str(err)[:120]}")
                continue
            lib = _library_of(out)
            return be if lib is None or lib == name else get_backend(lib)
        raise TypeError(
            f"the log-density {self.name} could not be evaluated on NumPy, torch or JAX arrays of shape "
            f"(2, {self.dim}) ({'; '.join(errors)}); check that it takes an (n, d) array (or pass "
            "vectorized=False for a per-point function), or say which library it is written for with backend="
        )

    def _prepare(self, be: Backend) -> None:
        """Probe ``fn`` once on ``be`` (when the dimension is known): it must run on ``be``'s arrays and return
        a real ``(n,)`` array of the same library; otherwise a ``TypeError`` that says ``backend=``."""
        if self.dim is None or be in self._probed or not (self._probe or self.host):
            return
        if self.host and be.compiles_loops:
            raise TypeError(
                f"{self.name} is evaluated by NumPy on the host (a scipy.stats distribution) and cannot run inside "
                f"{be.name}'s compiled loops: use backend='numpy' (or give a log-density written with {be.name} ops)"
            )
        x = _probe_points(be, self.dim)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out = self._call(self.fn, x, be, grad=False)
        except Exception as err:
            raise TypeError(
                f"the log-density {self.name} failed on {be.name} arrays of shape (2, {self.dim}): "
                f"{type(err).__name__}: {err}. If it is written for another array library, pass that library "
                f"as backend= (e.g. backend='torch')"
            ) from err
        lib = _library_of(out)
        if lib is not None and lib != be.name:
            raise TypeError(
                f"the log-density {self.name} returned {lib} arrays for {be.name} input: it is written for {lib}; "
                f"pass backend={lib!r} (or write it with {be.name} ops)"
            )
        shape = tuple(getattr(out, "shape", ()))
        if shape != (2,):
            hint = " (a per-point function? pass vectorized=False)" if shape == () and self.vectorized else ""
            raise ValueError(
                f"the log-density {self.name} returned shape {shape} for x of shape (2, {self.dim}); expected (2,)"
                f"{hint}"
            )
        kind = str(getattr(out, "dtype", ""))
        if "complex" in kind or "bool" in kind:
            raise TypeError(f"the log-density {self.name} returned {kind} values; expected real floating values")
        if not is_traced(out):
            self._probed.add(be)

    # -- evaluation --------------------------------------------------------------------------------------
    def _for_input(self, x: Any, backend: Any) -> CallableTarget:
        """``self``, or (dimension unknown) the copy whose dimension is that of the points ``x``."""
        if self.dim is not None:
            return self
        a = as_points("x", x, resolve_backend(x, backend=backend), ndim=(1, 2), finite=False)
        return self.with_dim(a.shape[-1])

    def log_prob(self, x: Any, *, backend: Any = None) -> Any:
        t = self._for_input(x, backend)
        if t is not self:
            return t.log_prob(x, backend=backend)
        return super().log_prob(x, backend=backend if backend is not None else self._default_backend(x))

    def grad_log_prob(self, x: Any, *, backend: Any = None) -> Any:
        t = self._for_input(x, backend)
        if t is not self:
            return t.grad_log_prob(x, backend=backend)
        return super().grad_log_prob(x, backend=backend if backend is not None else self._default_backend(x))

    def _default_backend(self, x: Any) -> Any:
        """Host input to a target written for another library goes to that library."""
        ad = backends.owner_of(x)
        if (ad is None or ad.is_host) and self.backend is not None:
            return self.backend
        return None

    def _log_prob(self, x: Any, be: Backend) -> Any:
        return self._call(self.fn, x, be, grad=False)

    def has_grad(self, be: Backend) -> bool:
        return self.grad_fn is not None or (not self.host and be.value_and_grad is not None)

    def no_grad_message(self, be: Backend) -> str:
        """What a gradient-based method says when this target has no gradient on ``be``."""
        why = "is evaluated by NumPy on the host" if self.host else f"backend {be.name!r} has no autodiff"
        return (
            f"this method needs the gradient of {self.name}, which has none given and {why}: pass grad= to "
            "tk.targets.from_log_prob (or give your object a grad_log_prob method, or a (log_prob, grad) pair), "
            "run on a backend with autodiff (backend='torch' or 'jax'), or use a gradient-free method "
            "(method='rwm', or kernel='rwm' for ais/smc)"
        )

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        if self.grad_fn is not None:
            return self._call(self.grad_fn, x, be, grad=True)
        if self.host or be.value_and_grad is None:
            raise CapabilityError(self.no_grad_message(be))
        vg = be.value_and_grad
        return vg(lambda y: be.xp.sum(self._log_prob(y, be)))(x)[1]

    def _laplacian_log_prob(self, x: Any, be: Backend) -> Any:
        if self._laplacian is None:
            raise NotImplementedError(f"{self.name} has no laplacian_log_prob")
        return self._laplacian(x)

    def _sample(self, n: int, gen: Any, be: Backend) -> Any:
        src = self.source
        if src is not None and callable(getattr(src, "rvs", None)):  # scipy.stats: draws from a NumPy generator
            host = host_backend()
            seed = int(gen.backend.to_numpy(gen.integers(0, 2**31 - 1, ())))
            draws = src.rvs(size=n, random_state=seed)
            return be.asarray(host.xp.reshape(host.asarray(draws), (n, self.dim)))
        raise NotImplementedError(f"{self.name} has no exact sampler")

    def __repr__(self) -> str:
        be = "" if self._backend is None else f", backend={self._backend.name!r}"
        return f"CallableTarget({self.name}, dim={self.dim}{be})"


class _GradientFree(Target):
    """A view of a target for kernels that never use the gradient (random-walk Metropolis): the gradient is a
    zeros placeholder, so that no gradient is demanded from targets that have none."""

    def __init__(self, target: Target) -> None:
        self.target, self.dim, self.log_Z = target, target.dim, target.log_Z
        self.backend = target._backend if isinstance(target, CallableTarget) else target.backend
        self._vanishes_at_infinity = target._vanishes_at_infinity
        bs = getattr(target, "base_scale", None)
        if bs is not None:
            self.base_scale = bs

    @property
    def name(self) -> str:
        return self.target.name

    def _prepare(self, be: Backend) -> None:
        self.target._prepare(be)

    def _log_prob(self, x: Any, be: Backend) -> Any:
        return self.target._log_prob(x, be)

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        return be.xp.zeros_like(x)

    def _sample(self, n: int, gen: Any, be: Backend) -> Any:
        return self.target._sample(n, gen, be)

    def __repr__(self) -> str:
        return f"gradient_free({self.target!r})"


def gradient_free(target: Target) -> Target:
    """``target`` for a gradient-free kernel: unchanged if it has a gradient everywhere, else a view whose gradient is
    a zeros placeholder (never read by random-walk Metropolis)."""
    if isinstance(target, CallableTarget) and target.grad_fn is None:
        return _GradientFree(target)
    return target


def from_log_prob(
    fn: Callable,
    dim: int | None = None,
    grad: Callable | None = None,
    vectorized: bool = True,
    backend: Any = None,
    *,
    log_Z: float | None = None,
    name: str | None = None,
) -> CallableTarget:
    r"""A :class:`Target` from a log-density function :math:`x\mapsto\log\tilde\rho(x)` (unnormalized).

    Parameters
    ----------
    fn : callable
        ``fn(x)`` for ``x`` of shape ``(n, d)`` returning ``(n,)``, written with the operators or functions of one
        array library (NumPy, torch, JAX, or the Array API); with ``vectorized=False``, ``fn(x)`` for one point
        ``x`` of shape ``(d,)`` returning a scalar (vmapped on JAX, looped over the points elsewhere).
    dim : int, optional
        the dimension d. Without it, samplers take it from ``x0=``, ``base=`` or the path; ``fn`` is probed once
        (on 2 points) as soon as d is known, and its output shape and array library are checked.
    grad : callable, optional
        :math:`\nabla\log\tilde\rho`, same convention as ``fn`` (``(n, d)`` -> ``(n, d)``). Without it the
        gradient comes from the backend's autodiff (torch, jax); on NumPy, gradient-based methods (mala, hmc, ula,
        ais/smc/nets with their default kernels) then raise a :class:`~transportkit.CapabilityError` naming
        ``grad=`` — gradient-free ones (``method="rwm"``, ``kernel="rwm"``) work.
    vectorized : bool
        whether ``fn`` (and ``grad``) take a batch of points.
    backend : str or Backend, optional
        the library ``fn`` is written for. By default it is detected by a probe call (NumPy arrays first, then
        torch, then JAX: the first whose arrays ``fn`` accepts, or the library of what it returns).
    log_Z : float, optional
        :math:`\log\int\tilde\rho` where known (``None``: unknown).

    Examples
    --------
    >>> import numpy as np, transportkit as tk
    >>> t = tk.targets.from_log_prob(lambda x: -0.5 * np.sum(x**2, axis=-1), dim=2)
    >>> float(t.log_prob(np.zeros(2)))
    -0.0
    """
    return CallableTarget(fn, dim=dim, grad=grad, vectorized=vectorized, backend=backend, log_Z=log_Z, name=name)
