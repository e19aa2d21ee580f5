# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rolling-upgrade rollouts as kinds of the engine (``_engine.Rollout``): what they plan, start and read.

An extension rollout (``ExtensionKind``) and an OS image rollout share everything but the plan (which instances
are outdated) and the start action: both start with a POST on the scale set, and both are watched through
``rollingUpgrades/latest`` (and the start's ``Azure-AsyncOperation`` where this run started it). The state
machine, the deadline, ``on_timeout`` and the outcome are the engine's.

``run_extension_upgrade(job, observer)`` is the module ``vmss_extension_upgrade``'s run: the same machine the
batch step runs for each of its scale sets, for one scale set, in the calling thread.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import abc
import collections
import json
import time

from ansible_collections.azure_ops.rollout.plugins.module_utils import _drift, _engine, _lro, _pacing, _shapes, _validation, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import ModuleFailure

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

# A module's own options beside the decision options: one scale set, one run (vmss_extension_upgrade, vmss_os_upgrade).
RUN_SPEC = {
    "resource_group": {"type": "str", "required": True},
    "name": {"type": "str", "required": True, "aliases": ["vmss_name"]},
    "wait": {"type": "bool", "default": True},
    "operation_url": {"type": "str"},
    "progress_file": {"type": "path"},
}
RUN_RULES = {
    "resource_group": _validation.RESOURCE_GROUP,
    "name": _validation.VMSS_NAME,
    "operation_url": _validation.Rule(r"^https://", 9, 2048, "must be an https:// URL returned as operation_url"),
}


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


def succeeded(watched, op_status):
    """Whether a finished wait ended well: the upgrade watched (``Rollout.watched``: ours) Completed, or (none seen) the
    operation Succeeded."""
    if watched and watched["is_terminal"]:
        return watched["running_status"]["code"] == "Completed"
    return str((op_status or {}).get("status")).lower() == "succeeded"


# What a kind's plan found: the latest rolling upgrade (shaped, or None), the action (``_vmss.plan``) and the result
# keys of the kind (the extensions and their versions; the images).
Plan = collections.namedtuple("Plan", "latest action details server_time")


class RollingUpgradeKind(abc.ABC):
    """A rollout started by a POST on the scale set and watched through ``rollingUpgrades/latest``; a kind says
    ``start_action`` and what is outdated (``outdated``, ``empty``, ``read_drift``: what each kind must define)."""

    name = None
    start_action = None
    noun = "rolling upgrade"

    @staticmethod
    def base_result(rollout, plan):
        """The result keys of a rolling upgrade, before anything is started."""
        return {"operation": None, "operation_url": rollout.operation.status_url if rollout.operation else None,
                "rolling_upgrade": plan.latest, "start_refused": None}

    @staticmethod
    def refusal(rollout, plan):
        return _vmss.refusal_message(plan.latest, rollout.params["name"])

    @staticmethod
    def record(rollout):
        """The watch's findings (``Rollout.record_watch``): the upgrade watched and the start's operation."""
        rollout.result.update(rolling_upgrade=rollout.watched(),
                              operation=_shapes.compute_operation(rollout.op_status) if rollout.op_status else None)

    @staticmethod
    def progress_text(rollout):
        return _vmss.progress_text(rollout.result["rolling_upgrade"])

    @staticmethod
    def still_running(rollout):
        """Whether the upgrade goes on in Azure when the rollout stops watching (unknown counts as running)."""
        shaped = rollout.result["rolling_upgrade"]
        return shaped is None or _vmss.is_running(shaped)

    @abc.abstractmethod
    def outdated(self, rollout, ctx):
        """``(outdated: bool, result keys, diff or None)``: whether any instance would change."""

    @abc.abstractmethod
    def empty(self):
        """The kind's result keys when it did not look (an upgrade running, ``only_if_outdated=false``)."""

    @abc.abstractmethod
    def read_drift(self, client, where, cache, extensions=None, api_version=_vmss.API_VERSION):
        """The status gate's drift read of one scale set (``_fleet.run_status``), as ``_outcome.status_record`` takes
        it; ``cache`` is the batch's catalog cache."""

    @staticmethod
    def known(rollout, partial):
        """What a record of a rollout without its outcome carries beside ``partial`` (``_engine.Rollout.partial``)."""
        return partial

    @staticmethod
    def read_latest(rollout, ctx):
        return _vmss.read_latest(rollout.client, *rollout.where, api_version=rollout.params["api_version"], deadline=ctx)

    def plan(self, rollout, ctx):
        params = rollout.params
        latest = self.read_latest(rollout, ctx)
        details, diff = self.empty(), None
        if params.get("operation_url"):
            rollout.operation = _lro.operation_from_url(params["operation_url"])
            return Plan(latest.upgrade, "attach", details, latest.server_time)
        outdated = None
        if params.get("only_if_outdated", True) and not _vmss.is_running(latest.upgrade):
            outdated, details, diff = self.outdated(rollout, ctx)
        action = _vmss.plan(latest.upgrade, params["if_running"], latest.server_time, params["skip_if_completed_within"],
                            params.get("if_faulted") or "start", outdated=outdated)
        if diff and action == "start" and rollout.diff_mode:
            details = dict(details, diff=diff)
        return Plan(latest.upgrade, action, details, latest.server_time)

    def start(self, rollout, ctx):
        """POST the start; if its answer is lost, ask the service whether it started rather than guess.

        The POST itself is never sent twice after an ambiguous failure (see ``_timing.may_retry``). When the
        connection dropped or the service answered 500/502/504, the upgrade may or may not have started: a fresh
        ``rollingUpgrades/latest`` that began after our plan read says it did, and the rollout then watches that
        upgrade instead of failing with a result lost. Returns (Operation or None, the server time of the start).
        """
        try:
            return _vmss.start_upgrade(rollout.client, *rollout.where, api_version=rollout.params["api_version"],
                                       action=self.start_action, deadline=ctx)
        except AzureError as error:
            if error.code != "ConnectionError" and error.status not in (500, 502, 504):
                raise
            planned_at = rollout.planned_at
            latest = self.read_latest(rollout, ctx).upgrade
            if latest is None or planned_at is None or not _vmss.is_ours(latest, planned_at):
                raise
            rollout.warn("The answer to the start request was lost (%s), but the service did start the rolling upgrade "
                         "at %s; watching it." % (error, latest["running_status"]["start_time"]))
            return None, planned_at

    def raced(self, rollout, ctx, error):
        """The running upgrade that made Azure refuse our start, or None when the refusal was about something else.

        Azure starts rolling upgrades itself (automatic extension and OS upgrades, VM agent upgrades) and refuses
        another start with 409 ``OperationNotAllowed`` while one runs: between the plan read and the POST that is a
        race, not a failure. A fresh ``rollingUpgrades/latest`` that shows one ``RollingForward`` says it was that.
        """
        if error.status != 409 or error.code != "OperationNotAllowed":
            return None
        latest = self.read_latest(rollout, ctx).upgrade
        return latest if _vmss.is_running(latest) else None

    @staticmethod
    def _by_operation(rollout):
        """Whether the watch reads the start's ``Azure-AsyncOperation`` (on Resource Manager's own host: a URL on
        another host is never sent the token) rather than polling ``rollingUpgrades/latest``."""
        operation = rollout.operation
        return (operation is not None and rollout.started_after is not None and operation.kind == "azure-asyncoperation"
                and rollout.client.trusts(operation.status_url))

    def _latest_url(self, rollout):
        return rollout.client.url(_vmss.vmss_path(*rollout.where + ("rollingUpgrades/latest",)))

    def poll_request(self, rollout):
        if self._by_operation(rollout):
            return "GET", rollout.operation.status_url
        return "GET", self._latest_url(rollout)

    def progress(self, rollout, ctx):
        """One poll (elastic: the pacer may send it later to leave budget to what cannot wait); sets the rollout's
        ``latest`` and ``op_status``; returns the service's hinted wait (Retry-After) or None.

        Where this run started the upgrade and has its ``Azure-AsyncOperation`` URL, that URL says when it ends, on
        the Get Operation budget; ``rollingUpgrades/latest`` is read for progress only when its budget has a token to
        spare (``Pacer.ready``), and once at the end for the final counts and error (a cancelled upgrade's operation
        can say Succeeded). Otherwise ``rollingUpgrades/latest`` is polled, and when it still shows an older upgrade
        the operation is read instead, so an operation that failed before any instance moved still ends the wait.
        """
        client, poll = rollout.client, _pacing.elastic(ctx)
        if self._by_operation(rollout):
            status, hinted = _lro.fetch_operation_status(client, rollout.operation, deadline=poll)
            rollout.op_status = status
            if _lro.is_terminal_status(status.get("status")):
                rollout.latest = self.read_latest(rollout, ctx).upgrade   # the final counts and the upgrade's own word
            elif client.pacer.ready(poll, "GET", self._latest_url(rollout)):
                rollout.latest = self.read_latest(rollout, poll).upgrade
            return hinted
        rollout.latest = self.read_latest(rollout, poll).upgrade
        if rollout.operation is not None and rollout.watched() is None:
            rollout.op_status, hinted = _lro.fetch_operation_status(client, rollout.operation, deadline=poll)
            return hinted
        return None

    @staticmethod
    def ended(rollout):
        """Whether the watch is over: the start's operation is terminal, or our rolling upgrade is."""
        if rollout.op_status is not None and _lro.is_terminal_status(rollout.op_status.get("status")):
            return True
        watched = rollout.watched()
        return watched is not None and watched["is_terminal"]

    @staticmethod
    def judge(rollout):
        """The outcome of an ended watch: None when it ended well; ModuleFailure (Azure's code and message) else.
        With ``read_final_operation``, the start's operation is read once if no poll read it (the module's
        ``operation`` result)."""
        if (rollout.read_final_operation and rollout.operation is not None and rollout.op_status is None
                and not rollout.ctx.expired()):
            try:
                rollout.op_status = _lro.fetch_operation_status(rollout.client, rollout.operation, deadline=rollout.ctx)[0]
            except AzureError:
                pass  # the rolling upgrade status already tells the outcome
        rollout.record_watch()
        if not succeeded(rollout.watched(), rollout.op_status):
            raise ModuleFailure(_vmss.failure_message(rollout.watched(), rollout.result["operation"]), **rollout.result)
        return None

    @staticmethod
    def cancel(rollout, ctx):
        _vmss.cancel_upgrade(rollout.client, *rollout.where, api_version=rollout.params["api_version"], deadline=ctx)


class ExtensionKind(RollingUpgradeKind):
    """Extension rolling upgrades: outdated when an instance runs an extension version older than the model's target
    (``_drift``: the model, the VM list with instance views, the versions catalog, shared by a batch)."""

    name = "extension"
    start_action = "extensionRollingUpgrade"

    def empty(self):
        # How the drift records name instances: instance ids (Uniform) or VM names (Flexible); None when not read.
        return {"extensions": None, "instance_naming": None}

    def outdated(self, rollout, ctx):
        if rollout.catalog_cache is None:
            rollout.catalog_cache = _drift.CatalogCache()
        drift = _drift.check(rollout.client, *rollout.where, cache=rollout.catalog_cache,
                             names=rollout.params.get("extensions"), api_version=rollout.params["api_version"], deadline=ctx)
        return (drift["outdated"], {"extensions": drift["extensions"], "instance_naming": drift["instance_naming"]},
                _drift.diff(drift["extensions"]))

    def read_drift(self, client, where, cache, extensions=None, api_version=_vmss.API_VERSION):
        return _drift.check(client, *where, cache=cache, names=extensions)


EXTENSION = ExtensionKind()


def run_extension_upgrade(job, observer=None):
    """Plan, start (at most once), wait and judge one scale set's extension rolling upgrade, for a module (``job``:
    an AzureModule: ``params``, ``client``, ``subscription_id``, ``check_mode``, ``diff_mode``, ``warn``).

    Returns the module result; raises ModuleFailure (with the result) when the upgrade did not end well,
    AzureError when Azure could not be asked.
    """
    return run_upgrade(job, EXTENSION, observer)


def run_upgrade(job, kind, observer=None):
    """``run_extension_upgrade`` for any kind (``_os_upgrade.OS``: the module vmss_os_upgrade)."""
    params = job.params
    target = {"subscription_id": job.subscription_id, "resource_group": params["resource_group"], "name": params["name"]}
    rollout = _engine.Rollout(target, params, job.client, kind, check_mode=job.check_mode,
                              diff_mode=getattr(job, "diff_mode", False), observer=observer,
                              catalog_cache=getattr(job, "catalog_cache", None))
    try:
        return _engine.run_one(rollout)
    finally:
        for message in rollout.warnings:
            job.warn(message)
