"""Shared fixtures: ``backend`` runs a test on every backend present; the header says which ran and why
others were skipped."""

from __future__ import annotations

import os

# The test suite runs JAX in 64-bit mode (the library itself never changes this global setting).
os.environ.setdefault("JAX_ENABLE_X64", "1")

import pytest

import transportkit as tk
from transportkit._capabilities import declaration

AVAILABLE = tk.backends.available()
UNAVAILABLE = tk.backends.unavailable()


def pytest_report_header(config):
    lines = [f"transportkit backends run: {', '.join(AVAILABLE)}"]
    for name, why in UNAVAILABLE.items():
        lines.append(f"transportkit backend skipped: {name} ({why})")
    return lines


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"transportkit backends run: {', '.join(AVAILABLE)}")
    for name, why in UNAVAILABLE.items():
        terminalreporter.write_line(f"transportkit backend skipped: {name} ({why})")


BACKEND_PARAMS = [pytest.param(n, id=n) for n in AVAILABLE] + [
    pytest.param(n, id=n, marks=pytest.mark.skip(reason=f"backend {n} unavailable: {why}"))
    for n, why in UNAVAILABLE.items()
]


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "algorithm(*funcs): the test exercises these declared algorithms; the backend fixture runs it only where "
        "their declarations (transportkit._capabilities.declare) admit the backend, skipping with the declared reason",
    )


def backend_skip_reason(node, be: tk.Backend) -> str | None:
    """Why the test ``node`` does not run on ``be``, read from its markers (``None``: it runs).

    ``@algorithm_test(func, ...)`` (the mark ``algorithm``) reads each function's declaration;
    ``@pytest.mark.requires(cap, ...)`` (for tests of the adapters themselves) names capabilities directly.
    """
    has = lambda cap: getattr(be, cap) is not None  # noqa: E731
    for mark in node.iter_markers("algorithm"):
        for func in mark.args:
            decl = declaration(func)
            if decl is None:
                raise pytest.UsageError(f"algorithm_test({func!r}): no capability declaration on it")
            reason = decl.skip_reason(be.name, has)
            if reason is not None:
                return reason
    for mark in node.iter_markers("requires"):
        for cap in mark.args:
            if not has(cap):
                return f"backend {be.name} has no {cap}"
    return None


def backend_xfail_reason(node, be: tk.Backend) -> str | None:
    """The declared reason a marked algorithm is expected to fail on ``be`` (``None``: it is not)."""
    for mark in node.iter_markers("algorithm"):
        for func in mark.args:
            reason = declaration(func).xfail_reason(be.name)
            if reason is not None:
                return reason
    return None


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request) -> tk.Backend:
    """A :class:`transportkit.Backend` for each backend present (float64 default dtype).

    ``@algorithm_test(tk.interpolants.train_velocity)`` (the mark ``algorithm``, from
    :func:`transportkit._capabilities.algorithm_test`) runs the test where the algorithm's declaration
    admits the backend and skips it elsewhere with the declared reason; ``@pytest.mark.requires("value_and_grad")``
    skips backends without that capability (for tests of the adapters themselves).
    """
    be = tk.get_backend(request.param)
    reason = backend_skip_reason(request.node, be)
    if reason is not None:
        pytest.skip(reason)
    xfail = backend_xfail_reason(request.node, be)
    if xfail is not None:
        request.applymarker(pytest.mark.xfail(reason=xfail, strict=True))
    return be


@pytest.fixture
def np():
    import numpy

    return numpy
