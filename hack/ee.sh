#!/usr/bin/env bash
# Usage: hack/ee.sh VENV
# Builds the collection tarball and an execution-environment build context in build/ee
# (ansible-builder create: no container engine needed), then checks the context.
set -euo pipefail
venv_arg="${1:?usage: ee.sh VENV}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$(cd "$venv_arg" && pwd)"
export ANSIBLE_NOCOLOR=1
rm -rf build/ee build/ee-def build/collection
mkdir -p build/ee-def build/collection

# 1. The collection artifact (validates galaxy.yml; build_ignore keeps tests/output etc. out).
"$venv/bin/ansible-galaxy" collection build --force --output-path build/collection . >/dev/null
tarball="$(ls build/collection/azure_ops-rollout-*.tar.gz)"
echo "ee: built $tarball"

# 2. An EE definition that installs that artifact plus the collection's own EE metadata
#    (meta/execution-environment.yml: python -> requirements.txt, system -> bindep.txt).
cp requirements.txt build/ee-def/requirements.txt
cp bindep.txt build/ee-def/bindep.txt
cp "$tarball" build/ee-def/
cat > build/ee-def/execution-environment.yml <<YAML
---
version: 3
images:
  base_image:
    name: quay.io/fedora/fedora:latest
dependencies:
  python_interpreter:
    package_system: python3
    python_path: /usr/bin/python3
  ansible_core:
    package_pip: ansible-core>=2.16
  ansible_runner:
    package_pip: ansible-runner
  python: requirements.txt
  system: bindep.txt
additional_build_files:
  - src: $(basename "$tarball")
    dest: collections
additional_build_steps:
  append_final:
    - COPY _build/collections/$(basename "$tarball") /tmp/
    - RUN ansible-galaxy collection install /tmp/$(basename "$tarball") -p /usr/share/ansible/collections && rm /tmp/$(basename "$tarball")
YAML
"$venv/bin/ansible-builder" create -f build/ee-def/execution-environment.yml -c build/ee --output-filename Containerfile -v 1

# 3. Check the context.
for f in build/ee/Containerfile build/ee/_build/requirements.txt build/ee/_build/bindep.txt \
         "build/ee/_build/collections/$(basename "$tarball")"; do
  [ -s "$f" ] || { echo "ee: FAIL: $f missing or empty" >&2; exit 1; }
done
grep -q azure-identity build/ee/_build/requirements.txt || { echo "ee: FAIL: requirements not in context" >&2; exit 1; }
grep -q "ansible-galaxy collection install /tmp/$(basename "$tarball")" build/ee/Containerfile \
  || { echo "ee: FAIL: collection install step missing from Containerfile" >&2; exit 1; }
echo "ee: OK: build context in build/ee ($(find build/ee -type f | wc -l) files)"
