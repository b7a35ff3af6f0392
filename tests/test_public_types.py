"""Every public function says what it returns: a return annotation that is present and not ``Any`` (nor an alias of
it). Public functions are the functions listed in ``__all__`` of the package root and of every module whose path has
no part starting with ``_`` (``backends/`` aside: adapters are not called by users).

Annotations are read as written (``from __future__ import annotations`` makes them strings) and a bare name is
resolved in the defining module, so ``Array = Any`` would still be caught while a ``Protocol`` or a name imported
under ``TYPE_CHECKING`` counts as a real type.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import typing

import pytest

import transportkit

#: ``module.qualname`` -> why its annotation is allowed to stay missing or ``Any`` (each must still exist)
ALLOWED: dict[str, str] = {}


def public_modules() -> list[str]:
    names = ["transportkit"]
    for info in pkgutil.walk_packages(transportkit.__path__, "transportkit."):
        parts = info.name.split(".")[1:]
        if parts[0] == "backends" or any(p.startswith("_") for p in parts):
            continue
        names.append(info.name)
    return names


def public_functions() -> dict[str, object]:
    """``{module.qualname: function}`` of every function in a public ``__all__`` (each function once)."""
    found: dict[str, object] = {}
    for name in public_modules():
        mod = importlib.import_module(name)
        for attr in getattr(mod, "__all__", ()):
            obj = getattr(mod, attr, None)
            if inspect.isfunction(obj):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    return found


def problem(fn: object) -> str | None:
    """Why the return annotation of ``fn`` does not say what it returns (``None``: it does)."""
    ann = inspect.signature(fn).return_annotation
    if ann is inspect.Signature.empty:
        return "no return annotation"
    if ann is typing.Any:
        return "returns Any"
    if isinstance(ann, str):
        text = ann.strip()
        if text in ("Any", "typing.Any"):
            return "returns Any"
        if text.isidentifier():
            value = getattr(importlib.import_module(fn.__module__), text, None)
            if value is typing.Any:
                return f"returns {text}, an alias of Any"
    return None


def test_every_public_function_says_what_it_returns():
    bad = {key: why for key, fn in public_functions().items() if (why := problem(fn)) and key not in ALLOWED}
    assert not bad, "annotate these returns (transportkit._typing.Array for arrays):\n" + "\n".join(
        f"{k}: {v}" for k, v in sorted(bad.items())
    )


def test_the_allow_list_only_holds_real_gaps():
    funcs = public_functions()
    stale = sorted(k for k in ALLOWED if k not in funcs or problem(funcs[k]) is None)
    assert not stale, f"annotated or gone: remove from ALLOWED: {stale}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f(x) -> int:\n    return x\n", None),
        ("def f(x):\n    return x\n", "no return annotation"),
        ("from typing import Any\ndef f(x) -> Any:\n    return x\n", "returns Any"),
        ("from typing import Any\nA = Any\ndef f(x) -> A:\n    return x\n", "returns Any"),
        ("from __future__ import annotations\nfrom typing import Any\nA = Any\ndef f(x) -> A:\n    return x\n",
         "returns A, an alias of Any"),
    ],
)  # fmt: skip
def test_the_check_itself(tmp_path, monkeypatch, source, expected):
    (tmp_path / "toy_types_mod.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "toy_types_mod", raising=False)
    mod = importlib.import_module("toy_types_mod")
    got = problem(mod.f)
    assert got == expected
