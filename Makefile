# Two entry points on a fresh machine: `make demo` and `make test`.
# Each creates .venv, installs what it needs (pinned through constraints.txt, which keeps
# torch on the local CPU wheel for later extras) and runs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt
DEMO   := examples/breast-cancer-triage
OUT    := out/breast-cancer-triage

.PHONY: demo test lint typecheck unit schema docs example clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "amlas needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e .
	@touch $@

$(VENV)/.test-installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e '.[test]'
	@touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	@mkdir -p $(OUT)
	$(BIN)/amlas check $(DEMO)
	$(BIN)/amlas check --format json $(DEMO) > $(OUT)/.check.json.tmp && mv $(OUT)/.check.json.tmp $(OUT)/check.json
	$(BIN)/amlas trace --format markdown $(DEMO) > $(OUT)/.trace.md.tmp && mv $(OUT)/.trace.md.tmp $(OUT)/trace.md
	$(BIN)/amlas trace --format json $(DEMO) > $(OUT)/.trace.json.tmp && mv $(OUT)/.trace.json.tmp $(OUT)/trace.json
	$(BIN)/amlas trace $(DEMO)
	@echo ""
	@echo "demo output: $(CURDIR)/$(OUT)/ (check.json, trace.md, trace.json)"

test: $(VENV)/.test-installed lint typecheck unit

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

unit: $(VENV)/.test-installed
	$(BIN)/pytest -q

# Regenerate the committed, generated files (tests fail when they drift).
schema: $(VENV)/.demo-installed
	$(BIN)/amlas schema --out schema
	$(BIN)/amlas schema --out $(DEMO)/schema

docs: $(VENV)/.demo-installed
	$(BIN)/amlas diagnostics --markdown > docs/.diagnostics.md.tmp && mv docs/.diagnostics.md.tmp docs/diagnostics.md
	$(BIN)/amlas schema --markdown > docs/.artefacts.md.tmp && mv docs/.artefacts.md.tmp docs/artefacts.md

example: $(VENV)/.test-installed
	$(BIN)/python $(DEMO)/build.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
