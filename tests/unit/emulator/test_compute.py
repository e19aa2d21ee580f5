"""VMSS listing and the rolling-upgrade state machine."""

from tests.emulator import fleet


def _progress_ok(body, capacity):
    progress = body["properties"]["progress"]
    assert sum(progress.values()) == capacity
    return progress


def test_get_and_list(client):
    body = client.get(client.vmss("vmss-healthy")).json()
    assert body["sku"]["capacity"] == 10 and body["properties"]["provisioningState"] == "Succeeded"
    assert body["properties"]["upgradePolicy"]["rollingUpgradePolicy"]["maxBatchInstancePercent"] == 20
    assert body["properties"]["virtualMachineProfile"]["extensionProfile"]["extensions"][0]["name"] == "HealthExtension"
    assert client.get(client.vmss("VMSS-HEALTHY")).status_code == 200   # case-insensitive names
    listing = client.get("/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Compute/virtualMachineScaleSets"
                         "?api-version=2024-07-01").json()
    assert len(listing["value"]) == 5 and "nextLink" not in listing


def test_errors(client):
    sub = "/subscriptions/00000000-0000-0000-0000-000000000001"
    resp = client.get(client.vmss("vmss-healthy").split("?")[0])
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "MissingApiVersionParameter"
    assert client.get(client.vmss("x", sub="ffffffff-0000-0000-0000-000000000000")).json()["error"]["code"] == "SubscriptionNotFound"
    assert client.get(client.vmss("x", rg="rg-nope")).json()["error"]["code"] == "ResourceGroupNotFound"
    resp = client.get(client.vmss("nope"))
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "ResourceNotFound"
    assert client.get(sub + "/resourceGroups/rg-empty/providers/Microsoft.Compute/virtualMachineScaleSets?api-version=1").json() == {"value": []}


def test_paging(emulator, client):
    emulator.load(fleet(25))
    url = "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Compute/virtualMachineScaleSets?api-version=2024-07-01"
    names = []
    pages = 0
    while url:
        body = client.get(url).json()
        names += [v["name"] for v in body["value"]]
        url = body.get("nextLink")
        pages += 1
        assert url is None or (url.startswith(emulator.base_url) and "$skiptoken=" in url and "api-version=2024-07-01" in url)
    assert pages == 3 and len(set(names)) == 25


def test_upgrade_to_completed(emulator, client):
    resp = client.post(client.vmss("vmss-healthy", "/extensionRollingUpgrade"))
    assert resp.status_code == 202 and resp.content == b"" and resp.headers["Content-Length"] == "0"
    assert "Retry-After" not in resp.headers
    op_url, monitor = resp.headers["Azure-AsyncOperation"], resp.headers["Location"]
    op_id = op_url.split("/operations/")[1].split("?")[0]
    assert resp.headers["x-ms-request-id"] == op_id
    assert op_url.startswith(emulator.base_url + "/subscriptions/00000000-0000-0000-0000-000000000001/providers/Microsoft.Compute/locations/eastus/")
    assert monitor == op_url.split("?")[0] + "?monitor=true&api-version=2024-07-01"
    assert client.get(op_url).json()["status"] == "InProgress"
    assert client.get(monitor).status_code == 202
    emulator.advance(90)   # batch 2 of 5 in progress
    latest = client.get(client.vmss("vmss-healthy", "/rollingUpgrades/latest")).json()
    assert set(latest) == {"type", "location", "properties"}
    assert latest["properties"]["runningStatus"]["code"] == "RollingForward"
    # Instance 1 already runs the target: only the 9 outdated instances are batched and counted.
    assert _progress_ok(latest, 9) == {"successfulInstanceCount": 2, "failedInstanceCount": 0, "inProgressInstanceCount": 2, "pendingInstanceCount": 5}
    resp = client.post(client.vmss("vmss-healthy", "/osRollingUpgrade"))
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "OperationNotAllowed"
    emulator.advance(300)
    latest = client.get(client.vmss("vmss-healthy", "/rollingUpgrades/latest")).json()
    assert latest["properties"]["runningStatus"]["code"] == "Completed"
    assert _progress_ok(latest, 9)["successfulInstanceCount"] == 9
    status = client.get(op_url)
    assert status.text.count("\r\n") > 2
    assert status.json()["status"] == "Succeeded" and "endTime" in status.json() and status.json()["name"] == op_id
    final = client.get(monitor)
    assert final.status_code == 200 and final.content == b""


def test_upgrade_faulted_by_policy(emulator, client):
    op_url = client.post(client.vmss("vmss-faulty", "/osRollingUpgrade")).headers["Azure-AsyncOperation"]
    emulator.advance(61)
    latest = client.get(client.vmss("vmss-faulty", "/rollingUpgrades/latest")).json()
    props = latest["properties"]
    assert props["runningStatus"]["code"] == "Faulted"
    assert props["error"]["code"] == "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
    assert _progress_ok(latest, 10) == {"successfulInstanceCount": 0, "failedInstanceCount": 2, "inProgressInstanceCount": 0, "pendingInstanceCount": 8}
    status = client.get(op_url).json()
    assert status["status"] == "Failed" and status["error"] == props["error"]


def test_unhealthy_instance_percent_message(emulator, client):
    # 1 of 4 unhealthy before (25% <= 30%); the first batch (0, 1) fails: 3 of 4 unhealthy after it.
    emulator.load({"scale_sets": [{"name": "s", "resource_group": "rg", "capacity": 4, "unhealthy_instances": [3],
                                   "failing_instances": [0, 1], "batch_seconds": 10,
                                   "rolling_upgrade_policy": {"maxUnhealthyInstancePercent": 30, "maxBatchInstancePercent": 50,
                                                              "maxUnhealthyUpgradedInstancePercent": 100}}]})
    url = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/s"
    op_url = client.post(url + "/osRollingUpgrade?api-version=2024-07-01").headers["Azure-AsyncOperation"]
    emulator.advance(11)
    error = client.get(op_url).json()["error"]
    assert error == {"code": "MaxUnhealthyInstancePercentExceededInRollingUpgrade",
                     "message": "Rolling Upgrade failed after exceeding the MaxUnhealthyInstancePercent value defined in the RollingUpgradePolicy. "
                                "75% of instances are in an unhealthy state - more than the threshold of 30%. "
                                "To apply upgrades, consider increasing the MaxUnhealthyInstancePercent value."}


def test_too_many_unhealthy_before_the_first_batch_has_its_own_code_and_names_them(emulator, client):
    emulator.load({"scale_sets": [{"name": "s", "resource_group": "rg", "capacity": 4, "unhealthy_instances": [2, 0, 1, 3],
                                   "rolling_upgrade_policy": {"maxUnhealthyInstancePercent": 90}}]})
    url = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/s"
    op_url = client.post(url + "/osRollingUpgrade?api-version=2024-07-01").headers["Azure-AsyncOperation"]
    assert client.get(op_url).json()["status"] == "InProgress"
    emulator.advance(5)   # "within seconds"
    status = client.get(op_url).json()
    latest = client.get(url + "/rollingUpgrades/latest?api-version=2024-07-01").json()["properties"]
    assert status["status"] == "Failed" and latest["runningStatus"]["code"] == "Faulted"
    assert latest["progress"] == {"successfulInstanceCount": 0, "failedInstanceCount": 0, "inProgressInstanceCount": 0,
                                  "pendingInstanceCount": 0}
    error = latest["error"]
    assert error == status["error"]
    assert error["code"] == "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade"
    assert "100%" in error["message"] and "90%" in error["message"]
    assert [d["code"] for d in error["details"]] == ["RollingUpgradeInstanceUnhealthyError"] * 4
    assert [d["target"] for d in error["details"]] == [url + "/virtualMachines/%d" % i for i in range(4)]


def test_progress_consistent_with_pause(emulator, client):
    emulator.load({"scale_sets": [{"name": "p", "resource_group": "rg", "capacity": 7, "batch_seconds": 10, "fail_percent": 10,
                                   "rolling_upgrade_policy": {"maxBatchInstancePercent": 30, "maxUnhealthyUpgradedInstancePercent": 50,
                                                              "maxUnhealthyInstancePercent": 50, "pauseTimeBetweenBatches": "PT5S"}}]})
    url = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/p"
    client.post(url + "/extensionRollingUpgrade?api-version=2024-07-01")
    seen = []
    for attempt in range(12):
        body = client.get(url + "/rollingUpgrades/latest?api-version=2024-07-01").json()
        seen.append(_progress_ok(body, 7)["inProgressInstanceCount"])
        emulator.advance(4)
    assert 0 in seen and 3 in seen
    assert body["properties"]["runningStatus"]["code"] == "Completed"


def test_rolling_forward_and_cancel(emulator, client):
    resp = client.post(client.vmss("vmss-never", "/rollingUpgrades/cancel"))
    assert resp.status_code == 409
    assert resp.json() == {"error": {"code": "OperationNotAllowed", "message": "There is no ongoing Rolling Upgrade to cancel."}}
    latest = client.get(client.vmss("vmss-rolling", "/rollingUpgrades/latest")).json()
    assert latest["properties"]["runningStatus"]["code"] == "RollingForward"
    assert _progress_ok(latest, 6)["inProgressInstanceCount"] == 2
    resp = client.post(client.vmss("vmss-rolling", "/rollingUpgrades/cancel"))
    assert resp.status_code == 202 and resp.headers["Location"].endswith("?monitor=true&api-version=2024-07-01")
    latest = client.get(client.vmss("vmss-rolling", "/rollingUpgrades/latest")).json()
    assert latest["properties"]["runningStatus"]["code"] == "Cancelled"
    assert latest["properties"]["runningStatus"]["lastAction"] == "Cancel"
    _progress_ok(latest, 6)
    emulator.advance(2)
    assert client.get(resp.headers["Azure-AsyncOperation"]).json()["status"] == "Succeeded"
    start_op = emulator.state()["scale_sets"][2]
    assert start_op["name"] == "vmss-rolling" and start_op["operation_status"] == "Succeeded"   # SUMMARY: start op reports Succeeded
    assert client.post(client.vmss("vmss-rolling", "/rollingUpgrades/cancel")).status_code == 409


def test_latest_not_found_and_completed(client):
    resp = client.get(client.vmss("vmss-never", "/rollingUpgrades/latest"))
    assert resp.status_code == 404
    assert resp.json() == {"error": {"code": "NotFound", "message": "The entity was not found in this Azure location."}}
    body = client.get(client.vmss("vmss-done", "/rollingUpgrades/latest")).json()
    assert body["properties"]["runningStatus"]["code"] == "Completed"
    # Manual mode does not block (SUMMARY section 1)
    assert client.post(client.vmss("vmss-never", "/osRollingUpgrade")).status_code == 202


def test_time_scale(emulator, client):
    import time  # pylint: disable=import-outside-toplevel
    client.post(client.vmss("vmss-healthy", "/extensionRollingUpgrade"))
    emulator.set_time_scale(2000)
    time.sleep(0.3)
    latest = client.get(client.vmss("vmss-healthy", "/rollingUpgrades/latest")).json()
    assert latest["properties"]["runningStatus"]["code"] == "Completed"


def test_arm_headers(client):
    resp = client.get(client.vmss("vmss-healthy"), headers={"x-ms-correlation-request-id": "corr-1", "x-ms-client-request-id": "cli-1"})
    assert resp.headers["x-ms-correlation-request-id"] == "corr-1"
    assert resp.headers["x-ms-request-id"] and resp.headers["Date"].endswith("GMT")
    assert not [name for name in resp.headers if name.lower().startswith("x-ms-ratelimit-")]   # limits off here
    assert client.emu.requests[-1]["client_request_id"] == "cli-1"
