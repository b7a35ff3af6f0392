r"""Lattice field theories as targets: the two-dimensional lattice :math:`\phi^4` theory in the hopping-parameter form
(Albergo, Kanwar & Shanahan 2019, arXiv:1904.12072; Gabrié, Rotskoff & Vanden-Eijnden 2022, arXiv:2105.12603), a
benchmark of flow-based and NETS samplers. Written against the Array API like the rest of the zoo
(:mod:`transportkit._target_zoo`), whose conventions it shares.
"""

from __future__ import annotations

import math
from typing import Any

from ._backend import Backend
from ._validation import as_count, as_real
from .target_core import _ParamTarget

__all__ = ["Phi4"]


class Phi4(_ParamTarget):
    r"""Lattice :math:`\phi^4` theory on a periodic L x L lattice in the hopping-parameter form,
    :math:`\tilde\rho = e^{-S}`,

    .. math:: S(\phi) = \sum_x\Big[-2\kappa\sum_{\mu=1}^{2}\phi_x\phi_{x+\hat\mu} + \phi_x^2
              + \lambda(\phi_x^2 - 1)^2\Big],

    .. math:: \partial S/\partial\phi_x = -2\kappa\sum_\mu(\phi_{x+\hat\mu} + \phi_{x-\hat\mu}) + 2\phi_x
              + 4\lambda\phi_x(\phi_x^2 - 1).

    ``x`` has shape ``(..., L*L)`` (row-major sites). log Z is unknown (``None``); ``magnetization(x)`` gives
    :math:`M = \frac{1}{L^2}\sum_x\phi_x`.
    """

    def __init__(self, L: int = 8, kappa: float = 0.3, lam: float = 0.02) -> None:
        super().__init__()
        self.L = as_count("L", L, low=2)
        self.kappa = as_real("kappa", kappa)
        self.lam = as_real("lam", lam, low=0.0)
        self._vanishes_at_infinity = self.lam > 0
        self.dim = self.L * self.L
        self.log_Z = None
        self.base_scale = 1.0

    def _grid(self, x: Any, be: Backend) -> tuple[Any, Any]:
        xp = be.xp
        return xp, xp.reshape(x, (*x.shape[:-1], self.L, self.L))

    def action(self, x: Any, *, backend: Any = None) -> Any:
        """:math:`S(\\phi)` for each row of ``x``."""
        be, x = self._resolve(x, backend)
        return self._action(x, be)

    def _action(self, x: Any, be: Backend) -> Any:
        xp, p = self._grid(x, be)
        hop = p * (xp.roll(p, -1, axis=-1) + xp.roll(p, -1, axis=-2))
        site = -2 * self.kappa * hop + p * p + self.lam * (p * p - 1) ** 2
        return xp.sum(xp.reshape(site, x.shape), axis=-1)

    def _log_prob(self, x: Any, be: Backend) -> Any:
        s = self._action(x, be)
        if self.lam > 0:  # the quartic term dominates: an overflow (inf - inf = NaN) means S = +inf
            s = be.xp.where(be.xp.isnan(s), math.inf, s)
        return -s

    def _grad_log_prob(self, x: Any, be: Backend) -> Any:
        xp, p = self._grid(x, be)
        nb = xp.roll(p, -1, axis=-1) + xp.roll(p, 1, axis=-1) + xp.roll(p, -1, axis=-2) + xp.roll(p, 1, axis=-2)
        g = -2 * self.kappa * nb + 2 * p + 4 * self.lam * p * (p * p - 1)
        return -xp.reshape(g, x.shape)

    def _laplacian_log_prob(self, x: Any, be: Backend) -> Any:
        r""":math:`\Delta\log\tilde\rho = -\sum_x\big(2 + 4\lambda(3\phi_x^2 - 1)\big)` (L > 2)."""
        if self.L <= 2:
            raise NotImplementedError("Phi4 Laplacian needs L > 2")
        return -be.xp.sum(2 + 4 * self.lam * (3 * x * x - 1), axis=-1)

    def magnetization(self, x: Any, *, backend: Any = None) -> Any:
        """:math:`M = L^{-2}\\sum_x\\phi_x` for each row of ``x``."""
        be, x = self._resolve(x, backend)
        return be.xp.mean(x, axis=-1)
