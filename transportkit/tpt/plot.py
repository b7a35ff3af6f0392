"""Optional matplotlib picture of the committor and the dominant pathways on the Müller–Brown grid."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .result import Array, Path, ReactiveFlux


def plot_mueller_brown(rf: ReactiveFlux, xy: Array, n: int, paths: list[Path], filename: str) -> None:
    """Committor :math:`q^+` as an image on the ``n x n`` grid with the pathways drawn on top, written to
    ``filename``. Uses a bare :class:`matplotlib.figure.Figure` (no pyplot, no change of matplotlib's global
    backend)."""
    from matplotlib.figure import Figure

    be = rf.backend
    q = be.to_numpy(rf.q_plus).reshape(n, n)
    P = be.to_numpy(xy)
    x = P[:, 0].reshape(n, n)
    y = P[:, 1].reshape(n, n)
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    im = ax.pcolormesh(x, y, q, shading="auto", cmap="coolwarm")
    fig.colorbar(im, ax=ax, label="forward committor $q^+$")
    for states, share in paths:
        ax.plot(P[states, 0], P[states, 1], lw=2, label=f"share {share:.2f}")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"Müller–Brown TPT, rate {rf.rate:.3e}")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(filename, dpi=120)
