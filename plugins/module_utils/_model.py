# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Model rollouts: bring a scale set's instances to its latest model in batches of ``manualupgrade``, with health gates.

A scale set whose upgrade policy is ``Manual`` (or ``Automatic``, where Azure updates every instance at once) gets a
new model (an image version, a size, a setting) and then nothing happens until someone calls ``POST
.../virtualMachineScaleSets/{name}/manualupgrade`` with instance ids (VirtualMachineScaleSets_UpdateInstances;
Microsoft Learn, "Performing manual upgrades on Virtual Machine Scale Sets"). This file holds what such a rollout
decides, as pure functions over what two reads return, and those reads and the one call:

1. the scale set's model (``_drift.read_model``): its orchestration mode, upgrade policy (a rolling policy's batch size
   and unhealthy limits are the defaults here) and whether it has the Application Health extension;
2. the instances, from **one** list per read (the scale-set VM list with ``$expand=instanceView``, every page; never
   one call per instance). ``properties.latestModelApplied`` says which instances are not on the latest model;
   ``protectionPolicy``, ``zones`` and the instance view (``platformFaultDomain``, statuses, ``vmHealth``) the rest.
   Not ``$select=instanceView``: it would keep only the instance views, and ``latestModelApplied`` is not in them;
3. ``manualupgrade`` with one batch's instance ids (``start_batch``): an operation (202, ``Azure-AsyncOperation``).

Rules (documented in the module ``vmss_model_rollout``):

* the plan is always "the instances not on the latest model", so a re-run after a stop, a timeout or a lost
  controller continues where the last one ended; instances being updated (a batch a lost controller started) are
  waited for, never sent again. Instances protected from scale-set actions are left out (Azure does not upgrade them:
  Microsoft Learn, "Instance Protection for Azure Virtual Machine Scale Set instances") and listed;
* a **Flexible** scale set is refused before any change: Azure documents ``manualupgrade`` with VM names for it, but
  its VMs (VirtualMachines_List) carry no ``latestModelApplied``, so nothing says which of them are outdated;
* batch size: a count, or ``N%`` of the scale set's instances rounded up (at least 1); by default the rolling policy's
  ``maxBatchInstancePercent`` when the model has one, else 20 %;
* order: ``unhealthy_first`` (unhealthy and unknown instances first: upgrading them cannot make things worse), then
  ``spread``: round-robin over zones and fault domains, so that a batch takes as few instances of one zone or fault
  domain as it can; ``name`` is the plain instance id order;
* health of an instance: ``healthy``, ``unhealthy`` or ``unknown``. With the Application Health extension in the model,
  ``instanceView.vmHealth.status.code`` decides (``HealthState/healthy`` / ``HealthState/unhealthy``; anything else,
  or none yet, is unknown); in every case the VM must have provisioned (``ProvisioningState/succeeded``; failed is
  unhealthy, updating or creating is unknown) and be running (``PowerState/running``; any other power state is
  unhealthy, none is unknown);
* the stop rule (Azure's rolling-upgrade policy, applied by the collection): after each batch's health gate, stop when
  the unhealthy share of the upgraded instances is more than ``max_unhealthy_upgraded_percent``, or the unhealthy share
  of all instances is more than ``max_unhealthy_percent`` (also checked before the first batch). An instance whose
  health is still unknown when ``health_timeout`` has passed counts as unhealthy: a gate that cannot be sure stops.
  An instance that was already unhealthy when the rollout planned and is still unhealthy after its upgrade counts in
  the share of all instances, not in the upgraded share (the new model did not break it).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

from ansible_collections.azure_ops.rollout.plugins.module_utils import _drift, _lro, _validation
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import ModuleFailure
from ansible_collections.azure_ops.rollout.plugins.module_utils._pacing import elastic
from ansible_collections.azure_ops.rollout.plugins.module_utils._upgrade import Plan
from ansible_collections.azure_ops.rollout.plugins.module_utils._vmss import (API_VERSION, FLEXIBLE, orchestration_mode,
                                                                              parse_time, vmss_path)

HEALTHY, UNHEALTHY, UNKNOWN = "healthy", "unhealthy", "unknown"
ORDERS = ("unhealthy_first", "spread", "name")
DEFAULT_BATCH_PERCENT = 20
DEFAULT_UNHEALTHY_PERCENT = 20
HEALTH_EXTENSION_PUBLISHER = "microsoft.managedservices"
HEALTH_EXTENSION_TYPES = ("applicationhealthlinux", "applicationhealthwindows")
_PERCENT = re.compile(r"^\s*(\d{1,3})\s*%\s*$")
_COUNT = re.compile(r"^\s*(\d{1,6})\s*$")
# Provisioning states an instance passes through while it is changed: its health is not known yet.
_TRANSIENT = ("creating", "updating", "deleting", "migrating", "starting")


class BatchSize:
    """The ``batch_size`` rule: a count of instances (at least 1) or a percentage ``N%`` (1 to 100)."""

    def __init__(self, percent=_PERCENT, count=_COUNT):
        self.percent = percent
        self.count = count

    def problem(self, value):
        text = str(value)
        percent = self.percent.match(text)
        if percent:
            return None if 1 <= int(percent.group(1)) <= 100 else "must be a percentage from 1%% to 100%% (got %s)" % text
        count = self.count.match(text)
        if count:
            return None if int(count.group(1)) >= 1 else "must be at least 1 instance (got %s)" % text
        return "must be a number of instances such as 3, or a percentage of the scale set such as 20%% (got %r)" % text[:40]


# The options that decide a model rollout, with their rules (documented in the module vmss_model_rollout; the lead
# adds the common ones: auth, api_version, wait_timeout, on_timeout). None: the scale set's rolling policy, else 20.
MODEL_SPEC = {
    "batch_size": {"type": "str", "default": None},
    "pause_between_batches": {"type": "int", "default": 0},
    "max_unhealthy_percent": {"type": "int", "default": None},
    "max_unhealthy_upgraded_percent": {"type": "int", "default": None},
    "health_timeout": {"type": "int", "default": 600},
    "order": {"type": "str", "choices": list(ORDERS), "default": "unhealthy_first"},
}
MODEL_RULES = {
    "batch_size": BatchSize(),
    "pause_between_batches": _validation.Range(0, 86400),
    "max_unhealthy_percent": _validation.Range(0, 100),
    "max_unhealthy_upgraded_percent": _validation.Range(0, 100),
    "health_timeout": _validation.Range(1, 86400),
}


# -- the model ---------------------------------------------------------------------
def _upgrade_policy(model):
    return ((model or {}).get("properties") or {}).get("upgradePolicy") or {}


def rolling_policy(model):
    """The model's ``upgradePolicy.rollingUpgradePolicy`` (None when it has none)."""
    policy = _upgrade_policy(model).get("rollingUpgradePolicy")
    return dict(policy) if policy else None


def upgrade_mode(model):
    """``Manual``, ``Automatic`` or ``Rolling`` (None when the model says nothing)."""
    return _upgrade_policy(model).get("mode")


def health_probe(model):
    """Whether the model has the Application Health extension, whose verdict instances report as ``vmHealth``."""
    for ext in _drift.model_extensions(model):
        if (str(ext["publisher"] or "").lower() == HEALTH_EXTENSION_PUBLISHER
                and str(ext["type"] or "").lower() in HEALTH_EXTENSION_TYPES):
            return True
    return False


def refusal(model):
    """Why a model rollout cannot run on this scale set (``{code, message}``), or None."""
    if orchestration_mode(model) == FLEXIBLE:
        return {"code": "FlexibleNotSupported",
                "message": "the scale set uses Flexible orchestration: Azure documents manualupgrade with VM names for "
                           "it, but its VMs report no latestModelApplied, so nothing says which of them are not on the "
                           "latest model; nothing was changed"}
    return None


def batch_size(option, instance_count, model=None):
    """``(instances per batch, how it was chosen)`` from the ``batch_size`` option (a count, ``N%`` or None) and the
    number of instances of the scale set; None takes the rolling policy's ``maxBatchInstancePercent``, else 20 %."""
    how = None
    if option is None:
        percent = (rolling_policy(model) or {}).get("maxBatchInstancePercent")
        how = "the scale set's maxBatchInstancePercent" if percent is not None else "the default"
        option = "%d%%" % int(percent if percent is not None else DEFAULT_BATCH_PERCENT)
    match = _PERCENT.match(str(option))
    if not match:
        return int(option), "batch_size %s" % option
    size = max(1, int(math.ceil(instance_count * int(match.group(1)) / 100.0)))
    return size, "%s%% of %d instances (%s)" % (match.group(1), instance_count, how or "batch_size")


def limits(params, model=None):
    """``{"max_unhealthy_percent", "max_unhealthy_upgraded_percent"}``: the options, else the rolling policy's
    ``maxUnhealthyInstancePercent`` / ``maxUnhealthyUpgradedInstancePercent``, else 20 each."""
    policy = rolling_policy(model) or {}
    found = {}
    for option, key in (("max_unhealthy_percent", "maxUnhealthyInstancePercent"),
                        ("max_unhealthy_upgraded_percent", "maxUnhealthyUpgradedInstancePercent")):
        value = params.get(option)
        if value is None:
            value = policy.get(key, DEFAULT_UNHEALTHY_PERCENT)
        found[option] = int(value)
    return found


# -- the instances -----------------------------------------------------------------
def _statuses(view, prefix):
    """The lowered second segment of the instance view's ``<prefix>/...`` status codes."""
    found = []
    for status in (view or {}).get("statuses") or []:
        code = str(status.get("code") or "")
        if code.lower().startswith(prefix + "/"):
            found.append(code.split("/")[1].lower())
    return found


def instance_health(vm, probe):
    """``(healthy | unhealthy | unknown, why)`` of one listed VM (with its instance view); ``probe``: the model has
    the Application Health extension, so ``vmHealth`` decides."""
    props = vm.get("properties") or {}
    view = props.get("instanceView")
    if not isinstance(view, dict):
        return UNKNOWN, "no instance view"
    provisioning = _provisioning(props)
    if provisioning == "failed":
        return UNHEALTHY, "provisioning failed"
    if provisioning != "succeeded":
        return UNKNOWN, "provisioning %s" % (provisioning or "state not reported")
    power = _statuses(view, "powerstate")
    if not power:
        return UNKNOWN, "power state not reported"
    if power[0] != "running":
        return UNHEALTHY, "VM %s" % power[0]
    if not probe:
        return HEALTHY, "provisioned and running"
    code = str(((view.get("vmHealth") or {}).get("status") or {}).get("code") or "")
    if code.lower() == "healthstate/healthy":
        return HEALTHY, code
    if code.lower() == "healthstate/unhealthy":
        return UNHEALTHY, code
    return UNKNOWN, code or "no vmHealth reported"


def _fault_domain(view):
    value = (view or {}).get("platformFaultDomain")
    return int(value) if isinstance(value, int) else None


def _provisioning(props):
    """The lowered provisioning state of a listed VM: its instance view's status, else ``properties.provisioningState``."""
    return (_statuses(props.get("instanceView"), "provisioningstate") or [str(props.get("provisioningState") or "").lower()])[0]


def instance_record(vm, probe):
    """One listed VM as ``{name, latest, protected, zone, fault_domain, provisioning, health, why}``; ``latest`` is
    None when the VM does not say (``latestModelApplied`` absent)."""
    props = vm.get("properties") or {}
    latest = props.get("latestModelApplied")
    health, why = instance_health(vm, probe)
    zones = vm.get("zones") or []
    return {"name": _drift.instance_name(vm), "latest": latest if isinstance(latest, bool) else None,
            "protected": bool((props.get("protectionPolicy") or {}).get("protectFromScaleSetActions")),
            "zone": str(zones[0]) if zones else None, "fault_domain": _fault_domain(props.get("instanceView")),
            "provisioning": _provisioning(props), "health": health, "why": why}


def name_key(name):
    """Instance ids sort as numbers (``"10"`` after ``"9"``), anything else as text after them."""
    text = str(name)
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def spread(records):
    """``records`` reordered round-robin over their (zone, fault domain) groups, each group in name order."""
    groups = {}
    for record in sorted(records, key=lambda item: name_key(item["name"])):
        groups.setdefault((record["zone"] or "", record["fault_domain"] if record["fault_domain"] is not None else -1),
                          []).append(record)
    queues = [groups[key] for key in sorted(groups)]
    ordered = []
    while any(queues):
        for queue in queues:
            if queue:
                ordered.append(queue.pop(0))
    return ordered


def order_instances(records, order="unhealthy_first"):
    """``records`` in the order they are upgraded (see the module docstring)."""
    if order == "name":
        return sorted(records, key=lambda item: name_key(item["name"]))
    if order == "spread":
        return spread(records)
    return (spread([r for r in records if r["health"] != HEALTHY])
            + spread([r for r in records if r["health"] == HEALTHY]))


def plan(records, size, order="unhealthy_first"):
    """What a rollout would do now: ``{instance_count, outdated, batches, in_flight, protected, unknown}``.

    ``outdated``: instances not on the latest model that a batch moves (names, upgrade order); ``batches``: the lists
    of names each manualupgrade gets; ``in_flight``: outdated instances being updated now (a batch an earlier run
    started and did not see to its end: wait for them, never send them again); ``protected``: outdated instances
    protected from scale-set actions (left as they are); ``unknown``: instances that do not say whether they are on
    the latest model (left out, listed).
    """
    outdated = [r for r in records if r["latest"] is False and not r["protected"]]
    movable = [r for r in outdated if r["provisioning"] not in _TRANSIENT]
    ordered = [r["name"] for r in order_instances(movable, order)]
    return {"instance_count": len(records), "outdated": ordered,
            "batches": [ordered[i:i + size] for i in range(0, len(ordered), max(1, size))],
            "in_flight": sorted((r["name"] for r in outdated if r["provisioning"] in _TRANSIENT), key=name_key),
            "protected": sorted((r["name"] for r in records if r["latest"] is False and r["protected"]), key=name_key),
            "unknown": sorted((r["name"] for r in records if r["latest"] is None), key=name_key)}


# -- health gates and the stop rule -------------------------------------------------
def verdict(records, names):
    """The health of the instances ``names`` (a batch): ``{healthy: [...], unhealthy: [...], unknown: [...], why:
    {name: reason}}``; an instance missing from ``records`` (gone from the list) is unknown."""
    found = {HEALTHY: [], UNHEALTHY: [], UNKNOWN: [], "why": {}}
    by_name = {r["name"]: r for r in records}
    for name in names:
        record = by_name.get(name)
        state, why = (record["health"], record["why"]) if record else (UNKNOWN, "not listed")
        found[state].append(name)
        if state != HEALTHY:
            found["why"][name] = why
    return found


def batch_verdict(found):
    """One word for a batch: ``unknown`` while any instance is unknown, else ``unhealthy`` when any is, else ``healthy``."""
    if found[UNKNOWN]:
        return UNKNOWN
    return UNHEALTHY if found[UNHEALTHY] else HEALTHY


def settled(found, timed_out=False):
    """Whether the health gate of a batch is over: nothing unknown any more, or ``health_timeout`` has passed."""
    return timed_out or not found[UNKNOWN]


def _share(part, whole):
    return 100.0 * part / whole if whole else 0.0


def judge(records, upgraded, limit, unhealthy_before=()):
    """The stop rule after a batch's health gate (``upgraded``: every instance upgraded so far; none: the check before
    the first batch). Unknown counts as unhealthy. Returns None to go on, or ``{rule, percent, limit, instances,
    message}`` naming the instances and why.

    ``unhealthy_before``: the instances that were not healthy when the rollout planned (``check``). One of them that is
    still not healthy after its upgrade was not broken by the new model: it does not count in the upgraded share (else
    upgrading the unhealthy instances first would stop every rollout that has one), but it still counts in the share
    of all instances.
    """
    by_name = {r["name"]: r for r in records}
    bad = {r["name"]: r["why"] for r in records if r["health"] != HEALTHY}
    for name in upgraded:
        if name not in by_name:
            bad[name] = "not listed"
    if upgraded:
        failed = sorted((name for name in upgraded if name in bad and name not in unhealthy_before), key=name_key)
        percent = _share(len(failed), len(upgraded))
        if percent > limit["max_unhealthy_upgraded_percent"]:
            return _breach("max_unhealthy_upgraded_percent", percent, limit, failed, bad,
                           "%d of %d upgraded instances" % (len(failed), len(upgraded)))
    failed = sorted(bad, key=name_key)
    percent = _share(len(failed), max(len(records), 1))
    if percent > limit["max_unhealthy_percent"]:
        return _breach("max_unhealthy_percent", percent, limit, failed, bad,
                       "%d of %d instances" % (len(failed), len(records)))
    return None


def _breach(rule, percent, limit, names, why, counted):
    listed = ", ".join("%s (%s)" % (name, why[name]) for name in names[:20])
    more = " and %d more" % (len(names) - 20) if len(names) > 20 else ""
    return {"rule": rule, "percent": round(percent, 1), "limit": limit[rule], "instances": names,
            "message": "%s unhealthy (%.0f%%, more than %s %d): %s%s" % (counted, percent, rule, limit[rule], listed, more)}


def remaining(records):
    """The instances still not on the latest model (what a re-run would upgrade, the protected ones included)."""
    return sorted((r["name"] for r in records if r["latest"] is False), key=name_key)


def batch_record(number, names, started_at, ended_at, found, operation_status=None):
    """One entry of the ``batches`` result: its number (1-based), instances, times (seconds), health and verdict."""
    return {"batch": number, "instances": list(names), "started_at": started_at, "ended_at": ended_at,
            "duration": round(ended_at - started_at, 1) if started_at is not None and ended_at is not None else None,
            "operation_status": operation_status, "verdict": batch_verdict(found),
            "health": {key: list(found[key]) for key in (HEALTHY, UNHEALTHY, UNKNOWN)}, "why": dict(found["why"])}


def plan_lines(planned, how=None):
    """The check-mode text: one line per batch naming its instances, then what is left out."""
    lines = ["batch %d: %s" % (index + 1, ", ".join(batch)) for index, batch in enumerate(planned["batches"])]
    if not lines and not planned["in_flight"]:
        lines.append("nothing to upgrade: every instance is on the latest model")
    elif lines and how:
        lines.insert(0, "%d instances not on the latest model, in batches of %s" % (len(planned["outdated"]), how))
    if planned["in_flight"]:
        lines.append("being updated now (waited for, not sent again): %s" % ", ".join(planned["in_flight"]))
    if planned["protected"]:
        lines.append("left as they are (protected from scale-set actions): %s" % ", ".join(planned["protected"]))
    if planned["unknown"]:
        lines.append("left out (they do not say whether they run the latest model): %s" % ", ".join(planned["unknown"]))
    return lines


def diff(planned, how=None):
    """Diff-mode text: before, the instances not on the latest model; after, the batches that move them."""
    before = "".join("%s\n" % name for name in planned["outdated"] + planned["in_flight"] + planned["protected"])
    return {"before_header": "instances not on the latest model", "after_header": "manualupgrade batches",
            "before": before, "after": "".join("%s\n" % line for line in plan_lines(planned, how))}


# -- reads and the call --------------------------------------------------------------
def instances_request(subscription_id, resource_group, name, api_version=API_VERSION):
    """(path, query) of the one list that reads every instance: the scale-set VM list with instance views, no
    ``$select`` (``latestModelApplied``, ``protectionPolicy`` and ``zones`` are outside the instance view)."""
    return (vmss_path(subscription_id, resource_group, name, "virtualMachines"),
            {"api-version": api_version, "$expand": "instanceView"})


def read_instances(client, subscription_id, resource_group, name, probe, api_version=API_VERSION, deadline=None):
    """``instance_record`` of every instance, from one list (every page, nothing else)."""
    path, params = instances_request(subscription_id, resource_group, name, api_version)
    return [instance_record(vm, probe) for vm in client.pages(path, params=params, deadline=deadline)]


def policy_note(model):
    """What the upgrade policy means for a model rollout, in one sentence, or None (``Manual``)."""
    mode = str(upgrade_mode(model) or "").lower()
    if mode == "rolling":
        return ("the upgrade policy is Rolling: Azure rolls a model change out itself with a rolling upgrade; instances "
                "still outdated are ones it has not reached or could not upgrade (see rollingUpgrades/latest)")
    if mode == "automatic":
        return ("the upgrade policy is Automatic: Azure updates every instance at once when the model changes; instances "
                "still outdated are ones it did not update")
    return None


def check(client, subscription_id, resource_group, name, params, api_version=API_VERSION, deadline=None):
    """Everything a plan needs, from one model read and one VM list: ``{upgrade_mode, orchestration_mode, refusal,
    note, probe, instances, unhealthy_before, batch_size, batch_size_from, limits, plan}`` (``instances`` and ``plan``
    empty when refused)."""
    model = _drift.read_model(client, subscription_id, resource_group, name, api_version, deadline) or {}
    found = {"upgrade_mode": upgrade_mode(model), "orchestration_mode": orchestration_mode(model),
             "refusal": refusal(model), "note": policy_note(model), "probe": health_probe(model),
             "limits": limits(params, model)}
    records = [] if found["refusal"] else read_instances(client, subscription_id, resource_group, name, found["probe"],
                                                         api_version, deadline)
    size, how = batch_size(params.get("batch_size"), len(records), model)
    found.update(instances=records, batch_size=size, batch_size_from=how,
                 unhealthy_before=sorted((r["name"] for r in records if r["health"] != HEALTHY), key=name_key),
                 plan=plan(records, size, params.get("order") or ORDERS[0]))
    return found


def start_batch(client, subscription_id, resource_group, name, instance_ids, api_version=API_VERSION, deadline=None):
    """POST ``manualupgrade`` with one batch's instance ids, once (never resent after an ambiguous failure); returns
    (Operation or None, server time of acceptance)."""
    response = client.request("POST", vmss_path(subscription_id, resource_group, name, "manualupgrade"),
                              params={"api-version": api_version}, body={"instanceIds": list(instance_ids)},
                              expected=(200, 202), starts_operation=True, deadline=deadline)
    return _lro.operation_from_response(response), parse_time(response.header("Date"))


# -- the kind of the engine (_engine.Rollout): plan, a batch at a time, health gate, judge ---------------------------
class Batch:
    """The batch in flight: its number, instances, whether it was sent (False: a lost controller's batch, waited for),
    when it began and when its health gate began (clock seconds), and the health found at the last read."""

    def __init__(self, number, names, sent, began):
        self.number, self.names, self.sent, self.began = number, list(names), sent, began
        self.health_began = None
        self.found = None


class ModelKind:
    """A model rollout as a kind of ``_engine.Rollout``: the plan is ``check``; each start sends one batch's
    ``manualupgrade`` (a batch an earlier run left in flight is waited for first, never sent again); each poll reads
    the operation until it ends, then the instance list until the batch's health is settled or ``health_timeout``
    passed; the judge applies the stop rule, then the next batch starts after ``pause_between_batches``."""

    name = "model"
    noun = "model rollout"

    # -- plan -------------------------------------------------------------------------------------------
    def plan(self, rollout, ctx):
        found = check(rollout.client, *rollout.where, params=rollout.params, api_version=rollout.params["api_version"],
                      deadline=ctx)
        planned = found["plan"]
        # An instance an earlier run's batch is updating is unknown now, not "unhealthy before": judged once waited for.
        found["unhealthy_before"] = [name for name in found["unhealthy_before"] if name not in planned["in_flight"]]
        rollout.model = {"found": found, "queue": list(planned["batches"]), "number": 0, "upgraded": [],
                         "records": found["instances"], "batch": None, "breach": None}
        if found["refusal"]:
            action = "refuse"
        elif not planned["batches"] and not planned["in_flight"]:
            action = "current"
        else:
            # Before the first batch; instances an earlier run's batch is updating are judged once waited for.
            settled_records = [r for r in found["instances"] if r["name"] not in planned["in_flight"]]
            rollout.model["breach"] = judge(settled_records, [], found["limits"], found["unhealthy_before"])
            action = "refuse" if rollout.model["breach"] else "start"
        details = {
            "orchestration_mode": found["orchestration_mode"], "upgrade_mode": found["upgrade_mode"], "note": found["note"],
            "instance_count": planned["instance_count"], "batch_size": found["batch_size"] if planned["instance_count"] else None,
            "limits": found["limits"], "plan": plan_lines(planned, found["batch_size_from"]),
            "upgraded_instances": [], "remaining_instances": remaining(found["instances"]),
            "in_flight_instances": planned["in_flight"], "protected_instances": planned["protected"],
            "unknown_instances": planned["unknown"], "batches": []}
        if action == "start" and rollout.diff_mode:
            details["diff"] = diff(planned, found["batch_size_from"])
        return Plan(None, action, details, None)

    @staticmethod
    def base_result(rollout, plan):
        return {}

    @staticmethod
    def refusal(rollout, plan):
        state, name = rollout.model, rollout.params["name"]
        if state["found"]["refusal"]:
            refused = state["found"]["refusal"]
            return "Refused the model rollout of %s: %s: %s." % (name, refused["code"], refused["message"])
        return ("Refused the model rollout of %s before its first batch: %s. Nothing was changed; bring those instances "
                "back to health (or raise the limit) and run again." % (name, state["breach"]["message"]))

    # -- start ------------------------------------------------------------------------------------------
    def start(self, rollout, ctx):
        state, clock = rollout.model, rollout.client.clock
        rollout.op_status = None
        state["number"] += 1
        in_flight = state["found"]["plan"]["in_flight"]
        if state["number"] == 1 and in_flight:
            state["batch"] = Batch(1, in_flight, False, clock.monotonic())
            rollout.warn("Instances %s of %s were being updated when this run began (a batch an earlier run started): "
                         "waiting for them, not sending them again." % (", ".join(in_flight), rollout.params["name"]))
            return None, None
        names = state["queue"].pop(0)
        state["batch"] = Batch(state["number"], names, True, clock.monotonic())
        operation, _accepted = start_batch(rollout.client, *rollout.where, instance_ids=names,
                                           api_version=rollout.params["api_version"], deadline=ctx)
        rollout.phase = "batch %d" % state["number"]
        return operation, None

    @staticmethod
    def raced(rollout, ctx, error):
        return None   # manualupgrade has no race to attach to: its refusal is the failure

    # -- watch ------------------------------------------------------------------------------------------
    @staticmethod
    def _operation_pending(rollout):
        return rollout.operation is not None and not _lro.is_terminal_status((rollout.op_status or {}).get("status"))

    def poll_request(self, rollout):
        if self._operation_pending(rollout):
            return "GET", rollout.operation.status_url
        path, query = instances_request(*rollout.where, api_version=rollout.params["api_version"])
        return "GET", rollout.client.url(path) + "?" + "&".join("%s=%s" % item for item in sorted(query.items()))

    def progress(self, rollout, ctx):
        """One poll: the batch's operation while it runs, then the instance list for the health gate."""
        state, poll = rollout.model, elastic(ctx)
        batch = state["batch"]
        if self._operation_pending(rollout):
            rollout.op_status, hinted = _lro.fetch_operation_status(rollout.client, rollout.operation, deadline=poll)
            if self._operation_pending(rollout):
                return hinted
        if batch.health_began is None:
            batch.health_began = rollout.client.clock.monotonic()
        state["records"] = read_instances(rollout.client, *rollout.where, probe=state["found"]["probe"],
                                          api_version=rollout.params["api_version"], deadline=poll)
        batch.found = verdict(state["records"], batch.names)
        rollout.phase = "batch %d: %s" % (batch.number, batch_verdict(batch.found))
        return None

    @staticmethod
    def ended(rollout):
        batch = rollout.model["batch"]
        if batch is None or batch.found is None:
            return False
        timed_out = rollout.client.clock.monotonic() - batch.health_began >= rollout.params["health_timeout"]
        return settled(batch.found, timed_out)

    def judge(self, rollout):
        """The batch's record, then the stop rule; the seconds to the next batch, or None when none is left."""
        state, result, clock = rollout.model, rollout.result, rollout.client.clock
        batch = state["batch"]
        state["upgraded"].extend(batch.names)
        result["batches"].append(batch_record(batch.number, batch.names, round(batch.began - rollout.began, 1),
                                              round(clock.monotonic() - rollout.began, 1), batch.found,
                                              (rollout.op_status or {}).get("status")))
        state["batch"] = None
        self.record(rollout)
        breach = judge(state["records"], state["upgraded"], state["found"]["limits"], state["found"]["unhealthy_before"])
        if breach:
            raise ModuleFailure(
                "Stopped the model rollout of %s after batch %d: %s. The %d instances not upgraded were left as they "
                "are: %s." % (rollout.params["name"], batch.number, breach["message"],
                              len(result["remaining_instances"]), ", ".join(result["remaining_instances"]) or "none"),
                **dict(result, stopped_by=breach))
        if not state["queue"]:
            return None
        return float(rollout.params.get("pause_between_batches") or 0)

    @staticmethod
    def record(rollout):
        state, result = rollout.model, rollout.result
        result.update(upgraded_instances=sorted(set(state["upgraded"]), key=name_key),
                      remaining_instances=remaining(state["records"]), changed=bool(state["upgraded"]))

    @staticmethod
    def progress_text(rollout):
        state = rollout.model
        batch = state["batch"]
        now = ("batch %d (%s) in flight" % (batch.number, ", ".join(batch.names))) if batch else "between batches"
        return "%s; %d instances upgraded, %d not on the latest model" % (
            now, len(state["upgraded"]), len(rollout.result["remaining_instances"]))

    @staticmethod
    def still_running(rollout):
        """A batch in flight goes on in Azure (manualupgrade cannot be cancelled); between batches nothing does."""
        return rollout.model["batch"] is not None

    def known(self, rollout, partial):
        """A record without its outcome: its batches so far, and whether a batch is in flight (what goes on in Azure if
        the run stops)."""
        result = rollout.result
        if result is None or not partial:
            return partial
        known = dict(dict((key, result[key]) for key in RESULT_KEYS if key in result), **partial)
        known["left_running"] = self.still_running(rollout)
        return known

    @staticmethod
    def read_drift(client, where, cache, extensions=None, api_version=API_VERSION):
        """The instances not on the latest model (``status_drift``): the model and the VM list, no catalog."""
        return status_drift(check(client, *where, params={}, api_version=api_version))


MODEL = ModelKind()
# The keys of the module's result (vmss_model_rollout's RETURN); the engine's other keys are its own.
RESULT_KEYS = ("changed", "action", "instance_count", "batch_size", "limits", "plan", "upgraded_instances",
               "remaining_instances", "in_flight_instances", "protected_instances", "unknown_instances", "batches",
               "stopped_by", "note", "upgrade_mode", "orchestration_mode", "timed_out", "left_running", "elapsed", "diff")


def module_result(result):
    """The module's result from the rollout's: its documented keys only."""
    return dict((key, value) for key, value in (result or {}).items() if key in RESULT_KEYS)


# -- the fleet (the batch step's kind=model: its records, its report, its status gate) ------------------------------
def fleet_summary(result):
    """What a model rollout's record carries (``_outcome.rollout_record``; None for the other kinds): the instances
    upgraded and still not on the latest model, the batch size, each batch small (number, instance count, times,
    verdict) and the stop rule that ended it."""
    if "batches" not in (result or {}):
        return None
    return {"upgraded_instances": list(result.get("upgraded_instances") or []),
            "remaining_instances": list(result.get("remaining_instances") or []),
            "protected_instances": list(result.get("protected_instances") or []),
            "in_flight_instances": list(result.get("in_flight_instances") or []),
            "instance_count": result.get("instance_count"), "batch_size": result.get("batch_size"),
            "planned_batches": sum(1 for line in result.get("plan") or [] if line.startswith("batch ")),
            "batches": [{"batch": entry["batch"], "instances": len(entry["instances"]), "started_at": entry["started_at"],
                         "ended_at": entry["ended_at"], "verdict": entry["verdict"]}
                        for entry in result.get("batches") or []],
            "stopped_by": result.get("stopped_by")}


def summary_text(summary):
    """``2 batches, 6 instances upgraded, 4 left (4 protected)`` for a record's ``model``, or '' ."""
    if not summary:
        return ""
    batches = summary["batches"]
    text = "%d batch%s%s, %d instance%s upgraded, %d left" % (
        len(batches), "" if len(batches) == 1 else "es",
        " of %d" % summary["planned_batches"] if summary["planned_batches"] > len(batches) else "",
        len(summary["upgraded_instances"]), "" if len(summary["upgraded_instances"]) == 1 else "s",
        len(summary["remaining_instances"]))
    if summary["protected_instances"]:
        text += " (%d protected)" % len(summary["protected_instances"])
    unhealthy = [entry["batch"] for entry in batches if entry["verdict"] != HEALTHY]
    if unhealthy:
        text += "; not healthy: batch %s" % ", ".join(str(number) for number in unhealthy)
    return text


def status_drift(found):
    """The status gate's drift of a model read (``check``): the instances not on the latest model, as the status record
    takes a drift (``_outcome.status_record``). Instances that do not say whether they are on the latest model count
    too (the gate cannot call them current). A scale set ``check`` refuses (Flexible: no ``latestModelApplied``)
    raises ModuleFailure: the status cannot say, so it is an error, never current."""
    if found["refusal"]:
        raise ModuleFailure("%s: %s" % (found["refusal"]["code"], found["refusal"]["message"]))
    left = remaining(found["instances"])
    unknown = found["plan"]["unknown"]
    latest = sum(1 for record in found["instances"] if record["latest"] is True)
    return {"drift_kind": "model", "outdated": bool(left or unknown), "outdated_instance_count": len(left) + len(unknown),
            "outdated_instances": left, "unknown_instances": unknown, "protected_instances": found["plan"]["protected"],
            "instance_versions": dict(item for item in (("latest", latest), ("older", len(left))) if item[1]),
            "upgrade_mode": found["upgrade_mode"]}
