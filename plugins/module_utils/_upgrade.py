# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The extension rolling upgrade procedure: plan, start once, watch, decide the outcome."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.azure_ops.rollout.plugins.module_utils import _compute, _lro, _shapes
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import ModuleFailure
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

# Time allowed for the cancel request after the wait deadline has passed.
CANCEL_BUDGET = 120


def _progress_text(shaped):
    if not shaped:
        return "no rolling upgrade status"
    return ("%(code)s, %(percent_complete)s%% done: succeeded %(succeeded)s, failed %(failed)s, "
            "in progress %(in_progress)s, pending %(pending)s" % _shapes.progress_summary(shaped))


def succeeded(shaped, op_status, started_after):
    """Whether a finished wait ended well: our upgrade Completed, or (no upgrade seen) the operation Succeeded."""
    if shaped and _compute.is_ours(shaped, started_after) and shaped["is_terminal"]:
        return shaped["running_status"]["code"] == "Completed"
    return str((op_status or {}).get("status")).lower() == "succeeded"


def _progress_writer(path, deadline):
    """An on_poll callback appending one JSON line per status read to ``path`` (or None)."""
    if not path:
        return None

    def write(shaped):
        line = {"time": round(time.time(), 3), "elapsed": round(deadline.elapsed(), 1)}
        line.update(_shapes.progress_summary(shaped) if shaped else {"code": None})
        try:
            with open(path, "a") as handle:
                handle.write(json.dumps(line, sort_keys=True) + "\n")
        except OSError:
            pass  # progress display is best effort; it must never break the wait

    return write


def _start_once(module, target, api, deadline, planned_at):
    """POST the start; if its answer is lost, ask the service whether it started rather than guess.

    The POST itself is never sent twice after an ambiguous failure (see
    ``_timing.may_retry``). When the connection dropped or the service
    answered 500/502/504, the upgrade may or may not have started: a fresh
    ``rollingUpgrades/latest`` that began after our plan read says it did, and
    the task then watches that upgrade instead of failing with a result lost.
    """
    client = module.client
    try:
        return _compute.start_upgrade(client, *target, api_version=api, deadline=deadline)
    except AzureError as error:
        if error.code != "ConnectionError" and error.status not in (500, 502, 504):
            raise
        latest = _compute.get_latest(client, *target, api_version=api, deadline=deadline)[1]
        if latest is None or planned_at is None or not _compute.is_ours(latest, planned_at):
            raise
        module.warn("The answer to the start request was lost (%s), but the service did start the rolling upgrade "
                    "at %s; watching it." % (error, latest["running_status"]["start_time"]))
        return None, planned_at


def run_extension_upgrade(module):
    params = module.params
    client = module.client
    deadline = Deadline(params["wait_timeout"], client.clock)
    target = (module.subscription_id, params["resource_group"], params["name"])
    api = params["api_version"]
    operation = _lro.operation_from_url(params["operation_url"]) if params["operation_url"] else None

    latest, server_now = _compute.get_latest(client, *target, api_version=api, deadline=deadline)[1:]
    action = "attach" if operation else _compute.plan(latest, params["if_running"], server_now,
                                                      params["skip_if_completed_within"])
    result = {
        "changed": action == "start", "upgrade_started": False, "action": action, "operation": None,
        "operation_url": operation.status_url if operation else None, "rolling_upgrade": latest,
        "elapsed": 0.0, "timeline": [], "polls": 0, "timed_out": False, "cancelled": False,
    }
    if action == "refuse":
        raise ModuleFailure("A rolling upgrade is already running on %s (%s) and if_running=fail"
                            % (params["name"], _progress_text(latest)), **result)
    if module.check_mode or action == "skip":
        return result

    started_after = None
    if action == "start":
        operation, started_after = _start_once(module, target, api, deadline, server_now)
        result.update(upgrade_started=True, operation_url=operation.status_url if operation else None)
    if not params["wait"]:
        result["elapsed"] = round(deadline.elapsed(), 1)
        return result

    outcome, op_status = _compute.watch_upgrade(client, *target, deadline=deadline, interval=params["poll_interval"],
                                                api_version=api, operation=operation, started_after=started_after,
                                                on_poll=_progress_writer(params["progress_file"], deadline))
    result.update(rolling_upgrade=outcome.value, timeline=outcome.timeline, polls=outcome.polls,
                  operation=_shapes.compute_operation(op_status) if op_status else None,
                  elapsed=round(outcome.elapsed, 1))
    if outcome.timed_out:
        return _on_timeout(module, target, api, result)
    if not succeeded(outcome.value, op_status, started_after):
        raise ModuleFailure(_compute.failure_message(outcome.value, result["operation"]), **result)
    return result


def _on_timeout(module, target, api, result):
    params = module.params
    result["timed_out"] = True
    text = "Timed out after %ss waiting for the rolling upgrade of %s; last progress: %s" % (
        params["wait_timeout"], params["name"], _progress_text(result["rolling_upgrade"]))
    if params["on_timeout"] == "leave":
        module.warn(text + ". It goes on (on_timeout=leave).")
        return result
    if params["on_timeout"] == "cancel":
        grace = Deadline(CANCEL_BUDGET, module.client.clock)
        try:
            _compute.cancel_upgrade(module.client, *target, api_version=api, deadline=grace)
            result["cancelled"] = True
            text += ". The rolling upgrade was cancelled (on_timeout=cancel)"
        except AzureError as error:
            text += ". Cancelling it failed: %s" % error
        try:
            result["rolling_upgrade"] = _compute.get_latest(module.client, *target, api_version=api, deadline=grace)[1]
        except AzureError:
            pass  # keep the last status seen before the cancel
    raise ModuleFailure(text, **result)
