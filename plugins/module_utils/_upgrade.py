# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The extension rolling upgrade procedure: plan, start once, watch, decide the outcome.

One procedure serves the module ``vmss_extension_upgrade`` (one scale set per run) and the batch step
``vmss_rollout_batch`` (many scale sets in threads of one process). Both hand it a *job*: any object with

* ``params``: the module's options (see ``vmss_extension_upgrade``'s argument spec),
* ``client``: an AzureClient (shared by the jobs of a batch),
* ``subscription_id``, ``check_mode``,
* ``warn(message)``,
* optionally ``read_final_operation`` (default true): read the start operation's final status once the rolling
  upgrade ended, for the ``operation`` result (the batch step does without it: one request less per scale set).

``observer(event, value)``, when given, hears ``("planned", action)``, ``("started", None)`` and
``("poll", shaped rolling upgrade or None)``: the batch step draws its live progress from it, the module
writes its ``progress_file`` from it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.azure_ops.rollout.plugins.module_utils import _drift, _lro, _shapes, _validation, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError
from ansible_collections.azure_ops.rollout.plugins.module_utils._pacing import AzureThrottledError, Context
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import ModuleFailure
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

# Time allowed for the cancel request after the wait deadline has passed.
CANCEL_BUDGET = 120

# The options that decide what the procedure does, with their rules: one definition for the module
# vmss_extension_upgrade and the batch step vmss_rollout_batch (documented in both).
DECISION_SPEC = dict(_drift.EXTENSIONS_SPEC, **{
    "api_version": {"type": "str", "default": _vmss.API_VERSION},
    "wait_timeout": {"type": "int", "default": 3600},
    "poll_interval": {"type": "int", "default": 30},
    "if_running": {"type": "str", "choices": ["wait", "fail", "start"], "default": "wait"},
    "on_timeout": {"type": "str", "choices": ["fail", "cancel", "leave"], "default": "fail"},
    "cancel_attached": {"type": "bool", "default": False},
    "if_faulted": {"type": "str", "choices": ["start", "fail"], "default": "start"},
    "skip_if_completed_within": {"type": "int", "default": 0},
    "only_if_outdated": {"type": "bool", "default": True},
})
DECISION_RULES = dict(_drift.EXTENSIONS_RULES, **{
    "api_version": _validation.API_VERSION,
    "wait_timeout": _validation.Range(1, 86400),
    "poll_interval": _validation.Range(1, 3600),
    "skip_if_completed_within": _validation.Range(0, 31536000),
})


def succeeded(shaped, op_status, started_after):
    """Whether a finished wait ended well: our upgrade Completed, or (no upgrade seen) the operation Succeeded."""
    if shaped and _vmss.is_ours(shaped, started_after) and shaped["is_terminal"]:
        return shaped["running_status"]["code"] == "Completed"
    return str((op_status or {}).get("status")).lower() == "succeeded"


def progress_file_observer(path, deadline):
    """An observer appending one JSON line per status read to ``path`` (or None without a path)."""
    if not path:
        return None

    def write(event, shaped):
        if event != "poll":
            return
        line = {"time": round(time.time(), 3), "elapsed": round(deadline.elapsed(), 1)}
        line.update(_shapes.progress_summary(shaped) if shaped else {"code": None})
        try:
            with open(path, "a") as handle:
                handle.write(json.dumps(line, sort_keys=True) + "\n")
        except OSError:
            pass  # progress display is best effort; it must never break the wait

    return write


def _start_once(job, target, api_version, deadline, planned_at):
    """POST the start; if its answer is lost, ask the service whether it started rather than guess.

    The POST itself is never sent twice after an ambiguous failure (see
    ``_timing.may_retry``). When the connection dropped or the service
    answered 500/502/504, the upgrade may or may not have started: a fresh
    ``rollingUpgrades/latest`` that began after our plan read says it did, and
    the task then watches that upgrade instead of failing with a result lost.
    """
    client = job.client
    try:
        return _vmss.start_upgrade(client, *target, api_version=api_version, deadline=deadline)
    except AzureError as error:
        if error.code != "ConnectionError" and error.status not in (500, 502, 504):
            raise
        latest = _vmss.read_latest(client, *target, api_version=api_version, deadline=deadline).upgrade
        if latest is None or planned_at is None or not _vmss.is_ours(latest, planned_at):
            raise
        job.warn("The answer to the start request was lost (%s), but the service did start the rolling upgrade "
                 "at %s; watching it." % (error, latest["running_status"]["start_time"]))
        return None, planned_at


def raced_upgrade(client, target, api_version, deadline, error):
    """The running upgrade that made Azure refuse our start, or None when the refusal was about something else.

    Azure starts rolling upgrades itself (automatic extension and OS upgrades, VM agent upgrades) and refuses another
    start with 409 ``OperationNotAllowed`` while one runs: between the plan read and the POST that is a race, not a
    failure. A fresh ``rollingUpgrades/latest`` that shows one ``RollingForward`` says it was that.
    """
    if error.status != 409 or error.code != "OperationNotAllowed":
        return None
    latest = _vmss.read_latest(client, *target, api_version=api_version, deadline=deadline)
    return latest if _vmss.is_running(latest.upgrade) else None


def _race_text(name, error, shaped, if_running):
    """One sentence for a start that lost the race, naming who started the running upgrade where Azure says (its
    refusal's message is all Azure tells of it)."""
    return ("Azure refused to start a rolling upgrade of %s: a rolling upgrade that this task did not start is running "
            "(started %s; %s: %s). if_running=%s: %s." % (
                name, shaped["running_status"].get("start_time"), error.code, error.message, if_running,
                {"wait": "watching it", "fail": "not watching it", "start": "another cannot be started"}[if_running]))


def run_extension_upgrade(job, observer=None):
    """Plan, start (at most once), wait and judge one scale set's extension rolling upgrade.

    Returns the module result; raises ModuleFailure (with the result) when the upgrade did not end well,
    AzureError when Azure could not be asked.
    """
    params = job.params
    client = job.client
    notify = observer or (lambda event, value: None)
    # Every request for this scale set carries its deadline and its statistics (a batch step's job keeps them).
    deadline = Context(Deadline(params["wait_timeout"], client.clock), stats=getattr(job, "stats", None))
    target = (job.subscription_id, params["resource_group"], params["name"])
    api_version = params["api_version"]
    operation = _lro.operation_from_url(params["operation_url"]) if params.get("operation_url") else None

    latest = _vmss.read_latest(client, *target, api_version=api_version, deadline=deadline)
    drift = None
    if operation:
        action = "attach"
    else:
        if params.get("only_if_outdated", True) and not _vmss.is_running(latest.upgrade):
            cache = getattr(job, "catalog_cache", None) or _drift.CatalogCache()
            drift = _drift.check(client, *target, cache=cache, names=params.get("extensions"), api_version=api_version,
                                 deadline=deadline)
        action = _vmss.plan(latest.upgrade, params["if_running"], latest.server_time, params["skip_if_completed_within"],
                            params.get("if_faulted") or "start", outdated=drift["outdated"] if drift else None)
    result = {
        "changed": action == "start", "upgrade_started": False, "action": action, "operation": None,
        "operation_url": operation.status_url if operation else None, "rolling_upgrade": latest.upgrade,
        "elapsed": 0.0, "timeline": [], "polls": 0, "timed_out": False, "cancelled": False, "left_running": False,
        "extensions": drift["extensions"] if drift else None, "start_refused": None,
        # How the drift records name instances: instance ids (Uniform) or VM names (Flexible); None when not read.
        "instance_naming": drift["instance_naming"] if drift else None,
    }
    if drift and action == "start" and getattr(job, "diff_mode", False):
        result["diff"] = _drift.diff(drift["extensions"])
    notify("planned", action)
    if action == "refuse":
        raise ModuleFailure(_vmss.refusal_message(latest.upgrade, params["name"]), **result)
    if job.check_mode or action in ("skip", "current"):
        return result

    started_after = None
    if action == "start":
        try:
            operation, started_after = _start_once(job, target, api_version, deadline, latest.server_time)
        except AzureError as error:
            raced = raced_upgrade(client, target, api_version, deadline, error)
            if raced is None:
                raise
            # Someone (Azure itself, most often) started one between our plan read and the POST: it is a running
            # upgrade, decided by if_running like one seen at the plan read.
            action = _vmss.plan(raced.upgrade, params["if_running"])
            text = _race_text(params["name"], error, raced.upgrade, params["if_running"])
            result.update(action=action, changed=False, rolling_upgrade=raced.upgrade,
                          start_refused={"code": error.code, "message": error.message})
            notify("planned", action)
            if action != "attach":
                raise ModuleFailure(text, **result)
            job.warn(text)
        else:
            result.update(upgrade_started=True, operation_url=operation.status_url if operation else None)
            notify("started", None)
    if not params["wait"]:
        result["elapsed"] = round(deadline.elapsed(), 1)
        return result

    outcome, op_status = _vmss.watch_upgrade(client, *target, deadline=deadline, interval=params["poll_interval"],
                                             api_version=api_version, operation=operation, started_after=started_after,
                                             read_operation=getattr(job, "read_final_operation", True),
                                             on_poll=lambda shaped: notify("poll", shaped if _vmss.is_ours(shaped, started_after)
                                                                           else None))
    # The upgrade this task is about: when it started one, a latest that began before the start is an older upgrade
    # (the start failed before the new one showed), whose code and error must not be taken for the outcome.
    watched = outcome.value if started_after is None or _vmss.is_ours(outcome.value, started_after) else None
    result.update(rolling_upgrade=watched, timeline=outcome.timeline, polls=outcome.polls,
                  operation=_shapes.compute_operation(op_status) if op_status else None,
                  elapsed=round(outcome.elapsed, 1))
    if outcome.timed_out:
        return _on_timeout(job, target, result, outcome.stopped_by)
    if not succeeded(outcome.value, op_status, started_after):
        raise ModuleFailure(_vmss.failure_message(watched, result["operation"]), **result)
    return result


def _on_timeout(job, target, result, cause=None):
    """Apply ``on_timeout``. Only an upgrade this task started is cancelled, unless ``cancel_attached``.

    ``cause``: a throttle whose Retry-After reached past the deadline ends the wait early; the message says so.
    """
    params = job.params
    result["timed_out"] = True
    if isinstance(cause, AzureThrottledError):
        text = "Stopped waiting for the rolling upgrade of %s after %ss of wait_timeout=%ss: %s; last progress: %s" % (
            params["name"], result["elapsed"], params["wait_timeout"], cause, _vmss.progress_text(result["rolling_upgrade"]))
    else:
        text = "Timed out after %ss waiting for the rolling upgrade of %s; last progress: %s" % (
            params["wait_timeout"], params["name"], _vmss.progress_text(result["rolling_upgrade"]))
    still_running = _vmss.is_running(result["rolling_upgrade"]) or result["rolling_upgrade"] is None
    if params["on_timeout"] == "leave":
        result["left_running"] = still_running
        job.warn(text + ". It goes on in Azure (on_timeout=leave).")
        return result
    if params["on_timeout"] == "cancel" and (result["upgrade_started"] or params.get("cancel_attached")):
        grace = Context(Deadline(CANCEL_BUDGET, job.client.clock), stats=getattr(job, "stats", None))
        try:
            _vmss.cancel_upgrade(job.client, *target, api_version=params["api_version"], deadline=grace)
            result["cancelled"] = True
            text += ". The rolling upgrade was cancelled (on_timeout=cancel)"
        except AzureError as error:
            text += ". Cancelling it failed, it goes on in Azure: %s" % error
        try:
            result["rolling_upgrade"] = _vmss.read_latest(job.client, *target, api_version=params["api_version"],
                                                          deadline=grace).upgrade
        except AzureError:
            pass  # keep the last status seen before the cancel
    elif params["on_timeout"] == "cancel":
        text += (". Not cancelled: this task attached to an upgrade it did not start (set cancel_attached=true to "
                 "cancel those too); it goes on in Azure")
    else:
        text += ". It goes on in Azure (on_timeout=fail)"
    result["left_running"] = not result["cancelled"] and still_running
    raise ModuleFailure(text, **result)
