r"""Free-energy estimators: Jarzynski/Zwanzig (EXP), Bennett (BAR), multistate (MBAR), escorted Jarzynski.

Units are :math:`k_BT = 1`; :math:`\Delta F = F_1 - F_0 = -\log(Z_1/Z_0)`. Forward works :math:`W_F` come from
the process :math:`0 \to 1`, reverse works :math:`W_R` from :math:`1 \to 0`. Every average of exponentials is
computed in log space, so works of any magnitude (:math:`10^4` and beyond) neither overflow nor give NaN.

All functions take arrays of any Array-API backend (NumPy in, NumPy out) and return
:class:`FreeEnergyEstimate` objects (subclasses of :class:`transportkit.Estimate`) with ``value``, ``stderr``
and typed ``diagnostics`` (effective sample sizes, overlap, iteration counts, ...; also readable by name).

``exp`` and ``bar`` also accept batches: works of shape ``(..., n)`` give estimates of shape ``(...)``
(one independent estimate per leading index), which is how bootstrap resamples are evaluated.

Modules: :mod:`~transportkit.free_energy.exp_bar` (EXP, BAR, bounds),
:mod:`~transportkit.free_energy.multistate` (MBAR), :mod:`~transportkit.free_energy.mbar_object` (the
pymbar-shaped :class:`MBAR` object; its asymptotic covariance in :mod:`~transportkit.free_energy.mbar_covariance`),
:mod:`~transportkit.free_energy.escorted` (escorted works along a flow),
:mod:`~transportkit.free_energy.feat_estimator` (FEAT: works along a learned escort; the function ``feat``),
:mod:`~transportkit.free_energy.works` (works from sampler results), :mod:`~transportkit.free_energy.diagnostics`
(result types, the warnings).

References
----------
- C. Jarzynski, Phys. Rev. Lett. 78, 2690 (1997); G. E. Crooks, Phys. Rev. E 60, 2721 (1999) and 61, 2361 (2000).
- C. H. Bennett, J. Comput. Phys. 22, 245 (1976).
- M. R. Shirts, J. D. Chodera, J. Chem. Phys. 129, 124105 (2008), arXiv:0801.1426.
- S. Vaikuntanathan, C. Jarzynski, Phys. Rev. Lett. 100, 190601 (2008).
"""

from __future__ import annotations

from . import diagnostics as _diagnostics
from .diagnostics import *  # noqa: F403 -- the result types and warnings, listed once in diagnostics.__all__
from .escorted import escorted_jarzynski, flow_works
from .exp_bar import bar, bar_overlap, bounds, exp, exp_gauss
from .feat_estimator import feat
from .mbar_object import MBAR
from .multistate import mbar
from .showcase import demo
from .works import from_samples, works_from_samples

__all__ = [
    "MBAR",
    "bar",
    "bar_overlap",
    "bounds",
    "demo",
    "escorted_jarzynski",
    "exp",
    "exp_gauss",
    "feat",
    "flow_works",
    "from_samples",
    "mbar",
    "works_from_samples",
]
__all__ += [name for name in _diagnostics.__all__ if name != "Array"]
