"""Backend adapters: one file per array library, registered under the entry-point group
``transportkit.backends``.

This package is the folder ``backends/`` of the source tree. Its modules are the only ones in transportkit
that import a specific array library, and each does so only when the backend is first used.

Another package adds a backend by subclassing :class:`transportkit.Adapter` and declaring, in its own
``pyproject.toml``::

    [project.entry-points."transportkit.backends"]
    mylib = "mypackage.tk_backend:MyLibAdapter"

or, at run time, by calling :func:`register`.
"""

from __future__ import annotations

import importlib
from typing import Any

from .._adapter import Adapter
from ..errors import BackendUnavailableError

__all__ = [
    "available",
    "capabilities",
    "known",
    "load",
    "owner_of",
    "providing",
    "register",
    "table",
    "unavailable",
]

#: Built-in adapters: name -> "module:Class" (also declared as entry points in pyproject.toml).
BUILTIN: dict[str, str] = {
    "numpy": "transportkit.backends.numpy:NumpyAdapter",
    "array_api_strict": "transportkit.backends.strict:StrictAdapter",
    "torch": "transportkit.backends.torch:TorchAdapter",
    "jax": "transportkit.backends.jax:JaxAdapter",
    "cupy": "transportkit.backends.cupy:CupyAdapter",
}

_specs: dict[str, Any] = {}  # name -> "module:Class" string or an Adapter instance/class
_adapters: dict[str, Adapter] = {}  # name -> instance (not necessarily loaded)
_loaded: dict[str, Adapter] = {}  # name -> adapter whose library imported and works
_failed: dict[str, str] = {}  # name -> reason it does not work here
_discovered = False


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _specs.update({k: v for k, v in BUILTIN.items() if k not in _specs})
    from importlib.metadata import entry_points

    for ep in entry_points(group="transportkit.backends"):
        _specs.setdefault(ep.name, ep)
    _discovered = True


def register(adapter: Any, *, name: str | None = None, replace: bool = False) -> None:
    """Register an adapter (an :class:`Adapter` subclass or instance) under ``name`` (default its ``name``)."""
    _discover()
    name = name or adapter.name
    if name in _specs and not replace:
        raise ValueError(f"backend {name!r} is already registered; pass replace=True to override it")
    _specs[name] = adapter
    for d in (_adapters, _loaded, _failed):
        d.pop(name, None)


def known() -> list[str]:
    """Every registered backend name, installed or not."""
    _discover()
    return list(_specs)


def _instance(name: str) -> Adapter:
    if name not in _adapters:
        spec = _specs[name]
        if isinstance(spec, str):
            mod, _, cls = spec.partition(":")
            obj = getattr(importlib.import_module(mod), cls)
        elif hasattr(spec, "load") and not isinstance(spec, Adapter) and not isinstance(spec, type):
            obj = spec.load()  # an importlib.metadata.EntryPoint
        else:
            obj = spec
        _adapters[name] = obj() if isinstance(obj, type) else obj
    return _adapters[name]


def _try_load(name: str) -> Adapter | None:
    """The adapter if its library imports and works here, else ``None`` (reason kept in ``_failed``)."""
    if name in _loaded:
        return _loaded[name]
    adapter = _instance(name)
    if name not in _failed:
        try:
            adapter.load()
        except Exception as exc:  # ImportError, or a library that imports but has no device
            _failed[name] = f"{type(exc).__name__}: {exc}"
    if name in _failed:
        return None
    _loaded[name] = adapter
    return adapter


def load(name: str) -> Adapter:
    """The working adapter called ``name``; clear errors when unknown or not installed."""
    _discover()
    if name not in _specs:
        raise ValueError(f"unknown backend {name!r}; known backends: {', '.join(known())}")
    adapter = _try_load(name)
    if adapter is None:
        spec = _instance(name)
        hint = f'pip install "transportkit[{spec.extra}]"' if spec.extra else f"install {spec.library}"
        raise BackendUnavailableError(
            f"backend {name!r} is not available here ({_failed[name]}). "
            f"Install it with: {hint}. Available backends: {', '.join(available()) or 'none'}"
        )
    return adapter


def available() -> list[str]:
    """Names of the backends whose library imports and works here (cupy only where a GPU answers)."""
    _discover()
    return [name for name in _specs if _try_load(name) is not None]


def unavailable() -> dict[str, str]:
    """Known backends that do not work here, with the reason for each."""
    available()
    return {k: v for k, v in _failed.items()}


def capabilities(name: str) -> dict[str, bool]:
    """``{capability: bool}`` for backend ``name``: the optional capabilities and float64 support."""
    adapter = load(name)
    caps = adapter.capabilities()
    caps["float64"] = adapter.supports_float64(adapter.default_device())
    return caps


def providing(capability: str) -> list[str]:
    """Known backends that declare ``capability`` (installed here or not)."""
    return [n for n in known() if capability in _instance(n).provides]


def owner_of(x: Any) -> Adapter | None:
    """The adapter whose library ``x`` is an array of (only among libraries already imported)."""
    _discover()
    for name in _specs:
        try:
            adapter = _instance(name)
        except Exception:
            continue
        if adapter.owns(x):
            return adapter
    return None


def table() -> list[dict[str, Any]]:
    """One row per known backend: name, whether it works here, default device, capabilities, notes."""
    rows = []
    for name in known():
        try:
            adapter = load(name)
        except BackendUnavailableError:
            rows.append({"backend": name, "available": False, "reason": _failed.get(name, "")})
            continue
        rows.append(
            {
                "backend": name,
                "available": True,
                "device": str(adapter.default_device()),
                **capabilities(name),
                "notes": adapter.notes,
            }
        )
    return rows
