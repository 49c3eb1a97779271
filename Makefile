# Entry points (README): `make demo`, `make test`, and `make run CONFIG=my_config.yaml` for your own data.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= all
# make run: your configuration (required; several files are merged, the last winning key by key) and, for
# make run and make demo, extra snakemake options (e.g. SNAKEMAKE_ARGS=-n for a dry run)
CONFIG ?=
SNAKEMAKE_ARGS ?=

.PHONY: demo run test lint clean

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
	$(BIN)/snakemake --cores $(CORES) --show-failed-logs results/report.html $(SNAKEMAKE_ARGS)

# Your own configuration replaces config.yaml (--replace-workflow-config); the target comes before
# --configfile, which takes every word after it up to the next option as a config file (so SNAKEMAKE_ARGS,
# given last, must start with an option: SNAKEMAKE_ARGS="-n", SNAKEMAKE_ARGS="-R train").
run: $(VENV)/.installed
	@test -n "$(CONFIG)" || { echo "usage: make run CONFIG=my_config.yaml [CORES=8] [SNAKEMAKE_ARGS=-n]" >&2; exit 2; }
	@for f in $(CONFIG); do test -f "$$f" || { echo "make run: config file '$$f' not found" >&2; exit 2; }; done
	$(BIN)/snakemake --cores $(CORES) --show-failed-logs results/report.html \
		--replace-workflow-config --configfile $(CONFIG) $(SNAKEMAKE_ARGS)

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/snakemake --lint

clean:
	rm -rf results logs benchmarks/rules resources/demo .snakemake
