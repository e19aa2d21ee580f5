# Build/test entry points for the azure_ops.rollout collection (repository root = collection root).
# Every target sets up what it needs itself (idempotent; instant when already set up).
#
#   make venv          .venv         Python 3.11 + ansible-core 2.19.x  ("stable" line)
#   make venv-latest   .venv-latest  Python 3.12 + newest ansible-core  ("latest" line)
#   make units         pytest tests/unit in both venvs (fails if no test ran)
#   make integration   pytest tests/integration in both venvs (skipped while it has no test_*.py)
#   make sanity        ansible-test sanity on both lines (hack/ansible-test.sh, offline get-pip)
#                      (make sanity-stable / sanity-latest: one line; SANITY_ARGS="--test pylint")
#   make lint          ansible-lint --profile production on roles/ and playbooks/
#   make ee            ansible-builder create -> build/ee (execution-environment build context)
#   make test          all of the above
#
# pytest configuration lives in tests/pytest.ini (so pytest's rootdir is tests/) and
# tests/conftest.py (puts the repo root and tests/output/collections on sys.path, so both
# `import tests.emulator...` and `import ansible_collections.azure_ops.rollout...` work).
# Run pytest from the repo root with explicit paths, as below: `.venv/bin/python -m pytest tests/unit`.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := test

VENV          := .venv
VENV_LATEST   := .venv-latest
PY_STABLE     := 3.11
PY_LATEST     := 3.12
CORE_STABLE   := ansible-core>=2.19,<2.20
CORE_LATEST   := ansible-core
VENVS         := $(VENV) $(VENV_LATEST)
# ansible-lint works with ansible-core 2.19 and newer; run it on the stable line.
LINT_VENV     ?= $(VENV)
PYTEST_XDIST  ?= -n 2
PYTEST_ARGS   ?= -q -p no:cacheprovider
# Extra arguments for ansible-test sanity, e.g. make sanity SANITY_ARGS="--test pylint"
SANITY_ARGS   ?=

.PHONY: venv venv-latest venvs units integration sanity sanity-stable sanity-latest lint ee test clean bench soak reliability

venv:
	@hack/venv.sh $(VENV) $(PY_STABLE) '$(CORE_STABLE)'

venv-latest:
	@hack/venv.sh $(VENV_LATEST) $(PY_LATEST) '$(CORE_LATEST)'

venvs: venv venv-latest

units: venvs
	@if [ -z "$$(find tests/unit -name 'test_*.py' 2>/dev/null | head -1)" ]; then \
	  echo "units: FAIL: no test_*.py under tests/unit" >&2; exit 1; fi
	@rc=0; for v in $(VENVS); do \
	  echo "== units ($$v: $$($$v/bin/python -c 'import ansible,sys; print("ansible-core", ansible.__version__, "Python", sys.version.split()[0])'))"; \
	  $$v/bin/python -m pytest $(PYTEST_ARGS) $(PYTEST_XDIST) tests/unit || rc=1; \
	done; [ $$rc -eq 0 ] || { echo "units: FAILED on at least one line (see above)" >&2; exit 1; }

integration: venvs
	@if [ -z "$$(find tests/integration -name 'test_*.py' 2>/dev/null | head -1)" ]; then \
	  echo "integration: no test_*.py under tests/integration yet, nothing to run"; exit 0; fi; \
	rc=0; for v in $(VENVS); do \
	  echo "== integration ($$v: $$($$v/bin/python -c 'import ansible,sys; print("ansible-core", ansible.__version__, "Python", sys.version.split()[0])'))"; \
	  $$v/bin/python -m pytest $(PYTEST_ARGS) $(PYTEST_XDIST) tests/integration || rc=1; \
	done; [ $$rc -eq 0 ] || { echo "integration: FAILED on at least one line (see above)" >&2; exit 1; }

# Both lines always run; the target fails afterwards if either failed.
sanity: venvs
	@rc=0; \
	hack/ansible-test.sh $(VENV) sanity $(SANITY_ARGS) || rc=1; \
	hack/ansible-test.sh $(VENV_LATEST) sanity $(SANITY_ARGS) || rc=1; \
	[ $$rc -eq 0 ] || { echo "sanity: FAILED on at least one line (see above)" >&2; exit 1; }

sanity-stable: venv
	@hack/ansible-test.sh $(VENV) sanity $(SANITY_ARGS)

sanity-latest: venv-latest
	@hack/ansible-test.sh $(VENV_LATEST) sanity $(SANITY_ARGS)

lint: venvs
	@hack/lint.sh $(LINT_VENV)

ee: venv
	@hack/ee.sh $(VENV)

# Reliability (tests/reliability): security and bad-input tests on both lines; the fault soak (short form:
# 100 scale sets, ~2-3 min) on the stable line only, it exercises the playbook, not the Python line.
reliability: venvs
	@for v in $(VENVS); do \
	  echo "== reliability: security + bad input ($$v)"; \
	  $$v/bin/python -m pytest $(PYTEST_ARGS) $(PYTEST_XDIST) -m "not soak" tests/reliability; \
	done
	@echo "== reliability: soak, short form ($(VENV))"
	@$(VENV)/bin/python -m pytest $(PYTEST_ARGS) -m soak tests/reliability

# Long soak, by hand: SOAK_SCALE_SETS / SOAK_FAULT_SCALE / SOAK_RUN_BOUND size it.
soak: venv
	@SOAK_SCALE_SETS=$${SOAK_SCALE_SETS:-300} SOAK_FAULT_SCALE=$${SOAK_FAULT_SCALE:-2} SOAK_RUN_BOUND=$${SOAK_RUN_BOUND:-2400} \
	  $(VENV)/bin/python -m pytest $(PYTEST_ARGS) -s -m soak tests/reliability

# Benchmarks (not part of `make test`): builds build/bench/azure-venv once, prints tables,
# writes tests/output/bench/results.md. BENCH_ARGS="--quick" for a smoke run.
BENCH_ARGS ?=
bench: venv
	@hack/bench.sh $(BENCH_ARGS)

test: units integration sanity lint ee reliability

clean:
	rm -rf build tests/output .pytest_cache

# End-to-end demo against the emulator (hack/demo.sh): exits 0 when the expected outcome happened
# (the faulting ring1 scale set stops the rollout, ring2 never starts, report written to build/demo/).
.PHONY: demo
demo: venv
	@hack/demo.sh
