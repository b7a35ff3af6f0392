"""The method registry behind :func:`transportkit.sample`: :func:`register_method`, :data:`METHODS`, :func:`sample`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .results import Samples

__all__ = ["METHODS", "Samples", "register_method", "sample"]


@dataclasses.dataclass(frozen=True)
class Method:
    """A registered sampling method: ``run(obj, n, **options) -> Samples`` and the predicate ``accepts(obj)``."""

    name: str
    run: Callable[..., Samples]
    accepts: Callable[[Any], bool]
    #: what the method samples from, for error messages ("a field or fitted model", "a target")
    kind: str = ""


#: name -> Method; other modules add methods with :func:`register_method`
METHODS: dict[str, Method] = {}
#: default method per kind of object: list of (predicate, method name), first match wins
DEFAULTS: list[tuple[Callable[[Any], bool], str]] = []


def register_method(
    name: str, run: Callable[..., Samples], accepts: Callable[[Any], bool], *, kind: str = "", default: bool = False
) -> None:
    """Register ``method=name`` for :func:`sample`; ``default=True`` makes it the default for objects it accepts."""
    METHODS[name] = Method(name, run, accepts, kind)
    if default:
        DEFAULTS.append((accepts, name))


#: modules of this package that register methods when imported (a later module adds its name here)
BUILTIN_MODULES: tuple[str, ...] = ("transport", "target_samplers")


def _ensure_builtin() -> None:
    import importlib

    for mod in BUILTIN_MODULES:
        importlib.import_module(f"{__package__}.{mod}")


def sample(obj: Any, n: int, *, method: str | None = None, **options: Any) -> Samples:
    """Draw ``n`` samples from ``obj`` with a registered ``method``.

    For a field or a fitted/trained model (anything with ``bind``): ``method="ode"`` (probability flow,
    default) or ``"sde"``; options ``steps, diffusion, solver, grid, t_span, backend, device, dtype, seed,
    rng_on_host, return_path, progress`` (see :func:`transportkit.sampling.transport.sample_transport`).
    Returns :class:`Samples` on the requested backend.
    """
    _ensure_builtin()
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    if method is None:
        for accepts, name in DEFAULTS:
            if accepts(obj):
                method = name
                break
        else:
            raise TypeError(
                f"sample() does not know how to sample from {type(obj).__name__}; methods: {sorted(METHODS)}"
            )
    m = METHODS.get(method)
    if m is None:
        raise ValueError(f"unknown method {method!r}; available: {sorted(METHODS)}")
    if not m.accepts(obj):
        raise TypeError(f"method {method!r} samples from {m.kind or 'other objects'}, got {type(obj).__name__}")
    return m.run(obj, n, **options)
