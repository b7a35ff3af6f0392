r"""``tk.sample(flow_map, n, method="flow_map", steps=K)``: few-step sampling by composing flow maps.

On a grid :math:`0 = t_0 < \cdots < t_K = 1`, :math:`x_{k+1} = X_{t_k, t_{k+1}}(x_k)` from :math:`x_0 \sim \rho_0`
(Boffi, Albergo & Vanden-Eijnden, "Flow Map Matching", 2024, arXiv:2406.07507, §2). For an exact map every
``K`` gives the same samples (the semigroup property); a learned map trades steps for accuracy.
"""

from __future__ import annotations

import itertools
from typing import Any

from .._capabilities import declare
from .._validation import as_bool, as_count, check_options
from ..random import SEED_DEPRECATED
from ..sampling.registry import register_method
from ..sampling.results import Samples
from ..sampling.transport import resolve_grid_run
from .maps import FlowMap

__all__ = ["sample_flow_map"]


@declare(name="tk.sample(method='flow_map')")
def sample_flow_map(
    flow_map: FlowMap,
    n: int,
    *,
    steps: int = 1,
    grid: Any = None,
    t_span: tuple[float, float] = (0.0, 1.0),
    backend: Any = None,
    device: Any = None,
    dtype: Any = None,
    rng: Any = None,
    seed: Any = SEED_DEPRECATED,
    rng_on_host: bool = False,
    return_path: bool = False,
) -> Samples:
    r"""``n`` samples by ``steps`` jumps of the flow map over ``t_span`` (or along an explicit ``grid``).

    The start draws are the base law at ``t_span[0]`` (:math:`N(0, I)` at 0). ``rng``: None, an int, a
    ``numpy.random.Generator`` or a transportkit Generator (``seed=`` is its deprecated alias). Returns
    :class:`~transportkit.sampling.Samples` with ``info`` holding ``method, steps, grid`` and, with
    ``return_path``, ``path`` (steps + 1, n, d).
    """
    if not isinstance(flow_map, FlowMap):
        raise TypeError(f"flow_map must be a tk.flowmaps.FlowMap, got {type(flow_map).__name__}")
    n = as_count("n", n)
    steps = as_count("steps", steps)
    return_path = as_bool("return_path", return_path)
    be, ts, gen = resolve_grid_run(flow_map, grid, steps, t_span, backend, device, dtype, rng, seed, rng_on_host)
    bf = flow_map.bind(be)
    x = bf.initial_samples(n, ts[0], gen)
    path = [x]
    for a, b in itertools.pairwise(ts):
        x = bf.transport(x, [a, b])
        path.append(x)
    info: dict[str, Any] = {"method": "flow_map", "steps": len(ts) - 1, "grid": ts}
    if return_path:
        info["path"] = be.xp.stack(path, axis=0)
    return Samples(x, info=info, backend=be)


_OPTIONS = ("steps", "grid", "t_span", "backend", "device", "dtype", "rng", "seed", "rng_on_host", "return_path")


def _run(obj: Any, n: int, **options: Any) -> Samples:
    check_options("tk.sample(method='flow_map')", options, _OPTIONS)
    return sample_flow_map(obj, n, **options)


register_method(
    "flow_map", _run, lambda obj: isinstance(obj, FlowMap), kind="a flow map (tk.flowmaps.FlowMap)", options=_OPTIONS,
    summary="one- and few-step sampling: K jumps of a learned or exact flow map",
)
