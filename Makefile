# Habitual targets; each wraps a script under scripts/ so the README's commands need no make.
.DEFAULT_GOAL := help
PY := .venv/bin/python

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

setup: ## install what is missing: packages, services, venv, database, guest image
	@echo "--> setup"; scripts/setup.sh

run: ## set up, then run every process (Ctrl-C stops them)
	@echo "--> run"; scripts/run

test: ## the whole suite, real VMs and browser included (what CI runs)
	@echo "--> test"; scripts/test

test-fast: ## the suite without real VMs, browsers or the real clients, for the edit loop
	@echo "--> test-fast"; $(PY) -m pytest -m "not vm and not browser and not clients" -x -q

lint: ## ruff, formatting, import contracts, mypy, migrations up to date
	@echo "--> lint"
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports --no-cache
	$(PY) manage.py makemigrations --check --dry-run
	.venv/bin/mypy apps/scheduler workers computecloud

fmt: ## format and fix what ruff can
	@echo "--> fmt"; .venv/bin/ruff format . && .venv/bin/ruff check --fix .

migrations: ## make migrations for model changes
	@echo "--> migrations"; $(PY) manage.py makemigrations

lock: ## re-pin requirements.txt and requirements-dev.txt (with hashes)
	@echo "--> lock"
	.venv/bin/uv pip compile --python-version 3.11 --generate-hashes -q requirements/base.in -o requirements.txt
	.venv/bin/uv pip compile --python-version 3.11 --generate-hashes -q requirements/dev.in -o requirements-dev.txt

bench: ## run the benchmarks under bench/ and print their figures
	@echo "--> bench"; for b in bench/*.py; do echo "== $$b"; $(PY) $$b; done

.PHONY: help setup run test test-fast lint fmt migrations lock bench
