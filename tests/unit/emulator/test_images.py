# -*- coding: utf-8 -*-
"""The emulator's OS images: catalogs, per-instance image versions, osRollingUpgrade and its refusals, the history."""

import pytest

from tests.helpers import SUB

API = "2024-07-01"

UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
NEWEST, OLD = "24.04.202501140", "24.04.202409120"
RG_VMS = "/subscriptions/%s/resourceGroups/rg-test/providers/Microsoft.Compute/virtualMachines?api-version=%s" % (SUB, API)


def _load(emulator, **spec):
    base = {"name": "vmss-os", "resource_group": "rg-test", "capacity": 5, "batch_seconds": 10, "image": dict(UBUNTU),
            "installed_image": {"default": "latest", "1": OLD, "4": OLD},
            "rolling_upgrade_policy": {"maxBatchInstancePercent": 20}}
    catalog = spec.pop("image_catalog", {})
    base.update(spec)
    emulator.load({"scale_sets": [base], "image_catalog": catalog})


def _image_versions(client, flexible=False):
    if flexible:
        url = RG_VMS + "&$filter='virtualMachineScaleSet/id' eq '%s'" % client.vmss("vmss-os").split("?")[0]
    else:
        url = client.vmss("vmss-os", "/virtualMachines")
    vms = client.get(url).json()["value"]
    return [vm["properties"]["storageProfile"]["imageReference"].get("exactVersion") for vm in vms]


def test_platform_versions_list_is_a_bare_array_in_string_order(client):
    url = ("/subscriptions/%s/providers/Microsoft.Compute/locations/eastus/publishers/Canonical/artifacttypes/vmimage/"
           "offers/ubuntu-24_04-lts/skus/server/versions?api-version=%s" % (SUB, API))
    body = client.get(url).json()
    assert isinstance(body, list) and body[0]["location"] == "eastus" and body[0]["id"].endswith("/" + body[0]["name"])
    names = [item["name"] for item in body]
    assert NEWEST in names and OLD in names
    assert client.get(url.replace("/skus/server/", "/skus/nope/")).status_code == 404


def test_non_numeric_listing_order(emulator, client):
    emulator.load({"image_catalog": {"platform": [dict(UBUNTU, sku="x", versions=["1.0.9", "1.0.10", "1.0.2"])]}})
    url = ("/subscriptions/%s/providers/Microsoft.Compute/locations/eastus/publishers/Canonical/artifacttypes/vmimage/"
           "offers/ubuntu-24_04-lts/skus/x/versions?api-version=%s" % (SUB, API))
    assert [item["name"] for item in client.get(url).json()] == ["1.0.10", "1.0.2", "1.0.9"]


def test_gallery_versions_are_paged_with_publishing_profile(emulator, client):
    emulator.load({"page_size": 1, "image_catalog": {"galleries": [
        {"resource_group": "rg-images", "gallery": "g", "image": "web",
         "versions": [{"name": "1.0.0"}, {"name": "1.1.0", "exclude_from_latest": True, "regions": ["eastus", "westus"]}]}]}})
    url = ("/subscriptions/%s/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/g/images/web/versions"
           "?api-version=2023-07-03" % SUB)
    first = client.get(url).json()
    assert [v["name"] for v in first["value"]] == ["1.0.0"] and first["nextLink"]
    second = client.get(first["nextLink"]).json()["value"][0]
    assert second["properties"]["publishingProfile"] == {
        "excludeFromLatest": True, "targetRegions": [{"name": "eastus", "regionalReplicaCount": 1},
                                                     {"name": "westus", "regionalReplicaCount": 1}]}
    assert second["properties"]["provisioningState"] == "Succeeded"


@pytest.mark.parametrize("flexible", [False, True])
def test_os_upgrade_moves_only_outdated_instances(emulator, client, flexible):
    _load(emulator, orchestration_mode="Flexible" if flexible else "Uniform")
    assert _image_versions(client, flexible) == [NEWEST, OLD, NEWEST, NEWEST, OLD]
    assert client.post(client.vmss("vmss-os", "/osRollingUpgrade")).status_code == 202
    latest = client.get(client.vmss("vmss-os", "/rollingUpgrades/latest")).json()["properties"]
    assert latest["progress"]["pendingInstanceCount"] + latest["progress"]["inProgressInstanceCount"] == 2
    emulator.advance(100)
    latest = client.get(client.vmss("vmss-os", "/rollingUpgrades/latest")).json()["properties"]
    assert latest["runningStatus"]["code"] == "Completed" and latest["progress"]["successfulInstanceCount"] == 2
    assert _image_versions(client, flexible) == [NEWEST] * 5


def test_protected_instances_are_not_moved(emulator, client):
    _load(emulator, protected_instances=[1])
    client.post(client.vmss("vmss-os", "/osRollingUpgrade"))
    emulator.advance(100)
    assert _image_versions(client) == [NEWEST, OLD, NEWEST, NEWEST, NEWEST]
    vm = client.get(client.vmss("vmss-os", "/virtualMachines")).json()["value"][1]
    assert vm["properties"]["protectionPolicy"]["protectFromScaleSetActions"] is True


@pytest.mark.parametrize("spec", [{"image": dict(UBUNTU, version=OLD)}, {"protected_instances": [0, 1, 2, 3, 4]},
                                  {"upgrade_mode": "Automatic"}])
def test_refusals_are_409_operation_not_allowed(emulator, client, spec):
    _load(emulator, **spec)
    resp = client.post(client.vmss("vmss-os", "/osRollingUpgrade"))
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "OperationNotAllowed"
    assert client.get(client.vmss("vmss-os", "/rollingUpgrades/latest")).status_code == 404   # nothing started


def test_pinned_model_reference_and_vm_exact_version(emulator, client):
    _load(emulator, image=dict(UBUNTU, version=OLD), installed_image="latest")
    model = client.get(client.vmss("vmss-os")).json()
    assert model["properties"]["virtualMachineProfile"]["storageProfile"]["imageReference"] == dict(UBUNTU, version=OLD)
    assert _image_versions(client) == [OLD] * 5   # "latest" of a pinned model is the pinned version


def test_scheduled_window_refusal_faults_before_the_first_batch(emulator, client):
    _load(emulator, outside_maintenance_window=True)
    assert client.post(client.vmss("vmss-os", "/osRollingUpgrade")).status_code == 202
    emulator.advance(30)
    latest = client.get(client.vmss("vmss-os", "/rollingUpgrades/latest")).json()["properties"]
    assert latest["runningStatus"]["code"] == "Faulted"
    assert latest["error"]["code"] == "RollingUpgradeBatchStartTimeNotWithinScheduledWindows"
    assert _image_versions(client) == [NEWEST, OLD, NEWEST, NEWEST, OLD]


def test_history_names_who_started_each_upgrade(emulator, client):
    _load(emulator, platform_upgrade={"kind": "os", "after_requests": 0},
          os_upgrade_history=[{"started_by": "User", "target_version": OLD, "result": "Faulted", "rolled_back": 1,
                               "error_code": "MaxUnhealthyInstancePercentExceededInRollingUpgrade"}])
    client.get(client.vmss("vmss-os"))     # the platform starts its OS upgrade
    emulator.advance(100)
    history = client.get(client.vmss("vmss-os", "/osUpgradeHistory")).json()["value"]
    assert [item["properties"]["startedBy"] for item in history] == ["Platform", "User"]
    newest, older = history[0]["properties"], history[1]["properties"]
    assert newest["runningStatus"]["code"] == "Completed" and newest["targetImageReference"]["version"] == NEWEST
    assert "endTime" in newest["runningStatus"]
    assert older["error"]["code"] == "MaxUnhealthyInstancePercentExceededInRollingUpgrade"
    assert older["rollbackInfo"]["successfullyRolledbackInstanceCount"] == 1
    client.post(client.vmss("vmss-os", "/osRollingUpgrade"))
    history = client.get(client.vmss("vmss-os", "/osUpgradeHistory")).json()["value"]
    assert history[0]["properties"]["startedBy"] == "User" and history[0]["properties"]["runningStatus"]["code"] in (
        "RollingForward", "Completed")


def test_scale_set_without_image_keeps_the_older_os_model(emulator, client):
    emulator.load({"scale_sets": [{"name": "plain", "resource_group": "rg-test", "capacity": 4, "batch_seconds": 10}]})
    vm = client.get(client.vmss("plain", "/virtualMachines")).json()["value"][0]
    assert "storageProfile" not in vm["properties"]
    client.post(client.vmss("plain", "/osRollingUpgrade"))
    progress = client.get(client.vmss("plain", "/rollingUpgrades/latest")).json()["properties"]["progress"]
    assert sum(progress.values()) == 4   # every instance moves


DEFERRED = {"enableAutomaticOSUpgrade": True, "osRollingUpgradeDeferral": True}


def test_a_deferred_platform_os_upgrade_waits_for_approval_then_moves_the_outdated_instances(emulator, client):
    _load(emulator, automatic_os_upgrade_policy=dict(DEFERRED), platform_upgrade={"kind": "os", "after_requests": 1})
    # Nothing waits yet: an approval is refused (the platform starts its upgrade at the next request).
    assert client.post(client.vmss("vmss-os", "/approveRollingUpgrade")).status_code == 409
    emulator.advance(1000)   # however long it waits, nothing moves before the approval
    latest = client.get(client.vmss("vmss-os", "/rollingUpgrades/latest")).json()["properties"]
    assert latest["runningStatus"]["code"] == "RollingForward"
    assert latest["progress"] == {"successfulInstanceCount": 0, "failedInstanceCount": 0, "inProgressInstanceCount": 0,
                                  "pendingInstanceCount": 2}
    newest = client.get(client.vmss("vmss-os", "/osUpgradeHistory")).json()["value"][0]["properties"]
    assert (newest["startedBy"], newest["runningStatus"]["code"]) == ("Platform", "RollingForward")
    assert _image_versions(client) == [NEWEST, OLD, NEWEST, NEWEST, OLD]
    # A user's start is refused while it waits, as while any upgrade runs.
    assert client.post(client.vmss("vmss-os", "/osRollingUpgrade")).status_code == 409
    approved = client.post(client.vmss("vmss-os", "/approveRollingUpgrade"), json={"instanceIds": ["1", "4"]})
    assert approved.status_code == 202 and "Azure-AsyncOperation" in approved.headers
    assert client.get(approved.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"
    assert client.post(client.vmss("vmss-os", "/approveRollingUpgrade")).status_code == 409   # approved already
    emulator.advance(100)
    latest = client.get(client.vmss("vmss-os", "/rollingUpgrades/latest")).json()["properties"]
    assert latest["runningStatus"]["code"] == "Completed" and latest["progress"]["successfulInstanceCount"] == 2
    assert _image_versions(client) == [NEWEST] * 5


def test_without_deferral_a_platform_os_upgrade_moves_at_once(emulator, client):
    _load(emulator, automatic_os_upgrade_policy={"enableAutomaticOSUpgrade": True},
          platform_upgrade={"kind": "os", "after_requests": 0})
    # The platform's upgrade starts at this request and does not wait: nothing to approve.
    assert client.post(client.vmss("vmss-os", "/approveRollingUpgrade")).status_code == 409
    emulator.advance(100)
    assert client.get(client.vmss("vmss-os", "/rollingUpgrades/latest")).json()["properties"]["runningStatus"]["code"] == "Completed"
