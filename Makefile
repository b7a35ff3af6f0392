# make demo · make test · make bench · make docs — each creates or reuses .venv and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
CONSTRAINTS := constraints/test.txt
PYTEST_WORKERS ?= 2

.PHONY: demo test lint bench docs clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# One stamp per extra set: reinstall only when pyproject.toml or the constraints change.
$(VENV)/.stamp-%: pyproject.toml $(CONSTRAINTS) | $(PY)
	$(PIP) install --quiet -c $(CONSTRAINTS) -e ".[$*]"
	touch $@

demo: $(VENV)/.stamp-test
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(VENV)/bin/transportkit demo --png-dir demo-output

test: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check transportkit backends tests asv_benchmarks
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider

bench: $(VENV)/.stamp-test $(VENV)/.stamp-bench
	cd asv_benchmarks/.. && $(VENV)/bin/asv machine --yes >/dev/null
	$(VENV)/bin/asv run --python=same --quick --show-stderr --dry-run $(if $(BENCH),--bench "$(BENCH)")

docs: $(VENV)/.stamp-docs
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf docs/_build docs/_generated docs/auto_examples docs/sg_execution_times.rst .asv
