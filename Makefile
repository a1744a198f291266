# erm: two-command quick start.  `make demo` sets everything up and runs the demo; `make test` sets up and runs the tests.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= ml,refine,dev,train-critic,ray
STAMP := $(VENV)/.erm-installed
# The RL frameworks whose own code tests/test_rl_frameworks.py drives (installed --no-deps: their full
# requirements pull CUDA torch, flash-attn, deepspeed); their light runtime deps are the rl-test extra.
RL_FRAMEWORKS ?= verl==0.9.1 openrlhf==0.11.2
RL_STAMP := $(VENV)/.erm-rl-test

.PHONY: setup system venv rl-test demo test bench clean help

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

# Test-only: verl and OpenRLHF beside erm. Fails if erm's own requirements stop being met.
$(RL_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check $$($(BIN)/python -c "import tomllib; print(' '.join(\
	  tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['rl-test']))") 2>&1 \
	  | grep -v "is ignored: it is neither" || true
	$(BIN)/python -m pip install -q --disable-pip-version-check --no-deps $(RL_FRAMEWORKS) 2>&1 | grep -v "is ignored: it is neither" || true
	@$(BIN)/python -c "import verl, openrlhf, hydra, tensordict" || (echo "rl-test install failed"; exit 1)
	@! $(BIN)/python -m pip check 2>/dev/null | grep -Ev '^(verl|openrlhf) ' || (echo "rl-test broke a requirement above"; exit 1)
	@touch $(RL_STAMP)

rl-test: $(RL_STAMP)

setup: system venv

demo: setup
	@bash scripts/demo.sh

test: setup rl-test
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: setup
	$(BIN)/erm bench speed

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache demo-out
