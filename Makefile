# One command surface for developers, CI and the before-stop check.
# `make run` and `make test` work on a fresh machine with Python 3.11: they create .venv and install.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000

# Offline-safe defaults for third-party libraries (DEPENDENCIES.md traps 3, 4, 8, 9).
export HF_HUB_OFFLINE := 1
export RAGAS_DO_NOT_TRACK := true
export OMP_NUM_THREADS ?= 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install browser run test lint typecheck imports unit evals bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# Browser tests drive Debian's Chromium through Playwright (never Playwright's own download).
CHROMIUM ?= /usr/bin/chromium
browser:
	@test -x $(CHROMIUM) || { echo "installing Debian's chromium for the browser tests"; \
	  (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)); }

# The demo seed is dated around 2026-11-23: freeze the clock there unless told otherwise.
run: install
	BUDBRINGER_NOW=$${BUDBRINGER_NOW:-2026-11-23T12:00:00+01:00} $(BIN)/budbringer serve --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

imports: install
	$(BIN)/lint-imports

unit: install browser
	$(BIN)/python -m pytest -q

# Offline answer-quality evals, gated on evals/thresholds.yaml. After `unit`: it reuses the
# help-centre index the test session built in .cache/kb-index.
evals: install
	$(BIN)/python -m evals --offline --gate --out eval-report

test: lint typecheck imports unit evals

bench: install
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .budbringer .mypy_cache .ruff_cache .cache eval-report test-artifacts
