"""Smoke test of the blackjax peer comparison (benchmarks/peers/blackjax_smc.py) at small sizes."""

from __future__ import annotations

import importlib.util
import pathlib

import pytest

pytest.importorskip("jax", reason="the blackjax peer script runs on the jax backend")
pytest.importorskip("blackjax", reason="blackjax is not installed (pip install blackjax optax)")

SCRIPT = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "peers" / "blackjax_smc.py"


def test_blackjax_peer_script_runs_small(capsys):
    spec = importlib.util.spec_from_file_location("blackjax_smc_peer", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--small", "--targets", "gmm40"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("GMM40")]
    assert [r[1] for r in rows] == ["tk-smc", "tk-smc-isl", "tk-nets", "tk-nets-isl", "blackjax-smc"]
    for r in rows:
        err, evals = float(r[2]), int(r[6])
        assert abs(err) < 5.0  # 200 walkers, 10 temperatures: a sanity bound, not an accuracy claim
        assert 2000 <= evals <= 2600  # equal target-evaluation budgets (n (K + 1) = 2200; blackjax 3 per step)
