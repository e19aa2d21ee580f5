#!/usr/bin/env bash
# Usage: hack/lint.sh VENV  -> ansible-lint (production profile, offline) on roles/ and playbooks/.
set -euo pipefail
venv_arg="${1:?usage: lint.sh VENV}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(cd "$venv_arg" && pwd)"
targets=()
for d in roles playbooks; do
  if [ -d "$d" ] && [ -n "$(find "$d" -type f \( -name '*.yml' -o -name '*.yaml' \) | head -1)" ]; then
    targets+=("$d")
  fi
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "lint: SKIPPED: no roles/ or playbooks/ with YAML files yet (nothing for ansible-lint to check)"
  exit 0
fi
# Offline and self-contained: no version check, no Galaxy, collection found via a symlink.
# (Same symlink as tests/conftest.py makes: tests/output/collections/.../rollout -> repo root.)
export ANSIBLE_LINT_SKIP_VERSION_CHECK=1 ANSIBLE_NOCOLOR=1 NO_COLOR=1
export ANSIBLE_COLLECTIONS_PATH="$root/tests/output/collections"
export PATH="$venv/bin:$PATH"
link="$ANSIBLE_COLLECTIONS_PATH/ansible_collections/azure_ops/rollout"
mkdir -p "$(dirname "$link")"
if [ "$(cd "$link" 2>/dev/null && pwd -P)" != "$(pwd -P)" ]; then
  ln -sfn ../../../../.. "$link"
fi
echo "== ansible-lint ($("$venv/bin/ansible-lint" --version 2>/dev/null | head -1)) on ${targets[*]}"
exec "$venv/bin/ansible-lint" --offline --profile production --nocolor "${targets[@]}"
