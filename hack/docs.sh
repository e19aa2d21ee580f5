#!/usr/bin/env bash
# Usage: hack/docs.sh build|lint   (make docs / make docs-lint)
#
# The collection's docs site, built with antsibull-docs and Sphinx in their own virtualenv, .venv-docs (Python 3.12,
# docs/docsite/requirements.txt; a stamp makes re-runs instant), so the test venvs never carry the docs toolchain.
#
#   lint   antsibull-docs lint-collection-docs --plugin-docs: every module, plugin and role page generates, every
#          reference (M(), P(), O(), RV() ...) resolves, docs/docsite/*.yml are valid.
#   build  build/docs/html/index.html: the module, plugin and role pages, the changelog (changelogs/changelog.yaml)
#          and the environment variables from antsibull-docs; the event source pages (hack/docs_event_sources.py:
#          antsibull-docs does not document event sources); the operator guide and the other docs/*.md pages
#          (MyST). Sphinx runs with -W: a broken reference within the collection fails the build. Offline.
set -euo pipefail
mode="${1:?usage: docs.sh build|lint}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv-docs"
pyver=3.12
req=docs/docsite/requirements.txt

key="$( { echo "python=$pyver"; cat "$req" hack/docs.sh; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.rollout-stamp"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$key" ] || [ ! -x "$venv/bin/python" ]; then
  rm -rf "$venv"
  py="$("$root/hack/find-python.sh" "$pyver")"
  echo "docs: creating $venv with $py"
  "$py" -m venv "$venv"
  export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
  quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
  quiet "$venv/bin/python" -m pip install -q --upgrade pip
  quiet "$venv/bin/python" -m pip install -q -r "$req"
  quiet "$venv/bin/python" -m pip check
  echo "$key" > "$stamp"
fi

# antsibull-docs runs ansible-doc and ansible from PATH; the collection is this checkout (hack/collection-path.sh).
export PATH="$venv/bin:$PATH" ANSIBLE_NOCOLOR=1 ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=false
ANSIBLE_COLLECTIONS_PATH="$(hack/collection-path.sh)"
export ANSIBLE_COLLECTIONS_PATH

case "$mode" in
  lint)
    echo "== antsibull-docs lint-collection-docs ($(antsibull-docs --version))"
    exec antsibull-docs lint-collection-docs --plugin-docs .
    ;;
  build) ;;
  *) echo "usage: docs.sh build|lint" >&2; exit 2 ;;
esac

site="$root/build/docs"
rm -rf "$site"
mkdir -p "$root/build"
mkdir -m 700 "$site"   # antsibull-docs writes only into a directory that only its owner can write
version="$(python -c 'import sys, yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')"
antsibull-docs sphinx-init --use-current --squash-hierarchy --dest-dir "$site" --project azure_ops.rollout \
  --title "azure_ops.rollout $version" --copyright "azure_ops.rollout contributors" azure_ops.rollout >/dev/null
cat docs/docsite/sphinx-conf.py >> "$site/conf.py"
cd "$site"
chmod 700 rst   # (sphinx-init made it) antsibull-docs wants it writable by its owner only
antsibull-docs --config-file antsibull-docs.cfg collection --use-current --squash-hierarchy --fail-on-error \
  --cleanup everything --dest-dir rst azure_ops.rollout

# Event sources, then the guides (docs/*.md), linked from the collection's index page.
mapfile -t sources < <(python "$root/hack/docs_event_sources.py" "$root" rst)
mkdir rst/guide
guides=()
for md in "$root"/docs/*.md; do
  cp "$md" rst/guide/
  guides+=("guide/$(basename "$md" .md)")
done
{
  printf '\n.. _event_source_plugins_in_azure_ops.rollout:\n\nEvent Sources\n-------------\n\n'
  printf '.. toctree::\n    :maxdepth: 1\n\n'
  printf '    %s\n' "${sources[@]}"
  printf '\n.. _guides_in_azure_ops.rollout:\n\nGuides\n------\n\n'
  printf '.. toctree::\n    :maxdepth: 1\n\n'
  printf '    %s\n' "${guides[@]}"
} >> rst/index.rst

sphinx-build -q -b html rst html -c . -W --keep-going
echo "docs: $site/html/index.html (${#sources[@]} event source page(s), ${#guides[@]} guide(s))"
