# Two entry points on a fresh machine: `make demo` and `make test`.
# Each creates .venv, installs what it needs (pinned through constraints.txt, which keeps
# torch on the local CPU wheel for later extras) and runs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt
DEMO   := examples/breast-cancer-triage
OUT    := out/breast-cancer-triage

.PHONY: demo test lint typecheck unit schema docs example clean system-demo system-test

# Debian packages: Graphviz's `dot` lays out the GSN diagrams; Chromium drives the report's
# browser test (and the optional PDF). Installed only when missing (root, or sudo).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo=sudo; fi; \
	  $$sudo apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi
endef

system-demo:
	$(call apt_install,graphviz)

system-test:
	$(call apt_install,graphviz chromium)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "amlas needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(VENV)/.demo-installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e '.[examples]'
	@touch $@

$(VENV)/.test-installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) -e '.[test]'
	@touch $@ $(VENV)/.demo-installed

# The demo works on a copy of the example (the committed example keeps its plaintext [P]):
# a verifier key outside the project, [P] sealed, stage 3-4 as the development team and
# stages 3 and 5 as the verifier. `amlas run` exits 1 on a failed verdict, which is a
# result, not a broken demo; 2 and 3 (usage, internal errors) stop it.
RUNOK  = status=$$?; [ $$status -le 1 ] || exit $$status
demo: $(VENV)/.demo-installed system-demo
	@rm -rf $(OUT) && mkdir -p $(OUT)
	$(BIN)/amlas check $(DEMO)
	$(BIN)/amlas check --format json $(DEMO) > $(OUT)/.check.json.tmp && mv $(OUT)/.check.json.tmp $(OUT)/check.json
	$(BIN)/amlas trace --format markdown $(DEMO) > $(OUT)/.trace.md.tmp && mv $(OUT)/.trace.md.tmp $(OUT)/trace.md
	$(BIN)/amlas trace --format json $(DEMO) > $(OUT)/.trace.json.tmp && mv $(OUT)/.trace.json.tmp $(OUT)/trace.json
	$(BIN)/amlas trace $(DEMO)
	cp -r $(DEMO) $(OUT)/project && rm -rf $(OUT)/project/.amlas $(OUT)/project/evidence
	$(BIN)/amlas keygen $(OUT)/verifier.key
	$(BIN)/amlas seal $(OUT)/project --key-file $(OUT)/verifier.key
	$(BIN)/amlas check $(OUT)/project
	$(BIN)/amlas run $(OUT)/project --role developer; $(RUNOK)
	$(BIN)/amlas run $(OUT)/project --role verifier --key-file $(OUT)/verifier.key; $(RUNOK)
	$(BIN)/amlas run $(OUT)/project --role verifier --key-file $(OUT)/verifier.key --stage 5 --format json > $(OUT)/run-stage5.json; $(RUNOK)
	$(BIN)/amlas evidence $(OUT)/project --verify
	$(BIN)/amlas case $(OUT)/project --out $(OUT)/safety-case
	$(BIN)/amlas report $(OUT)/project -o $(OUT)/report.html
	@$(BIN)/amlas gate $(OUT)/project; $(RUNOK)
	@echo ""
	@echo "demo output: $(CURDIR)/$(OUT)/"
	@echo "  check.json, trace.md, trace.json   project checks and traceability"
	@echo "  project/                           the example with [P] sealed (project/data/verification.csv.sealed)"
	@echo "  project/evidence/                  evidence records (objects/, refs.json, runs/)"
	@echo "  project/5-verification/P-access-log.jsonl   who unsealed and used [P]"
	@echo "  run-stage5.json                    the verifier's stage-5 summary"
	@echo "  report.html                        the safety case report (offline HTML: open it in a browser)"
	@echo "  safety-case/                       case.json, case.md, case.junit.xml, gsn/ (gsn2x YAML), svg/"

test: $(VENV)/.test-installed system-test lint typecheck unit

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
