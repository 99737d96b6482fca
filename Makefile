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

.PHONY: help setup lint format test test-fast test-slurm study bench lab lock

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

study: setup  ## run the embedded default study into outputs/smoke/ and render its report
	$(VENV)/bin/vrft study $(STUDY_PARAMS) --out $(STUDY_OUT)

bench: setup  ## measure speed and memory against the targets (outputs/bench/*.json; about 15 minutes)
	$(PY) -m benchmarks.bench_overhead
	$(PY) -m benchmarks.bench_eval
	$(PY) -m benchmarks.bench_rewards
	$(PY) -m benchmarks.bench_study
	$(PY) -m benchmarks.summary

lab: setup  ## open JupyterLab on the notebooks with the kit's environment
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks

lock:  ## re-pin requirements-lock.txt from the current .venv
	$(PY) -m pip freeze --exclude-editable | sed -e 's/^torch==\(.*\)+cpu$$/torch==\1/' > requirements-lock.txt.new
	mv requirements-lock.txt.new requirements-lock.txt
