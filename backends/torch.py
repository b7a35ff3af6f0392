"""PyTorch backend: autodiff (torch.func), CPU/CUDA/MPS devices; sparse solves by SuperLU on CPU, BiCGSTAB elsewhere."""

from __future__ import annotations

import sys
import warnings
from typing import Any

from .._adapter import Adapter
from .numpy import scipy_sparse


class TorchAdapter(Adapter):
    name = "torch"
    library = "torch"
    extra = "torch"
    devices_note = "cpu, cuda, mps"
    float64_note = "yes (not on mps)"
    notes = (
        "value_and_grad via torch.func; sparse_solve/sparse_factor: CPU tensors by SciPy's SuperLU on the "
        "tensors' memory (direct, one factorization, not differentiable); CUDA/MPS by Jacobi-preconditioned "
        "BiCGSTAB on torch.sparse CSR (no host round trip)"
    )
    provides = frozenset({"value_and_grad", "sparse_solve", "sparse_factor"})
    fancy_setitem = True

    def load(self) -> None:
        import torch  # noqa: F401

    def owns(self, x: Any) -> bool:
        torch = sys.modules.get("torch")
        return torch is not None and isinstance(x, torch.Tensor)

    def namespace(self) -> Any:
        import array_api_compat.torch

        return array_api_compat.torch

    def devices(self) -> list[Any]:
        import torch

        devs = [torch.device("cpu")]
        if torch.cuda.is_available():
            devs += [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            devs.append(torch.device("mps"))
        return devs

    def resolve_device(self, device: Any) -> Any:
        import torch

        if device is None:
            return torch.device("cpu")
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError) as exc:
            raise ValueError(f"invalid torch device {device!r}: {exc}") from None
        if dev.type == "cuda" and dev.index is None:
            dev = torch.device("cuda", 0)
        return super().resolve_device(dev)

    def supports_float64(self, device: Any) -> bool:
        return getattr(device, "type", "cpu") != "mps"

    def device_of(self, x: Any) -> Any:
        return x.device

    def asarray(self, x: Any, dtype: Any, device: Any) -> Any:
        import torch

        if isinstance(x, torch.Tensor):
            return x.to(device=device, dtype=dtype if dtype is not None else x.dtype)
        return torch.as_tensor(x, dtype=dtype, device=device)

    def to_numpy(self, x: Any) -> Any:
        import numpy as np
        import torch

        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy()
        return np.asarray(x)

    def random_source(self, seed: Any, device: Any) -> Any:
        return TorchSource(seed, device)

    def value_and_grad(self):
        from torch.func import grad_and_value

        def value_and_grad(f, argnums=0):
            gv = grad_and_value(f, argnums=argnums)

            def wrapped(*args, **kwargs):
                g, v = gv(*args, **kwargs)
                return v, g

            return wrapped

        return value_and_grad

    def sparse_coo(self):
        import torch

        def coo(rows, cols, values, shape):
            idx = torch.stack([torch.as_tensor(rows), torch.as_tensor(cols)]).to(torch.int64)
            vals = torch.as_tensor(values)
            return torch.sparse_coo_tensor(idx, vals, tuple(shape), check_invariants=False).coalesce()

        return coo

    def sparse_factor(self):
        import torch

        def factor(A, *, tol: float = 1e-10, maxiter: int | None = None):
            if not A.is_sparse and A.layout == torch.strided:
                return lambda b, *, transpose=False: torch.linalg.solve(A.mT if transpose else A, b)
            coo = A.coalesce() if A.is_sparse else A.to_sparse_coo().coalesce()
            if coo.device.type == "cpu" and scipy_sparse() is not None:
                return _host_factor(coo)
            return _iterative_factor(coo, tol, maxiter)

        return factor


def _host_factor(coo: Any):
    """CPU tensors: SciPy's SuperLU on the tensors' memory (``.numpy()`` shares it; the CSC conversion copies
    once). Not differentiable: the matrix and right-hand sides are detached."""
    import torch

    from .numpy import superlu

    i, j = coo.indices().numpy()
    lu = superlu(scipy_sparse().csc_array((coo.values().detach().numpy(), (i, j)), shape=tuple(coo.shape)))

    def solve(b, *, transpose: bool = False):
        x = lu.solve(b.detach().numpy(), trans="T" if transpose else "N")
        return torch.from_numpy(x).to(b.dtype)

    return solve


def _iterative_factor(coo: Any, tol: float, maxiter: int | None):
    """Accelerators (no host round trip): Jacobi-preconditioned BiCGSTAB on CSR copies of ``A`` and ``A^T``."""
    import array_api_compat.torch as xp
    import torch

    from .._linalg import bicgstab

    i, j = coo.indices()
    on_diag = i == j
    vals = coo.values()
    diag = torch.zeros(coo.shape[0], dtype=vals.dtype, device=vals.device).index_add_(
        0, i[on_diag], vals[on_diag]
    )
    mats: dict[bool, Any] = {}

    def solve(b, *, transpose: bool = False):
        if transpose not in mats:
            with warnings.catch_warnings():  # 'sparse CSR support is in beta'
                warnings.simplefilter("ignore", UserWarning)
                mats[transpose] = (coo.t().coalesce() if transpose else coo).to_sparse_csr()
        csr = mats[transpose]
        return bicgstab(lambda v: csr @ v, b, diag.to(b.dtype), xp=xp, tol=tol, maxiter=maxiter)

    return solve


class TorchSource:
    def __init__(self, seed: Any, device: Any):
        import torch

        from ._seeds import seed_int, seed_sequence

        self.seq = seed_sequence(seed)
        self.device = device
        self.gen = torch.Generator(device=device)
        self.gen.manual_seed(seed_int(self.seq))

    def normal(self, shape, dtype):
        import torch

        return torch.randn(shape, generator=self.gen, dtype=dtype, device=self.device)

    def uniform(self, shape, dtype):
        import torch

        return torch.rand(shape, generator=self.gen, dtype=dtype, device=self.device)

    def integers(self, low, high, shape):
        import torch

        return torch.randint(low, high, shape, generator=self.gen, dtype=torch.int64, device=self.device)

    def spawn(self, k):
        return [TorchSource(s, self.device) for s in self.seq.spawn(k)]
