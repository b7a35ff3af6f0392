"""Result objects: dataclasses with plain fields, arrays on the caller's backend, ``to_numpy()`` for all."""

from __future__ import annotations

import dataclasses
from typing import Any

from ._backend import Backend, host_backend

__all__ = ["Estimate", "Result", "fields_repr", "summarize"]


def summarize(value: Any, depth: int = 0) -> str:
    """A short text for ``value`` in a result's repr: arrays by library, shape and dtype (a 0-d array or a
    one-element array by its number), lists and tuples by length (short lists of numbers in full), numbers to 6
    significant digits, dicts and nested results one level deep."""
    if isinstance(value, Result) and depth == 0:
        return repr(value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return repr(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int):
        return str(value)
    shape = getattr(value, "shape", None)
    if shape is not None and hasattr(value, "dtype"):
        shape = tuple(shape)
        lib = (type(value).__module__ or "").split(".")[0]
        size = 1
        for s in shape:
            size *= int(s)
        if size == 1:
            try:
                return f"{float(value.reshape(()) if hasattr(value, 'reshape') else value):.6g}"
            except (TypeError, ValueError, RuntimeError):
                pass
        dtype = str(value.dtype).replace("torch.", "")
        return f"<{lib} {dtype} array {shape}>"
    if isinstance(value, (list, tuple)):
        if len(value) <= 4 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            inner = ", ".join(summarize(v, depth + 1) for v in value)
            return f"[{inner}]" if isinstance(value, list) else f"({inner})"
        return f"<{type(value).__name__} of {len(value)}>"
    if isinstance(value, dict):
        if depth > 0:
            return f"<dict of {len(value)}>"
        return "{" + ", ".join(f"{k!r}: {summarize(v, depth + 1)}" for k, v in value.items()) + "}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def fields_repr(name: str, items: Any) -> str:
    """``name(k=summary, ...)`` for the ``(key, value)`` pairs ``items`` (see :func:`summarize`)."""
    return f"{name}(" + ", ".join(f"{k}={summarize(v)}" for k, v in items) + ")"


def _convert(value: Any, backend: Backend) -> Any:
    if isinstance(value, Result):
        return value.to_numpy()
    if isinstance(value, dict):
        return {k: _convert(v, backend) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_convert(v, backend) for v in value)
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return backend.to_numpy(value)
    return value


@dataclasses.dataclass
class Result:
    """Base class of result objects. Subclasses are dataclasses; ``backend`` is a keyword-only field."""

    backend: Backend | None = dataclasses.field(default=None, kw_only=True, repr=False)

    def to_numpy(self) -> Result:
        """A copy with every array field (also inside dicts, lists and nested results) as a NumPy array."""
        if self.backend is None:
            return self
        changes = {
            f.name: _convert(getattr(self, f.name), self.backend)
            for f in dataclasses.fields(self)
            if f.name != "backend"
        }
        return dataclasses.replace(self, **changes, backend=host_backend())


@dataclasses.dataclass
class Estimate(Result):
    """A value and its standard error (scalars, or arrays of the same shape)."""

    value: Any
    stderr: Any

    def __iter__(self):
        yield self.value
        yield self.stderr
