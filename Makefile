# 六比六看 讲绩效 — analysis pipeline. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export MPLCONFIGDIR := $(CURDIR)/.mplconfig
export PYTHONHASHSEED := 0

.PHONY: help venv report test bench clean synth lab schemes lock

# Exact versions and hashes of every runtime and test dependency (`make lock` regenerates them
# from pyproject.toml; README "Reproducibility"). The runtime lock constrains the dev lock.
LOCK := requirements.lock
LOCK_DEV := requirements-dev.lock
# JupyterLab (`make lab`) lives in a venv of its own: its server stack would cost every papermill
# worker of `make report` and `make test` 2 s of imports (jsonschema's IRI grammar, rfc3987-syntax)
LOCK_LAB := requirements-lab.lock
LAB := .venv-lab
UV := $(VENV)/bin/uv
LOCKFLAGS := --universal --python-version 3.11 --generate-hashes --quiet

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

# A venv ($(1)) built anew from a lock file ($(2)) whenever the lock changes: it holds exactly the
# locked packages (pip installs into an existing venv but never removes a package the lock drops)
define build_venv
	rm -rf $(1)
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --require-hashes -r $(2)
	$(1)/bin/python -m pip install --quiet --no-deps -e .
	@touch $(1)/.installed
endef

$(VENV)/.installed: pyproject.toml $(LOCK) $(LOCK_DEV)
	$(call build_venv,$(VENV),$(LOCK_DEV))

venv: $(VENV)/.installed ## create .venv and install the package with its test tools

lock: ## regenerate requirements.lock / requirements-dev.lock from pyproject.toml (exact versions + hashes)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet uv
	$(UV) pip compile pyproject.toml $(LOCKFLAGS) -o $(LOCK)
	$(UV) pip compile pyproject.toml --extra dev -c $(LOCK) $(LOCKFLAGS) -o $(LOCK_DEV)
	$(UV) pip compile pyproject.toml --extra dev --extra lab -c $(LOCK_DEV) $(LOCKFLAGS) -o $(LOCK_LAB)
	@rm -f $(VENV)/.installed
	@echo "lock files written; the next make installs from them"

report: venv ## run the whole pipeline on the bundled sample → reports/
	$(PY) -m pipeline all

# Two pytest-xdist workers, one test file each at a time (--dist loadfile): a file's module- and
# session-scoped fixtures (the sample world, the rendered report, the Dask cluster) are built once
# per worker, never once per test; every test writes only under its own tmp_path.
test: venv ## run the test suite (pytest + nbval) in 2 worker processes
	$(PY) -m pytest -q -n 2 --dist loadfile

schemes: venv ## render the example what-if schemes (schemes/*.yaml) on the bundled sample → reports/schemes/
	@test -f data/processed/items.parquet || $(PY) -m pipeline clean
	@for f in schemes/*.yaml; do $(PY) -m pipeline scheme $$f || exit 1; done
	$(PY) -m pipeline scheme schemes/*.yaml --out reports/schemes/side-by-side

bench: venv ## run the benchmarks; results go to benchmarks/README.md
	$(PY) -m pipeline bench

synth: venv ## regenerate the bundled sample world in data/raw (and its ground truth)
	$(PY) -m pipeline synth

$(LAB)/.installed: pyproject.toml $(LOCK_LAB)
	$(call build_venv,$(LAB),$(LOCK_LAB))

lab: $(LAB)/.installed ## open the chapter notebooks in JupyterLab (notebooks/; own venv .venv-lab)
	$(LAB)/bin/python -m jupyterlab --notebook-dir=notebooks

clean: ## remove derived outputs (data/processed, reports); data/raw is kept
	rm -rf data/processed/* reports/* .mplconfig .pytest_cache
