"""Helpers shared by the picture functions: lazy matplotlib, host copies of arrays, the Axes to draw on.

Nothing here changes matplotlib's backend or global settings; nothing writes a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._backend import host_backend, resolve_backend

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["axes", "check_ax", "host", "host_xp", "labelled"]


def host_xp() -> Any:
    """The host (NumPy) namespace, through the adapter (transportkit/ never imports numpy itself)."""
    return host_backend().xp


def host(v: Any, name: str = "array") -> Any:
    """``v`` (an array of any backend, a list, a scalar) as a float64 host array."""
    if v is None:
        raise TypeError(f"{name} must be an array, got None")
    be = resolve_backend(v) if hasattr(v, "shape") else host_backend()
    out = be.to_numpy(v) if hasattr(v, "shape") else host_backend().asarray(v)
    xp = host_xp()
    try:
        return xp.astype(xp.asarray(out), xp.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be numeric, got {type(v).__name__}") from e


def check_ax(ax: Any, name: str = "ax") -> None:
    """``TypeError`` unless ``ax`` is None or a matplotlib Axes."""
    if ax is None:
        return
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(f"{name} must be a matplotlib Axes or None, got {type(ax).__name__}")


def axes(ax: Any) -> Axes:
    """``ax``, or a new Axes on a new pyplot figure (so that notebooks and sphinx-gallery show it).

    pyplot is imported only here, when no Axes was given; the backend stays whatever the user's is."""
    check_ax(ax)
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("transportkit.plot needs matplotlib: pip install 'transportkit[plot]'") from e
    return plt.figure().add_subplot()


def labelled(curves: Any, name: str) -> list[tuple[str, Any]]:
    """``{label: value}`` or a single value (label ``""``) as a list of pairs."""
    if isinstance(curves, Mapping):
        if not curves:
            raise ValueError(f"{name} is empty")
        return [(str(k), v) for k, v in curves.items()]
    return [("", curves)]
