# cutover — the two set-up commands of the README, and a few helpers.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: rehearse rehearse-helpdesk test bench lint stack-up stack-down clean

## Run the main job: the end-to-end rehearsal on the local stack (SCENARIO=negative to see a gate
## fail; SYSTEM=examples/helpdesk to migrate another system, with its own default scenario).
SCENARIO ?=
SYSTEM ?=
rehearse: $(STAMP)
	@start=$$(date +%s); \
	$(BIN)/cutover rehearse $(if $(SYSTEM),--system $(SYSTEM)) $(if $(SCENARIO),--scenario $(SCENARIO)); rc=$$?; \
	echo "make rehearse$(if $(SYSTEM), SYSTEM=$(SYSTEM)) took $$(( $$(date +%s) - start ))s"; exit $$rc

## The second system's rehearsal: the helpdesk (examples/helpdesk), phases 1 to 5.
rehearse-helpdesk:
	@$(MAKE) --no-print-directory rehearse SYSTEM=examples/helpdesk

## Run the whole test suite (lint, unit, integration on the real stack).
test: $(STAMP)
	@scripts/test.sh

## Run every benchmark under bench/.
bench: $(STAMP)
	$(BIN)/pip install -q -e '.[dev,bench]'
	@$(BIN)/python bench/run_all.py

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy

stack-up: $(STAMP)
	$(BIN)/cutover stack up

stack-down: $(STAMP)
	$(BIN)/cutover stack down

$(STAMP): pyproject.toml
	@scripts/ensure-system-deps.sh
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found — install Python 3.11+" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
