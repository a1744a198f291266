# erm: two-command quick start.  `make demo` sets everything up and runs the demo; `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= ml,refine,dev,train-critic,ray
STAMP := $(VENV)/.erm-installed

.PHONY: setup system venv demo test bench clean help

help:
	@echo "make demo   set up (venv, pinned deps, system packages) and run the demo on examples/"
	@echo "make test   set up and run the test suite"
	@echo "make bench  set up and print speed figures (erm bench speed)"

system:
	@bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[$(EXTRAS)]' 2>&1 | grep -v "is ignored: it is neither" || true
	@$(BIN)/python -c "import erm_cli, typer, matplotlib, cairosvg, torch, transformers, trl" || (echo "dependency install failed"; exit 1)
	@touch $(STAMP)

venv: $(STAMP)

setup: system venv

demo: setup
	@bash scripts/demo.sh

test: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	$(BIN)/erm bench speed

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo-out
