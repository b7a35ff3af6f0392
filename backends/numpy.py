"""NumPy backend: the default; sparse solves by SciPy (direct, SuperLU) when SciPy is installed."""

from __future__ import annotations

from typing import Any

from .._backend import Adapter


class NumpyAdapter(Adapter):
    name = "numpy"
    library = "numpy"
    extra = ""
    notes = "default; sparse_solve, sparse_factor: scipy.sparse direct (SuperLU, one factorization)"
    provides = frozenset({"sparse_solve", "sparse_factor"})
    fancy_setitem = True
    is_host = True

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

    def sparse_factor(self):
        try:
            import scipy.sparse as sp
        except ImportError:
            return None
        import numpy as np

        def factor(A, *, tol: float = 1e-10, maxiter: int | None = None):
            if not sp.issparse(A):
                A = np.asarray(A)
                return lambda b, *, transpose=False: np.linalg.solve(A.T if transpose else A, b)
            lu = superlu(A)
            return lambda b, *, transpose=False: lu.solve(np.asarray(b), trans="T" if transpose else "N")

        return factor


def scipy_sparse() -> Any:
    """``scipy.sparse``, or ``None`` when SciPy is not installed (the host direct solver is then unavailable)."""
    try:
        import scipy.sparse
    except ImportError:
        return None
    return scipy.sparse


def superlu(A: Any) -> Any:
    """SuperLU factorization (``scipy.sparse.linalg.splu``) of the square sparse matrix ``A`` (any SciPy format).

    Column ordering: minimum degree on ``A^T + A`` when the pattern of ``A`` is structurally symmetric (networks
    with every edge reversible, discretized operators: about half the fill of COLAMD there), COLAMD otherwise.
    The returned object solves ``A x = b`` (``.solve(b)``) and ``A^T x = b`` (``.solve(b, trans="T")``) with the
    one factorization. Shared by the adapters that solve on the host (numpy; torch and jax on CPU).
    """
    import numpy as np
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    A = sp.csc_array(A)
    pattern = (A != 0).astype(np.int8)
    symmetric = (pattern - pattern.T).count_nonzero() == 0
    return spla.splu(A, permc_spec="MMD_AT_PLUS_A" if symmetric else "COLAMD")
