"""Helpers shared by the benchmark suites: the backends to parametrize over, and synchronization."""

from __future__ import annotations

import os

# Benchmarks compare backends in float64: JAX's 64-bit mode is switched on here, in the benchmark process only.
os.environ.setdefault("JAX_ENABLE_X64", "1")

import transportkit as tk

BACKENDS = tk.backends.available()


def backend_or_skip(name: str, dtype: str = "float64") -> tk.Backend:
    """The backend, or ``NotImplementedError`` (asv's way to skip a parameter combination)."""
    if name not in BACKENDS:
        raise NotImplementedError(f"backend {name} unavailable")
    try:
        return tk.get_backend(name, dtype=dtype)
    except ValueError as exc:  # e.g. float64 on JAX without x64
        raise NotImplementedError(str(exc)) from exc


def block(x):
    """Wait for asynchronous backends (JAX, CUDA) so that timings include the work."""
    if hasattr(x, "block_until_ready"):
        x.block_until_ready()
    elif hasattr(x, "device") and str(getattr(x, "device", "")).startswith("cuda"):
        x.sum().item()
    return x
