# -*- coding: utf-8 -*-
"""One version everywhere: galaxy.yml's ``version`` is the collection's version.

* the client's User-Agent carries it (``_client.COLLECTION_VERSION``: modules run as AnsiballZ zips, which hold only
  the Python of ``module_utils``, so a module cannot read galaxy.yml or MANIFEST.json at run time; the constant is
  the one place the version is written in Python, and this test is its guard. The installed-collection test checks
  the header a module sends against the MANIFEST.json the build wrote);
* every plugin's ``version_added`` is a released version or the one being prepared, never later than galaxy.yml's,
  and a released one lists the plugin;
* the changelog has no release later than galaxy.yml's, and the fragments and changelog.yaml pass
  ``antsibull-changelog lint``;
* ``meta/runtime.yml``'s ``requires_ansible`` floor is the oldest ansible-core line ``make test`` runs.
"""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from ansible.module_utils.compat.version import LooseVersion

from ansible_collections.azure_ops.rollout.plugins.module_utils import _client

ROOT = Path(__file__).resolve().parents[2]
GALAXY_VERSION = yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]
PLUGIN_FILES = sorted(
    list((ROOT / "plugins" / "modules").glob("*.py")) + list((ROOT / "plugins" / "inventory").glob("*.py"))
    + list((ROOT / "extensions" / "eda" / "plugins" / "event_source").glob("*.py")))


def _v(text):
    return LooseVersion(str(text))


def _documentation(path):
    """The DOCUMENTATION block of a plugin file, parsed (without importing the plugin)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets):
            return yaml.safe_load(node.value.value)
    raise AssertionError("%s has no DOCUMENTATION" % path.relative_to(ROOT))


def _releases():
    changes = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text())
    return sorted((changes.get("releases") or {}).keys(), key=_v)


def test_the_user_agent_carries_galaxy_yml_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", GALAXY_VERSION), GALAXY_VERSION
    assert _client.COLLECTION_VERSION == GALAXY_VERSION
    assert _client.USER_AGENT == "azure_ops.rollout/" + GALAXY_VERSION


def test_every_plugin_was_added_in_a_released_version_or_this_one():
    allowed = set(_releases()) | {GALAXY_VERSION}
    seen = {}
    for path in PLUGIN_FILES:
        added = str(_documentation(path).get("version_added"))
        seen[path.name] = added
        assert added in allowed and _v(added) <= _v(GALAXY_VERSION), (
            "%s: version_added %s is neither galaxy.yml's %s nor a released version %s"
            % (path.relative_to(ROOT), added, GALAXY_VERSION, sorted(allowed)))
    assert len(seen) >= 10, seen   # modules, the inventory plugin and the event source were all read


def test_every_plugin_added_in_a_release_is_in_that_release_of_the_changelog():
    """A module or inventory plugin whose version_added is released is listed in that release (antsibull-changelog
    lists plugins when the release is made: one added later needs the release made again, or a later version)."""
    releases = yaml.safe_load((ROOT / "changelogs" / "changelog.yaml").read_text()).get("releases") or {}
    for kind, path in (("module", ROOT / "plugins" / "modules"), ("inventory", ROOT / "plugins" / "inventory")):
        for plugin in sorted(path.glob("*.py")):
            added = str(_documentation(plugin).get("version_added"))
            if added not in releases:
                continue
            listed = (releases[added].get("modules") if kind == "module"
                      else (releases[added].get("plugins") or {}).get("inventory")) or []
            assert plugin.stem in {entry["name"] for entry in listed}, (
                "%s %s says version_added %s but the %s release of changelogs/changelog.yaml does not list it"
                % (kind, plugin.stem, added, added))


def test_the_changelog_never_runs_ahead_of_galaxy_yml_and_lints():
    releases = _releases()
    assert all(_v(r) <= _v(GALAXY_VERSION) for r in releases), (releases, GALAXY_VERSION)
    if GALAXY_VERSION in releases:
        assert "v%s\n" % GALAXY_VERSION in (ROOT / "CHANGELOG.rst").read_text()
    tool = os.path.join(os.path.dirname(sys.executable), "antsibull-changelog")
    for args in (["lint"], ["lint-changelog-yaml", "changelogs/changelog.yaml"]):
        proc = subprocess.run([tool] + args, cwd=str(ROOT), capture_output=True, text=True, timeout=60, check=False)
        assert proc.returncode == 0 and not proc.stdout.strip(), (args, proc.stdout, proc.stderr)


def test_requires_ansible_is_the_oldest_line_make_test_runs():
    declared = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["requires_ansible"]
    floor = re.fullmatch(r">=\s*(\d+\.\d+)(\.0)?", declared.strip())
    assert floor, declared
    makefile = (ROOT / "Makefile").read_text()
    lines = re.findall(r"^CORE_\w+\s*:=\s*ansible-core>=(\d+\.\d+),<", makefile, flags=re.M)
    assert lines and min(lines, key=_v) == floor.group(1), (declared, lines)
    assert re.search(r"^VENVS\s*:=.*\$\(VENV_OLDEST\)", makefile, flags=re.M), "the oldest line is not in VENVS"
