# -*- coding: utf-8 -*-
"""_outcome: the record of one scale set (status, failed, Azure's error, message, elapsed), status records, lines.

The inputs are what the upgrade procedure (``_upgrade.run_extension_upgrade``) returns or carries in its
failure, built from Azure-shaped bodies through the real ``_shapes`` and ``_vmss`` functions.
"""

import datetime

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _outcome, _shapes, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError

START = "2026-11-30T00:10:00.1234567+00:00"
TARGET = {"host": "web-01", "name": "vmss-web-01", "resource_group": "rg-web",
          "subscription_id": "00000000-0000-0000-0000-000000000001", "ring": "canary"}
FAULT = {"code": "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade",
         "message": "Rolling Upgrade failed after exceeding the MaxUnhealthyUpgradedInstancePercent value defined in "
                    "the RollingUpgradePolicy. 100% of upgraded instances are in an unhealthy state - more than the "
                    "threshold of 20%."}


def upgrade(code, succeeded=0, failed=0, in_progress=0, pending=0, error=None, start=START, last_action="Start",
            last_action_time=None):
    """A shaped ``rollingUpgrades/latest`` (the recorded wire shape, through _shapes)."""
    props = {"policy": {"maxBatchInstancePercent": 20, "maxUnhealthyInstancePercent": 20,
                        "maxUnhealthyUpgradedInstancePercent": 20, "pauseTimeBetweenBatches": "PT0S"},
             "runningStatus": {"code": code, "startTime": start, "lastAction": last_action,
                               "lastActionTime": last_action_time or start},
             "progress": {"successfulInstanceCount": succeeded, "failedInstanceCount": failed,
                          "inProgressInstanceCount": in_progress, "pendingInstanceCount": pending}}
    if error:
        props["error"] = error
    return _shapes.rolling_upgrade({"type": "Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades",
                                    "location": "eastus", "properties": props})


def operation(status, error=None):
    body = {"startTime": START, "status": status, "name": "op-1"}
    if status != "InProgress":
        body["endTime"] = "2026-11-30T00:15:00.0000000+00:00"
    if error:
        body["error"] = error
    return _shapes.compute_operation(body)


def result(action, rolling_upgrade=None, started=None, **extra):
    """The procedure's result dict (run_extension_upgrade's keys)."""
    started = action == "start" if started is None else started
    shaped = rolling_upgrade
    value = {"changed": action == "start", "upgrade_started": started, "action": action, "operation": None,
             "operation_url": "https://127.0.0.1/op" if started else None, "rolling_upgrade": shaped,
             "elapsed": 0.0, "timeline": [], "polls": 0, "timed_out": False, "cancelled": False, "left_running": False}
    if shaped and started:
        value["timeline"] = [dict(_shapes.progress_summary(shaped), elapsed=42.0)]
        value["polls"] = 3
    value.update(extra)
    return value


def failure(msg, error=None):
    return {"msg": msg, "error": error.to_dict() if isinstance(error, AzureError) else error}


def record(res, fail=None, **kwargs):
    kwargs.setdefault("elapsed", 125.04)
    return _outcome.rollout_record(TARGET, res, fail, **kwargs)


# -- every status of the table -------------------------------------------------------------------------------------
def test_completed_started_by_this_run():
    done = upgrade("Completed", succeeded=10)
    rec = record(result("start", done, operation=operation("Succeeded")))
    assert rec["status"] == "Completed" and rec["failed"] is False
    assert rec["changed"] is True and rec["upgrade_started"] is True
    assert (rec["succeeded"], rec["failed_instances"], rec["in_progress"], rec["pending"], rec["percent"]) == (
        10, 0, 0, 0, 100.0)
    assert rec["error_code"] is None and rec["start_time"] == START
    assert rec["timeline"][0]["code"] == "Completed" and rec["polls"] == 3
    assert rec["msg"] == ("vmss-web-01 (rg-web): Completed (succeeded 10, failed 0, in progress 0, pending 0) in 2m05s")
    for key in ("host", "name", "resource_group", "subscription_id", "ring"):
        assert rec[key] == TARGET[key]


def test_completed_after_attaching_is_not_a_change():
    rec = record(result("attach", upgrade("Completed", succeeded=6)))
    assert rec["status"] == "Completed" and not rec["failed"]
    assert rec["changed"] is False and rec["upgrade_started"] is False


def test_skipped_keeps_the_previous_upgrade_counts():
    rec = record(result("skip", upgrade("Completed", succeeded=4)), elapsed=0.42)
    assert rec["status"] == "Skipped" and not rec["failed"] and not rec["changed"]
    assert rec["msg"] == "vmss-web-01 (rg-web): Skipped (succeeded 4, failed 0, in progress 0, pending 0) in 0s"


def test_current_means_nothing_to_do():
    rec = record(result("current"))
    assert rec["status"] == "Current" and not rec["failed"] and not rec["changed"]
    assert rec["msg"] == "vmss-web-01 (rg-web): Current in 2m05s"


@pytest.mark.parametrize("action, status, changed", [
    ("start", "WouldStart", True), ("attach", "WouldAttach", False), ("skip", "Skipped", False),
    ("current", "Current", False),
])
def test_check_mode_mapping(action, status, changed):
    res = result(action, upgrade("RollingForward", 2, 0, 2, 6) if action == "attach" else None, started=False)
    rec = record(res, check_mode=True)
    assert rec["status"] == status and rec["failed"] is False and rec["check_mode"] is True
    assert rec["changed"] is changed and rec["upgrade_started"] is False


def test_check_mode_still_refuses():
    faulted = upgrade("Faulted", 0, 2, 0, 8, error=FAULT)
    res = result("refuse", faulted, started=False)
    rec = record(res, failure(_vmss.refusal_message(faulted, "vmss-web-01")), check_mode=True)
    assert rec["status"] == "Refused" and rec["failed"] is True


def test_check_mode_plan_error_is_an_error():
    error = AzureError("The Resource 'x' was not found.", status=404, code="ResourceNotFound")
    rec = record(None, failure(str(error), error), check_mode=True)
    assert rec["status"] == "Error" and rec["failed"] and rec["error_code"] == "ResourceNotFound"


def test_faulted_fails_with_azure_code_and_message():
    faulted = upgrade("Faulted", succeeded=0, failed=2, pending=8, error=FAULT)
    res = result("start", faulted, operation=operation("Failed", FAULT))
    rec = record(res, failure(_vmss.failure_message(faulted, res["operation"])))
    assert rec["status"] == "Faulted" and rec["failed"] is True
    assert rec["error_code"] == FAULT["code"] and rec["error_message"] == FAULT["message"]
    assert rec["msg"] == "vmss-web-01 (rg-web): Faulted: %s: %s (succeeded 0, failed 2, in progress 0, pending 8)" % (
        FAULT["code"], FAULT["message"])


def test_cancelled_by_someone_else_fails():
    cancelled = upgrade("Cancelled", succeeded=4, pending=6, last_action="Cancel")
    # The recorded quirk: the start operation of a cancelled upgrade reports Succeeded.
    res = result("start", cancelled, operation=operation("Succeeded"))
    rec = record(res, failure(_vmss.failure_message(cancelled, res["operation"])))
    assert rec["status"] == "Cancelled" and rec["failed"] is True and rec["error_code"] is None
    assert rec["msg"] == ("vmss-web-01 (rg-web): Cancelled: Rolling upgrade was cancelled "
                          "(succeeded 4, failed 0, in progress 0, pending 6)")


@pytest.mark.parametrize("shaped, reason", [
    (upgrade("RollingForward", 2, 0, 2, 6), "already running"),
    (upgrade("Faulted", 0, 2, 0, 8, error=FAULT), "if_faulted=fail"),
])
def test_refused(shaped, reason):
    res = result("refuse", shaped, started=False)
    rec = record(res, failure(_vmss.refusal_message(shaped, "vmss-web-01")))
    assert rec["status"] == "Refused" and rec["failed"] is True and rec["changed"] is False
    assert reason in rec["msg"] and rec["msg"].startswith("vmss-web-01 (rg-web): Refused: ")


def test_failed_start_is_not_a_change():
    error = AzureError("Rolling Upgrade cannot be started because there is already an ongoing Rolling Upgrade.",
                       status=409, code="OperationNotAllowed")
    # What the batch step keeps of a job the procedure left by an AzureError (see _fleet._partial_result).
    res = {"action": "start", "upgrade_started": False, "rolling_upgrade": None, "left_running": False}
    rec = record(res, failure(str(error), error))
    assert rec["status"] == "Failed" and rec["failed"] is True
    assert rec["changed"] is False, "the POST was refused: nothing was started, nothing changed"
    assert rec["error_code"] == "OperationNotAllowed"
    assert rec["msg"] == ("vmss-web-01 (rg-web): Failed: OperationNotAllowed: Rolling Upgrade cannot be started "
                          "because there is already an ongoing Rolling Upgrade.")


def test_failed_operation_before_any_instance_moved():
    # The operation failed while rollingUpgrades/latest still shows the previous (Completed) upgrade.
    previous = upgrade("Completed", succeeded=10, start="2026-11-29T00:00:00.0000000+00:00")
    error = {"code": "OperationNotAllowed", "message": "The OS Rolling Upgrade API cannot be used here."}
    res = result("start", previous, operation=operation("Failed", error))
    rec = record(res, failure(_vmss.failure_message(previous, res["operation"])))
    assert rec["status"] == "Failed" and rec["failed"] and rec["upgrade_started"] and rec["changed"]
    assert (rec["error_code"], rec["error_message"]) == (error["code"], error["message"])


def test_error_before_the_plan():
    error = AzureError("The Resource 'Microsoft.Compute/virtualMachineScaleSets/vmss-web-01' under resource group "
                       "'rg-web' was not found.", status=404, code="ResourceNotFound")
    rec = record(None, failure(str(error), error), elapsed=None)
    assert rec["status"] == "Error" and rec["failed"] is True and rec["action"] is None
    assert rec["error_code"] == "ResourceNotFound" and rec["elapsed"] is None
    assert rec["msg"] == "vmss-web-01 (rg-web): Error: " + str(error)
    assert rec["succeeded"] is None and rec["percent"] is None and rec["timeline"] == []


@pytest.mark.parametrize("status", ["NotStarted", "NotRun"])
def test_not_started_and_not_run_records(status):
    rec = _outcome.error_record(TARGET, None, status=status)
    assert rec["status"] == status and rec["failed"] is False and rec["error_code"] is None
    assert rec["msg"] == "vmss-web-01 (rg-web): %s" % status


def test_error_record_with_a_message():
    rec = _outcome.error_record(TARGET, "invalid host variables: resource_group must not be empty")
    assert rec["status"] == "Error" and rec["failed"] is True
    assert rec["msg"] == "vmss-web-01 (rg-web): Error: invalid host variables: resource_group must not be empty"
    azure = AzureError("no credential could get a token", code="AuthenticationFailed")
    rec = _outcome.error_record(TARGET, str(azure), azure.to_dict())
    assert rec["error_code"] == "AuthenticationFailed" and rec["failed"]


def test_no_action_and_no_failure_is_not_started():
    assert _outcome.rollout_status({}) == "NotStarted"
    assert _outcome.rollout_status({}, {"msg": "boom", "error": None}) == "Error"


# -- timeouts: failed or not per on_timeout --------------------------------------------------------------------------
def _timed_out(on_timeout, started=True, cancelled=False):
    running = upgrade("RollingForward", 4, 0, 2, 4)
    last = upgrade("Cancelled", 4, 0, 2, 4, last_action="Cancel") if cancelled else running
    return result("start" if started else "attach", last, started=started, timed_out=True, cancelled=cancelled,
                  left_running=not cancelled), running


@pytest.mark.parametrize("on_timeout, failed", [("fail", True), ("cancel", True), ("leave", False)])
def test_timed_out_failed_per_on_timeout(on_timeout, failed):
    res = _timed_out(on_timeout, cancelled=on_timeout == "cancel")[0]
    fail = None if on_timeout == "leave" else failure("Timed out after 600s waiting")
    rec = record(res, fail, on_timeout=on_timeout)
    assert rec["status"] == "TimedOut" and rec["failed"] is failed and rec["timed_out"] is True
    assert rec["cancelled"] is (on_timeout == "cancel") and rec["left_running"] is (on_timeout != "cancel")


def test_timed_out_messages():
    res, running = _timed_out("leave")
    rec = record(res, None, on_timeout="leave", elapsed=600.0)
    assert rec["msg"] == ("vmss-web-01 (rg-web): TimedOut: not done after 10m00s, left running in Azure "
                          "(on_timeout=leave) (succeeded 4, failed 0, in progress 2, pending 4)")
    text = ("Timed out after 600s waiting for the rolling upgrade of vmss-web-01; last progress: %s. The rolling "
            "upgrade was cancelled (on_timeout=cancel)" % _vmss.progress_text(running))
    res = _timed_out("cancel", cancelled=True)[0]
    rec = record(res, failure(text), on_timeout="cancel")
    # The procedure's message already carries the counts: they are not repeated.
    assert rec["msg"] == "vmss-web-01 (rg-web): TimedOut: " + text and rec["msg"].count("succeeded") == 1


def test_counts_read_after_a_cancel_are_the_ones_the_message_ends_with():
    # At the deadline 0 done, 2 in progress; the cancel lets those 2 finish: the columns say 2 / 0 / 8.
    at_deadline = upgrade("RollingForward", 0, 0, 2, 8)
    after = upgrade("Cancelled", 2, 0, 0, 8, last_action="Cancel")
    res = result("start", after, started=True, timed_out=True, cancelled=True, left_running=False)
    text = ("Timed out after 6s waiting for the rolling upgrade of vmss-web-01; last progress: %s. The rolling upgrade "
            "was cancelled (on_timeout=cancel)" % _vmss.progress_text(at_deadline))
    rec = record(res, failure(text), on_timeout="cancel")
    assert (rec["succeeded"], rec["failed_instances"], rec["in_progress"], rec["pending"]) == (2, 0, 0, 8)
    assert rec["msg"].endswith("(at the end: succeeded 2, failed 0, in progress 0, pending 8)"), rec["msg"]


def test_is_failure():
    assert _outcome.is_failure("TimedOut", "leave") is False
    assert _outcome.is_failure("TimedOut", "cancel") is True
    for status in _outcome.OK_STATUSES:
        assert _outcome.is_failure(status) is False
    for status in ("Faulted", "Cancelled", "Refused", "Failed", "Error"):
        assert _outcome.is_failure(status, "leave") is True


# -- error precedence ------------------------------------------------------------------------------------------------
def test_error_precedence_rolling_upgrade_then_operation_then_failure():
    ours = {"code": "MaxUnhealthyInstancePercentExceededInRollingUpgrade", "message": "upgrade says"}
    op_error = {"code": "OperationFailed", "message": "operation says"}
    fail_error = AzureError("failure says", status=500, code="InternalServerError")
    fail = failure(str(fail_error), fail_error)
    faulted = upgrade("Faulted", 0, 3, 0, 7, error=ours)
    assert _outcome._error_fields(result("start", faulted, operation=operation("Failed", op_error)), fail) == (
        ours["code"], "upgrade says")
    assert _outcome._error_fields(result("start", upgrade("Completed", 10), operation=operation("Failed", op_error)),
                                  fail) == ("OperationFailed", "operation says")
    assert _outcome._error_fields(result("start", None), fail) == ("InternalServerError", "failure says")
    assert _outcome._error_fields(result("start", None), None) == (None, None)
    # An error object without code and message does not hide the next one.
    empty = operation("Failed", {"code": None, "message": None, "target": "x"})
    assert _outcome._error_fields(result("start", None, operation=empty), fail)[0] == "InternalServerError"
    rec = record(result("start", faulted, operation=operation("Failed", op_error)), fail)
    assert (rec["error_code"], rec["error_message"]) == (ours["code"], "upgrade says")


# -- elapsed ---------------------------------------------------------------------------------------------------------
def test_elapsed_is_the_one_given_rounded_else_the_procedures():
    res = result("start", upgrade("Completed", 10), elapsed=99.0)
    assert record(res, elapsed=321.449)["elapsed"] == 321.4
    assert record(res, elapsed=None)["elapsed"] == 99.0
    assert record(res, elapsed=0)["elapsed"] == 0.0
    res["elapsed"] = None
    assert record(res, elapsed=None)["elapsed"] is None


def test_record_carries_times_and_warnings():
    rec = record(result("start", upgrade("Completed", 10)), started_at="2026-11-30T00:10:00+00:00",
                 ended_at="2026-11-30T00:12:05+00:00", warnings=("the answer was lost",))
    assert rec["started_at"] == "2026-11-30T00:10:00+00:00" and rec["ended_at"] == "2026-11-30T00:12:05+00:00"
    assert rec["warnings"] == ["the answer was lost"]


# -- status (read-only) records --------------------------------------------------------------------------------------
def test_status_record_never_upgraded():
    rec = _outcome.status_record(TARGET, None, server_now=datetime.datetime.now(datetime.timezone.utc))
    assert rec["status"] == "NeverUpgraded" and rec["elapsed"] is None and rec["error_code"] is None
    assert rec["succeeded"] is None and rec["percent"] is None and rec["msg"] is None


def test_status_record_running_counts_until_the_server_clock():
    running = upgrade("RollingForward", 4, 0, 2, 4)
    now = _vmss.parse_time(START) + datetime.timedelta(seconds=130.26)
    rec = _outcome.status_record(TARGET, running, server_now=now)
    assert rec["status"] == "RollingForward" and rec["elapsed"] == 130.3
    assert (rec["succeeded"], rec["in_progress"], rec["pending"], rec["percent"]) == (4, 2, 4, 40.0)
    assert rec["last_action"] == "Start" and rec["ring"] == "canary"
    assert _outcome.status_record(TARGET, running)["elapsed"] is None  # no server clock, no guess


def test_status_record_faulted_counts_since_its_start():
    # Azure reports no end time (lastActionTime is the Start's): elapsed is since the start, by the service clock.
    faulted = upgrade("Faulted", 0, 2, 0, 8, error=FAULT, last_action_time="2026-11-30T00:12:00.1234567+00:00")
    rec = _outcome.status_record(TARGET, faulted, server_now=_vmss.parse_time("Mon, 30 Nov 2026 01:10:00 GMT"))
    assert rec["status"] == "Faulted" and rec["elapsed"] == 3599.9
    assert rec["error_code"] == FAULT["code"] and rec["error_message"] == FAULT["message"]
    assert rec["last_action_time"] == "2026-11-30T00:12:00.1234567+00:00"
    assert _outcome.gate([rec]) == [rec]


def test_status_record_read_error_keeps_azures_code():
    error = AzureError("Resource group 'rg-web' could not be found.", status=404, code="ResourceGroupNotFound")
    rec = _outcome.status_record(TARGET, failure=failure(str(error), error))
    assert rec["status"] == "Error" and rec["error_code"] == "ResourceGroupNotFound"
    assert rec["error_message"] == "Resource group 'rg-web' could not be found." and rec["msg"] == str(error)


def test_status_record_says_how_instances_are_named():
    drift = {"extensions": [], "outdated": False, "outdated_instance_count": 0, "instance_naming": "vm_name"}
    assert _outcome.status_record(TARGET, None, drift=drift)["instance_naming"] == "vm_name"
    assert _outcome.status_record(TARGET, None)["instance_naming"] is None   # drift not read


def test_status_record_without_a_code_is_unknown():
    assert _outcome.status_record(TARGET, _shapes.rolling_upgrade({}))["status"] == "Unknown"


def test_elapsed_between():
    assert _outcome._elapsed_between(START, "2026-11-30T00:11:00.1234567+00:00") == 60.0
    assert _outcome._elapsed_between("2026-11-30T00:10:00Z", "Mon, 30 Nov 2026 00:12:30 GMT") == 150.0
    assert _outcome._elapsed_between(START, _vmss.parse_time(START) + datetime.timedelta(seconds=5)) == 5.0
    assert _outcome._elapsed_between(START, "2026-11-30T00:09:00Z") == 0.0  # clock skew: never negative
    assert _outcome._elapsed_between(None, START) is None
    assert _outcome._elapsed_between(START, None) is None
    assert _outcome._elapsed_between("not a time", START) is None


def test_gate():
    records = [{"status": s} for s in ("Completed", "Faulted", "RollingForward", "Error", "NeverUpgraded")]
    assert [r["status"] for r in _outcome.gate(records)] == ["Faulted", "Error"]
    assert [r["status"] for r in _outcome.gate(records, ("RollingForward",))] == ["RollingForward"]
    assert _outcome.gate([]) == []


# -- lines -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seconds, text", [
    (None, "-"), (0, "0s"), (0.4, "0s"), (-5, "0s"), (59.4, "59s"), (59.6, "1m00s"), (60, "1m00s"), (61, "1m01s"),
    (250, "4m10s"), (3599.4, "59m59s"), (3599.6, "1h00m"), (3600, "1h00m"), (3720, "1h02m"), (7199, "1h59m"),
    (90061, "25h01m"), ("45", "45s"),
])
def test_duration(seconds, text):
    assert _outcome.duration(seconds) == text


def test_progress_line():
    line = _outcome.progress_line("vmss-web-01", "RollingForward", upgrade("RollingForward", 4, 0, 2, 4), 130, width=14)
    assert line == "vmss-web-01    RollingForward   40%  ok 4  failed 0  running 2  pending 4  2m10s"
    assert _outcome.progress_line("vmss-web-01", "planning", None, 0.2, width=14) == "vmss-web-01    planning  0s"
    # A name longer than the column is never cut.
    assert _outcome.progress_line("vmss-a-very-long-name", "starting", None, None, width=5).startswith(
        "vmss-a-very-long-name starting")


def test_summary_line_counts_in_first_seen_order():
    line = _outcome.summary_line(130, ["RollingForward", "Completed", "RollingForward", "Faulted"], 4)
    assert line == "[ 2m10s] 4 scale sets: 2 RollingForward, 1 Completed, 1 Faulted"
    assert _outcome.summary_line(5, ["Completed"], 1) == "[    5s] 1 scale set: 1 Completed"


def test_counts_of_nothing():
    assert _outcome.counts(None) == {"succeeded": None, "failed_instances": None, "in_progress": None,
                                     "pending": None, "percent": None}


# -- a scale set without an outcome yet ------------------------------------------------------------------------------
@pytest.mark.parametrize("known, interrupted, status, left_running, words", [
    ({}, False, "Running", False, "planning (nothing started yet)"),
    ({}, True, "Interrupted", False, "nothing started for it yet"),
    ({"action": "start"}, True, "Interrupted", False, "the start was being sent: an upgrade may be running in Azure"),
    ({"action": "start", "upgrade_started": True}, False, "Running", True, "running in Azure, watched by this run"),
    ({"action": "start", "upgrade_started": True}, True, "Interrupted", True, "the upgrade goes on in Azure; a re-run"),
    ({"action": "attach"}, True, "Interrupted", True, "the upgrade goes on in Azure; a re-run attaches"),
])
def test_unfinished_records_say_what_goes_on_in_azure(known, interrupted, status, left_running, words):
    record = _outcome.unfinished_record(TARGET, known, interrupted=interrupted, elapsed=12.0)
    assert record["status"] == status and record["left_running"] is left_running
    assert record["failed"] is interrupted and words in record["msg"] and record["elapsed"] == 12.0


def test_an_unfinished_check_mode_record_started_nothing():
    record = _outcome.unfinished_record(TARGET, {"action": "start"}, check_mode=True, interrupted=True)
    assert record["left_running"] is False and "check mode, nothing was started" in record["msg"]


# -- host_verdict: the role's one task per scale set -----------------------------------------------------------------

def test_a_started_upgrade_that_completed_is_changed_and_not_failed():
    verdict = _outcome.host_verdict("web-01", record(result("start", upgrade("Completed", 10))))
    assert verdict == {"changed": True}


def test_a_faulted_scale_set_fails_its_host_with_the_one_line_message():
    rec = record(result("start", upgrade("Faulted", 0, 2, 0, 8, error=FAULT)),
                 failure("Rolling upgrade Faulted", {"code": FAULT["code"], "message": FAULT["message"]}))
    verdict = _outcome.host_verdict("web-01", rec)
    assert verdict["failed"] is True and verdict["changed"] is True
    assert verdict["msg"] == rec["msg"] and FAULT["code"] in verdict["msg"] and "\n" not in verdict["msg"]


def test_fail_on_error_false_only_marks_the_host():
    rec = record(result("start", upgrade("Faulted", 0, 2, 0, 8, error=FAULT)), failure("Rolling upgrade Faulted"))
    assert _outcome.host_verdict("web-01", rec, fail_on_error=False) == {"changed": True}


def test_attaching_and_current_change_nothing():
    assert _outcome.host_verdict("web-01", record(result("attach", upgrade("Completed", 10)))) == {"changed": False}
    assert _outcome.host_verdict("web-01", record(result("current", started=False))) == {"changed": False}


@pytest.mark.parametrize("missing", [None, {}, "Completed", {"status": "Completed"}])
def test_a_host_without_a_record_fails_closed(missing):
    verdict = _outcome.host_verdict("web-01", missing)
    assert verdict["failed"] is True and verdict["changed"] is False
    assert verdict["msg"].startswith("web-01: no record of the batch step")
