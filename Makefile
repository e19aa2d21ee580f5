# Build/test entry points for the azure_ops.rollout collection (repository root = collection root).
# Every target sets up what it needs itself (idempotent; instant when already set up).
#
#   make venv          .venv         Python 3.11 + ansible-core 2.19.x  ("stable" line)
#   make venv-latest   .venv-latest  Python 3.12 + newest ansible-core  ("latest" line)
#   make venv-oldest   .venv-2.16    Python 3.12 + ansible-core 2.16.x  ("oldest" line: meta/runtime.yml's
#                                    requires_ansible floor, tests/unit/test_versions.py keeps them equal)
#   make units         pytest tests/unit on every line
#   make integration   pytest tests/integration on every line (test_installed.py: the built and installed tarball)
#   make sanity        ansible-test sanity on every line (hack/ansible-test.sh, offline get-pip)
#                      (make sanity-stable / sanity-latest / sanity-oldest: one line; SANITY_ARGS="--test pylint")
#   make lint          ansible-lint --profile production over the repository (tests' playbooks included)
#   make ee            ansible-builder create -> build/ee (execution-environment build context)
#   make reliability   security, bad input and unreachable endpoints on every line, then the short soak
#   make docs          the HTML docs site (hack/docs.sh, antsibull-docs + Sphinx in .venv-docs) -> build/docs/html
#   make docs-lint     antsibull-docs lint-collection-docs (.venv-docs)
#   make changelog     antsibull-changelog release for galaxy.yml's version (CHANGELOG.rst)
#   make test          all of the above
#   make emulator      the local Azure emulator in the foreground (EMULATOR_SCENARIO, default demo); another
#                      shell runs `source build/emulator.env` to use it (README: "The local Azure emulator")
#
# Targets that run on every line run every line even when one fails, then fail if any did.
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
VENV_OLDEST   := .venv-2.16
PY_OLDEST     := 3.12
CORE_OLDEST   := ansible-core>=2.16,<2.17
VENVS         := $(VENV) $(VENV_LATEST) $(VENV_OLDEST)
# ansible-lint works with ansible-core 2.19 and newer; run it on the stable line.
LINT_VENV     ?= $(VENV)
PYTEST_XDIST  ?= -n 2
# The unit tests: four workers on two cores, each taking the next test when free (worksteal). A quarter of the unit
# run's time is real time spent waiting (the event source's rounds against the emulator, faults that delay an
# answer), which two more workers overlap with the tests that compute.
UNIT_XDIST    ?= -n 4 --dist worksteal
PYTEST_ARGS   ?= -q -p no:cacheprovider
# Extra arguments for ansible-test sanity, e.g. make sanity SANITY_ARGS="--test pylint"
SANITY_ARGS   ?=

EMULATOR_SCENARIO ?= demo

.PHONY: venv venv-latest venv-oldest venvs units integration sanity sanity-stable sanity-latest sanity-oldest lint ee test clean bench soak reliability \
	emulator docs docs-lint changelog

# $(call each_line,NAME,COMMAND): COMMAND once per line ($$v is the line's venv), every line even when one fails;
# fails afterwards if any did. A subshell, so that a recipe can go on after it (make reliability).
define each_line
( rc=0; for v in $(VENVS); do \
  echo "== $(1) ($$v: $$($$v/bin/python -c 'import ansible; import sys; print("ansible-core " + ansible.__version__ + " Python " + sys.version.split()[0])'))"; \
  $(2) || rc=1; \
done; [ $$rc -eq 0 ] || { echo "$(1): FAILED on at least one line (see above)" >&2; exit 1; } )
endef

venv:
	@hack/venv.sh $(VENV) $(PY_STABLE) '$(CORE_STABLE)'

venv-latest:
	@hack/venv.sh $(VENV_LATEST) $(PY_LATEST) '$(CORE_LATEST)'

venv-oldest:
	@hack/venv.sh $(VENV_OLDEST) $(PY_OLDEST) '$(CORE_OLDEST)'

venvs: venv venv-latest venv-oldest

units: venvs
	@$(call each_line,units,$$v/bin/python -m pytest $(PYTEST_ARGS) $(UNIT_XDIST) tests/unit)

integration: venvs
	@$(call each_line,integration,$$v/bin/python -m pytest $(PYTEST_ARGS) $(PYTEST_XDIST) tests/integration)

sanity: venvs
	@$(call each_line,sanity,hack/ansible-test.sh $$v sanity $(SANITY_ARGS))

sanity-stable: venv
	@hack/ansible-test.sh $(VENV) sanity $(SANITY_ARGS)

sanity-latest: venv-latest
	@hack/ansible-test.sh $(VENV_LATEST) sanity $(SANITY_ARGS)

sanity-oldest: venv-oldest
	@hack/ansible-test.sh $(VENV_OLDEST) sanity $(SANITY_ARGS)

lint: venvs
	@hack/lint.sh $(LINT_VENV)

ee: venv
	@hack/ee.sh $(VENV)

# Reliability (tests/reliability): security, bad input and unreachable endpoints on every line; the fault soak
# (short form: 100 scale sets, ~2-3 min) on the stable line only, it exercises the playbook, not the Python line.
# The soak runs even when a line failed; the target fails afterwards if anything did.
reliability: venvs
	@rc=0; \
	$(call each_line,reliability,$$v/bin/python -m pytest $(PYTEST_ARGS) $(PYTEST_XDIST) -m "not soak" tests/reliability) || rc=1; \
	echo "== reliability: soak, short form ($(VENV))"; \
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS) -m soak tests/reliability || rc=1; \
	exit $$rc

# Long soak, by hand: SOAK_SCALE_SETS / SOAK_FAULT_SCALE / SOAK_RUN_BOUND size it.
soak: venv
	@SOAK_SCALE_SETS=$${SOAK_SCALE_SETS:-300} SOAK_FAULT_SCALE=$${SOAK_FAULT_SCALE:-2} SOAK_RUN_BOUND=$${SOAK_RUN_BOUND:-2400} \
	  $(VENV)/bin/python -m pytest $(PYTEST_ARGS) -s -m soak tests/reliability

# Benchmarks (not part of `make test`): builds build/bench/azure-venv once, prints tables,
# writes tests/output/bench/results.md. BENCH_ARGS="--quick" for a smoke run.
BENCH_ARGS ?=
bench: venv
	@hack/bench.sh $(BENCH_ARGS)

# The docs site (hack/docs.sh): its own venv, .venv-docs (antsibull-docs, Sphinx), never the test venvs.
docs:
	@hack/docs.sh build

docs-lint:
	@hack/docs.sh lint

# Release: fold the changelog fragments into the release of galaxy.yml's version (CHANGELOG.rst, changelogs/
# changelog.yaml; fragments are kept, so a release not yet published can be made again from scratch: empty
# changelog.yaml's releases of that version first, or new plugins are not listed - tests/unit/test_versions.py).
changelog: venv
	@PATH="$(CURDIR)/$(VENV)/bin:$$PATH" ANSIBLE_COLLECTIONS_PATH="$$(hack/collection-path.sh)" \
	  ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false $(VENV)/bin/antsibull-changelog release

test: units integration sanity lint docs-lint docs ee reliability

clean:
	rm -rf build tests/output .pytest_cache

# End-to-end demo against the emulator (hack/demo.sh): exits 0 when the expected outcome happened
# (the faulting ring1 scale set stops the rollout, ring2 never starts, report written to build/demo/).
.PHONY: demo
demo: venv
	@hack/demo.sh

# The emulator by hand (hack/emulator.sh): serves until Ctrl-C; writes build/emulator.env for `source` in another
# shell (endpoints, CA, credentials, and ANSIBLE_COLLECTIONS_PATH with this checkout as azure_ops.rollout).
# hack/emulator.sh makes .venv only when it is missing, so a running setup is never reinstalled under it.
emulator:
	@hack/emulator.sh $(EMULATOR_SCENARIO) build/emulator.env
