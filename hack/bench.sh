#!/usr/bin/env bash
# Usage: hack/bench.sh [bench.py arguments]      (what `make bench` runs)
# Builds what the benchmarks need, then runs tests/benchmarks/bench.py with .venv's Python:
#   * .venv (make venv) for the collection, the emulator and ansible-playbook;
#   * build/bench/azure-venv: Python 3.11 + ansible-core 2.19 + azure.azcollection's Python requirements
#     (azure-identity, azure-mgmt-compute, azure-cli-core, ...) for the azure_rm_resource_info and SDK-poller
#     comparisons; never .venv, so the project's own environment stays free of the Azure SDK;
#   * build/bench/collections/ansible_collections/azure/azcollection: extracted from the PyPI `ansible` wheel
#     (which bundles collections; there is no Galaxy server here).
# Everything is cached under build/bench (keyed on this script); BENCH_SKIP_AZURE=1 skips the comparisons'
# environment (the benchmark then reports why they were not measured).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
ANSIBLE_WHEEL_SPEC="${ANSIBLE_WHEEL_SPEC:-ansible>=12,<13}"   # ansible 12.x = ansible-core 2.19 + azure.azcollection 3.x
build=build/bench
venv=$build/azure-venv
coll=$build/collections/ansible_collections/azure/azcollection
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }

make --no-print-directory venv >/dev/null

if [ "${BENCH_SKIP_AZURE:-0}" != 1 ]; then
  key="$( { echo "$ANSIBLE_WHEEL_SPEC"; cat hack/bench.sh; } | sha256sum | cut -d' ' -f1)"
  stamp=$build/.azure-stamp
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$key" ] || [ ! -x "$venv/bin/python" ] || [ ! -d "$coll" ]; then
    echo "bench: building $venv and $coll (one time, a few minutes)"
    mkdir -p "$build/wheel"
    rm -f "$build"/wheel/ansible-*.whl
    quiet .venv/bin/python -m pip download -q --no-deps "$ANSIBLE_WHEEL_SPEC" -d "$build/wheel"
    wheel="$(find "$build/wheel" -name 'ansible-*.whl' | head -1)"
    rm -rf "$build/collections"
    mkdir -p "$build/collections"
    .venv/bin/python - "$wheel" "$build/collections" <<'PY'
import sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith("ansible_collections/azure/azcollection/")])
PY
    if [ ! -x "$venv/bin/python" ]; then
      py="$(hack/find-python.sh 3.11)"
      "$py" -m venv "$venv"
    fi
    quiet "$venv/bin/python" -m pip install -q --upgrade pip
    if ! quiet "$venv/bin/python" -m pip install -q 'ansible-core>=2.19,<2.20' -r "$coll/requirements.txt"; then
      echo "bench: WARNING: installing azure.azcollection's requirements failed; the comparisons will be skipped" >&2
    else
      echo "$key" > "$stamp"
    fi
  fi
fi
exec .venv/bin/python tests/benchmarks/bench.py "$@"
