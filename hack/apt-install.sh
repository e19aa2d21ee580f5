#!/usr/bin/env bash
# Usage: hack/apt-install.sh CHECK_COMMAND PACKAGE...
# Installs Debian PACKAGEs unless CHECK_COMMAND is already available. Exits 0 if it ends up
# available, 1 otherwise (with a clear message). Runs `apt-get update` once per invocation,
# only when something has to be installed.
set -euo pipefail
check="${1:?usage: apt-install.sh CHECK_COMMAND PACKAGE...}"; shift
have() { command -v "$check" >/dev/null 2>&1 || [ -x "$check" ]; }
have && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-install: apt-get not available; please install: $*" >&2; exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo=(sudo -n); else
    echo "apt-install: not root and no sudo; please install: $*" >&2; exit 1; fi
fi
export DEBIAN_FRONTEND=noninteractive
echo "apt-install: installing $*"
if "${sudo[@]}" apt-get update -qq && "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null; then
  have && exit 0
fi
echo "apt-install: could not install $* (apt-get failed or $check still missing)" >&2
exit 1
