"""The snippets of docs/free_energy.md run (the docs are not doctested by Sphinx here): the "Example" and the
pymbar / transportkit pairs of "Coming from pymbar", executed in order in one namespace; the transportkit snippets
assert that they agree with the pymbar ones."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path

import pytest

from transportkit.errors import TransportkitWarning

DOC = Path(__file__).resolve().parents[1] / "docs" / "free_energy.md"


def _section(title: str) -> str:
    text = DOC.read_text()
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def _python_blocks(section: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_example_runs():
    blocks = _python_blocks(_section("Example"))
    assert blocks
    for block in blocks:
        with warnings.catch_warnings():
            warnings.simplefilter("error", TransportkitWarning)
            exec(compile(block, f"{DOC.name}:Example", "exec"), {})


def test_coming_from_pymbar_runs():
    pytest.importorskip("pymbar", reason="pymbar is not installed (make test installs it)")
    blocks = _python_blocks(_section("Coming from pymbar"))
    assert len(blocks) == 4 and all(b.startswith(("# pymbar", "# transportkit")) for b in blocks)
    namespace: dict = {}
    logging.disable(logging.WARNING)
    try:
        for block in blocks:
            with warnings.catch_warnings():
                if block.startswith("# pymbar"):
                    warnings.simplefilter("ignore")
                else:  # the documented transportkit calls do not warn
                    warnings.simplefilter("error", TransportkitWarning)
                exec(compile(block, f"{DOC.name}:Coming from pymbar", "exec"), namespace)
    finally:
        logging.disable(logging.NOTSET)
