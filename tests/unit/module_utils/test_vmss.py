# -*- coding: utf-8 -*-
"""_vmss: the scale set list and resource ids; the pure decisions (plan, service-clock times)."""

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _shapes, _vmss

from tests.helpers import SUB


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
