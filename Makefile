# The README's commands. `make workshop` runs the workshop on the local target; `make test`
# runs the tests. Both set up (or reuse) .venv and node_modules first. `make check` is the
# contributor's loop: lint, types and the fast tests (tests/tiers.py).

SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.bwp-installed
UV := $(BIN)/uv
UV_VERSION := 0.13.9
# The interpreter's bundled pip and setuptools carry published advisories: both environments get
# these (checked by tests/unit/test_tool_pins.py; move them with a new release).
PIP_VERSION := 26.3
SETUPTOOLS_VERSION := 84.2.1
TOOL_PINS := pip==$(PIP_VERSION) setuptools==$(SETUPTOOLS_VERSION)
CDK_CLI := node_modules/.package-lock.json
# checkov's pins conflict with the project's, so it gets an environment of its own
# (bwp_workshop/stacks/template_checks.py runs it from there).
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/.bwp-installed
KERNEL := bwp-workshop
# Test processes (pytest-xdist): one per core. The cdk tier and the story's tests each run on one
# worker (--dist loadgroup, tests/tiers.py); the other tests spread over the workers.
TEST_WORKERS ?= auto
# Independent set-up steps run side by side (uv for .venv, npm, uv for checkov); each target's own
# steps stay in order.
MAKEFLAGS += --jobs=3
# See $(UV) below: the first import of a module writes its bytecode for every later process.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: help setup workshop docs browser check lint test bench lab down clean lock base-image

help:  ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || \
		{ echo "Python 3.11 or newer is needed; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

# uv installs the pinned packages in parallel: seconds where pip took minutes. It leaves their
# bytecode to be written on first import (compiling all 1.4 GB up front takes a minute), so the
# commands here write bytecode even where the shell says not to. pip stays in the environment
# (the Lambda asset's build runs it for Python 3.12 wheels).
$(UV): | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check --quiet uv==$(UV_VERSION)

# Every package of the environment from uv.lock, each checked against its hashes (`make lock`
# refreshes the lock after a change to pyproject.toml); then the project itself, editable.
# The kernel's IPython configuration (tools/ipython_kernel_config.py) goes where every kernel of
# the environment reads it: it loads bwp_workshop.notebook.cell_errors when a kernel starts.
$(INSTALLED): $(BIN)/python pyproject.toml uv.lock Makefile tools/ipython_kernel_config.py | $(UV)
	$(UV) export --quiet --frozen --extra test --extra docs --no-emit-project --format requirements-txt -o $(VENV)/requirements.lock
	$(UV) pip install --python $(BIN)/python --quiet --require-hashes --requirement $(VENV)/requirements.lock
	$(UV) pip install --python $(BIN)/python --quiet --no-deps --editable . $(TOOL_PINS)
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python (bwp-workshop)"
	mkdir -p $(VENV)/etc/ipython && cp tools/ipython_kernel_config.py $(VENV)/etc/ipython/
	# matplotlib's font cache, built once here: building it runs fc-list, which in-process tests refuse.
	$(BIN)/python -c 'import matplotlib.font_manager'
	@touch $@

$(CDK_CLI): package.json package-lock.json
	@command -v npm >/dev/null || { echo "Node.js 20+ and npm are needed for the AWS CDK CLI"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error

$(CHECKOV): tools/checkov/requirements.txt Makefile | $(UV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(UV) pip install --python $(CHECKOV_VENV)/bin/python --quiet --requirement tools/checkov/requirements.txt $(TOOL_PINS)
	@touch $@

# The deployables' locks: every package of the image and of the Lambda's folder, pinned with its
# hashes for their platform (Python 3.12, x86_64 Linux), resolved from their requirements.txt.
LOCKS := oauth_app/requirements.lock lambdas/event_handler/requirements.lock
lock: | $(UV)  ## Regenerate uv.lock (the project) and the image's and the Lambda's hash-pinned locks.
	$(UV) lock
	@for lock in $(LOCKS); do \
		$(UV) pip compile --quiet --python-version 3.12 --python-platform x86_64-manylinux_2_28 --generate-hashes \
			--no-header --annotation-style line $$(dirname $$lock)/requirements.txt -o $$lock || exit 1; \
	done

# The image's base is pinned by digest; this moves it to its tag's current digest (docker buildx
# imagetools inspect where Docker runs, else Docker Hub's registry API). docs/oauth-app.md.
base-image: $(INSTALLED)  ## Move oauth_app/Dockerfile's base image to its tag's current digest.
	$(BIN)/python -m bwp_workshop.stacks.base_image

setup: $(INSTALLED) $(CDK_CLI) $(CHECKOV)  ## Create or update .venv, .venv-checkov and node_modules, register the Jupyter kernel.

workshop: $(INSTALLED) $(CDK_CLI)  ## Run every workshop notebook headless on the local target, from a clean local runtime.
	$(BIN)/bwp-workshop local down
	$(BIN)/bwp-workshop run --target local

# The web page shows each notebook with the outputs of its headless run: the executed copies that
# `make workshop` writes to build/notebooks. They are used as they are (`make workshop` refreshes
# them); only when one is missing does this run the workshop first.
docs: $(INSTALLED)  ## The workshop as a web page in build/site, from build/notebooks (runs the workshop first if a notebook has no executed copy).
	@$(BIN)/bwp-workshop site --check >/dev/null 2>&1 || $(MAKE) workshop
	$(BIN)/bwp-workshop site

# Debian's chromium package (no browser download is needed): the web page's test opens the site in it.
browser:  ## Install Chromium for the web page's test (apt-get, as root; CI runs this).
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

lint: $(INSTALLED)  ## ruff (lint and format), mypy (the modules listed in pyproject.toml), notebooks without outputs.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	@$(BIN)/nbstripout --verify --keep-id notebooks/*.ipynb || { echo "Notebooks are committed without \
	outputs: run $(BIN)/nbstripout --keep-id notebooks/*.ipynb (cells tagged nbval-check-output keep theirs)"; exit 1; }

check: lint $(CDK_CLI)  ## Lint, types and the fast tests (in process, no servers, the OAuth app's included): about a minute.
	$(BIN)/python -m pytest -m fast -n $(TEST_WORKERS) --dist load -q

test: setup lint browser  ## Lint and types, Chromium for the web page's test (apt-get), then every test, in parallel.
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

bench: setup  ## Run the benchmarks on the local target; writes bench/results.md (minutes).
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

lab: setup  ## Open JupyterLab on the workshop's kernel.
	$(BIN)/jupyter lab

down:  ## Stop the local runtime.
	@if [ -x $(BIN)/bwp-workshop ]; then $(BIN)/bwp-workshop local down; fi

clean: down  ## Remove the environment, the CDK CLI and all local state.
	rm -rf $(VENV) $(CHECKOV_VENV) node_modules build cdk.out .bwp .mypy_cache .ruff_cache .pytest_cache
