"""NumPy backend: the default; sparse solves by SciPy (direct, SuperLU) when SciPy is installed."""

from __future__ import annotations

from typing import Any

from .._backend import Adapter


class NumpyAdapter(Adapter):
    name = "numpy"
    library = "numpy"
    extra = ""
    notes = "default; sparse_solve: scipy.sparse direct (SuperLU)"
    provides = frozenset({"sparse_solve"})

    def load(self) -> None:
        import numpy  # noqa: F401

    def owns(self, x: Any) -> bool:
        from array_api_compat import is_numpy_array

        return is_numpy_array(x)

    def namespace(self) -> Any:
        import array_api_compat.numpy

        return array_api_compat.numpy

    def devices(self) -> list[Any]:
        return ["cpu"]

    def device_of(self, x: Any) -> Any:
        return "cpu"

    def asarray(self, x: Any, dtype: Any, device: Any) -> Any:
        import numpy as np

        return np.asarray(x, dtype=dtype)

    def to_numpy(self, x: Any) -> Any:
        import numpy as np

        return np.asarray(x)

    def random_source(self, seed: Any, device: Any) -> Any:
        from ._seeds import NumpySource

        return NumpySource(seed)

    def sparse_coo(self):
        try:
            import scipy.sparse as sp
        except ImportError:
            return None

        def coo(rows, cols, values, shape):
            return sp.csr_array((values, (rows, cols)), shape=shape)

        return coo

    def sparse_solve(self):
        try:
            import scipy.sparse as sp
            import scipy.sparse.linalg as spla
        except ImportError:
            return None
        import numpy as np

        def solve(A, b, *, tol: float = 1e-10, maxiter: int | None = None):
            if not sp.issparse(A):
                return np.linalg.solve(A, b)
            A = sp.csc_array(A)
            # A structurally symmetric matrix (networks with every edge reversible, discretized operators)
            # factors with about half the fill under minimum degree on A^T + A than under COLAMD.
            pattern = (A != 0).astype(np.int8)
            symmetric = (pattern - pattern.T).count_nonzero() == 0
            lu = spla.splu(A, permc_spec="MMD_AT_PLUS_A" if symmetric else "COLAMD")
            return lu.solve(np.asarray(b))

        return solve
