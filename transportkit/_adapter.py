"""The adapter interface: what one array library supplies beyond the Array API standard.

This module is on the ground floor (see ``docs/architecture.md``): it imports nothing from transportkit, so that
the adapters in ``backends/`` can subclass :class:`Adapter` without importing :mod:`transportkit._backend`.
:class:`Adapter` and :data:`OPTIONAL_CAPABILITIES` are re-exported there and as ``transportkit.Adapter``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["ADAPTER_FLAGS", "OPTIONAL_CAPABILITIES", "Adapter"]

#: Capabilities that an adapter may or may not supply, with a one-line description each.
OPTIONAL_CAPABILITIES: dict[str, str] = {
    "value_and_grad": "reverse-mode automatic differentiation of a scalar function",
    "jit": "just-in-time compilation of array functions",
    "sparse_solve": "solves with sparse matrices (direct or iterative)",
    "sparse_factor": "one factorization of a sparse matrix reused for solves with it and its transpose",
}


#: Boolean facts about an adapter that algorithms read instead of testing backend names, with what each means.
ADAPTER_FLAGS: dict[str, str] = {
    "compiles_loops": "fori_loop/while_loop/scan compile their body into one program (JAX)",
    "prefers_host_indexing": "data-dependent-shape index work is faster on the host (performance hint only)",
    "fancy_setitem": "integer-index assignment x[idx] = v works in place",
    "is_host": "arrays are NumPy arrays in host memory",
}


class Adapter:
    """What one array library supplies beyond the Array API standard.

    Subclasses (one per file in ``backends/``) set the class attributes and implement the methods; optional
    capabilities are methods returning a callable, or ``None`` where the library lacks them.
    """

    #: backend name used in ``get_backend(name)``
    name: str = ""
    #: top-level module of the array library, e.g. ``"torch"``
    library: str = ""
    #: ``pip install "transportkit[<extra>]"`` installs the library
    extra: str = ""
    #: human-readable notes on the sparse solver etc., shown in the backend table
    notes: str = ""
    #: the kinds of device the library offers, for the documentation's backend table
    devices_note: str = "cpu"
    #: float64 support in words, for the documentation's backend table
    float64_note: str = "yes"
    #: optional capabilities this adapter can supply (declared here, so they are known without importing)
    provides: frozenset[str] = frozenset()
    #: algorithms should do data-dependent-shape index bookkeeping (nonzero, boolean masks, graph searches) on
    #: the host with NumPy and move the result once: True where the library compiles every such operation anew
    #: for each shape (JAX); a performance hint, never a correctness switch
    prefers_host_indexing: bool = False
    #: whether :meth:`fori_loop`/:meth:`while_loop`/:meth:`scan` compile their body into one program (JAX); where
    #: False they are plain Python loops and algorithms skip compilation bookkeeping
    compiles_loops: bool = False
    #: integer-index assignment ``x[idx] = v`` works in place on this library's arrays (NumPy, torch, CuPy);
    #: False where arrays are immutable (JAX) or the standard's referee forbids it (``array_api_strict``), so
    #: algorithms use ``array_api_extra.at(x, idx).set(v)`` or build new arrays there
    fancy_setitem: bool = True
    #: the library's arrays are NumPy arrays in host memory (NumPy only): host-side bookkeeping can use them as
    #: they are, without a copy to or from the device
    is_host: bool = False
    #: ``"module:function"`` of ``function(devices) -> Adapter``, the adapter with the walker axis sharded across
    #: ``devices`` (:meth:`with_devices`); empty where the library does not shard
    sharded: str = ""

    # -- availability -------------------------------------------------------------------------------
    def load(self) -> None:
        """Import the library; raise ``ImportError`` (or ``RuntimeError``) when it cannot work here."""
        raise NotImplementedError

    def owns(self, x: Any) -> bool:
        """Whether ``x`` is an array of this library. Must not import the library."""
        raise NotImplementedError

    # -- namespace, devices, dtypes -------------------------------------------------------------------
    def namespace(self) -> Any:
        """The Array-API namespace (the ``array_api_compat`` wrapper where one is needed)."""
        raise NotImplementedError

    def devices(self) -> list[Any]:
        raise NotImplementedError

    def default_device(self) -> Any:
        return self.devices()[0]

    def resolve_device(self, device: Any) -> Any:
        """Turn a user's device spec (``None``, a string such as ``"cuda:0"``, a device object) into a device."""
        if device is None:
            return self.default_device()
        for d in self.devices():
            if device is d or device == d or str(device) == str(d):
                return d
        raise ValueError(
            f"device {device!r} does not exist for backend {self.name!r}; "
            f"available devices: {[str(d) for d in self.devices()]}"
        )

    def with_devices(self, devices: Any) -> Adapter:
        """This library's adapter with the walker axis (axis 0 of particle arrays) sharded across ``devices``
        (``get_backend(name, devices=...)``), made by the function :attr:`sharded` names; a ``ValueError`` where
        the library does not shard."""
        if not self.sharded:
            raise ValueError(f"backend {self.name!r} does not shard across devices (devices=); the jax backend does")
        import importlib

        module, _, func = self.sharded.partition(":")
        return getattr(importlib.import_module(module), func)(devices)

    def supports_float64(self, device: Any) -> bool:
        return True

    def float64_hint(self) -> str:
        return f"backend {self.name!r} has no float64 on this device; ask for dtype='float32'"

    # -- data movement --------------------------------------------------------------------------------
    def asarray(self, x: Any, dtype: Any, device: Any) -> Any:
        raise NotImplementedError

    def to_numpy(self, x: Any) -> Any:
        raise NotImplementedError

    def device_of(self, x: Any) -> Any:
        import array_api_compat

        return array_api_compat.device(x)

    # -- randomness -----------------------------------------------------------------------------------
    def random_source(self, seed: Any, device: Any) -> Any:
        """A stream with ``normal(shape, dtype)``, ``uniform(shape, dtype)``, ``integers(low, high, shape)``
        and ``spawn(k)``; ``seed`` is a :class:`numpy.random.SeedSequence`-compatible entropy source."""
        raise NotImplementedError

    # -- optional capabilities ------------------------------------------------------------------------
    def value_and_grad(self) -> Callable | None:
        return None

    def jit(self) -> Callable | None:
        return None

    def sparse_solve(self) -> Callable | None:
        """By default one use of :meth:`sparse_factor`: ``solve(A, b) = sparse_factor(A)(b)`` (``None`` without it)."""
        factor = self.sparse_factor()
        if factor is None:
            return None

        def solve(A: Any, b: Any, *, tol: float = 1e-10, maxiter: int | None = None) -> Any:
            return factor(A, tol=tol, maxiter=maxiter)(b)

        return solve

    def sparse_factor(self) -> Callable | None:
        return None

    def sparse_coo(self) -> Callable | None:
        """``coo(rows, cols, values, shape)`` -> the library's sparse matrix (duplicates summed)."""
        return None

    # -- loops ---------------------------------------------------------------------------------------
    def fori_loop(self, lower: Any, upper: Any, body: Callable[[Any, Any], Any], carry: Any) -> Any:
        """``for i in range(lower, upper): carry = body(i, carry)``; a plain Python loop by default."""
        for i in range(int(lower), int(upper)):
            carry = body(i, carry)
        return carry

    def while_loop(self, cond: Callable[[Any], Any], body: Callable[[Any], Any], carry: Any) -> Any:
        """``while cond(carry): carry = body(carry)``; a plain Python loop by default (one host sync per test)."""
        while bool(cond(carry)):
            carry = body(carry)
        return carry

    def scan(self, body: Callable[[Any, Any], tuple[Any, Any]], carry: Any, lower: Any, length: int) -> tuple[Any, Any]:
        """``carry, y_j = body(lower + j, carry)`` for ``j < length``; returns ``(carry, [y_0, ...])`` (a list here;
        :meth:`Backend.scan` stacks it)."""
        ys = []
        for j in range(int(length)):
            carry, y = body(int(lower) + j, carry)
            ys.append(y)
        return carry, ys

    def capabilities(self) -> dict[str, bool]:
        return {
            cap: cap in self.provides and getattr(self, cap)() is not None for cap in OPTIONAL_CAPABILITIES
        }
