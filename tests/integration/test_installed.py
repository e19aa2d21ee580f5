# -*- coding: utf-8 -*-
"""The installed collection is what users run.

``ansible-galaxy collection build`` makes the tarball from this checkout, ``ansible-galaxy collection install``
puts it into a fresh collections path, and everything below runs from there only (``ANSIBLE_COLLECTIONS_PATH`` is
that path, the checkout is on no path), from a working directory of its own, as an operator would:

* the demo fleet (``ansible-playbook azure_ops.rollout.vmss_extension_rollout`` over the emulator's ``demo``
  scenario, through the inventory plugin): canary completes, api-r1-weu-02 faults, ring2 never starts;
* the status gate (``azure_ops.rollout.fleet_status``): fails on the Faulted scale set;
* one module by FQCN (``ansible -m azure_ops.rollout.vmss_rolling_upgrade_info``).

Nothing may write into the installed collection's directory (every file's path and content are the same after the
runs); the reports land where the playbooks' defaults put them, ./rollout-reports under the working directory. Every
request sends the User-Agent of the version in the installed MANIFEST.json, which is galaxy.yml's.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO_ROOT, api_requests, posts, read_json, rows_by_name

RUN_VARS = {"vmss_extension_rollout_poll_interval": 1, "vmss_extension_rollout_progress_interval": 1}


def _tool(name):
    return str(Path(sys.executable).parent / name)


def _run(cmd, **kwargs):
    proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, **kwargs)
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(collections path, the installed collection's directory, the tarball) of a fresh build and install."""
    base = tmp_path_factory.mktemp("installed")
    build = _run([_tool("ansible-galaxy"), "collection", "build", str(REPO_ROOT), "--output-path", str(base)],
                 timeout=300)
    assert build.returncode == 0, build.stdout + build.stderr
    tarballs = list(base.glob("azure_ops-rollout-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    collections = base / "collections"
    # Only the fresh path is on ANSIBLE_COLLECTIONS_PATH: the checkout (the tests' own path) would count as installed.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(collections))
    install = _run([_tool("ansible-galaxy"), "collection", "install", "--offline", "-p", str(collections),
                    str(tarballs[0])], env=env, timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    return collections, collections / "ansible_collections" / "azure_ops" / "rollout", tarballs[0]


def _snapshot(root: Path):
    """Every file and directory under root with its content's digest (symlinks by their target)."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if path.is_symlink():
                seen[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                seen[rel] = "dir"
            else:
                seen[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def _env(collections, emulator, work):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AZURE_"))}
    env.update({k: str(v) for k, v in emulator.env().items()})
    env.update({"ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
                "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_RETRY_FILES_ENABLED": "false", "ANSIBLE_LOCALHOST_WARNING": "false",
                "ANSIBLE_LOCAL_TEMP": str(work / ".ansible-tmp"), "HOME": str(work / "home")})
    return env


def test_the_tarball_holds_the_collection_and_galaxy_yml_version(installed):
    _collections, root, tarball = installed
    version = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())["version"]
    assert tarball.name == "azure_ops-rollout-%s.tar.gz" % version
    manifest = json.loads((root / "MANIFEST.json").read_text())
    assert manifest["collection_info"]["version"] == version
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    for wanted in ("meta/runtime.yml", "plugins/module_utils/_client.py", "playbooks/vmss_extension_rollout.yml",
                   "extensions/eda/plugins/event_source/operation_events.py", "roles/vmss_extension_rollout/meta/main.yml",
                   "CHANGELOG.rst", "changelogs/changelog.yaml"):
        assert wanted in names, wanted
    assert not [n for n in names if n.startswith(("tests/output", ".venv", "build/", "hack/", ".ci"))], names


def test_demo_fleet_status_gate_and_a_module_run_from_the_installed_collection(installed, emulator, tmp_path):
    collections, root, _tarball = installed
    version = json.loads((root / "MANIFEST.json").read_text())["collection_info"]["version"]
    emulator.load("demo")
    work = tmp_path / "operator"
    (work / "home").mkdir(parents=True)
    env = _env(collections, emulator, work)
    before = _snapshot(root)
    inventory = str(root / "playbooks" / "inventory" / "demo" / "demo.azure_vmss.yml")
    extra = ["-e", json.dumps(RUN_VARS)]

    rollout = _run([_tool("ansible-playbook"), "-i", inventory, "azure_ops.rollout.vmss_extension_rollout"] + extra,
                   cwd=str(work), env=env, timeout=300)
    assert rollout.returncode == 2, rollout.stdout + rollout.stderr       # the ring1 fault stops the rollout
    gate = _run([_tool("ansible-playbook"), "-i", inventory, "azure_ops.rollout.fleet_status"],
                cwd=str(work), env=env, timeout=300)
    assert gate.returncode == 2, gate.stdout + gate.stderr                # the gate fails on the Faulted one

    # The reports are where the playbooks' defaults put them: ./rollout-reports under the working directory.
    reports = work / "rollout-reports"
    assert sorted(p.name for p in reports.glob("*.json")) == ["fleet_status.json", "vmss_extension_rollout.json"], \
        sorted(str(p.relative_to(work)) for p in work.rglob("*"))
    rows = rows_by_name(read_json(reports / "vmss_extension_rollout.json"))
    status = rows_by_name(read_json(reports / "fleet_status.json"))
    started = posts(emulator, "/extensionRollingUpgrade")
    assert rows["api-r1-weu-02"]["status"] == "Faulted" and status["api-r1-weu-02"]["status"] == "Faulted"
    assert all(r["status"] == "Completed" for r in rows.values() if r["ring"] == "canary")
    assert rows["web-r1-eus-02"]["status"] == "Current" and not [p for p in started if "/web-r1-eus-02/" in p]
    ring2 = [name for name, r in rows.items() if r["ring"] == "ring2"]
    assert ring2 and all(rows[n]["status"] == "NotStarted" for n in ring2)
    assert not [p for p in started for n in ring2 if "/%s/" % n in p]

    agents = {r["user_agent"] for r in emulator.requests}
    emulator.clear_requests()
    module = _run([_tool("ansible"), "localhost", "-i", "localhost,", "-c", "local", "-m",
                   "azure_ops.rollout.vmss_rolling_upgrade_info", "-a", "resource_group=rg-demo-westeurope name=api-r1-weu-02"],
                  cwd=str(work), env=env, timeout=120)
    assert module.returncode == 0 and '"code": "Faulted"' in module.stdout, module.stdout + module.stderr
    assert api_requests(emulator, "GET", "/api-r1-weu-02/rollingUpgrades/latest")

    # Every request of the runs above carried the installed version; nothing was written into the collection.
    agents |= {r["user_agent"] for r in emulator.requests}
    assert agents == {"azure_ops.rollout/%s" % version}, agents
    assert _snapshot(root) == before
