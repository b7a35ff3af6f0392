"""How the samplers run their steps: one compiled program where the backend compiles and the random stream can be
drawn inside it (:func:`transportkit._loops.scan_steps`, ``Backend.while_loop``), a Python loop otherwise (NumPy,
torch, ``array_api_strict``; JAX with ``rng_on_host`` or with a path that cannot be traced)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._backend import Backend
from .._loops import progress_bar, scan_steps

__all__ = ["inner_scan", "run_scan", "run_while"]


def _stack(be: Backend, ys: list) -> Any:
    if isinstance(ys[0], tuple):
        return tuple(be.xp.stack([y[k] for y in ys], axis=0) for k in range(len(ys[0])))
    return be.xp.stack(ys, axis=0)


def run_scan(
    be: Backend,
    compiled: bool,
    body: Callable[[Any, Any, Any], tuple[Any, Any]],
    carry: Any,
    n: int,
    *,
    consts: Any = (),
    key: Any = None,
    progress: bool = False,
    desc: str = "",
) -> tuple[Any, Any]:
    """``carry, y_i = body(i, carry, consts)`` for ``i < n`` (n >= 1); returns the carry and the stacked ``y``.
    ``compiled``: one program via :func:`~transportkit._loops.scan_steps` (cached under ``key``); else Python."""
    if compiled:
        return scan_steps(be, body, carry, n, consts=consts, key=key, progress=progress, desc=desc)
    bar = progress_bar(n, progress, desc)
    ys = []
    try:
        for i in range(n):
            carry, y = body(i, carry, consts)
            ys.append(y)
            bar.update(1)
    finally:
        bar.close()
    return carry, _stack(be, ys)


def inner_scan(
    be: Backend, compiled: bool, body: Callable[[Any, Any], tuple[Any, Any]], carry: Any, lower: Any, length: int
) -> tuple[Any, Any]:
    """A scan inside a loop body: ``Backend.scan`` when compiled, else a Python loop (outputs stacked)."""
    if compiled:
        return be.scan(body, carry, lower, length)
    ys = []
    for j in range(length):
        carry, y = body(lower + j, carry)
        ys.append(y)
    return carry, _stack(be, ys)


def run_while(
    be: Backend,
    compiled: bool,
    cond: Callable[[Any], Any],
    body: Callable[[Any], Any],
    carry: Any,
    *,
    key: Any = None,
    consts: Any = (),
) -> Any:
    """``while cond(carry, consts): carry = body(carry, consts)``: one compiled ``Backend.while_loop`` (cached
    under ``key``) or a Python loop (one host sync per test)."""
    if not compiled:
        while bool(cond(carry, consts)):
            carry = body(carry, consts)
        return carry

    def make() -> Callable:
        def run(c: Any, k: Any) -> Any:
            return be.while_loop(lambda cc: cond(cc, k), lambda cc: body(cc, k), c)

        return run

    return be.compiled(None if key is None else ("sampler_while", key), make)(carry, consts)
