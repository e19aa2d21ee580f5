# -*- coding: utf-8 -*-
"""The OS image drift rule (pure) and its reads against the emulator: model, one VM list, cached image catalogs."""

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _drift, _os_image

from tests.helpers import SUB, api_requests

UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
GALLERY_ID = "/subscriptions/%s/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/galProd/images/web" % SUB


def _model(reference, mode="Rolling", **policy):
    upgrade = dict({"mode": mode}, **policy)
    return {"properties": {"upgradePolicy": upgrade,
                           "virtualMachineProfile": {"storageProfile": {"imageReference": reference}}}}


def _vm(instance_id, version=None, protected=False, state="Succeeded", name=None):
    ref = dict(UBUNTU, version="latest")
    if version is not None:
        ref["exactVersion"] = version
    return {"instanceId": instance_id, "name": name or "vm%s" % instance_id,
            "properties": {"provisioningState": state, "storageProfile": {"imageReference": ref},
                           "protectionPolicy": {"protectFromScaleSetActions": protected}}}


def _gallery_version(name, regions=("eastus",), exclude=False, state="Succeeded", location="eastus"):
    publishing = {"excludeFromLatest": exclude}
    if regions is not None:
        publishing["targetRegions"] = [{"name": region} for region in regions]
    return {"name": name, "location": location, "properties": {"provisioningState": state, "publishingProfile": publishing}}


# -- pure --------------------------------------------------------------------------
def test_model_image_kinds():
    platform = _os_image.model_image(_model(dict(UBUNTU, version="latest")))
    assert platform["kind"] == "platform" and not _os_image.pinned(platform)
    gallery = _os_image.model_image(_model({"id": GALLERY_ID}))
    assert gallery["kind"] == "gallery" and gallery["version"] == "latest"
    assert gallery["gallery"] == {"subscription": SUB, "resource_group": "rg-images", "gallery": "galProd", "image": "web",
                                  "version": None}
    pinned = _os_image.model_image(_model({"id": GALLERY_ID + "/versions/1.0.9"}))
    assert pinned["kind"] == "gallery" and pinned["version"] == "1.0.9" and _os_image.pinned(pinned)
    managed = _os_image.model_image(_model({"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/images/img"}))
    assert managed["kind"] == "other" and not _os_image.pinned(managed)
    assert _os_image.model_image({})["kind"] == "other"


def test_platform_target_is_the_highest_as_integer_tuples():
    listed = ["2024.1.10", "2024.1.9", "2024.1.2", "not-a-version"]
    assert _os_image.platform_target(listed) == "2024.1.10"
    assert _os_image.platform_target([]) is None and _os_image.platform_target(None) is None


def test_gallery_target_rules():
    versions = [_gallery_version("1.0.9"), _gallery_version("1.0.10"),
                _gallery_version("1.2.0", exclude=True),                        # excluded from latest
                _gallery_version("1.1.0", state="Failed"),                      # not succeeded
                _gallery_version("1.1.1", regions=["westeurope"]),              # not replicated here
                _gallery_version("1.0.11", regions=["East US 2", "eastus"])]
    assert _os_image.gallery_target(versions, "eastus") == "1.0.11"
    assert _os_image.gallery_target(versions, "westeurope") == "1.1.1"
    assert _os_image.gallery_target(versions, "East US 2") == "1.0.11"   # display names and names compare alike
    # No targetRegions: the version's own location holds it.
    assert _os_image.gallery_target([_gallery_version("2.0.0", regions=None, location="northeurope")], "northeurope") == "2.0.0"
    assert _os_image.gallery_target([_gallery_version("2.0.0", regions=None)], "westus") is None


def test_os_record_outdated_unknown_protected_and_provisioning():
    instances = [_os_image.instance_image(vm, "Uniform") for vm in (
        _vm("0", "1.0.9"), _vm("1", "1.0.10"), _vm("2"), _vm("3", "1.0.2", protected=True), _vm("4", "1.0.9", state="Deleting"))]
    image = _os_image.model_image(_model(dict(UBUNTU, version="latest")))
    record = _os_image.os_record(image, instances, "1.0.10", "Uniform")
    assert record["outdated_instances"] == ["0", "3"] and record["unknown_instances"] == ["2"]
    assert record["provisioning_instances"] == ["4"] and record["protected_instances"] == ["3"]
    assert record["instance_count"] == 4 and record["instance_versions"] == {"1.0.9": 1, "1.0.10": 1, "1.0.2": 1}
    assert record["outdated"] is True and record["note"] is None and record["instance_naming"] == "instance_id"
    assert set(record) == set(_os_image.RECORD_KEYS)
    unknown_target = _os_image.os_record(image, instances, None, "Flexible")
    assert unknown_target["outdated"] is False and "target unknown" in unknown_target["note"]
    assert unknown_target["instance_naming"] == "vm_name"


def test_flexible_instances_are_named_by_vm_name():
    assert _os_image.instance_image(_vm("7", "1.0", name="web_ab12cd34"), "Flexible")[0] == "web_ab12cd34"


def test_gallery_version_read_from_the_vm_id_when_exact_version_is_missing():
    vm = {"name": "x", "properties": {"storageProfile": {"imageReference": {"id": GALLERY_ID + "/versions/1.0.3"}}}}
    assert _os_image.running_version(vm) == "1.0.3"
    assert _os_image.running_version({"properties": {}}) is None


def test_refusals_name_the_code_and_what_to_change():
    latest = dict(UBUNTU, version="latest")
    assert _os_image.refusals(_model(latest), _os_image.model_image(_model(latest)), [("0", "1", False)]) == []
    pinned_model = _model(dict(UBUNTU, version="1.0.9"))
    refused = _os_image.refusals(pinned_model, _os_image.model_image(pinned_model), [("0", "1", False)])
    assert [item["code"] for item in refused] == ["OperationNotAllowed"]
    assert "pins image version 1.0.9" in refused[0]["message"] and "latest" in refused[0]["message"]
    gallery_pinned = _os_image.model_image(_model({"id": GALLERY_ID + "/versions/1.0.9"}))
    assert "/versions/1.0.9" in _os_image.pinned_refusal(gallery_pinned)["message"]
    assert _os_image.protected_refusal([("0", "1", True), ("1", _drift.PROVISIONING, False)])["code"] == "OperationNotAllowed"
    assert _os_image.protected_refusal([("0", "1", True), ("1", "1", False)]) is None
    assert _os_image.protected_refusal([]) is None
    assert _os_image.policy_refusal(_model(latest, mode="Automatic"))["code"] == "OperationNotAllowed"
    assert _os_image.policy_refusal(_model(latest, mode="Manual")) is None   # recordings: Manual accepted
    other = _os_image.model_image(_model({}))
    assert _os_image.image_refusal(other)["code"] == "OperationNotAllowed"


def test_explain_adds_what_to_change_for_the_window_refusal():
    error = {"code": "RollingUpgradeBatchStartTimeNotWithinScheduledWindows", "message": "Not within window."}
    explained = _os_image.explain(error)
    assert explained["code"] == error["code"] and explained["message"].startswith("Not within window. (")
    assert "maintenance" in explained["message"]
    assert _os_image.explain({"code": "Other", "message": "m"}) == {"code": "Other", "message": "m"}


def test_history_newest_first_and_shaped():
    items = [{"properties": {"startedBy": "Platform", "runningStatus": {"code": "Completed", "startTime": "2026-01-01T00:00:00Z"}}},
             {"properties": {"startedBy": "User", "runningStatus": {"code": "Faulted", "startTime": "2026-02-01T00:00:00Z"},
                             "rollbackInfo": {"successfullyRolledbackInstanceCount": 2, "failedRolledbackInstanceCount": 1}}},
             {"properties": {"startedBy": "Unknown", "runningStatus": {}}}]
    entries = _os_image.last_entries(items, 2)
    assert [entry["started_by"] for entry in entries] == ["User", "Platform"]
    assert entries[0]["rollback"] == {"rolled_back": 2, "failed": 1, "error": None} and entries[1]["rollback"] is None


def test_automatic_policy():
    assert _os_image.automatic_policy(_model({}, automaticOSUpgradePolicy={"enableAutomaticOSUpgrade": True})) == {
        "enableAutomaticOSUpgrade": True}
    assert _os_image.automatic_policy(_model({})) is None


# -- reads -------------------------------------------------------------------------
def test_catalogs_are_read_once_per_batch(make_client, emulator):
    sets = [{"name": "os-%d" % i, "resource_group": "rg-test", "capacity": 3, "image": dict(UBUNTU),
             "installed_image": "24.04.202409120"} for i in range(3)]
    emulator.load({"scale_sets": sets})
    client, cache = make_client(), _drift.CatalogCache()
    results = [_os_image.check(client, SUB, "rg-test", "os-%d" % i, cache, history=0) for i in range(3)]
    assert all(result["target_version"] == "24.04.202501140" and result["outdated_instance_count"] == 3 for result in results)
    assert cache.reads == 1 and len(api_requests(emulator, contains="/artifacttypes/vmimage/")) == 1
    assert len(api_requests(emulator)) == 1 + 3 * 2   # one catalog; per scale set: model, one VM page


def _entry(started_by, result, moved=0):
    return {"started_by": started_by, "result": result,
            "progress": {"successfulInstanceCount": 0, "failedInstanceCount": 0, "inProgressInstanceCount": moved,
                         "pendingInstanceCount": 4 - moved}}


@pytest.mark.parametrize("policy, entries, state", [
    (None, [], _os_image.NOT_DEFERRED),
    ({"enableAutomaticOSUpgrade": True}, [_entry("Platform", "RollingForward")], _os_image.NOT_DEFERRED),
    ({"enableAutomaticOSUpgrade": False, "osRollingUpgradeDeferral": True}, [_entry("Platform", "RollingForward")],
     _os_image.NOT_DEFERRED),
    ({"enableAutomaticOSUpgrade": True, "osRollingUpgradeDeferral": True}, [], _os_image.NONE_PENDING),
    ({"enableAutomaticOSUpgrade": True, "osRollingUpgradeDeferral": True}, [_entry("Platform", "RollingForward")],
     _os_image.PENDING),
    # A user's upgrade running, or the platform's ended: nothing waits for approval.
    ({"enableAutomaticOSUpgrade": True, "osRollingUpgradeDeferral": True}, [_entry("User", "RollingForward")],
     _os_image.NONE_PENDING),
    # Approved: its batches move instances.
    ({"enableAutomaticOSUpgrade": True, "osRollingUpgradeDeferral": True}, [_entry("Platform", "RollingForward", moved=1)],
     _os_image.NONE_PENDING),
    # Not only the newest by start time: an entry without one sorts last.
    ({"enableAutomaticOSUpgrade": True, "osRollingUpgradeDeferral": True},
     [_entry("Platform", "Completed"), _entry("Platform", "RollingForward")], _os_image.PENDING),
])
def test_approval_is_pending_only_when_deferred_and_a_platform_upgrade_runs_and_moved_nothing(policy, entries, state):
    assert _os_image.approval(policy, entries) == state


def test_the_instances_an_approval_moves_are_the_outdated_unprotected_ones():
    record = {"outdated_instances": ["0", "3", "4"], "protected_instances": ["3"]}
    assert _os_image.unprotected_outdated(record) == ["0", "4"]


def test_unmoved_reads_azures_counts_and_the_shaped_ones_and_takes_no_counts_for_a_wait():
    assert _os_image.unmoved({"successfulInstanceCount": 0, "inProgressInstanceCount": 0, "pendingInstanceCount": 5})
    assert not _os_image.unmoved({"successfulInstanceCount": 2, "pendingInstanceCount": 3})
    assert not _os_image.unmoved({"in_progress_instance_count": 1, "pending_instance_count": 4})
    assert _os_image.unmoved(None) and _os_image.unmoved({})
