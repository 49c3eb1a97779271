# Two entry points (README quick start): `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all

.PHONY: demo test lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# Snakemake's default output shows every job and 'n of N steps (x%) done'; a failed job's log is printed.
demo: $(VENV)/.installed
	$(BIN)/snakemake --cores $(CORES) --show-failed-logs results/report.html

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs benchmarks/rules resources/demo .snakemake
