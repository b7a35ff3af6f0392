"""Shared fixtures: ``backend`` runs a test on every backend present; the header says which ran and why
others were skipped."""

from __future__ import annotations

import os

# The test suite runs JAX in 64-bit mode (the library itself never changes this global setting).
os.environ.setdefault("JAX_ENABLE_X64", "1")

import pytest

import transportkit as tk

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


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request) -> tk.Backend:
    """A :class:`transportkit.Backend` for each backend present (float64 default dtype).

    ``@pytest.mark.requires("value_and_grad")`` skips backends without that capability.
    """
    be = tk.get_backend(request.param)
    for mark in request.node.iter_markers("requires"):
        for cap in mark.args:
            if getattr(be, cap) is None:
                pytest.skip(f"backend {be.name} has no {cap}")
    return be


@pytest.fixture
def np():
    import numpy

    return numpy
