"""The floors of the house (docs/architecture.md): every module imports alone, no import circles, no import of a
higher floor or of the package root; the generated tables in README.md and docs/backends.md are current.

The import graph is read statically with :mod:`ast` from the source files. An import is *module-level* when it runs
while the module is imported (top level, class bodies, ``try``/``if`` at top level) and *deferred* when it sits in a
function body; imports under ``if TYPE_CHECKING:`` never run and are ignored.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "transportkit"

#: Floors, lowest first: a module may import its own floor and the floors below it, never a higher one.
#: A module belongs to the floor of the longest prefix listed here (``transportkit.tpt.flux`` -> ``transportkit.tpt``).
FLOORS: dict[str, int] = {
    # 0 ground: the adapter interface and the adapters, errors, pure Array-API helpers
    "transportkit.errors": 0,
    "transportkit._adapter": 0,
    "transportkit._capabilities": 0,
    "transportkit.numerics": 0,
    "transportkit._linalg": 0,
    "transportkit._validation": 0,
    "transportkit._typing": 0,
    "transportkit.backends": 0,
    # 1 backend: resolution, dtype/device policy, random streams, result objects
    "transportkit._backend": 1,
    "transportkit.random": 1,
    "transportkit._results": 1,
    # 2 machinery: loops, Runge-Kutta, integrators, targets
    "transportkit._loops": 2,
    "transportkit._dask": 2,
    "transportkit.runge_kutta": 2,
    "transportkit.integrate": 2,
    "transportkit.target_base": 2,
    "transportkit.target_core": 2,
    "transportkit.callable_target": 2,
    "transportkit.gaussians": 2,
    "transportkit.targets": 2,
    "transportkit._target_zoo": 2,
    "transportkit.lattice_targets": 2,
    "transportkit.highdim_targets": 2,
    # 3 interpolants: schedules, fields, fits
    "transportkit.interpolants": 3,
    # 4 algorithms: independent rooms on one floor
    "transportkit.sampling": 4,
    "transportkit.free_energy": 4,
    "transportkit.tpt": 4,
    "transportkit.control": 4,
    "transportkit.galerkin": 4,
    "transportkit.meanfield": 4,
    "transportkit.fokker_planck": 4,
    "transportkit.flowmaps": 4,
    # 5 faces: pictures, the command line, the docs generator, the package root (lazy public names)
    "transportkit.plot": 5,
    # the picture of tpt.demo, kept in tpt/ for its old name: a thin call into transportkit.plot
    "transportkit.tpt.plot": 5,
    "transportkit.cli": 5,
    "transportkit._support_table": 5,
    "transportkit": 5,
}

# Known violations, each with its reason; empty: none. Each entry is (importing module, imported module or name).
ALLOWED_UPWARD: set[tuple[str, str]] = {
    # tk.tpt.demo(picture="file.png") (public API since the first release) draws through tpt.plot, floor 5
    ("transportkit.tpt", "transportkit.tpt.plot"),
}
ALLOWED_ROOT_IMPORTS: set[tuple[str, str]] = set()
#: Circles through deferred (function-level) imports, each a set of modules.
ALLOWED_DEFERRED_CYCLES: list[set[str]] = [
    # Backend.rng() is public API (`be.rng(seed)`); random.Generator needs Backend. Same floor, deferred import.
    {"transportkit._backend", "transportkit.random"},
    # ReactiveFlux.pathways()/bottleneck()/sample_reactive()/... are conveniences that call tpt.pathways and
    # tpt.reactive_paths, which take a ReactiveFlux (tpt.pathways re-exports sample_reactive, its old home)
    {"transportkit.tpt.pathways", "transportkit.tpt.reactive_paths", "transportkit.tpt.result"},
]


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str
    line: int
    deferred: bool
    #: a name taken from the package root (``from . import get_backend`` in a top-level module), else ""
    root_name: str = ""


def discover(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """``{module name: source file}`` for the package and its ``backends`` subpackage (the folder ``backends/``)."""
    mods: dict[str, Path] = {}
    for base, prefix in ((root / package, package), (root / "backends", f"{package}.backends")):
        for path in sorted(base.rglob("*.py")):
            rel = path.relative_to(base).with_suffix("").parts
            parts = rel[:-1] if rel[-1] == "__init__" else rel
            mods[".".join((prefix, *parts))] = path
    return mods


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, deferred: bool = False):
    """Yield ``(import node, deferred)`` for every import under ``node``, skipping ``if TYPE_CHECKING:`` blocks."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for sub in child.orelse:
                yield from _walk(ast.Module(body=[sub], type_ignores=[]), deferred)
            continue
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, deferred
        inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _walk(child, inner)


def edges(mods: dict[str, Path], package: str = PACKAGE) -> list[Edge]:
    """Every import between modules of ``mods``, resolved to module names."""
    out: list[Edge] = []
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, deferred in _walk(tree):
            for dst, root_name in _targets(node, name, is_pkg, mods, package):
                if dst != name:
                    out.append(Edge(name, dst, node.lineno, deferred, root_name))
    return out


def _targets(node: ast.AST, name: str, is_pkg: bool, mods: dict[str, Path], package: str):
    """The modules an import statement loads, and the root-package names it takes."""
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] == package:
                yield _known(alias.name, mods), ""
        return
    if node.level:
        here = name.split(".") if is_pkg else name.split(".")[:-1]
        base_parts = here[: len(here) - node.level + 1]
        base = ".".join(base_parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
        if base.split(".")[0] != package:
            return
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        if sub in mods:
            yield sub, ""
        elif base == package:
            yield base, alias.name
        else:
            yield _known(base, mods), ""


def _known(name: str, mods: dict[str, Path]) -> str:
    while name not in mods and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def floor_of(module: str) -> int | None:
    best = None
    for prefix, floor in FLOORS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, floor)
    return None if best is None else best[1]


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[set[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = set()
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.add(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    found.append(comp)
    return found


def _graph(es: list[Edge], *, deferred: bool) -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    for e in es:
        if (deferred or not e.deferred) and not e.root_name:
            g.setdefault(e.src, set()).add(e.dst)
    return g


MODULES = discover()
EDGES = edges(MODULES)


# ------------------------------------------------------------------------------------------------- the house
def test_every_module_has_a_floor():
    missing = sorted(m for m in MODULES if floor_of(m) is None)
    assert not missing, f"assign these modules a floor in FLOORS and docs/architecture.md: {missing}"


def test_no_module_level_import_cycles():
    found = cycles(_graph(EDGES, deferred=False))
    assert not found, f"import circles at module level: {[sorted(c) for c in found]}"


def test_deferred_import_cycles_are_only_the_listed_ones():
    found = cycles(_graph(EDGES, deferred=True))
    new = [sorted(c) for c in found if not any(c <= a for a in ALLOWED_DEFERRED_CYCLES)]
    stale = [sorted(a) for a in ALLOWED_DEFERRED_CYCLES if not any(a <= c for c in found)]
    assert not new, f"new import circles through function-level imports: {new}"
    assert not stale, f"these circles are gone: remove them from ALLOWED_DEFERRED_CYCLES: {stale}"


def test_no_import_of_a_higher_floor():
    bad = {
        (e.src, e.dst): f"{e.src} (floor {floor_of(e.src)}) line {e.line} imports {e.dst} (floor {floor_of(e.dst)})"
        for e in EDGES
        if not e.root_name and floor_of(e.dst) is not None and floor_of(e.dst) > floor_of(e.src)
    }
    new = [msg for key, msg in sorted(bad.items()) if key not in ALLOWED_UPWARD]
    stale = sorted(ALLOWED_UPWARD - set(bad))
    assert not new, "imports of a higher floor:\n" + "\n".join(new)
    assert not stale, f"fixed: remove from ALLOWED_UPWARD: {stale}"


def test_no_module_imports_the_package_root():
    bad = {(e.src, e.root_name): f"{e.src} line {e.line}: from the package root import {e.root_name}"
           for e in EDGES if e.root_name and e.src != PACKAGE}  # fmt: skip
    bad.update({(e.src, PACKAGE): f"{e.src} line {e.line}: import {PACKAGE}"
                for e in EDGES if e.dst == PACKAGE and not e.root_name})  # fmt: skip
    new = [msg for key, msg in sorted(bad.items()) if key not in ALLOWED_ROOT_IMPORTS]
    stale = sorted(ALLOWED_ROOT_IMPORTS - set(bad))
    assert not new, "use the defining module (e.g. transportkit._backend), not the package root:\n" + "\n".join(new)
    assert not stale, f"fixed: remove from ALLOWED_ROOT_IMPORTS: {stale}"


def test_every_module_imports_alone():
    """Each module imported with every transportkit module removed from ``sys.modules`` first (one subprocess)."""
    code = (
        "import importlib, sys, traceback\n"
        f"names = {sorted(MODULES)!r}\n"
        "failed = []\n"
        "for name in names:\n"
        "    for m in [m for m in sys.modules if m == 'transportkit' or m.startswith('transportkit.')]:\n"
        "        del sys.modules[m]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception:\n"
        "        failed.append(name + ': ' + traceback.format_exc(limit=3))\n"
        "print('\\n'.join(failed))\n"
        "sys.exit(1 if failed else 0)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr


# ------------------------------------------------------------------------------------------ the analysis itself
def _toy(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        p = tmp_path / "toy" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (tmp_path / "backends").mkdir(exist_ok=True)
    return discover(tmp_path, "toy")


def test_analysis_finds_cycles_deferred_imports_and_root_names(tmp_path):
    mods = _toy(
        tmp_path,
        {
            "__init__.py": "from .a import f\n",
            "a.py": "from . import b\nfrom .sub.c import g\n",
            "b.py": "from .a import f\ndef h():\n    from . import f\n    import toy.sub\n",
            "sub/__init__.py": "",
            "sub/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import f\n"
            "def k():\n    from .. import b\n",
        },
    )
    es = edges(mods, "toy")
    got = {(e.src, e.dst, e.deferred, e.root_name) for e in es}
    assert ("toy.a", "toy.b", False, "") in got and ("toy.a", "toy.sub.c", False, "") in got
    assert ("toy.b", "toy", True, "f") in got  # a name from the package root
    assert ("toy.b", "toy.sub", True, "") in got
    assert ("toy.sub.c", "toy.b", True, "") in got
    assert not any(e.src == "toy.sub.c" and e.dst == "toy.a" for e in es)  # TYPE_CHECKING ignored
    assert cycles(_graph(es, deferred=False)) == [{"toy.a", "toy.b"}]
    assert {"toy.a", "toy.b", "toy.sub.c"} in cycles(_graph(es, deferred=True))


def test_floors_follow_the_longest_prefix():
    assert floor_of("transportkit.tpt.flux") == FLOORS["transportkit.tpt"]
    assert floor_of("transportkit.backends.jax") == 0
    assert floor_of("transportkit") == 5 and floor_of("transportkit._backend") == 1
    assert floor_of("elsewhere") is None


# ------------------------------------------------------------------------------------------- generated tables
def test_generated_tables_are_current():
    from transportkit._support_table import check

    stale = check(ROOT)
    assert not stale, f"regenerate with `python -m transportkit._support_table --write`: {stale}"


def test_changing_a_declaration_changes_the_table_and_the_skips(monkeypatch):
    from transportkit import _capabilities
    from transportkit._capabilities import declaration, declare

    monkeypatch.setattr(_capabilities, "_REGISTRY", dict(_capabilities._REGISTRY))  # the toy stays out of the table
    from transportkit._support_table import support_table

    def algo(x):
        return x

    def rows(fn):
        d = declaration(fn)
        return next(r for r in support_table({d.key: d}).splitlines() if r.startswith("| `tk."))

    first = declare(name="tk.toy")(algo)
    assert rows(first).endswith("| yes | yes | yes | yes | yes |")
    assert declaration(first).skip_reason("numpy", lambda cap: False) is None
    second = declare(needs=("value_and_grad",), skip_backends={"jax": "toy reason"}, name="tk.toy")(algo)
    assert rows(second).endswith("| – | – | yes | skip [1] | – |")
    assert "toy reason" in support_table({declaration(second).key: declaration(second)})
    numpy_reason = declaration(second).skip_reason("numpy", lambda cap: False)
    assert numpy_reason is not None and "value_and_grad" in numpy_reason
    assert "toy reason" in declaration(second).skip_reason("jax", lambda cap: True)
    assert declaration(second).skip_reason("torch", lambda cap: True) is None


@pytest.mark.parametrize(
    "kwargs",
    [{"needs": ("autodiff",)}, {"uses": "jitt"}, {"skip_backends": {"jax": ""}}, {"xfail_backends": ["jax"]}],
)
def test_declare_rejects_bad_declarations(kwargs):
    from transportkit._capabilities import declare

    with pytest.raises(ValueError):
        declare(**kwargs)
