"""Azure's rate limits in the emulator: ARM token buckets, Compute fixed windows, headers and 429 shapes."""

import json

import pytest

from tests.emulator import Emulator
from tests.emulator.scenarios import fleet, load_scenario
from tests.emulator.throttling import (COMPUTE_DEFAULTS, advance_budgets, FixedWindow, TokenBucket, classify, minimum_seconds,
                                       window_seconds)

SUB = "00000000-0000-0000-0000-000000000001"
VMSS = "/subscriptions/%s/resourceGroups/rg-test/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-healthy" % SUB


# ---------------------------------------------------------------------------- pure pieces
def test_token_bucket_refills_in_the_time_given():
    bucket = TokenBucket(3, 2.0, now=100.0)
    assert [bucket.take(100.0) for count in range(3)] == [(True, 2), (True, 1), (True, 0)]
    assert bucket.take(100.0) == (False, 0.5)          # one token needs 0.5 s at 2 per second
    assert bucket.take(100.25) == (False, 0.25)
    assert bucket.take(100.5) == (True, 0)
    assert bucket.take(200.0) == (True, 2)             # never more than the size


def test_fixed_window_counts_from_its_origin():
    window = FixedWindow(2, 180, origin=1000.0)
    for count in range(2):
        assert not window.full(1010.0)
        window.count += 1
    assert window.full(1179.9) and window.remaining(1179.9) == 0
    assert (window.start(), window.end()) == (1000.0, 1180.0)
    assert not window.full(1180.0) and window.remaining(1180.0) == 2   # the next window
    assert (window.start(), window.end()) == (1180.0, 1360.0)


@pytest.mark.parametrize("method, path, group", [
    ("GET", VMSS, "GetVMScaleSet"),
    ("GET", VMSS + "/rollingUpgrades/latest", "GetVMScaleSet"),
    ("GET", VMSS + "/virtualMachines", "HighCostGetVMScaleSet"),
    ("GET", VMSS + "/virtualMachines/3/instanceView", "VMScaleSetVMViews"),
    ("GET", "/subscriptions/%s/providers/Microsoft.Compute/virtualMachineScaleSets" % SUB, "HighCostGetVMScaleSet"),
    ("GET", "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/" % SUB,
     "HighCostGetVMScaleSet"),
    ("GET", "/subscriptions/%s/providers/Microsoft.Compute/locations/eastus/operations/abc" % SUB, "GetOperation"),
    ("POST", VMSS + "/extensionRollingUpgrade", "VMScaleSetActions"),
    ("POST", VMSS + "/rollingUpgrades/cancel", "VMScaleSetActions"),
    ("GET", "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a/operations/b" % SUB,
     None),
    ("POST", VMSS, None),
])
def test_requests_are_classified_by_method_and_path(method, path, group):
    assert classify(method, path) == group


def test_window_from_the_policy_name():
    assert window_seconds("GetVMScaleSet3Min") == 180
    assert window_seconds("Microsoft.Compute/HighCostGetVMScaleSet30Min") == 1800
    assert window_seconds("HighCostGet") is None
    assert all(window_seconds(name) for name in COMPUTE_DEFAULTS)


def test_minimum_seconds_the_budgets_allow():
    # 500 scale-set reads: 400 in the first 3-minute window, the rest in the next one.
    assert minimum_seconds({"GetVMScaleSet": 500}) == (180.0, "GetVMScaleSet3Min")
    # 5,300 reads: 3 windows of 30 minutes (2,600 each) bind harder than 14 of 3 minutes.
    assert minimum_seconds({"GetVMScaleSet": 5300}) == (3600.0, "GetVMScaleSet30Min")
    assert minimum_seconds({"GetVMScaleSet": 400, "reads": 250}) == (0.0, None)
    assert minimum_seconds({"reads": 1250}, time_scale=10.0) == (4.0, "subscription-reads")   # (1250-250)/25/10
    assert minimum_seconds({"VMScaleSetActions": 3}, {"compute": {"VMScaleSetActions3Min": 1}}) == (
        360.0, "VMScaleSetActions3Min")


def test_minimum_seconds_from_what_is_left():
    # 100 reads left of the 3-minute window for 20 more seconds: 500 reads need the next window (its first
    # moment), 501 the one after it.
    start = {"GetVMScaleSet3Min": {"remaining": 100, "ends_in": 20.0}}
    assert minimum_seconds({"GetVMScaleSet": 500}, start=start) == (20.0, "GetVMScaleSet3Min")
    assert minimum_seconds({"GetVMScaleSet": 501}, start=start) == (200.0, "GetVMScaleSet3Min")
    assert minimum_seconds({"GetVMScaleSet": 100}, start=start) == (0.0, None)
    # A 30-minute window used up by an earlier phase binds however few reads follow.
    start = {"GetVMScaleSet30Min": {"remaining": 0, "ends_in": 900.0}}
    assert minimum_seconds({"GetVMScaleSet": 1}, start=start, time_scale=10.0) == (90.0, "GetVMScaleSet30Min")
    # A bucket holding 50 tokens: 300 reads need (300 - 50) / 25 s.
    assert minimum_seconds({"reads": 300}, start={"subscription-reads": {"tokens": 50.0}}) == (10.0, "subscription-reads")


def test_budgets_advance_without_requests():
    start = {"subscription-reads": {"tokens": 50.0}, "GetVMScaleSet3Min": {"remaining": 3, "ends_in": 20.0},
             "GetVMScaleSet30Min": {"remaining": 100, "ends_in": 900.0}}
    later = advance_budgets(start, 30.0)
    assert later["subscription-reads"] == {"tokens": 250.0}                       # full again (25 per second)
    assert later["GetVMScaleSet3Min"] == {"remaining": 400, "ends_in": 170.0}     # a fresh window began 10 s ago
    assert later["GetVMScaleSet30Min"] == {"remaining": 100, "ends_in": 870.0}


# ---------------------------------------------------------------------------- over HTTPS
def vmss_path(name, rg="rg-test", suffix=""):
    return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s%s?api-version=2024-07-01" % (
        SUB, rg, name, suffix)


def _scenario(throttling, **extra):
    data = load_scenario("default")
    data["throttling"] = throttling
    data.update(extra)
    return data


def _resource_header(resp):
    return dict(pair.split(";") for pair in resp.headers["x-ms-ratelimit-remaining-resource"].split(","))


def test_compute_window_refuses_with_the_crp_shape_until_it_ends(emulator, client):
    emulator.load(_scenario({"compute": {"GetVMScaleSet3Min": 3}}))
    counts = []
    for count in range(3):
        resp = client.get(vmss_path("vmss-healthy"))
        assert resp.status_code == 200
        counts.append(_resource_header(resp))
    assert [c["Microsoft.Compute/GetVMScaleSet3Min"] for c in counts] == ["2", "1", "0"]
    assert [c["Microsoft.Compute/GetVMScaleSet30Min"] for c in counts] == ["2599", "2598", "2597"]
    emulator.advance(100)
    resp = client.get(vmss_path("vmss-healthy", suffix="/rollingUpgrades/latest"))   # the same policy
    assert resp.status_code == 429
    assert 79 <= int(resp.headers["Retry-After"]) <= 81                             # until the window ends (180 s)
    error = resp.json()["error"]
    assert error["code"] == "OperationNotAllowed" and "too many requests" in error["message"]
    detail = error["details"][0]
    assert detail["code"] == "TooManyRequests" and detail["target"] == "GetVMScaleSet3Min"
    inner = json.loads(detail["message"])
    assert inner["operationGroup"] == "GetVMScaleSet3Min"
    assert inner["allowedRequestCount"] == 3 and inner["measuredRequestCount"] == 4
    assert inner["startTime"] < inner["endTime"]
    assert _resource_header(resp)["Microsoft.Compute/GetVMScaleSet3Min"] == "0"
    # Other operation groups are not affected; the next window admits again.
    assert client.get(vmss_path("vmss-healthy", suffix="/virtualMachines")).status_code != 429
    emulator.advance(81)
    resp = client.get(vmss_path("vmss-healthy"))
    assert resp.status_code == 200 and _resource_header(resp)["Microsoft.Compute/GetVMScaleSet3Min"] == "2"
    assert emulator.throttling["throttled"] == {"GetVMScaleSet3Min": 1}


def test_longest_window_decides_retry_after(emulator, client):
    emulator.load(_scenario({"compute": {"VMScaleSetActions3Min": 5, "VMScaleSetActions30Min": 1}}))
    first = client.post(vmss_path("vmss-healthy", suffix="/extensionRollingUpgrade"))
    assert first.status_code == 202
    assert first.headers["x-ms-ratelimit-remaining-resource"] == (
        "Microsoft.Compute/VMScaleSetActions3Min;4,Microsoft.Compute/VMScaleSetActions30Min;0,"
        "Microsoft.Compute/VmssQueuedVMOperations;4800")
    assert first.headers["x-ms-ratelimit-remaining-subscription-writes"] == "199"
    second = client.post(vmss_path("vmss-never", suffix="/extensionRollingUpgrade"))
    assert second.status_code == 429 and 1798 <= int(second.headers["Retry-After"]) <= 1800
    assert second.json()["error"]["details"][0]["target"] == "VMScaleSetActions30Min"
    assert emulator.state()["scale_sets"][4]["latest"] is None      # refused: vmss-never did not start


def test_budgets_tell_what_is_left_and_when_each_window_ends(emulator, client):
    emulator.load(_scenario({"compute": {"GetVMScaleSet3Min": 3}}))
    emulator.advance(100)
    assert client.get(vmss_path("vmss-healthy")).status_code == 200
    budgets = emulator.budgets()
    assert budgets["GetVMScaleSet3Min"]["remaining"] == 2 and budgets["GetVMScaleSet30Min"]["remaining"] == 2599
    assert 79 <= budgets["GetVMScaleSet3Min"]["ends_in"] <= 80        # windows counted from the load
    assert 1699 <= budgets["GetVMScaleSet30Min"]["ends_in"] <= 1700
    assert 249 <= budgets["subscription-reads"]["tokens"] < 250         # one taken, refilling since
    assert budgets["HighCostGetVMScaleSet3Min"]["remaining"] == 200   # never used: full
    assert minimum_seconds({"GetVMScaleSet": 3}, start=budgets)[1] == "GetVMScaleSet3Min"


def test_arm_bucket_refuses_reads_then_refills(emulator, client):
    emulator.load(_scenario({"arm": {"reads": [3, 0.5]}}))
    aks = ("/subscriptions/%s/resourceGroups/rg-test/providers/Microsoft.ContainerService/managedClusters/aks-test/operations"
           "?api-version=2025-05-02-preview" % SUB)
    answers = [client.get(aks) for count in range(4)]
    assert [r.status_code for r in answers[:3]] == [200, 200, 200]
    assert [r.headers["x-ms-ratelimit-remaining-subscription-reads"] for r in answers[:3]] == ["2", "1", "0"]
    assert "x-ms-ratelimit-remaining-resource" not in answers[0].headers    # no Compute policy for AKS
    refused = answers[3]
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "2"     # 1 token at 0.5 per second
    error = refused.json()["error"]
    assert error["code"] == "SubscriptionRequestsThrottled"
    assert "Number of 'read' requests for subscription '%s'" % SUB in error["message"]
    # Writes have their own bucket.
    assert client.post(vmss_path("vmss-healthy", suffix="/extensionRollingUpgrade")).status_code == 202
    emulator.advance(2)
    assert client.get(aks).status_code == 200
    assert emulator.throttling["throttled"] == {"subscription-reads": 1}


def test_limits_are_per_subscription(emulator, client):
    other = "00000000-0000-0000-0000-000000000002"
    data = fleet(4, subscriptions=[SUB, other], throttling={"compute": {"HighCostGetVMScaleSet3Min": 1}})
    emulator.load(data)
    lists = ["/subscriptions/%s/providers/Microsoft.Compute/virtualMachineScaleSets?api-version=2024-07-01" % sub
             for sub in (SUB, other)]
    assert [client.get(url).status_code for url in lists] == [200, 200]
    assert [client.get(url).status_code for url in lists] == [429, 429]     # each subscription's own window
    assert emulator.throttling["throttled"] == {"HighCostGetVMScaleSet3Min": 2}


def test_switch_off_refuses_nothing_and_announces_no_budget(emulator, client):
    emulator.load(_scenario({"compute": {"GetVMScaleSet3Min": 1}}))
    emulator.set_throttling(False)
    for count in range(5):
        resp = client.get(vmss_path("vmss-healthy"))
        assert resp.status_code == 200
        assert not [name for name in resp.headers if name.lower().startswith("x-ms-ratelimit-remaining-")]
    emulator.set_throttling(True)
    assert client.get(vmss_path("vmss-healthy")).status_code == 200
    assert client.get(vmss_path("vmss-healthy")).status_code == 429
    # Through the control endpoint too.
    resp = client.session.post(emulator.base_url + "/_emulator/throttling", json={"enabled": False})
    assert resp.json()["enabled"] is False
    assert client.get(vmss_path("vmss-healthy")).status_code == 200


def test_default_is_off_demo_and_fleet_are_on(emulator):
    assert emulator.throttling["enabled"] is False
    emulator.load("demo")
    assert emulator.throttling["enabled"] is True
    emulator.load(fleet(2))
    assert emulator.throttling["enabled"] is True
    emulator.load(fleet(2, throttling=False))
    assert emulator.throttling["enabled"] is False


def test_constructor_switch_overrides_every_scenario():
    emu = Emulator(scenario="demo", throttling=False)
    assert emu.throttling["enabled"] is False
    emu.load(fleet(2))          # not started: load() works on state only
    assert emu.throttling["enabled"] is False


def test_faults_and_limits_compose(emulator, client):
    rule = {"name": "first-429", "match": {"kind": "arm", "method": "GET"}, "action": {"status": 429, "retry_after": 1},
            "times": 1}
    emulator.load(fleet(2, throttling={"compute": {"GetVMScaleSet3Min": 1}}, faults=[rule]))
    path = vmss_path("vmss-0000", rg="rg-fleet-0")
    answers = [client.get(path) for count in range(3)]
    assert [r.status_code for r in answers] == [429, 200, 429]
    assert answers[0].json()["error"]["code"] == "TooManyRequests"          # the injected fault, not counted
    assert answers[2].json()["error"]["code"] == "OperationNotAllowed"      # the limit
    assert [r["fault"] for r in emulator.requests if r["kind"] == "arm"] == ["first-429", None, None]
