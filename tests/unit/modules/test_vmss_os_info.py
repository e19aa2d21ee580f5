# -*- coding: utf-8 -*-
"""vmss_os_info against the emulator: platform and gallery targets, both orchestration modes, refusals, history."""

from tests.helpers import api_requests

UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
NEWEST = "24.04.202501140"   # the highest of the default catalog, listed after 24.04.202411030 (string order)
OLD = "24.04.202409120"
GALLERY = {"resource_group": "rg-images", "gallery": "galProd", "image": "web",
           "versions": [{"name": "1.0.9", "regions": ["eastus", "westeurope"]},
                        {"name": "1.0.10", "regions": ["eastus", "westeurope"]},
                        {"name": "1.1.0", "regions": ["eastus"], "exclude_from_latest": True},
                        {"name": "1.0.11", "regions": ["westeurope"]},
                        {"name": "1.0.12", "regions": ["eastus"], "provisioning_state": "Failed"}]}


def _one(emulator, page_size=10, catalog=None, **spec):
    base = {"name": "vmss-os", "resource_group": "rg-test", "capacity": 5, "image": dict(UBUNTU),
            "installed_image": {"default": "latest", "0": OLD, "3": OLD}}
    base.update(spec)
    emulator.load({"page_size": page_size, "scale_sets": [base], "image_catalog": catalog or {}})


def test_platform_image_outdated_instances_from_one_list(run_module, emulator):
    _one(emulator, page_size=2, deallocated_instances=[4], protected_instances=[1],
         os_upgrade_history=[{"started_by": "Platform", "target_version": OLD, "started_seconds_ago": 90000},
                             {"started_by": "User", "target_version": "24.04.202411030", "started_seconds_ago": 3600,
                              "result": "Faulted", "error_code": "MaxUnhealthyInstancePercentExceededInRollingUpgrade",
                              "rolled_back": 2}])
    failed, result = run_module("vmss_os_info", name="vmss-os", resource_group="rg-test")
    assert not failed, result.get("msg")
    assert result["changed"] is False and result["image_kind"] == "platform"
    assert result["image_reference"] == dict(UBUNTU, version="latest")
    assert result["target_version"] == NEWEST and result["outdated"] is True
    assert result["outdated_instances"] == ["0", "3"] and result["outdated_instance_count"] == 2
    # A deallocated VM still has its model: exactVersion is known.
    assert result["instance_versions"] == {OLD: 2, NEWEST: 3} and result["unknown_instances"] == []
    assert result["protected_instances"] == ["1"] and result["instance_naming"] == "instance_id"
    assert result["refusals"] == [] and result["upgrade_mode"] == "Rolling"
    history = result["os_upgrade_history"]
    assert [entry["started_by"] for entry in history] == ["User", "Platform"]   # newest first
    assert history[0]["result"] == "Faulted" and history[0]["rollback"]["rolled_back"] == 2
    assert history[0]["error"]["code"] == "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
    assert history[1]["target_image"]["version"] == OLD
    requests = api_requests(emulator)
    vm_lists = [r for r in requests if r["path"].endswith("/virtualMachines")]
    assert len(vm_lists) == 3   # 5 instances, pages of 2: one list, every page, no per-instance call
    assert "$select" not in vm_lists[0]["query"] and vm_lists[0]["query"]["$expand"] == ["instanceView"]
    catalog = [r for r in requests if "/artifacttypes/vmimage/" in r["path"]]
    assert len(catalog) == 1 and catalog[0]["path"].endswith("/offers/ubuntu-24_04-lts/skus/server/versions")
    assert len([r for r in requests if r["path"].endswith("/osUpgradeHistory")]) == 1
    assert all(r["method"] == "GET" for r in requests)


def test_current_scale_set_and_history_skipped(run_module, emulator):
    _one(emulator, installed_image="latest")
    failed, result = run_module("vmss_os_info", name="vmss-os", resource_group="rg-test", history=0)
    assert not failed, result.get("msg")
    assert result["outdated"] is False and result["outdated_instances"] == [] and result["instance_versions"] == {NEWEST: 5}
    assert result["os_upgrade_history"] == []
    assert not [r for r in api_requests(emulator) if "osUpgradeHistory" in r["path"]]
    assert len(api_requests(emulator)) == 3   # model, one VM page, one catalog


def test_gallery_target_skips_excluded_failed_and_unreplicated(run_module, emulator):
    _one(emulator, image={"gallery": "galProd", "image": "web", "resource_group": "rg-images"},
         installed_image={"default": "1.0.10", "2": "1.0.9"}, catalog={"galleries": [GALLERY]})
    failed, result = run_module("vmss_os_info", name="vmss-os", resource_group="rg-test")
    assert not failed, result.get("msg")
    assert result["image_kind"] == "gallery" and result["target_version"] == "1.0.10"
    assert result["outdated_instances"] == ["2"] and result["instance_versions"] == {"1.0.10": 4, "1.0.9": 1}
    gallery_reads = [r for r in api_requests(emulator) if "/galleries/" in r["path"]]
    assert len(gallery_reads) == 1 and gallery_reads[0]["query"]["api-version"] == ["2023-07-03"]


def test_gallery_target_in_another_region(run_module, emulator):
    _one(emulator, location="westeurope", image={"gallery": "galProd", "image": "web", "resource_group": "rg-images"},
         installed_image="1.0.10", catalog={"galleries": [GALLERY]})
    failed, result = run_module("vmss_os_info", name="vmss-os", resource_group="rg-test")
    assert not failed, result.get("msg")
    assert result["target_version"] == "1.0.11" and result["outdated_instances"] == ["0", "1", "2", "3", "4"]


def test_flexible_instances_named_by_vm_name(run_module, emulator):
    _one(emulator, orchestration_mode="Flexible")
    failed, result = run_module("vmss_os_info", name="vmss-os", resource_group="rg-test")
    assert not failed, result.get("msg")
    names = emulator.state()["scale_sets"][0]["vm_names"]
    assert result["orchestration_mode"] == "Flexible" and result["instance_naming"] == "vm_name"
    assert result["outdated_instances"] == [names[0], names[3]]
    vm_lists = [r for r in api_requests(emulator) if r["path"].endswith("/virtualMachines")]
    assert len(vm_lists) == 1 and "/resourceGroups/rg-test/providers/Microsoft.Compute/virtualMachines" in vm_lists[0]["path"]


def test_refusals_pinned_and_protected(run_module, emulator):
    _one(emulator, image=dict(UBUNTU, version=OLD), installed_image=OLD, protected_instances=[0, 1, 2, 3, 4])
    failed, result = run_module("vmss_os_info", name="vmss-os", resource_group="rg-test")
    assert not failed, result.get("msg")
    codes = [item["code"] for item in result["refusals"]]
    assert codes == ["OperationNotAllowed", "OperationNotAllowed"]
    assert "set imageReference.version to latest" in result["refusals"][0]["message"]
    assert "protectFromScaleSetActions" in result["refusals"][1]["message"]


def test_automatic_os_upgrade_policy_is_returned(run_module, emulator):
    policy = {"enableAutomaticOSUpgrade": True, "disableAutomaticRollback": False, "osRollingUpgradeDeferral": True}
    _one(emulator, automatic_os_upgrade_policy=policy)
    failed, result = run_module("vmss_os_info", name="vmss-os", resource_group="rg-test", history=0)
    assert not failed, result.get("msg")
    assert result["automatic_os_upgrade_policy"] == policy


def test_bad_history_is_refused_before_any_request(run_module, emulator):
    _one(emulator)
    failed, result = run_module("vmss_os_info", name="vmss-os", resource_group="rg-test", history=-1)
    assert failed and "history" in result["msg"]
    assert api_requests(emulator) == []


def test_during_a_max_surge_os_upgrade_new_instances_are_provisioning(run_module, emulator):
    # An OS upgrade started 30 s ago: its first batch (instance 0, outdated) is being replaced by a new instance.
    _one(emulator, batch_seconds=60, rolling_upgrade_policy={"maxBatchInstancePercent": 20, "maxSurge": True},
         existing_upgrade={"status": "RollingForward", "started_seconds_ago": 30, "kind": "os"})
    failed, result = run_module("vmss_os_info", name="vmss-os", resource_group="rg-test", history=0)
    assert not failed, result.get("msg")
    assert result["provisioning_instances"] == ["5"] and result["instance_count"] == 5
    assert result["outdated_instances"] == ["0", "3"]
    emulator.advance(200)   # both batches done: the outdated instances were replaced by new ones on the target
    failed, result = run_module("vmss_os_info", name="vmss-os", resource_group="rg-test", history=0)
    assert not failed, result.get("msg")
    assert result["outdated"] is False and result["instance_versions"] == {NEWEST: 5}
    assert sorted(result["outdated_instances"] + result["provisioning_instances"]) == []
