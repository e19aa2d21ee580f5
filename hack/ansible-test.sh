#!/usr/bin/env bash
# Usage: hack/ansible-test.sh VENV [ansible-test args...]   (default args: sanity)
#
# ansible-test refuses symlinked collection dirs and wants a git work tree, so this copies
# the checkout's files (tracked + untracked-but-not-ignored: `git ls-files -co
# --exclude-standard`) into build/ansible-test/<venv>/ansible_collections/azure_ops/rollout/,
# commits them in a throwaway git repo there, puts the offline get-pip stand-in in place
# (../shared/tools/prepare-ansible-test) and runs the venv's ansible-test with
# `--python X.Y` (the venv's interpreter, no containers). Results are copied back to
# tests/output/ansible-test-<venv>/.
set -euo pipefail
venv_arg="${1:?usage: ansible-test.sh VENV [ansible-test args...]}"; shift
[ $# -gt 0 ] || set -- sanity
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$(cd "$root" && cd "$venv_arg" && pwd)"
py="$venv/bin/python"
[ -x "$py" ] || { echo "ansible-test.sh: $venv_arg is not a virtualenv (run make venv)" >&2; exit 1; }
pyver="$("$py" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
name="$(basename "$venv")"
dest="$root/build/ansible-test/$name/ansible_collections/azure_ops/rollout"

prep=""
for p in "$root/../shared/tools/prepare-ansible-test" /work/shared/tools/prepare-ansible-test; do
  [ -x "$p" ] || [ -f "$p" ] && { prep="$p"; break; }
done
[ -n "$prep" ] || { echo "ansible-test.sh: ../shared/tools/prepare-ansible-test not found" >&2; exit 1; }

# Fresh copy of the collection.
rm -rf "$dest"; mkdir -p "$dest"
(
  cd "$root"
  git ls-files -z -co --exclude-standard | while IFS= read -r -d '' f; do
    # skip files deleted in the work tree but still tracked
    [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
  done | tar --null -T - -cf - | tar -xf - -C "$dest"
)
# Optional overlay (for trying the machinery, e.g. a throwaway plugin that must not
# live in the repository): ROLLOUT_ANSIBLE_TEST_OVERLAY=/some/dir is copied over the copy.
if [ -n "${ROLLOUT_ANSIBLE_TEST_OVERLAY:-}" ]; then
  cp -a "$ROLLOUT_ANSIBLE_TEST_OVERLAY"/. "$dest"/
fi
(
  cd "$dest"
  git init -q
  git add -A
  git -c user.name=ansible-test -c user.email=ansible-test@localhost -c commit.gpgsign=false \
      commit -q --allow-empty -m "snapshot for ansible-test"
)

bash "$prep" "$py"

# The shellcheck sanity test is silently skipped ("Required program not found") without
# the binary; install it (Debian package) rather than losing the test.
if [ "${1:-}" = sanity ] && ! command -v shellcheck >/dev/null 2>&1; then
  "$root/hack/apt-install.sh" shellcheck shellcheck || {
    echo "ansible-test.sh: shellcheck is required for the shellcheck sanity test" >&2; exit 1; }
fi

cd "$dest"
export PATH="$venv/bin:$PATH"   # ansible-test looks up pythonX.Y on PATH; the venv has it
export ANSIBLE_NOCOLOR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
cmd="$1"; shift
echo "== ansible-test $cmd ($name: $("$py" -c 'import ansible; print("ansible-core", ansible.__version__)'), Python $pyver) in $dest"
rc=0
"$venv/bin/ansible-test" "$cmd" --python "$pyver" --color no -v "$@" || rc=$?
# Keep results where people look for them.
if [ -d tests/output ]; then
  mkdir -p "$root/tests/output"
  rm -rf "$root/tests/output/ansible-test-$name"
  cp -a tests/output "$root/tests/output/ansible-test-$name"
fi
exit "$rc"
