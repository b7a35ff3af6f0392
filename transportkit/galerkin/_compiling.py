"""Loops that run compiled where the backend compiles, and as plain Python loops otherwise (or on request).

The Galerkin kernels are written once against a :class:`Loops` object: ``Loops(be, compiled=True)`` hands the
loops to the backend (``jax.lax`` on JAX, traced once inside :meth:`Backend.compiled`), ``Loops(be,
compiled=False)`` runs them in Python so that a user right-hand side that cannot be traced still works.
:func:`compiled_or_plain` builds a function both ways and falls back to the plain one, with a warning, when the
compiled one cannot be traced.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from .._backend import Backend
from .._loops import Loops

__all__ = ["Identity", "Loops", "compiled_or_plain"]


class Identity:
    """A compile-cache key part that compares by identity and keeps its object alive (so ids are never reused
    while the key is cached)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Identity) and other.obj is self.obj


class _Guarded:
    """Call the compiled function; if its first call fails (tracing), warn and use the plain one from then on."""

    def __init__(self, compiled: Callable, plain: Callable[[], Callable], name: str) -> None:
        self.fn, self.plain, self.name, self.checked = compiled, plain, name, False

    def __call__(self, *args: Any) -> Any:
        if self.checked:
            return self.fn(*args)
        try:
            out = self.fn(*args)
        except Exception as exc:  # any tracing failure: run the plain function instead
            warnings.warn(f"{self.name} could not be compiled ({type(exc).__name__}: {exc}); running it uncompiled "
                          "(pass jit=False to silence this)", RuntimeWarning, stacklevel=3)
            self.fn = self.plain()
            out = self.fn(*args)
        self.checked = True
        return out


def compiled_or_plain(be: Backend, make: Callable[[Loops], Callable], *, compile: bool, key: Any = None,
                      name: str = "a Galerkin kernel") -> Callable:
    """``make(loops)`` compiled as one program by :meth:`Backend.compiled` (cached under ``key``) when ``compile``
    and the backend compiles, else ``make(Loops(be, False))``; a compiled function that fails on its first call
    (e.g. a user ``rhs`` that cannot be traced) warns and is replaced by the plain one."""
    if not (compile and be.jit is not None):
        return make(Loops(be, False))
    fn = be.compiled(None if key is None else ("galerkin", name, key), lambda: make(Loops(be, True)))
    return _Guarded(fn, lambda: make(Loops(be, False)), name)
