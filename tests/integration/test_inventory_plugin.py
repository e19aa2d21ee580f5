# -*- coding: utf-8 -*-
"""The azure_ops.rollout.vmss inventory plugin (ansible-inventory) and the rollout playbook over it."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from .conftest import PLAYBOOKS, FAST_VARS, plain, posts, read_json, rows_by_name, scenario, vmss

FLEET = [
    vmss("inv-canary", "canary", rg="rg-it"),
    vmss("inv-r1-eus", "ring1", rg="rg-it"),
    vmss("inv-r1-weu", "ring1", rg="rg-it2", location="westeurope"),
    vmss("inv-r2-weu", "ring2", rg="rg-it2", location="westeurope", capacity=3),
    vmss("inv-skip", "ring2", rg="rg-it2", location="westeurope", tags={"ring": "ring2", "rollout": "skip"}),
]
BASE_CONFIG = {
    "plugin": "azure_ops.rollout.vmss",
    "keyed_groups": [{"key": "vmss_tags.ring | default('unringed')", "prefix": "", "separator": ""},
                     {"key": "location", "prefix": "location"}],
    "groups": {"vmss": True},
    "compose": {"ansible_connection": "'local'"},
}


def _inventory(tmp_path: Path, emulator, config: dict, name="fleet.azure_vmss.yml", args=("--list",)):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    env = dict(os.environ)
    env.update({k: str(v) for k, v in emulator.env().items()})
    tool = str(Path(sys.executable).parent / "ansible-inventory")
    proc = subprocess.run([tool, "-i", str(path), *args], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Failed to parse" not in proc.stderr, proc.stderr
    return plain(json.loads(proc.stdout))


def _lists(emulator):
    return [e for e in emulator.requests if e["method"] == "GET" and e["path"].endswith("/virtualMachineScaleSets")]


def test_groups_and_host_vars(emulator, tmp_path):
    emulator.load(scenario(FLEET))
    data = _inventory(tmp_path, emulator, BASE_CONFIG)
    hostvars = data["_meta"]["hostvars"]
    assert set(hostvars) == {s["name"] for s in FLEET}
    assert set(data["canary"]["hosts"]) == {"inv-canary"}
    assert set(data["ring1"]["hosts"]) == {"inv-r1-eus", "inv-r1-weu"}
    assert set(data["ring2"]["hosts"]) == {"inv-r2-weu", "inv-skip"}
    assert set(data["location_westeurope"]["hosts"]) == {"inv-r1-weu", "inv-r2-weu", "inv-skip"}
    assert len(data["vmss"]["hosts"]) == 5
    hv = hostvars["inv-r2-weu"]
    assert hv["subscription_id"] == emulator.subscription_ids[0]
    assert hv["resource_group"] == "rg-it2" and hv["vmss_name"] == "inv-r2-weu" and hv["location"] == "westeurope"
    assert hv["vmss_tags"] == {"ring": "ring2", "app": "it"} and hv["capacity"] == 3
    assert hv["upgrade_policy"]["mode"] == "Rolling"
    assert hv["upgrade_policy"]["rolling_upgrade_policy"]["max_batch_instance_percent"] == 20
    assert hv["ansible_connection"] == "local"
    # The scenario pages by 2: the plugin followed nextLink (3 pages for 5 scale sets).
    assert len(_lists(emulator)) == 3


def test_filters_and_hostnames(emulator, tmp_path):
    emulator.load(scenario(FLEET))
    config = dict(BASE_CONFIG, resource_groups=["RG-IT2"], exclude_tags={"rollout": "skip"}, hostnames="rg_name")
    data = _inventory(tmp_path, emulator, config)
    assert set(data["_meta"]["hostvars"]) == {"rg-it2-inv-r1-weu", "rg-it2-inv-r2-weu"}
    config = dict(BASE_CONFIG, include_tags={"ring": "ring1"})
    data = _inventory(tmp_path, emulator, config, name="other.azure_vmss.yml")
    assert set(data["_meta"]["hostvars"]) == {"inv-r1-eus", "inv-r1-weu"}
    config = dict(BASE_CONFIG, include_tags={"rollout": None})
    data = _inventory(tmp_path, emulator, config, name="third.azure_vmss.yml")
    assert set(data["_meta"]["hostvars"]) == {"inv-skip"}


def test_cache(emulator, tmp_path):
    emulator.load(scenario(FLEET))
    config = dict(BASE_CONFIG, cache=True, cache_plugin="ansible.builtin.jsonfile",
                  cache_connection=str(tmp_path / "cache"), cache_timeout=600)
    first = _inventory(tmp_path, emulator, config)
    assert _lists(emulator)
    emulator.clear_requests()
    second = _inventory(tmp_path, emulator, config)
    assert _lists(emulator) == []                       # served from the cache
    assert second["_meta"]["hostvars"] == first["_meta"]["hostvars"]
    third = _inventory(tmp_path, emulator, config, args=("--list", "--flush-cache"))
    assert _lists(emulator) and set(third["_meta"]["hostvars"]) == set(first["_meta"]["hostvars"])


def test_rollout_playbook_runs_unchanged_over_the_plugin(emulator, run_playbook, tmp_path):
    fleet = [s for s in FLEET if s["name"] != "inv-skip"]
    emulator.load(scenario(fleet))
    inv_dir = tmp_path / "inv"
    (inv_dir / "group_vars").mkdir(parents=True)
    (inv_dir / "fleet.azure_vmss.yml").write_text(yaml.safe_dump(BASE_CONFIG))
    group_vars = dict(FAST_VARS, vmss_extension_rollout_run_dir=str(tmp_path / "progress"))
    (inv_dir / "group_vars" / "all.yml").write_text(yaml.safe_dump(group_vars))
    result = run_playbook(PLAYBOOKS / "vmss_extension_rollout.yml", inventory=inv_dir, emulator=emulator,
                          extra_vars={"rollout_report_dir": str(tmp_path / "reports")}).assert_ok()
    rows = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))
    assert {r["status"] for r in rows.values()} == {"Completed"}
    assert [rows[n]["ring"] for n in ("inv-canary", "inv-r1-eus", "inv-r2-weu")] == ["canary", "ring1", "ring2"]
    assert len(posts(emulator, "/extensionRollingUpgrade")) == 4
    assert re.search(r"^  inv-r2-weu +Completed +100%  ok 3 ", result.stdout, re.M), result.stdout
