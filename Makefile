# Two entry points on a fresh machine with Python 3.11:
#   make demo   - create .venv, install sparsestat, run `sparsestat demo`
#   make test   - create .venv with the test and docs extras, run the whole test suite: tests,
#                 docstring examples (doctests), the docs build (warnings = errors) with the
#                 notebooks executed once in it, and the checks of those executed notebooks
#   make validate - rerun the simulation studies and rewrite docs/validation.md
#   make docs   - build the documentation into docs/_build/html (warnings = errors), executing
#                 the notebooks whose code changed (cache: docs/_build/.jupyter_cache)
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
TORCH_VERSION ?= 2.13.0
PYTEST_WORKERS ?= 2

.PHONY: demo test install install-test docs bench validate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install -e ".[plot]"
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) install "torch==$(TORCH_VERSION)"
	$(PIP) install -e ".[plot,torch,test,docs,dask]"
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: $(VENV)/.installed
	$(BIN)/sparsestat demo

# one BLAS thread per test worker: the workers already fill the cores, and threaded
# LAPACK on the suite's small matrices spends its time synchronizing threads
# --dist loadgroup: the docs build and the notebook checks (one xdist group) share one worker,
# so the notebooks run once, in the build
test: $(VENV)/.installed-test
	MPLBACKEND=Agg OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup -q

docs: $(VENV)/.installed-test
	MPLBACKEND=Agg $(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "Documentation: docs/_build/html/index.html"

# bench_paths.py runs in its own environment (build/venv-bench) with the peer solvers of
# benchmarks/requirements-peers.txt, which are never dependencies of the package
bench: $(VENV)/.installed-test
	$(PIP) install -e ".[bench]"
	for f in benchmarks/bench_*.py; do [ $$f = benchmarks/bench_paths.py ] || \
		$(BIN)/python $$f || exit 1; done
	[ -x build/venv-bench/bin/python ] || $(PYTHON) -m venv build/venv-bench
	build/venv-bench/bin/python -m pip --disable-pip-version-check -q install -e . \
		-r benchmarks/requirements-peers.txt
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 build/venv-bench/bin/python \
		benchmarks/bench_paths.py --cpu

# the simulation studies behind docs/validation.md (long; not part of make test)
validate: $(VENV)/.installed-test
	$(PIP) install -e ".[bench]"
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m validation.run

clean:
	rm -rf $(VENV) build dist *.egg-info docs/_build docs/_generated
