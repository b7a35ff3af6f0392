r"""Pictures of nonequilibrium works: the forward and (mirrored) reverse work histograms, and Crooks' relation.

Crooks (Phys. Rev. E 60, 2721, 1999): :math:`P_F(W)/P_R(-W) = e^{W - \Delta F}` (units :math:`k_BT = 1`), so
the forward and mirrored reverse work densities cross at :math:`W = \Delta F` and the log of their ratio is a line
of slope 1; where they do not overlap, BAR has nothing to go on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._validation import as_count
from ._common import axes, host, host_xp

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_crooks", "plot_work_distributions"]


def _works(w: Any, name: str) -> Any:
    W = host(w, name)
    if W.ndim != 1 or W.shape[0] < 2:
        raise ValueError(f"{name} must be 1-D with at least 2 works, got shape {tuple(W.shape)}")
    xp = host_xp()
    return W[xp.isfinite(W)]


def plot_work_distributions(
    w_forward: Any, w_reverse: Any = None, *, delta_f: float | None = None, ax: Any = None, bins: int = 60
) -> Axes:
    r"""Histograms (densities) of the forward works :math:`W_F` and the mirrored reverse works :math:`-W_R`,
    with :math:`\Delta F` as a vertical line when given (by Crooks the two densities cross there)."""
    ax = axes(ax)
    bins = as_count("bins", bins, 2)
    xp = host_xp()
    wf = _works(w_forward, "w_forward")
    parts = [wf]
    if w_reverse is not None:
        parts.append(-_works(w_reverse, "w_reverse"))
    allw = xp.concat(parts)
    edges = xp.linspace(float(xp.min(allw)), float(xp.max(allw)), bins + 1)
    ax.hist(wf, bins=edges, density=True, alpha=0.5, label=f"$W_F$ (n = {wf.shape[0]})")
    if w_reverse is not None:
        ax.hist(parts[1], bins=edges, density=True, alpha=0.5, label=f"$-W_R$ (n = {parts[1].shape[0]})")
    if delta_f is not None:
        ax.axvline(float(delta_f), color="k", ls="--", lw=1, label=rf"$\Delta F$ = {float(delta_f):.3g}")
    ax.set_xlabel("work $W$ ($k_BT$)")
    ax.set_ylabel("density")
    ax.legend(fontsize="small")
    return ax


def plot_crooks(
    w_forward: Any,
    w_reverse: Any,
    *,
    delta_f: float | None = None,
    ax: Any = None,
    bins: int = 30,
    min_count: int = 5,
) -> Axes:
    r"""Crooks' relation: :math:`\log[\hat P_F(W)/\hat P_R(-W)]` on the bins where both histograms hold at least
    ``min_count`` works, with :math:`\pm 2` standard errors (:math:`\sqrt{1/n_F + 1/n_R}` per bin, Poisson
    counts), against the line :math:`W - \Delta F`. ``delta_f`` defaults to the BAR estimate; the title gives the
    overlap of the two work distributions (:func:`transportkit.free_energy.bar_overlap`)."""
    from ..free_energy.exp_bar import bar, bar_overlap

    ax = axes(ax)
    bins, min_count = as_count("bins", bins, 2), as_count("min_count", min_count)
    xp = host_xp()
    wf, wr = _works(w_forward, "w_forward"), _works(w_reverse, "w_reverse")
    if delta_f is None:
        delta_f = float(bar(wf, wr, ess_warning=0).value)
    lo = max(float(xp.min(wf)), float(xp.min(-wr)))
    hi = min(float(xp.max(wf)), float(xp.max(-wr)))
    shown = 0
    if hi > lo:
        edges = xp.linspace(lo, hi, bins + 1)
        cf = xp.astype(xp.histogram(wf, bins=edges)[0], xp.float64)
        cr = xp.astype(xp.histogram(-wr, bins=edges)[0], xp.float64)
        keep = (cf >= min_count) & (cr >= min_count)
        mid = 0.5 * (edges[1:] + edges[:-1])[keep]
        ratio = xp.log(cf[keep] / wf.shape[0]) - xp.log(cr[keep] / wr.shape[0])
        err = 2 * xp.sqrt(1 / cf[keep] + 1 / cr[keep])
        shown = int(mid.shape[0])
        if shown:
            ax.errorbar(mid, ratio, yerr=err, fmt="o", ms=3, capsize=2, label=r"$\log \hat P_F(W)/\hat P_R(-W)$")
            w = xp.linspace(float(mid[0]), float(mid[-1]), 2)
            ax.plot(w, w - delta_f, "k--", lw=1, label=rf"$W - \Delta F$, $\Delta F$ = {delta_f:.3g}")
    if not shown:
        ax.text(0.5, 0.5, "no overlap: no bin holds forward and reverse works", transform=ax.transAxes,
                ha="center", va="center")
    overlap = float(bar_overlap(wf, wr))
    ax.set_title(f"Crooks relation (overlap {overlap:.2g})")
    ax.set_xlabel("work $W$ ($k_BT$)")
    ax.set_ylabel(r"$\log P_F(W) / P_R(-W)$")
    if shown:
        ax.legend(fontsize="small")
    return ax
