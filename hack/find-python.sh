#!/usr/bin/env bash
# Usage: hack/find-python.sh X.Y  -> prints the path of a working pythonX.Y interpreter.
# pyenv shims for non-selected versions exist on PATH but fail when run, so every
# candidate is actually executed and its version checked.
set -euo pipefail
want="${1:?usage: find-python.sh X.Y}"
candidates=()
c="$(command -v "python$want" 2>/dev/null || true)"; [ -n "$c" ] && candidates+=("$c")
for p in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$want".*/bin/"python$want" \
         /usr/local/bin/"python$want" /usr/bin/"python$want"; do
  [ -x "$p" ] && candidates+=("$p")
done
c="$(command -v python3 2>/dev/null || true)"; [ -n "$c" ] && candidates+=("$c")
for p in "${candidates[@]}"; do
  v="$("$p" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
  if [ "$v" = "$want" ]; then
    "$p" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
echo "find-python: no working python$want found (tried: ${candidates[*]:-nothing})" >&2
exit 1
