# vrft: one-command study kit. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.vrft-installed
# No hub can be reached in the CPU default: fail fast instead of hanging on a download.
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false
export PYDEVD_DISABLE_FILE_VALIDATION ?= 1
STUDY_PARAMS ?= params/smoke.yaml
STUDY_OUT    ?= outputs/smoke
# make lab: JupyterLab at the repository root. In a container it listens on every interface (to reach
# it through a published port); as root (containers, cluster images) it needs --allow-root.
IN_CONTAINER := $(shell { test -f /.dockerenv || test -f /run/.containerenv; } && echo 1)
LAB_IP       ?= $(if $(IN_CONTAINER),0.0.0.0,127.0.0.1)
LAB_PORT     ?= 8888
LAB_ARGS     ?=
LAB_ROOT     := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help setup lint format test test-fast test-slurm test-browser study bench lab kernel lock

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv from requirements-lock.txt (idempotent)

$(STAMP): requirements-lock.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-lock.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

lint: setup  ## ruff: lint and format check (the settings are in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup  ## ruff: apply the formatter and the safe lint fixes
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: setup lint  ## install, lint, then run the whole test suite (library, notebooks, a reduced study)
	$(PY) -m pytest tests vrft_lib

test-fast: setup lint  ## lint, then the tests that train nothing
	$(PY) -m pytest tests vrft_lib -m "not slow"

test-slurm: setup  ## the Slurm hand-off against a real one-node Slurm on loopback (root; installs slurm-wlm, munge)
	bash scripts/slurm_local_test.sh

test-browser: setup  ## the report in headless Chromium: no injected script, no console error, every figure draws (installs chromium if missing, root)
	$(PY) scripts/browser_check.py

study: setup  ## run the embedded default study into outputs/smoke/ and render its report
	$(VENV)/bin/vrft study $(STUDY_PARAMS) --out $(STUDY_OUT)

bench: setup  ## measure speed, memory and learning curves (outputs/bench/*.json; about 25 minutes)
	$(PY) -m perf.bench_overhead
	$(PY) -m perf.bench_eval
	$(PY) -m perf.bench_rewards
	$(PY) -m perf.bench_study
	$(PY) -m perf.bench_learning
	$(PY) -m perf.summary

lab: setup  ## JupyterLab at the repository root (notebooks/ and outputs/), no browser: open the printed URL
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=. --no-browser --ip=$(LAB_IP) --port=$(LAB_PORT) $(LAB_ROOT) $(LAB_ARGS)

kernel: setup  ## register the kit's environment as the Jupyter kernel "vrft" (for your own Jupyter or VS Code)
	$(PY) -m ipykernel install --user --name vrft --display-name "Python (vrft)" \
		--env HF_HUB_OFFLINE $(HF_HUB_OFFLINE) --env HF_DATASETS_OFFLINE $(HF_DATASETS_OFFLINE) \
		--env TOKENIZERS_PARALLELISM $(TOKENIZERS_PARALLELISM)

lock:  ## re-pin requirements-lock.txt from the current .venv
	$(PY) -m pip freeze --exclude-editable | sed -e 's/^torch==\(.*\)+cpu$$/torch==\1/' > requirements-lock.txt.new
	mv requirements-lock.txt.new requirements-lock.txt
