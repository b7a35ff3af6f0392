"""The docs' ``>>>`` examples run as doctests: every Markdown page under docs/ (and the README) that has one."""

from __future__ import annotations

import doctest
import pathlib
import warnings

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = sorted(p for p in [*ROOT.glob("docs/*.md"), ROOT / "README.md"] if ">>>" in p.read_text())


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_doc_examples_run(page: pathlib.Path) -> None:
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE | doctest.FAIL_FAST
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the docs use the current names (rng=, steps=)
        res = doctest.testfile(str(page), module_relative=False, optionflags=flags, raise_on_error=False,
                               verbose=False, report=True)
    assert res.attempted > 0
    assert res.failed == 0, f"{res.failed} of {res.attempted} examples in {page.name} failed (see the output above)"
