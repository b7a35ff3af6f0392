"""PyTorch backend: autodiff (torch.func), CPU/CUDA/MPS devices; sparse solves by Jacobi-BiCGSTAB."""

from __future__ import annotations

import sys
import warnings
from typing import Any

from .._backend import Adapter


class TorchAdapter(Adapter):
    name = "torch"
    library = "torch"
    extra = "torch"
    notes = "value_and_grad via torch.func; sparse_solve: Jacobi-preconditioned BiCGSTAB on torch.sparse"
    provides = frozenset({"value_and_grad", "sparse_solve"})

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

    def sparse_solve(self):
        import array_api_compat.torch as xp
        import torch

        from .._linalg import bicgstab

        def solve(A, b, *, tol: float = 1e-10, maxiter: int | None = None):
            if not A.is_sparse and A.layout == torch.strided:
                return torch.linalg.solve(A, b)
            A = A.coalesce() if A.is_sparse else A
            coo = A if A.is_sparse else A.to_sparse_coo().coalesce()
            i, j = coo.indices()
            on_diag = i == j
            diag = torch.zeros(A.shape[0], dtype=b.dtype, device=b.device).index_add_(
                0, i[on_diag], coo.values()[on_diag].to(b.dtype)
            )
            with warnings.catch_warnings():  # 'sparse CSR support is in beta'
                warnings.simplefilter("ignore", UserWarning)
                csr = coo.to_sparse_csr()
            return bicgstab(lambda v: csr @ v, b, diag, xp=xp, tol=tol, maxiter=maxiter)

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
