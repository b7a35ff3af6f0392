r"""Pictures of mean-field training (Rotskoff & Vanden-Eijnden, Comm. Pure Appl. Math. 2022, arXiv:1805.00915):
loss curves, and the scaling of the final loss with the number of particles against its power-law fit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._common import axes, host, host_xp, labelled

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_losses", "plot_scaling"]


def _curve(cur: Any, label: str) -> tuple[Any, Any, Any]:
    """(t, mean loss, std over seeds or None) of a Trajectory, Fluctuations or (times, loss) pair."""
    if hasattr(cur, "loss_mean"):
        xp = host_xp()
        return (host(cur.times), host(cur.loss_mean),
                xp.sqrt(host(cur.loss_var)))
    if hasattr(cur, "times") and hasattr(cur, "loss"):
        return host(cur.times), host(cur.loss), None
    if isinstance(cur, (tuple, list)) and len(cur) == 2:
        return host(cur[0], f"{label} times"), host(cur[1], f"{label} loss"), None
    raise TypeError(f"curve {label!r}: expected a Trajectory, Fluctuations or (times, loss), got {type(cur).__name__}")


def plot_losses(curves: Any, *, ax: Any = None, title: str | None = None) -> Axes:
    r"""Loss against (rescaled) time on a log scale for ``{label: curve}``: a
    :class:`~transportkit.meanfield.Trajectory`, a :class:`~transportkit.meanfield.Fluctuations` (the seed mean
    with a :math:`\pm 1` standard-deviation band) or a pair ``(times, loss)``."""
    ax = axes(ax)
    for lab, cur in labelled(curves, "curves"):
        t, m, s = _curve(cur, lab)
        line = ax.semilogy(t, m, label=lab or "loss")[0]
        if s is not None:
            xp = host_xp()
            ax.fill_between(t, xp.clip(m - s, 1e-300, None), m + s, color=line.get_color(), alpha=0.25)
    ax.set_xlabel("time (rescaled)")
    ax.set_ylabel("loss")
    if title is not None:
        ax.set_title(title)
    ax.legend(fontsize="small")
    return ax


def plot_scaling(results: Any, *, ax: Any = None) -> Axes:
    r"""Final loss against the number of particles :math:`n` on log–log axes: each seed (small dots), the seed mean
    (markers) and the fitted power law :math:`C n^{-a}` with the exponent and its standard error in the legend;
    ``results``: a :class:`~transportkit.meanfield.ScalingResult` or ``{label: ScalingResult}``."""
    ax = axes(ax)
    xp = host_xp()
    for lab, r in labelled(results, "results"):
        ns, errs, mean = (host(v) for v in (r.ns, r.errors, r.mean_error))
        pts = ax.loglog(ns, mean, "o", label=f"{lab + ': ' if lab else ''}mean of {errs.shape[0]} seeds")[0]
        for row in errs:
            ax.loglog(ns, row, ".", color=pts.get_color(), alpha=0.35, ms=4)
        fit = r.fit
        ax.loglog(ns, xp.exp(fit.log_C - fit.a * xp.log(ns)), "-", color=pts.get_color(), lw=1,
                  label=rf"fit $C n^{{-a}}$, a = {fit.a:.2f} ± {fit.a_stderr:.2f}")
    from matplotlib.ticker import NullFormatter

    ticks = sorted({float(v) for _, r in labelled(results, "results") for v in host(r.ns).tolist()})
    ax.set_xticks(ticks, labels=[f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("particles $n$")
    ax.set_ylabel("final loss")
    ax.legend(fontsize="small")
    return ax
