"""CuPy backend: NVIDIA/AMD GPUs; sparse solves by cupyx (direct). Available only where a GPU answers."""

from __future__ import annotations

import sys
from typing import Any

from .._adapter import Adapter


class CupyAdapter(Adapter):
    name = "cupy"
    library = "cupy"
    extra = "cupy"
    devices_note = "NVIDIA GPUs"
    notes = "GPU only; sparse_solve: cupyx.scipy.sparse.linalg.spsolve"
    provides = frozenset({"sparse_solve"})
    fancy_setitem = True

    def load(self) -> None:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("cupy imports but no GPU answers")

    def owns(self, x: Any) -> bool:
        cupy = sys.modules.get("cupy")
        return cupy is not None and isinstance(x, cupy.ndarray)

    def namespace(self) -> Any:
        import array_api_compat.cupy

        return array_api_compat.cupy

    def devices(self) -> list[Any]:
        import cupy

        return [cupy.cuda.Device(i) for i in range(cupy.cuda.runtime.getDeviceCount())]

    def resolve_device(self, device: Any) -> Any:
        if isinstance(device, str) and device.startswith(("cuda", "gpu")):
            _, _, index = device.partition(":")
            device = int(index or 0)
        if isinstance(device, int):
            devs = self.devices()
            if 0 <= device < len(devs):
                return devs[device]
            raise ValueError(f"device {device} does not exist; cupy sees {len(devs)} GPU(s)")
        return super().resolve_device(device)

    def device_of(self, x: Any) -> Any:
        return x.device

    def asarray(self, x: Any, dtype: Any, device: Any) -> Any:
        import cupy

        with device:
            return cupy.asarray(x, dtype=dtype)

    def to_numpy(self, x: Any) -> Any:
        import cupy
        import numpy as np

        return cupy.asnumpy(x) if isinstance(x, cupy.ndarray) else np.asarray(x)

    def random_source(self, seed: Any, device: Any) -> Any:
        return CupySource(seed, device)

    def sparse_coo(self):
        import cupyx.scipy.sparse as sp

        def coo(rows, cols, values, shape):
            return sp.coo_matrix((values, (rows, cols)), shape=tuple(shape)).tocsr()

        return coo

    def sparse_solve(self):
        import cupy
        import cupyx.scipy.sparse as sp
        import cupyx.scipy.sparse.linalg as spla

        def solve(A, b, *, tol: float = 1e-10, maxiter: int | None = None):
            if not sp.issparse(A):
                return cupy.linalg.solve(A, b)
            if b.ndim == 1:
                return spla.spsolve(A.tocsr(), b)
            return cupy.stack([spla.spsolve(A.tocsr(), b[:, j]) for j in range(b.shape[1])], axis=1)

        return solve


class CupySource:
    def __init__(self, seed: Any, device: Any):
        import cupy

        from ._seeds import seed_int, seed_sequence

        self.seq = seed_sequence(seed)
        self.device = device
        with device:
            self.gen = cupy.random.default_rng(seed_int(self.seq))

    def normal(self, shape, dtype):
        with self.device:
            return self.gen.standard_normal(shape, dtype=dtype)

    def uniform(self, shape, dtype):
        with self.device:
            return self.gen.random(shape, dtype=dtype)

    def integers(self, low, high, shape):
        import cupy

        with self.device:
            return self.gen.integers(low, high, size=shape, dtype=cupy.int64)

    def spawn(self, k):
        return [CupySource(s, self.device) for s in self.seq.spawn(k)]
