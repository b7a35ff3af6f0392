"""The private helpers of the former single-module ``transportkit/sampling/nets.py`` whose signatures changed in
the split, kept importable from :mod:`transportkit.sampling.nets` with their old signatures (thin wrappers)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..resampling import Resampler
from .driver import _summary
from .features import make_families
from .mlp_drift import init_net, train_mlp
from .simulate import Grid, _python

__all__ = ["_families", "_init_net", "_run", "_summary", "_train_mlp"]


def _families(
    kind: str, xs: Any, d: int, gen: Any, xp: Any, n_centers: int, rbf_widths: Sequence[float], n_sep: int
) -> list:
    """Old spelling of :func:`~transportkit.sampling.nets.features.make_families` (``d`` is ``xs.shape[1]``)."""
    return make_families(kind, xs, gen, xp, n_centers, rbf_widths, n_sep)


def _init_net(path: Any, data: tuple, hidden: tuple[int, ...], n_time: int, gen: Any, be: Any, K: int) -> dict:
    """Old spelling of :func:`~transportkit.sampling.nets.mlp_drift.init_net`."""
    return init_net(data, hidden, n_time, gen, be, K)


def _train_mlp(
    be: Any, params: dict, data: tuple, scale_in: float, scale_out: float, steps: int, batch: int, lr: float, gen: Any
) -> tuple[dict, list[float]]:
    """Old spelling of :func:`~transportkit.sampling.nets.mlp_drift.train_mlp`."""
    return train_mlp(be, params, data, (scale_in, scale_out), steps=steps, batch=batch, lr=lr, gen=gen)


def _run(
    path: Any,
    n: int,
    K: int,
    eps: float,
    drift: Callable | None,
    weights: str,
    gen: Any,
    xp: Any,
    keep: bool,
    progress: bool,
    desc: str,
    check: bool,
    rs: Resampler | None = None,
) -> tuple[Any, Any, list]:
    """Old spelling of :func:`~transportkit.sampling.nets.simulate.simulate` (the Python loop): ``(x, A, kept)``."""
    x = path.sample0(n, gen)
    parts = path.evaluate(x)
    if check:
        path.check(x, parts)
    tr = _python(xp, path, x, parts, Grid(K, eps, weights), drift, gen, keep, rs, progress, desc)
    return tr.x, tr.A, tr.kept
