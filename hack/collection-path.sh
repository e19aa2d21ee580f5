#!/usr/bin/env bash
# Usage: hack/collection-path.sh  -> prints the directory to put on ANSIBLE_COLLECTIONS_PATH.
# This checkout is the collection root; Ansible finds it as azure_ops.rollout through the symlink
# tests/output/collections/ansible_collections/azure_ops/rollout -> the checkout (made here if missing;
# tests/conftest.py makes the same one for pytest). Used by make emulator, make demo and make lint.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
collections="$root/tests/output/collections"
link="$collections/ansible_collections/azure_ops/rollout"
mkdir -p "$(dirname "$link")"
if [ "$(cd "$link" 2>/dev/null && pwd -P)" != "$(cd "$root" && pwd -P)" ]; then
  ln -sfn ../../../../.. "$link"
fi
echo "$collections"
