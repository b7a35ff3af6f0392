"""Sphinx configuration: pydata theme, MyST markdown, API from docstrings, backend table from capabilities()."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("JAX_ENABLE_X64", "1")

import transportkit as tk
from transportkit.cli import backend_table

project = "transportkit"
author = "the transportkit developers"
release = tk.__version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax"]
myst_enable_extensions = ["dollarmath", "amsmath"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "_generated/*.txt"]
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False
suppress_warnings = ["myst.header"]

# The backend table is generated from transportkit.backends.capabilities() at every build.
_gen = Path(__file__).parent / "_generated"
_gen.mkdir(exist_ok=True)
(_gen / "backend_table.txt").write_text(backend_table() + "\n")
