# -*- coding: utf-8 -*-
"""vmss_rolling_upgrade_info and vmss_extension_upgrade: shaping, idempotence, check mode, outcomes."""

import json

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _vmss, _shapes

from .conftest import api_requests

FAST = {"poll_interval": 1, "resource_group": "rg-test"}


# -- pure decisions -------------------------------------------------------------------------------
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


def test_shape_of_the_minimum_set_tolerates_absent_fields():
    shaped = _shapes.rolling_upgrade({})
    assert shaped["running_status"] == {"code": None, "start_time": None, "last_action": None, "last_action_time": None}
    assert shaped["progress"]["pending_instance_count"] == 0 and shaped["error"] is None
    assert shaped["is_terminal"] is False and "id" not in shaped


def test_shape_of_the_maximum_set():
    body = {"id": "/x", "name": "n", "type": "t", "location": "westus", "tags": {"Ring-Name": "canary"},
            "properties": {"policy": {"maxBatchInstancePercent": 49, "pauseTimeBetweenBatches": "PT1S"},
                           "runningStatus": {"code": "Faulted", "startTime": "s", "lastAction": "Start", "lastActionTime": "l"},
                           "progress": {"successfulInstanceCount": 3, "failedInstanceCount": 1,
                                        "inProgressInstanceCount": 0, "pendingInstanceCount": 6},
                           "error": {"code": "MaxUnhealthyInstancePercentExceededInRollingUpgrade", "message": "m",
                                     "details": [{"code": "c", "target": "t", "message": "d"}],
                                     "innererror": {"exceptiontype": "e", "errordetail": "d"}}}}
    shaped = _shapes.rolling_upgrade(body)
    assert shaped["tags"] == {"Ring-Name": "canary"}  # user data keeps its keys
    assert shaped["policy"] == {"max_batch_instance_percent": 49, "pause_time_between_batches": "PT1S"}
    assert shaped["running_status"]["last_action_time"] == "l"
    assert shaped["percent_complete"] == 40.0 and shaped["is_terminal"] is True
    assert shaped["error"]["innererror"] == {"exceptiontype": "e", "errordetail": "d"}


# -- the info module ----------------------------------------------------------------------------------
def test_info_running(run_module):
    failed, result = run_module("vmss_rolling_upgrade_info", resource_group="rg-test", name="vmss-rolling")
    assert not failed and result["exists"] and not result["changed"]
    upgrade = result["rolling_upgrade"]
    assert upgrade["running_status"]["code"] == "RollingForward" and upgrade["is_terminal"] is False
    assert sum(upgrade["progress"].values()) == 6


def test_info_never_upgraded_is_not_an_error(run_module):
    failed, result = run_module("vmss_rolling_upgrade_info", resource_group="rg-test", name="vmss-never")
    assert not failed and result["exists"] is False and "rolling_upgrade" not in result


def test_info_missing_scale_set_is_an_error_with_azure_code(run_module):
    failed, result = run_module("vmss_rolling_upgrade_info", resource_group="rg-test", name="vmss-nope")
    assert failed and "404 ResourceNotFound" in result["msg"]
    assert result["error"]["code"] == "ResourceNotFound"


# -- the upgrade module -----------------------------------------------------------------------------
def test_upgrade_starts_waits_and_completes(run_module, emulator):
    emulator.set_time_scale(60)
    failed, result = run_module("vmss_extension_upgrade", name="vmss-healthy", wait_timeout=60, **FAST)
    assert not failed, result["msg"]
    assert result["changed"] and result["upgrade_started"] and result["action"] == "start"
    assert result["rolling_upgrade"]["running_status"]["code"] == "Completed"
    assert result["operation"]["status"] == "Succeeded"
    assert result["timeline"][-1]["code"] == "Completed" and result["polls"] >= 2
    assert len(api_requests(emulator, "POST")) == 1


def test_upgrade_fault_fails_with_azure_code_and_keeps_the_result(run_module, emulator):
    emulator.set_time_scale(60)
    failed, result = run_module("vmss_extension_upgrade", name="vmss-faulty", wait_timeout=60, **FAST)
    assert failed
    assert "MaxUnhealthy" in result["msg"] and "failed 2" in result["msg"]
    assert result["rolling_upgrade"]["running_status"]["code"] == "Faulted"
    assert result["operation"]["status"] == "Failed" and result["operation"]["error"]["code"].startswith("MaxUnhealthy")
    # A re-run with if_faulted=fail refuses before any POST and names the fault; if_faulted=start starts again.
    emulator.clear_requests()
    failed, again = run_module("vmss_extension_upgrade", name="vmss-faulty", if_faulted="fail", wait_timeout=60, **FAST)
    assert failed and again["action"] == "refuse" and not again["changed"]
    assert "Faulted" in again["msg"] and "MaxUnhealthy" in again["msg"] and "if_faulted=start" in again["msg"]
    assert api_requests(emulator, "POST") == []
    failed, again = run_module("vmss_extension_upgrade", name="vmss-faulty", if_faulted="start", wait=False, **FAST)
    assert not failed and again["action"] == "start" and len(api_requests(emulator, "POST")) == 1


@pytest.mark.parametrize("action", [{"drop": True, "apply": True}, {"status": 500}])
def test_lost_answer_to_the_start_is_resolved_by_asking_the_service(run_module, emulator, action):
    emulator.set_time_scale(60)
    emulator.add_fault({"match": {"method": "POST", "kind": "arm"}, "action": action, "times": 1})
    failed, result = run_module("vmss_extension_upgrade", name="vmss-healthy", wait_timeout=60, **FAST)
    posts = api_requests(emulator, "POST")
    assert len(posts) == 1  # never sent twice
    if action.get("apply"):
        # The service did start it: the task watches that upgrade to the end and says so.
        assert not failed, result["msg"]
        assert result["upgrade_started"] and result["changed"] and result["operation_url"] is None
        assert result["rolling_upgrade"]["running_status"]["code"] == "Completed"
        assert "answer to the start request was lost" in json.dumps(result), sorted(result)
    else:
        # It did not: the error is reported as Azure sent it.
        assert failed and "500 InternalServerError" in result["msg"]


def test_upgrade_attaches_to_a_running_one(run_module, emulator):
    failed, result = run_module("vmss_extension_upgrade", name="vmss-rolling", wait=False, **FAST)
    assert not failed and not result["changed"] and result["action"] == "attach" and not result["upgrade_started"]
    assert api_requests(emulator, "POST") == []


def test_upgrade_if_running_fail(run_module, emulator):
    failed, result = run_module("vmss_extension_upgrade", name="vmss-rolling", if_running="fail", **FAST)
    assert failed and "already running" in result["msg"] and "if_running=fail" in result["msg"]
    assert api_requests(emulator, "POST") == []


def test_check_mode_never_posts_nor_waits(run_module, emulator):
    failed, result = run_module("vmss_extension_upgrade", _check_mode=True, name="vmss-healthy", **FAST)
    assert not failed and result["changed"] and not result["upgrade_started"]
    failed, result = run_module("vmss_extension_upgrade", _check_mode=True, name="vmss-rolling", **FAST)
    assert not failed and not result["changed"]
    assert api_requests(emulator, "POST") == []
    # vmss-healthy: latest, then the drift (model, one VM list page, two catalogs); vmss-rolling: latest only (running).
    assert len(api_requests(emulator)) == 6


def test_timeout_leave_cancel_fail(run_module, emulator):
    failed, result = run_module("vmss_extension_upgrade", name="vmss-rolling", wait_timeout=3, on_timeout="leave", **FAST)
    assert not failed and result["timed_out"] and not result["cancelled"] and result["left_running"]
    assert result["rolling_upgrade"]["running_status"]["code"] == "RollingForward"
    failed, result = run_module("vmss_extension_upgrade", name="vmss-rolling", wait_timeout=3, **FAST)
    assert failed and result["timed_out"] and "Timed out after 3s" in result["msg"] and "pending" in result["msg"]
    assert result["left_running"] and "goes on in Azure" in result["msg"]
    # Attached, not started by this task: on_timeout=cancel leaves it running unless cancel_attached.
    failed, result = run_module("vmss_extension_upgrade", name="vmss-rolling", wait_timeout=3, on_timeout="cancel", **FAST)
    assert failed and not result["cancelled"] and result["left_running"] and "cancel_attached" in result["msg"]
    assert api_requests(emulator, "POST") == []
    failed, result = run_module("vmss_extension_upgrade", name="vmss-rolling", wait_timeout=3, on_timeout="cancel",
                                cancel_attached=True, **FAST)
    assert failed and result["cancelled"] and not result["left_running"] and "cancelled" in result["msg"]
    assert result["rolling_upgrade"]["running_status"]["code"] == "Cancelled"
    assert [r["path"].rsplit("/", 2)[-2:] for r in api_requests(emulator, "POST")] == [["rollingUpgrades", "cancel"]]
    assert result["elapsed"] < 3.5


def test_wait_false_then_resume_by_operation_url(run_module, emulator):
    emulator.set_time_scale(60)
    failed, started = run_module("vmss_extension_upgrade", name="vmss-healthy", wait=False, **FAST)
    assert not failed and started["changed"] and started["operation_url"].startswith(emulator.base_url)
    failed, watched = run_module("vmss_extension_upgrade", name="vmss-healthy", operation_url=started["operation_url"],
                                 wait_timeout=60, **FAST)
    assert not failed and not watched["changed"] and watched["action"] == "attach"
    assert watched["operation"]["status"] == "Succeeded"
    assert watched["rolling_upgrade"]["running_status"]["code"] == "Completed"
    assert len(api_requests(emulator, "POST")) == 1


def test_second_run_on_an_up_to_date_scale_set_changes_nothing(run_module, emulator):
    emulator.set_time_scale(60)
    failed, first = run_module("vmss_extension_upgrade", name="vmss-healthy", wait_timeout=60, skip_if_completed_within=3600, **FAST)
    assert not failed and first["changed"]
    failed, second = run_module("vmss_extension_upgrade", name="vmss-healthy", skip_if_completed_within=3600, **FAST)
    assert not failed and not second["changed"] and second["action"] == "current"   # decided before the window
    # Without the version check, skip_if_completed_within alone keeps the re-run from starting.
    failed, third = run_module("vmss_extension_upgrade", name="vmss-healthy", skip_if_completed_within=3600,
                               only_if_outdated=False, **FAST)
    assert not failed and not third["changed"] and third["action"] == "skip" and third["extensions"] is None
    assert len(api_requests(emulator, "POST")) == 1


@pytest.mark.parametrize("args, words", [
    ({"name": ""}, "name must not be empty"),
    ({"name": "x" * 65}, "name must be 1 to 64 characters"),
    ({"name": "bad name!"}, "name must be a scale set name"),
    ({"resource_group": "rg/../x"}, r"resource_group must match"),
    ({"wait_timeout": 0}, "wait_timeout must be at least 1"),
    ({"poll_interval": 99999}, "poll_interval must be at most 3600"),
    ({"subscription_id": "not-a-guid"}, "subscription_id must be a subscription GUID"),
    ({"api_version": "latest"}, "it must look like 2024-07-01"),
    ({"operation_url": "http://x/y"}, "operation_url must be an https:// URL"),
    ({"if_running": "maybe"}, "if_running must be one of"),
    ({"wait_timeout": "soon"}, "wait_timeout"),
])
def test_bad_input_fails_before_any_request(run_module, emulator, args, words):
    merged = dict({"name": "vmss-healthy"}, **FAST)
    merged.update(args)
    failed, result = run_module("vmss_extension_upgrade", **merged)
    assert failed and words in result["msg"], result["msg"]
    assert emulator.requests == []


def test_a_secret_without_tenant_is_named_before_any_request(run_module, emulator, monkeypatch):
    monkeypatch.delenv("AZURE_TENANT_ID")
    failed, result = run_module("vmss_rolling_upgrade_info", resource_group="rg-test", name="vmss-done")
    assert failed and result["msg"] == "Invalid options: secret given but tenant missing (set tenant or AZURE_TENANT_ID)"
    assert emulator.requests == []
