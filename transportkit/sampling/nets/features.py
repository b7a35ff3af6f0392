r"""Linear-in-parameters drift features for NETS (Albergo & Vanden-Eijnden, "NETS: A Non-Equilibrium Transport
Sampler", 2024, arXiv:2410.02711): families :math:`\psi_j` with analytic divergence, so that the PINN loss is a
linear least-squares problem on any backend.

Each family has ``size`` parameters, ``design(x, s, lap, xp)`` (the PINN columns
:math:`\nabla\cdot\psi_j + s\cdot\psi_j`, shape (n, size)) and ``drift(x, theta, xp, s) -> (b, div b)``.

- ``"affine"``: :math:`b = Wx + c` (:math:`d^2 + d` parameters; exact for Gaussian paths);
- ``"diag"``: :math:`b_a = w_a x_a + c_a`;
- ``"rbf"``: gradients of Gaussian bumps :math:`\psi_j = \nabla e^{-|x-c_j|^2/2\ell_j^2}` (centers drawn from the
  walkers, widths ``rbf_widths`` times the walkers' spread);
- ``"sep"``: separable 1-D bumps :math:`b_a = \sum_j\theta_{aj}e^{-(x_a-c_{aj})^2/2\ell_a^2}`;
- ``"score"``: the annealed score :math:`b = \theta\,\nabla\log\rho_t` (divergence :math:`\theta\,\Delta\log\rho_t`);
- ``"auto"``: affine + rbf for d ≤ 4, affine + sep for 4 < d ≤ 16, diag + sep above; ``"none"``: no features.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..._backend import scalar_device
from ..._validation import close_matches

__all__ = ["FAMILIES", "DriftModel", "check_features", "make_families"]

#: the feature families that ``features="a+b+..."`` may combine
FAMILIES = ("affine", "diag", "score", "rbf", "sep")


def _dev(x: Any) -> Any:
    return scalar_device(x)


class _Affine:
    """:math:`b = Wx + c` (or diagonal W): columns :math:`\\nabla\\cdot\\psi + s\\cdot\\psi`."""

    def __init__(self, d: int, diag: bool):
        self.d, self.diag = d, diag
        self.size = 2 * d if diag else d * d + d

    def design(self, x: Any, s: Any, lap: Any, xp: Any) -> Any:
        n, d = x.shape
        if self.diag:
            return xp.concat([s * x + 1.0, s], axis=1)
        eye = xp.reshape(xp.eye(d, dtype=x.dtype, device=_dev(x)), (1, d * d))
        mw = xp.reshape(s[:, :, None] * x[:, None, :], (n, d * d)) + eye
        return xp.concat([mw, s], axis=1)

    def drift(self, x: Any, th: Any, xp: Any, s: Any) -> tuple[Any, Any]:
        d = self.d
        if self.diag:
            w, c = th[:d], th[d:]
            return x * w + c, xp.sum(w) + xp.zeros_like(x[:, 0])
        W, c = xp.reshape(th[: d * d], (d, d)), th[d * d :]
        return x @ xp.linalg.matrix_transpose(W) + c, xp.sum(xp.linalg.diagonal(W)) + xp.zeros_like(x[:, 0])


class _RadialRBF:
    r""":math:`\psi_j = \nabla\phi_j`, :math:`\phi_j = e^{-|x-c_j|^2/2\ell_j^2}`:
    :math:`\psi_j = -\phi_j(x-c_j)/\ell_j^2`, :math:`\nabla\cdot\psi_j = \phi_j(|x-c_j|^2/\ell_j^4 - d/\ell_j^2)`."""

    def __init__(self, centers: Any, widths: Any):
        self.c, self.l2 = centers, widths**2  # (m, d), (m,)
        self.size = centers.shape[0]

    def _phi(self, x: Any, xp: Any) -> tuple[Any, Any]:
        c = self.c
        sq = xp.sum(x * x, axis=1)[:, None] + xp.sum(c * c, axis=1)[None, :] - 2.0 * (x @ xp.linalg.matrix_transpose(c))
        sq = xp.maximum(sq, xp.zeros_like(sq))
        return xp.exp(-sq / (2 * self.l2)), sq

    def design(self, x: Any, s: Any, lap: Any, xp: Any) -> Any:
        d = x.shape[1]
        phi, sq = self._phi(x, xp)
        s_dot = xp.sum(s * x, axis=1)[:, None] - s @ xp.linalg.matrix_transpose(self.c)  # s.(x - c_j)
        return phi * (sq / self.l2**2 - d / self.l2 - s_dot / self.l2)

    def drift(self, x: Any, th: Any, xp: Any, s: Any) -> tuple[Any, Any]:
        d = x.shape[1]
        phi, sq = self._phi(x, xp)
        w = th * phi / self.l2  # (n, m)
        b = -(x * xp.sum(w, axis=1)[:, None] - w @ self.c)
        div = xp.sum(th * phi * (sq / self.l2**2 - d / self.l2), axis=1)
        return b, div


class _Separable:
    r"""Per coordinate a: :math:`b_a = \sum_j\theta_{aj}g_{aj}(x_a)`, :math:`g_{aj}(u) = e^{-(u-c_{aj})^2/2\ell_a^2}`;
    :math:`\nabla\cdot b = \sum_{a,j}\theta_{aj}g'_{aj}(x_a)`."""

    def __init__(self, centers: Any, widths: Any):
        self.c, self.l = centers, widths  # (d, m), (d,)
        self.size = centers.shape[0] * centers.shape[1]

    def _g(self, x: Any, xp: Any) -> tuple[Any, Any]:
        z = (x[:, :, None] - self.c[None, :, :]) / self.l[None, :, None]
        g = xp.exp(-0.5 * z * z)
        return g, -z / self.l[None, :, None] * g

    def design(self, x: Any, s: Any, lap: Any, xp: Any) -> Any:
        g, dg = self._g(x, xp)
        return xp.reshape(dg + s[:, :, None] * g, (x.shape[0], self.size))

    def drift(self, x: Any, th: Any, xp: Any, s: Any) -> tuple[Any, Any]:
        g, dg = self._g(x, xp)
        t = xp.reshape(th, self.c.shape)
        return xp.sum(t * g, axis=2), xp.sum(xp.reshape(t * dg, (x.shape[0], self.size)), axis=1)


class _Score:
    r"""The annealed score as a feature: :math:`b = \theta\,s_t(x)`, :math:`s_t = \nabla\log\rho_t`, with
    :math:`\nabla\cdot b = \theta\,\Delta\log\rho_t` (the PINN column is :math:`\Delta\log\rho_t + |s_t|^2`).
    Within a mode that moves and contracts, the transport drift is affine in x and in :math:`s_t`, so
    ``affine+score`` captures moving mode centers and shrinking widths with d^2 + d + 1 numbers per time. Costs
    nothing extra when sampling with the forward/backward weights (s is computed anyway); the fit needs the
    Laplacian of the target (analytic ``laplacian_log_prob`` if the target has one, else finite differences)."""

    size = 1
    needs_laplacian = True

    def design(self, x: Any, s: Any, lap: Any, xp: Any) -> Any:
        return (lap + xp.sum(s * s, axis=1))[:, None]

    def drift(self, x: Any, th: Any, xp: Any, s: Any) -> tuple[Any, Any]:
        return th[0] * s, None  # divergence th * lap: computed by DriftModel when needed


class DriftModel:
    r"""The drift at one grid time: :math:`b(x) = \sum_j\theta_j\psi_j(x)` over the concatenated feature families,
    and the fitted :math:`c = \partial_tF`."""

    def __init__(self, families: list, theta: Any, c: float):
        self.families, self.theta, self.c = families, theta, c

    @property
    def needs_laplacian(self) -> bool:
        """Whether the divergence of this drift needs the Laplacian of the path (a score feature)."""
        return any(getattr(f, "needs_laplacian", False) for f in self.families)

    def __call__(self, x: Any, xp: Any, s: Any = None, lap: Callable | None = None) -> tuple[Any, Any]:
        """``(b, div b)`` at x; ``s`` is the score of the path at x and ``lap()`` its Laplacian (only called when
        a score feature is present and the divergence is asked for, i.e. ``lap`` is not None)."""
        b, div, o = 0.0, 0.0, 0
        for f in self.families:
            th = self.theta[o : o + f.size]
            bb, dd = f.drift(x, th, xp, s)
            if dd is None:
                dd = th[0] * lap() if lap is not None else 0.0
            b, div, o = b + bb, div + dd, o + f.size
        return b, div


def check_features(kind: Any) -> None:
    """``ValueError`` unless ``kind`` is ``"auto"``, ``"none"`` or ``+``-joined names from :data:`FAMILIES`."""
    if not isinstance(kind, str):
        raise TypeError(f"features must be a string such as 'auto' or 'affine+rbf', got {kind!r}")
    if kind in ("auto", "none"):
        return
    for part in kind.split("+"):
        if part not in FAMILIES:
            raise ValueError(
                f"unknown feature family {part!r} in features={kind!r}{close_matches(part, FAMILIES)}; use affine, "
                "diag, score, rbf, sep (joined with '+'), auto or none"
            )


def quantile_grid(xs: Any, m: int, xp: Any) -> tuple[Any, Any]:
    """m centers per coordinate, equally spaced between the 1% and 99% quantiles of the walkers, (d, m), and their
    spacing (d,)."""
    n = xs.shape[0]
    srt = xp.sort(xs, axis=0)
    lo, hi = srt[int(0.01 * (n - 1)), :], srt[int(0.99 * (n - 1)), :]
    u = xp.linspace(0.0, 1.0, m, dtype=xs.dtype, device=_dev(xs))
    return lo[:, None] + (hi - lo)[:, None] * u[None, :], (hi - lo) / max(m - 1, 1)


def make_families(
    kind: str, xs: Any, gen: Any, xp: Any, n_centers: int, rbf_widths: Sequence[float], n_sep: int
) -> list:
    """The feature families of ``kind`` (checked by :func:`check_features`) placed on the walkers ``xs`` (n, d);
    ``gen`` draws the RBF centers."""
    d = xs.shape[1]
    if kind == "auto":
        kind = "affine+rbf" if d <= 4 else ("affine+sep" if d <= 16 else "diag+sep")
    fams: list = []
    for part in kind.split("+"):
        if part in ("affine", "diag"):
            fams.append(_Affine(d, part == "diag"))
        elif part == "score":
            fams.append(_Score())
        elif part == "rbf":
            m = min(n_centers, xs.shape[0])
            idx = xp.argsort(gen.uniform((xs.shape[0],)))[:m]
            cen = xp.take(xs, idx, axis=0)
            spread = float(xp.sqrt(xp.mean(xp.var(xs, axis=0)))) + 1e-12
            fams.extend(_RadialRBF(cen, xp.full((m,), w * spread, dtype=xs.dtype, device=_dev(xs))) for w in rbf_widths)
        else:  # "sep"
            cen, dx = quantile_grid(xs, n_sep, xp)
            fams.append(_Separable(cen, xp.maximum(dx, xp.full_like(dx, 1e-6))))
    return fams
