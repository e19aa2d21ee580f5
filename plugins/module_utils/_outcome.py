# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What happened to one scale set, in one record: the outcome of a rollout, or the status of a scale set.

Pure functions. The batch step, the role, the progress lines and the reports all read these records,
so a status means the same thing everywhere:

=============  ===========================================================================  ======
status         meaning                                                                      failed
=============  ===========================================================================  ======
Completed      the rolling upgrade watched by this run completed                            no
Current        every instance already runs the target extension versions: nothing to do     no
Skipped        an upgrade completed within ``skip_if_completed_within``: not started again  no
WouldStart     check mode: an upgrade would be started                                      no
WouldAttach    check mode: an upgrade is running, the run would watch it                    no
WouldApprove   check mode: a deferred OS upgrade waits, the run would approve and watch it  no
TimedOut       the deadline passed; ``cancelled`` / ``left_running`` say what became of it  unless on_timeout=leave
Faulted        the rolling-upgrade policy was breached (Azure's code and message)           yes
Cancelled      the rolling upgrade was cancelled (by someone else)                          yes
Refused        one was running and if_running=fail, or the latest Faulted and if_faulted=fail  yes
Failed         the upgrade could not be started or watched to an end (Azure's error)       yes
Error          the scale set could not be planned: invalid variables, no credentials, a     yes
               failed read of its latest upgrade, a crash
NotStarted     the run stopped (a ring failed) before this scale set's turn                 no
NotRun         left out of this run by ``--limit``                                           no
Running        the step is still at work (the report rewritten while the batch watches)     no
Interrupted    the run was stopped (Ctrl-C, SIGTERM) before this scale set's outcome:       yes
               ``left_running`` says whether its upgrade goes on in Azure
=============  ===========================================================================  ======

``AwaitingApproval`` (failed): the platform's deferred automatic OS upgrade waits for approval
(``_os_image.approval``). A rollout without ``approve_deferred`` refuses to wait on it; the status gate shows it in
place of ``RollingForward`` and fails on it only when it is in ``fail_on``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.azure_ops.rollout.plugins.module_utils import _model, _os_image, _os_upgrade
from ansible_collections.azure_ops.rollout.plugins.module_utils._vmss import parse_time, unhealthy_instances, SHOWN_INSTANCES

OK_STATUSES = ("Completed", "Current", "Skipped", "WouldStart", "WouldAttach", "WouldApprove", "NotStarted", "NotRun",
               "Running")
# The words an interrupted run's report and console say about the upgrades it leaves behind (docs/operations.md).
INTERRUPTED = "interrupted: these upgrades are still running in Azure; a re-run attaches"

AWAITING_APPROVAL = "AwaitingApproval"
CHECK_MODE_STATUS = {"approve": "WouldApprove", "start": "WouldStart", "attach": "WouldAttach", "skip": "Skipped", "current": "Current"}
COUNT_KEYS = (("succeeded", "successful_instance_count"), ("failed_instances", "failed_instance_count"),
              ("in_progress", "in_progress_instance_count"), ("pending", "pending_instance_count"))


def shorten(text, width):
    """``text`` in at most ``width`` characters, cut between words (never inside one) and ending with `` ...``."""
    text = " ".join((text or "").split())
    if len(text) <= width:
        return text
    cut = text[:max(0, width - 4)]
    if " " in cut:
        cut = cut[:cut.rindex(" ")]
    return cut.rstrip(" ,;:") + " ..."


def problem(record):
    """What went wrong with a scale set, without its name: the part of its message after ``<name> (<rg>): <status>``,
    else Azure's code and message. Identical problems of many scale sets are shown once (see ``groups``)."""
    head = "%s (%s): %s" % (record.get("name"), record.get("resource_group"), record.get("status"))
    msg = record.get("msg") or ""
    if msg.startswith(head):
        return msg[len(head):].lstrip(": ")
    error = ": ".join(part for part in (record.get("error_code"), record.get("error_message")) if part)
    return error + unhealthy_suffix(record) if error else msg


def groups(records, describe=None):
    """``[(status, problem, [records...])]``: records with the same status and problem (``describe(record)``, default
    ``problem``) together, failures first, each group where its first record was."""
    found = {}
    order = []
    for record in records:
        key = (record.get("status"), (describe or problem)(record))
        if key not in found:
            found[key] = []
            order.append(key)
        found[key].append(record)
    order.sort(key=lambda key: not found[key][0].get("failed"))  # stable: failures first, each kind in its order
    return [(key[0], key[1], found[key]) for key in order]


def names(records, limit=3):
    """``a, b, c and 497 more``."""
    listed = [record.get("name") or record.get("host") for record in records]
    return ", ".join(listed[:limit]) + (" and %d more" % (len(listed) - limit) if len(listed) > limit else "")


def duration(seconds):
    """``45s``, ``4m10s``, ``1h02m``: short and unambiguous for progress lines."""
    if seconds is None:
        return "-"
    seconds = int(round(max(0.0, float(seconds))))
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm%02ds" % (seconds // 60, seconds % 60)
    return "%dh%02dm" % (seconds // 3600, (seconds % 3600) // 60)


def _code(shaped):
    return ((shaped or {}).get("running_status") or {}).get("code")


def counts(shaped):
    """Instance counts and percent of a shaped rolling upgrade (None each when there is none)."""
    progress = (shaped or {}).get("progress")
    record = {key: (progress or {}).get(name) if progress else None for key, name in COUNT_KEYS}
    record["percent"] = (shaped or {}).get("percent_complete") if shaped else None
    return record


def _error_fields(result, failure):
    """Azure's code and message: the rolling upgrade's, else the operation's, else the failure's."""
    for error in (((result.get("rolling_upgrade") or {}).get("error")), ((result.get("operation") or {}).get("error")),
                  (failure or {}).get("error")):
        if error and (error.get("code") or error.get("message")):
            return error.get("code"), error.get("message")
    return None, None


def rollout_status(result, failure=None, check_mode=False):
    """The status of one scale set's rollout (see the table in this module's docstring)."""
    action = result.get("action")
    code = _code(result.get("rolling_upgrade"))
    if action is None:
        return "Error" if failure else "NotStarted"
    if action == "refuse":
        return AWAITING_APPROVAL if result.get("approval") == _os_image.PENDING else "Refused"
    if check_mode:
        return CHECK_MODE_STATUS.get(action, "Error")
    if action in ("skip", "current"):
        return CHECK_MODE_STATUS[action]
    if result.get("timed_out"):
        return "TimedOut"
    if code in ("Faulted", "Cancelled"):
        return code
    if failure:
        return "Failed"
    return "Completed"


def is_failure(status, on_timeout="fail"):
    if status == "TimedOut":
        return on_timeout != "leave"
    return status not in OK_STATUSES


def rollout_record(target, result=None, failure=None, check_mode=False, on_timeout="fail", elapsed=None,
                   started_at=None, ended_at=None, warnings=None):
    """The record of one scale set's rollout.

    ``target``: ``host``, ``name``, ``resource_group``, ``subscription_id`` (and ``ring`` when known).
    ``result``: what the upgrade procedure returned (or carried in its failure), None when it never ran.
    ``failure``: ``{"msg": ..., "error": AzureError dict or None}`` when it failed or could not run.
    ``elapsed``: seconds from the start of this scale set's step to its outcome; the one elapsed value that
    the progress lines, the role's fact and the reports show.
    """
    result = result or {}
    status = rollout_status(result, failure, check_mode)
    failed = is_failure(status, on_timeout)
    error_code, error_message = _error_fields(result, failure)
    if elapsed is None:
        elapsed = result.get("elapsed")
    record = dict((key, target.get(key)) for key in ("host", "name", "resource_group", "subscription_id", "ring"))
    record.update({
        "status": status,
        "failed": failed,
        "action": result.get("action"),
        # Changed when this run started the upgrade (in check mode: would start it); a refused POST changed nothing.
        "changed": bool(result.get("upgrade_started")) or (bool(check_mode) and result.get("action") == "start"),
        "upgrade_started": bool(result.get("upgrade_started")),
        "check_mode": bool(check_mode),
        "timed_out": bool(result.get("timed_out")),
        "cancelled": bool(result.get("cancelled")),
        "left_running": bool(result.get("left_running")),
        "error_code": error_code,
        "error_message": error_message,
        "elapsed": None if elapsed is None else round(float(elapsed), 1),
        "started_at": started_at,
        "ended_at": ended_at,
        "start_time": ((result.get("rolling_upgrade") or {}).get("running_status") or {}).get("start_time"),
        "operation_url": result.get("operation_url"),
        "polls": result.get("polls") or 0,
        "timeline": result.get("timeline") or [],
        "warnings": list(warnings or []),
        "throttled": list(result.get("throttled") or []),
        "versions": versions(result.get("extensions")) or _os_upgrade.image_versions(result),
        "instance_naming": result.get("instance_naming"),
        # The whole rolling upgrade policy Azure echoed (snake_case), and the instances it named unhealthy when it ended
        # the upgrade before its first batch (instance ids, or VM names in a Flexible scale set).
        "policy": (result.get("rolling_upgrade") or {}).get("policy"),
        "unhealthy_instances": unhealthy_instances(result.get("rolling_upgrade")),
        "start_refused": result.get("start_refused"),
        # A model rollout's (kind=model): the instances upgraded and left, its batches; None for the other kinds.
        "model": _model.fleet_summary(result),
    })
    record.update(counts(result.get("rolling_upgrade")))
    record["msg"] = rollout_message(record, (failure or {}).get("msg"))
    return record


def versions(extensions):
    """Each extension's versions from -> to, from the drift read before the start (``_drift.check``): ``name``,
    ``from`` (installed version -> instance count), ``to`` (the target), ``outdated`` (instances). [] when not read
    (an attached or running upgrade is not read for drift)."""
    return [{"name": ext["name"], "from": dict(ext.get("instance_versions") or {}), "to": ext.get("target_version"),
             "outdated": len(ext.get("outdated_instances") or [])} for ext in extensions or []]


def versions_text(record):
    """``HealthExtension 1.0.0 on 8, 1.0.9 on 2 -> 1.0.9; CustomScript 2.1 (current)``, or '' when not read; for a
    model rollout its batches and instances (``_model.summary_text``)."""
    if record.get("model"):
        return _model.summary_text(record["model"])
    parts = []
    for ext in record.get("versions") or []:
        installed = ", ".join("%s on %d" % item for item in sorted(ext["from"].items())) or "not installed"
        parts.append("%s %s %s" % (ext["name"], installed, "-> %s" % ext["to"] if ext["outdated"] else "(current)"))
    return "; ".join(parts)


def rollout_message(record, failure_msg=None):
    """One line for the operator: ``web-01 (rg-web): Faulted: <Azure code>: <message> (succeeded 3, failed 2, ...)``."""
    head = "%s (%s): %s" % (record["name"], record["resource_group"], record["status"])
    tally = _tally(record)
    if record["status"] in ("Faulted", "Cancelled", "Failed") and record.get("error_code"):
        return "%s: %s: %s%s%s" % (head, record["error_code"], record.get("error_message") or "", tally,
                                   unhealthy_suffix(record))
    if failure_msg:
        # The procedure's message may carry the counts of an earlier moment (the deadline, before a cancel): the
        # record's own counts (the columns of the report) are added unless they are the ones it already says.
        if tally and tally.strip(" ()") in failure_msg:
            return "%s: %s" % (head, failure_msg)
        return "%s: %s%s" % (head, failure_msg, (" (at the end: %s)" % tally.strip(" ()")) if "succeeded " in failure_msg
                             else tally)
    if record["status"] == "TimedOut":
        return "%s: not done after %s, %s (on_timeout=leave)%s" % (
            head, duration(record["elapsed"]), "left running in Azure" if record["left_running"] else "no longer running",
            tally)
    return head + tally + ("" if record["elapsed"] is None else " in " + duration(record["elapsed"]))


def unfinished_record(target, result=None, check_mode=False, interrupted=False, elapsed=None, started_at=None):
    """The record of a scale set whose step has no outcome yet: ``Running`` (the report is rewritten while the batch
    watches; a run killed outright leaves it so), or ``Interrupted`` (the run was stopped before the outcome).

    ``result``: what is known so far (``action``, ``upgrade_started``, ``rolling_upgrade``). An upgrade this run
    started or attached to goes on in Azure (``left_running``); a start whose answer had not come may have too. A model
    rollout's (its ``batches`` so far) goes on in Azure only while a batch is in flight: its ``left_running`` says.
    """
    result = dict(result or {})
    action = result.get("action")
    model = "batches" in result
    in_azure = not check_mode and (bool(result.get("left_running")) if model else
                                   (bool(result.get("upgrade_started")) or action == "attach"))
    record = rollout_record(target, dict(result, left_running=in_azure, timed_out=False), None, check_mode,
                            elapsed=elapsed, started_at=started_at)
    record["status"] = "Interrupted" if interrupted else "Running"
    record["failed"] = bool(interrupted)
    if check_mode:
        what = "check mode, nothing was started"
    elif model and in_azure:
        what = ("a batch's manualupgrade goes on in Azure; a re-run waits for it, then goes on with the instances left"
                if interrupted else "a batch in flight, watched by this run (if the run stopped, it goes on in Azure; "
                "a re-run waits for it)")
    elif model and result["batches"]:
        what = ("between batches, nothing runs in Azure; a re-run goes on with the instances left" if interrupted
                else "between batches")
    elif in_azure:
        what = "the upgrade goes on in Azure; a re-run attaches" if interrupted else (
            "running in Azure, watched by this run (if the run stopped, it goes on in Azure; a re-run attaches)")
    elif action == "start":
        what = ("the start was being sent: an upgrade may be running in Azure; a re-run attaches to it if so"
                if interrupted else "starting")
    else:
        what = "nothing started for it yet" if interrupted else "planning (nothing started yet)"
    record["msg"] = "%s (%s): %s: %s%s" % (record["name"], record["resource_group"], record["status"], what,
                                           _tally(record))
    return record


def _tally(record):
    if record.get("succeeded") is None:
        return ""
    return " (succeeded %s, failed %s, in progress %s, pending %s)" % (
        record["succeeded"], record["failed_instances"], record["in_progress"], record["pending"])


def unhealthy_suffix(record):
    """``. Unhealthy instances: 0, 1, 2, 3, 4 and 3 more`` (the first ones Azure named), or ''."""
    names = record.get("unhealthy_instances") or []
    if not names:
        return ""
    more = " and %d more" % (len(names) - SHOWN_INSTANCES) if len(names) > SHOWN_INSTANCES else ""
    return ". Unhealthy instances: %s%s" % (", ".join(names[:SHOWN_INSTANCES]), more)


def error_record(target, msg, error=None, status="Error"):
    """The record of a scale set that could not be run at all (``Error``) or was never reached (``NotStarted``)."""
    failure = {"msg": msg, "error": error} if msg else None
    record = rollout_record(target, None, failure)
    record["status"] = status
    record["failed"] = is_failure(status)
    record["msg"] = rollout_message(record, msg) if msg else rollout_message(record)
    return record


# -- status (read-only) records ------------------------------------------------------------------------------------
STATUS_FAIL_ON = ("Faulted", "Error")


def status_record(target, latest=None, failure=None, server_now=None, drift=None):
    """The record of one scale set's latest rolling upgrade (read only): fleet status and its gate.

    ``latest``: the shaped ``rollingUpgrades/latest`` or None (never upgraded); ``failure`` as for rollouts;
    ``drift``: what ``_drift.check`` found, or None when drift was not read (``outdated`` is then None).
    ``elapsed``: seconds since the latest upgrade started, by the service's clock at the read (``server_now``).
    Azure reports no end time on ``rollingUpgrades/latest`` (``lastActionTime`` is the time of the Start or Cancel).
    """
    running = (latest or {}).get("running_status") or {}
    if failure:
        status = "Error"
    elif latest is None:
        status = "NeverUpgraded"
    else:
        status = running.get("code") or "Unknown"
        if status == "RollingForward" and (drift or {}).get("approval") == _os_image.PENDING:
            status = AWAITING_APPROVAL
    error_code, error_message = _error_fields({"rolling_upgrade": latest}, failure)
    record = dict((key, target.get(key)) for key in ("host", "name", "resource_group", "subscription_id", "ring"))
    record.update({
        "status": status,
        "error_code": error_code,
        "error_message": error_message,
        "start_time": running.get("start_time"),
        "last_action": running.get("last_action"),
        "last_action_time": running.get("last_action_time"),
        "elapsed": _elapsed_between(running.get("start_time"), server_now),
        "msg": (failure or {}).get("msg"),
        "outdated": drift["outdated"] if drift else None,
        "outdated_instance_count": drift["outdated_instance_count"] if drift else None,
        "outdated_extensions": outdated_extensions(drift),
        # What the drift is of: "extension" (_drift.check), "os" (_os_image.check) or "model" (_model.status_drift);
        # None when not read.
        "drift_kind": ((drift.get("drift_kind") or ("os" if "image_kind" in drift else "extension")) if drift else None),
        "instance_naming": drift.get("instance_naming") if drift else None,
        "policy": (latest or {}).get("policy"),
        "unhealthy_instances": unhealthy_instances(latest),
    })
    record.update(counts(latest))
    return record


def outdated_extensions(drift):
    """The outdated extensions of a drift check, small: name, target, installed versions, instance counts. An OS image
    drift (``_os_image.check``) is one such entry named ``OS image``, a model drift (``_model.status_drift``) one named
    ``Model`` (its "versions": the instances on the latest model and on an older one)."""
    if drift and drift.get("drift_kind") == "model":
        return [{"name": "Model", "target_version": "latest", "instance_versions": drift["instance_versions"],
                 "outdated_instances": len(drift["outdated_instances"]), "unknown_instances": len(drift["unknown_instances"])}
                ] if drift["outdated"] else []
    if drift and "image_kind" in drift:
        return [{"name": "OS image", "target_version": drift["target_version"], "instance_versions": drift["instance_versions"],
                 "outdated_instances": len(drift["outdated_instances"]), "unknown_instances": len(drift["unknown_instances"])}
                ] if drift["outdated"] else []
    return [{"name": ext["name"], "target_version": ext["target_version"], "instance_versions": ext["instance_versions"],
             "outdated_instances": len(ext["outdated_instances"]), "unknown_instances": len(ext["unknown_instances"])}
            for ext in (drift or {}).get("extensions", []) if ext["outdated"]]


def _elapsed_between(start, end):
    start, end = parse_time(start), (parse_time(end) if isinstance(end, str) else end)
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 1)


def gate(records, fail_on=STATUS_FAIL_ON, fail_on_drift=False):
    """The records that fail a status gate: a status in ``fail_on``, or (``fail_on_drift``) outdated extensions."""
    return [record for record in records if record["status"] in fail_on or (fail_on_drift and record.get("outdated"))]


# -- progress lines -------------------------------------------------------------------------------------------------
def progress_line(name, phase, shaped=None, elapsed=None, width=24):
    """``web-r1-eus-01            RollingForward  40%  ok 4  failed 0  running 2  pending 4   2m10s``."""
    text = "%-*s %-15s" % (width, name, phase)
    if shaped:
        summary = counts(shaped)
        text += " %3d%%  ok %s  failed %s  running %s  pending %s" % (
            int(round(summary["percent"] or 0)), summary["succeeded"], summary["failed_instances"],
            summary["in_progress"], summary["pending"])
    return "%s  %s" % (text.rstrip(), duration(elapsed))


def summary_line(elapsed, phases, total):
    """``[ 2m10s] 12 scale sets: 3 RollingForward, 8 Completed, 1 Faulted``: phases counted in first-seen order."""
    tally = {}
    for phase in phases:
        tally[phase] = tally.get(phase, 0) + 1
    parts = ", ".join("%d %s" % (count, phase) for phase, count in tally.items())
    return "[%6s] %d scale set%s: %s" % (duration(elapsed), total, "" if total == 1 else "s", parts)


def host_verdict(host, record, fail_on_error=True):
    """What one host's task says of its scale set, from its record of the batch step (the role's per-host check):
    ``changed`` when this run started its upgrade (check mode: would start it), ``failed`` with the record's one-line
    ``msg`` when its outcome is a failure and ``fail_on_error``. Without a record the host fails: nothing says how its
    scale set ended."""
    if not isinstance(record, dict) or "failed" not in record:
        return {"changed": False, "failed": True,
                "msg": "%s: no record of the batch step for this host (did the batch step run for it?)" % host}
    verdict = {"changed": bool(record.get("changed"))}
    if fail_on_error and record["failed"]:
        verdict.update(failed=True, msg=record.get("msg") or "%s: %s" % (host, record.get("status")))
    return verdict
