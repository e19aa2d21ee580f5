# -*- coding: utf-8 -*-
"""vmss_extension_upgrade under Azure's rate limits (real ansible-playbook runs against the emulator).

Compute's per-minute token buckets run in wall-clock time: with a bucket refilled at 60 a minute a throttle costs a
second, so the tests run in real time, bounded. Another client (this test) uses up a budget first, as another tool in
the subscription would. Upgrades last seconds (time scale 60: only their durations are scaled). The older window
model (recorded traffic) is kept for a Retry-After far past the deadline.
"""
from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import SUB, scenario, spend, vmss

VMSS = "/subscriptions/%s/resourceGroups/rg-it/providers/Microsoft.Compute/virtualMachineScaleSets/" % SUB


def _throttled_scenario(time_scale, **limits):
    sets = [vmss("thr-a", "canary", capacity=5, batch_seconds=60), vmss("thr-b", "canary", capacity=5, batch_seconds=60),
            vmss("thr-slow", "canary", capacity=5, batch_seconds=600)]
    return scenario(sets, time_scale=time_scale, throttling={"compute": limits})


def _latest(name):
    return VMSS + name + "/rollingUpgrades/latest"


def _playbook(tmp_path: Path, name, **options) -> Path:
    args = {"resource_group": "rg-it", "name": name, "poll_interval": 1, "wait_timeout": 120}
    args.update(options)
    task = {"name": "upgrade", "azure_ops.rollout.vmss_extension_upgrade": args, "register": "upgrade",
            "ignore_errors": True}
    copy = {"content": "{{ upgrade | to_json }}", "dest": str(tmp_path / "result.json")}
    keep = {"name": "keep the result", "ansible.builtin.copy": copy}
    book = tmp_path / "upgrade.yml"
    book.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                 "module_defaults": {"group/azure_ops.rollout.azure": {"subscription_id": SUB}},
                                 "tasks": [task, keep]}]))
    return book


def _arm(emulator, method, name):
    return [r for r in emulator.requests if r["kind"] == "arm" and r["method"] == method and "/%s/" % name in r["path"] + "/"
            and r["client_request_id"] is not None and r["user_agent"].startswith("azure_ops.rollout/")]


def test_throttled_read_is_waited_and_shown(emulator, run_playbook, tmp_path, monkeypatch):
    # Six a minute: the bucket another client used up has not refilled a token yet when ansible-playbook reads. The
    # pacer is told this budget (as it knows Microsoft's published ones): after the one 429 it keeps to it.
    emulator.load(_throttled_scenario(time_scale=60.0, LowCostGet={"resource": [6, 5]}))
    monkeypatch.setenv("AZURE_OPS_ROLLOUT_BUDGETS", json.dumps({"LowCostGet": [[6, 5], [800, 2400]]}))
    assert spend(emulator, "GET", _latest("thr-a"), 5) == [404] * 5      # thr-a's read bucket is used up
    result = run_playbook(_playbook(tmp_path, "thr-a"), emulator=emulator, timeout=180).assert_ok()
    upgrade = json.loads((tmp_path / "result.json").read_text())
    assert not upgrade.get("failed"), result.stdout
    assert upgrade["rolling_upgrade"]["running_status"]["code"] == "Completed"
    [entry] = upgrade["throttled"]
    assert entry["policy"] == "LowCostGet" and entry["times"] == 1 and 1 <= entry["seconds"] <= 10
    reads = _arm(emulator, "GET", "thr-a")
    assert [r["status"] for r in reads[:2]] == [429, 404]     # the plan read waited, then read again (never upgraded)
    assert [r["status"] for r in _arm(emulator, "POST", "thr-a")] == [202]
    assert emulator.throttling["throttled"] == {"LowCostGet": 1}


def test_throttled_start_is_waited_shown_and_posted_once(emulator, run_playbook, tmp_path):
    emulator.load(_throttled_scenario(time_scale=60.0, Update={"subscription": [6, 3]}))
    # Three actions (refused cancels count too) use up the subscription's action bucket.
    assert spend(emulator, "POST", VMSS + "thr-b/rollingUpgrades/cancel", 3) == [409] * 3
    run_playbook(_playbook(tmp_path, "thr-a"), emulator=emulator, timeout=180).assert_ok()
    upgrade = json.loads((tmp_path / "result.json").read_text())
    assert upgrade["upgrade_started"] and upgrade["changed"] and not upgrade.get("failed")
    assert upgrade["rolling_upgrade"]["running_status"]["code"] == "Completed"
    [entry] = upgrade["throttled"]
    assert entry["policy"] == "Update" and entry["times"] == 1 and 1 <= entry["seconds"] <= 10
    # Refused once (429: nothing started), accepted once: never two upgrades.
    assert [r["status"] for r in _arm(emulator, "POST", "thr-a")] == [429, 202]
    assert emulator.throttling["throttled"] == {"Update": 1}


def test_throttle_past_the_deadline_ends_the_wait_at_once_under_on_timeout(emulator, run_playbook, tmp_path):
    # The older window model (recorded traffic): two operation-status reads per 30 minutes. The watch reads the
    # operation this run started; its third read is told to wait until the window ends, beyond wait_timeout. The
    # upgrade itself lasts 50 s.
    emulator.load(_throttled_scenario(time_scale=60.0, GetOperation3Min=2, GetOperation30Min=2))
    run_playbook(_playbook(tmp_path, "thr-slow", wait_timeout=6), emulator=emulator, timeout=180).assert_ok()
    upgrade = json.loads((tmp_path / "result.json").read_text())
    assert upgrade["failed"] and upgrade["timed_out"] and upgrade["upgrade_started"] and upgrade["left_running"]
    message = upgrade["msg"]
    assert message.startswith("Stopped waiting for the rolling upgrade of thr-slow after"), message
    assert "Azure returned 429 OperationNotAllowed: throttled by Azure on GET" in message
    assert "policy GetOperation30Min, Retry-After" in message and "It goes on in Azure (on_timeout=fail)" in message
    assert upgrade["elapsed"] < 6                                     # it did not sleep into the deadline
    assert upgrade["throttled"] == [{"policy": "GetOperation30Min", "times": 1, "seconds": 0.0}]
    operations = [r["status"] for r in _arm(emulator, "GET", "operations")]
    assert operations == [200, 200, 429]
    assert [r["status"] for r in _arm(emulator, "POST", "thr-slow")] == [202]
