"""The RK4 peer benchmark (benchmarks/peers/rk4_mixture.py) at a small size: it runs, and the variants it times
compute the same thing — transportkit's RK4 on numpy and torch equals the hand-written NumPy loop to rounding, and
torchdiffeq's RK4 (the 3/8 rule, a different fourth-order scheme) agrees to the size of the schemes' own error."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "peers" / "rk4_mixture.py"


def _load():
    spec = importlib.util.spec_from_file_location("rk4_mixture", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_rk4_peer_script_runs_and_variants_agree():
    pytest.importorskip("torch", reason="the peer script's (c)/(d) legs need torch")
    pytest.importorskip("torchdiffeq", reason="torchdiffeq (extra 'peers') is not installed")
    r = _load().run(n=500, repeat=1)
    assert r["max_abs_a_b"] < 1e-10  # same scheme, same arithmetic up to reassociation
    assert r["max_abs_a_c"] < 1e-10  # same scheme on another backend
    # torchdiffeq integrates the same field with another 4th-order scheme: the two differ by the schemes' own
    # O(h^4) errors (measured: 4e-6 at n = 500, 7e-4 at worst over 10^5 points near the narrow modes), while a
    # different field (sign, time convention) would differ at O(1)
    assert r["max_abs_c_d"] < 1e-2
    assert r["ratio_a_b"] > 0 and r["ratio_c_d"] > 0
