# -*- coding: utf-8 -*-
"""The emulator's model rollouts (manual.py): latestModelApplied, model changes, manualupgrade, health, protection."""

import pytest
import requests

from tests.emulator import throttling
from tests.helpers import SUB

API = "2024-07-01"
RG = "rg-model"
NEW, OLD = "24.04.202501140", "24.04.202411030"


def _path(name, suffix=""):
    return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s%s?api-version=%s" % (
        SUB, RG, name, suffix, API)


def _vms(client, name):
    return client.get(_path(name, "/virtualMachines") + "&$expand=instanceView").json()["value"]


def _latest(client, name):
    return [vm["properties"]["latestModelApplied"] for vm in _vms(client, name)]


def _health(vm):
    view = vm["properties"]["instanceView"]
    return (view.get("vmHealth") or {}).get("status", {}).get("code")


def _upgrade(client, name, ids):
    return client.post(_path(name, "/manualupgrade"), json={"instanceIds": ids})


def _operation(client, response):
    return client.get(response.headers["Azure-AsyncOperation"]).json()


@pytest.fixture
def model(emulator):
    emulator.load("model")
    return emulator


def test_latest_model_applied_per_instance(model, client):  # pylint: disable=unused-argument
    assert _latest(client, "vmss-manual") == [False] * 10
    assert _latest(client, "vmss-rolling-model") == [False] * 4 + [True] * 6
    vm = _vms(client, "vmss-manual")[1]
    assert vm["zones"] == ["2"] and _health(vm) == "HealthState/healthy"
    assert vm["properties"]["storageProfile"]["imageReference"]["exactVersion"] == OLD
    assert vm["properties"]["protectionPolicy"] == {"protectFromScaleIn": False, "protectFromScaleSetActions": False}


def test_a_model_change_makes_every_instance_outdated(model, client):  # pylint: disable=unused-argument
    assert _latest(client, "vmss-automatic") == [True] * 4
    tagged = client.request("PATCH", _path("vmss-rolling-model"), json={"tags": {"ring": "x"}})
    assert tagged.status_code == 200 and tagged.json()["tags"] == {"ring": "x"}
    assert _latest(client, "vmss-rolling-model") == [False] * 4 + [True] * 6     # tags are not the model
    sized = client.request("PATCH", _path("vmss-rolling-model"), json={"sku": {"name": "Standard_D4s_v3"}})
    assert sized.json()["sku"]["name"] == "Standard_D4s_v3"
    assert _latest(client, "vmss-rolling-model") == [False] * 10
    assert {vm["sku"]["name"] for vm in _vms(client, "vmss-rolling-model")} == {"Standard_D2s_v3"}
    setting = {"properties": {"virtualMachineProfile": {"osProfile": {"customData": "e30="}}}}
    assert client.request("PATCH", _path("vmss-rolling-model"), json=setting).json()["properties"][
        "virtualMachineProfile"]["osProfile"] == {"customData": "e30="}
    refused = client.request("PATCH", _path("vmss-rolling-model"), json={"sku": {"capacity": 20}})
    assert refused.status_code == 400


def test_manualupgrade_is_an_operation_with_a_per_instance_duration(model, client):
    response = _upgrade(client, "vmss-manual", ["0", "3"])
    assert response.status_code == 202 and response.content == b""
    assert "monitor=true" in response.headers["Location"]
    assert _operation(client, response)["status"] == "InProgress"
    vm = _vms(client, "vmss-manual")[0]
    assert vm["properties"]["provisioningState"] == "Updating" and _health(vm) == "HealthState/initializing"
    assert vm["properties"]["instanceView"]["statuses"][0]["code"] == "ProvisioningState/updating"
    assert _upgrade(client, "vmss-manual", ["3"]).status_code == 409      # already being updated
    model.advance(121)
    assert _operation(client, response)["status"] == "Succeeded"
    assert client.get(response.headers["Location"]).status_code == 200
    vms = _vms(client, "vmss-manual")
    assert [vm["properties"]["latestModelApplied"] for vm in vms] == [True, False, False, True] + [False] * 6
    assert vms[0]["properties"]["storageProfile"]["imageReference"]["exactVersion"] == NEW
    assert vms[1]["properties"]["storageProfile"]["imageReference"]["exactVersion"] == OLD
    assert vms[0]["properties"]["provisioningState"] == "Succeeded" and _health(vms[0]) == "HealthState/healthy"


def test_some_instances_come_back_unhealthy(model, client):
    response = _upgrade(client, "vmss-manual-sick", ["1", "2", "4", "5", "7", "9"])
    model.advance(61)
    assert _operation(client, response)["status"] == "InProgress"          # instance 4 takes 300 s
    model.advance(240)
    assert _operation(client, response)["status"] == "Succeeded"           # the health probe's verdict is not the operation's
    vms = _vms(client, "vmss-manual-sick")
    health = {vm["instanceId"]: _health(vm) for vm in vms}
    assert health["2"] == health["5"] == "HealthState/unhealthy"
    assert health["1"] == health["4"] == health["7"] == "HealthState/healthy"     # 7 was unhealthy before
    latest = {vm["instanceId"]: vm["properties"]["latestModelApplied"] for vm in vms}
    assert latest["2"] and latest["7"] and not latest["9"] and not latest["0"]   # 9 is protected
    assert vms[9]["properties"]["protectionPolicy"]["protectFromScaleSetActions"] is True


def test_without_a_health_probe_a_failed_update_fails_the_operation(model, client):
    vm = _vms(client, "vmss-manual-noprobe")[0]
    assert "vmHealth" not in vm["properties"]["instanceView"]
    response = _upgrade(client, "vmss-manual-noprobe", ["2", "3"])
    model.advance(61)
    status = _operation(client, response)
    assert status["status"] == "Failed" and status["error"]["code"] == "OSProvisioningTimedOut"
    assert [item["target"].rsplit("/", 1)[1] for item in status["error"]["details"]] == ["3"]
    vms = _vms(client, "vmss-manual-noprobe")
    assert vms[3]["properties"]["provisioningState"] == "Failed" and not vms[3]["properties"]["latestModelApplied"]
    assert vms[3]["properties"]["instanceView"]["statuses"][0]["level"] == "Error"
    assert vms[2]["properties"]["latestModelApplied"] is True
    assert vms[5]["properties"]["instanceView"]["statuses"][1]["code"] == "PowerState/deallocated"


def test_automatic_policy_updates_every_instance_at_once(model, client):
    changed = client.request("PATCH", _path("vmss-automatic"), json={"properties": {"virtualMachineProfile": {
        "storageProfile": {"imageReference": {"version": NEW}}}}})
    assert changed.status_code == 200
    assert changed.json()["properties"]["virtualMachineProfile"]["storageProfile"]["imageReference"]["version"] == NEW
    assert {vm["properties"]["provisioningState"] for vm in _vms(client, "vmss-automatic")} == {"Updating", "Succeeded"}
    model.advance(61)
    vms = _vms(client, "vmss-automatic")
    assert [vm["properties"]["latestModelApplied"] for vm in vms] == [True, False, True, True]   # 1 is protected
    assert [vm["properties"]["storageProfile"]["imageReference"]["exactVersion"] for vm in vms] == [NEW, OLD, NEW, NEW]


def test_flexible_takes_vm_names_and_reports_no_latest_model(model, client):
    names = model.state()["scale_sets"][-1]["vm_names"]
    assert _upgrade(client, "vmss-flex-manual", ["0"]).status_code == 400       # instance ids name nothing here
    response = _upgrade(client, "vmss-flex-manual", [names[1]])
    assert response.status_code == 202
    model.advance(61)
    assert _operation(client, response)["status"] == "Succeeded"
    assert [i["latest_model"] for i in model.state()["scale_sets"][-1]["instances"]] == [False, True, False]
    scale_set_id = _path("vmss-flex-manual").split("?")[0]
    url = ("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines?api-version=%s"
           "&$filter='virtualMachineScaleSet/id' eq '%s'" % (SUB, RG, API, scale_set_id))
    assert all("latestModelApplied" not in vm["properties"] for vm in client.get(url).json()["value"])


@pytest.mark.parametrize("body", [None, {}, {"instanceIds": []}, {"instanceIds": "0"}, {"instanceIds": ["42"]}])
def test_bad_manualupgrade_bodies(model, client, body):  # pylint: disable=unused-argument
    response = client.post(_path("vmss-manual", "/manualupgrade"), json=body)
    assert response.status_code == 400 and response.json()["error"]["code"] == "InvalidParameter"


def test_control_changes_the_model(model, client):
    assert model.change_model("vmss-manual", {"properties": {"virtualMachineProfile": {
        "storageProfile": {"imageReference": {"version": "24.04.202409300"}}}}}) == 2
    url = model.base_url + "/_emulator/model"
    answer = requests.post(url, json={"scale_set": "vmss-rolling-model", "patch": {"sku": {"name": "Standard_F2"}}},
                           verify=model.ca_path, timeout=10)
    assert answer.status_code == 200 and answer.json()["model_generation"] == 2
    assert _latest(client, "vmss-rolling-model") == [False] * 10
    assert requests.post(url, json={"scale_set": "nope"}, verify=model.ca_path, timeout=10).status_code == 400
    with pytest.raises(ValueError):
        model.change_model("vmss-manual", {"sku": {"capacity": 3}})


def test_manualupgrade_is_an_update_request():
    assert throttling.bucket_category("POST", _path("vmss-manual", "/manualupgrade").split("?")[0])[0] == "Update"
    assert throttling.bucket_category("PATCH", _path("vmss-manual").split("?")[0])[0] == "Update"


def test_rolling_policy_rolls_a_model_change_out_itself(model, client):
    changed = client.request("PATCH", _path("vmss-rolling-model"), json={"sku": {"name": "Standard_D4s_v3"}})
    assert changed.status_code == 200
    latest = client.get(_path("vmss-rolling-model", "/rollingUpgrades/latest")).json()["properties"]
    assert latest["runningStatus"]["code"] == "RollingForward"
    assert latest["progress"]["inProgressInstanceCount"] == 3 and latest["progress"]["pendingInstanceCount"] == 7
    model.advance(301)
    assert _latest(client, "vmss-rolling-model") == [True] * 3 + [False] * 7
    model.advance(900)
    latest = client.get(_path("vmss-rolling-model", "/rollingUpgrades/latest")).json()["properties"]
    assert latest["runningStatus"]["code"] == "Completed" and latest["progress"]["successfulInstanceCount"] == 10
    vms = _vms(client, "vmss-rolling-model")
    assert [vm["properties"]["latestModelApplied"] for vm in vms] == [True] * 10
    assert {vm["sku"]["name"] for vm in vms} == {"Standard_D4s_v3"}
