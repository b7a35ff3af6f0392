"""The generated tables of the documentation: backends x capabilities, and backends x algorithms.

Both tables are written from declarations only — the adapters' class attributes (``provides``, the flags,
``devices_note``, ``float64_note``, ``notes``) and the algorithms' :func:`transportkit._capabilities.declare` —
so they are the same on every machine, whatever is installed. They go between marker comments into ``README.md``
and ``docs/backends.md``::

    python -m transportkit._support_table --write   # regenerate
    python -m transportkit._support_table --check   # exit 1 when a file is stale (tests/test_architecture.py)

``transportkit backends`` prints the other table, of what works on the machine at hand.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import backends
from ._adapter import ADAPTER_FLAGS, OPTIONAL_CAPABILITIES, Adapter
from ._capabilities import Declaration, declarations

__all__ = ["FILES", "backend_table", "check", "load_all", "render", "support_table", "write"]

#: Files holding generated tables, relative to the source tree's root.
FILES = ("README.md", "docs/backends.md")
#: The tables by marker name.
MARKERS = ("backend-table", "support-table")
#: Modules that declare nothing and need not be imported to collect the declarations.
_SKIP_MODULES = ("transportkit.__main__", "transportkit._support_table")


def load_all() -> dict[str, Declaration]:
    """Import every module of transportkit (so that every declaration is made) and return the declarations."""
    for info in pkgutil.walk_packages([str(Path(__file__).resolve().parent)], "transportkit."):
        if info.name not in _SKIP_MODULES:
            importlib.import_module(info.name)
    return declarations()


def _adapters() -> list[Adapter]:
    """The built-in adapters, in their registration order (instances: importing them imports no library)."""
    backends.known()  # discovers the registered adapters
    return [backends._instance(name) for name in backends.BUILTIN]


def _cell(flag: bool) -> str:
    return "yes" if flag else "–"


def backend_table() -> str:
    """The backend x capability table (Markdown), from the adapters' declarations."""
    caps = list(OPTIONAL_CAPABILITIES)
    flags = list(ADAPTER_FLAGS)
    head = ["backend", "install", "devices", "float64", *caps, *flags]
    rows = [
        [
            f"`{a.name}`",
            f'`transportkit[{a.extra}]`' if a.extra else "(default)",
            a.devices_note,
            a.float64_note,
            *(_cell(c in a.provides) for c in caps),
            *(_cell(getattr(a, f)) for f in flags),
        ]
        for a in _adapters()
    ]
    lines = [_row(head), _row(["---"] * len(head)), *(_row(r) for r in rows), ""]
    lines += [f"- `{f}`: {ADAPTER_FLAGS[f]}" for f in flags]
    lines += [f"- `{a.name}`: {a.notes}" for a in _adapters() if a.notes]
    return "\n".join(lines)


def support_table(decls: dict[str, Declaration] | None = None) -> str:
    """The algorithm x backend support table (Markdown), from the algorithms' declarations.

    A cell is ``yes`` where the declaration admits the backend, ``–`` where the backend lacks a needed
    capability, and ``skip [k]``/``xfail [k]`` with the declared reason as note ``k`` below the table.
    """
    if decls is None:  # the library's own declarations (tests may declare toys in their own modules)
        decls = {k: d for k, d in load_all().items() if k.startswith("transportkit.")}
    adapters = _adapters()
    head = ["algorithm", "needs", "uses when present", *(f"`{a.name}`" for a in adapters)]
    lines = [_row(head), _row(["---"] * len(head))]
    notes: list[str] = []
    for decl in sorted(decls.values(), key=lambda d: d.title):
        title = f"`{decl.title}`"
        if decl.note:
            notes.append(f"{decl.title}: {decl.note}")
            title += f" [{len(notes)}]"
        cells = [title, ", ".join(decl.needs) or "–", ", ".join(decl.uses) or "–"]
        for a in adapters:
            cells.append(_support_cell(decl, a, notes))
        lines.append(_row(cells))
    lines += ["", _LEGEND]
    if notes:
        lines += ["", *(f"{k + 1}. {note}" for k, note in enumerate(notes))]
    return "\n".join(lines)


_LEGEND = (
    "`yes`: the declaration admits the backend and the algorithm's tests run there (`cupy` where a GPU answers); "
    "`–`: the backend lacks a capability the algorithm needs (it raises `CapabilityError`); "
    "`skip [k]`/`xfail [k]`: declared not to work, or known to fail, for reason k below. "
    "*Uses when present*: capabilities that make it faster or more general where the backend has them."
)


def _support_cell(decl: Declaration, adapter: Adapter, notes: list[str]) -> str:
    reason = decl.skip_reason(adapter.name, lambda cap: cap in adapter.provides)
    if reason is not None:
        if not any(name == adapter.name for name, _ in decl.skip_backends):
            return "–"
        notes.append(reason)
        return f"skip [{len(notes)}]"
    xfail = decl.xfail_reason(adapter.name)
    if xfail is not None:
        notes.append(xfail)
        return f"xfail [{len(notes)}]"
    return "yes"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _markers(name: str) -> tuple[str, str]:
    return (
        f"<!-- BEGIN GENERATED {name}: python -m transportkit._support_table --write -->",
        f"<!-- END GENERATED {name} -->",
    )


def render(text: str, tables: dict[str, str]) -> str:
    """``text`` with the part between each table's marker comments replaced by the table.

    A table whose marker pair is missing (or out of order) is left out; :func:`check` reports such files as stale.
    """
    for name, table in tables.items():
        begin, end = _markers(name)
        i, j = text.find(begin), text.find(end)
        if i < 0 or j < i:
            continue
        text = text[: i + len(begin)] + "\n" + table.rstrip() + "\n" + text[j:]
    return text


def _tables() -> dict[str, str]:
    return {"backend-table": backend_table(), "support-table": support_table()}


def _rendered(root: Path) -> Iterator[tuple[str, Path, str, str]]:
    """``(relative name, path, current text, text with the tables regenerated)`` of each file holding tables."""
    tables = _tables()
    for rel in FILES:
        path = root / rel
        text = path.read_text()
        yield rel, path, text, render(text, tables)


def check(root: Path) -> list[str]:
    """The files under ``root`` whose generated tables are not current (empty when all are)."""
    return [rel for rel, _, text, new in _rendered(root)
            if new != text or not all(_markers(m)[0] in text for m in MARKERS)]  # fmt: skip


def write(root: Path) -> list[str]:
    """Regenerate the tables in the files under ``root``; return the files that changed."""
    changed = []
    for rel, path, text, new in _rendered(root):
        if new != text:
            path.write_text(new)
            changed.append(rel)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m transportkit._support_table", description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1], help="source tree root")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="regenerate the tables in README.md and docs/backends.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when a generated table is stale")
    args = parser.parse_args(argv)
    if args.write:
        print("\n".join(f"rewrote {f}" for f in write(args.root)) or "tables already current")
        return 0
    if args.check:
        stale = check(args.root)
        print("\n".join(f"stale: {f}" for f in stale) or "tables current")
        return 1 if stale else 0
    print(backend_table() + "\n\n" + support_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
