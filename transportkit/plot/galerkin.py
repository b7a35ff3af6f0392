r"""The picture of a Neural Galerkin run: :math:`u(x;\theta(t))` at saved times against the reference solution, with
a panel of the pointwise error (Bruna, Peherstorfer & Vanden-Eijnden, J. Comput. Phys. 2024, arXiv:2203.01360)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .._backend import resolve_backend
from ._common import check_ax, host, host_xp

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_galerkin"]


def plot_galerkin(
    result: Any,
    x: Any,
    *,
    times: Sequence[float] | None = None,
    exact: Callable[..., Any] | None = None,
    ax: Any = None,
    error_ax: Any = None,
) -> Axes:
    r"""Solution :math:`u(x;\theta(t))` of a :class:`~transportkit.galerkin.GalerkinResult` (solid) and the reference
    ``exact(t, x, xp)`` (default ``result.pde.exact``; dotted, same colour) on the 1-D points ``x`` at the saved
    ``times`` (default: all saved times, at most 6 evenly picked), and below it the pointwise error
    :math:`|u - u^*|` on a log scale.

    ``ax``: the Axes of the solution; ``error_ax``: that of the error (``False``: no error panel). With ``ax``
    omitted, a new pyplot figure with both panels; with ``ax`` given and ``error_ax`` omitted, the error panel is
    split off below ``ax``. Returns the solution's Axes (the error panel is ``ax.figure.axes[-1]``)."""
    check_ax(ax)
    if error_ax is not False:
        check_ax(error_ax, "error_ax")
    be = result.backend if result.backend is not None else resolve_backend(result.theta)
    xp = host_xp()
    ex = exact if exact is not None else getattr(result.pde, "exact", None)
    xs = host(x, "x")
    if xs.ndim == 2 and xs.shape[1] == 1:
        xs = xs[:, 0]
    if xs.ndim != 1:
        raise ValueError(f"x must be 1-D points (m,) or (m, 1), got shape {tuple(xs.shape)}")
    ts = [float(v) for v in host(result.t).tolist()]
    if times is None:
        k = len(ts)
        pick = sorted({round(i * (k - 1) / 5) for i in range(6)}) if k > 6 else list(range(k))
    else:
        pick = [result._index(float(t)) for t in times]
    if ax is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(7, 5))
        if error_ax is False or ex is None:
            ax = fig.add_subplot()
        else:
            ax, error_ax = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    elif error_ax is None and ex is not None:
        from mpl_toolkits.axes_grid1 import make_axes_locatable

        error_ax = make_axes_locatable(ax).append_axes("bottom", size="40%", pad=0.35, sharex=ax)
    xb = be.asarray(xs[:, None], be.dtype)
    for k in pick:
        u = host(result.param.value(result.theta[k, :], xb))
        line = ax.plot(xs, u, lw=1.4, label=f"t = {ts[k]:.3g}")[0]
        if ex is not None:
            ue = host(ex(ts[k], xb, be.xp))
            ax.plot(xs, ue, ":", color="k", lw=1.0)
            if error_ax not in (None, False):
                error_ax.semilogy(xs, xp.abs(u - ue) + 1e-300, color=line.get_color(), lw=0.9)
    if ex is not None:
        ax.plot([], [], "k:", lw=1.0, label="exact")
    ax.set_ylabel(r"$u(x, t)$")
    ax.legend(fontsize="small", ncols=2)
    ax.set_title("Neural Galerkin (solid) vs reference (dotted)")
    if error_ax not in (None, False):
        error_ax.set_ylabel(r"$|u - u^*|$")
        error_ax.set_xlabel("$x$")
    else:
        ax.set_xlabel("$x$")
    return ax
