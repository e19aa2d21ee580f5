# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Extension drift: which instances of a scale set run an extension older than the one an upgrade would install.

Azure has no "is there anything to upgrade?" call. Three reads answer it (EXTENSIONS.md in the API notes):

1. the scale set's model (its extensions: publisher, type, ``typeHandlerVersion`` = ``major.minor``,
   ``autoUpgradeMinorVersion``), one GET;
2. the instances with their instance views (what every instance runs, the full version), paged, one list per
   scale set per read; never the per-instance ``instanceView`` call, which costs one request per instance. The
   model's ``orchestrationMode`` says which list: a **Uniform** scale set has the scale-set VM list
   (``$expand=instanceView&$select=instanceView``), its instances named by instance id (``"0"``); a **Flexible** one
   has none (Microsoft Learn, "Orchestration modes API comparison"): its instances are the virtual machines of the
   resource group whose ``virtualMachineScaleSet.id`` is the scale set (VirtualMachines_List with
   ``$filter='virtualMachineScaleSet/id' eq '<id>'`` and ``$expand=instanceView``), named by VM name. Every record
   says which naming it uses (``instance_naming``: ``instance_id`` or ``vm_name``);
3. the versions catalog of the scale set's location per publisher/type, a bare JSON array in no useful order;
   it does not change during a run, so it is read once per (location, publisher, type) through a
   ``CatalogCache`` the caller owns (one per module run, one per batch step).

The rule (documented in the modules ``vmss_extension_info`` and ``vmss_extension_upgrade``):

* target version = the highest listed version with the model's major version, and also its minor version when
  ``autoUpgradeMinorVersion`` is false; versions compare as integer tuples (``2.1.10`` > ``2.1.9``). None listed:
  the target is unknown and the extension cannot be outdated (the record says so in ``note``).
* an instance is outdated for an extension when the version it reports is lower than the target; one that reports
  no version for it (deallocated, agent not ready, extension absent) is unknown, listed apart, and does not by
  itself make the scale set outdated.
* the scale set is outdated when any instance is outdated for any considered extension.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading

from ansible_collections.azure_ops.rollout.plugins.module_utils import _validation
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import resource_path
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureTimeoutError
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import ModuleFailure
from ansible_collections.azure_ops.rollout.plugins.module_utils._vmss import (API_VERSION, FLEXIBLE, UNIFORM,
                                                                              orchestration_mode, vmss_path)

# The ``extensions`` option (documented in the doc fragment azure_ops.rollout.azure.extensions) and its rule.
EXTENSIONS_SPEC = {"extensions": {"type": "raw", "default": None}}   # raw: a scalar is refused, not made a one-item list
EXTENSIONS_RULES = {"extensions": _validation.ListOf(_validation.EXTENSION_NAME)}
# Seconds between checks of the deadline while waiting for another thread's catalog read.
WAIT_STEP = 1.0
RECORD_KEYS = ("name", "publisher", "type", "model_version", "target_version", "outdated", "instance_count",
               "outdated_instances", "unknown_instances", "provisioning_instances", "instance_versions", "instance_naming",
               "note")
# What ``reported_versions`` answers for a VM being created or deleted (see ``provisioning``).
PROVISIONING = "provisioning"
_TRANSITIONS = ("creating", "deleting")
# How the instances of a scale set are named in every result, record, report and event, per orchestration mode.
INSTANCE_NAMING = {UNIFORM: "instance_id", FLEXIBLE: "vm_name"}


# -- pure rule ---------------------------------------------------------------------
def version_tuple(text):
    """``"2.1.10"`` -> ``(2, 1, 10)``; None when it is not dot-separated integers."""
    parts = str(text or "").strip().split(".")
    if not parts or not all(part.isdigit() for part in parts):
        return None
    return tuple(int(part) for part in parts)


def model_extensions(model):
    """The extensions of a scale set model body, each ``{name, publisher, type, model_version, auto_minor}``."""
    profile = ((model or {}).get("properties") or {}).get("virtualMachineProfile") or {}
    found = []
    for ext in (profile.get("extensionProfile") or {}).get("extensions") or []:
        props = ext.get("properties") or {}
        found.append({"name": ext.get("name"), "publisher": props.get("publisher"), "type": props.get("type"),
                      "model_version": props.get("typeHandlerVersion"),
                      # Azure's default when the model omits it is false (only patches within major.minor).
                      "auto_minor": bool(props.get("autoUpgradeMinorVersion", False))})
    return found


def select(extensions, names=None):
    """(the model extensions named in ``names`` (all when None), the names the model does not have)."""
    if names is None:
        return list(extensions), []
    wanted = {name.lower() for name in names}
    present = {(ext["name"] or "").lower() for ext in extensions}
    return ([ext for ext in extensions if (ext["name"] or "").lower() in wanted],
            [name for name in names if name.lower() not in present])


def target_version(model_version, auto_minor, listed):
    """The highest of the ``listed`` version names an upgrade may install, or None."""
    model = version_tuple(model_version)
    if model is None:
        return None
    best = None
    for name in listed or []:
        version = version_tuple(name)
        if version is None or version[:1] != model[:1]:
            continue
        if not auto_minor and len(model) > 1 and version[1:2] != model[1:2]:
            continue
        if best is None or version > best[0]:
            best = (version, name)
    return best[1] if best else None


def instance_name(vm, mode=UNIFORM):
    """What names a listed VM: its ``instanceId`` in a Uniform scale set (the last segment of its ``id`` when a
    ``$select``-ed answer leaves ``instanceId`` out), its VM ``name`` in a Flexible one."""
    if mode == FLEXIBLE:
        return str(vm.get("name") or str(vm.get("id") or "").rstrip("/").rsplit("/", 1)[-1])
    if vm.get("instanceId") is not None:
        return str(vm["instanceId"])
    return str(vm.get("id") or "").rstrip("/").rsplit("/", 1)[-1] or "None"


def provisioning(vm):
    """Whether a listed VM is being created or deleted: a rolling upgrade with MaxSurge replaces every upgraded instance
    by a new one (a new instance id or VM name) and deletes the old one, so both show up in a list read meanwhile.

    Read from the instance view's ``ProvisioningState/creating|deleting`` status (present with ``$select=instanceView``)
    or, when the body has it, ``properties.provisioningState``.
    """
    props = vm.get("properties") or {}
    if str(props.get("provisioningState") or "").lower() in _TRANSITIONS:
        return True
    for status in (props.get("instanceView") or {}).get("statuses") or []:
        code = str(status.get("code") or "").lower()
        if code.startswith("provisioningstate/") and code.split("/")[1] in _TRANSITIONS:
            return True
    return False


def reported_versions(vm, mode=UNIFORM):
    """``(instance name, {extension name lower: (instance view type, full version)} or None)`` of one listed VM.

    The instance name is the instance id (Uniform) or the VM name (Flexible), see ``instance_name``. The versions come
    from ``properties.instanceView.extensions`` only: ``resources[]`` lists the model's extensions with the model's
    ``major.minor``, not what runs. None when the instance view has no extension list (deallocated VM, agent not
    ready, no instance view); ``PROVISIONING`` while the VM is being created or deleted (``provisioning``).
    """
    props = vm.get("properties") or {}
    view = props.get("instanceView") or {}
    reported = view.get("extensions")
    if provisioning(vm):
        return instance_name(vm, mode), PROVISIONING
    if reported is None:
        return instance_name(vm, mode), None
    versions = {(ext.get("name") or "").lower(): (ext.get("type"), ext.get("typeHandlerVersion"))
                for ext in reported if ext.get("name")}
    return instance_name(vm, mode), versions


def _same_type(ext, reported_type):
    """Whether an instance view ``type`` (``Publisher.type``, any casing) is the model's publisher/type."""
    if not reported_type:
        return True
    return reported_type.lower() == ("%s.%s" % (ext["publisher"], ext["type"])).lower()


def drift_record(ext, instances, listed, mode=UNIFORM):
    """One extension's record: target, outdated and unknown instances, installed version counts.

    ``instances`` are ``reported_versions`` pairs; ``listed`` the version names the catalog lists (None: not read);
    ``mode`` the orchestration mode, which says how the instances are named (``instance_naming``). Instances being
    created or deleted (MaxSurge replacing them) are listed apart in ``provisioning_instances``: neither outdated nor
    unknown, and not counted in ``instance_count``.
    """
    target = target_version(ext["model_version"], ext["auto_minor"], listed)
    wanted = version_tuple(target)
    outdated, unknown, moving, counts = [], [], [], {}
    for instance_id, reported in instances:
        if reported == PROVISIONING:
            moving.append(instance_id)
            continue
        entry = (reported or {}).get((ext["name"] or "").lower())
        version = version_tuple(entry[1]) if entry and _same_type(ext, entry[0]) else None
        if version is None:
            unknown.append(instance_id)
            continue
        counts[entry[1]] = counts.get(entry[1], 0) + 1
        if wanted is not None and version < wanted:
            outdated.append(instance_id)
    note = None
    if target is None:
        note = ("no version of %s.%s %s is listed in this location: target unknown, nothing to upgrade"
                % (ext["publisher"], ext["type"], _scope(ext)))
    return {"name": ext["name"], "publisher": ext["publisher"], "type": ext["type"], "model_version": ext["model_version"],
            "target_version": target, "outdated": bool(outdated), "instance_count": len(instances) - len(moving),
            "outdated_instances": outdated, "unknown_instances": unknown, "provisioning_instances": moving,
            "instance_versions": counts,
            "instance_naming": INSTANCE_NAMING[mode], "note": note}


def _scope(ext):
    model = version_tuple(ext["model_version"])
    if model is None:
        return "(model version %r is not major.minor)" % (ext["model_version"],)
    if ext["auto_minor"] or len(model) < 2:
        return "%d.x" % model[0]
    return "%d.%d.x" % model[:2]


def summarize(records):
    """Top-level ``outdated`` and ``outdated_instance_count`` (instances outdated for any extension, once each)."""
    instances = set()
    for record in records:
        instances.update(record["outdated_instances"])
    return {"outdated": bool(instances), "outdated_instance_count": len(instances)}


def diff(records):
    """Diff-mode text per outdated extension: before, the versions the instances run; after, the target."""
    before, after = [], []
    for record in records:
        if not record["outdated"]:
            continue
        label = "%s (%s.%s)" % (record["name"], record["publisher"], record["type"])
        runs = ", ".join("%s on %d" % (version, count) for version, count in
                         sorted(record["instance_versions"].items(), key=lambda item: version_tuple(item[0])))
        before.append("%s: %s\n" % (label, runs))
        after.append("%s: %s on %d (%d outdated instance%s upgraded)\n" % (
            label, record["target_version"], sum(record["instance_versions"].values()), len(record["outdated_instances"]),
            "" if len(record["outdated_instances"]) == 1 else "s"))
    return {"before_header": "installed extension versions", "after_header": "after the rolling upgrade",
            "before": "".join(before), "after": "".join(after)}


# -- reads -------------------------------------------------------------------------
class CatalogCache:
    """Listed extension versions per (location, publisher, type), and any other catalog under its own key (``get``;
    the image catalogs of ``_os_image``), read at most once; safe across threads.

    Threads that need a key another thread is reading wait for that read instead of sending their own. A failed
    read is not cached (the next caller tries again). ``reads`` counts the requests sent.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._values = {}
        self._pending = {}
        self.reads = 0

    def versions(self, client, subscription_id, location, publisher, ext_type, api_version=API_VERSION, deadline=None):
        key = (location.lower(), publisher.lower(), ext_type.lower())
        return self.get(key, lambda: read_catalog(client, subscription_id, location, publisher, ext_type, api_version,
                                                  deadline),
                        "the versions of %s.%s in %s" % (publisher, ext_type, location), deadline)

    def get(self, key, read, what, deadline=None):
        """The value cached under ``key``, else ``read()`` (once across threads); ``what`` names it in a timeout."""
        while True:
            with self._lock:
                if key in self._values:
                    return self._values[key]
                waiting = self._pending.get(key)
                if waiting is None:
                    self._pending[key] = threading.Event()
                    self.reads += 1
                    break
            # Wait in short steps: the deadline may run on another clock than the Event's.
            waiting.wait(min(WAIT_STEP, deadline.remaining()) if deadline is not None else WAIT_STEP)
            if deadline is not None and deadline.expired():
                raise AzureTimeoutError("the deadline passed while another thread read %s" % what)
        try:
            value = read()
            with self._lock:
                self._values[key] = value
            return value
        finally:
            with self._lock:
                self._pending.pop(key).set()


def read_catalog(client, subscription_id, location, publisher, ext_type, api_version=API_VERSION, deadline=None):
    """The version names listed for a publisher/type in a location ([] when Azure knows none: 404)."""
    path = resource_path("subscriptions", ("s", subscription_id), "providers/Microsoft.Compute/locations", ("l", location),
                         "publishers", ("p", publisher), "artifacttypes/vmextension/types", ("t", ext_type), "versions")
    body, response = client.get_json(path, params={"api-version": api_version}, deadline=deadline, allow_status=(404,))
    if response.status == 404:
        return []
    if isinstance(body, dict):  # the spec says a bare array; accept a {value: [...]} page too
        body = body.get("value")
    return [item["name"] for item in body or [] if isinstance(item, dict) and item.get("name")]


def read_model(client, subscription_id, resource_group, name, api_version=API_VERSION, deadline=None):
    """The scale set (GET), whose ``location`` and extensions the rule needs."""
    return client.get_json(vmss_path(subscription_id, resource_group, name), params={"api-version": api_version},
                           deadline=deadline)[0]


def flexible_filter(scale_set_id):
    """The one ``$filter`` VirtualMachines_List allows: the VMs of one Flexible scale set."""
    return "'virtualMachineScaleSet/id' eq '%s'" % scale_set_id


def instances_request(subscription_id, resource_group, name, mode=UNIFORM, scale_set_id=None, api_version=API_VERSION):
    """(path, query) of the one list that reads every instance's extension versions, per orchestration mode.

    Uniform: the scale-set VM list, ``$select=instanceView`` keeping each page to the instance views. Flexible: the
    resource group's VM list (``.../providers/Microsoft.Compute/virtualMachines``) filtered to the scale set.
    """
    if mode == FLEXIBLE:
        path = resource_path("subscriptions", ("s", subscription_id), "resourceGroups", ("g", resource_group),
                             "providers/Microsoft.Compute/virtualMachines")
        return path, {"api-version": api_version, "$filter": flexible_filter(
            scale_set_id or vmss_path(subscription_id, resource_group, name)), "$expand": "instanceView"}
    return (vmss_path(subscription_id, resource_group, name, "virtualMachines"),
            {"api-version": api_version, "$expand": "instanceView", "$select": "instanceView"})


def read_instances(client, subscription_id, resource_group, name, api_version=API_VERSION, deadline=None, mode=UNIFORM,
                   scale_set_id=None):
    """``reported_versions`` of every instance, from one list with instance views (every page, nothing else)."""
    path, params = instances_request(subscription_id, resource_group, name, mode, scale_set_id, api_version)
    return [reported_versions(vm, mode) for vm in client.pages(path, params=params, deadline=deadline)]


def check(client, subscription_id, resource_group, name, cache, names=None, api_version=API_VERSION, deadline=None):
    """The drift of one scale set: ``{extensions: [records], outdated, outdated_instance_count, location,
    orchestration_mode, instance_naming}``.

    Costs one model read, the VM list pages (skipped when no extension is considered) and the catalog reads
    ``cache`` does not already hold. Fails (ModuleFailure) when ``names`` has an extension the model does not.
    """
    model = read_model(client, subscription_id, resource_group, name, api_version, deadline) or {}
    considered, missing = select(model_extensions(model), names)
    if missing:
        have = ", ".join(ext["name"] for ext in model_extensions(model)) or "none"
        raise ModuleFailure("extensions: %s %s not in the model of %s (its extensions: %s)"
                            % (", ".join(missing), "is" if len(missing) == 1 else "are", name, have))
    mode = orchestration_mode(model)
    instances = read_instances(client, subscription_id, resource_group, name, api_version, deadline, mode,
                               model.get("id")) if considered else []
    location = model.get("location") or ""
    records = []
    for ext in considered:
        listed = None
        if ext["publisher"] and ext["type"] and location:
            listed = cache.versions(client, subscription_id, location, ext["publisher"], ext["type"], api_version, deadline)
        records.append(drift_record(ext, instances, listed, mode))
    result = {"extensions": records, "location": location, "orchestration_mode": mode,
              "instance_naming": INSTANCE_NAMING[mode]}
    result.update(summarize(records))
    return result
