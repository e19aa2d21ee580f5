# -*- coding: utf-8 -*-
"""vmss_extension_upgrade against the emulator, on the simulated clock: start only when an instance runs an outdated
extension, start once, idempotence, check mode, outcomes, bad input."""

import json

import pytest

from tests.helpers import api_requests

FAST = {"poll_interval": 1, "resource_group": "rg-test"}
HEALTH = {"name": "HealthExtension", "publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux",
          "typeHandlerVersion": "1.0"}


def _kinds(emulator):
    """The ARM requests as short names: latest, model, vms, catalog, start."""
    names = []
    for r in api_requests(emulator):
        path = r["path"]
        names.append("latest" if path.endswith("/latest") else "vms" if path.endswith("/virtualMachines")
                     else "catalog" if path.endswith("/versions") else "start" if path.endswith("/extensionRollingUpgrade")
                     else "model" if "/virtualMachineScaleSets/" in path and path.count("/") == 8 else path)
    return names


def _one(emulator, page_size=10, **spec):
    """A scenario with one scale set ``s`` in rg ``rg-test`` (10 instances, batches of 2 x 60 s)."""
    vmss = {"name": "s", "resource_group": "rg-test", "capacity": 10, "batch_seconds": 60}
    vmss.update(spec)
    emulator.load({"page_size": page_size, "scale_sets": [vmss]})


def test_current_scale_set_changes_nothing_and_sends_no_post(run_module, emulator):
    failed, result = run_module("vmss_extension_upgrade", name="vmss-done", **FAST)
    assert not failed, result.get("msg")
    assert result["action"] == "current" and result["changed"] is False and result["upgrade_started"] is False
    assert result["extensions"][0]["instance_versions"] == {"1.1.3": 4} and not result["extensions"][0]["outdated"]
    assert _kinds(emulator) == ["latest", "model", "vms", "catalog"]


def test_behind_starts_reports_what_it_read_and_a_second_run_is_current(run_module, emulator):
    emulator.set_time_scale(60)
    failed, first = run_module("vmss_extension_upgrade", name="vmss-healthy", wait_timeout=60, **FAST)
    assert not failed, first.get("msg")
    assert first["action"] == "start" and first["changed"] and first["upgrade_started"]
    health = first["extensions"][0]
    assert health["instance_versions"] == {"1.0.9": 8, "1.1.3": 1} and len(health["outdated_instances"]) == 8   # before
    assert first["rolling_upgrade"]["running_status"]["code"] == "Completed"
    failed, second = run_module("vmss_extension_upgrade", name="vmss-healthy", wait_timeout=60, **FAST)
    assert not failed and second["action"] == "current" and not second["changed"]
    assert second["extensions"][0]["instance_versions"] == {"1.1.3": 9} and second["extensions"][0]["unknown_instances"] == ["9"]
    assert len(api_requests(emulator, "POST")) == 1


def test_minor_pinned_extension_is_current_although_a_newer_minor_is_listed(run_module, emulator):
    failed, result = run_module("vmss_extension_upgrade", name="vmss-healthy", extensions=["CustomScript"], **FAST)
    assert not failed and result["action"] == "current" and not result["changed"]
    assert result["extensions"][0]["target_version"] == "2.1.10"
    assert api_requests(emulator, "POST") == []


def test_unknown_instances_alone_do_not_start_an_upgrade(run_module, emulator):
    _one(emulator, extensions=[dict(HEALTH, installed={"default": "latest", "3": "1.0.0", "7": "1.0.2"})],
         deallocated_instances=[3], agent_not_ready_instances=[7])
    failed, result = run_module("vmss_extension_upgrade", name="s", **FAST)
    assert not failed and result["action"] == "current"
    assert result["extensions"][0]["unknown_instances"] == ["3", "7"] and result["extensions"][0]["outdated_instances"] == []
    assert api_requests(emulator, "POST") == []


def test_every_vm_page_counts(run_module, emulator):
    # Only instance 9 is behind: it is on the last of four pages.
    _one(emulator, extensions=[dict(HEALTH, installed={"default": "latest", "9": "1.0.9"})], page_size=3)
    failed, result = run_module("vmss_extension_upgrade", _check_mode=True, name="s", **FAST)
    assert not failed and result["action"] == "start" and result["changed"]
    assert result["extensions"][0]["outdated_instances"] == ["9"]
    assert _kinds(emulator) == ["latest", "model", "vms", "vms", "vms", "vms", "catalog"]


def test_check_mode_says_what_would_change_and_never_posts(run_module, emulator):
    failed, behind = run_module("vmss_extension_upgrade", _check_mode=True, name="vmss-healthy", **FAST)
    assert not failed and behind["changed"] and behind["action"] == "start" and not behind["upgrade_started"]
    failed, current = run_module("vmss_extension_upgrade", _check_mode=True, name="vmss-done", **FAST)
    assert not failed and not current["changed"] and current["action"] == "current"
    assert api_requests(emulator, "POST") == []


def test_diff_shows_installed_before_and_target_after(run_module, emulator):
    failed, result = run_module("vmss_extension_upgrade", _check_mode=True, _ansible_diff=True, name="vmss-healthy", **FAST)
    assert not failed
    assert result["diff"]["before"] == "HealthExtension (Microsoft.ManagedServices.ApplicationHealthLinux): 1.0.9 on 8, 1.1.3 on 1\n"
    assert result["diff"]["after"] == ("HealthExtension (Microsoft.ManagedServices.ApplicationHealthLinux): 1.1.3 on 9 "
                                       "(8 outdated instances upgraded)\n")
    failed, current = run_module("vmss_extension_upgrade", _check_mode=True, _ansible_diff=True, name="vmss-done", **FAST)
    assert not failed and "diff" not in current
    failed, plain = run_module("vmss_extension_upgrade", _check_mode=True, name="vmss-healthy", **FAST)
    assert not failed and "diff" not in plain


def test_only_if_outdated_false_keeps_the_old_behaviour_without_reading_versions(run_module, emulator):
    failed, result = run_module("vmss_extension_upgrade", name="vmss-done", only_if_outdated=False, wait=False, **FAST)
    assert not failed and result["action"] == "start" and result["changed"] and result["extensions"] is None
    assert _kinds(emulator) == ["latest", "start"]


def test_a_running_upgrade_is_attached_without_reading_versions(run_module, emulator):
    failed, result = run_module("vmss_extension_upgrade", name="vmss-rolling", wait=False, **FAST)
    assert not failed and result["action"] == "attach" and result["extensions"] is None
    assert _kinds(emulator) == ["latest"]


def test_order_outdated_then_completed_recently_then_start(run_module, emulator):
    # Instance 3 fails every upgrade: after a Completed run it is still outdated.
    _one(emulator, failing_instances=[3], rolling_upgrade_policy={"maxUnhealthyUpgradedInstancePercent": 50},
         existing_upgrade={"status": "Completed", "finished_seconds_ago": 600, "kind": "extension"},
         extensions=[dict(HEALTH, installed={"default": "latest", "3": "1.0.9"})])
    failed, result = run_module("vmss_extension_upgrade", name="s", skip_if_completed_within=3600, **FAST)
    assert not failed and result["action"] == "skip" and result["extensions"][0]["outdated_instances"] == ["3"]
    failed, result = run_module("vmss_extension_upgrade", _check_mode=True, name="s", skip_if_completed_within=60, **FAST)
    assert not failed and result["action"] == "start"


def test_current_is_decided_before_a_faulted_refusal(run_module, emulator):
    _one(emulator, existing_upgrade={"status": "Faulted", "finished_seconds_ago": 600, "kind": "os"}, failing_instances=[0, 1],
         extensions=[dict(HEALTH, installed="latest")])
    failed, result = run_module("vmss_extension_upgrade", name="s", if_faulted="fail", **FAST)
    assert not failed and result["action"] == "current"
    _one(emulator, existing_upgrade={"status": "Faulted", "finished_seconds_ago": 600}, failing_instances=[0, 1])
    failed, result = run_module("vmss_extension_upgrade", name="s", if_faulted="fail", **FAST)
    assert failed and result["action"] == "refuse" and "if_faulted=fail" in result["msg"]
    assert api_requests(emulator, "POST") == []


def test_extension_not_in_the_model_fails_before_any_post(run_module, emulator):
    failed, result = run_module("vmss_extension_upgrade", name="vmss-healthy", extensions=["Typo"], **FAST)
    assert failed and "extensions: Typo is not in the model of vmss-healthy" in result["msg"]
    assert _kinds(emulator) == ["latest", "model"]


def test_bad_extensions_fail_before_any_request(run_module, emulator):
    for value, words in ((["a/b"], "extensions item 1 ('a/b') must be an extension name"),
                         ("HealthExtension", "extensions must be a list of names (got str)"),
                         ({"a": 1}, "extensions must be a list of names (got dict)")):
        failed, result = run_module("vmss_extension_upgrade", name="vmss-healthy", extensions=value, **FAST)
        assert failed and words in result["msg"], result["msg"]
    failed, result = run_module("vmss_extension_upgrade", name="vmss-healthy", only_if_outdated="maybe", **FAST)
    assert failed and "only_if_outdated" in result["msg"]
    assert emulator.requests == []


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


# -- a start that races a platform upgrade; the fault before the first batch (issue 19) ------------------------------
def test_a_start_that_races_a_platform_upgrade_watches_it(run_module, emulator):
    # Azure starts an upgrade itself after the plan's three reads (latest, model, VM list): our POST gets 409.
    _one(emulator, platform_upgrade={"after_requests": 3, "kind": "extension"})
    failed, result = run_module("vmss_extension_upgrade", name="s", wait_timeout=3600, **FAST)
    assert not failed, result.get("msg")
    assert result["action"] == "attach" and result["upgrade_started"] is False and result["changed"] is False
    assert result["start_refused"]["code"] == "OperationNotAllowed" and "ongoing" in result["start_refused"]["message"]
    assert result["rolling_upgrade"]["running_status"]["code"] == "Completed"
    warned = json.dumps(result.get("warnings"))
    assert "Azure refused to start" in warned and "OperationNotAllowed" in warned and "if_running=wait" in warned
    assert [r["status"] for r in api_requests(emulator, "POST")] == [409]
    assert _kinds(emulator)[:6] == ["latest", "model", "vms", "catalog", "start", "latest"]


def test_a_start_that_races_a_platform_upgrade_under_if_running_fail(run_module, emulator):
    _one(emulator, platform_upgrade={"after_requests": 3})
    failed, result = run_module("vmss_extension_upgrade", name="s", if_running="fail", **FAST)
    assert failed and result["action"] == "refuse" and not result["upgrade_started"]
    assert "if_running=fail" in result["msg"] and "OperationNotAllowed" in result["msg"]
    assert result["start_refused"]["code"] == "OperationNotAllowed"


def test_a_409_that_is_not_a_race_fails_with_azures_error(run_module, emulator):
    # if_running=start with one running: plan says start, Azure refuses, and it is not our upgrade to watch.
    _one(emulator, existing_upgrade={"status": "RollingForward", "started_seconds_ago": 10})
    failed, result = run_module("vmss_extension_upgrade", name="s", if_running="start", only_if_outdated=False, **FAST)
    assert failed and "OperationNotAllowed" in result["msg"] and "if_running=start" in result["msg"]


def test_too_many_unhealthy_before_the_first_batch_names_them(run_module, emulator):
    _one(emulator, unhealthy_instances=[0, 1, 2, 3, 4, 5])
    failed, result = run_module("vmss_extension_upgrade", name="s", **FAST)
    assert failed and result["upgrade_started"]
    shaped = result["rolling_upgrade"]
    assert shaped["running_status"]["code"] == "Faulted"
    assert shaped["error"]["code"] == "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade"
    assert [d["target"].rsplit("/", 1)[-1] for d in shaped["error"]["details"]] == ["0", "1", "2", "3", "4", "5"]
    assert "succeeded 0, failed 0, in progress 0, pending 0" in result["msg"]
    assert result["msg"].endswith("Unhealthy instances (instance ids): 0, 1, 2, 3, 4 and 1 more")
    assert result["elapsed"] < 60   # Azure ends it within seconds


def test_flexible_unhealthy_instances_are_named_by_vm_name(run_module, emulator):
    _one(emulator, orchestration_mode="Flexible", capacity=4, unhealthy_instances=[1, 2])
    failed, result = run_module("vmss_extension_upgrade", name="s", **FAST)
    names = emulator.state()["scale_sets"][0]["vm_names"]
    assert failed and result["msg"].endswith("Unhealthy instances (VM names): %s, %s" % (names[1], names[2]))


def test_the_whole_rolling_upgrade_policy_is_returned(run_module, emulator):
    policy = {"maxBatchInstancePercent": 50, "maxSurge": True, "enableCrossZoneUpgrade": True,
              "prioritizeUnhealthyInstances": True, "rollbackFailedInstancesOnPolicyBreach": True}
    _one(emulator, capacity=4, rolling_upgrade_policy=policy)
    failed, result = run_module("vmss_extension_upgrade", name="s", **FAST)
    assert not failed, result.get("msg")
    assert result["rolling_upgrade"]["policy"] == {
        "max_batch_instance_percent": 50, "max_surge": True, "enable_cross_zone_upgrade": True,
        "prioritize_unhealthy_instances": True, "rollback_failed_instances_on_policy_breach": True,
        "max_unhealthy_instance_percent": 20, "max_unhealthy_upgraded_instance_percent": 20,
        "pause_time_between_batches": "PT0S"}
