# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OS image rolling upgrades as a kind of the engine (``OsKind``): ``POST .../osRollingUpgrade``, watched like every
rolling upgrade through ``rollingUpgrades/latest`` (``_upgrade.RollingUpgradeKind``).

What differs from the extension kind:

* **outdated**: ``_os_image.check`` (the model, the one VM list, the image catalog through the rollout's
  ``catalog_cache``). A start is due when an instance that is not protected from scale-set actions runs an image
  older than the target; outdated instances that are all protected, beside unprotected current ones, change nothing
  (Azure leaves protected instances as they are): ``current``, with a warning naming them.
* **refusals before any POST**: when a start is due and Azure would refuse it (``_os_image.refusals``: a pinned image
  version, every instance protected, upgrade policy ``Automatic``), the plan is ``refuse`` with Azure's code and a
  sentence saying what to change; a model image this collection cannot read a target for (a managed image) is
  refused too rather than called current.
* **a deferred automatic OS upgrade** (``_os_image.approval``): when the plan finds an upgrade running that has moved
  no instance yet (the only time a wait for approval can show; the model and the history are read then, and only
  then), or the drift read finds one in the history, and it is the platform's deferred upgrade waiting, the plan is
  ``approve`` with ``approve_deferred=true`` (``POST .../approveRollingUpgrade`` without instance ids: every VM, then
  the upgrade is watched like an attached one), else ``refuse``: attaching would only wait for the deadline, and a
  start would be refused while it runs.
* **refusals after the POST**: a 409 that is not the race with a running upgrade is Azure's code and message, plus
  what to change (``refused``); a rolling upgrade that faults for a reason ``_os_image.ADVICE`` knows (a scheduled
  maintenance window) gets that advice after Azure's words.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.azure_ops.rollout.plugins.module_utils import _drift, _model, _os_image, _upgrade, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import ModuleFailure

# The keys vmss_os_info returns, which the OS kind's results carry (null when the drift was not read).
RESULT_KEYS = _os_image.RECORD_KEYS + ("outdated_instance_count", "location", "orchestration_mode", "refusals",
                                       "upgrade_mode", "automatic_os_upgrade_policy", "os_upgrade_history", "approval",
                                       "approval_instances")
# The OS kind's own options (vmss_os_upgrade; the batch step and the role with kind=os).
OS_SPEC = {"approve_deferred": {"type": "bool", "default": False}}
APPROVE_ACTION = "approveRollingUpgrade"
# The first Compute api-version with approveRollingUpgrade and osRollingUpgradeDeferral (the Azure SDKs added both
# with it: @azure/arm-compute 21.3.0 and armcompute v5.4.0, December 2023).
APPROVE_SINCE = "2023-09-01"
# What a 409 on osRollingUpgrade asks to change when Azure's message does not say (SUMMARY.md section 1, Error cases).
START_409_ADVICE = ("an OS rolling upgrade needs the model's imageReference.version to be latest (or a Compute Gallery "
                    "image definition without /versions/), at least one instance not protected from scale-set actions "
                    "and an upgrade policy mode other than Automatic; vmss_os_info's refusals say which applies")


movable = _os_image.unprotected_outdated


def every_instance_protected(record):
    return bool(record.get("instance_count")) and len(record.get("protected_instances") or []) == record["instance_count"]


def refusal_text(name, refusals):
    """One message for the refusals predicted from the reads, before any POST."""
    return "Azure would refuse an OS rolling upgrade of %s, so none was started: %s." % (
        name, "; ".join("%s: %s" % (item["code"], item["message"]) for item in refusals))


def approval_text(name, latest):
    """Why a scale set whose deferred automatic OS upgrade waits for approval is not attached to."""
    started = ((latest or {}).get("running_status") or {}).get("start_time")
    return ("The automatic OS upgrade of %s (started by the platform at %s) waits for approval "
            "(automaticOSUpgradePolicy.osRollingUpgradeDeferral) and approve_deferred=false: nothing was started or "
            "approved. To approve it (approveRollingUpgrade) and watch it to its end, run with approve_deferred=true, "
            "or approve it yourself" % (name, started))


def refused(name, error):
    """Azure's 409 on the start, its code and message kept, with what to change (``_os_image.ADVICE`` or the
    general advice)."""
    advice = _os_image.ADVICE.get(str(error.code or "")) or START_409_ADVICE
    return AzureError("%s (refused the OS rolling upgrade of %s: %s)" % (error.message or error.code, name, advice),
                      status=error.status, code=error.code, target=error.target, details=error.details,
                      innererror=error.innererror, request_id=error.request_id, url=error.url)


def diff(record):
    """Diff-mode text: the image versions the instances run, before; the target, after."""
    counts = record["instance_versions"]
    total = sum(counts.values())
    moved = movable(record)
    kept = len(record["outdated_instances"]) - len(moved)
    label = image_label(record)
    runs = ", ".join("%s on %d" % (version, count)
                     for version, count in sorted(counts.items(), key=lambda item: _drift.version_tuple(item[0])))
    after = "%s: %s on %d (%d outdated instance%s upgraded%s)\n" % (
        label, record["target_version"], total - kept, len(moved), "" if len(moved) == 1 else "s",
        ", %d protected left as they are" % kept if kept else "")
    return {"before_header": "OS image versions", "after_header": "after the OS rolling upgrade",
            "before": "%s: %s\n" % (label, runs), "after": after}


def image_label(record):
    """``image Canonical:ubuntu-24_04-lts:server`` or ``gallery image galProd/web``."""
    ref = record.get("image_reference") or {}
    if record.get("image_kind") == _os_image.GALLERY:
        parts = str(ref.get("id") or "").split("/")
        return "gallery image %s/%s" % (parts[-3], parts[-1]) if len(parts) > 3 else "gallery image"
    return "image %s:%s:%s" % (ref.get("publisher"), ref.get("offer"), ref.get("sku"))


class OsKind(_upgrade.RollingUpgradeKind):
    """OS image rolling upgrades (see the module docstring)."""

    name = "os"
    start_action = "osRollingUpgrade"
    noun = "OS rolling upgrade"

    def empty(self):
        return dict.fromkeys(RESULT_KEYS)

    def outdated(self, rollout, ctx):
        if rollout.catalog_cache is None:
            rollout.catalog_cache = _drift.CatalogCache()
        record = _os_image.check(rollout.client, *rollout.where, cache=rollout.catalog_cache,
                                 history=rollout.params.get("history") or 0, api_version=rollout.params["api_version"],
                                 deadline=ctx)
        details = dict((key, record[key]) for key in RESULT_KEYS)
        moved = movable(record)
        if record["outdated"] and not moved and not every_instance_protected(record):
            rollout.warn("Instances %s of %s run an image older than %s but are protected from scale-set actions: an OS "
                         "rolling upgrade leaves them as they are." % (", ".join(record["outdated_instances"]),
                                                                       rollout.params["name"], record["target_version"]))
        # Every instance protected: a start is refused, which the plan says rather than calling it current.
        outdated = bool(moved) or (record["outdated"] and every_instance_protected(record))
        return outdated, details, diff(record) if outdated else None

    def read_drift(self, client, where, cache, extensions=None, api_version=_os_image.API_VERSION):
        return _os_image.check(client, *where, cache=cache, history=0, api_version=api_version)

    def plan(self, rollout, ctx):
        plan = super(OsKind, self).plan(rollout, ctx)
        if rollout.params.get("operation_url"):
            return plan
        if _vmss.is_running(plan.latest) and _os_image.unmoved(plan.latest.get("progress")):
            # An upgrade runs and has moved nothing yet: when it is the platform's deferred one waiting for approval,
            # attaching would wait for nothing but the deadline.
            state = _os_image.read_approval(rollout.client, *rollout.where, api_version=rollout.params["api_version"],
                                            deadline=ctx)
            plan = plan._replace(details=dict(plan.details, approval=state))
        if plan.details.get("approval") == _os_image.PENDING:
            # Never attach to it nor start beside it (the drift read can find it too while no upgrade shows running).
            return plan._replace(action="approve" if rollout.params.get("approve_deferred") else "refuse",
                                 details=dict(plan.details, diff=None) if "diff" in plan.details else plan.details)
        details = plan.details
        if plan.action == "start" and details.get("refusals"):
            return plan._replace(action="refuse", details=dict(details, diff=None) if "diff" in details else details)
        if plan.action == "current" and details.get("image_kind") == _os_image.OTHER:
            # No target can be read for this image: not known to be current, and Azure refuses the start.
            return plan._replace(action="refuse")
        return plan

    def refusal(self, rollout, plan):
        if plan.details.get("approval") == _os_image.PENDING:
            return approval_text(rollout.params["name"], plan.latest)
        refusals = plan.details.get("refusals")
        if refusals:
            return refusal_text(rollout.params["name"], refusals)
        return super(OsKind, self).refusal(rollout, plan)

    def start(self, rollout, ctx):
        """The POST of the plan's action: ``osRollingUpgrade``, or ``approveRollingUpgrade`` for a deferred upgrade
        (its answer lost: approved when the upgrade no longer waits, which a fresh read tells; never sent twice)."""
        if rollout.action != "approve":
            return super(OsKind, self).start(rollout, ctx)
        try:
            return _vmss.start_upgrade(rollout.client, *rollout.where, api_version=rollout.params["api_version"],
                                       action=APPROVE_ACTION, deadline=ctx)[0], None
        except AzureError as error:
            if error.code != "ConnectionError" and error.status not in (500, 502, 504):
                raise
            if _os_image.read_approval(rollout.client, *rollout.where, api_version=rollout.params["api_version"],
                                       deadline=ctx) == _os_image.PENDING:
                raise
            rollout.warn("The answer to the approval of %s was lost (%s), but its OS upgrade no longer waits for "
                         "approval; watching it." % (rollout.params["name"], error))
            return None, None

    def raced(self, rollout, ctx, error):
        """The running upgrade that made Azure refuse the start (the base rule); any other 409 is Azure's refusal of
        this start, raised with its code and message and what to change."""
        running = super(OsKind, self).raced(rollout, ctx, error)
        if running is None and error.status == 409:
            raise refused(rollout.params["name"], error)
        return running

    def judge(self, rollout):
        """The base judgement; a fault whose code ``_os_image.ADVICE`` knows gets that advice."""
        try:
            return super(OsKind, self).judge(rollout)
        except ModuleFailure as failure:
            error = (rollout.watched() or {}).get("error") or {}
            advice = _os_image.ADVICE.get(str(error.get("code") or ""))
            if not advice:
                raise
            raise ModuleFailure("%s. To change: %s" % (failure.msg.rstrip("."), advice), **failure.result)


OS = OsKind()


# The rollout kinds of a batch step, by its option ``kind``: one kind per run (vmss_rollout_batch, the role).
KINDS = {"extension": _upgrade.EXTENSION, "os": OS, "model": _model.MODEL}
KIND_SPEC = {"kind": {"type": "str", "choices": sorted(KINDS), "default": "extension"}}
# The rolling-upgrade options a model rollout (kind=model) has no use for, with the only value it accepts: it reads no
# rolling upgrade, selects no extension, and its manualupgrade cannot be cancelled (vmss_model_rollout).
NOT_FOR_MODEL = (("extensions", None), ("only_if_outdated", True), ("if_running", "wait"), ("cancel_attached", False))


def approve_problem(params):
    """Why ``approve_deferred`` cannot work with the ``api_version`` given, or None."""
    version = str(params.get("api_version") or "")
    if params.get("approve_deferred") and version[:10] < APPROVE_SINCE:
        return ("approve_deferred needs api_version %s or later (the first with approveRollingUpgrade and "
                "osRollingUpgradeDeferral), got %s: set a later api_version, or unset approve_deferred"
                % (APPROVE_SINCE, version))
    return None


def kind_problems(params):
    """What is wrong with the kind and the options that go with it (empty when fine), naming the options."""
    kind = params.get("kind")
    if kind == "os" and approve_problem(params):
        return [approve_problem(params)]
    if kind != "os" and params.get("approve_deferred"):
        return ["approve_deferred is for kind=os (a deferred automatic OS upgrade); this batch has kind=%s: unset it, or "
                "set kind=os" % kind]
    if kind == "os" and params.get("extensions"):
        return ["extensions is for kind=extension; an OS image rollout (kind=os) considers the image of every instance, "
                "not extensions: unset extensions, or run the extensions in a rollout of their own"]
    if kind == "model":
        found = ["%s is not for kind=model: a model rollout (manualupgrade in batches) moves every instance not on the "
                 "latest model and reads no rolling upgrade; unset it" % option
                 for option, accepted in NOT_FOR_MODEL if (params.get(option) or None) != (accepted or None)]
        if params.get("on_timeout") == "cancel":
            found.append("on_timeout=cancel is not for kind=model: a manualupgrade cannot be cancelled (an instance "
                         "update in flight is never abandoned); use fail or leave")
        return found
    return ["%s is for kind=model (a model rollout); this batch has kind=%s: unset it, or set kind=model" % (option, kind)
            for option, spec in sorted(_model.MODEL_SPEC.items()) if params.get(option, spec["default"]) != spec["default"]]


def image_versions(result):
    """The OS image's versions from -> to in a record's ``versions`` (as ``_outcome.versions`` gives an extension's),
    from the OS drift read before the start; [] when it was not read."""
    if not result.get("image_kind"):
        return []
    return [{"name": "OS image", "from": dict(result.get("instance_versions") or {}), "to": result.get("target_version"),
             "outdated": len(movable(result))}]
