# Two entry points on a fresh machine: `make demo` and `make test`.
# Each creates .venv and installs exactly what its lock file pins (requirements/demo.lock,
# requirements/test.lock: every package at one version, with its SHA-256), then runs.
# `make lock` regenerates the locks after a dependency change (commit them together);
# `make test-latest` runs the suite on the newest versions pyproject.toml allows (not in CI).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# torch is the local CPU build (torch==2.13.0+cpu in the locks); pip finds it in WHEELS
WHEELS ?= /opt/wheels
PIP    := $(BIN)/python -m pip install --disable-pip-version-check -q --find-links $(WHEELS)
# From a lock: every distribution checked against its hash, nothing resolved at install time;
# then amlas itself, editable, built by the locked setuptools.
LOCKED  = $(PIP) --require-hashes --no-deps -r requirements/$(1).lock && \
	  $(PIP) --no-deps --no-build-isolation -e . && $(BIN)/python -m pip check -q
UV_VERSION := 0.13.9
DEMO   := examples/breast-cancer-triage

.PHONY: demo test lint typecheck unit schema docs example clean system-demo system-test \
	lock lock-check test-latest

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

$(VENV)/.demo-installed: $(BIN)/python requirements/demo.lock pyproject.toml
	$(call LOCKED,demo)
	@touch $@

$(VENV)/.test-installed: $(BIN)/python requirements/test.lock pyproject.toml
	$(call LOCKED,test)
	@touch $@ $(VENV)/.demo-installed

# Regenerate the locks with uv (pip-tools' format, hashes, CPython 3.11 on Linux x86-64);
# today's pins are kept where they still satisfy pyproject.toml.
lock: $(BIN)/python
	$(PIP) uv==$(UV_VERSION)
	$(BIN)/python tools/lock.py

# Offline: each lock was resolved from today's pyproject.toml and pins what it asks for.
lock-check: $(VENV)/.test-installed
	$(BIN)/python tools/lock.py --check

# The newest versions pyproject.toml allows (torch stays on constraints.txt's pin), in a venv
# of its own, then the whole suite: drift found on purpose, not by a newcomer. Not in CI.
test-latest: system-test
	rm -rf .venv-latest && $(PYTHON) -m venv .venv-latest
	.venv-latest/bin/python -m pip install --disable-pip-version-check -q -U pip
	.venv-latest/bin/python -m pip install --disable-pip-version-check -q -U \
	  --upgrade-strategy eager -c constraints.txt -e '.[test]'
	.venv-latest/bin/python -m pip list --format freeze > .venv-latest/installed.txt
	@echo "newest allowed versions: .venv-latest/installed.txt"
	.venv-latest/bin/ruff check src tests examples benchmarks tools
	.venv-latest/bin/mypy
	.venv-latest/bin/pytest -q

# The demo works on a copy of each example (the committed example keeps its plaintext [P]):
# a verifier key outside the project, [P] sealed, stage 3-4 as the development team and
# stages 3 and 5 as the verifier, stage 6 (the operational scenarios through the example's
# harness, and the hazard-rate chains), the runtime monitor's field log (a fictitious sample)
# as operational evidence, the people's sign-offs, then the safety case, its report and the
# gate, and the assessor's bundle, verified with the project moved away.
# `amlas run` exits 1 on a failed verdict and `amlas gate` 1 on a shut gate: results, not a
# broken demo; 2 and 3 (usage, internal errors) stop it.
RUNOK  = status=$$?; [ $$status -le 1 ] || exit $$status

# $(call signoff,NAME): the people of examples/NAME get keys (outside the project; their
# public halves declared in the copy's amlas.yaml) and sign the case as built: the
# independent verifier approves with conditions, the safety assessor rejects (the top claim
# is not supported in any example). Signed before the case and report, which show them.
define signoff
	$(BIN)/amlas keygen --signing out/$(1)/keys/assessor.pem --person ASSESSOR-1 --project out/$(1)/project
	$(BIN)/amlas keygen --signing out/$(1)/keys/verifier.pem --person VERIFIER-1 --project out/$(1)/project
	$(BIN)/amlas sign out/$(1)/project --key-file out/$(1)/keys/verifier.pem --decision approve-with-conditions \
	  --comment "The verification evidence stands as recorded; the inconclusive claims stay open until more verification data exists."
	$(BIN)/amlas sign out/$(1)/project --key-file out/$(1)/keys/assessor.pem --decision reject \
	  --comment "Not acceptable yet: the top claim is not supported (see the claims the gate lists)."
endef

# $(call bundle,NAME): the assessor's bundle, signed by the assessor, verified with the
# project moved away (nothing but the archive is read)
define bundle
	$(BIN)/amlas bundle out/$(1)/project -o out/$(1)/bundle.zip --key-file out/$(1)/keys/assessor.pem
	mv out/$(1)/project out/$(1)/.project-moved-away && \
	  $(BIN)/amlas verify-bundle out/$(1)/bundle.zip > out/$(1)/bundle-verdict.txt; status=$$?; \
	  mv out/$(1)/.project-moved-away out/$(1)/project; cat out/$(1)/bundle-verdict.txt; [ $$status -eq 0 ] || exit $$status
endef
EXAMPLES := breast-cancer-triage chess-robot-grasp pedestrian-aeb
SYSTEMS  := sepsis-warning

# $(call demo_example,NAME): the whole AMLAS job on examples/NAME into out/NAME
define demo_example
	@rm -rf out/$(1) && mkdir -p out/$(1)
	$(BIN)/amlas check examples/$(1)
	$(BIN)/amlas check --format json examples/$(1) > out/$(1)/.check.json.tmp && mv out/$(1)/.check.json.tmp out/$(1)/check.json
	$(BIN)/amlas trace --format markdown examples/$(1) > out/$(1)/.trace.md.tmp && mv out/$(1)/.trace.md.tmp out/$(1)/trace.md
	$(BIN)/amlas trace --format json examples/$(1) > out/$(1)/.trace.json.tmp && mv out/$(1)/.trace.json.tmp out/$(1)/trace.json
	cp -r examples/$(1) out/$(1)/project && rm -rf out/$(1)/project/.amlas out/$(1)/project/evidence
	$(BIN)/amlas keygen out/$(1)/verifier.key
	$(BIN)/amlas seal out/$(1)/project --key-file out/$(1)/verifier.key
	$(BIN)/amlas check out/$(1)/project
	$(BIN)/amlas run out/$(1)/project --role developer; $(RUNOK)
	$(BIN)/amlas run out/$(1)/project --role verifier --key-file out/$(1)/verifier.key; $(RUNOK)
	$(BIN)/amlas run out/$(1)/project --role verifier --key-file out/$(1)/verifier.key --stage 5 --format json > out/$(1)/run-stage5.json; $(RUNOK)
	$(BIN)/amlas run out/$(1)/project --stage 6; $(RUNOK)
	if grep -q '^field_log:' out/$(1)/project/6-deployment/DD-*.yaml; then \
	  $(BIN)/amlas monitor ingest out/$(1)/project; $(RUNOK); fi
	for f in out/$(1)/project/imports/*.yaml; do [ -e "$$f" ] || continue; \
	  $(BIN)/amlas evidence import out/$(1)/project "$$f" --for "$$(sed -n 's/^for: *//p' "$$f")" \
	    --role verifier --key-file out/$(1)/verifier.key; $(RUNOK); done
	$(BIN)/amlas evidence out/$(1)/project --verify
	$(call signoff,$(1))
	$(BIN)/amlas check out/$(1)/project
	$(BIN)/amlas case out/$(1)/project --out out/$(1)/safety-case
	$(BIN)/amlas report out/$(1)/project -o out/$(1)/report.html
	@$(BIN)/amlas gate out/$(1)/project; $(RUNOK)
	$(call bundle,$(1))
endef

# $(call demo_system,NAME): the same job on the system project examples/NAME, whose ML
# components (components/*) share one verifier key; check, run, case, report and gate take
# the system directory, the rest runs per component.
define demo_system
	@rm -rf out/$(1) && mkdir -p out/$(1)
	$(BIN)/amlas check examples/$(1)
	$(BIN)/amlas check --format json examples/$(1) > out/$(1)/.check.json.tmp && mv out/$(1)/.check.json.tmp out/$(1)/check.json
	cp -r examples/$(1) out/$(1)/project && rm -rf out/$(1)/project/components/*/.amlas out/$(1)/project/components/*/evidence
	$(BIN)/amlas keygen out/$(1)/verifier.key
	for c in out/$(1)/project/components/*/; do \
	  $(BIN)/amlas seal $$c --key-file out/$(1)/verifier.key || exit $$?; \
	  $(BIN)/amlas trace --format markdown $$c > out/$(1)/trace-$$(basename $$c).md || exit $$?; done
	$(BIN)/amlas check out/$(1)/project
	$(BIN)/amlas run out/$(1)/project --role developer; $(RUNOK)
	$(BIN)/amlas run out/$(1)/project --role verifier --key-file out/$(1)/verifier.key; $(RUNOK)
	$(BIN)/amlas run out/$(1)/project --stage 6; $(RUNOK)
	for c in out/$(1)/project/components/*/; do \
	  if grep -q '^field_log:' $$c/6-deployment/DD-*.yaml; then \
	    $(BIN)/amlas monitor ingest $$c; status=$$?; [ $$status -le 1 ] || exit $$status; fi; \
	  for f in $$c/imports/*.yaml; do [ -e "$$f" ] || continue; \
	    $(BIN)/amlas evidence import $$c "$$f" --for "$$(sed -n 's/^for: *//p' "$$f")" \
	      --role verifier --key-file out/$(1)/verifier.key; status=$$?; [ $$status -le 1 ] || exit $$status; done; \
	  $(BIN)/amlas evidence $$c --verify || exit $$?; done
	$(call signoff,$(1))
	$(BIN)/amlas check out/$(1)/project
	$(BIN)/amlas case out/$(1)/project --out out/$(1)/safety-case
	$(BIN)/amlas report out/$(1)/project -o out/$(1)/report.html
	@$(BIN)/amlas gate out/$(1)/project; $(RUNOK)
	$(call bundle,$(1))
endef

demo: $(VENV)/.demo-installed system-demo
	$(call demo_example,breast-cancer-triage)
	$(call demo_example,chess-robot-grasp)
	$(call demo_example,pedestrian-aeb)
	$(call demo_system,sepsis-warning)
	@echo ""
	@echo "demo output, one folder per example:"
	@for name in $(EXAMPLES) $(SYSTEMS); do echo "  $(CURDIR)/out/$$name/"; done
	@echo "in each:"
	@echo "  check.json, trace.md, trace.json   project checks and traceability"
	@echo "  project/                           the example with [P] sealed (project/data/*.sealed)"
	@echo "  project/evidence/                  evidence records (objects/, refs.json, runs/)"
	@echo "  project/5-verification/P-access-log.jsonl   who unsealed and used [P]"
	@echo "  run-stage5.json                    the verifier's stage-5 summary"
	@echo "  report.html                        the safety case report (offline HTML: open it in a browser)"
	@echo "  safety-case/                       case.json, case.md, case.junit.xml, gsn/ (gsn2x YAML), svg/"
	@echo "  project/signoffs/                  the verifier's and the assessor's signed decisions (keys in keys/)"
	@echo "  bundle.zip, bundle-verdict.txt     the assessor's bundle and 'amlas verify-bundle' on it"
	@echo "in $(SYSTEMS) (a system with two ML components): project/components/*/ as project/ above,"
	@echo "  trace-<component>.md per component, and one case and report for the whole system"

test: $(VENV)/.test-installed system-test lock-check lint typecheck unit

lint: $(VENV)/.test-installed
	$(BIN)/ruff check src tests examples benchmarks tools
	$(BIN)/ruff format --check src tests examples benchmarks tools

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

unit: $(VENV)/.test-installed
	$(BIN)/pytest -q

# Regenerate the committed, generated files (tests fail when they drift).
schema: $(VENV)/.demo-installed
	$(BIN)/amlas schema --out schema
	for name in $(EXAMPLES); do $(BIN)/amlas schema --out examples/$$name/schema; done
	for name in $(SYSTEMS); do $(BIN)/amlas schema --out examples/$$name/schema && \
	  for c in examples/$$name/components/*/; do $(BIN)/amlas schema --out $$c/schema; done; done

docs: $(VENV)/.demo-installed
	$(BIN)/amlas diagnostics --markdown > docs/.diagnostics.md.tmp && mv docs/.diagnostics.md.tmp docs/diagnostics.md
	$(BIN)/amlas schema --markdown > docs/.artefacts.md.tmp && mv docs/.artefacts.md.tmp docs/artefacts.md

example: $(VENV)/.test-installed
	$(BIN)/python $(DEMO)/build.py
	$(BIN)/python examples/chess-robot-grasp/build.py
	$(BIN)/python examples/pedestrian-aeb/build.py
	$(BIN)/python examples/sepsis-warning/build.py

clean:
	rm -rf $(VENV) .venv-latest out .pytest_cache .mypy_cache .ruff_cache
