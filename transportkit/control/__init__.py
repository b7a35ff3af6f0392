r"""Stochastic optimal control on the policy's own paths (Girsanov surrogate; Domingo-Enrich et al. 2024,
arXiv:2410.05163).

:func:`on_policy` trains a feedback control :math:`u_\theta(t, x)` for :math:`dX = (b + \sigma u_\theta)dt + \sigma dW`,
cost :math:`J(\theta) = E[\int_0^T (\tfrac12|u_\theta|^2 + f)\,dt + g(X_T)]`, with the surrogate loss whose gradient
is :math:`\nabla J` and that needs no backpropagation through the SDE; :func:`surrogate_gradient` estimates
:math:`J` and :math:`\nabla J` with standard errors. Models: :func:`linear_feedback` (any backend for evaluation)
and :func:`mlp_control`; training needs ``value_and_grad`` (torch, jax).

Reference: M. Hua, M. Laurière, E. Vanden-Eijnden, "An Efficient On-Policy Deep Learning Framework for Stochastic
Optimal Control", arXiv:2410.05163 (2024).
"""

from __future__ import annotations

from . import girsanov as _girsanov
from .girsanov import *  # noqa: F403 -- the public names, listed once in girsanov.__all__

__all__ = list(_girsanov.__all__)
