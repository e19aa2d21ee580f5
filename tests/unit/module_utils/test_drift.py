# -*- coding: utf-8 -*-
"""The drift rule (pure) and its reads against the emulator: model, VM list pages, cached catalog."""

import threading

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _drift
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import ModuleFailure
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

from tests.emulator import load_scenario

from tests.helpers import SUB, api_requests

HEALTH = {"name": "HealthExtension", "publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux",
          "model_version": "2.1", "auto_minor": True}
PINNED = dict(HEALTH, auto_minor=False)
VIEW_TYPE = "Microsoft.ManagedServices.applicationHealthLinux"   # the instance view's casing (EXTENSIONS.md)


def _vm(instance_id, *extensions, view=True):
    """A listed VM as Azure sends it; ``extensions`` are (name, type, version); ``view=None``: no extension list."""
    instance_view = {"statuses": []}
    if view is not None:
        instance_view["extensions"] = [{"name": n, "type": t, "typeHandlerVersion": v, "statuses": []} for n, t, v in extensions]
    return {"instanceId": instance_id, "properties": {"latestModelApplied": True, "instanceView": instance_view}}


def _instances(*vms):
    return [_drift.reported_versions(vm) for vm in vms]


def _record(ext, listed, *vms):
    return _drift.drift_record(ext, _instances(*vms), listed)


# -- the rule ------------------------------------------------------------------------------
def test_versions_compare_as_integer_tuples_not_text():
    assert _drift.version_tuple("2.1.10") > _drift.version_tuple("2.1.9")
    assert sorted(["2.1.9", "2.1.10"]) == ["2.1.10", "2.1.9"]   # what a text comparison would say
    assert _drift.version_tuple("2.1") == (2, 1)
    assert [_drift.version_tuple(v) for v in ("", None, "2.x", "v2.1", "2..1", "2.1-preview")] == [None] * 6


def test_target_is_the_highest_listed_in_the_major_whatever_the_order():
    listed = ["2.1.10", "1.9.99", "2.1.9", "3.0.0", "2.2.1", "2.0.5"]   # a bare array, order meaningless
    assert _drift.target_version("2.1", True, listed) == "2.2.1"
    assert _drift.target_version("2.1", True, list(reversed(listed))) == "2.2.1"


def test_9_vs_10():
    record = _record(PINNED, ["2.1.9", "2.1.10", "2.1.2"],
                     _vm("0", ("HealthExtension", VIEW_TYPE, "2.1.9")), _vm("1", ("HealthExtension", VIEW_TYPE, "2.1.10")))
    assert record["target_version"] == "2.1.10"
    assert record["outdated_instances"] == ["0"] and record["outdated"] is True
    assert record["instance_versions"] == {"2.1.9": 1, "2.1.10": 1}


def test_minor_pinning():
    listed = ["2.1.3", "2.2.0", "2.1.12"]
    assert _drift.target_version("2.1", False, listed) == "2.1.12"
    assert _drift.target_version("2.1", True, listed) == "2.2.0"
    record = _record(PINNED, listed, _vm("0", ("HealthExtension", VIEW_TYPE, "2.1.12")))
    assert record["target_version"] == "2.1.12" and not record["outdated"]   # 2.2.0 is out of its reach


def test_major_pinning():
    listed = ["1.4.0", "3.0.1", "2.0.4"]
    assert _drift.target_version("2.1", True, listed) == "2.0.4"
    record = _record(HEALTH, ["3.0.1", "4.2.0"], _vm("0", ("HealthExtension", VIEW_TYPE, "2.1.0")))
    assert record["target_version"] is None and not record["outdated"]   # a new major needs a model change
    assert _drift.target_version("2", False, ["2.0.1", "2.5.0"]) == "2.5.0"   # no minor in the model: nothing to pin


def test_empty_catalog_means_target_unknown_and_says_so():
    for listed in ([], None, ["latest", "2.x"]):
        record = _record(HEALTH, listed, _vm("0", ("HealthExtension", VIEW_TYPE, "1.0.0")))
        assert record["target_version"] is None and record["outdated_instances"] == [] and not record["outdated"]
        assert "no version of Microsoft.ManagedServices.ApplicationHealthLinux 2.x is listed" in record["note"]
        assert record["instance_versions"] == {"1.0.0": 1}
    assert "2.1.x" in _record(PINNED, [], _vm("0"))["note"]
    assert "not major.minor" in _record(dict(HEALTH, model_version="latest"), ["2.1.0"], _vm("0"))["note"]


def test_casing_of_names_and_types_does_not_matter():
    vm = _vm("0", ("healthextension", "MICROSOFT.MANAGEDSERVICES.APPLICATIONHEALTHLINUX", "2.1.1"))
    record = _record(HEALTH, ["2.1.5"], vm)
    assert record["outdated_instances"] == ["0"] and record["instance_versions"] == {"2.1.1": 1}


def test_missing_entries_are_unknown_not_old():
    record = _record(HEALTH, ["2.1.5"],
                     _vm("0", ("HealthExtension", VIEW_TYPE, "2.1.5")),
                     _vm("1", view=None),                                           # deallocated: no extension list
                     {"instanceId": "2", "properties": {}},                          # no instance view at all
                     _vm("3", ("CustomScript", "Microsoft.Azure.Extensions.customScript", "2.1.10")),   # absent here
                     _vm("4", ("HealthExtension", VIEW_TYPE, None)),                 # no version reported
                     _vm("5", ("HealthExtension", "Contoso.other", "1.0.0")))        # another type under that name
    assert record["unknown_instances"] == ["1", "2", "3", "4", "5"]
    assert record["outdated_instances"] == [] and not record["outdated"] and record["instance_count"] == 6
    assert record["instance_versions"] == {"2.1.5": 1}
    assert _drift.summarize([record]) == {"outdated": False, "outdated_instance_count": 0}


def test_an_instance_without_instance_id_is_named_by_its_id():
    vm = {"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachineScaleSets/web/virtualMachines/7",
          "properties": {"instanceView": {"extensions": []}}}
    assert _drift.reported_versions(vm) == ("7", {})
    assert _drift.instance_name({"id": vm["id"].replace("virtualMachineScaleSets/web/", "")}, _drift.FLEXIBLE) == "7"


def test_null_extension_list_of_an_agent_not_ready():
    vm = {"instanceId": "7", "properties": {"instanceView": {"vmAgent": {"extensionHandlers": None}, "extensions": None}}}
    assert _drift.reported_versions(vm) == ("7", None)


def test_flexible_instances_are_named_by_vm_name_and_say_so():
    vm = {"name": "web_1a2b3c4d", "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/web_1a2b3c4d",
          "properties": {"virtualMachineScaleSet": {"id": "x"},
                         "instanceView": {"extensions": [{"name": "HealthExtension", "type": VIEW_TYPE, "typeHandlerVersion": "2.1.1"}]}},
          "resources": [{"name": "HealthExtension", "properties": {"typeHandlerVersion": "2.1"}}]}
    assert _drift.reported_versions(vm, _drift.FLEXIBLE) == ("web_1a2b3c4d", {"healthextension": (VIEW_TYPE, "2.1.1")})
    record = _drift.drift_record(HEALTH, [_drift.reported_versions(vm, _drift.FLEXIBLE)], ["2.1.5"], _drift.FLEXIBLE)
    assert record["outdated_instances"] == ["web_1a2b3c4d"] and record["instance_naming"] == "vm_name"
    assert _record(HEALTH, ["2.1.5"], _vm("0", ("HealthExtension", VIEW_TYPE, "2.1.1")))["instance_naming"] == "instance_id"
    assert _drift.orchestration_mode({"properties": {"orchestrationMode": "Flexible"}}) == "Flexible"
    assert _drift.orchestration_mode({"properties": {}}) == _drift.orchestration_mode(None) == "Uniform"


def test_instances_being_created_or_deleted_are_neither_outdated_nor_unknown():
    """MaxSurge: new instances (new ids) are created while the old ones still run; neither is mistaken."""
    creating = {"instanceId": "12", "properties": {"instanceView": {"statuses": [{"code": "ProvisioningState/creating"}]}}}
    deleting = _vm("3", ("HealthExtension", VIEW_TYPE, "2.1.1"))
    deleting["properties"]["provisioningState"] = "Deleting"
    record = _record(HEALTH, ["2.1.5"], _vm("0", ("HealthExtension", VIEW_TYPE, "2.1.5")), creating, deleting)
    assert record["provisioning_instances"] == ["12", "3"]
    assert record["unknown_instances"] == [] and record["outdated_instances"] == [] and record["instance_count"] == 1
    assert not record["outdated"]


def test_summary_counts_each_outdated_instance_once():
    health = _record(HEALTH, ["2.1.5"], _vm("0", ("HealthExtension", VIEW_TYPE, "2.1.1")),
                     _vm("1", ("HealthExtension", VIEW_TYPE, "2.1.1")), _vm("2", ("HealthExtension", VIEW_TYPE, "2.1.5")))
    script_ext = {"name": "CustomScript", "publisher": "Microsoft.Azure.Extensions", "type": "CustomScript",
                  "model_version": "2.1", "auto_minor": False}
    script = _record(script_ext, ["2.1.10"], _vm("1", ("CustomScript", "Microsoft.Azure.Extensions.customScript", "2.1.9")),
                     _vm("2", ("CustomScript", "Microsoft.Azure.Extensions.customScript", "2.1.9")))
    assert _drift.summarize([health, script]) == {"outdated": True, "outdated_instance_count": 3}
    assert _drift.summarize([]) == {"outdated": False, "outdated_instance_count": 0}
    assert list(health) == list(_drift.RECORD_KEYS)


def test_model_extensions_and_selection():
    model = {"location": "westus", "properties": {"virtualMachineProfile": {"extensionProfile": {"extensions": [
        {"name": "HealthExtension", "properties": {"publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux",
                                                   "typeHandlerVersion": "2.1", "autoUpgradeMinorVersion": True}},
        {"name": "{extension-name}", "properties": {"autoUpgradeMinorVersion": False, "publisher": "{extension-Publisher}",
                                                    "type": "{extension-Type}", "typeHandlerVersion": "{handler-version}",
                                                    "settings": {}}},   # VirtualMachineScaleSet_Create_WithExtensionsTimeBudget
        {"name": "NoFlag", "properties": {"publisher": "P", "type": "T", "typeHandlerVersion": "1.0"}}]}}}}
    found = _drift.model_extensions(model)
    assert found[0] == HEALTH
    assert found[1]["model_version"] == "{handler-version}" and found[1]["auto_minor"] is False
    assert found[2]["auto_minor"] is False
    assert _drift.model_extensions({}) == [] and _drift.model_extensions({"properties": {}}) == []
    chosen, missing = _drift.select(found, ["healthextension", "Nope"])
    assert [e["name"] for e in chosen] == ["HealthExtension"] and missing == ["Nope"]
    assert _drift.select(found)[0] == found


def test_diff_shows_installed_before_and_target_after():
    record = _record(HEALTH, ["2.1.10"], _vm("0", ("HealthExtension", VIEW_TYPE, "2.1.9")),
                     _vm("1", ("HealthExtension", VIEW_TYPE, "2.1.10")), _vm("2", ("HealthExtension", VIEW_TYPE, "2.1.9")))
    current = _record(PINNED, ["2.1.1"], _vm("0", ("HealthExtension", VIEW_TYPE, "2.1.1")))
    shown = _drift.diff([record, current])
    label = "HealthExtension (Microsoft.ManagedServices.ApplicationHealthLinux)"
    assert shown["before"] == label + ": 2.1.9 on 2, 2.1.10 on 1\n"
    assert shown["after"] == label + ": 2.1.10 on 3 (2 outdated instances upgraded)\n"


# -- the reads against the emulator ----------------------------------------------------------
def _paged_default(emulator, page_size=3):
    data = load_scenario("default")
    data["page_size"] = page_size
    emulator.load(data)


def test_check_of_the_default_scale_set_and_its_request_count(emulator, make_client):
    """One model read, the VM list pages, one catalog read per (location, publisher, type) per cache."""
    _paged_default(emulator)
    client = make_client()
    cache = _drift.CatalogCache()
    emulator.clear_requests()
    drift = _drift.check(client, SUB, "rg-test", "vmss-healthy", cache)
    assert drift["location"] == "eastus" and drift["outdated"] is True and drift["outdated_instance_count"] == 8
    health, script = drift["extensions"]
    assert health["target_version"] == "1.1.3" and health["outdated_instances"] == ["0", "2", "3", "4", "5", "6", "7", "8"]
    assert health["unknown_instances"] == ["9"] and health["instance_versions"] == {"1.0.9": 8, "1.1.3": 1}
    assert health["instance_count"] == 10 and health["model_version"] == "1.0"
    assert script["target_version"] == "2.1.10" and not script["outdated"] and script["instance_versions"] == {"2.1.10": 9}
    arm = api_requests(emulator)
    kinds = [("model" if r["path"].endswith("/vmss-healthy") else "vms" if r["path"].endswith("/virtualMachines")
              else "catalog" if r["path"].endswith("/versions") else r["path"]) for r in arm]
    assert kinds == ["model", "vms", "vms", "vms", "vms", "catalog", "catalog"], kinds   # 10 VMs, 3 per page
    assert all(r["query"].get("$expand") == ["instanceView"] for r in arm if r["path"].endswith("/virtualMachines"))
    assert not [r for r in emulator.requests if "/instanceView" in r["path"] or "/virtualMachines/" in r["path"]]
    assert cache.reads == 2
    # A second scale set in the same location with the same extension: no catalog read at all.
    emulator.clear_requests()
    done = _drift.check(client, SUB, "rg-test", "vmss-done", cache)
    assert not done["outdated"] and done["extensions"][0]["instance_versions"] == {"1.1.3": 4}
    assert [r["path"].rsplit("/", 1)[-1] for r in api_requests(emulator)] == ["vmss-done", "virtualMachines", "virtualMachines"]
    assert cache.reads == 2


def test_only_the_named_extensions_are_read_and_judged(emulator, make_client):
    client = make_client()
    emulator.clear_requests()
    drift = _drift.check(client, SUB, "rg-test", "vmss-healthy", _drift.CatalogCache(), names=["customscript"])
    assert [r["name"] for r in drift["extensions"]] == ["CustomScript"] and drift["outdated"] is False
    assert len([r for r in api_requests(emulator) if r["path"].endswith("/versions")]) == 1
    with pytest.raises(ModuleFailure, match=r"extensions: Nope is not in the model of vmss-healthy \(its extensions: "
                                            r"HealthExtension, CustomScript\)"):
        _drift.check(client, SUB, "rg-test", "vmss-healthy", _drift.CatalogCache(), names=["Nope"])


def test_catalog_cache_reads_once_across_threads(emulator, make_client):
    emulator.add_fault({"match": {"path_regex": "/versions$"}, "action": {"delay": 0.3}})
    client = make_client()
    cache = _drift.CatalogCache()
    found, errors = [], []

    def read():
        try:
            found.append(cache.versions(client, SUB, "EastUS", "Microsoft.ManagedServices", "ApplicationHealthLinux",
                                        deadline=Deadline(30)))
        except Exception as error:  # pylint: disable=broad-except
            errors.append(error)

    threads = [threading.Thread(target=read) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and len(found) == 8 and all(f == found[0] for f in found)
    assert sorted(found[0], key=_drift.version_tuple)[-1] == "2.0.1" and "1.0.10" in found[0]
    assert cache.reads == 1 and len([r for r in api_requests(emulator) if r["path"].endswith("/versions")]) == 1


def test_a_failed_catalog_read_is_not_cached_and_unknown_types_are_empty(emulator, make_client):
    emulator.add_fault({"match": {"path_regex": "/versions$"}, "action": {"status": 403}, "times": 1})
    client = make_client()
    cache = _drift.CatalogCache()
    with pytest.raises(AzureError):
        cache.versions(client, SUB, "eastus", "Microsoft.ManagedServices", "ApplicationHealthLinux")
    assert "1.1.3" in cache.versions(client, SUB, "eastus", "Microsoft.ManagedServices", "ApplicationHealthLinux")
    assert cache.reads == 2
    assert cache.versions(client, SUB, "eastus", "Contoso", "NoSuchType") == []   # Azure's 404 for an unknown type


def test_drift_check_requests_per_scale_set_over_a_small_fleet(emulator, make_client):
    """Measured cost per scale set (stated in the report): model 1, VM list pages ceil(capacity / page size), catalog
    reads only for the first scale set of each (location, publisher, type)."""
    from tests.emulator import fleet  # pylint: disable=import-outside-toplevel
    emulator.load(fleet(12, capacity=10, page_size=4, throttling=False))
    client = make_client()
    cache = _drift.CatalogCache()
    per_set = []
    for index in range(12):
        emulator.clear_requests()
        drift = _drift.check(client, SUB, "rg-fleet-%d" % (index % 2), "vmss-%04d" % index, cache)
        assert drift["outdated"] is ((index + 1) % 3 != 0)
        # Every 4th scale set of the fleet is Flexible: the same cost, its instances named by VM name.
        flexible = (index + 1) % 4 == 0
        assert drift["instance_naming"] == ("vm_name" if flexible else "instance_id")
        assert not flexible or all(name.startswith("vmss-%04d_" % index) for name in drift["extensions"][0]["outdated_instances"])
        paths = [r["path"] for r in api_requests(emulator)]
        per_set.append((sum(p.endswith("vmss-%04d" % index) for p in paths), sum(p.endswith("/virtualMachines") for p in paths),
                        sum(p.endswith("/versions") for p in paths), len(paths)))
    assert per_set[0] == (1, 3, 1, 5) and per_set[1] == (1, 3, 1, 5)   # eastus, then westeurope: one catalog read each
    assert all(counts == (1, 3, 0, 4) for counts in per_set[2:])
    assert cache.reads == 2


def test_max_surge_drift_during_and_after_the_upgrade(emulator, make_client):
    """While a MaxSurge batch runs, its new instances are listed apart; afterwards only the new ids remain, current."""
    emulator.load({"scale_sets": [{"name": "s", "resource_group": "rg", "capacity": 4, "batch_seconds": 60,
                                   "rolling_upgrade_policy": {"maxSurge": True, "maxBatchInstancePercent": 50}}]})
    client = make_client()
    before = _drift.check(client, SUB, "rg", "s", _drift.CatalogCache())["extensions"][0]
    assert before["outdated_instances"] == ["0", "1", "2", "3"]
    client.request("POST", "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/s/"
                   "extensionRollingUpgrade" % SUB, params={"api-version": "2024-07-01"}, expected=(202,))
    emulator.advance(30)
    during = _drift.check(client, SUB, "rg", "s", _drift.CatalogCache())["extensions"][0]
    assert during["provisioning_instances"] == ["4", "5"] and during["unknown_instances"] == []
    assert during["outdated_instances"] == ["0", "1", "2", "3"] and during["instance_count"] == 4
    emulator.advance(100)
    after = _drift.check(client, SUB, "rg", "s", _drift.CatalogCache())["extensions"][0]
    assert after["outdated_instances"] == [] and after["unknown_instances"] == [] and after["provisioning_instances"] == []
    assert after["instance_count"] == 4 and after["instance_versions"] == {"1.1.3": 4}
