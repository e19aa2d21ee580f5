# -*- coding: utf-8 -*-
"""_vmss: the scale set list and resource ids; the pure decisions (plan, service-clock times)."""

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _shapes, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient, RetryPolicy
from ansible_collections.azure_ops.rollout.plugins.module_utils._pacing import Context, Pacer
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

from tests.emulator.scenarios import load_scenario
from tests.helpers import SUB, EmulatorClock, options_for


def test_id_scope_of_a_resource_id():
    assert _vmss.id_scope("/subscriptions/%s/resourceGroups/rg-Web/providers/Microsoft.Compute/"
                          "virtualMachineScaleSets/web-01" % SUB) == (SUB, "rg-Web")
    assert _vmss.id_scope("/SUBSCRIPTIONS/s/RESOURCEGROUPS/g/providers/x") == ("s", "g")
    assert _vmss.id_scope(None) == (None, None)
    assert _vmss.id_scope("/providers/Microsoft.Compute") == (None, None)


def test_scale_sets_path_quotes_its_segments():
    assert _vmss.scale_sets_path(SUB) == "/subscriptions/%s/providers/Microsoft.Compute/virtualMachineScaleSets" % SUB
    assert _vmss.scale_sets_path(SUB, "rg (web)") == (
        "/subscriptions/%s/resourceGroups/rg%%20(web)/providers/Microsoft.Compute/virtualMachineScaleSets" % SUB)


def test_list_scale_sets_of_a_subscription_and_of_a_resource_group_across_pages(emulator, make_client):
    emulator.load({"name": "list", "page_size": 2, "subscriptions": [SUB],
                   "scale_sets": [{"name": "a-%d" % i, "resource_group": "rg-a"} for i in range(3)]
                   + [{"name": "b-0", "resource_group": "rg-b"}]})
    client = make_client()
    everything = sorted(item["name"] for item in _vmss.list_scale_sets(client, SUB))
    assert everything == ["a-0", "a-1", "a-2", "b-0"]
    in_group = [_vmss.id_scope(item["id"])[1] for item in _vmss.list_scale_sets(client, SUB, "rg-a")]
    assert in_group == ["rg-a"] * 3
    lists = [r for r in emulator.requests if r["path"].endswith("/virtualMachineScaleSets")]
    assert len(lists) == 2 + 2  # two pages each


# -- the pure decisions --------------------------------------------------------------------------------------
def _shaped(code, start="2026-11-22T05:00:00.0000000+00:00"):
    return _shapes.rolling_upgrade({"properties": {"runningStatus": {"code": code, "startTime": start}}})


@pytest.mark.parametrize("code, if_running, action", [
    ("RollingForward", "wait", "attach"), ("RollingForward", "fail", "refuse"), ("RollingForward", "start", "start"),
    ("Completed", "wait", "start"), ("Faulted", "fail", "start"), ("Cancelled", "wait", "start"), (None, "wait", "start"),
])
def test_plan(code, if_running, action):
    assert _vmss.plan(_shaped(code) if code else None, if_running) == action


def test_plan_skips_a_recent_completion_by_the_service_clock():
    now = _vmss.parse_time("Sun, 22 Nov 2026 05:30:00 GMT")
    assert _vmss.plan(_shaped("Completed"), "wait", now, skip_if_completed_within=3600) == "skip"
    assert _vmss.plan(_shaped("Completed"), "wait", now, skip_if_completed_within=600) == "start"
    assert _vmss.plan(_shaped("Faulted"), "wait", now, skip_if_completed_within=3600) == "start"


def test_plan_refuses_after_a_fault_only_with_if_faulted_fail():
    assert _vmss.plan(_shaped("Faulted"), "wait", if_faulted="fail") == "refuse"
    assert _vmss.plan(_shaped("Faulted"), "wait", if_faulted="start") == "start"
    assert _vmss.plan(_shaped("Cancelled"), "wait", if_faulted="fail") == "start"
    assert _vmss.plan(_shaped("RollingForward"), "wait", if_faulted="fail") == "attach"


def test_parse_time_handles_azure_seven_digit_fractions_and_http_dates():
    assert _vmss.parse_time("2020-11-17T07:06:27.0292795+00:00").microsecond == 29279
    assert _vmss.parse_time("2020-11-17T07:06:27Z").hour == 7
    assert _vmss.parse_time("Tue, 17 Nov 2020 07:06:27 GMT").minute == 6
    assert _vmss.parse_time("yesterday") is None


# -- the watch (issue 17: the operation for the end, latest as its budget allows) --------------------------------
def _watched(emulator, on_poll=None):
    data = load_scenario("default")
    data["throttling"] = True           # Compute's buckets with Microsoft's numbers
    emulator.load(data)
    clock = EmulatorClock(emulator)
    client = AzureClient(options_for(emulator), clock=clock, pacer=Pacer(clock),
                         retry=RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_cap=4.0))
    target = (SUB, "rg-test", "vmss-healthy")
    deadline = Context(Deadline(3600, clock))
    operation, started = _vmss.start_upgrade(client, *target, deadline=deadline)
    outcome, status = _vmss.watch_upgrade(client, *target, deadline=deadline, interval=1, operation=operation,
                                          started_after=started, on_poll=on_poll and (lambda shaped: on_poll(client)))
    reads = [r for r in emulator.requests if r["kind"] == "arm" and r["method"] == "GET"]
    latest = [r["status"] for r in reads if r["path"].endswith("/rollingUpgrades/latest")]
    operations = [r["status"] for r in reads if "/operations/" in r["path"]]
    return outcome, status, latest, operations


def test_a_watch_of_its_own_upgrade_reads_the_operation_and_latest_only_as_its_budget_allows(emulator):
    outcome, status, latest, operations = _watched(emulator)
    assert outcome.done and outcome.value["running_status"]["code"] == "Completed" and status["status"] == "Succeeded"
    final = [v["latest"] for v in emulator.state()["scale_sets"] if v["name"] == "vmss-healthy"][0]["properties"]
    assert outcome.value["progress"]["successful_instance_count"] == final["progress"]["successfulInstanceCount"]
    # Batches of 60 s polled every second: the operation's status (45 tokens, 15 a minute for it) every second
    # until its bucket is down to the quarter kept for what cannot wait, then at its refill; the scale set's latest
    # only when its own bucket (36 tokens, 12 a minute) has a token above that quarter; never a 429.
    assert 429 not in latest + operations and len(operations) > len(latest)
    took = outcome.elapsed
    assert len(operations) <= 34 + took / 4 + 2 and len(latest) <= 27 + took / 5 + 2


def test_a_cancelled_upgrade_is_judged_by_latest_though_its_operation_says_succeeded(emulator):
    cancelled = []

    def cancel(client):
        if not cancelled:
            cancelled.append(_vmss.cancel_upgrade(client, SUB, "rg-test", "vmss-healthy"))

    outcome, status, latest, operations = _watched(emulator, cancel)
    assert status["status"] == "Succeeded"                      # the recorded quirk (tests/emulator/README.md)
    assert outcome.value["running_status"]["code"] == "Cancelled" and latest[-1] == 200
