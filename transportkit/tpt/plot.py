"""Kept for compatibility: :func:`plot_mueller_brown` writes the picture of :func:`transportkit.plot.plot_tpt` to a
file. New code: ``transportkit.plot.plot_tpt(rf, xy, ax=ax, potential=tk.tpt.mueller_brown_potential)``.

This module sits on floor 5 (pictures) though it lives in ``tpt/`` (``tests/test_architecture.py``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..plot.tpt import plot_tpt
from .examples import mueller_brown_potential

if TYPE_CHECKING:
    from .result import Array, Path, ReactiveFlux


def plot_mueller_brown(rf: ReactiveFlux, xy: Array, n: int, paths: list[Path], filename: str) -> None:
    """Write :func:`transportkit.plot.plot_tpt` of ``rf`` on the ``n x n`` Müller–Brown grid ``xy`` with the given
    ``paths`` and the potential's contours to ``filename``, on a bare :class:`matplotlib.figure.Figure` (no
    pyplot, matplotlib's backend untouched)."""
    from matplotlib.figure import Figure

    if len(xy) != n * n:
        raise ValueError(f"xy has {len(xy)} points, not n * n = {n * n}")
    fig = Figure(figsize=(7, 5.5))
    plot_tpt(rf, xy, ax=fig.subplots(), paths=paths, potential=mueller_brown_potential)
    fig.tight_layout()
    fig.savefig(filename, dpi=120)
