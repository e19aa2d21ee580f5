# -*- coding: utf-8 -*-
"""Watcher rounds against the emulator: what one round costs, the scale set list, failures between rounds, reads at
once within the worker bound and the pacer's budgets."""

import time

from ansible_collections.azure_ops.rollout.plugins.module_utils import _events
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient
from ansible_collections.azure_ops.rollout.plugins.module_utils._pacing import Pacer
from ansible_collections.azure_ops.rollout.plugins.module_utils._watch import Watcher

from tests.helpers import SUB, options_for

FLEET = {"name": "cost", "time_scale": 0.001, "page_size": 4, "subscriptions": [SUB],
         "scale_sets": [{"name": "web-%02d" % i, "resource_group": "rg-web", "capacity": 2} for i in range(10)],
         "aks_clusters": [{"name": "aks-a", "resource_group": "rg-web",
                           "operations": [{"id": "op-%d" % i, "duration": 60} for i in range(3)]}],
         "adu_instances": [{"instance_id": "blue", "operations": [{"id": "u-1", "running_seconds": 60}]}]}


def watcher_for(emu, workers=None, pacer=None, **args):
    merged = {"subscription_id": SUB, "client_id": emu.client_id, "secret": emu.client_secret, "tenant": emu.tenant_id,
              "authority_host": emu.base_url, "resource_manager_endpoint": emu.base_url, "ca_path": emu.ca_path,
              "interval": 1}
    merged.update(args)
    extra = {"workers": workers} if workers else {}
    return Watcher(_events.validate_args(merged, environ={}), pacer=pacer, **extra)


def counted(emu):
    """Requests of the log by what they read."""
    counts = {}
    for request in emu.requests:
        path = request["path"]
        if request["kind"] == "token":
            what = "token"
        elif path.endswith("/rollingUpgrades/latest"):
            what = "latest"
        elif path.endswith("/virtualMachines"):
            what = "vm list"
        elif path.endswith("/versions"):
            what = "catalog"
        elif "/virtualMachineScaleSets/" in path:
            what = "model"
        elif path.endswith("/virtualMachineScaleSets"):
            what = "list"
        elif "/managedClusters/" in path:
            what = "aks"
        elif path.endswith("/updates/operations"):
            what = "adu list"
        else:
            what = "adu get"
        counts[what] = counts.get(what, 0) + 1
    return counts


def test_a_round_costs_one_read_per_watched_scale_set_and_one_token(emulator):
    emulator.load(FLEET)
    watcher = watcher_for(emulator, resource_group="rg-web", scale_sets=["web-%02d" % i for i in range(10)])
    for _round in range(3):
        assert watcher.poll() == []
    assert counted(emulator) == {"token": 1, "latest": 30}


def test_listing_by_resource_group_adds_the_list_pages_every_list_interval_only(emulator):
    emulator.load(FLEET)
    watcher = watcher_for(emulator, resource_groups=["rg-web"], list_interval=600)
    for _round in range(3):
        watcher.poll()
    assert counted(emulator) == {"token": 1, "list": 3, "latest": 30}  # 10 scale sets in pages of 4, read once
    emulator.clear_requests()
    relisting = watcher_for(emulator, resource_groups=["rg-web"], list_interval=0)
    for _round in range(2):
        relisting.poll()
    assert counted(emulator) == {"token": 1, "list": 6, "latest": 20}


def test_drift_costs_the_model_and_the_vm_list_pages_per_scale_set_and_the_catalog_once_per_list_interval(emulator):
    emulator.load(FLEET)
    watcher = watcher_for(emulator, kinds=["vmss_extension_drift"], resource_group="rg-web",
                          scale_sets=["web-00", "web-01", "web-02"], list_interval=600)
    for _round in range(2):
        watcher.poll()
    # 2 instances per scale set: one VM list page each; HealthExtension's versions in eastus read once
    assert counted(emulator) == {"token": 1, "model": 6, "vm list": 6, "catalog": 1}


def test_drift_of_a_flexible_scale_set_costs_the_same_and_its_events_name_vms(emulator):
    fleet = dict(FLEET, scale_sets=[dict(vmss, orchestration_mode="Flexible") for vmss in FLEET["scale_sets"]])
    emulator.load(fleet)
    watcher = watcher_for(emulator, kinds=["vmss_extension_drift"], resource_group="rg-web",
                          scale_sets=["web-00", "web-01", "web-02"], list_interval=600, emit_current_state=True)
    events = watcher.poll() + watcher.poll()
    # one filtered list of the resource group's VMs per scale set per round, never the scale-set VM list
    assert counted(emulator) == {"token": 1, "model": 6, "vm list": 6, "catalog": 1}
    assert not [r for r in emulator.requests if "/virtualMachineScaleSets/" in r["path"] and r["path"].endswith("/virtualMachines")]
    assert events and all(event["azure_ops_rollout"]["progress"]["instance_naming"] == "vm_name" for event in events)


def test_os_drift_is_reported_at_start_and_costs_the_model_the_vm_list_and_the_catalog_once(emulator):
    ubuntu = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
    behind = {"name": "os-behind", "resource_group": "rg-test", "capacity": 3, "image": ubuntu,
              "installed_image": {"default": "latest", "1": "24.04.202409120"}}
    current = dict(behind, name="os-current", installed_image={"default": "latest"})
    emulator.load({"scale_sets": [behind, current]})
    watcher = watcher_for(emulator, kinds=["vmss_os_drift"], resource_group="rg-test",
                          scale_sets=["os-behind", "os-current"], list_interval=600)
    events = watcher.poll() + watcher.poll()
    # A drift present at the start is reported (the same action as one that appears later); a current one is not.
    assert [(e["azure_ops_rollout"]["kind"], e["azure_ops_rollout"]["name"], e["azure_ops_rollout"]["status"])
            for e in events] == [("vmss_os_drift", "os-behind", "Outdated")]
    progress = events[0]["azure_ops_rollout"]["progress"]
    # The target: the highest version the location lists (24.04.202501140, listed in no useful order).
    assert progress["outdated_instance_count"] == 1 and progress["target_version"] == "24.04.202501140"
    assert progress["instance_versions"] == {"24.04.202409120": 1, "24.04.202501140": 2}
    # Per round and scale set the model and one VM list page; the image catalog once per list_interval.
    assert counted(emulator) == {"token": 1, "model": 4, "vm list": 4, "catalog": 1}


def test_a_deferred_os_upgrade_waiting_for_approval_is_reported_then_its_end(emulator):
    ubuntu = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
    emulator.load({"scale_sets": [{
        "name": "os-deferred", "resource_group": "rg-test", "capacity": 3, "image": ubuntu, "batch_seconds": 10,
        "installed_image": {"default": "latest", "1": "24.04.202409120"},
        "automatic_os_upgrade_policy": {"enableAutomaticOSUpgrade": True, "osRollingUpgradeDeferral": True},
        "platform_upgrade": {"kind": "os", "after_requests": 0}}]})
    watcher = watcher_for(emulator, kinds=["vmss_os_drift"], resource_group="rg-test", scale_sets=["os-deferred"],
                          list_interval=600)
    events = watcher.poll()
    # Waiting for approval at the start: reported (an action is due), with the instances an approval would move.
    assert [e["azure_ops_rollout"]["status"] for e in events] == ["AwaitingApproval"]
    progress = events[0]["azure_ops_rollout"]["progress"]
    assert progress["approval"] == "pending" and progress["approval_instances"] == ["1"]
    assert watcher.poll() == []   # still waiting: no new event
    approver = AzureClient(options_for(emulator))
    approver.request("POST", "/subscriptions/%s/resourceGroups/rg-test/providers/Microsoft.Compute/virtualMachineScaleSets/"
                     "os-deferred/approveRollingUpgrade" % SUB, params={"api-version": "2024-07-01"}, expected=(202,))
    emulator.advance(60)
    assert [(e["azure_ops_rollout"]["status"], e["azure_ops_rollout"]["previous_status"]) for e in watcher.poll()] == [
        ("Current", "AwaitingApproval")]


def test_aks_and_device_update_cost_one_list_per_round_plus_one_read_per_ended_import(emulator):
    emulator.load(FLEET)
    watcher = watcher_for(emulator, resource_group="rg-web", aks_clusters=["aks-a"], adu_endpoint=emulator.host,
                          adu_instance_id="blue")
    watcher.poll()
    watcher.poll()
    emulator.advance(61)
    changes = watcher.poll()
    watcher.poll()
    assert counted(emulator) == {"token": 2, "aks": 4, "adu list": 4, "adu get": 1}
    assert sorted((e["azure_ops_rollout"]["kind"], e["azure_ops_rollout"]["status"]) for e in changes) == [
        ("adu_import", "Succeeded"), ("aks_operation", "Succeeded"), ("aks_operation", "Succeeded"),
        ("aks_operation", "Succeeded")]


def test_a_scale_set_that_left_the_list_is_forgotten(emulator):
    fleet = dict(FLEET, scale_sets=FLEET["scale_sets"][:2])
    emulator.load(fleet)
    watcher = watcher_for(emulator, resource_groups=["rg-web"], list_interval=0)
    watcher.poll()
    scope = _events.scale_set_scope(_events.VMSS_ROLLING_UPGRADE, SUB, "rg-web", "web-01")
    assert watcher.tracker.keys(scope) == {scope}
    emulator.load(dict(FLEET, scale_sets=FLEET["scale_sets"][:1]))
    watcher.poll()
    assert watcher.tracker.keys(scope) == set()


def test_throttled_rounds_stretch_the_wait_and_a_good_round_resets_it(emulator):
    emulator.load(FLEET)
    watcher = watcher_for(emulator, resource_group="rg-web", scale_sets=["web-00"])
    emulator.add_fault({"match": {"path_regex": "rollingUpgrades/latest$"}, "action": {"status": 429, "retry_after_ms": 1},
                        "times": 8})
    watcher.poll()
    watcher.poll()
    assert (watcher.failed_rounds, watcher.next_wait()) == (2, 4)
    watcher.poll()
    assert (watcher.failed_rounds, watcher.next_wait()) == (0, 1)


def test_a_missing_scale_set_does_not_stretch_the_wait(emulator):
    emulator.load(FLEET)
    watcher = watcher_for(emulator, resource_group="rg-web", scale_sets=["web-00", "gone"])
    watcher.poll()
    watcher.poll()
    assert (watcher.failed_rounds, watcher.next_wait()) == (0, 1)


def test_a_throttled_scale_set_list_stretches_the_wait_too(emulator):
    emulator.load(FLEET)
    watcher = watcher_for(emulator, resource_groups=["rg-web"])
    emulator.add_fault({"match": {"path_regex": "/virtualMachineScaleSets$"}, "action": {"status": 429, "retry_after_ms": 1},
                        "times": 4})
    assert watcher.poll() == []
    assert (watcher.failed_rounds, watcher.next_wait()) == (1, 2)
    assert [r for r in emulator.requests if r["path"].endswith("/rollingUpgrades/latest")] == []  # nothing to read yet
    watcher.poll()
    assert (watcher.failed_rounds, len([r for r in emulator.requests if r["path"].endswith("/rollingUpgrades/latest")])) == (0, 10)


# -- reads at once --------------------------------------------------------------------------------------------
def _scale_sets(count):
    return dict(FLEET, scale_sets=[{"name": "web-%02d" % i, "resource_group": "rg-web", "capacity": 1}
                                   for i in range(count)])


def _most_within(times, seconds):
    """The most of ``times`` in any window of ``seconds`` (half-open)."""
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + seconds) for start in times)


def test_reads_run_at_once_but_never_more_than_the_worker_bound(emulator):
    emulator.load(_scale_sets(10))
    delay = 0.3
    emulator.add_fault({"name": "slow", "match": {"path_regex": "rollingUpgrades/latest$"}, "action": {"delay": delay}})
    watcher = watcher_for(emulator, workers=4, resource_group="rg-web", scale_sets=["web-%02d" % i for i in range(10)])
    began = time.monotonic()
    assert watcher.poll() == []
    took = time.monotonic() - began
    ends = [r["time"] for r in emulator.requests if r["fault"] == "slow"]
    assert len(ends) == 10
    # A worker's next read ends more than ``delay`` after its last one: no window of ``delay`` holds more ends than
    # reads were in flight at once: some overlapped (four, unless a worker started late), never five.
    assert 2 <= _most_within(ends, delay) <= 4
    assert 3 * delay <= took < 10 * delay   # three waves of four, not ten reads one after another
    assert watcher.threads == 4


def test_a_round_of_many_scale_sets_keeps_to_the_pacers_budget(emulator):
    emulator.load(_scale_sets(24))
    # rollingUpgrades/latest (LowCostGet): 4 tokens per subscription, 20 more per second; a read is a poll, which
    # leaves a quarter of the bucket to urgent requests: 3 at once, then 20 per second.
    pacer = Pacer(budgets={"LowCostGet": (None, (1200, 4))})
    watcher = watcher_for(emulator, pacer=pacer, resource_group="rg-web", scale_sets=["web-%02d" % i for i in range(24)])
    began = time.monotonic()
    watcher.poll()
    took = time.monotonic() - began
    reads = sorted(r["time"] for r in emulator.requests if r["path"].endswith("/rollingUpgrades/latest"))
    assert len(reads) == 24 and all(r["status"] != 429 for r in emulator.requests)
    assert took >= (24 - 3) / 20.0 * 0.9
    # Between any two reads no more went than the bucket allows (2 reads of slack for the time a request takes).
    for first in range(len(reads)):
        for last in range(first, len(reads)):
            assert last - first + 1 <= 3 + 20 * (reads[last] - reads[first]) + 2, (first, last)
