#!/usr/bin/env bash
# Usage: hack/venv.sh VENV_DIR PYTHON_X.Y 'ANSIBLE_CORE_SPEC'
# Creates/updates a virtualenv with ansible-core (per spec) + requirements.txt +
# test-requirements.txt. A stamp keyed on the interpreter version, the spec and the
# requirement files' contents makes re-runs instant.
set -euo pipefail
venv="${1:?venv dir}"; pyver="${2:?python X.Y}"; core_spec="${3:?ansible-core spec}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
key="$( { echo "python=$pyver"; echo "core=$core_spec"; cat requirements.txt test-requirements.txt hack/venv.sh; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.rollout-stamp"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] && [ -x "$venv/bin/python" ]; then
  echo "venv: $venv is up to date ($("$venv/bin/python" -c 'import ansible; print("ansible-core", ansible.__version__)'))"
  exit 0
fi
if [ -x "$venv/bin/python" ] && [ "$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" != "$pyver" ]; then
  echo "venv: $venv has the wrong Python, recreating"; rm -rf "$venv"
fi
if [ ! -x "$venv/bin/python" ]; then
  py="$("$root/hack/find-python.sh" "$pyver")"
  echo "venv: creating $venv with $py"
  "$py" -m venv "$venv"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
# Hide this machine's pip.conf noise about missing local find-links/extra-index dirs.
quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
quiet "$venv/bin/python" -m pip install -q --upgrade pip
# One resolver run so nothing in test-requirements (ansible-lint, ansible-builder...) can
# move ansible-core off the line's pin; --upgrade so a changed stamp also picks up the
# newest ansible-core allowed by the spec (the "latest" line).
quiet "$venv/bin/python" -m pip install -q --upgrade "$core_spec" -r requirements.txt -r test-requirements.txt
quiet "$venv/bin/python" -m pip check
echo "$key" > "$stamp"
echo "venv: $venv ready ($("$venv/bin/python" -c 'import ansible, sys; print("ansible-core", ansible.__version__, "on Python", sys.version.split()[0])'))"
