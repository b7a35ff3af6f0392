"""The structural types of the annotations: :class:`Array`, an array of any Array-API library."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Array"]


class Array(Protocol):
    """An array of the caller's backend (numpy, torch, jax, array_api_strict, cupy, dask): anything with a ``shape``
    and a ``dtype`` (a structural type, so that every library's arrays match it)."""

    @property
    def shape(self) -> tuple[int | None, ...]: ...

    @property
    def dtype(self) -> Any: ...
