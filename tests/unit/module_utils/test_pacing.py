# -*- coding: utf-8 -*-
"""_pacing: header parsing, the pacer on a fake clock, and the client under the emulator's rate limits."""

import email.utils
import re
import threading
import time

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _pacing
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient, RetryPolicy
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError
from ansible_collections.azure_ops.rollout.plugins.module_utils._pacing import AzureThrottledError, Pacer
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline, SystemClock
from ansible_collections.azure_ops.rollout.plugins.module_utils._vmss import vmss_path

from tests.emulator.scenarios import load_scenario

from tests.helpers import SUB, RecordingClock, api_requests, latest_path, options_for

API = {"api-version": "2024-07-01"}
HOST = "https://management.azure.com"
LATEST = HOST + vmss_path(SUB, "rg", "web-01", "rollingUpgrades/latest") + "?api-version=2024-07-01"
LATEST_2 = HOST + vmss_path(SUB, "rg", "web-02", "rollingUpgrades/latest") + "?api-version=2024-07-01"
OPERATION = HOST + "/subscriptions/%s/providers/Microsoft.Compute/locations/eastus/operations/abc?api-version=1" % SUB


# ---------------------------------------------------------------------------------------------- parsing
def test_parse_resource_pairs():
    value = "Microsoft.Compute/GetVMScaleSet3Min;197,Microsoft.Compute/GetVMScaleSet30Min;1297"
    assert _pacing.parse_resource(value) == [("Microsoft.Compute/GetVMScaleSet3Min", 197),
                                             ("Microsoft.Compute/GetVMScaleSet30Min", 1297)]
    # Newer names without a window, spaces, and pairs that do not parse (left out).
    assert _pacing.parse_resource(" Microsoft.Compute/HighCostGet;159 , bad, x;y, ;3,Microsoft.Compute/A;0") == [
        ("Microsoft.Compute/HighCostGet", 159), ("Microsoft.Compute/A", 0)]
    assert _pacing.parse_resource("") == [] and _pacing.parse_resource(None) == []


def test_remaining_counts_from_every_ratelimit_header():
    headers = {
        "X-Ms-Ratelimit-Remaining-Subscription-Reads": "11999",
        "x-ms-ratelimit-remaining-tenant-writes": "1199",
        "x-ms-ratelimit-remaining-subscription-deletes": "n/a",
        "x-ms-ratelimit-remaining-resource": "Microsoft.Compute/VMScaleSetActions3Min;239,"
                                             "Microsoft.Compute/VmssQueuedVMOperations;4800",
        "x-ms-request-charge": "0",
        "Retry-After": "5",
    }
    assert _pacing.remaining_counts(headers) == {
        "subscription-reads": 11999, "tenant-writes": 1199,
        "Microsoft.Compute/VMScaleSetActions3Min": 239, "Microsoft.Compute/VmssQueuedVMOperations": 4800}
    assert _pacing.remaining_counts({}) == {}


def test_windows_and_names():
    assert _pacing.horizon("Microsoft.Compute/GetVMScaleSet3Min") == 180
    assert _pacing.horizon("Microsoft.Compute/GetOperation30Min") == 1800
    assert _pacing.horizon("subscription-reads") == _pacing.ARM_HORIZON
    assert _pacing.horizon("Microsoft.Compute/HighCostGet") == _pacing.DEFAULT_HORIZON
    assert _pacing.short_name("Microsoft.Compute/GetVMScaleSet3Min") == "GetVMScaleSet3Min"
    assert [_pacing.duration_text(s) for s in (0, 45.4, 250, 3725)] == ["0s", "45s", "4m10s", "1h02m"]


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


def test_request_class_counts_alike_requests_together():
    cls = _pacing.request_class
    assert cls("GET", LATEST) == cls("get", LATEST_2) == (
        "management.azure.com", SUB, "GET",
        "/subscriptions/*/resourcegroups/*/providers/microsoft.compute/virtualmachinescalesets/*/rollingupgrades/*")
    assert cls("POST", LATEST) != cls("GET", LATEST)
    assert cls("GET", LATEST.replace(SUB, "other")) != cls("GET", LATEST)
    assert cls("GET", OPERATION)[3] == "/subscriptions/*/providers/microsoft.compute/locations/*/operations/*"
    assert cls("POST", "https://login.example/tenant/oauth2/v2.0/token")[1] == ""


def test_summarize_per_policy_in_order():
    waits = [("GetVMScaleSet3Min", 10.04), ("subscription-reads", 2), ("GetVMScaleSet3Min", 5)]
    assert _pacing.summarize(waits) == [{"policy": "GetVMScaleSet3Min", "times": 2, "seconds": 15.0},
                                        {"policy": "subscription-reads", "times": 1, "seconds": 2.0}]
    assert _pacing.summarize([]) == []


# ---------------------------------------------------------------------------------------------- the pacer
def _resource(**counts):
    return {"x-ms-ratelimit-remaining-resource": ",".join("Microsoft.Compute/%s;%d" % item for item in counts.items())}


def _send(pacer, url, headers, deadline=None, method="GET"):
    turn = pacer.turn(method, url, deadline or Deadline(None, pacer.clock))
    pacer.observe(turn, headers)
    return turn


def test_no_pacing_while_plenty_remains_then_spread_over_the_window():
    clock = RecordingClock()
    pacer = Pacer(clock, low_fraction=0.2)   # pace under 20 % of the peak
    for remaining in range(399, 80, -1):        # 20 % of 400 is the low-water mark
        _send(pacer, LATEST, _resource(GetVMScaleSet3Min=remaining))
    assert clock.sleeps == []
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=60))
    # 60 left of a 3-minute window whose start is unknown: one request every 3 s at most.
    turn = _send(pacer, LATEST_2, _resource(GetVMScaleSet3Min=59))
    assert sum(clock.sleeps) == pytest.approx(3.0) and turn.paced == pytest.approx(3.0)
    assert pacer.paced_seconds == pytest.approx(3.0)
    # Another kind of request (another budget) is not held.
    before = len(clock.sleeps)
    _send(pacer, OPERATION, _resource(GetOperation3Min=49000))
    assert len(clock.sleeps) == before
    # Nothing left: the next one waits for the window to be surely back: it ended at the latest 3 minutes after the
    # count was first reported (at 1000), its start being unknown.
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=0))
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=399))
    assert clock.now == pytest.approx(1180.0, abs=0.01)


def test_a_window_seen_coming_back_ends_pacing_and_dates_the_next():
    clock = RecordingClock()
    pacer = Pacer(clock, low_fraction=0.2)   # pace under 20 % of the peak
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=399))
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=60))
    clock.now += 3                                            # the gap it asks for (180 s / 60) has passed
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=398))   # it came back: the window started by now
    assert clock.sleeps == []
    start = clock.now
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=30))    # sent at once: 398 were left
    clock.now = start + 90
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=20))    # 30 left over the 180 s to the window's end: 6 s apart
    assert clock.sleeps == []
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=19))    # 20 left over the 90 s to the window's end
    assert sum(clock.sleeps) == pytest.approx(4.5, abs=0.01)


def test_the_window_is_learnt_from_two_comebacks():
    """A window shorter than its name says (the emulator's clock runs fast) is followed once seen twice."""
    clock = RecordingClock()
    pacer = Pacer(clock)
    for second in range(0, 13):                  # a 3-second "3Min" window of 20 requests, read every second
        clock.now = 1000.0 + second
        _send(pacer, LATEST, _resource(GetVMScaleSet3Min=19 - second % 3))
    counter = list(pacer._counters.values())[0]   # pylint: disable=protected-access
    assert 3.0 <= counter.period <= 4.0           # came back at 3, 6, 9, 12: bounded by 6 - 2 = 4, then 3 ...
    assert counter.period < _pacing.horizon("GetVMScaleSet3Min")
    # A bucket that refills has no window to learn.
    for second in range(0, 13):
        clock.now = 2000.0 + second
        _send(pacer, OPERATION, {"x-ms-ratelimit-remaining-subscription-reads": str(200 + 10 * (second % 3))})
    bucket = pacer._counters[("management.azure.com", SUB, "subscription-reads")]  # pylint: disable=protected-access
    assert bucket.period == _pacing.ARM_HORIZON and bucket.reset_at is None
    # Out-of-order answers (a little more left than the last report) are not a comeback.
    _send(pacer, LATEST_2, _resource(GetVMScaleSet3Min=10))
    _send(pacer, LATEST_2, _resource(GetVMScaleSet3Min=11))
    assert counter.reset_at == 1012.0


def test_requests_in_flight_count_before_their_answer():
    clock = RecordingClock()
    pacer = Pacer(clock, low_fraction=0.2)   # pace under 20 % of the peak
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=399))
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=100))
    turns = [pacer.turn("GET", LATEST, Deadline(None, clock)) for count in range(20)]   # 80 left once these are counted
    assert clock.sleeps == []
    turns.append(pacer.turn("GET", LATEST, Deadline(None, clock)))                    # still 80 when it asks
    assert clock.sleeps == []
    turns.append(pacer.turn("GET", LATEST, Deadline(None, clock)))                    # 79: paced, 180 s / 79
    assert sum(clock.sleeps) == pytest.approx(180.0 / 79, abs=0.01)
    for turn in turns:
        pacer.observe(turn, None)            # answers lost: no longer in flight
    assert [c.in_flight for c in pacer._counters.values()] == [0]  # pylint: disable=protected-access


def test_a_throttle_holds_its_budget_and_is_shown():
    clock = RecordingClock()
    pacer = Pacer(clock)
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=200, GetVMScaleSet30Min=2000))
    _send(pacer, OPERATION, _resource(GetOperation3Min=49000))
    pacer.throttle("GET", LATEST, "GetVMScaleSet3Min", 250)
    assert pacer.throttled() == {"policy": "GetVMScaleSet3Min", "resume_in": 250.0}
    assert pacer.note() == "throttled by Azure: GetVMScaleSet3Min, resuming in 4m10s"
    _send(pacer, OPERATION, _resource(GetOperation3Min=48999))    # not counted against that policy
    assert clock.sleeps == []
    turn = _send(pacer, LATEST_2, _resource(GetVMScaleSet3Min=399, GetVMScaleSet30Min=1999))
    assert clock.sleeps == [250.0] and turn.held == [("GetVMScaleSet3Min", 250.0)]
    assert pacer.throttled() is None and pacer.note() is None
    assert pacer.throttled(clock.now - 100) == {"policy": "GetVMScaleSet3Min", "resume_in": 100.0}


def test_a_throttle_past_the_deadline_stops_the_request_before_it_is_sent():
    clock = RecordingClock()
    pacer = Pacer(clock)
    _send(pacer, LATEST, _resource(GetVMScaleSet30Min=2000))
    pacer.throttle("GET", LATEST, "GetVMScaleSet30Min", 1200)
    with pytest.raises(AzureThrottledError) as caught:
        pacer.turn("GET", LATEST_2, Deadline(300, clock))
    assert clock.sleeps == []
    error = caught.value
    assert error.status == 429 and error.policy == "GetVMScaleSet30Min" and error.retry_after == 1200
    assert "GetVMScaleSet30Min resumes in 1200 s" in str(error) and "web-02" in str(error)


def test_an_unnamed_429_is_shown_but_holds_no_budget():
    clock = RecordingClock()
    pacer = Pacer(clock)
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=300))
    pacer.throttle("GET", LATEST, "TooManyRequests", 5)
    assert pacer.throttled() == {"policy": "TooManyRequests", "resume_in": 5.0}
    _send(pacer, LATEST_2, _resource(GetVMScaleSet3Min=299))
    assert clock.sleeps == []


def test_arm_bucket_throttle_seen_first_holds_its_class():
    clock = RecordingClock()
    pacer = Pacer(clock)
    turn = pacer.turn("GET", LATEST, Deadline(None, clock))
    pacer.observe(turn, None)
    pacer.throttle("GET", LATEST, "subscription-reads", 3)     # no header seen yet: the bucket is learnt from the 429
    _send(pacer, LATEST_2, {"x-ms-ratelimit-remaining-subscription-reads": "240"})
    assert clock.sleeps == [3.0]


def test_a_throttle_learnt_first_meets_the_headers_after_it():
    clock = RecordingClock()
    pacer = Pacer(clock)
    turn = pacer.turn("POST", LATEST, Deadline(None, clock))
    pacer.observe(turn, None)
    pacer.throttle("POST", LATEST, "VMScaleSetActions3Min", 3)
    _send(pacer, LATEST_2, _resource(VMScaleSetActions3Min=239), method="POST")
    _send(pacer, LATEST_2, _resource(VMScaleSetActions3Min=238), method="POST")
    assert clock.sleeps == [3.0]        # the throttle, then no pacing: one budget, 238 left
    assert len(pacer._counters) == 1     # pylint: disable=protected-access


def test_pacing_never_holds_a_request_past_its_deadline():
    clock = RecordingClock()
    pacer = Pacer(clock)
    _send(pacer, LATEST, _resource(GetVMScaleSet30Min=2600))
    _send(pacer, LATEST, _resource(GetVMScaleSet30Min=1))      # next one would wait the 30-minute window
    _send(pacer, LATEST, _resource(GetVMScaleSet30Min=0), deadline=Deadline(5, clock))
    assert clock.sleeps == []


def test_one_pacer_per_process_shared_by_clients():
    options = {"subscription_id": SUB, "resource_manager_endpoint": HOST}
    first, second = AzureClient(options), AzureClient(options)
    assert first.pacer is second.pacer is _pacing.PACER
    assert AzureClient(options, clock=RecordingClock()).pacer is not _pacing.PACER   # another clock, its own


def test_the_first_request_of_a_kind_goes_alone():
    """A fresh process learns what is left from one answer before its threads burst (real clock, two threads)."""
    pacer = Pacer(SystemClock())
    first = pacer.turn("GET", LATEST, Deadline(30))
    went = {}

    def second():
        turn = pacer.turn("GET", LATEST_2, Deadline(30))
        went["at"] = time.monotonic()
        pacer.observe(turn, _resource(GetVMScaleSet3Min=398))

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    assert "at" not in went                       # held while the first one is out
    answered = time.monotonic()
    pacer.observe(first, _resource(GetVMScaleSet3Min=399))
    thread.join(5)
    assert went["at"] >= answered
    # Known now (or answered without any rate-limit header): requests go side by side.
    turns = [pacer.turn("GET", LATEST, Deadline(30)) for count in range(3)]
    token = pacer.turn("POST", "https://login.example/t/oauth2/v2.0/token", Deadline(30))
    pacer.observe(token, {})
    tokens = [pacer.turn("POST", "https://login.example/t/oauth2/v2.0/token", Deadline(1)) for count in range(3)]
    assert len(turns) == len(tokens) == 3


def test_threads_sharing_a_pacer_stay_within_a_window_budget():
    """Eight threads, 160 requests, a budget of 40 per 1-second window: the pacer keeps them (almost) within it."""

    class Window:
        def __init__(self):
            self.lock = threading.Lock()
            self.start = time.monotonic()
            self.used = {}
            self.refused = 0

        def take(self):
            with self.lock:
                index = int((time.monotonic() - self.start) / 1.0)
                used = self.used.get(index, 0)
                if used >= 40:
                    self.refused += 1
                    return 0
                self.used[index] = used + 1
                return 40 - used - 1

    window = Window()
    pacer = Pacer(SystemClock())
    errors = []

    def worker():
        try:
            for count in range(20):
                turn = pacer.turn("GET", LATEST, Deadline(30))
                left = window.take()
                pacer.observe(turn, _resource(Test1Sec=left))
        except Exception as error:  # pylint: disable=broad-except
            errors.append(error)

    threads = [threading.Thread(target=worker) for count in range(8)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert window.refused <= 3, window.used
    assert time.monotonic() - began >= 2.0     # 160 requests at 40 per second need three window changes


# ---------------------------------------------------------------------------------------------- with the emulator
class EmulatorClock(RecordingClock):
    """A fake clock whose sleeps move the emulator's simulated time too (time scale 1)."""

    def __init__(self, emu):
        super().__init__()
        self.emu = emu

    def sleep(self, seconds):
        super().sleep(seconds)
        self.emu.advance(seconds)


def _limited(emulator, **compute):
    data = load_scenario("default")
    data["throttling"] = {"compute": compute}
    emulator.load(data)


def _client(emulator, clock, pacer=None):
    retry = RetryPolicy(max_attempts=6, backoff_base=0.5, backoff_cap=8.0)
    return AzureClient(options_for(emulator), clock=clock, retry=retry, pacer=pacer)


def _statuses(emulator, contains="rollingUpgrades/latest"):
    return [r["status"] for r in api_requests(emulator, "GET", contains)]


@pytest.mark.parametrize("paced", [True, False])
def test_burst_of_reads_is_paced_before_azure_says_stop(emulator, paced):
    _limited(emulator, GetVMScaleSet3Min=20, GetVMScaleSet30Min=1000)
    clock = EmulatorClock(emulator)
    pacer = Pacer(clock) if paced else Pacer(clock, low_fraction=0, low_floor=0)
    client = _client(emulator, clock, pacer)
    for count in range(50):
        body = client.get_json(latest_path("vmss-done"), params=API)[0]
        assert body["properties"]["runningStatus"]["code"] == "Completed"
    statuses = _statuses(emulator)
    # 50 reads at 20 per 3-minute window: two windows to wait for (the emulator's own clock ran a little too).
    assert clock.now - 1000.0 >= 350
    if paced:
        assert 429 not in statuses and len(statuses) == 50
        assert client.throttled() == [] and pacer.paced_seconds > 0
    else:   # the same burst without pacing meets the limit (and waits it out)
        assert statuses.count(429) == 2 and client.throttled()[0]["policy"] == "GetVMScaleSet3Min"


def test_long_retry_after_is_waited_within_the_deadline_and_recorded(emulator):
    _limited(emulator, GetVMScaleSet30Min=3)
    clock = EmulatorClock(emulator)
    client = _client(emulator, clock, Pacer(clock, low_fraction=0, low_floor=0))
    deadline = Deadline(3600, clock)
    for count in range(4):
        client.get_json(latest_path("vmss-done"), params=API, deadline=deadline)
    assert _statuses(emulator) == [200, 200, 200, 429, 200]
    [entry] = client.throttled()
    assert entry["policy"] == "GetVMScaleSet30Min" and entry["times"] == 1 and 1795 <= entry["seconds"] <= 1800
    assert client.pacer.throttled() is None      # over by now


def test_retry_after_past_the_deadline_raises_at_once(emulator):
    _limited(emulator, GetVMScaleSet30Min=3)
    clock = EmulatorClock(emulator)
    client = _client(emulator, clock, Pacer(clock, low_fraction=0, low_floor=0))
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


def test_arm_read_bucket_is_paced(emulator):
    data = load_scenario("default")
    data["throttling"] = {"arm": {"reads": [8, 1.0]}}
    emulator.load(data)
    clock = EmulatorClock(emulator)
    client = _client(emulator, clock)
    for count in range(20):
        client.get_json(latest_path("vmss-done"), params=API)
    assert 429 not in _statuses(emulator)
    assert emulator.throttling["throttled"] == {}


# ---------------------------------------------------------------------------------------------- elastic requests
def _dated(server, **counts):
    headers = _resource(**counts)
    headers["Date"] = email.utils.formatdate(server, usegmt=True)
    return headers


def test_window_end_and_clock_rate():
    assert _pacing.window_end(1000.0, 180.0, 1000.0) == 1180.0
    assert _pacing.window_end(1000.0, 180.0, 1500.0) == 1540.0
    assert _pacing.window_end(1200.0, 180.0, 1100.0) == 1200.0     # a window known to begin later ends this one
    assert _pacing.clock_rate((0.0, 100.0), (2.0, 105.0)) is None   # too close to tell
    assert _pacing.clock_rate((0.0, 100.0), (1.0, 110.0)) == 10.0   # ten ticks of the server's clock in a second
    assert _pacing.clock_rate((0.0, 100.0), (4.0, 140.0)) == 10.0   # an emulator's clock, ten times as fast
    assert _pacing.clock_rate((0.0, 100.0), (4.0, 105.0)) == 1.0    # a Date's one-second resolution: Azure's clock
    assert _pacing.clock_rate((0.0, 100.0), (4.0, 50.0)) == 1.0     # a clock that jumped back tells nothing
    assert _pacing.server_epoch({"Date": "Mon, 30 Nov 2026 03:00:00 GMT"}) == 1796007600.0
    assert _pacing.server_epoch({"Date": "yesterday"}) is None and _pacing.server_epoch({}) is None


def test_windows_follow_the_servers_clock():
    """A server whose Date runs ten times as fast has 3-minute windows of 18 local seconds."""
    clock = RecordingClock()
    pacer = Pacer(clock)
    for second in range(5):
        clock.now = 1000.0 + second
        _send(pacer, LATEST, _dated(1.7e9 + 10 * second, GetVMScaleSet3Min=300 - second))
    counter = pacer._counters[("management.azure.com", SUB, "GetVMScaleSet3Min")]  # pylint: disable=protected-access
    assert pacer._period("management.azure.com", counter) == pytest.approx(18.0)   # pylint: disable=protected-access
    assert counter.period == _pacing.horizon("GetVMScaleSet3Min")    # no comeback seen: the name's length stands


def test_polls_share_a_window_evenly_and_wait_for_its_end_when_nothing_is_left_for_them():
    clock = RecordingClock()
    pacer = Pacer(clock)
    _send(pacer, LATEST, _resource(GetVMScaleSet30Min=2600))    # at 1000: the window ends by 2800
    _send(pacer, LATEST, _resource(GetVMScaleSet30Min=1550))    # 900 above the polls' reserve (650) for 1800 s
    first = pacer.turn("GET", LATEST_2, Deadline(None, clock), elastic=True)
    second = pacer.turn("GET", LATEST_2, Deadline(None, clock), elastic=True)
    assert first.paced == 0.0 and second.paced == pytest.approx(2.0, abs=0.01)     # 1800 s / 900 (899 once counted)
    # Requests that cannot wait are not spaced: they may use the reserve.
    _send(pacer, LATEST, _resource(GetVMScaleSet30Min=600))
    _send(pacer, LATEST, _resource(GetVMScaleSet30Min=300))
    assert len(clock.sleeps) == 1
    # Nothing left above the reserve: a poll waits, looking a thirtieth of a window (60 s) after the last request
    # whether the window came back (its end is only bounded: it began at most 30 minutes before the first report).
    start = clock.now
    third = pacer.turn("GET", LATEST_2, Deadline(None, clock), elastic=True)
    assert clock.now == pytest.approx(start + 60.0) and third.paced == pytest.approx(60.0, abs=0.01)
    pacer.observe(third, _resource(GetVMScaleSet30Min=299))     # not yet
    fourth = pacer.turn("GET", LATEST_2, Deadline(None, clock), elastic=True)
    assert clock.now == pytest.approx(start + 120.0)
    pacer.observe(fourth, _resource(GetVMScaleSet30Min=2599))   # back: polls go again, 1800 s / (2599 - 650) apart
    back = clock.now
    pacer.observe(pacer.turn("GET", LATEST_2, Deadline(None, clock), elastic=True), _resource(GetVMScaleSet30Min=2598))
    assert clock.now - back == pytest.approx(1800.0 / 1948, abs=0.01)
    # A window seen to come back is dated: with nothing left, a poll waits for its end, without looking.
    _send(pacer, LATEST, _resource(GetVMScaleSet30Min=100))
    pacer.turn("GET", LATEST_2, Deadline(None, clock), elastic=True)
    assert clock.now == pytest.approx(back + 1800.0)
    # ... unless its deadline comes first: then it goes, and Azure decides.
    _send(pacer, LATEST, _resource(GetVMScaleSet30Min=10))
    before = clock.now
    pacer.turn("GET", LATEST_2, Deadline(60, clock), elastic=True)
    assert clock.now == before


def test_a_throttle_dates_the_next_window():
    clock = RecordingClock()
    pacer = Pacer(clock)
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=100))
    clock.now += 100
    pacer.throttle("GET", LATEST, "GetVMScaleSet3Min", 50)     # Compute: this window ends in 50 s
    counter = pacer._counters[("management.azure.com", SUB, "GetVMScaleSet3Min")]  # pylint: disable=protected-access
    assert pacer._back("management.azure.com", counter, clock.now) == 1150.0   # pylint: disable=protected-access
    assert pacer._back("management.azure.com", counter, 1160.0) == 1330.0      # pylint: disable=protected-access


def test_waiting_polls_go_one_gap_apart_in_threads():
    pacer = Pacer(SystemClock())
    _send(pacer, LATEST, {"x-ms-ratelimit-remaining-resource": "Microsoft.Compute/Polls2Sec;25"})   # 20 above 5 for 2 s
    went = []

    def poll():
        pacer.turn("GET", LATEST_2, Deadline(30), elastic=True)
        went.append(time.monotonic())

    threads = [threading.Thread(target=poll) for count in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    gaps = [b - a for a, b in zip(sorted(went), sorted(went)[1:])]
    assert len(went) == 5 and min(gaps) >= 0.07 and max(gaps) <= 0.3     # 2 s / 20 = 0.1 s apart


def test_answers_overtaking_each_other_are_not_a_comeback():
    clock = RecordingClock()
    pacer = Pacer(clock)
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=300))
    turns = [pacer.turn("GET", LATEST_2, Deadline(None, clock)) for count in range(10)]
    for index in reversed(range(10)):           # counted 299, 298, ... by the server, answered last first
        pacer.observe(turns[index], _resource(GetVMScaleSet3Min=299 - index))
    counter = pacer._counters[("management.azure.com", SUB, "GetVMScaleSet3Min")]  # pylint: disable=protected-access
    assert counter.reset_at is None and counter.reported == 290 and counter.remaining == 290
    _send(pacer, LATEST, _resource(GetVMScaleSet3Min=399))    # more than the ten in flight explain: a new window
    assert counter.reset_at == clock.now
