# Every target creates/refreshes the local venv itself (.venv), so a fresh clone needs nothing else.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench bench-big lint venv clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

## Run the default scenario (20k customers, 365 days) and print its KPI table.
demo: $(STAMP)
	$(VENV)/bin/opmatrix run scenarios/quickstart.yaml --seed 7 --out results/demo

## The whole test suite (unit, property, regression, CLI end-to-end, browser).
test: $(STAMP)
	$(PY) -m pytest -n 2 -q

## Benchmarks against an idiomatic per-agent Mesa baseline (not part of `make test`).
bench: $(STAMP)
	$(PY) benchmarks/run_all.py

## Peak memory of core_ws at 1M/10M/30M/50M x 5 days, 100M extrapolated from it (optional:
## ~1.5 min of CPU and ~10 GB at its largest run; not part of `make bench`).
bench-big: $(STAMP)
	$(PY) benchmarks/bench_big.py

lint: $(STAMP)
	$(VENV)/bin/ruff check simulation tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache results/runs results/demo
