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
from ansible.release import __version__ as _core_version

from tests.emulator.scenarios import fleet

from tests.helpers import PLAYBOOKS, FAST_VARS, SUB, plain, posts, read_json, rows_by_name, scenario, spend, vmss

ANSIBLE_CORE = tuple(int(part) for part in _core_version.split(".")[:2])
FLEET = [
    vmss("inv-canary", "canary", rg="rg-it"),
    vmss("inv-r1-eus", "ring1", rg="rg-it"),
    vmss("inv-r1-weu", "ring1", rg="rg-it2", location="westeurope"),
    dict(vmss("inv-r2-weu", "ring2", rg="rg-it2", location="westeurope", capacity=3), orchestration_mode="Flexible"),
    vmss("inv-skip", "ring2", rg="rg-it2", location="westeurope", tags={"ring": "ring2", "rollout": "skip"}),
]
BASE_CONFIG = {
    "plugin": "azure_ops.rollout.vmss",
    "keyed_groups": [{"key": "vmss_tags.ring | default('unringed')", "prefix": "", "separator": ""},
                     {"key": "location", "prefix": "location"}],
    "groups": {"vmss": True},
    "compose": {"ansible_connection": "'local'"},
}


def _run_inventory(tmp_path: Path, emulator, config: dict, name="fleet.azure_vmss.yml", args=("--list",), env=None):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    full_env = dict(os.environ)
    full_env.update({k: str(v) for k, v in emulator.env().items()})
    full_env.update(env or {})
    tool = str(Path(sys.executable).parent / "ansible-inventory")
    return subprocess.run([tool, "-i", str(path), *args], env=full_env, capture_output=True, text=True, timeout=300,
                          check=False)


def _inventory(tmp_path: Path, emulator, config: dict, name="fleet.azure_vmss.yml", args=("--list",), env=None):
    proc = _run_inventory(tmp_path, emulator, config, name, args, env)
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
    # The orchestration mode is listed: Flexible scale sets are hosts like Uniform ones.
    assert hv["orchestration_mode"] == "Flexible" and hostvars["inv-canary"]["orchestration_mode"] == "Uniform"
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
    if ANSIBLE_CORE >= (2, 17):
        third = _inventory(tmp_path, emulator, config, args=("--list", "--flush-cache"))
        assert _lists(emulator) and set(third["_meta"]["hostvars"]) == set(first["_meta"]["hostvars"])
    else:  # ansible-inventory has no --flush-cache before 2.17: ansible-playbook --flush-cache is how it is flushed
        play = tmp_path / "noop.yml"
        play.write_text("- hosts: all\n  gather_facts: false\n  tasks: []\n")
        config_path = tmp_path / "fleet.azure_vmss.yml"
        env = dict(os.environ, **{k: str(v) for k, v in emulator.env().items()})
        proc = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(config_path),
                               "--flush-cache", str(play)], env=env, capture_output=True, text=True, timeout=300,
                              check=False)
        assert proc.returncode == 0 and _lists(emulator), proc.stdout + proc.stderr
        emulator.clear_requests()
        assert set(_inventory(tmp_path, emulator, config)["_meta"]["hostvars"]) == set(first["_meta"]["hostvars"])
        assert _lists(emulator) == []                   # the flushed run wrote the cache anew


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


# ------------------------------------------------------------------------------ a large fleet under Azure's limits
SUBSCRIPTIONS = [SUB, "00000000-0000-0000-0000-000000000002", "00000000-0000-0000-0000-000000000003"]
SUB_LIST = "/subscriptions/%s/providers/Microsoft.Compute/virtualMachineScaleSets"


def _large_fleet(emulator, throttling=True):
    """1,000 scale sets over 3 subscriptions, Azure's rate limits on (wall-clock buckets)."""
    emulator.load(fleet(1000, subscriptions=SUBSCRIPTIONS, time_scale=60.0, throttling=throttling))


def _plugin_lists(emulator):
    return [e for e in _lists(emulator) if (e["user_agent"] or "").startswith("azure_ops.rollout/")]


def _all_hosts(data):
    return {name: hv["subscription_id"] for name, hv in data["_meta"]["hostvars"].items()}


def test_thousand_scale_sets_over_three_subscriptions_listed_completely(emulator, tmp_path):
    _large_fleet(emulator)
    data = _inventory(tmp_path, emulator, dict(BASE_CONFIG, subscriptions=SUBSCRIPTIONS))
    hosts = _all_hosts(data)
    assert len(hosts) == 1000
    assert sorted(list(hosts.values()).count(sub) for sub in SUBSCRIPTIONS) == [333, 333, 334]
    assert len(data["vmss"]["hosts"]) == 1000 and len(data["canary"]["hosts"]) == 334
    lists = _plugin_lists(emulator)
    assert len(lists) == 34 * 3 and {e["status"] for e in lists} == {200}   # pages of 10, none refused


def test_a_throttled_subscription_is_waited_for_and_still_listed_completely(emulator, tmp_path):
    # A subscription bucket of 50 lists refilled at one a second; the pacer is told (AZURE_OPS_ROLLOUT_BUDGETS), as
    # it knows Microsoft's published numbers.
    _large_fleet(emulator, {"compute": {"HighCostGet": {"subscription": [60, 50]}}})
    # Another tool used up the second subscription's high-cost read bucket.
    assert spend(emulator, "GET", SUB_LIST % SUBSCRIPTIONS[1], 50) == [200] * 50
    data = _inventory(tmp_path, emulator, dict(BASE_CONFIG, subscriptions=SUBSCRIPTIONS),
                      env={"AZURE_OPS_ROLLOUT_BUDGETS": json.dumps({"HighCostGet": [[10, 30], [60, 50]]})})
    assert len(_all_hosts(data)) == 1000
    lists = _plugin_lists(emulator)
    refused = [e for e in lists if e["status"] == 429]
    # The remaining counts of the first answers tell what is left: paced at the bucket's rate, at most one 429.
    assert len(refused) <= 1 and all(SUBSCRIPTIONS[1] in e["path"] for e in refused)
    second = [e["time"] for e in lists if SUBSCRIPTIONS[1] in e["path"]]
    assert second[-1] - second[0] >= 25          # 34 pages from a bucket another tool emptied: about one a second
    assert len([e for e in lists if e["status"] == 200]) == 34 * 3


def test_a_throttle_past_list_timeout_fails_loudly_and_adds_no_host(emulator, tmp_path):
    _large_fleet(emulator, {"compute": {"HighCostGet": {"subscription": [1, 50]}}})     # one token a minute
    assert spend(emulator, "GET", SUB_LIST % SUBSCRIPTIONS[1], 50) == [200] * 50
    config = dict(BASE_CONFIG, subscriptions=SUBSCRIPTIONS, list_timeout=5)
    strict = _run_inventory(tmp_path, emulator, config, env={"ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true"})
    assert strict.returncode != 0
    message = " ".join(strict.stderr.split())
    assert "listing scale sets failed, no host added: Azure returned 429 OperationNotAllowed: throttled by Azure" in message
    assert "policy HighCostGet, Retry-After" in message, message
    # Without that setting Ansible goes on with a warning, and still no host of this source: never a partial inventory
    # (the first subscription was read completely before the second one failed).
    lenient = _run_inventory(tmp_path, emulator, config, name="again.azure_vmss.yml")
    assert lenient.returncode == 0 and "Failed to parse" in lenient.stderr
    assert plain(json.loads(lenient.stdout))["_meta"]["hostvars"] == {}


def test_list_timeout_is_checked_before_any_request(emulator, tmp_path):
    proc = _run_inventory(tmp_path, emulator, dict(BASE_CONFIG, list_timeout=0),
                          env={"ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "true"})
    assert proc.returncode != 0 and "list_timeout must be at least 1 (got 0)" in " ".join(proc.stderr.split())
    assert [e for e in emulator.requests if e["kind"] != "token"] == []
