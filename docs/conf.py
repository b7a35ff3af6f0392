"""Sphinx configuration: pydata theme, MyST markdown, API from docstrings, backend table from capabilities()."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("JAX_ENABLE_X64", "1")
# The gallery runs its examples in this process: one BLAS thread each, since OpenBLAS's threads oversubscribe a small
# shared machine (a 2-core box under load ran the KdV example 40x slower with the default thread count).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import transportkit as tk
from transportkit.cli import backend_table

project = "transportkit"
author = "the transportkit developers"
release = tk.__version__
extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
]
myst_enable_extensions = ["dollarmath", "amsmath"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "_generated/*.txt", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.md5", "auto_examples/*.json"]
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
nitpicky = False
# ref.python: "more than one target found" for a name documented both where it is defined and where it is
# re-exported (transportkit.sampling.Samples and transportkit.sampling.results.Samples are one class)
suppress_warnings = ["myst.header", "ref.python"]

# The gallery (sphinx-gallery): examples/plot_*.py, executed at every build, their figures in auto_examples/.
sphinx_gallery_conf = {
    "examples_dirs": str(Path(__file__).parent.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "image_scrapers": ("matplotlib",),
    "download_all_examples": False,
    "min_reported_time": 0,
    "within_subsection_order": "FileNameSortKey",
}

# The backend table is generated from transportkit.backends.capabilities() at every build.
_gen = Path(__file__).parent / "_generated"
_gen.mkdir(exist_ok=True)
(_gen / "backend_table.txt").write_text(backend_table() + "\n")
