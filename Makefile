# Two entry points (see README): `make demo` and `make test`.
# Both install into a project-local virtual environment, .venv/.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch is installed first and pinned: on the CPU-only machines we build on, this
# release lies on disk as a CPU build; an unpinned torch pulls a multi-GB CUDA build.
TORCH_SPEC ?= torch==2.13.0

.PHONY: demo test lint docs clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev]"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/tsssm demo --out out/demo

test: $(VENV)/.installed
	$(VENV)/bin/ruff check tsssm tests benchmarks
	# One BLAS/OpenMP thread per test worker: two workers on two cores, no oversubscription.
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) -m pytest -n 2 -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check tsssm tests benchmarks

docs: $(VENV)/.installed
	$(VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(VENV) out site .pytest_cache .ruff_cache
