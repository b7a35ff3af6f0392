"""Backend adapters: round trips, dtype/device policy, resolution from arrays, errors, capabilities."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import entry_points

import numpy as np
import pytest
from transportkit.backends.numpy import NumpyAdapter

import transportkit as tk
from transportkit._capabilities import algorithm_test, declare


def test_default_backend_is_numpy_float64():
    be = tk.get_backend()
    assert be.name == "numpy" and be.dtype == np.float64
    assert tk.get_backend(be) is be
    assert tk.get_backend("numpy") is be  # one immutable object per (library, device, dtype)
    assert tk.get_backend("numpy", dtype="float32") is not be


def test_builtins_are_registered_as_entry_points():
    names = {ep.name for ep in entry_points(group="transportkit.backends")}
    assert {"numpy", "torch", "jax", "cupy", "array_api_strict"} <= names


def test_round_trip_keeps_values_and_kinds(backend):
    x = np.linspace(-3.0, 3.0, 7)
    a = backend.asarray(x)
    assert a.dtype == backend.dtype
    np.testing.assert_array_equal(backend.to_numpy(a), x)
    i = backend.asarray(np.arange(4))
    assert backend.to_numpy(i).dtype.kind == "i"
    f32 = backend.asarray(x, "float32")
    assert f32.dtype == backend.xp.float32
    assert backend.to_numpy(f32).dtype == np.float32


def test_float32_on_request(backend):
    be32 = tk.get_backend(backend.name, dtype="float32")
    assert be32.dtype == be32.xp.float32
    assert be32.asarray([1.0, 2.0]).dtype == be32.xp.float32
    with pytest.raises(ValueError, match="float32"):
        tk.get_backend(backend.name, dtype="int8")


def test_resolve_from_arrays_follows_library_dtype_and_device(backend):
    x = backend.asarray([1.0, 2.0], "float32")
    be = tk.resolve_backend(x, None, 3.0)
    assert be.name == backend.name and be.dtype == be.xp.float32
    assert str(be.device) == str(backend.device)
    assert tk.resolve_backend(backend.asarray([1.0])).dtype == backend.xp.float64


def test_resolve_defaults_to_numpy_and_accepts_numpy_with_explicit_backend(backend):
    assert tk.resolve_backend([1.0, 2.0]).name == "numpy"
    be = tk.resolve_backend(np.zeros(3), backend=backend.name)
    assert be.name == backend.name


def test_mixing_two_libraries_is_a_type_error_naming_both():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="'numpy' and 'torch'"):
        tk.resolve_backend(np.zeros(2), torch.zeros(2))
    with pytest.raises(TypeError, match="torch"):
        tk.resolve_backend(torch.zeros(2), backend="numpy")
    with pytest.raises(TypeError, match="cannot mix"):
        tk.get_backend("numpy").asarray(torch.zeros(2))


def test_unknown_backend_lists_known_ones():
    with pytest.raises(ValueError, match="known backends: numpy"):
        tk.get_backend("nonesuch")


def test_missing_library_says_how_to_install():
    class Missing(NumpyAdapter):
        name = "missinglib"
        library = "missinglib"
        extra = "missinglib"

        def load(self):
            import missinglib_that_does_not_exist  # noqa: F401

    tk.backends.register(Missing)
    with pytest.raises(tk.BackendUnavailableError, match=r'pip install "transportkit\[missinglib\]"') as e:
        tk.get_backend("missinglib")
    assert "Available backends: numpy" in str(e.value)
    assert "missinglib" not in tk.backends.available()
    assert "missinglib" in tk.backends.unavailable()


def test_cupy_absent_without_gpu_is_reported():
    if "cupy" in tk.backends.available():
        pytest.skip("a GPU answers here")
    with pytest.raises(tk.BackendUnavailableError, match="transportkit\\[cupy\\]"):
        tk.get_backend("cupy")


def test_nonexistent_device_is_a_clear_error(backend):
    with pytest.raises(ValueError, match=r"does not exist|invalid"):
        tk.get_backend(backend.name, device="cuda:7" if backend.name != "jax" else "tpu:9")


def test_third_party_adapter_can_register():
    class Mine(NumpyAdapter):
        name = "mine"

    tk.backends.register(Mine)
    be = tk.get_backend("mine")
    assert be.name == "mine" and "mine" in tk.backends.known()
    with pytest.raises(ValueError, match="already registered"):
        tk.backends.register(Mine)


def test_capabilities_declared_and_errors_name_providers(backend):
    caps = tk.backends.capabilities(backend.name)
    assert set(caps) == {"value_and_grad", "jit", "sparse_solve", "sparse_factor", "float64"}
    for cap in ("value_and_grad", "jit", "sparse_solve", "sparse_factor"):
        if caps[cap]:
            assert callable(backend.require(cap))
        else:
            assert getattr(backend, cap) is None
            with pytest.raises(tk.CapabilityError, match="backends that have it: ") as e:
                backend.require(cap)
            for other in tk.backends.providing(cap):
                assert other in str(e.value)
    with pytest.raises(ValueError, match="unknown capability"):
        backend.require("teleport")


@pytest.mark.requires("value_and_grad")
def test_value_and_grad(backend):
    xp = backend.xp

    def f(x, a):
        return xp.sum(a * x**3)

    x = backend.asarray([1.0, -2.0, 0.5])
    v, g = backend.value_and_grad(f)(x, 2.0)
    assert float(v) == pytest.approx(2 * (1 - 8 + 0.125))
    np.testing.assert_allclose(backend.to_numpy(g), 6 * np.array([1.0, 4.0, 0.25]), rtol=1e-12)


def test_maybe_jit_gives_same_values(backend):
    xp = backend.xp
    f = backend.maybe_jit(lambda x: xp.exp(x) * 2.0)
    x = backend.asarray([0.0, 1.0])
    np.testing.assert_allclose(backend.to_numpy(f(x)), 2 * np.exp([0.0, 1.0]), rtol=1e-14)


@pytest.mark.requires("sparse_solve")
@pytest.mark.parametrize("k", [None, 3])
def test_sparse_solve_nonsymmetric(backend, k):
    rng = np.random.default_rng(1)
    n = 200
    rows = np.concatenate([np.arange(n), np.arange(1, n), np.arange(n - 1), rng.integers(0, n, 300)])
    cols = np.concatenate([np.arange(n), np.arange(n - 1), np.arange(1, n), rng.integers(0, n, 300)])
    vals = np.concatenate(
        [np.full(n, 6.0), -np.ones(n - 1), -2 * np.ones(n - 1), rng.uniform(-0.5, 0.5, 300)]
    )
    dense = np.zeros((n, n))
    np.add.at(dense, (rows, cols), vals)
    b = rng.normal(size=(n,) if k is None else (n, k))
    A = backend.sparse_coo(backend.asarray(rows), backend.asarray(cols), backend.asarray(vals), (n, n))
    x = backend.to_numpy(backend.sparse_solve(A, backend.asarray(b), tol=1e-12))
    np.testing.assert_allclose(x, np.linalg.solve(dense, b), rtol=1e-8, atol=1e-10)


def _sparse_system(backend, n=200):
    """A non-symmetric, diagonally dominant sparse matrix with repeated COO entries (summed), and its dense form."""
    rng = np.random.default_rng(2)
    rows = np.concatenate([np.arange(n), np.arange(1, n), rng.integers(0, n, 400)])
    cols = np.concatenate([np.arange(n), np.arange(n - 1), rng.integers(0, n, 400)])
    vals = np.concatenate([np.full(n, 8.0), -3 * np.ones(n - 1), rng.uniform(-0.5, 0.5, 400)])
    dense = np.zeros((n, n))
    np.add.at(dense, (rows, cols), vals)
    A = backend.sparse_coo(backend.asarray(rows), backend.asarray(cols), backend.asarray(vals), (n, n))
    return A, dense, rng


@pytest.mark.requires("sparse_factor")
def test_sparse_factor_solves_with_matrix_and_transpose(backend):
    """One factorization: A x = b and A^T x = b, vectors and blocks of right-hand sides."""
    A, dense, rng = _sparse_system(backend)
    solve = backend.sparse_factor(A, tol=1e-13)
    for shape in [(dense.shape[0],), (dense.shape[0], 2)]:
        b = rng.normal(size=shape)
        x = backend.to_numpy(solve(backend.asarray(b)))
        xt = backend.to_numpy(solve(backend.asarray(b), transpose=True))
        np.testing.assert_allclose(x, np.linalg.solve(dense, b), rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(xt, np.linalg.solve(dense.T, b), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("name", ["torch", "jax"])
def test_accelerator_iterative_factor_on_cpu(name):
    """The accelerators' path (Jacobi-BiCGSTAB, no host round trip), exercised here on CPU arrays."""
    if name not in tk.backends.available():
        pytest.skip(f"{name} not installed")
    import importlib

    backend = tk.get_backend(name, dtype="float64" if name == "torch" else None)
    if backend.dtype != backend.xp.float64:
        pytest.skip("jax without 64-bit mode")
    A, dense, rng = _sparse_system(backend)
    mod = importlib.import_module(f"transportkit.backends.{name}")
    solve = mod._iterative_factor(A.coalesce() if name == "torch" else A, 1e-13, None)
    b = rng.normal(size=dense.shape[0])
    np.testing.assert_allclose(backend.to_numpy(solve(backend.asarray(b))), np.linalg.solve(dense, b), rtol=1e-9,
                               atol=1e-11)
    np.testing.assert_allclose(backend.to_numpy(solve(backend.asarray(b), transpose=True)),
                               np.linalg.solve(dense.T, b), rtol=1e-9, atol=1e-11)


@pytest.mark.requires("jit")
@pytest.mark.requires("sparse_solve")
def test_sparse_solve_under_jit(backend):
    """The CPU sparse solve works inside a compiled function, matrix values and right-hand side traced."""
    _A, dense, rng = _sparse_system(backend)
    r, c = np.nonzero(dense)
    b = rng.normal(size=dense.shape[0])

    def f(vals, rhs):
        M = backend.sparse_coo(backend.asarray(r), backend.asarray(c), vals, dense.shape)
        return 2.0 * backend.sparse_solve(M, rhs)

    x = backend.jit(f)(backend.asarray(dense[r, c]), backend.asarray(b))
    np.testing.assert_allclose(backend.to_numpy(x), 2.0 * np.linalg.solve(dense, b), rtol=1e-9, atol=1e-11)


def test_sparse_solve_reports_non_convergence():
    import array_api_compat.numpy as xp

    from transportkit._linalg import bicgstab

    A = np.array([[0.0, 1.0], [1.0, 0.0]]) + 1e-3 * np.eye(2)
    with pytest.raises(RuntimeError, match="did not converge"):
        bicgstab(lambda v: A @ v, np.array([1.0, 2.0]), np.diag(A), xp=xp, tol=1e-14, maxiter=0)


def test_jax_default_is_float32_without_x64():
    pytest.importorskip("jax")
    code = (
        "import transportkit as tk, pytest\n"
        "be = tk.get_backend('jax'); assert be.dtype == be.xp.float32, be.dtype\n"
        "import jax; assert not jax.config.read('jax_enable_x64')\n"
        "try:\n    tk.get_backend('jax', dtype='float64')\nexcept ValueError as e:\n"
        "    assert 'jax_enable_x64' in str(e)\nelse:\n    raise SystemExit('no error')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "JAX_ENABLE_X64"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_result_to_numpy_converts_every_array(backend):
    est = tk.Estimate(backend.asarray([1.0, 2.0]), {"a": backend.asarray([3.0])}, backend=backend)
    out = est.to_numpy()
    assert isinstance(out.value, np.ndarray) and isinstance(out.stderr["a"], np.ndarray)
    value, _ = out
    np.testing.assert_array_equal(value, [1.0, 2.0])


def test_adapter_flags_tell_the_truth(backend):
    """``fancy_setitem`` and ``is_host`` say what the arrays do (algorithms read them instead of backend names)."""
    x = backend.xp.zeros(4, dtype=backend.dtype)
    idx, v = backend.asarray(np.array([1, 3])), backend.asarray(np.array([1.0, 2.0]))
    if backend.fancy_setitem:
        x[idx] = v
        np.testing.assert_array_equal(backend.to_numpy(x), [0.0, 1.0, 0.0, 2.0])
    else:
        with pytest.raises((TypeError, IndexError)):
            x[idx] = v
    assert backend.is_host == isinstance(backend.asarray([1.0]), np.ndarray)
    assert backend.is_host == backend.adapter.is_host and backend.fancy_setitem == backend.adapter.fancy_setitem


@declare(needs=("sparse_solve",), skip_backends={"jax": "a toy skip, to test the fixture"}, name="tk.toy_declared")
def _toy_algorithm() -> None:
    """A declared toy: runs where sparse_solve exists, except on jax."""


@algorithm_test(_toy_algorithm)
def test_the_backend_fixture_follows_declarations(backend):
    assert backend.sparse_solve is not None and backend.name != "jax"


def test_algorithm_test_needs_a_declared_function():
    with pytest.raises(ValueError, match="declaration"):
        algorithm_test(np.sum)
    with pytest.raises(ValueError, match="at least one"):
        algorithm_test()


def test_requires_is_an_alias_of_declare():
    from transportkit._backend import algorithm_requirements, declared_requirements, requires

    @requires("value_and_grad")
    def f() -> None:
        pass

    assert declared_requirements(f) == ("value_and_grad",)
    assert algorithm_requirements()[f"{f.__module__}.{f.__qualname__}"] == ("value_and_grad",)
    with pytest.raises(ValueError, match="unknown capabilities"):
        requires("autodiff")


def test_cli_backends_table_shows_capabilities_and_flags(capsys):
    from transportkit.cli import main

    assert main(["backends"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0].split()
    assert header[:4] == ["backend", "available", "device", "float64"]
    assert {"value_and_grad", "sparse_factor", "compiles_loops", "fancy_setitem", "is_host"} <= set(header)
    numpy_row = next(line.split() for line in out.splitlines() if line.startswith("numpy "))
    assert numpy_row[header.index("is_host")] == "yes"


def test_every_adapter_flag_is_a_documented_bool():
    from transportkit._adapter import ADAPTER_FLAGS

    tk.backends.known()  # discovers the registered adapters
    for name in tk.backends.BUILTIN:
        adapter = tk.backends._instance(name)
        for flag in ADAPTER_FLAGS:
            assert isinstance(getattr(adapter, flag), bool), (name, flag)
    assert set(ADAPTER_FLAGS) <= set(vars(tk.Adapter))


@declare(xfail_backends={"numpy": "a toy known failure, to test the fixture"}, name="tk.toy_xfail")
def _toy_failing() -> None:
    """A declared toy that is known to fail on numpy."""


@algorithm_test(_toy_failing)
def test_declared_xfail_is_strict(backend):
    assert backend.name != "numpy"
