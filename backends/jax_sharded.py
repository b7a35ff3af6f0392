"""JAX with the walker axis sharded across several devices: ``tk.get_backend("jax", devices=...)``.

A :class:`ShardedJaxAdapter` holds a one-dimensional :class:`jax.sharding.Mesh` over the chosen devices, with the
mesh axis named ``"walkers"``. It places arrays by shape, so that algorithms written once for one device run
unchanged (single-program multiple-data, XLA's GSPMD partitioner: Xu et al. 2021, arXiv:2105.04663):

- an array whose leading axis (the walker axis of a particle array ``(n, d)``, or a vector ``(n,)`` of
  log-weights) is a positive multiple of the number of devices is split along that axis into contiguous blocks,
  one per device (``NamedSharding(mesh, P("walkers"))``);
- every other array (scalars, ``(d,)`` means, ``(d, d)`` covariances, leading axes not divisible) is replicated
  on every device (``NamedSharding(mesh, P())``); that replicated sharding is the backend's ``device``, so
  ``xp.zeros(..., device=be.device)`` inside algorithms makes replicated arrays.

Random draws and ``be.asarray`` follow that rule; draws inside compiled loops are constrained to it as well.
Jitted programs then propagate the shardings: elementwise work on walkers stays on the device that holds them, and
reductions over walkers (log-mean-exp of weights, particle means) and resampling gathers become XLA collectives.
The numbers equal the one-device run's (same keys: JAX's random bits do not depend on the placement) up to the
order of floating-point sums across devices.
"""

from __future__ import annotations

from typing import Any

from .jax import JaxAdapter, JaxSource

__all__ = ["AXIS", "ShardedJaxAdapter", "sharded_adapter"]

#: the name of the mesh axis that the walker axis is split over
AXIS = "walkers"

_ADAPTERS: dict[tuple[int, ...], ShardedJaxAdapter] = {}


def _choose_devices(devices: Any) -> list[Any]:
    """``devices`` (an int count, ``"all"``, or a sequence of JAX devices) -> a list of distinct JAX devices."""
    import jax

    from .._validation import as_count

    every = list(jax.devices())
    if isinstance(devices, str):
        if devices != "all":
            raise ValueError(f"devices must be an int, 'all' or a list of JAX devices, got {devices!r}")
        return every
    if isinstance(devices, (list, tuple)):
        chosen = list(devices)
        if not chosen:
            raise ValueError("devices is an empty list; give at least one JAX device (or devices='all')")
        bad = [d for d in chosen if not isinstance(d, jax.Device)]
        if bad:
            raise TypeError(f"devices: {bad[0]!r} is not a JAX device (see jax.devices())")
        if len({d.id for d in chosen}) != len(chosen):
            raise ValueError(f"devices lists a device twice: {[str(d) for d in chosen]}")
        return chosen
    k = as_count("devices", devices, 1)
    if k > len(every):
        raise ValueError(
            f"devices={k} but JAX sees {len(every)} device(s): {[str(d) for d in every]} (on the CPU, "
            f"XLA_FLAGS=--xla_force_host_platform_device_count={k} set before importing jax makes {k} host devices)"
        )
    return every[:k]


def sharded_adapter(devices: Any) -> ShardedJaxAdapter:
    """The adapter for ``devices`` (one per tuple of device ids, so that backends and their compiled programs are
    cached per placement)."""
    chosen = _choose_devices(devices)
    key = tuple(d.id for d in chosen)
    ad = _ADAPTERS.get(key)
    if ad is None:
        ad = _ADAPTERS[key] = ShardedJaxAdapter(chosen)
    return ad


class ShardedJaxAdapter(JaxAdapter):
    """The JAX adapter on a 1-D mesh: the walker axis split across ``devices`` (see the module docstring).

    Attributes: ``mesh`` (axis :data:`AXIS`), ``walkers`` (the sharding of walker arrays), ``replicated`` (of all
    others; also the backend's ``device``), ``n_devices``."""

    def __init__(self, devices: list[Any]):
        import jax
        import numpy as np
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        self.mesh = Mesh(np.asarray(devices, dtype=object), (AXIS,))
        self.walkers = NamedSharding(self.mesh, PartitionSpec(AXIS))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.n_devices = len(devices)
        self._jax = jax

    def __repr__(self) -> str:
        return f"ShardedJaxAdapter(devices={[str(d) for d in self.devices()]})"

    # -- devices ------------------------------------------------------------------------------------------
    def devices(self) -> list[Any]:
        return list(self.mesh.devices.flat)

    def default_device(self) -> Any:
        return self.replicated

    def resolve_device(self, device: Any) -> Any:
        """``None``, this mesh's shardings, or one of its devices -> the replicated sharding (the backend's
        ``device``); anything else is a ``ValueError`` (a sharded backend spans its mesh, not one device)."""
        if device is None or device is self.replicated or device is self.walkers:
            return self.replicated
        if isinstance(device, self._jax.sharding.Sharding):
            if set(device.device_set) == set(self.devices()):
                return self.replicated
        else:
            for d in self.devices():
                if device is d or device == d or str(device) == str(d):
                    return self.replicated
        raise ValueError(
            f"device {device!r} is not this sharded backend's placement; it spans {[str(d) for d in self.devices()]} "
            "(use get_backend('jax', device=...) for one device)"
        )

    def device_of(self, x: Any) -> Any:
        return self.replicated

    def with_devices(self, devices: Any) -> Any:
        return sharded_adapter(devices)

    # -- placement ------------------------------------------------------------------------------------------
    def sharding_for(self, shape: tuple[int, ...]) -> Any:
        """The walker sharding when ``shape[0]`` is a positive multiple of the device count, else replicated."""
        if len(shape) >= 1 and shape[0] > 0 and shape[0] % self.n_devices == 0:
            return self.walkers
        return self.replicated

    def place(self, x: Any) -> Any:
        """``x`` placed by :meth:`sharding_for` (inside ``jit`` a sharding constraint on the traced value)."""
        s = self.sharding_for(tuple(x.shape))
        if isinstance(x, self._jax.core.Tracer):
            return self._jax.lax.with_sharding_constraint(x, s)
        return self._jax.device_put(x, s)

    def _constrain(self, x: Any) -> Any:
        return self.place(x) if isinstance(x, (self._jax.Array, self._jax.core.Tracer)) else x

    def jit(self):
        """``jax.jit`` whose inputs and outputs are placed by :meth:`sharding_for`: left alone (an uncommitted
        input, any output), XLA may tile a small array (a ``(2, 2)`` covariance on 4 devices as 2 x 2) in a way
        that a 1-D mesh cannot name; so every array that crosses the program's boundary follows the one rule."""
        import functools

        jax = self._jax

        def sharded_jit(f, **kwargs):
            @functools.wraps(f)
            def placed(*args, **kw):
                return jax.tree_util.tree_map(self._constrain, f(*args, **kw))

            compiled = jax.jit(placed, **kwargs)

            @functools.wraps(f)
            def call(*args, **kw):
                # inputs placed by the same rule (an uncommitted input would be left to XLA, as the outputs are)
                args, kw = jax.tree_util.tree_map(self._constrain, (args, kw))
                return compiled(*args, **kw)

            return call

        return sharded_jit

    def asarray(self, x: Any, dtype: Any, device: Any) -> Any:
        import jax.numpy as jnp

        return self.place(jnp.asarray(x, dtype=dtype))

    def random_source(self, seed: Any, device: Any) -> Any:
        return JaxSource(seed, self.replicated, place=self.place)
