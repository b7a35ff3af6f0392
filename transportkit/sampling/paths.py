r"""Paths :math:`\rho_t` for the samplers of unnormalized densities beyond the default geometric one.

:class:`InterpolantPath` is the marginal path of a stochastic interpolant (:mod:`transportkit.interpolants`)
between a Gaussian base and a Gaussian-mixture target,

.. math:: \rho_t = \mathrm{Law}(\alpha_t x_0 + \beta_t x_1 + \gamma_t z),\qquad x_0\sim\rho_0,\ x_1\sim\rho_1,

known in closed form (Albergo, Boffi & Vanden-Eijnden 2023,
arXiv:2303.08797): every :math:`\rho_t` is normalized (:math:`\log Z_t = 0`), the modes
move from the base to their places with their masses fixed, and

.. math:: \partial_t\log\rho_t = -\nabla\cdot b_t - b_t\cdot\nabla\log\rho_t

with :math:`b_t` the interpolant's velocity. Along the geometric path
:math:`\log\rho_t = (1-t)\log\rho_0 + t\log\rho_1` the mode masses of a multimodal target keep shifting after
the modes have separated, which no local drift can follow without pushing walkers across barriers; along an
interpolant path the transport is a motion of the modes, which NETS can learn (for equal isotropic
components the exact drift lies in the span of the ``affine+score`` features) and which annealed Langevin
dynamics (AIS) cannot follow at a finite number of steps. The path needs the mixture's parameters, so it is a
tool for benchmarks, tests and problems whose target is a known mixture, not for an unknown target.

Usage: ``tk.sample(target, n, method="nets", path=InterpolantPath(target), features="affine+score")``.
"""

from __future__ import annotations

from typing import Any

from .._backend import Backend

__all__ = ["InterpolantPath"]


class InterpolantPath:
    """The path :math:`\\rho_t` of an interpolant with an exact field (see the module docstring).

    Parameters
    ----------
    target
        a :class:`~transportkit.targets.GaussianMixture` (or :class:`~transportkit.targets.Gaussian`), an
        object with a ``mixture()`` method returning one (e.g. :class:`~transportkit.targets.GMM40`), or an
        :class:`~transportkit.interpolants.ExactField` (then ``interpolant`` and ``base`` are ignored).
    interpolant
        an :class:`~transportkit.interpolants.Interpolant` or a schedule name (default ``"linear"``).
    base
        the Gaussian (mixture) base :math:`\\rho_0` (default :math:`N(0, I)`).
    """

    log_Z0 = 0.0

    def __init__(self, target: Any, interpolant: Any = "linear", base: Any = None):
        from ..interpolants.exact import ExactField
        from ..targets import GaussianMixture

        if isinstance(target, ExactField):
            self.field = target
        else:
            mix = target.mixture() if callable(getattr(target, "mixture", None)) else target
            if not isinstance(mix, GaussianMixture):
                raise TypeError(
                    "InterpolantPath needs a GaussianMixture target, an object with a mixture() method, or an "
                    f"ExactField; got {type(target).__name__}"
                )
            self.field = ExactField(interpolant, mix, base)
        self.dim = self.field.dim

    def __repr__(self) -> str:
        return f"InterpolantPath({self.field!r})"

    def bind(self, be: Backend) -> _BoundInterpolantPath:
        """The path on backend ``be`` (called once per sampler call by the samplers)."""
        return _BoundInterpolantPath(self.field.bind(be), be)


class _BoundInterpolantPath:
    """The custom-path protocol of the samplers (``log_prob``, ``grad_log_prob``, ``dt_log_prob``,
    ``laplacian_log_prob``, ``sample0``, ``log_Z0``) on one backend; t is a Python float."""

    log_Z0 = 0.0

    def __init__(self, bf: Any, be: Backend):
        self.bf, self.be = bf, be
        self._t: dict[float, Any] = {}

    def _time(self, t: float) -> Any:
        tt = self._t.get(t)
        if tt is None:
            tt = self._t[t] = self.be.xp.asarray(float(t), dtype=self.be.dtype, device=self.be.device)
        return tt

    def log_prob(self, t: float, x: Any) -> Any:
        return self.bf.log_density(self._time(t), x)

    def grad_log_prob(self, t: float, x: Any) -> Any:
        return self.bf.score(self._time(t), x)

    def dt_log_prob(self, t: float, x: Any) -> Any:
        return self.bf.dt_log_density(self._time(t), x)

    def laplacian_log_prob(self, t: float, x: Any) -> Any:
        return self.bf.laplacian_log_density(self._time(t), x)

    def sample0(self, n: int, gen: Any) -> Any:
        return self.bf.base_samples(n, gen)
