#!/usr/bin/env bash
# Usage: hack/lint.sh VENV  -> ansible-lint (production profile, offline) over the whole repository:
# roles, playbooks, the tests' playbooks, meta/ and galaxy.yml (.ansible-lint excludes what is not Ansible content).
set -euo pipefail
venv_arg="${1:?usage: lint.sh VENV}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(cd "$venv_arg" && pwd)"
# Offline and self-contained: no version check, no Galaxy, the collection found through hack/collection-path.sh.
export ANSIBLE_LINT_SKIP_VERSION_CHECK=1 ANSIBLE_NOCOLOR=1 NO_COLOR=1
ANSIBLE_COLLECTIONS_PATH="$(hack/collection-path.sh)"
export ANSIBLE_COLLECTIONS_PATH
export PATH="$venv/bin:$PATH"
echo "== ansible-lint ($("$venv/bin/ansible-lint" --version 2>/dev/null | head -1)) on the repository"
exec "$venv/bin/ansible-lint" --offline --profile production --nocolor
