r"""Energy-based models trained with Jarzynski-weighted walkers (Carbone, Hua, Coste & Vanden-Eijnden 2023,
arXiv:2305.19414).

Model :math:`\rho_\theta = e^{-U_\theta}/Z_\theta`; cross-entropy gradient
:math:`\nabla_\theta \mathrm{CE} = E_{\rm data}[\nabla_\theta U_\theta] - E_{\rho_\theta}[\nabla_\theta U_\theta]`.
Weighted walkers :math:`(X^i, A^i)` track :math:`\rho_{\theta_k}` while θ trains. Step k: (1) the gradient with
:math:`w = \mathrm{softmax}(A)`; (2) :math:`\theta_{k+1}` by an optimizer step (Adam); (3) a ULA move with
:math:`\theta_k`: :math:`X' = X - h\nabla U_{\theta_k}(X) + \sqrt{2h}\,\xi`; (4) the exact weight update

.. math:: A \mathrel{+}= -a_{\theta_{k+1}}(X', X) + a_{\theta_k}(X, X'), \qquad
          a_\theta(x, y) = U_\theta(x) + \tfrac12 (y - x)\cdot\nabla U_\theta(x) + \tfrac h4 |\nabla U_\theta(x)|^2,

the log-ratio of the backward (θ_{k+1}) and forward (θ_k) ULA kernels and of the two Boltzmann factors, which
removes both the lag of the walkers and the step-size bias of ULA; (5) systematic resampling when ESS/n falls below
``resample_threshold``. Then :math:`E[e^{A_k} f(X_k)] = (Z_{\theta_k}/Z_{\theta_0}) E_{\rho_{\theta_k}}[f]`, so the
run also tracks :math:`\log(Z_{\theta_k}/Z_{\theta_0})`.

Reference: D. Carbone, M. Hua, S. Coste, E. Vanden-Eijnden, "Efficient Training of Energy-Based Models Using
Jarzynski Equality", NeurIPS 2023, arXiv:2305.19414.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from typing import Any

from .._backend import Backend, resolve_backend
from .._capabilities import declare
from .._results import Result
from .._validation import as_count, as_points, as_real, check_callable, refuse_lazy
from ..errors import DegenerateWeightsWarning
from ..numerics import ess as _ess
from ..numerics import logsumexp
from ..random import SEED_DEPRECATED, resolve_rng
from .resampling import resample_indices

__all__ = ["EnergyModel", "JarzynskiEBMResult", "mlp_energy", "train_jarzynski", "ula_jarzynski_weights"]


@dataclasses.dataclass
class EnergyModel:
    """An energy :math:`U_\\theta(x)`: ``energy(params, x) -> (n,)`` (written with the array namespace, so that the
    backend's autodiff differentiates it in ``params`` and ``x``) and its parameters (a dict of arrays)."""

    energy: Callable[[dict[str, Any], Any], Any]
    params: dict[str, Any]

    def __call__(self, x: Any) -> Any:
        return self.energy(self.params, x)


@dataclasses.dataclass
class JarzynskiEBMResult(Result):
    """``model`` (the trained :class:`EnergyModel`), ``walkers`` (n, d) and ``log_weights`` (n,) (the weighted
    walkers of :math:`\\rho_\\theta` at the end), ``log_Z_ratio`` (the estimate of
    :math:`\\log Z_{\\theta_{\\rm end}}/Z_{\\theta_0}`), ``history`` (per step: ``loss``, ``ess`` (ESS/n),
    ``resampled``)."""

    model: EnergyModel
    walkers: Any
    log_weights: Any
    log_Z_ratio: float
    history: dict[str, list[Any]]


def mlp_energy(dim: int, hidden: tuple[int, ...] = (64, 64), *, rng: Any = 0, backend: Any = None) -> EnergyModel:
    r""":math:`U_\theta(x) = \tfrac12|x|^2 + f_\theta(x)` with :math:`f_\theta` a tanh MLP
    (:func:`transportkit.interpolants.mlp.init_mlp` layers, last layer zero): :math:`\rho_{\theta_0} = \mathcal
    N(0, I)` exactly, so walkers drawn from :math:`\mathcal N(0, I)` start in equilibrium."""
    from ..interpolants.mlp import init_mlp, mlp_apply

    dim = as_count("dim", dim)
    params = init_mlp(dim, tuple(hidden), 0, rng=rng, backend=backend)
    last = len(params) // 2 - 1
    W, c = params[f"W{last}"], params[f"c{last}"]
    xp = _namespace(W)
    params[f"W{last}"] = xp.zeros((W.shape[0], 1), dtype=W.dtype)
    params[f"c{last}"] = xp.zeros((1,), dtype=c.dtype)

    def energy(p: dict[str, Any], x: Any) -> Any:
        xq = _namespace(x)
        f = mlp_apply(p, xq.zeros((), dtype=x.dtype), x, xq)
        return 0.5 * xq.sum(x * x, axis=1) + f[:, 0]

    return EnergyModel(energy, params)


def _namespace(x: Any) -> Any:
    from array_api_compat import array_namespace

    return array_namespace(x)


def _as_model(energy_model: Any) -> EnergyModel:
    if isinstance(energy_model, EnergyModel):
        return energy_model
    if isinstance(energy_model, (tuple, list)) and len(energy_model) == 2:
        check_callable("energy_model[0]", energy_model[0])
        return EnergyModel(energy_model[0], dict(energy_model[1]))
    if callable(getattr(energy_model, "energy", None)) and isinstance(getattr(energy_model, "params", None), dict):
        return EnergyModel(energy_model.energy, dict(energy_model.params))
    raise TypeError(
        "energy_model must be an EnergyModel, a pair (energy(params, x), params) or an object with .energy and "
        f".params; got {type(energy_model).__name__}"
    )


def _a(U: Any, g: Any, x: Any, y: Any, h: float, xp: Any) -> Any:
    return U + 0.5 * xp.sum((y - x) * g, axis=1) + 0.25 * h * xp.sum(g * g, axis=1)


def _make_step(model: EnergyModel, be: Backend, h: float, lr: float, b1: float, b2: float) -> Callable:
    vg = be.require("value_and_grad")
    xp = be.xp
    energy = model.energy
    keys = sorted(model.params)

    def loss(p: dict[str, Any], data: Any, X: Any, w: Any) -> Any:
        return xp.mean(energy(p, data)) - xp.sum(w * energy(p, X))

    def value_grad_x(p: dict[str, Any], x: Any) -> tuple[Any, Any]:
        U = energy(p, x)
        g = vg(lambda y: xp.sum(energy(p, y)))(x)[1]
        return U, g

    def step(p, m, v, X, A, U, G, data, xi, c1, c2):  # type: ignore[no-untyped-def]
        w = xp.exp(A - logsumexp(A, xp=xp))
        val, g = vg(loss)(p, data, X, w)
        m = {k: b1 * m[k] + (1 - b1) * g[k] for k in keys}
        v = {k: b2 * v[k] + (1 - b2) * g[k] * g[k] for k in keys}
        p1 = {k: p[k] - lr * (m[k] / c1) / (xp.sqrt(v[k] / c2) + 1e-8) for k in keys}
        X1 = X - h * G + math.sqrt(2.0 * h) * xi
        U1, G1 = value_grad_x(p1, X1)
        A1 = A - _a(U1, G1, X1, X, h, xp) + _a(U, G, X, X1, h, xp)
        return p1, m, v, X1, A1, U1, G1, val

    return step, value_grad_x


@declare(needs=("value_and_grad",), name="tk.sampling.ebm.train_jarzynski")
def train_jarzynski(
    energy_model: Any,
    data: Any,
    *,
    steps: int = 1000,
    step_size: float = 0.01,
    lr: float = 1e-3,
    n_walkers: int = 1000,
    batch_size: int = 256,
    walkers: Any = None,
    resample_threshold: float = 0.5,
    betas: tuple[float, float] = (0.9, 0.999),
    rng: Any = None,
    backend: Any = None,
    seed: Any = SEED_DEPRECATED,
) -> JarzynskiEBMResult:
    r"""Train an energy-based model by cross-entropy with Jarzynski-weighted ULA walkers (module docstring;
    Carbone, Hua, Coste & Vanden-Eijnden 2023, arXiv:2305.19414).

    Parameters
    ----------
    energy_model : EnergyModel, pair ``(energy(params, x), params)``, or an object with ``energy`` and ``params``
        The model :math:`U_\theta`; ``params`` a dict of arrays of the backend (see :func:`mlp_energy`).
    data : array (N, d)
        Training data.
    steps : int
        Training steps (each: one Adam step on θ, one ULA move and weight update of the walkers).
    step_size : float > 0
        ULA step h.
    lr : float >= 0
        Adam learning rate; ``lr=0`` keeps θ fixed (the walkers then sample :math:`\rho_\theta` exactly after
        reweighting — the ULA bias is removed by the weights).
    n_walkers, batch_size : int
        Number of walkers; data rows per gradient step.
    walkers : array (n_walkers, d), optional
        Initial walkers, which must sample :math:`\rho_{\theta_0}` (default :math:`\mathcal N(0, I)`, exact for
        :func:`mlp_energy`).
    resample_threshold : float in [0, 1)
        Systematic resampling when ESS/n falls below it (0: never).
    betas : (float, float)
        Adam's β₁, β₂.
    rng, backend
        Randomness (SPEC 7; ``seed=`` deprecated alias) and backend (default: that of ``data``).

    Returns
    -------
    JarzynskiEBMResult
        ``.model``, ``.walkers``, ``.log_weights``, ``.log_Z_ratio``, ``.history``. Warns
        :class:`~transportkit.errors.DegenerateWeightsWarning` when the final ESS/n is below 0.1.
    """
    model = _as_model(energy_model)
    steps = as_count("steps", steps)
    h = as_real("step_size", step_size, low=0.0, low_open=True)
    lr = as_real("lr", lr, low=0.0)
    n_walkers = as_count("n_walkers", n_walkers, 2)
    batch_size = as_count("batch_size", batch_size)
    thr = as_real("resample_threshold", resample_threshold, low=0.0, high=1.0, high_open=True)
    b1 = as_real("betas[0]", betas[0], low=0.0, high=1.0, high_open=True)
    b2 = as_real("betas[1]", betas[1], low=0.0, high=1.0, high_open=True)
    refuse_lazy("data", data)
    be = resolve_backend(data, walkers, backend=backend)
    be.require("value_and_grad")
    data = as_points("data", data, be, ndim=2)
    N, d = data.shape
    xp = be.xp
    gen = resolve_rng(rng, be, seed=seed)
    if walkers is None:
        X = gen.normal((n_walkers, d))
    else:
        X = as_points("walkers", walkers, be, ndim=2)
        if tuple(X.shape) != (n_walkers, d):
            raise ValueError(f"walkers must have shape (n_walkers, d) = {(n_walkers, d)}, got {tuple(X.shape)}")
    p = {k: be.asarray(v) for k, v in model.params.items()}
    step, value_grad_x = _make_step(model, be, h, lr, b1, b2)
    step = be.maybe_jit(step)
    m = {k: xp.zeros_like(v) for k, v in p.items()}
    v = {k: xp.zeros_like(v) for k, v in p.items()}
    U, G = value_grad_x(p, X)
    A = xp.zeros((n_walkers,), dtype=X.dtype, device=be.device)
    log_z = 0.0
    history: dict[str, list[Any]] = {"loss": [], "ess": [], "resampled": []}
    for k in range(steps):
        batch = xp.take(data, gen.integers(0, N, (batch_size,)), axis=0)
        xi = gen.normal((n_walkers, d))
        c1, c2 = 1 - b1 ** (k + 1), 1 - b2 ** (k + 1)
        p, m, v, X, A, U, G, val = step(p, m, v, X, A, U, G, batch, xi, c1, c2)
        e = float(_ess(A, relative=True, xp=xp))
        history["loss"].append(float(val))
        history["ess"].append(e)
        res = thr > 0 and e < thr
        history["resampled"].append(res)
        if res:
            log_z += float(logsumexp(A, xp=xp)) - math.log(n_walkers)
            idx = resample_indices(A, "systematic", gen, xp)
            X, U, G = xp.take(X, idx, axis=0), xp.take(U, idx, axis=0), xp.take(G, idx, axis=0)
            A = xp.zeros_like(A)
    log_z += float(logsumexp(A, xp=xp)) - math.log(n_walkers)
    if not math.isfinite(log_z) or history["ess"][-1] < 0.1:
        warnings.warn(
            f"train_jarzynski: final ESS/n = {history['ess'][-1]:.3g}; the walkers no longer represent the model "
            "(lower step_size or lr, or resample more often)",
            DegenerateWeightsWarning,
            stacklevel=2,
        )
    return JarzynskiEBMResult(EnergyModel(model.energy, p), X, A, log_z, history, backend=be)


@declare(needs=("value_and_grad",), name="tk.sampling.ebm.ula_jarzynski_weights")
def ula_jarzynski_weights(
    energy_model: Any, walkers: Any, *, steps: int = 30, step_size: float = 0.4, rng: Any = None, backend: Any = None
) -> tuple[Any, Any]:
    """ULA walkers of a fixed model with the exact Jarzynski weights (the check of §5.6):
    :func:`train_jarzynski` with ``lr=0`` and no resampling; returns ``(walkers, log_weights)``."""
    be = resolve_backend(walkers, backend=backend)
    x = as_points("walkers", walkers, be, ndim=2)
    r = train_jarzynski(
        energy_model, x, steps=steps, step_size=step_size, lr=0.0, n_walkers=x.shape[0], batch_size=2,
        walkers=x, resample_threshold=0.0, rng=rng, backend=be,
    )  # fmt: skip
    return r.walkers, r.log_weights
