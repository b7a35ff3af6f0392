r"""Schrödinger–Föllmer sampling by on-policy stochastic optimal control (on-policy control as in arXiv:2410.05163).

The Föllmer process :math:`dX = u(t, X)dt + \sigma dW` on :math:`[0, 1]`, :math:`X_0 = 0`, with the optimal control
of the cost :math:`E[\int_0^1 \tfrac12|u|^2dt + g(X_1)]`, :math:`g = -\log\tilde\rho + \log\mathcal N(0, \sigma^2 I)`,
ends exactly at :math:`\rho = \tilde\rho/Z` (and the optimal cost is :math:`-\log Z`). The control is trained with
:func:`transportkit.control.on_policy`; the samples come with the exact discrete-time Girsanov log-weights

.. math:: \log w = -\Big(\sum_k \tfrac12|u_k|^2 h + \sum_k u_k\cdot\Delta W_k + g(X_1)\Big),

(the Euler–Maruyama chain with :math:`u = 0` ends exactly at :math:`\mathcal N(0, \sigma^2 I)`), so
:math:`E[w] = Z` for any control and any step count: :math:`\log\hat Z = \log\mathrm{mean}\,w`.

References: J. Huang, Y. Jiao, L. Kang, X. Liao, J. Liu, Y. Liu, "Schrödinger–Föllmer sampler", arXiv:2106.10880
(2021); M. Hua, M. Laurière, E. Vanden-Eijnden, arXiv:2410.05163 (2024).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from .._capabilities import declare
from .._validation import as_count, as_real
from ..errors import DegenerateWeightsWarning
from ..numerics import ess as _ess
from ..numerics import logsumexp
from ..random import SEED_DEPRECATED
from ._common import as_density, infer_dim
from .registry import register_method
from .results import Samples
from .target_samplers import is_target

__all__ = ["schrodinger_follmer"]


@declare(needs=("value_and_grad",), name="tk.sample(method='schrodinger_follmer')")
def schrodinger_follmer(
    target: Any,
    n: int,
    *,
    control: Any = None,
    scale: float = 1.0,
    steps: int = 50,
    n_paths: int = 256,
    iterations: int = 500,
    lr: float = 1e-3,
    lr_decay: float = 1.0,
    hidden: tuple[int, ...] = (64, 64),
    backend: Any = None,
    dtype: Any = None,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
) -> Samples:
    r"""Train a Föllmer control for ``target`` with the on-policy surrogate, then draw ``n`` weighted samples
    (module docstring).

    Parameters
    ----------
    target
        A target with ``log_prob`` (gradients are not needed).
    n : int
        Samples drawn after training.
    control : ControlModel, optional
        Initial control (default :func:`transportkit.control.mlp_control` with ``hidden``); a trained one with
        ``iterations=0`` only samples.
    scale : float > 0
        σ: noise scale of the process and of the reference :math:`\mathcal N(0, \sigma^2 I)`.
    steps, n_paths, iterations, lr, lr_decay
        Euler–Maruyama steps on [0, 1]; paths per training iteration; Adam iterations, learning rate and decay.
    backend, dtype, rng
        As for the other samplers (``rng`` SPEC 7; ``seed=`` deprecated alias).

    Returns
    -------
    Samples
        ``x`` (n, d), ``log_weights``, ``log_Z`` and ``log_Z_stderr`` (delta method), ``ess``, ``info``
        (``control``, ``history``). Warns :class:`~transportkit.errors.DegenerateWeightsWarning` when ESS/n < 0.01.
    """
    from ..control.girsanov import ControlModel, mlp_control, on_policy, simulate
    from .options import Placement

    n = as_count("n", n)
    sigma = as_real("scale", scale, low=0.0, low_open=True)
    steps, n_paths = as_count("steps", steps), as_count("n_paths", n_paths, 2)
    iterations = as_count("iterations", iterations, 0)
    if control is not None and not isinstance(control, ControlModel):
        raise TypeError(f"control must be a ControlModel, got {type(control).__name__}")
    be, gen = Placement(backend=backend, dtype=dtype, rng=rng, seed=seed).resolve(None)
    xp = be.xp
    density = as_density(target, be)
    d = infer_dim(density, target, None)
    log_norm = -0.5 * d * math.log(2 * math.pi * sigma * sigma)

    def terminal(x: Any) -> Any:
        return -density.log_prob(x) + log_norm - 0.5 * xp.sum(x * x, axis=1) / (sigma * sigma)

    def zero_drift(t: float, x: Any) -> Any:
        return 0.0 * x

    def no_running(t: float, x: Any) -> Any:
        return xp.zeros((x.shape[0],), dtype=x.dtype, device=be.device)

    x0 = xp.zeros((d,), dtype=be.dtype, device=be.device)
    if control is None:
        control = mlp_control(d, tuple(hidden), rng=int(be.to_numpy(gen.integers(0, 2**31))), backend=be)
    history: dict[str, list[float]] = {"cost": [], "cost_se": []}
    if iterations:
        res = on_policy(
            zero_drift, sigma, no_running, terminal, 1.0, x0=x0, control=control, steps=steps, n_paths=n_paths,
            iterations=iterations, lr=lr, lr_decay=lr_decay, rng=gen, backend=be,
        )  # fmt: skip
        control, history = res.control, res.history
    paths = simulate(zero_drift, sigma, no_running, terminal, 1.0, control, x0, steps=steps, n_paths=n, gen=gen, be=be)
    log_w = -(paths.cost + paths.girsanov)
    lse = float(logsumexp(log_w, xp=xp))
    log_Z = lse - math.log(n)
    w = xp.exp(log_w - lse)
    ess = float(_ess(log_w, xp=xp))
    # delta-method standard error of log mean w: std(w)/mean(w)/sqrt(n)
    se = math.sqrt(max(float(xp.sum(w * w)) * n - 1.0, 0.0) / n)
    if ess / n < 0.01:
        warnings.warn(
            f"schrodinger_follmer: ESS/n = {ess / n:.3g}; the log Z estimate and its standard error cannot be "
            "trusted (train longer or with more paths)",
            DegenerateWeightsWarning,
            stacklevel=2,
        )
    info = {"control": control, "history": history, "steps": steps}
    return Samples(x=paths.x_end, log_weights=log_w, log_Z=log_Z, log_Z_stderr=se, ess=ess, info=info, backend=be)


register_method(
    "schrodinger_follmer",
    schrodinger_follmer,
    is_target,
    kind="a target (an object with log_prob/grad_log_prob, or a pair of callables)",
)
