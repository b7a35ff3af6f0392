"""Result objects: dataclasses with plain fields, arrays on the caller's backend, ``to_numpy()`` for all."""

from __future__ import annotations

import dataclasses
from typing import Any

from ._backend import Backend, host_backend

__all__ = ["Estimate", "Result"]


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
