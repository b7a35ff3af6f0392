"""The tk.sample entry: options checked against the registry (errors name tk.sample(method=...) and the nearest
names), did-you-mean for methods, the generated table of methods in the docstring and docs, short reprs."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

import transportkit as tk
from transportkit.sampling import registry

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs" / "sampling.md"


def test_unknown_smc_option_names_tk_sample_and_the_close_match():
    with pytest.raises(TypeError) as err:
        tk.sample(tk.targets.Gaussian.standard(2), 10, method="smc", n_mcmcc=2)
    msg = str(err.value)
    assert "tk.sample(method='smc')" in msg and "n_mcmc" in msg and "did you mean" in msg
    assert "ais()" not in msg


def test_unknown_option_of_each_method_is_a_type_error():
    for name, m in registry.METHODS.items():
        assert m.options is not None, f"method {name!r} does not state its options"
        obj = tk.targets.Gaussian.standard(2) if m.kind == "a target" else object()
        if m.kind != "a target":
            continue
        with pytest.raises(TypeError, match=rf"tk.sample\(method='{name}'\)"):
            tk.sample(obj, 10, method=name, not_an_option=1)


def test_unknown_method_lists_methods_with_did_you_mean():
    with pytest.raises(ValueError, match=r"did you mean 'smc'") as err:
        tk.sample(tk.targets.Gaussian.standard(2), 10, method="smcc")
    assert "rwm" in str(err.value) and "nets" in str(err.value)
    with pytest.raises(ValueError, match="unknown method"):
        tk.sample(tk.targets.Gaussian.standard(2), 10, method=3)


def test_n_is_checked():
    with pytest.raises(TypeError, match="n must be an integer"):
        tk.sample(tk.targets.Gaussian.standard(2), 2.5)
    with pytest.raises(ValueError, match="n must be"):
        tk.sample(tk.targets.Gaussian.standard(2), 0)
    r = tk.sample(tk.targets.Gaussian.standard(2), np.int64(5), method="rwm", steps=2, rng=0)
    assert tuple(r.x.shape) == (5, 2)


def test_docstring_and_docs_hold_the_generated_table():
    table = registry.methods_table()
    for name in ("ais", "smc", "nets", "rwm", "mala", "hmc", "ula", "ode", "sde"):
        assert f"| `{name}`" in table
    assert "`n_mcmc`" in table and "`eps`" in table
    assert table in tk.sample.__doc__
    text = DOCS.read_text()
    begin, end = "<!-- BEGIN GENERATED methods-table", "<!-- END GENERATED methods-table -->"
    block = text[text.index(begin) : text.index(end)]
    assert block.split("\n", 1)[1].strip() == table, (
        "docs/sampling.md's table of methods is stale: paste transportkit.sampling.registry.methods_table()"
    )


def test_repr_of_a_1000_walker_smc_run_is_short():
    r = tk.sample(tk.targets.GMM40(), 1000, method="smc", steps=20, rng=0)
    text = repr(r)
    assert len(text) < 1000, text
    assert "(1000, 2)" in text and "<list of 20>" in text
    m = tk.sample(tk.targets.GMM40(), 50, method="rwm", steps=30, thin=3, rng=0)
    assert len(repr(m)) < 600 and "(5, 50, 2)" in repr(m)  # 15 post-warm-up steps, every 3rd
