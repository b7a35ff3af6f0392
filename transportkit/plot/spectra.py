r"""Energy spectra :math:`E(k)` of fields (e.g. the spectral noise of the interpolants or a turbulent velocity) on
log–log axes, with an optional reference power law such as Kolmogorov's :math:`k^{-5/3}`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._validation import as_real
from ._common import axes, host, host_xp

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_energy_spectrum"]


def plot_energy_spectrum(
    k: Any,
    E: Any,
    *,
    ax: Any = None,
    labels: Sequence[str] | str | None = None,
    slope: float | None = None,
) -> Axes:
    r"""Energy spectrum :math:`E(k)` against the wavenumber :math:`k` on log–log axes.

    ``k``: (m,) wavenumbers; ``E``: (m,) or (c, m) for ``c`` spectra (``labels`` one per spectrum). Non-positive
    wavenumbers and energies are left out (log axes). With ``slope`` (e.g. ``-5/3``) a dashed reference line
    :math:`\propto k^{\text{slope}}` is drawn through the first spectrum at the geometric middle of its range."""
    ax = axes(ax)
    xp = host_xp()
    kk = host(k, "k")
    EE = host(E, "E")
    if EE.ndim == 1:
        EE = EE[None, :]
    if kk.ndim != 1 or EE.ndim != 2 or EE.shape[1] != kk.shape[0]:
        raise ValueError(f"k must be (m,) and E (m,) or (c, m); got {tuple(kk.shape)} and {tuple(host(E).shape)}")
    if isinstance(labels, str):
        labels = [labels]
    if labels is not None and len(labels) != EE.shape[0]:
        raise ValueError(f"{len(labels)} labels for {EE.shape[0]} spectra")
    for i in range(EE.shape[0]):
        keep = (kk > 0) & (EE[i] > 0) & xp.isfinite(EE[i])
        ax.loglog(kk[keep], EE[i][keep], lw=1.4, label=None if labels is None else labels[i])
    if slope is not None:
        slope = as_real("slope", slope)
        keep = (kk > 0) & (EE[0] > 0)
        ks, es = kk[keep], EE[0][keep]
        if ks.shape[0]:
            j = ks.shape[0] // 2
            ax.loglog(ks, es[j] * (ks / ks[j]) ** slope, "k--", lw=1, label=f"$k^{{{slope:.3g}}}$")
    ax.set_xlabel("wavenumber $k$")
    ax.set_ylabel("energy $E(k)$")
    if labels is not None or slope is not None:
        ax.legend(fontsize="small")
    return ax
