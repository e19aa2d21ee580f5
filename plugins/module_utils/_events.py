# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of the event source: arguments, observations, change detection, events, waits.

No I/O here. ``_watch.py`` reads Azure through the shared client and turns
what it reads into ``Observation`` objects; ``Tracker`` decides which of them
are state changes; ``build_event`` shapes the event a rulebook sees. The
source plugin (``extensions/eda/plugins/event_source/operation_events.py``)
only validates its arguments here and runs the rounds off the event loop.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import threading
import time

from ansible_collections.azure_ops.rollout.plugins.module_utils import _auth, _os_image, _validation
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureAuthError

EVENT_KEY = "azure_ops_rollout"
SOURCE_NAME = "azure_ops.rollout.operation_events"

VMSS_ROLLING_UPGRADE = "vmss_rolling_upgrade"
VMSS_EXTENSION_DRIFT = "vmss_extension_drift"
VMSS_OS_DRIFT = "vmss_os_drift"
ADU_IMPORT = "adu_import"
AKS_OPERATION = "aks_operation"
KINDS = (VMSS_ROLLING_UPGRADE, VMSS_EXTENSION_DRIFT, VMSS_OS_DRIFT, ADU_IMPORT, AKS_OPERATION)
VMSS_KINDS = (VMSS_ROLLING_UPGRADE, VMSS_EXTENSION_DRIFT, VMSS_OS_DRIFT)
DRIFT_KINDS = (VMSS_EXTENSION_DRIFT, VMSS_OS_DRIFT)

# The statuses each kind reports. A change into any other status (an import
# that became Running, a scale set never upgraded) updates the known state
# silently. Operations are outcomes; scale sets report every status.
REPORTED = {
    VMSS_ROLLING_UPGRADE: ("RollingForward", "Completed", "Faulted", "Cancelled"),
    VMSS_EXTENSION_DRIFT: ("Outdated", "Current"),
    VMSS_OS_DRIFT: ("Outdated", "AwaitingApproval", "Current"),
    ADU_IMPORT: ("Succeeded", "Failed"),
    AKS_OPERATION: ("Succeeded", "Failed", "Canceled"),
}
# States that need someone to act whenever they are seen: reported by the first read too (with previous_status
# null), never taken as a silent baseline. A scale set already behind its extensions' versions when the source starts
# is as outdated as one that falls behind later.
REPORTED_AT_START = {VMSS_EXTENSION_DRIFT: ("Outdated",), VMSS_OS_DRIFT: ("Outdated", "AwaitingApproval")}
# What an event's meta.hosts names, which ansible-rulebook's run_playbook uses as the --limit: the scale set (or
# cluster, or instance) itself, or every host of the inventory (a rule that runs the fleet playbook, rings in order).
META_HOSTS = ("target", "all")
# Device Update statuses of an operation still in flight (the only ones its list can filter on).
ADU_IN_FLIGHT = ("NotStarted", "Running")

DEFAULT_INTERVAL = 60
DEFAULT_LIST_INTERVAL = 600
# Consecutive failed rounds stretch the wait up to this (and never below the interval).
MAX_BACKOFF = 900

AUTH_ARGS = _auth.OPTION_NAMES
SOURCE_ARGS = ("kinds", "scale_sets", "resource_group", "resource_groups", "aks_clusters", "adu_endpoint",
               "adu_instance_id", "adu_api_version", "interval", "list_interval", "emit_current_state", "meta_hosts")

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class ArgumentError(ValueError):
    """The source's arguments break a rule; raised at start, before any request."""


# -- arguments ---------------------------------------------------------------------------------------
def _boolean(name, value, problems):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    problems.append("%s must be a boolean (true or false), got %r" % (name, value))
    return None


def _number(name, value, minimum, maximum, problems, integer=False):
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append("%s must be a number of seconds, got %r" % (name, value))
        return None
    if isinstance(value, bool) or math.isnan(number):  # booleans and NaN are no durations
        problems.append("%s must be a number of seconds, got %r" % (name, value))
        return None
    if integer:
        if number != int(number):
            problems.append("%s must be a whole number, got %r" % (name, value))
            return None
        number = int(number)
    if number < minimum or number > maximum:
        problems.append("%s must be between %s and %s, got %s" % (name, minimum, maximum, value))
        return None
    return number


def _string_list(name, value, problems):
    """A list of strings; a comma-separated string is accepted (rulebook variables are often strings)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        problems.append("%s must be a list of strings, got %r" % (name, value))
        return None
    return list(value)


def _targets(name, value, resource_group, name_rule, problems):
    """``scale_sets`` / ``aks_clusters``: names in ``resource_group`` or ``{resource_group, name}`` mappings."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        problems.append("%s must be a list of names or of {resource_group, name} mappings, got %r" % (name, value))
        return None
    targets = []
    for index, entry in enumerate(value):
        where = "%s[%d]" % (name, index)
        if isinstance(entry, str):
            group, target = resource_group, entry
            if not group:
                problems.append("%s is a bare name (%s): set resource_group, or give {resource_group, name}" % (where, entry))
                continue
        elif isinstance(entry, dict):
            unknown = sorted(set(entry) - {"name", "resource_group"})
            if unknown:
                problems.append("%s has unknown keys %s (allowed: name, resource_group)" % (where, ", ".join(unknown)))
                continue
            group, target = entry.get("resource_group") or resource_group, entry.get("name")
            if not target or not group:
                problems.append("%s needs name and resource_group (or the resource_group argument)" % where)
                continue
        else:
            problems.append("%s must be a name or a {resource_group, name} mapping, got %r" % (where, entry))
            continue
        for label, rule, text in (("resource_group", _validation.RESOURCE_GROUP, group), ("name", name_rule, target)):
            problem = rule.problem(text)
            if problem:
                problems.append("%s %s %s" % (where, label, problem))
                break
        else:
            if (group.lower(), target.lower()) not in [(g.lower(), t.lower()) for g, t in targets]:
                targets.append((group, target))
    return targets


def _auth_options(args, environ, problems):
    options = {name: args[name] for name in AUTH_ARGS if args.get(name) not in (None, "")}
    options = _auth.options_from_env(options, environ)
    if options.get("auth_source") not in _auth.AUTH_SOURCES:
        problems.append("auth_source must be one of %s, got %r" % (", ".join(_auth.AUTH_SOURCES), options.get("auth_source")))
    options["validate_certs"] = _boolean("validate_certs", options.get("validate_certs", True), problems)
    timeout = _number("request_timeout", options.get("request_timeout", 60), 1, 3600, problems, integer=True)
    options["request_timeout"] = timeout
    try:
        _auth.endpoints(options)
    except AzureAuthError as error:
        problems.append(error.message)
    if options.get("auth_source") == "credential_file" and not options.get("subscription_id"):
        try:
            options["subscription_id"] = _auth.read_credential_file(options.get("profile")).get("subscription_id")
        except AzureAuthError as error:
            problems.append(error.message)
    return options


def validate_args(args, environ=None):
    """The source's settings from its rulebook arguments (and the environment), or ArgumentError naming every problem.

    Nothing is contacted: the credential chain is only built, to catch a
    missing credential now rather than at the first poll.
    """
    if not isinstance(args, dict):
        raise ArgumentError("%s: the source arguments must be a mapping, got %r" % (SOURCE_NAME, args))
    problems = []
    # ansible-rulebook adds its own eda_* arguments (eda_feedback_queue).
    unknown = sorted(name for name in args if name not in AUTH_ARGS + SOURCE_ARGS and not str(name).startswith("eda_"))
    if unknown:
        problems.append("unknown argument(s) %s; the arguments are %s" % (", ".join(unknown), ", ".join(AUTH_ARGS + SOURCE_ARGS)))
    options = _auth_options(args, environ, problems)

    if args.get("kinds") is None:
        kinds = default_kinds(args)
    else:
        kinds = _string_list("kinds", args["kinds"], problems) or []
        bad = [kind for kind in kinds if kind not in KINDS]
        if bad:
            problems.append("kinds must be among %s, got %s" % (", ".join(KINDS), ", ".join(map(str, bad))))
        elif not kinds:
            problems.append("kinds must name at least one of %s" % ", ".join(KINDS))
    kinds = [kind for kind in KINDS if kind in kinds]

    resource_group = args.get("resource_group")
    if resource_group is not None:
        problem = _validation.RESOURCE_GROUP.problem(resource_group)
        if problem:
            problems.append("resource_group %s" % problem)
            resource_group = None
    scale_sets = _targets("scale_sets", args.get("scale_sets"), resource_group, _validation.VMSS_NAME, problems)
    groups = _string_list("resource_groups", args.get("resource_groups"), problems)
    for group in groups or []:
        problem = _validation.RESOURCE_GROUP.problem(group)
        if problem:
            problems.append("resource_groups entry %r %s" % (group, problem))
    if scale_sets is not None and groups is not None:
        problems.append("set scale_sets or resource_groups, not both")
    clusters = _targets("aks_clusters", args.get("aks_clusters"), resource_group, _validation.AKS_NAME, problems)

    adu = None
    adu_args = [name for name in ("adu_endpoint", "adu_instance_id", "adu_api_version") if args.get(name) is not None]
    if ADU_IMPORT in kinds or adu_args:
        adu = _adu_settings(args, problems)

    wants_vmss = any(kind in kinds for kind in VMSS_KINDS)
    if (scale_sets is not None or groups is not None) and not wants_vmss:
        problems.append("scale_sets / resource_groups are set but kinds has no scale set kind (%s)" % ", ".join(VMSS_KINDS))
    if clusters is not None and AKS_OPERATION not in kinds:
        problems.append("aks_clusters is set but kinds does not include %s" % AKS_OPERATION)
    if AKS_OPERATION in kinds and not clusters:
        problems.append("kinds includes %s: set aks_clusters (names in resource_group, or {resource_group, name})" % AKS_OPERATION)
    if adu_args and ADU_IMPORT not in kinds:
        problems.append("%s set but kinds does not include %s" % (", ".join(adu_args), ADU_IMPORT))
    if wants_vmss or AKS_OPERATION in kinds:
        if not options.get("subscription_id"):
            problems.append("subscription_id is required for %s (set the argument or AZURE_SUBSCRIPTION_ID)"
                            % ", ".join(kind for kind in kinds if kind != ADU_IMPORT))
        else:
            problem = _validation.SUBSCRIPTION_ID.problem(options["subscription_id"])
            if problem:
                problems.append("subscription_id %s" % problem)

    interval = _number("interval", args.get("interval", DEFAULT_INTERVAL), 0.01, 86400, problems)
    list_interval = _number("list_interval", args.get("list_interval", DEFAULT_LIST_INTERVAL), 0, 86400, problems)
    emit = _boolean("emit_current_state", args.get("emit_current_state", False), problems)
    meta_hosts = args.get("meta_hosts", "target")
    if meta_hosts not in META_HOSTS:
        problems.append("meta_hosts must be one of %s, got %r" % (", ".join(META_HOSTS), meta_hosts))

    if not problems and options.get("auth_source") in _auth.AUTH_SOURCES:
        try:
            # Builds the list of credentials to try; contacts nothing, imports nothing.
            _auth.credential_chain(options, True, None)
        except AzureAuthError as error:
            problems.append(error.message)
    if problems:
        raise ArgumentError("%s: invalid arguments: %s" % (SOURCE_NAME, "; ".join(problems)))
    return {
        "options": options,
        "kinds": kinds,
        "scale_sets": scale_sets,
        "resource_groups": groups,
        "aks_clusters": clusters or [],
        "adu": adu,
        "interval": interval,
        "list_interval": list_interval,
        "emit_current_state": emit,
        "meta_hosts": meta_hosts,
    }


def default_kinds(args):
    """Without ``kinds``: the kinds whose targets are set; the rolling upgrade when no other target is.

    Drift is never on by default: its reads are the expensive ones.
    """
    kinds = []
    if args.get("scale_sets") is not None or args.get("resource_groups") is not None:
        kinds.append(VMSS_ROLLING_UPGRADE)
    if args.get("aks_clusters") is not None:
        kinds.append(AKS_OPERATION)
    if any(args.get(name) is not None for name in ("adu_endpoint", "adu_instance_id", "adu_api_version")):
        kinds.append(ADU_IMPORT)
    return kinds or [VMSS_ROLLING_UPGRADE]


def _adu_settings(args, problems):
    from ansible_collections.azure_ops.rollout.plugins.module_utils import _adu

    settings = {"endpoint": args.get("adu_endpoint"), "instance_id": args.get("adu_instance_id"),
                "api_version": args.get("adu_api_version") or _adu.GA_API_VERSION}
    for name, key, rule in (("adu_endpoint", "endpoint", _validation.ADU_ENDPOINT),
                            ("adu_instance_id", "instance_id", _validation.ADU_INSTANCE)):
        if not settings[key]:
            problems.append("%s is required for %s" % (name, ADU_IMPORT))
            continue
        problem = rule.problem(settings[key])
        if problem:
            problems.append("%s %s" % (name, problem))
    if settings["api_version"] not in _adu.API_VERSIONS:
        problems.append("adu_api_version must be one of %s, got %r" % (", ".join(_adu.API_VERSIONS), settings["api_version"]))
    return settings


# -- observations and change detection --------------------------------------------------------------
class Observation:
    """What one read says about one watched thing: its status, and the fields of its event.

    ``key`` identifies the thing (a scale set, an operation), ``scope`` the
    read that observes it (a scale set, an AKS cluster, a Device Update
    instance). ``marker`` tells apart two occurrences of the same status (two
    rolling upgrades that both ``Completed``).
    """

    def __init__(self, kind, key, scope, status, host, name, subscription_id=None, resource_group=None, progress=None,
                 error=None, marker=None):
        self.kind = kind
        self.key = key
        self.scope = scope
        self.status = status
        self.marker = marker
        self.host = host
        self.name = name
        self.subscription_id = subscription_id
        self.resource_group = resource_group
        self.progress = progress or {}
        self.error = error

    @property
    def state(self):
        return (self.status, self.marker)

    @property
    def reported(self):
        return self.status in REPORTED[self.kind]


def scale_set_scope(kind, subscription_id, resource_group, name):
    """Scale sets are watched one by one: the scope is the scale set (names are case-insensitive in Azure)."""
    return (kind, subscription_id.lower(), resource_group.lower(), name.lower())


def aks_scope(subscription_id, resource_group, cluster):
    return (AKS_OPERATION, subscription_id.lower(), resource_group.lower(), cluster.lower())


def adu_scope(endpoint, instance_id):
    return (ADU_IMPORT, endpoint.lower(), instance_id.lower())


def rolling_upgrade_observation(subscription_id, resource_group, name, shaped):
    """A scale set's latest rolling upgrade (shaped by ``_shapes.rolling_upgrade``; None: never upgraded)."""
    running = (shaped or {}).get("running_status") or {}
    progress = dict((shaped or {}).get("progress") or {})
    if shaped:
        progress["percent_complete"] = shaped["percent_complete"]
        for key in ("start_time", "last_action", "last_action_time"):
            progress[key] = running.get(key)
    key = scale_set_scope(VMSS_ROLLING_UPGRADE, subscription_id, resource_group, name)
    return Observation(VMSS_ROLLING_UPGRADE, key, key, running.get("code"), name, name, subscription_id, resource_group,
                       progress, (shaped or {}).get("error"), marker=running.get("start_time"))


def drift_observation(subscription_id, resource_group, name, drift):
    """A scale set's extension drift (``_drift.check``): ``Outdated`` while any instance runs an outdated extension.

    The state is the sign of the outdated instance count: it changes when the count crosses 0, not when it moves.
    """
    records = drift.get("extensions") or []
    progress = {
        "outdated_instance_count": drift.get("outdated_instance_count", 0),
        "instance_count": max([record["instance_count"] for record in records] or [0]),
        # How instances are named in this scale set: instance ids (Uniform) or VM names (Flexible).
        "orchestration_mode": drift.get("orchestration_mode"),
        "instance_naming": drift.get("instance_naming"),
        "extensions": [{
            "name": record["name"], "publisher": record["publisher"], "type": record["type"],
            "model_version": record["model_version"], "target_version": record["target_version"],
            "outdated_instance_count": len(record["outdated_instances"]),
            "unknown_instance_count": len(record["unknown_instances"]),
            "instance_versions": record["instance_versions"], "note": record["note"],
        } for record in records],
    }
    key = scale_set_scope(VMSS_EXTENSION_DRIFT, subscription_id, resource_group, name)
    return Observation(VMSS_EXTENSION_DRIFT, key, key, "Outdated" if drift.get("outdated") else "Current", name, name,
                       subscription_id, resource_group, progress)


def os_drift_observation(subscription_id, resource_group, name, found):
    """A scale set's OS image drift (``_os_image.check``): ``Outdated`` while any instance runs an image older than the
    one an OS rolling upgrade would install; like the extension drift, the state changes when the count crosses 0.
    ``AwaitingApproval`` while the platform's deferred automatic OS upgrade waits for approval (``_os_image.approval``):
    an action is due then, an approval rather than a start."""
    progress = dict((key, found.get(key)) for key in (
        "outdated_instance_count", "instance_count", "target_version", "image_reference", "image_kind",
        "instance_versions", "orchestration_mode", "instance_naming", "note", "approval", "approval_instances"))
    progress["unknown_instance_count"] = len(found.get("unknown_instances") or [])
    key = scale_set_scope(VMSS_OS_DRIFT, subscription_id, resource_group, name)
    if found.get("approval") == _os_image.PENDING:
        status = "AwaitingApproval"
    else:
        status = "Outdated" if found.get("outdated") else "Current"
    return Observation(VMSS_OS_DRIFT, key, key, status, name, name, subscription_id, resource_group, progress)


def aks_observations(subscription_id, resource_group, cluster, operations):
    """The top-level operations of one AKS cluster (shaped by ``_shapes.aks_operation``)."""
    scope = aks_scope(subscription_id, resource_group, cluster)
    found = []
    for operation in operations:
        operation_id = operation.get("name") or (operation.get("id") or "").rsplit("/", 1)[-1]
        progress = {"operation_id": operation_id, "percent_complete": operation.get("percent_complete"),
                    "start_time": operation.get("start_time"), "end_time": operation.get("end_time"),
                    "resource_id": operation.get("id")}
        found.append(Observation(AKS_OPERATION, scope + (operation_id,), scope, operation.get("status"), cluster,
                                 cluster, subscription_id, resource_group, progress, operation.get("error")))
    return found


def adu_observation(endpoint, instance_id, operation):
    """One Device Update operation (shaped by ``_shapes.adu_operation``)."""
    scope = adu_scope(endpoint, instance_id)
    progress = {key: operation.get(key) for key in ("operation_id", "update_id", "created_date_time", "last_action_date_time",
                                                    "resource_location", "trace_id")}
    return Observation(ADU_IMPORT, scope + (operation.get("operation_id"),), scope, operation.get("status"),
                       instance_id, instance_id, progress=progress, error=operation.get("error"))


class Tracker:
    """The last known state of everything watched; turns observations into changes.

    The first successful read of a scope is its baseline: reported only when
    ``emit_current_state`` is set, or when its state is one of ``REPORTED_AT_START``
    (an outdated scale set), with ``previous_status`` None. After that a
    thing whose state differs from the last one seen is a change (a thing
    first seen later, such as a new operation, changes from nothing). A
    failed read changes nothing: the last known state stays.
    """

    def __init__(self, emit_current_state=False):
        self.emit_current_state = emit_current_state
        self._known = {}
        self._scopes = {}

    def known(self, key):
        """The last (status, marker) seen for ``key``, or None."""
        return self._known.get(key)

    def keys(self, scope):
        return set(self._scopes.get(scope) or ())

    def update(self, scope, observations, complete=True):
        """Record one successful read of ``scope``; return the changes to report as (observation, previous status).

        ``complete``: the observations are everything the scope holds now, so
        the things of the scope not among them are forgotten.
        """
        baseline = scope not in self._scopes
        keys = self._scopes.setdefault(scope, set())
        changes = []
        seen = set()
        for observation in observations:
            seen.add(observation.key)
            keys.add(observation.key)
            previous = self._known.get(observation.key)
            self._known[observation.key] = observation.state
            if previous == observation.state or not observation.reported:
                continue
            if baseline and not self.emit_current_state and \
                    observation.status not in REPORTED_AT_START.get(observation.kind, ()):
                continue
            changes.append((observation, previous[0] if previous else None))
        if complete:
            self.forget(scope, keys - seen)
        return changes

    def forget(self, scope, keys=None):
        """Forget some things of a scope, or the whole scope (a scale set that left the list)."""
        if keys is None:
            for key in self._scopes.pop(scope, ()):
                self._known.pop(key, None)
            return
        for key in keys:
            self._known.pop(key, None)
            self._scopes.get(scope, set()).discard(key)


def build_event(observation, previous_status, meta_hosts="target"):
    """The event a rulebook sees for one change; ``meta.hosts`` per ``meta_hosts`` (see META_HOSTS)."""
    return {
        EVENT_KEY: {
            "kind": observation.kind,
            "subscription_id": observation.subscription_id,
            "resource_group": observation.resource_group,
            "name": observation.name,
            "status": observation.status,
            "previous_status": previous_status,
            "progress": observation.progress,
            "error": observation.error,
        },
        "meta": {"hosts": "all" if meta_hosts == "all" else observation.host},
    }


# -- waiting -------------------------------------------------------------------------------------------
def next_wait(interval, failed_rounds):
    """Seconds until the next round: the interval, doubled per failed round in a row, capped at MAX_BACKOFF."""
    if failed_rounds <= 0:
        return interval
    return max(interval, min(interval * (2 ** min(failed_rounds, 16)), MAX_BACKOFF))


class SourceStopped(Exception):
    """The source was cancelled: a read in progress stops at its next wait."""


class StoppableClock:
    """The client's clock for the source: real time, but a wait ends at once when the source stops.

    The reads run in a worker thread that cannot be cancelled; a retry
    backoff or a Retry-After wait there raises SourceStopped instead of
    sleeping on after the source was cancelled.
    """

    def __init__(self):
        self._stop = threading.Event()

    @staticmethod
    def monotonic():
        return time.monotonic()

    @staticmethod
    def wall():
        return time.time()

    def sleep(self, seconds):
        if self._stop.wait(max(0.0, seconds)):
            raise SourceStopped()

    def stop(self):
        self._stop.set()

    @property
    def stopped(self):
        return self._stop.is_set()

    def check(self):
        if self._stop.is_set():
            raise SourceStopped()
