# -*- coding: utf-8 -*-
"""vmss_extension_info against the emulator: current, behind, minor-pinned, unknown instances, paging, check mode."""

import pytest

from tests.emulator import load_scenario

from tests.helpers import api_requests

RG = {"resource_group": "rg-test"}


def _by_name(result):
    return {record["name"]: record for record in result["extensions"]}


def test_behind_minor_pinned_and_unknown_instances(run_module, emulator):
    failed, result = run_module("vmss_extension_info", name="vmss-healthy", **RG)
    assert not failed, result.get("msg")
    assert result["changed"] is False and result["outdated"] is True and result["outdated_instance_count"] == 8
    assert result["location"] == "eastus"
    health, script = _by_name(result)["HealthExtension"], _by_name(result)["CustomScript"]
    assert health == {"name": "HealthExtension", "publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux",
                      "model_version": "1.0", "target_version": "1.1.3", "outdated": True, "instance_count": 10,
                      "outdated_instances": ["0", "2", "3", "4", "5", "6", "7", "8"], "unknown_instances": ["9"],
                      "provisioning_instances": [], "instance_versions": {"1.0.9": 8, "1.1.3": 1}, "instance_naming": "instance_id",
                      "note": None}
    # Pinned to 2.1 (autoUpgradeMinorVersion false): 2.2.1 is listed but out of reach, 2.1.10 is current.
    assert script["target_version"] == "2.1.10" and script["outdated"] is False and script["outdated_instances"] == []
    assert [r["method"] for r in api_requests(emulator)] == ["GET"] * 4   # model, one VM page, two catalogs
    assert result["orchestration_mode"] == "Uniform" and result["instance_naming"] == "instance_id"
    vm_list = [r for r in api_requests(emulator) if r["path"].endswith("/virtualMachines")][0]
    # Uniform: the scale-set VM list, instance views only (smaller pages).
    assert "/virtualMachineScaleSets/vmss-healthy/" in vm_list["path"]
    assert vm_list["query"]["$expand"] == ["instanceView"] and vm_list["query"]["$select"] == ["instanceView"]


FLEX = {"name": "vmss-flex", "resource_group": "rg-flex", "orchestration_mode": "Flexible", "capacity": 5,
        "extensions": [{"name": "HealthExtension", "publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux",
                        "typeHandlerVersion": "1.0", "installed": {"default": "1.0.9", "1": "1.1.3"}}],
        "deallocated_instances": [4]}


def _flex_scenario(page_size=10, **extra):
    # A Uniform scale set in the same resource group: its instances must not be taken for the Flexible one's.
    return {"page_size": page_size, "scale_sets": [dict(FLEX, **extra), {"name": "vmss-uni", "resource_group": "rg-flex"}]}


def _vm_name(emulator, index):
    return emulator.state()["scale_sets"][0]["vm_names"][index]


def test_flexible_instances_are_vm_names_from_the_resource_group_vm_list(run_module, emulator):
    emulator.load(_flex_scenario(page_size=2))
    failed, result = run_module("vmss_extension_info", name="vmss-flex", resource_group="rg-flex")
    assert not failed, result.get("msg")
    assert result["orchestration_mode"] == "Flexible" and result["instance_naming"] == "vm_name"
    health = result["extensions"][0]
    names = [_vm_name(emulator, i) for i in range(5)]
    assert all(name.startswith("vmss-flex_") for name in names)
    assert health["instance_naming"] == "vm_name" and health["instance_count"] == 5
    assert health["outdated_instances"] == [names[0], names[2], names[3]] and health["unknown_instances"] == [names[4]]
    assert health["instance_versions"] == {"1.0.9": 3, "1.1.3": 1} and result["outdated_instance_count"] == 3
    lists = [r for r in api_requests(emulator) if r["path"].endswith("/virtualMachines")]
    assert len(lists) == 3   # 5 VMs, pages of 2: one list per scale set per read, every page
    assert all(r["path"] == "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-flex/providers/"
               "Microsoft.Compute/virtualMachines" for r in lists)
    vmss_id = ("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-flex/providers/"
               "Microsoft.Compute/virtualMachineScaleSets/vmss-flex")
    assert lists[0]["query"]["$filter"] == ["'virtualMachineScaleSet/id' eq '%s'" % vmss_id]
    assert lists[0]["query"]["$expand"] == ["instanceView"] and "$select" not in lists[0]["query"]
    assert not [r for r in api_requests(emulator) if "/virtualMachineScaleSets/vmss-flex/virtualMachines" in r["path"]]


def test_flexible_upgrade_moves_the_vm_versions(run_module, emulator):
    emulator.load(_flex_scenario(batch_seconds=10))
    failed, result = run_module("vmss_extension_upgrade", name="vmss-flex", resource_group="rg-flex", poll_interval=1,
                                wait_timeout=600)
    assert not failed, result.get("msg")
    assert result["action"] == "start" and result["rolling_upgrade"]["running_status"]["code"] == "Completed"
    assert result["extensions"][0]["instance_naming"] == "vm_name"
    assert result["instance_naming"] == "vm_name"
    failed, after = run_module("vmss_extension_info", name="vmss-flex", resource_group="rg-flex")
    assert not failed and after["outdated"] is False
    assert after["extensions"][0]["instance_versions"] == {"1.1.3": 4}


def test_current_scale_set(run_module):
    failed, result = run_module("vmss_extension_info", name="vmss-done", **RG)
    assert not failed and result["outdated"] is False and result["outdated_instance_count"] == 0
    assert result["extensions"][0]["instance_versions"] == {"1.1.3": 4} and result["extensions"][0]["target_version"] == "1.1.3"


def test_every_page_of_the_vm_list_is_read(run_module, emulator):
    data = load_scenario("default")
    data["page_size"] = 3
    emulator.load(data)
    failed, result = run_module("vmss_extension_info", name="vmss-healthy", extensions=["HealthExtension"], **RG)
    assert not failed and result["extensions"][0]["instance_count"] == 10 and result["outdated_instance_count"] == 8
    lists = [r for r in api_requests(emulator) if r["path"].endswith("/virtualMachines")]
    assert len(lists) == 4 and all(r["query"]["$expand"] == ["instanceView"] for r in lists)
    assert not [r for r in emulator.requests if "/virtualMachines/" in r["path"]]   # never the per-instance view


def test_check_mode_reads_the_same_and_changes_nothing(run_module, emulator):
    failed, normal = run_module("vmss_extension_info", name="vmss-healthy", **RG)
    count = len(api_requests(emulator))
    failed, checked = run_module("vmss_extension_info", _check_mode=True, name="vmss-healthy", **RG)
    assert not failed and checked["extensions"] == normal["extensions"] and checked["changed"] is False
    assert len(api_requests(emulator)) == 2 * count and not api_requests(emulator, "POST")


def test_only_the_named_extensions_count(run_module):
    failed, result = run_module("vmss_extension_info", name="vmss-healthy", extensions=["customscript"], **RG)
    assert not failed and [r["name"] for r in result["extensions"]] == ["CustomScript"]
    assert result["outdated"] is False and result["outdated_instance_count"] == 0


def test_a_name_the_model_does_not_have_fails_after_the_model_read(run_module, emulator):
    failed, result = run_module("vmss_extension_info", name="vmss-healthy", extensions=["HealthExtension", "Typo"], **RG)
    assert failed and result["msg"] == ("extensions: Typo is not in the model of vmss-healthy "
                                        "(its extensions: HealthExtension, CustomScript)")
    assert [r["path"].rsplit("/", 1)[-1] for r in api_requests(emulator)] == ["vmss-healthy"]


def test_upgrade_then_current(run_module, emulator):
    failed, result = run_module("vmss_extension_upgrade", name="vmss-never", wait=False, **RG)
    assert not failed and result["upgrade_started"]
    emulator.advance(3600)
    failed, result = run_module("vmss_extension_info", name="vmss-never", **RG)
    assert not failed and result["outdated"] is False and result["extensions"][0]["instance_versions"] == {"1.1.3": 3}


def test_target_unknown_is_said(run_module, emulator):
    emulator.load({"extension_catalog": [{"publisher": "Contoso", "type": "Agent", "versions": ["3.0.1"]}],
                   "scale_sets": [{"name": "s", "resource_group": "rg", "capacity": 2,
                                   "extensions": [{"name": "agent", "publisher": "Contoso", "type": "Agent",
                                                   "typeHandlerVersion": "2.0"}]}]})
    failed, result = run_module("vmss_extension_info", resource_group="rg", name="s")
    assert not failed and result["outdated"] is False
    record = result["extensions"][0]
    assert record["target_version"] is None and "no version of Contoso.Agent 2.x is listed" in record["note"]
    assert record["instance_versions"] == {"2.0.0": 2}


def test_missing_scale_set_is_azure_s_error(run_module):
    failed, result = run_module("vmss_extension_info", name="vmss-nope", **RG)
    assert failed and "404 ResourceNotFound" in result["msg"] and result["error"]["code"] == "ResourceNotFound"


@pytest.mark.parametrize("args, words", [
    ({"extensions": ["a/b"]}, "extensions item 1 ('a/b') must be an extension name"),
    ({"extensions": ["x" * 257]}, "extensions item 1"),
    ({"extensions": []}, "extensions must name at least one item"),
    ({"extensions": {"HealthExtension": 1}}, "extensions must be a list of names (got dict)"),
    ({"extensions": True}, "extensions must be a list of names (got bool)"),
    ({"extensions": "HealthExtension"}, "extensions must be a list of names (got str)"),
    ({"extensions": ["HealthExtension", 7]}, "extensions item 2 must be a string (got int)"),
    ({"name": "bad name!"}, "name must be a scale set name"),
])
def test_bad_input_fails_before_any_request(run_module, emulator, args, words):
    merged = dict({"name": "vmss-healthy"}, **RG)
    merged.update(args)
    failed, result = run_module("vmss_extension_info", **merged)
    assert failed and words in result["msg"], result["msg"]
    assert emulator.requests == []
