# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OS image drift: which instances of a scale set run an image older than the one an OS rolling upgrade would install.

The OS counterpart of ``_drift`` (extensions), with the same reads and the same naming of instances:

1. the scale set's model (``virtualMachineProfile.storageProfile.imageReference``, the upgrade policy), one GET;
2. the instances, from the one list ``_drift`` makes (Uniform: the scale-set VM list; Flexible: the resource group's
   VM list filtered to the scale set), never one call per instance. Which image an instance runs is its
   ``storageProfile.imageReference.exactVersion``, part of the VM's model, not of its instance view: the Uniform list
   is therefore read without ``$select=instanceView`` (which keeps only instance views), still with
   ``$expand=instanceView`` so that the same pages serve the extension rule as well;
3. the image catalog, once per batch through the caller's ``_drift.CatalogCache``:

   * a platform image (``publisher``/``offer``/``sku``, version ``latest``): the location's versions list for that
     publisher, offer and SKU (VirtualMachineImages_List, a bare array in no useful order); the target is the highest;
   * a Compute Gallery image definition (``imageReference.id`` ending ``/galleries/{g}/images/{definition}``): its
     versions (GalleryImageVersions_ListByGalleryImage, paged); the target is the highest version that is not
     ``publishingProfile.excludeFromLatest``, whose ``provisioningState`` is ``Succeeded`` and that is replicated to
     the scale set's region (``publishingProfile.targetRegions[].name``).

   Versions compare as integer tuples (``2024.1.10`` > ``2024.1.9``), as in ``_drift.version_tuple``.

A deferred automatic OS upgrade (``automaticOSUpgradePolicy.osRollingUpgradeDeferral``) waits for an
``approveRollingUpgrade`` call; Microsoft documents the flag and the call (AutomaticOSUpgradePolicy in the Compute
REST specification and SDKs: "Deferred OS upgrades will send advanced notifications on a per-VM basis ... via the
IMDS tag 'Platform.PendingOSUpgrade'. The upgrade then defers until the upgrade is approved via an
ApproveRollingUpgrade call"), but not how Resource Manager shows the wait: the IMDS tag is inside each VM, out of a
controller's reach. ``approval`` therefore infers it from documented fields: deferral on, and an ``osUpgradeHistory``
entry started by ``Platform``, still ``RollingForward``, that has moved no instance yet (its progress counts none
succeeded, failed or in progress: once approved, its batches move instances) [UNVERIFIED that a deferred upgrade
shows so while it waits].

Azure's refusals of ``osRollingUpgrade`` are pure predicates over what these reads return (``refusals``): each is
Azure's ``code`` with a sentence that says what to change. Microsoft Learn, "Azure Virtual Machine Scale Set automatic
OS image upgrades" (the Start OS Upgrade API, image requirements); the refusal messages seen in the wild are in
/work/shared/azure-api/SUMMARY.md section 1 (Error cases).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import re

from ansible_collections.azure_ops.rollout.plugins.module_utils import _drift
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import resource_path
from ansible_collections.azure_ops.rollout.plugins.module_utils._vmss import (API_VERSION, orchestration_mode, parse_time,
                                                                              vmss_path)

# Compute Gallery resources have their own api-versions (GalleryRP); this one lists image versions with their
# publishing profile and provisioning state.
GALLERY_API_VERSION = "2023-07-03"
PLATFORM, GALLERY, OTHER = "platform", "gallery", "other"
LATEST = "latest"
HISTORY_ENTRIES = 5
HISTORY_LIMIT = 100   # the most history entries a task may ask for
RECORD_KEYS = ("image_reference", "image_kind", "target_version", "outdated", "instance_count", "outdated_instances",
               "unknown_instances", "provisioning_instances", "protected_instances", "instance_versions",
               "instance_naming", "note")
_GALLERY_ID = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Compute/"
                         r"galleries/(?P<gallery>[^/]+)/images/(?P<image>[^/]+)(?:/versions/(?P<version>[^/]+))?/?$", re.I)

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
# Whether a deferred automatic OS upgrade waits for approval (``approval``).
NOT_DEFERRED, NONE_PENDING, PENDING = "not_deferred", "none_pending", "pending"
# Azure's refusal codes, and what the operator changes for each.
PINNED = "OperationNotAllowed"
WINDOW = "RollingUpgradeBatchStartTimeNotWithinScheduledWindows"
ADVICE = {
    WINDOW: "the scale set's scheduled maintenance window does not cover now: start the upgrade inside a window of its "
            "maintenance configuration, or widen the window",
}


# -- pure rule ---------------------------------------------------------------------
def model_image(model):
    """What the model's ``imageReference`` names: ``{kind, reference, publisher, offer, sku, version, gallery}``.

    ``kind`` is ``platform`` (publisher/offer/sku), ``gallery`` (a Compute Gallery image definition or version by
    resource id; ``gallery`` then holds ``{subscription, resource_group, gallery, image, version}``) or ``other``
    (a managed image, a shared or community gallery, or no reference: nothing this collection can read a target for).
    """
    profile = ((model or {}).get("properties") or {}).get("virtualMachineProfile") or {}
    ref = dict((profile.get("storageProfile") or {}).get("imageReference") or {})
    found = {"kind": OTHER, "reference": ref, "publisher": ref.get("publisher"), "offer": ref.get("offer"),
             "sku": ref.get("sku"), "version": ref.get("version"), "gallery": None}
    match = _GALLERY_ID.match(str(ref.get("id") or ""))
    if match:
        found["kind"] = GALLERY
        found["gallery"] = {"subscription": match.group("sub"), "resource_group": match.group("rg"),
                            "gallery": match.group("gallery"), "image": match.group("image"),
                            "version": match.group("version")}
        found["version"] = match.group("version") or LATEST
    elif ref.get("publisher") and ref.get("offer") and ref.get("sku"):
        found["kind"] = PLATFORM
    return found


def pinned(image):
    """Whether the model names one image version instead of ``latest`` (an OS upgrade then has nothing to move to)."""
    return image["kind"] != OTHER and str(image["version"] or "").lower() != LATEST


def platform_target(listed):
    """The highest of the listed platform image version names, or None."""
    best = None
    for name in listed or []:
        version = _drift.version_tuple(name)
        if version is not None and (best is None or version > best[0]):
            best = (version, name)
    return best[1] if best else None


def _region(name):
    return str(name or "").replace(" ", "").lower()


def gallery_candidate(version, region):
    """Whether a gallery image version (GalleryImageVersions_List item) is one ``latest`` may resolve to in ``region``:
    not ``excludeFromLatest``, provisioning succeeded, replicated to the region (its ``targetRegions``; the version's own
    location when it lists none)."""
    props = version.get("properties") or {}
    publishing = props.get("publishingProfile") or {}
    if publishing.get("excludeFromLatest"):
        return False
    if str(props.get("provisioningState") or "").lower() != "succeeded":
        return False
    regions = [_region(item.get("name")) for item in publishing.get("targetRegions") or []] or [_region(version.get("location"))]
    return _region(region) in regions


def gallery_target(versions, region):
    """The highest gallery image version name ``gallery_candidate`` accepts in ``region``, or None."""
    return platform_target([item.get("name") for item in versions or [] if gallery_candidate(item, region)])


def protected(vm):
    """Whether a listed VM is protected from scale-set actions (an OS upgrade skips it)."""
    policy = (vm.get("properties") or {}).get("protectionPolicy") or {}
    return bool(policy.get("protectFromScaleSetActions"))


def running_version(vm):
    """The image version a listed VM runs: ``storageProfile.imageReference.exactVersion``, else the version segment
    of a gallery image version id [UNVERIFIED whether Azure fills exactVersion for gallery images]; None unknown."""
    ref = ((vm.get("properties") or {}).get("storageProfile") or {}).get("imageReference") or {}
    if ref.get("exactVersion"):
        return str(ref["exactVersion"])
    match = _GALLERY_ID.match(str(ref.get("id") or ""))
    return match.group("version") if match and match.group("version") else None


def instance_image(vm, mode):
    """``(instance name, version or None or _drift.PROVISIONING, protected)`` of one listed VM."""
    name = _drift.instance_name(vm, mode)
    if _drift.provisioning(vm):
        return name, _drift.PROVISIONING, False
    return name, running_version(vm), protected(vm)


def os_record(image, instances, target, mode):
    """The OS drift of one scale set from ``instance_image`` triples and the ``target`` version (None: unknown)."""
    wanted = _drift.version_tuple(target)
    outdated, unknown, moving, shielded, counts = [], [], [], [], {}
    for name, version, is_protected in instances:
        if version == _drift.PROVISIONING:
            moving.append(name)
            continue
        if is_protected:
            shielded.append(name)
        parsed = _drift.version_tuple(version)
        if parsed is None:
            unknown.append(name)
            continue
        counts[version] = counts.get(version, 0) + 1
        if wanted is not None and parsed < wanted:
            outdated.append(name)
    note = None
    if image["kind"] == OTHER:
        note = "the model's image is not a platform image nor a Compute Gallery image definition: target unknown"
    elif target is None:
        note = "no version of the model's image is listed for this region: target unknown, nothing to upgrade"
    return {"image_reference": image["reference"], "image_kind": image["kind"], "target_version": target,
            "outdated": bool(outdated), "instance_count": len(instances) - len(moving),
            "outdated_instances": outdated, "unknown_instances": unknown, "provisioning_instances": moving,
            "protected_instances": shielded, "instance_versions": counts,
            "instance_naming": _drift.INSTANCE_NAMING[mode], "note": note}


def _refusal(code, message):
    return {"code": code, "message": message}


def pinned_refusal(image):
    """409 OperationNotAllowed when the model pins a version: only instances whose ``imageReference.version`` is
    ``latest`` can be upgraded (SUMMARY.md section 1; terraform-provider-azurerm PR #12590)."""
    if not pinned(image):
        return None
    if image["kind"] == GALLERY:
        change = "reference the image definition (drop /versions/%s from imageReference.id)" % image["version"]
    else:
        change = "set imageReference.version to latest"
    return _refusal(PINNED, "the model pins image version %s and an OS rolling upgrade only moves instances whose "
                            "imageReference.version is latest: %s in the scale set's model, then upgrade"
                    % (image["version"], change))


def image_refusal(image):
    """OperationNotAllowed when the image is neither a platform image nor a Compute Gallery image (azure-cli #6640)."""
    if image["kind"] != OTHER:
        return None
    return _refusal(PINNED, "the OS rolling upgrade API needs a platform image or a Compute Gallery image in the model; "
                            "this model uses neither (a managed image or none): move the model to a gallery image "
                            "definition")


def protected_refusal(instances):
    """OperationNotAllowed when every instance is protected from scale-set actions (terraform PR #12590)."""
    present = [item for item in instances if item[1] != _drift.PROVISIONING]
    if not present or not all(item[2] for item in present):
        return None
    return _refusal(PINNED, "every instance of the scale set is protected from scale-set actions, so an OS rolling "
                            "upgrade has nothing to move: remove protectFromScaleSetActions from the instances to upgrade")


def policy_refusal(model):
    """OperationNotAllowed when the upgrade policy rules a manual OS upgrade out: mode ``Automatic`` (Azure applies a
    model change to every instance at once) [UNVERIFIED: the recordings show ``Manual`` accepted, SUMMARY.md section
    1, so ``Manual`` and ``Rolling`` pass]."""
    mode = str((((model or {}).get("properties") or {}).get("upgradePolicy") or {}).get("mode") or "")
    if mode.lower() != "automatic":
        return None
    return _refusal(PINNED, "the scale set's upgrade policy is Automatic, which rules out an OS rolling upgrade: set "
                            "upgradePolicy.mode to Rolling (with a rollingUpgradePolicy)")


def refusals(model, image, instances):
    """Every refusal Azure would answer a start with, in the order it checks them [UNVERIFIED order]."""
    found = [image_refusal(image), pinned_refusal(image), policy_refusal(model), protected_refusal(instances)]
    return [item for item in found if item]


def explain(error):
    """Azure's error (``{code, message}``) with the sentence saying what to change, when this module knows one."""
    error = dict(error or {})
    advice = ADVICE.get(str(error.get("code") or ""))
    if advice:
        error["message"] = "%s (%s)" % (error.get("message") or error.get("code"), advice)
    return error


def automatic_policy(model):
    """The model's ``upgradePolicy.automaticOSUpgradePolicy`` (None when it has none)."""
    policy = (((model or {}).get("properties") or {}).get("upgradePolicy") or {}).get("automaticOSUpgradePolicy")
    return dict(policy) if policy else None


def deferred(policy):
    """Whether automatic OS upgrades of this policy wait for approval (``osRollingUpgradeDeferral``)."""
    return bool(policy and policy.get("enableAutomaticOSUpgrade") and policy.get("osRollingUpgradeDeferral"))


# A rolling upgrade's counts of instances moved or moving, as Azure sends them and as ``_shapes`` names them.
_MOVED = (("successfulInstanceCount", "successful_instance_count"), ("failedInstanceCount", "failed_instance_count"),
          ("inProgressInstanceCount", "in_progress_instance_count"))


def unmoved(progress):
    """Whether a rolling upgrade's progress (Azure's keys or ``_shapes``') shows no instance moved or moving. Counts
    that are not there are not taken for movement: a wait that cannot be told from a start is treated as a wait."""
    progress = progress or {}
    return not any(progress.get(raw) or progress.get(shaped) for raw, shaped in _MOVED)


def approval(policy, entries):
    """``not_deferred``, ``none_pending`` or ``pending`` (the module docstring: an inference) from the automatic OS
    upgrade policy and the history entries: pending while an entry of the platform's is ``RollingForward`` and has
    moved no instance. Every entry counts, not only the newest by start time (an entry without one sorts last)."""
    if not deferred(policy):
        return NOT_DEFERRED
    for entry in entries or []:
        if (entry.get("started_by") == "Platform" and entry.get("result") == "RollingForward"
                and unmoved(entry.get("progress"))):
            return PENDING
    return NONE_PENDING


def unprotected_outdated(record):
    """The outdated instances an OS rolling upgrade would move: those not protected from scale-set actions."""
    shielded = set(record.get("protected_instances") or [])
    return [name for name in record.get("outdated_instances") or [] if name not in shielded]


def history_entry(item):
    """One ``osUpgradeHistory`` item (UpgradeOperationHistoricalStatusInfo) as ``{started_by, start_time, end_time,
    result, target_image, error, rollback}``."""
    props = item.get("properties") or {}
    status = props.get("runningStatus") or {}
    rollback = props.get("rollbackInfo")
    return {"started_by": props.get("startedBy"), "start_time": status.get("startTime"), "end_time": status.get("endTime"),
            "result": status.get("code"), "target_image": props.get("targetImageReference"),
            "progress": props.get("progress"), "error": props.get("error"),
            "rollback": {"rolled_back": rollback.get("successfullyRolledbackInstanceCount"),
                         "failed": rollback.get("failedRolledbackInstanceCount"),
                         "error": rollback.get("rollbackError")} if rollback else None}


def last_entries(items, count=HISTORY_ENTRIES):
    """The ``count`` newest history entries, newest first (the service's order is not documented)."""
    entries = [history_entry(item) for item in items or []]
    entries.sort(key=lambda entry: parse_time(entry["start_time"]) or _EPOCH, reverse=True)
    return entries[:count]


# -- reads -------------------------------------------------------------------------
def instances_request(subscription_id, resource_group, name, mode, scale_set_id=None, api_version=API_VERSION):
    """``_drift.instances_request`` without ``$select`` (which would drop ``storageProfile``)."""
    path, params = _drift.instances_request(subscription_id, resource_group, name, mode, scale_set_id, api_version)
    params = dict(params)
    params.pop("$select", None)
    return path, params


def read_instances(client, subscription_id, resource_group, name, mode, scale_set_id=None, api_version=API_VERSION,
                   deadline=None):
    """``instance_image`` of every instance, from one list (every page, nothing else)."""
    path, params = instances_request(subscription_id, resource_group, name, mode, scale_set_id, api_version)
    return [instance_image(vm, mode) for vm in client.pages(path, params=params, deadline=deadline)]


def read_platform_versions(client, subscription_id, location, publisher, offer, sku, api_version=API_VERSION,
                           deadline=None):
    """The version names a location lists for a platform image ([] on 404)."""
    path = resource_path("subscriptions", ("s", subscription_id), "providers/Microsoft.Compute/locations", ("l", location),
                         "publishers", ("p", publisher), "artifacttypes/vmimage/offers", ("o", offer), "skus", ("k", sku),
                         "versions")
    body, response = client.get_json(path, params={"api-version": api_version}, deadline=deadline, allow_status=(404,))
    if response.status == 404:
        return []
    if isinstance(body, dict):
        body = body.get("value")
    return [item["name"] for item in body or [] if isinstance(item, dict) and item.get("name")]


def read_gallery_versions(client, gallery, deadline=None):
    """The versions of a Compute Gallery image definition (every page)."""
    path = resource_path("subscriptions", ("s", gallery["subscription"]), "resourceGroups", ("g", gallery["resource_group"]),
                         "providers/Microsoft.Compute/galleries", ("n", gallery["gallery"]), "images",
                         ("i", gallery["image"]), "versions")
    return list(client.pages(path, params={"api-version": GALLERY_API_VERSION}, deadline=deadline))


def target(client, subscription_id, image, location, cache, api_version=API_VERSION, deadline=None):
    """What an OS upgrade would install for ``image`` in ``location``, its catalog read through ``cache``."""
    if image["kind"] == PLATFORM and location:
        key = ("vmimage", location.lower(), image["publisher"].lower(), image["offer"].lower(), image["sku"].lower())
        listed = cache.get(key, lambda: read_platform_versions(client, subscription_id, location, image["publisher"],
                                                               image["offer"], image["sku"], api_version, deadline),
                           "the versions of image %s:%s:%s in %s" % (image["publisher"], image["offer"], image["sku"],
                                                                     location), deadline)
        return platform_target(listed)
    if image["kind"] == GALLERY:
        gallery = image["gallery"]
        key = ("gallery",) + tuple(str(gallery[part]).lower() for part in ("subscription", "resource_group", "gallery", "image"))
        versions = cache.get(key, lambda: read_gallery_versions(client, gallery, deadline),
                             "the versions of gallery image %s/%s" % (gallery["gallery"], gallery["image"]), deadline)
        return gallery_target(versions, location)
    return None


def read_history(client, subscription_id, resource_group, name, count=HISTORY_ENTRIES, api_version=API_VERSION,
                 deadline=None):
    """The ``count`` newest ``osUpgradeHistory`` entries (the list's pages, read while they may hold newer ones)."""
    items = client.pages(vmss_path(subscription_id, resource_group, name, "osUpgradeHistory"),
                         params={"api-version": api_version}, deadline=deadline)
    return last_entries(list(items), count)


def check(client, subscription_id, resource_group, name, cache, history=HISTORY_ENTRIES, api_version=API_VERSION,
          deadline=None):
    """The OS drift of one scale set: ``os_record`` keys plus ``outdated_instance_count``, ``location``,
    ``orchestration_mode``, ``refusals``, ``automatic_os_upgrade_policy``, ``upgrade_mode`` and ``os_upgrade_history``.

    Costs one model read, the VM list pages, the catalog reads ``cache`` does not already hold, and the history pages
    when ``history`` > 0 or automatic OS upgrades are deferred (``approval``, ``approval_instances``: the instances a
    pending upgrade would move).
    """
    model = _drift.read_model(client, subscription_id, resource_group, name, api_version, deadline) or {}
    mode = orchestration_mode(model)
    image = model_image(model)
    location = model.get("location") or ""
    instances = read_instances(client, subscription_id, resource_group, name, mode, model.get("id"), api_version, deadline)
    wanted = target(client, subscription_id, image, location, cache, api_version, deadline)
    record = os_record(image, instances, wanted, mode)
    policy = automatic_policy(model)
    entries, state = _history_and_approval(client, subscription_id, resource_group, name, policy, history, api_version,
                                           deadline)
    record.update(outdated_instance_count=len(record["outdated_instances"]), location=location,
                  orchestration_mode=mode, refusals=refusals(model, image, instances),
                  upgrade_mode=(((model.get("properties") or {}).get("upgradePolicy") or {}).get("mode")),
                  automatic_os_upgrade_policy=policy, os_upgrade_history=entries,
                  approval=state, approval_instances=unprotected_outdated(record) if state == PENDING else [])
    return record


def _history_and_approval(client, subscription_id, resource_group, name, policy, history, api_version, deadline):
    """(the ``history`` newest entries, ``approval``): the history pages are read when entries are asked for or when
    deferral is on (then every entry counts for ``approval``), else nothing is read."""
    if not history and not deferred(policy):
        return [], approval(policy, [])
    entries = read_history(client, subscription_id, resource_group, name, HISTORY_LIMIT if deferred(policy) else history,
                           api_version, deadline)
    return entries[:history], approval(policy, entries)


def read_approval(client, subscription_id, resource_group, name, api_version=API_VERSION, deadline=None):
    """``approval`` alone: the model (its policy) and, when deferred, the history. What a rollout that found an
    upgrade running reads before it attaches."""
    model = _drift.read_model(client, subscription_id, resource_group, name, api_version, deadline) or {}
    return _history_and_approval(client, subscription_id, resource_group, name, automatic_policy(model), 0, api_version,
                                 deadline)[1]
