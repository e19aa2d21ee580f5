# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VM scale set rolling upgrades: read the latest, start, cancel.

The decisions (is one running? would this start one? is this upgrade the one
we started?) are pure functions; the calls are one request each. The watch is
a state of the rollout's machine (``_engine.Rollout``, with ``_upgrade``'s kinds).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import datetime
import email.utils
import re

from ansible_collections.azure_ops.rollout.plugins.module_utils import _lro, _shapes, _validation
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import resource_path

API_VERSION = "2024-07-01"
RUNNING = "RollingForward"
UNIFORM, FLEXIBLE = "Uniform", "Flexible"
# The ``error.details[]`` code naming each instance that was unhealthy when Azure ended an upgrade before its first batch
# (``MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade``); its ``target`` is the instance's VM id.
UNHEALTHY_DETAIL = "RollingUpgradeInstanceUnhealthyError"
# How many of those instances a message names.
SHOWN_INSTANCES = 5

# The options naming the scale set a VMSS module reads (doc fragment azure_ops.rollout.azure.vmss), and their rules.
TARGET_SPEC = {
    "resource_group": {"type": "str", "required": True},
    "name": {"type": "str", "required": True, "aliases": ["vmss_name"]},
    "api_version": {"type": "str", "default": API_VERSION},
}
TARGET_RULES = {"resource_group": _validation.RESOURCE_GROUP, "name": _validation.VMSS_NAME,
                "api_version": _validation.API_VERSION}

# ``rollingUpgrades/latest`` as read: whether any upgrade ever ran, the shaped upgrade (or None), and the
# service's clock at the time of the answer (its Date header) for "completed within" and "is it ours".
Latest = collections.namedtuple("Latest", "exists upgrade server_time")


_RESOURCE_ID = re.compile(r"/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/", re.I)


def vmss_path(subscription_id, resource_group, name, *tail):
    return resource_path("subscriptions", ("s", subscription_id), "resourceGroups", ("g", resource_group),
                         "providers/Microsoft.Compute/virtualMachineScaleSets", ("n", name), *tail)


def scale_sets_path(subscription_id, resource_group=None):
    """The list of the scale sets of a subscription, or of one of its resource groups."""
    if resource_group:
        return resource_path("subscriptions", ("s", subscription_id), "resourceGroups", ("g", resource_group),
                             "providers/Microsoft.Compute/virtualMachineScaleSets")
    return resource_path("subscriptions", ("s", subscription_id), "providers/Microsoft.Compute/virtualMachineScaleSets")


Scope = collections.namedtuple("Scope", "subscription_id resource_group")


def id_scope(resource_id):
    """The Scope (subscription id, resource group) of an ARM resource id; both None when it has none."""
    match = _RESOURCE_ID.search(resource_id or "")
    return Scope(match.group("sub"), match.group("rg")) if match else Scope(None, None)


def parse_time(value):
    """An Azure ISO 8601 timestamp (7 fractional digits allowed) or an HTTP date, as aware UTC."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).astimezone(datetime.timezone.utc)
    except (TypeError, ValueError, IndexError):
        pass
    match = re.match(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?$", value.strip())
    if not match:
        return None
    fraction = (match.group(2) or ".0")[:7].ljust(7, "0")
    zone = match.group(3) or "+00:00"
    zone = "+00:00" if zone == "Z" else zone
    return datetime.datetime.strptime(match.group(1) + fraction + zone.replace(":", ""), "%Y-%m-%dT%H:%M:%S.%f%z")


def orchestration_mode(model):
    """``Uniform`` or ``Flexible`` from a scale set body (``properties.orchestrationMode``); a body that does not say is
    Uniform, the mode of every scale set created before Flexible existed."""
    mode = ((model or {}).get("properties") or {}).get("orchestrationMode") or UNIFORM
    return FLEXIBLE if str(mode).lower() == "flexible" else UNIFORM


# -- pure decisions ------------------------------------------------------------
def is_running(shaped):
    return bool(shaped) and shaped["running_status"]["code"] == RUNNING


def completed_recently(shaped, server_now, window):
    """True when the latest upgrade Completed and started within ``window`` seconds of ``server_now``."""
    if not shaped or not window or shaped["running_status"]["code"] != "Completed" or server_now is None:
        return False
    started = parse_time(shaped["running_status"].get("start_time"))
    return started is not None and (server_now - started).total_seconds() <= window


def is_faulted(shaped):
    return bool(shaped) and shaped["running_status"]["code"] == "Faulted"


def plan(shaped, if_running, server_now=None, skip_if_completed_within=0, if_faulted="start", outdated=None):
    """What the upgrade task will do: ``start``, ``attach``, ``current``, ``skip`` or ``refuse``.

    Order: a running upgrade decides first (``if_running``); then nothing outdated (``outdated`` is False: every
    instance runs the target versions, see ``_drift``) is ``current``; then a latest upgrade that ``Faulted`` with
    ``if_faulted=fail`` refuses (someone must decide to start again after a policy breach); then an upgrade
    that completed within ``skip_if_completed_within`` seconds skips; else start. ``outdated=None`` means not
    checked (``only_if_outdated=false``): never ``current``.
    """
    if is_running(shaped):
        return {"wait": "attach", "fail": "refuse", "start": "start"}[if_running]
    if outdated is False:
        return "current"
    if if_faulted == "fail" and is_faulted(shaped):
        return "refuse"
    if completed_recently(shaped, server_now, skip_if_completed_within):
        return "skip"
    return "start"


def refusal_message(shaped, name):
    """Why ``plan`` refused, in one sentence (a running upgrade with if_running=fail, or a Faulted one)."""
    if is_faulted(shaped):
        error = shaped.get("error") or {}
        cause = ": %s: %s" % (error.get("code"), error.get("message")) if error.get("code") else ""
        return ("The latest rolling upgrade of %s Faulted (started %s)%s. Not starting another (if_faulted=fail): "
                "fix the cause, then run with if_faulted=start." % (name, shaped["running_status"].get("start_time"), cause))
    return "A rolling upgrade is already running on %s (%s) and if_running=fail" % (name, progress_text(shaped))


def progress_text(shaped):
    """``RollingForward, 40.0% done: succeeded 4, failed 0, in progress 2, pending 4``."""
    if not shaped:
        return "no rolling upgrade status"
    return ("%(code)s, %(percent_complete)s%% done: succeeded %(succeeded)s, failed %(failed)s, "
            "in progress %(in_progress)s, pending %(pending)s" % _shapes.progress_summary(shaped))


def unhealthy_instances(shaped):
    """The instances Azure names unhealthy in a rolling upgrade's ``error.details`` (``RollingUpgradeInstanceUnhealthyError``):
    the last segment of each target, an instance id (``.../virtualMachineScaleSets/web/virtualMachines/0``) or, in a
    Flexible scale set, a VM name (``.../virtualMachines/web_1a2b3c4d``). Empty when it names none."""
    error = (shaped or {}).get("error") or {}
    return [str(detail["target"]).rstrip("/").rsplit("/", 1)[-1] for detail in error.get("details") or []
            if isinstance(detail, dict) and detail.get("code") == UNHEALTHY_DETAIL and detail.get("target")]


def unhealthy_text(shaped, limit=SHOWN_INSTANCES):
    """``Unhealthy instances (ids): 0, 1, 2, 3, 4 and 3 more`` from ``unhealthy_instances``, or ''."""
    names = unhealthy_instances(shaped)
    if not names:
        return ""
    targets = [str(d.get("target") or "") for d in ((shaped or {}).get("error") or {}).get("details") or []
               if isinstance(d, dict)]
    kind = "instance ids" if any("/virtualmachinescalesets/" in t.lower() for t in targets) else "VM names"
    more = " and %d more" % (len(names) - limit) if len(names) > limit else ""
    return "Unhealthy instances (%s): %s%s" % (kind, ", ".join(names[:limit]), more)


def is_ours(shaped, started_after):
    """Whether the latest rolling upgrade began at or after our start (server clock)."""
    if started_after is None or shaped is None:
        return shaped is not None
    started = parse_time(shaped["running_status"].get("start_time"))
    return started is None or started >= started_after - datetime.timedelta(seconds=2)


def failure_message(shaped, operation=None):
    """Azure's own code and message for a rolling upgrade that did not complete."""
    error = (shaped or {}).get("error") or (operation or {}).get("error")
    code = (shaped or {}).get("running_status", {}).get("code")
    counts = _shapes.progress_summary(shaped) if shaped else {}
    tally = ""
    if counts:
        tally = " (succeeded %(succeeded)s, failed %(failed)s, in progress %(in_progress)s, pending %(pending)s)" % counts
    if error and error.get("code"):
        named = unhealthy_text(shaped)
        return "Rolling upgrade %s: %s: %s%s%s" % (code or "failed", error["code"], error.get("message") or "", tally,
                                                   ". " + named if named else "")
    if code == "Cancelled":
        return "Rolling upgrade was cancelled%s" % tally
    status = (operation or {}).get("status")
    return "Rolling upgrade ended %s%s" % (code or status or "without a status", tally)


# -- calls -----------------------------------------------------------------------
def read_latest(client, subscription_id, resource_group, name, api_version=API_VERSION, deadline=None):
    """``rollingUpgrades/latest`` as a Latest. 404 NotFound means none ever ran. ``deadline``: a Deadline or a
    ``_pacing.Context`` (an elastic one for a poll)."""
    path = vmss_path(subscription_id, resource_group, name, "rollingUpgrades/latest")
    body, response = client.get_json(path, params={"api-version": api_version}, deadline=deadline, allow_status=(404,))
    server_now = parse_time(response.header("Date"))
    if response.status == 404:
        error = client.error_from(response)
        if error.code != "NotFound":
            # ResourceNotFound / ResourceGroupNotFound: the scale set itself is missing.
            raise error
        return Latest(False, None, server_now)
    return Latest(True, _shapes.rolling_upgrade(body), server_now)


def list_scale_sets(client, subscription_id, resource_group=None, api_version=API_VERSION, deadline=None):
    """Lazily yield the scale set bodies of a subscription (or resource group), across pages."""
    return client.pages(scale_sets_path(subscription_id, resource_group), params={"api-version": api_version},
                        deadline=deadline)


def start_upgrade(client, subscription_id, resource_group, name, api_version=API_VERSION, action="extensionRollingUpgrade",
                  deadline=None):
    """POST the start action once; return (Operation or None, server time of acceptance)."""
    path = vmss_path(subscription_id, resource_group, name, action)
    response = client.request("POST", path, params={"api-version": api_version}, expected=(200, 202),
                              starts_operation=True, deadline=deadline)
    return _lro.operation_from_response(response), parse_time(response.header("Date"))


def cancel_upgrade(client, subscription_id, resource_group, name, api_version=API_VERSION, deadline=None):
    """POST rollingUpgrades/cancel; returns the cancel Operation (or None)."""
    path = vmss_path(subscription_id, resource_group, name, "rollingUpgrades/cancel")
    response = client.request("POST", path, params={"api-version": api_version}, expected=(200, 202),
                              starts_operation=True, deadline=deadline)
    return _lro.operation_from_response(response)
