r"""Flow maps and consistency models: one- and few-step samplers of an interpolant's probability flow.

:math:`X_{s,t}(x) = x + (t - s)\varphi_{s,t}(x)` jumps from time ``s`` to ``t`` along the ODE
:math:`\dot x = b_t(x)`; exact for Gaussian targets (:func:`exact_flow_map`), learned otherwise by distillation
(LMD, EMD) or self-distillation (LSD, ESD, PSD) or direct flow-map matching (:func:`train`, :mod:`.losses`).
Sample with ``tk.sample(flow_map, n, method="flow_map", steps=K, rng=...)``.
Sources: Boffi, Albergo & Vanden-Eijnden, "Flow Map Matching" (2024, arXiv:2406.07507); "How to build a consistency
model: Learning flow maps via self-distillation" (2025, arXiv:2505.18825).
"""

from __future__ import annotations

from . import losses
from .maps import FlowMap, GaussianFlowMap, MLPFlowMap, ODEFlowMap, exact_flow_map
from .sample import sample_flow_map
from .train import TrainResult, mlp_flow_map, train

__all__ = [
    "FlowMap",
    "GaussianFlowMap",
    "MLPFlowMap",
    "ODEFlowMap",
    "TrainResult",
    "exact_flow_map",
    "losses",
    "mlp_flow_map",
    "sample_flow_map",
    "train",
]
