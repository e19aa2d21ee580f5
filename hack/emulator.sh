#!/usr/bin/env bash
# Usage: hack/emulator.sh [SCENARIO [ENV_FILE]]   (or: make emulator [EMULATOR_SCENARIO=default])
#
# Runs the local Azure emulator in the foreground until Ctrl-C (or SIGTERM). When it is ready it prints one
# JSON line and ENV_FILE (default build/emulator.env) holds what another shell needs, to `source`: the
# emulator's endpoints, CA and credentials, ANSIBLE_COLLECTIONS_PATH with this checkout as azure_ops.rollout, and
# PATH with the venv's bin directory first (ansible-rulebook runs ansible-galaxy and ansible-playbook from PATH, so
# .venv/bin/ansible-rulebook works without activating the venv).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scenario="${1:-demo}"
env_file="${2:-build/emulator.env}"
venv="${EMULATOR_VENV:-.venv}"
[ -x "$venv/bin/python" ] || make --no-print-directory venv
collections="$(hack/collection-path.sh)"
venv_bin="$(cd "$venv/bin" && pwd)"
mkdir -p "$(dirname "$env_file")"
rm -f "$env_file"
exec "$venv/bin/python" -m tests.emulator --scenario "$scenario" --env-file "$env_file" \
  --export ANSIBLE_COLLECTIONS_PATH="$collections" --export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false \
  --export PATH="$venv_bin:$PATH"
