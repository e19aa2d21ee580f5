# -*- coding: utf-8 -*-
"""_pacing: parsing and classification, the pacer on a fake clock, and the client under the emulator's rate limits."""

import re

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _pacing
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient, RetryPolicy
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError
from ansible_collections.azure_ops.rollout.plugins.module_utils._pacing import AzureThrottledError, Context, Pacer, Stats
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline
from ansible_collections.azure_ops.rollout.plugins.module_utils._vmss import vmss_path

from tests.emulator.scenarios import load_scenario

from tests.helpers import SUB, EmulatorClock, RecordingClock, api_requests, latest_path, options_for, spend

API = {"api-version": "2024-07-01"}
HOST = "https://management.azure.com"
LATEST = HOST + vmss_path(SUB, "rg", "web-01", "rollingUpgrades/latest") + "?api-version=2024-07-01"
LATEST_2 = HOST + vmss_path(SUB, "rg", "web-02", "rollingUpgrades/latest") + "?api-version=2024-07-01"
OPERATION = HOST + "/subscriptions/%s/providers/Microsoft.Compute/locations/eastus/operations/abc?api-version=1" % SUB
WEB_01 = "/subscriptions/%s/resourcegroups/rg/providers/microsoft.compute/virtualmachinescalesets/web-01" % SUB


# ---------------------------------------------------------------------------------------------- parsing
def test_parse_resource_pairs():
    value = "Microsoft.Compute/GetVMScaleSet3Min;197,Microsoft.Compute/GetVMScaleSet30Min;1297"
    assert _pacing.parse_resource(value) == [("Microsoft.Compute/GetVMScaleSet3Min", 197),
                                             ("Microsoft.Compute/GetVMScaleSet30Min", 1297)]
    # Newer names without a window, spaces, and pairs that do not parse (left out).
    assert _pacing.parse_resource(" Microsoft.Compute/HighCostGet;159 , bad, x;y, ;3,Microsoft.Compute/A;0") == [
        ("Microsoft.Compute/HighCostGet", 159), ("Microsoft.Compute/A", 0)]
    assert _pacing.parse_resource("") == [] and _pacing.parse_resource(None) == []


def _error(code, message="", details=None):
    return AzureError(message, status=429, code=code, details=details)


def test_throttle_policy_named_by_compute_or_arm():
    crp = _error("OperationNotAllowed", details=[{"code": "TooManyRequests", "target": "HighCostGetVMScaleSet30Min",
                                                 "message": "{}"}])
    assert _pacing.throttle_policy(crp) == "HighCostGetVMScaleSet30Min"
    inner = _error("OperationNotAllowed", details=[{"code": "TooManyRequests",
                                                   "message": '{"operationGroup":"HighCostGet","allowedRequestCount":300}'}])
    assert _pacing.throttle_policy(inner) == "HighCostGet"
    arm = _error("SubscriptionRequestsThrottled", "Number of 'write' requests for subscription 's' actor 'a' exceeded.")
    assert _pacing.throttle_policy(arm, "GET") == "subscription-writes"
    assert _pacing.throttle_policy(_error("SubscriptionRequestsThrottled", "other words"), "DELETE") == "subscription-deletes"
    assert _pacing.throttle_policy(_error("TooManyRequests", "slow down"), "GET") is None


@pytest.mark.parametrize("method, url, categories", [
    ("GET", LATEST, [("LowCostGet", WEB_01), ("reads", None)]),
    ("GET", HOST + vmss_path(SUB, "rg", "web-01"), [("LowCostGet", WEB_01), ("reads", None)]),
    ("GET", HOST + vmss_path(SUB, "rg", "web-01", "virtualMachines") + "?$expand=instanceView",
     [("HighCostGet", WEB_01), ("reads", None)]),
    ("GET", HOST + vmss_path(SUB, "rg", "web-01", "virtualMachines/3/instanceView"),
     [("VMGet", WEB_01 + "/virtualmachines/3"), ("reads", None)]),
    ("POST", HOST + vmss_path(SUB, "rg", "web-01", "extensionRollingUpgrade"), [("Update", WEB_01), ("writes", None)]),
    ("GET", OPERATION, [("GetOperation", "/subscriptions/%s/providers/microsoft.compute/locations/eastus/operations/abc" % SUB),
                        ("reads", None)]),
    ("GET", HOST + "/subscriptions/%s/providers/Microsoft.Compute/virtualMachineScaleSets" % SUB,
     [("HighCostGet", None), ("reads", None)]),
    ("GET", HOST + "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines?$filter=x" % SUB,
     [("VMHighCostGet", None), ("reads", None)]),
    ("GET", HOST + "/subscriptions/%s/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/a" % SUB,
     [("reads", None)]),
    ("POST", "https://login.example/tenant/oauth2/v2.0/token", []),
])
def test_each_call_has_its_category(method, url, categories):
    host, subscription, found = _pacing.classify(method, url)
    assert found == categories and subscription == (SUB if categories else "")


def test_summarize_per_policy_in_order():
    waits = [("GetVMScaleSet3Min", 10.04), ("subscription-reads", 2), ("GetVMScaleSet3Min", 5)]
    assert _pacing.summarize(waits) == [{"policy": "GetVMScaleSet3Min", "times": 2, "seconds": 15.0},
                                        {"policy": "subscription-reads", "times": 1, "seconds": 2.0}]
    assert _pacing.summarize([]) == []


# ---------------------------------------------------------------------------------------------- the pacer
def _take(pacer, url, ctx, headers=None, method="GET"):
    slot = pacer.acquire(ctx, method, url)
    pacer.answer(slot, headers)
    return slot


def _bucket(pacer, name):
    return pacer.snapshot()["buckets"][name]


def test_polls_of_one_scale_set_spend_down_to_the_reserve_then_go_at_the_refill_rate():
    clock = RecordingClock()
    pacer = Pacer(clock)
    poll = Context(Deadline(None, clock), "elastic")
    for count in range(27):          # 36 tokens, a quarter kept for what cannot wait
        _take(pacer, LATEST, poll)
    assert clock.sleeps == []
    _take(pacer, LATEST, poll)
    _take(pacer, LATEST, poll)
    assert clock.sleeps == [5.0, 5.0]     # 12 a minute
    # A plan read of the same scale set (urgent) finds the reserve.
    began = clock.now
    for count in range(9):
        _take(pacer, LATEST, Context(Deadline(None, clock)))
    assert clock.now == began
    state = _bucket(pacer, SUB + "/LowCostGet/" + WEB_01)
    assert state["capacity"] == 36 and state["per_minute"] == 12 and state["tokens"] < 1
    # Another scale set has its own bucket.
    _take(pacer, LATEST_2, poll)
    assert clock.now == began


def test_the_subscription_bucket_is_shared_and_configurable():
    clock = RecordingClock()
    pacer = Pacer(clock, budgets={"LowCostGet": ((12, 36), (6, 2))})    # 2 tokens, 6 a minute for the subscription
    ctx = Context(Deadline(None, clock))
    for url in (LATEST, LATEST_2, LATEST, LATEST_2):
        _take(pacer, url, ctx)
    assert clock.sleeps == [10.0, 10.0]
    assert _bucket(pacer, SUB + "/LowCostGet/*")["capacity"] == 2


def test_remaining_counts_lower_the_bucket_they_describe_best():
    clock = RecordingClock()
    pacer = Pacer(clock)
    ctx = Context(Deadline(None, clock))
    # Another principal spent this scale set's bucket: 3 left of it, 2,000 of the subscription's.
    _take(pacer, LATEST, ctx, {"x-ms-ratelimit-remaining-resource": "Microsoft.Compute/A;3,Microsoft.Compute/B;2000",
                               "x-ms-ratelimit-remaining-subscription-reads": "100"})
    assert _bucket(pacer, SUB + "/LowCostGet/" + WEB_01)["tokens"] == 3
    assert _bucket(pacer, SUB + "/LowCostGet/*")["tokens"] == 2000
    assert _bucket(pacer, SUB + "/reads/*")["tokens"] == 100
    for count in range(4):
        _take(pacer, LATEST, ctx)
    assert clock.sleeps == [5.0]
    # A count higher than the estimate raises nothing (this process's own requests in flight explain it).
    _take(pacer, LATEST, ctx, {"x-ms-ratelimit-remaining-resource": "Microsoft.Compute/A;30"})
    assert _bucket(pacer, SUB + "/LowCostGet/" + WEB_01)["tokens"] < 1


def test_a_throttle_empties_and_holds_its_bucket_and_is_recorded():
    clock = RecordingClock()
    pacer = Pacer(clock)
    ctx = Context(Deadline(600, clock))
    slot = _take(pacer, LATEST, ctx)
    pacer.throttle(slot, "LowCostGet", 7.0, allowed=2400)      # the subscription's (its size says so)
    assert _bucket(pacer, SUB + "/LowCostGet/*")["resume_in"] == 7.0
    assert _bucket(pacer, SUB + "/LowCostGet/" + WEB_01)["resume_in"] == 0
    assert pacer.throttled() == {"policy": "LowCostGet", "resume_in": 7.0}
    assert pacer.note() == "throttled by Azure: LowCostGet, resuming in 7s"
    second = pacer.acquire(ctx, "GET", LATEST_2)        # another scale set, the same subscription bucket
    assert second.held == [("LowCostGet", 7.0)] and second.paced == 0
    pacer.answer(second)
    assert pacer.throttled() is None
    # Without a size: the emptier of the two (this scale set's, after a burst).
    pacer.reset()
    for count in range(30):
        slot = _take(pacer, LATEST, ctx)
    pacer.throttle(slot, "LowCostGet", 5.0)
    assert _bucket(pacer, SUB + "/LowCostGet/" + WEB_01)["resume_in"] == 5.0
    assert _bucket(pacer, SUB + "/LowCostGet/*")["resume_in"] == 0


def test_a_throttle_past_the_deadline_stops_the_request_before_it_is_sent():
    clock = RecordingClock()
    pacer = Pacer(clock)
    slot = _take(pacer, LATEST, Context(Deadline(None, clock)))
    pacer.throttle(slot, "GetVMScaleSet30Min", 1200.0)      # an older windowed policy: a bucket of the category
    with pytest.raises(AzureThrottledError, match="policy GetVMScaleSet30Min resumes in 1200 s, beyond the 60 s") as caught:
        pacer.acquire(Context(Deadline(60, clock)), "GET", LATEST_2)
    assert caught.value.policy == "GetVMScaleSet30Min" and clock.sleeps == []
    waited = pacer.acquire(Context(Deadline(3600, clock)), "GET", LATEST_2)
    assert waited.held == [("GetVMScaleSet30Min", 1200.0)]
    # The window is whole again when it ends: no pacing after it.
    for count in range(20):
        _take(pacer, LATEST_2, Context(Deadline(None, clock)))
    assert clock.sleeps == [1200.0]


def test_an_unnamed_429_holds_nothing():
    clock = RecordingClock()
    pacer = Pacer(clock)
    slot = _take(pacer, LATEST, Context(Deadline(None, clock)))
    pacer.throttle(slot, None, 30.0)
    assert pacer.throttled() is None and pacer.snapshot()["throttles"] == {}
    _take(pacer, LATEST, Context(Deadline(None, clock)))
    assert clock.sleeps == []


def test_an_old_window_name_in_the_answers_is_honoured():
    clock = RecordingClock()
    pacer = Pacer(clock)
    ctx = Context(Deadline(None, clock))
    _take(pacer, LATEST, ctx, {"x-ms-ratelimit-remaining-resource": "Microsoft.Compute/GetVMScaleSet30Min;2"})
    state = _bucket(pacer, SUB + "/GetVMScaleSet30Min/*")
    assert state["tokens"] == 2 and state["capacity"] == 2 and state["per_minute"] == pytest.approx(2 / 30.0, abs=0.001)
    _take(pacer, LATEST_2, ctx)
    _take(pacer, LATEST, ctx)
    assert clock.sleeps == [] and _bucket(pacer, SUB + "/GetVMScaleSet30Min/*")["tokens"] == 0
    _take(pacer, LATEST, ctx)
    assert clock.sleeps == [900.0]      # the next share of the window (2 per 30 minutes)


def test_pacing_never_holds_a_request_past_its_deadline():
    clock = RecordingClock()
    pacer = Pacer(clock, budgets={"LowCostGet": ((12, 1), None)})
    _take(pacer, LATEST, Context(Deadline(None, clock)))
    slot = pacer.acquire(Context(Deadline(2, clock)), "GET", LATEST)     # the next token is 5 s away
    assert clock.sleeps == [] and slot.paced == 0


def test_ready_says_whether_a_poll_would_go_now():
    clock = RecordingClock()
    pacer = Pacer(clock, budgets={"LowCostGet": ((12, 4), None)})
    poll = Context(Deadline(None, clock)).elastic()
    assert pacer.ready(poll, "GET", LATEST)
    for count in range(3):       # 4 tokens less a quarter for the urgent ones
        _take(pacer, LATEST, poll)
    assert not pacer.ready(poll, "GET", LATEST) and pacer.ready(Context(Deadline(None, clock)), "GET", LATEST)
    assert clock.sleeps == []


def test_a_context_carries_deadline_priority_and_statistics():
    clock = RecordingClock()
    stats = Stats()
    ctx = Context(Deadline(10, clock), stats=stats)
    poll = ctx.elastic()
    assert (poll.priority, poll.stats, poll.at) == ("elastic", stats, ctx.at) and ctx.priority == "urgent"
    assert _pacing.elastic(Deadline(5, clock)).priority == "elastic"
    clock.sleep(4)
    assert poll.remaining() == 6 and Context(poll).stats is stats
    assert Context(poll).priority == "elastic"      # the client wraps what it is given: a poll stays a poll
    stats.add("LowCostGet", 2.0)
    stats.add("LowCostGet", 1.04)
    assert stats.summary() == [{"policy": "LowCostGet", "times": 2, "seconds": 3.0}]


def test_budgets_from_the_environment(monkeypatch):
    monkeypatch.setenv(_pacing.BUDGETS_ENV, '{"LowCostGet": [[6, 18], [60, 120]], "VMHighCostGet": [null, [1, 2]]}')
    pacer = Pacer(RecordingClock())
    assert pacer.budgets["LowCostGet"] == ((6, 18), (60, 120)) and pacer.budgets["VMHighCostGet"] == (None, (1, 2))
    assert pacer.budgets["Update"] == _pacing.BUDGETS["Update"]
    monkeypatch.setenv(_pacing.BUDGETS_ENV, "not json")
    with pytest.raises(ValueError, match="AZURE_OPS_ROLLOUT_BUDGETS must be JSON"):
        Pacer(RecordingClock())


def test_one_pacer_per_process_shared_by_clients(emulator):
    first, second = AzureClient(options_for(emulator)), AzureClient(options_for(emulator))
    assert first.pacer is second.pacer is _pacing.PACER


# ---------------------------------------------------------------------------------------------- with the emulator
def _limited(emulator, **compute):
    data = load_scenario("default")
    data["throttling"] = {"compute": compute}
    emulator.load(data)
    return emulator.clock.wall()


def _client(emulator, clock, pacer=None):
    retry = RetryPolicy(max_attempts=6, backoff_base=0.5, backoff_cap=8.0)
    return AzureClient(options_for(emulator), clock=clock, retry=retry, pacer=pacer)


def _statuses(emulator, contains="rollingUpgrades/latest"):
    return [r["status"] for r in api_requests(emulator, "GET", contains)]


def _statuses(emulator, contains="rollingUpgrades/latest"):
    return [r["status"] for r in api_requests(emulator, "GET", contains)]


def test_burst_of_reads_of_one_scale_set_is_paced_before_azure_says_stop(emulator):
    data = load_scenario("default")
    data["throttling"] = True          # Compute's buckets with Microsoft's numbers
    emulator.load(data)
    clock = EmulatorClock(emulator)
    client = _client(emulator, clock, Pacer(clock))
    for count in range(50):
        body = client.get_json(latest_path("vmss-done"), params=API)[0]
        assert body["properties"]["runningStatus"]["code"] == "Completed"
    assert _statuses(emulator) == [200] * 50 and client.throttled() == []
    assert 13 * 5 <= clock.now - 1000.0 <= 15 * 5       # 36 at once, then one each 5 s


def test_throttled_is_exact_per_scale_set(emulator):
    data = load_scenario("default")
    data["throttling"] = {"compute": {"LowCostGet": {"resource": [12, 3]}}}
    emulator.load(data)
    clock = EmulatorClock(emulator)
    client = _client(emulator, clock, Pacer(clock))
    # Another principal spent vmss-done's bucket; vmss-healthy's is untouched.
    assert spend(emulator, "GET", latest_path("vmss-done"), 3) == [200] * 3
    done, healthy = Stats(), Stats()
    client.get_json(latest_path("vmss-done"), params=API, deadline=Context(Deadline(60, clock), stats=done))
    client.get_json(vmss_path(SUB, "rg-test", "vmss-healthy"), params=API,
                    deadline=Context(Deadline(60, clock), stats=healthy))
    assert _statuses(emulator, "vmss-done") == [200] * 3 + [429, 200]
    [entry] = done.summary()
    assert entry["policy"] == "LowCostGet" and entry["times"] == 1 and 1 <= entry["seconds"] <= 5
    assert healthy.summary() == []
    assert client.throttled() == done.summary()       # the module run's: every call of the client


def test_long_retry_after_is_waited_within_the_deadline_and_recorded(emulator):
    """The older window model (recorded traffic): a Retry-After of up to 1,200 s and more is waited within the deadline."""
    _limited(emulator, GetVMScaleSet30Min=3)
    clock = EmulatorClock(emulator)
    client = _client(emulator, clock)
    deadline = Context(Deadline(3600, clock))
    for count in range(4):
        client.get_json(latest_path("vmss-done"), params=API, deadline=deadline)
    assert _statuses(emulator) == [200, 200, 200, 429, 200]
    [entry] = client.throttled()
    # Paced over the window's share, then told to wait for its end: the window's 30 minutes in all.
    assert entry["policy"] == "GetVMScaleSet30Min" and entry["times"] == 1 and 1 <= entry["seconds"] <= 1800
    assert 1795 <= sum(clock.sleeps) <= 1801
    assert client.pacer.throttled() is None      # over by now


def test_retry_after_past_the_deadline_raises_at_once(emulator):
    _limited(emulator, GetVMScaleSet30Min=3)
    clock = EmulatorClock(emulator)
    client = _client(emulator, clock)
    deadline = Deadline(300, clock)
    for count in range(3):
        client.get_json(latest_path("vmss-done"), params=API, deadline=deadline)
    with pytest.raises(AzureThrottledError) as caught:
        client.get_json(latest_path("vmss-done"), params=API, deadline=deadline)
    assert clock.sleeps == []          # not a second slept into it
    assert client.throttled() == [{"policy": "GetVMScaleSet30Min", "times": 1, "seconds": 0.0}]
    text = str(caught.value)
    assert text.startswith("Azure returned 429 OperationNotAllowed: throttled by Azure on GET ")
    assert re.search(r"policy GetVMScaleSet30Min, Retry-After 1[78]\d\d s, beyond the 300 s", text), text
    assert caught.value.request_id
    # Another read of that budget is not even sent: the throttle is known.
    with pytest.raises(AzureThrottledError, match="GetVMScaleSet30Min resumes in"):
        client.get_json(latest_path("vmss-healthy"), params=API, deadline=deadline)
    assert _statuses(emulator) == [200, 200, 200, 429]
    note = client.pacer.note()
    assert re.match(r"throttled by Azure: GetVMScaleSet30Min, resuming in (29|30)m\d\ds$", note), note


def test_throttled_start_is_waited_and_posted_once_more_only(emulator):
    _limited(emulator, VMScaleSetActions3Min=1)
    clock = EmulatorClock(emulator)
    client = _client(emulator, clock)
    first = vmss_path(SUB, "rg-test", "vmss-healthy", "extensionRollingUpgrade")
    assert client.request("POST", first, params=API, expected=(202,), starts_operation=True).status == 202
    response = client.request("POST", vmss_path(SUB, "rg-test", "vmss-never", "extensionRollingUpgrade"), params=API,
                              expected=(202,), starts_operation=True, deadline=Deadline(600, clock))
    assert response.status == 202
    posts = [r["status"] for r in api_requests(emulator, "POST", "vmss-never")]
    assert posts == [202] or posts == [429, 202]     # paced ahead of the window, or told to wait for it once
    assert sum(clock.sleeps) >= 170


def test_throttled_start_is_waited_and_posted_once_more_only(emulator):
    data = load_scenario("default")
    data["throttling"] = {"compute": {"Update": {"subscription": [1, 1]}}}
    emulator.load(data)
    clock = EmulatorClock(emulator)
    client = _client(emulator, clock, Pacer(clock))
    first = vmss_path(SUB, "rg-test", "vmss-healthy", "extensionRollingUpgrade")
    assert client.request("POST", first, params=API, expected=(202,), starts_operation=True).status == 202
    response = client.request("POST", vmss_path(SUB, "rg-test", "vmss-never", "extensionRollingUpgrade"), params=API,
                              expected=(202,), starts_operation=True, deadline=Deadline(600, clock))
    assert response.status == 202
    assert [r["status"] for r in api_requests(emulator, "POST", "vmss-never")] == [429, 202]   # never two upgrades
    assert 55 <= sum(clock.sleeps) <= 61       # one token a minute
    assert client.throttled() == [{"policy": "Update", "times": 1, "seconds": 60.0}]


@pytest.mark.parametrize("told", [True, False])
def test_arm_read_bucket_is_paced(emulator, told):
    data = load_scenario("default")
    data["throttling"] = {"arm": {"reads": [8, 1.0]}}
    emulator.load(data)
    clock = EmulatorClock(emulator)
    # Told the budget (as the published ones are), the pacer meets no 429; planning from ARM's published 250 at 25
    # a second, the counts and the 429s correct it: every read gets through, at the bucket's rate.
    client = _client(emulator, clock, Pacer(clock, budgets={"reads": (None, (60, 8))} if told else None))
    for count in range(20):
        client.get_json(latest_path("vmss-done"), params=API)
    statuses = _statuses(emulator)
    assert statuses.count(200) == 20 and clock.now - 1000.0 >= 11
    if told:
        assert 429 not in statuses and emulator.throttling["throttled"] == {}
    else:
        assert client.throttled()[0]["policy"] == "subscription-reads"
