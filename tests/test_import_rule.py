"""Only backends/ may import a specific array library; importing transportkit imports none of them."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = {"numpy", "torch", "jax", "jaxlib", "cupy", "cupyx", "scipy", "array_api_strict"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
    return found


def test_only_backends_import_array_libraries():
    offenders = []
    for path in sorted((ROOT / "transportkit").rglob("*.py")):
        for line, mod in _imports(path):
            if mod.split(".")[0] in FORBIDDEN:
                offenders.append(f"{path.relative_to(ROOT)}:{line}: import {mod}")
    assert not offenders, "transportkit/ must go through the adapters:\n" + "\n".join(offenders)


def test_rule_detects_a_forbidden_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    import torch.nn\n    from scipy import sparse\n")
    assert [m for _, m in _imports(bad)] == ["torch.nn", "scipy"]


def test_backends_package_is_the_backends_folder():
    import transportkit.backends as b

    assert Path(b.__file__).resolve().parent == ROOT / "backends"


def test_import_loads_no_optional_library():
    code = (
        "import sys, transportkit as tk\n"
        "tk.get_backend('numpy'); tk.resolve_backend([1.0, 2.0])\n"
        "bad = [m for m in ('torch', 'jax', 'cupy', 'array_api_strict', 'scipy') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
