"""Microsoft.Compute scale sets and the rolling-upgrade state machine (SUMMARY.md section 1)."""

import math
import re
import uuid

from . import arm, extensions as exts, images, manual
from .clock import format_ts, parse_duration
from .wire import arm_error, empty_response, json_response, new_id

VMSS_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
_PROVIDER = r"/providers/Microsoft\.Compute"
RE_LIST_SUB = re.compile(r"^/subscriptions/(?P<sub>[^/]+)" + _PROVIDER + r"/virtualMachineScaleSets/?$", re.I)
RE_LIST_RG = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)" + _PROVIDER + r"/virtualMachineScaleSets/?$", re.I)
RE_VMSS = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)" + _PROVIDER
                     + r"/virtualMachineScaleSets/(?P<name>[^/]+)(?P<rest>/.*)?$", re.I)
RE_OP = re.compile(r"^/subscriptions/(?P<sub>[^/]+)" + _PROVIDER + r"/locations/(?P<loc>[^/]+)/operations/(?P<op>[^/]+)$", re.I)
RE_EXT_VERSIONS = re.compile(r"^/subscriptions/(?P<sub>[^/]+)" + _PROVIDER + r"/locations/(?P<loc>[^/]+)/publishers/(?P<pub>[^/]+)"
                             r"/artifacttypes/vmextension/types/(?P<type>[^/]+)/versions(?:/(?P<version>[^/]+))?/?$", re.I)
RE_VM = re.compile(r"^/virtualmachines(?:/(?P<id>[^/]+)(?P<view>/instanceview)?)?$")
# The virtual machines of a resource group (VirtualMachines_List): how a Flexible scale set's instances are listed.
RE_RG_VMS = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)" + _PROVIDER + r"/virtualMachines/?$", re.I)
RE_VMSS_FILTER = re.compile(r"^\s*'?virtualMachineScaleSet/id'?\s+eq\s+'?(?P<id>[^']+?)'?\s*$", re.I)
# Image catalogs (images.py): platform image versions of a location, Compute Gallery image versions.
RE_IMAGE_VERSIONS = re.compile(r"^/subscriptions/(?P<sub>[^/]+)" + _PROVIDER + r"/locations/(?P<loc>[^/]+)/publishers/(?P<pub>[^/]+)"
                               r"/artifacttypes/vmimage/offers/(?P<offer>[^/]+)/skus/(?P<sku>[^/]+)/versions/?$", re.I)
RE_GALLERY_VERSIONS = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)" + _PROVIDER
                                 + r"/galleries/(?P<gallery>[^/]+)/images/(?P<image>[^/]+)/versions/?$", re.I)
VM_TYPE = VMSS_TYPE + "/virtualMachines"
FLEX_VM_TYPE = "Microsoft.Compute/virtualMachines"
UNIFORM, FLEXIBLE = "Uniform", "Flexible"

DEFAULT_POLICY = {
    "maxBatchInstancePercent": 20,
    "maxUnhealthyInstancePercent": 20,
    "maxUnhealthyUpgradedInstancePercent": 20,
    "pauseTimeBetweenBatches": "PT0S",
    "prioritizeUnhealthyInstances": False,
    "rollbackFailedInstancesOnPolicyBreach": False,
    "maxSurge": False,
}
DEFAULT_EXTENSIONS = [{
    "name": "HealthExtension",
    "publisher": "Microsoft.ManagedServices",
    "type": "ApplicationHealthLinux",
    "typeHandlerVersion": "1.0",
}]

MSG_UNHEALTHY = ("Rolling Upgrade failed after exceeding the MaxUnhealthyInstancePercent value defined in the RollingUpgradePolicy. "
                 "%d%% of instances are in an unhealthy state - more than the threshold of %d%%. "
                 "To apply upgrades, consider increasing the MaxUnhealthyInstancePercent value.")
MSG_UNHEALTHY_UPGRADED = ("Rolling Upgrade failed after exceeding the MaxUnhealthyUpgradedInstancePercent value defined in the RollingUpgradePolicy. "
                          "%d%% of upgraded instances are in an unhealthy state - more than the threshold of %d%%. "
                          "To apply upgrades, consider increasing the MaxUnhealthyUpgradedInstancePercent value.")
# approveRollingUpgrade with no upgrade waiting for approval [UNVERIFIED status, code and wording].
MSG_NOTHING_TO_APPROVE = "There is no deferred OS rolling upgrade awaiting approval on this Virtual Machine Scale Set."
MSG_ALREADY_RUNNING = ("Rolling Upgrade cannot be started because there is already an ongoing Rolling Upgrade on this "
                       "Virtual Machine Scale Set. Wait for it to finish or cancel it first.")
MSG_UNHEALTHY_BEFORE = ("Rolling Upgrade failed before the first batch: %d%% of instances are in an unhealthy state - more than "
                        "the threshold of %d%% of the MaxUnhealthyInstancePercent value defined in the RollingUpgradePolicy. "
                        "Fix the unhealthy instances or consider increasing the MaxUnhealthyInstancePercent value.")   # [UNVERIFIED]
MSG_INSTANCE_UNHEALTHY = "Instance found to be unhealthy or unreachable."   # wording of the recorded MaxUnhealthyUpgraded... message
MSG_FLEXIBLE_REFUSED = ("The operation is not allowed on Virtual Machine Scale Set '%s' since it uses the Flexible orchestration "
                        "mode: its virtual machines are listed and managed as virtual machines.")   # [UNVERIFIED]
# osRollingUpgrade refusals (SUMMARY.md section 1, Error cases: the wording seen in the wild; status and code
# 409 OperationNotAllowed [UNVERIFIED]).
MSG_OS_PINNED = ("The Virtual Machine Scale Set cannot be upgraded: OS Rolling Upgrade is allowed only when the Virtual "
                 "Machine Scale Set has some unprotected instances which have imageReference.version set to latest.")
MSG_OS_PROTECTED = MSG_OS_PINNED
MSG_OS_AUTOMATIC = ("OS Rolling Upgrade is not allowed on a Virtual Machine Scale Set whose upgrade policy mode is "
                    "Automatic.")   # [UNVERIFIED]
MSG_WINDOW = ("The rolling upgrade batch could not start because the current time is not within the scheduled "
              "maintenance windows of the Virtual Machine Scale Set.")   # code from issue 20; wording [UNVERIFIED]
CANCEL_SECONDS = 1.0   # the start operation reports Succeeded ~1 s after a Cancel (SUMMARY section 1)
BEFORE_BATCH_SECONDS = 5.0   # the fault before the first batch ends the upgrade "within seconds" (issue 19)


def _spread(capacity, percent):
    """Evenly spread ``percent`` of ``capacity`` instance indexes."""
    return {i for i in range(capacity) if math.floor((i + 1) * percent / 100.0) > math.floor(i * percent / 100.0)}


class RollingUpgrade:
    """A deterministic timeline computed once at start; states are read lazily for any sim time."""

    def __init__(self, vmss, start, kind, deferred=False):
        self.kind = kind
        # A deferred automatic OS upgrade (osRollingUpgradeDeferral) waits, RollingForward with every instance pending,
        # until approveRollingUpgrade; its batches then begin (README "Deferred OS upgrades" [UNVERIFIED]).
        self.requested = start     # the start Azure shows (runningStatus.startTime)
        self.deferred = deferred
        self.approved_at = None
        self.policy = dict(vmss.policy)
        self.location = vmss.location
        self.capacity = vmss.capacity
        self.start = start
        self.op_id = new_id()
        self.cancel_time = None
        self.batch_seconds = vmss.batch_seconds
        self.pause = parse_duration(self.policy.get("pauseTimeBetweenBatches"))
        self.failing = set(vmss.failing)
        self.unhealthy = set(vmss.unhealthy)
        self.vm_ref = vmss.vm_ref          # instance index -> the id Azure names it by (error targets)
        # What an extension upgrade moves each model extension to (the catalog as it was at the start).
        self.targets = {e["name"].lower(): vmss.catalog.target(vmss.location, e) for e in vmss.extensions} if kind == "extension" else {}
        # An OS upgrade of a scale set with an image moves the instances below the image's target (images.py),
        # never the protected ones; a scale set without one keeps the older model (every instance moves).
        os_image = kind == "os" and vmss.image is not None
        if os_image:
            self.targets = {images.IMAGE_KEY: vmss.image_catalog.target(vmss.image, vmss.location)}
        self.window_refused = os_image and vmss.window_refused
        # Batches that ended before this moment are already reflected in the scale set's versions (scenario upgrades).
        self.applied_from = None
        # Azure upgrades only the instances not already on the latest (issue 19): an extension upgrade batches the
        # instances running any extension below its target; an OS upgrade every instance.
        order = [i for i in range(self.capacity) if kind != "extension" or vmss.behind(i, self.targets)]
        if os_image:
            order = [i for i in order if vmss.behind(i, self.targets) and i not in vmss.protected]
        # The rollout of a model change under a Rolling policy (manual.py): the instances on an older model.
        self.generation, self.model = vmss.generation, vmss.model_snapshot()
        if kind == "model":
            order = [i for i in range(self.capacity)
                     if vmss.instance(i, start)["generation"] < vmss.generation and i not in vmss.protected]
        self.members = len(order)
        if self.policy.get("prioritizeUnhealthyInstances"):
            order.sort(key=lambda i: (i not in self.unhealthy, i))
        size = max(1, int(math.ceil(self.capacity * float(self.policy["maxBatchInstancePercent"]) / 100.0)))
        self.batches = [order[i:i + size] for i in range(0, len(order), size)]
        # MaxSurge: each upgraded instance is replaced by a new one (a new instance id / VM name), created at its
        # batch's start, the old one deleted at its end (Microsoft Learn, "Rolling upgrades with MaxSurge").
        self.surge = bool(self.policy.get("maxSurge"))
        self.new_ids = {}
        if self.surge:
            for offset, index in enumerate(order):
                self.new_ids[index] = vmss.next_id + offset
            vmss.next_id += len(order)
        self._plan()

    def batch_start(self, index):
        return self.start + index * (self.batch_seconds + self.pause)

    def batch_end(self, index):
        return self.batch_start(index) + self.batch_seconds

    def _unhealthy_error(self, done):
        upgraded = [i for b in self.batches[:done] for i in b]
        failed = len([i for i in upgraded if i in self.failing])
        unhealthy = failed + len(self.unhealthy - set(upgraded))
        pct = 100.0 * unhealthy / self.capacity if self.capacity else 0.0
        limit = float(self.policy["maxUnhealthyInstancePercent"])
        if pct > limit and done == 0:
            # Before any batch: its own code, and details naming each unhealthy instance (issue 19; the code and the
            # detail code/target are as Azure answers, the messages [UNVERIFIED]).
            details = [{"code": "RollingUpgradeInstanceUnhealthyError", "target": self.vm_ref(i), "message": MSG_INSTANCE_UNHEALTHY}
                       for i in sorted(self.unhealthy)]
            return {"code": "MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade",
                    "message": MSG_UNHEALTHY_BEFORE % (round(pct), limit), "details": details}
        if pct > limit:
            return {"code": "MaxUnhealthyInstancePercentExceededInRollingUpgrade", "message": MSG_UNHEALTHY % (round(pct), limit)}
        return None

    @property
    def awaiting_approval(self):
        return self.deferred and self.approved_at is None and self.cancel_time is None

    def approve(self, now):
        """approveRollingUpgrade: the batches begin now."""
        self.approved_at = self.start = now
        self._plan()

    def _plan(self):
        """Find the natural end: Completed after the last batch or Faulted after a policy breach."""
        self.end_code, self.end_done, self.error = "Completed", len(self.batches), None
        if self.deferred and self.approved_at is None:
            self.end_time, self.before_batch = float("inf"), False   # nothing moves before the approval
            return
        self.end_time = self.batch_end(len(self.batches) - 1) if self.batches else self.start
        self.before_batch = False
        error = self._unhealthy_error(0)
        if self.window_refused:
            error = {"code": "RollingUpgradeBatchStartTimeNotWithinScheduledWindows", "message": MSG_WINDOW}
        if error:
            self.end_code, self.end_done, self.error = "Faulted", 0, error
            self.end_time, self.before_batch = self.start + BEFORE_BATCH_SECONDS, True
            self.batches, self.members, self.new_ids = [], 0, {}
            return
        upgraded = failed = 0
        for index, batch in enumerate(self.batches):
            upgraded += len(batch)
            failed += len([i for i in batch if i in self.failing])
            pct = 100.0 * failed / upgraded
            limit = float(self.policy["maxUnhealthyUpgradedInstancePercent"])
            if pct > limit:
                error = {"code": "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade",
                         "message": MSG_UNHEALTHY_UPGRADED % (round(pct), limit)}
            else:
                error = self._unhealthy_error(index + 1)
            if error:
                self.end_code, self.end_done, self.error, self.end_time = "Faulted", index + 1, error, self.batch_end(index)
                return

    def cancelled(self):
        return self.cancel_time is not None and self.cancel_time < self.end_time

    def running(self, now):
        return self.state(now)["code"] == "RollingForward"

    def state(self, now):
        """``{"code", "done", "in_progress"}`` at sim time ``now``."""
        if self.before_batch:
            return {"code": "Faulted" if now >= self.end_time else "RollingForward", "done": 0, "in_progress": None}
        if self.cancelled() and now >= self.cancel_time:
            done = len([i for i in range(len(self.batches)) if self.batch_start(i) <= self.cancel_time])
            if self.deferred and self.approved_at is None:
                done = 0
            return {"code": "Cancelled", "done": done, "in_progress": None}
        if self.awaiting_approval:
            return {"code": "RollingForward", "done": 0, "in_progress": None}
        if now >= self.end_time:
            return {"code": self.end_code, "done": self.end_done, "in_progress": None}
        done = len([i for i in range(len(self.batches)) if self.batch_end(i) <= now])
        current = done if done < len(self.batches) and self.batch_start(done) <= now else None
        return {"code": "RollingForward", "done": done, "in_progress": current}

    def progress(self, now):
        st = self.state(now)
        done = [i for b in self.batches[:st["done"]] for i in b]
        failed = len([i for i in done if i in self.failing])
        running = len(self.batches[st["in_progress"]]) if st["in_progress"] is not None else 0
        # Counts cover the instances this upgrade moves (the outdated ones), never the surge instances it creates.
        return {"successfulInstanceCount": len(done) - failed, "failedInstanceCount": failed,
                "inProgressInstanceCount": running, "pendingInstanceCount": self.members - len(done) - running}

    def upgraded(self, now):
        """Indexes of the instances whose extensions this upgrade has moved by ``now`` (failing ones never move)."""
        done = self.state(now)["done"]
        return {i for index, batch in enumerate(self.batches[:done]) for i in batch
                if i not in self.failing and (self.applied_from is None or self.batch_end(index) > self.applied_from)}

    def surging(self, now):
        """MaxSurge: indexes whose new instance is being created at ``now`` (the batch in progress)."""
        current = self.state(now)["in_progress"]
        return set(self.batches[current]) if self.surge and current is not None else set()

    def status_info(self, now, stamp=lambda instant: instant):
        """The rollingUpgrades/latest body at ``now``; ``stamp`` turns an instant into wall-clock time (clock.py)."""
        st = self.state(now)
        cancelled = st["code"] == "Cancelled"
        props = {
            "policy": dict(self.policy),   # the whole rolling upgrade policy as stored (S§1; issue 19)
            "runningStatus": {
                "code": st["code"],
                "startTime": format_ts(stamp(self.requested)),
                "lastAction": "Cancel" if cancelled else "Start",
                "lastActionTime": format_ts(stamp(self.cancel_time if cancelled else self.requested)),
            },
            "progress": self.progress(now),
        }
        if st["code"] == "Faulted":
            props["error"] = self.error
        return {"type": VMSS_TYPE + "/rollingUpgrades", "location": self.location, "properties": props}

    def op_status(self, now):
        """(status, end_time, error) of the start operation."""
        if self.cancelled():
            end = self.cancel_time + CANCEL_SECONDS
            return ("Succeeded", end, None) if now >= end else ("InProgress", None, None)
        if now < self.end_time:
            return "InProgress", None, None
        if self.end_code == "Faulted":
            return "Failed", self.end_time, self.error
        return "Succeeded", self.end_time, None


class ScaleSet:
    """One VMSS from the scenario."""

    def __init__(self, spec, default_sub, now, catalog=None, image_catalog=None):
        self.catalog = catalog or exts.Catalog()
        self.image_catalog = image_catalog or images.ImageCatalog()
        self.sub = spec.get("subscription") or default_sub
        self.rg = spec["resource_group"]
        self.name = spec["name"]
        self.location = spec.get("location", "eastus")
        self.tags = dict(spec.get("tags") or {})
        self.capacity = int(spec.get("capacity", 10))
        self.sku = spec.get("sku", "Standard_D2s_v3")
        self.mode = spec.get("upgrade_mode", "Rolling")
        self.orchestration = FLEXIBLE if str(spec.get("orchestration_mode", UNIFORM)).lower() == "flexible" else UNIFORM
        # Instance index -> the number its current VM carries (instance id "N", or the VM name's suffix): MaxSurge
        # replaces instances, so the number of an index changes; next_id is the next number a new instance gets.
        self.ids = list(range(self.capacity))
        self.next_id = self.capacity
        self.has_policy = "rolling_upgrade_policy" in spec or self.mode == "Rolling"
        self.policy = dict(DEFAULT_POLICY)
        self.policy.update(spec.get("rolling_upgrade_policy") or {})
        self.extensions = [exts.normalize(e) for e in spec.get("extensions") or DEFAULT_EXTENSIONS]
        # Installed versions per extension (name lower) and instance index, as of the last settle().
        self.base_versions = {e["name"].lower(): exts.initial_versions(e, self.capacity, self.catalog, self.location)
                              for e in self.extensions}
        # The OS image (images.py): the model's reference and, per instance, the version it runs (a pseudo entry
        # of the per-instance versions, so that upgrades, settle and MaxSurge treat it like an extension).
        self.image = images.normalize(spec.get("image"), self.sub, self.rg)
        if self.image is not None:
            self.base_versions[images.IMAGE_KEY] = images.initial_versions(
                self.image, spec.get("installed_image"), self.capacity, self.image_catalog.target(self.image, self.location))
        self.automatic_os_policy = spec.get("automatic_os_upgrade_policy")
        self.protected = {int(i) for i in spec.get("protected_instances") or []}
        self.window_refused = bool(spec.get("outside_maintenance_window"))
        self.os_history = [dict(entry) for entry in spec.get("os_upgrade_history") or []]   # before the scenario
        self.os_upgrades = []   # [(RollingUpgrade, "User" | "Platform")] started since
        self.deallocated = {int(i) for i in spec.get("deallocated_instances") or []}
        self.agent_not_ready = {int(i) for i in spec.get("agent_not_ready_instances") or []}
        self.batch_seconds = float(spec.get("batch_seconds", 300))
        self.failing = {int(i) for i in spec.get("failing_instances") or []}
        if spec.get("fail_percent"):
            self.failing |= _spread(self.capacity, float(spec["fail_percent"]))
        self.unhealthy = {int(i) for i in spec.get("unhealthy_instances") or []}
        # The model and what each instance applied of it (manual.py): a model change makes a new generation; each
        # instance's state (generation applied, health, provisioning, the SKU it runs) as of the last settle(),
        # changed lazily by the updates since (manualupgrade calls, an Automatic policy's own).
        self.generation = 1
        self.profile_extra = {}      # VM profile settings a PATCH set (rendered back into the model)
        self.manual_seconds = manual.seconds_per_instance(spec.get("manual_upgrade_seconds"))
        self.manual_upgrades = []
        applied = manual.initial_applied(spec.get("model_outdated_instances"), self.capacity, self.generation)
        self.instance_base = {i: {"generation": applied[i], "health": manual.UNHEALTHY if i in self.unhealthy else manual.HEALTHY,
                                  "provisioning": "succeeded", "model": {"sku": self.sku, "image_version": None}}
                              for i in range(self.capacity)}
        self.zones = [str(zone) for zone in spec.get("zones") or []]
        self.unique_id = str(uuid.uuid5(uuid.NAMESPACE_URL, self.id.lower()))
        self.created = now - 30 * 86400
        self.upgrade = None
        # An upgrade Azure starts by itself (automatic extension/OS upgrade) once the scale set has answered
        # ``after_requests`` requests: the race between a plan read and a start (issue 19) made reproducible.
        self.platform_upgrade = dict(spec["platform_upgrade"]) if spec.get("platform_upgrade") else None
        self.requests_seen = 0
        self._existing(spec.get("existing_upgrade"), now)
        if self.upgrade is not None:
            self.upgrade.applied_from = now   # the scenario's versions already show what it did so far

    def _existing(self, spec, now):
        if not spec:
            return
        code = spec.get("status", "Completed")
        kind = spec.get("kind", "extension")
        if code == "RollingForward":
            self.upgrade = RollingUpgrade(self, now - float(spec.get("started_seconds_ago", 60)), kind)
            return
        saved = self.failing
        if code == "Completed":
            self.failing = set()
        probe = RollingUpgrade(self, now, kind)
        duration = probe.end_time - probe.start
        ago = float(spec.get("finished_seconds_ago", 86400))
        self.upgrade = RollingUpgrade(self, now - ago - duration, kind)
        self.failing = saved
        if code == "Cancelled":
            self.upgrade.cancel_time = self.upgrade.start + min(duration / 2.0, self.batch_seconds / 2.0)

    @property
    def id(self):
        return "/subscriptions/%s/resourceGroups/%s/providers/%s/%s" % (self.sub, self.rg, VMSS_TYPE, self.name)

    @property
    def flexible(self):
        return self.orchestration == FLEXIBLE

    def vm_name(self, number):
        """A Flexible instance's VM name: ``<scale set>_<8 hex>`` (the form Azure gives them [UNVERIFIED])."""
        return "%s_%s" % (self.name, uuid.uuid5(uuid.NAMESPACE_URL, "%s/%d" % (self.id.lower(), number)).hex[:8])

    def instance_key(self, number):
        """What names the instance numbered ``number``: its instance id (Uniform) or its VM name (Flexible)."""
        return self.vm_name(number) if self.flexible else str(number)

    def vm_id(self, number):
        if self.flexible:
            return "/subscriptions/%s/resourceGroups/%s/providers/%s/%s" % (self.sub, self.rg, FLEX_VM_TYPE, self.vm_name(number))
        return "%s/virtualMachines/%d" % (self.id, number)

    def vm_ref(self, index):
        """The resource id of the VM at ``index`` now (error targets name instances this way)."""
        return self.vm_id(self.ids[index])

    def behind(self, index, targets):
        """Whether instance ``index`` runs any extension below its target (``targets``: name lower -> version)."""
        for name, target in targets.items():
            version = self.base_versions.get(name, {}).get(index)
            if target is not None and version is not None and exts.version_key(version) < exts.version_key(target):
                return True
        return False

    def tick(self, now):
        """Count one request to this scale set; start the platform's own upgrade when its moment has come."""
        self.requests_seen += 1
        spec = self.platform_upgrade
        if spec is None or self.requests_seen <= int(spec.get("after_requests", 0)):
            return
        self.platform_upgrade = None
        if self.upgrade is None or not self.upgrade.running(now):
            self.settle(now)
            kind = spec.get("kind", "extension")
            deferred = kind == "os" and bool((self.automatic_os_policy or {}).get("osRollingUpgradeDeferral"))
            self.upgrade = RollingUpgrade(self, now, kind, deferred=deferred)
            if self.upgrade.kind == "os":
                self.os_upgrades.append((self.upgrade, "Platform"))
            return self.upgrade
        return None

    def numbers(self, now):
        """[(instance index, number, creating)] of every VM that exists at ``now``: MaxSurge adds the new instances of
        the batch in progress (being created) and replaces each upgraded instance's number by its new one."""
        upgrade = self.upgrade
        current = list(self.ids)
        surging = set()
        if upgrade is not None and upgrade.surge:
            for index in upgrade.upgraded(now):
                current[index] = upgrade.new_ids[index]
            surging = upgrade.surging(now)
        rows = [(index, number, False) for index, number in enumerate(current)]
        rows += [(index, upgrade.new_ids[index], True) for index in sorted(surging)]
        return rows

    def versions(self, now):
        """{extension name lower: {instance index: installed version}} at sim time ``now``: the rolling upgrade's
        moves, then the image versions the instances installed by applying the model (manual.py)."""
        current = {name: dict(per_instance) for name, per_instance in self.base_versions.items()}
        upgrade = self.upgrade
        if upgrade is not None and upgrade.targets:
            moved = upgrade.upgraded(now) - self.deallocated - self.agent_not_ready
            for name, target in upgrade.targets.items():
                if target is None:
                    continue
                per_instance = current[name]
                for index in moved:
                    if exts.version_key(per_instance[index]) < exts.version_key(target):
                        per_instance[index] = target
        if images.IMAGE_KEY not in current:
            return current
        if upgrade is not None and upgrade.kind == "model" and upgrade.model["image_version"] is not None:
            for index in upgrade.upgraded(now):
                current[images.IMAGE_KEY][index] = upgrade.model["image_version"]
        for update in self.manual_upgrades:
            version = update.model.get("image_version")
            if version is None:
                continue
            for index in update.ends:
                if update.finished(index, now) and not update.broken(index):
                    current[images.IMAGE_KEY][index] = version
        return current

    def settle(self, now):
        """Fold what the current upgrade and the finished model updates did into the base state (before a new
        upgrade replaces it)."""
        self.base_versions = self.versions(now)
        finished = [update for update in self.manual_upgrades if update.end_time <= now]
        self.instance_base = {i: self.instance(i, now, finished) for i in range(self.capacity)}
        self.manual_upgrades = [update for update in self.manual_upgrades if update.end_time > now]
        self.ids = [number for _index, number, creating in self.numbers(now) if not creating]

    def instance(self, index, now, updates=None):
        """``{generation, health, provisioning, model}`` of instance ``index`` at ``now`` (manual.instance_state): its
        base state, the rolling upgrade's batches that ended (an instance that fails comes back unhealthy, the others
        healthy), then the model updates (``updates``: default all)."""
        base = self.instance_base[index]
        upgrade = self.upgrade
        if upgrade is not None and not upgrade.before_batch:
            done = upgrade.state(now)["done"]
            if any(index in batch for batch in upgrade.batches[:done]):
                base = dict(base, health=manual.UNHEALTHY if index in upgrade.failing else manual.HEALTHY)
            if upgrade.kind == "model" and index in upgrade.upgraded(now):
                base = dict(base, generation=upgrade.generation, model=upgrade.model)
        return manual.instance_state(base, self.manual_upgrades if updates is None else updates, index, now)

    def model_snapshot(self):
        """What applying the model installs now: its SKU and image version (the pinned one, or the catalog's
        latest for ``latest`` [UNVERIFIED for a manual upgrade]; None without an image)."""
        version = None
        if self.image is not None:
            version = (self.image_catalog.target(self.image, self.location) if self.image["version"] == images.LATEST
                       else self.image["version"])
        return {"sku": self.sku, "image_version": version}

    def change_model(self, patch, now):
        """Apply a PUT/PATCH body of the scale set; returns (status, code, message) of a refusal, ``"started"`` when
        a Rolling policy's own rolling upgrade started, or None.

        A different ``sku.name``, image version (``imageReference.version``, or a gallery ``imageReference.id``'s
        ``/versions/<v>``) or any other VM profile setting is a model change: a new generation, every instance
        outdated (an Automatic policy updates them all at once, protected ones excepted). ``tags`` and
        ``upgradePolicy`` change the scale set only [UNVERIFIED that Azure does not count them].
        """
        if not isinstance(patch, dict):
            return 400, "InvalidRequestContent", "The request content was invalid and could not be deserialized."
        props = patch.get("properties") or {}
        profile = dict(props.get("virtualMachineProfile") or {})
        if "extensionProfile" in profile or "capacity" in (patch.get("sku") or {}):
            # Not modelled: extension drift has its own rules (extensions.py), scaling has none here.
            return 400, "InvalidParameter", "[emulator] changing the extension profile or the capacity is not modelled"
        changed = self._change_sku((patch.get("sku") or {}).get("name"))
        reference = (profile.pop("storageProfile", None) or {}).get("imageReference") or {}
        refused = self._change_image(reference)
        if isinstance(refused, tuple):
            return refused
        changed = refused or changed
        if profile:
            merged = manual.deep_merge(self.profile_extra, profile)
            changed = changed or merged != self.profile_extra
            self.profile_extra = merged
        if patch.get("tags") is not None:
            self.tags = dict(patch["tags"])
        self._change_policy(props.get("upgradePolicy") or {})
        if changed:
            self.generation += 1
            if self.mode.lower() == "automatic":
                every = [i for i in range(self.capacity) if i not in self.protected]
                self.manual_upgrades.append(manual.ManualUpgrade(self, now, every, automatic=True))
            elif self.mode.lower() == "rolling" and (self.upgrade is None or not self.upgrade.running(now)):
                # Azure rolls the change out itself (a rolling upgrade nobody POSTed); one already running is left
                # to finish and the change waits [UNVERIFIED].
                self.settle(now)
                self.upgrade = RollingUpgrade(self, now, "model")
                return "started"
        return None

    def _change_sku(self, name):
        if not name or name == self.sku:
            return False
        self.sku = str(name)
        return True

    def _change_image(self, reference):
        """True when the image version changed, False when not, or a refusal tuple."""
        if not reference:
            return False
        if self.image is None:
            return 400, "InvalidParameter", "[emulator] this scale set has no image to change (scenario key image)"
        if self.image.get("gallery"):
            ref = str(reference.get("id") or "")
            version = ref.rsplit("/versions/", 1)[1] if "/versions/" in ref else images.LATEST
        else:
            version = str(reference.get("version") or self.image["version"])
        if version == self.image["version"]:
            return False
        self.image["version"] = version
        return True

    def _change_policy(self, policy):
        if policy.get("mode"):
            self.mode = str(policy["mode"])
        if policy.get("rollingUpgradePolicy"):
            self.policy.update(policy["rollingUpgradePolicy"])
            self.has_policy = True
        if policy.get("automaticOSUpgradePolicy") is not None:
            self.automatic_os_policy = dict(policy["automaticOSUpgradePolicy"])

    def manual_upgrade(self, now, names):
        """Start a manualupgrade of the instances ``names`` (instance ids, or VM names of a Flexible scale set):
        the ManualUpgrade, or (status, code, message) of a refusal [UNVERIFIED codes and messages]."""
        keys = {self.instance_key(number).lower(): index for index, number, creating in self.numbers(now) if not creating}
        unknown = [name for name in names if str(name).lower() not in keys]
        if unknown:
            return 400, "InvalidParameter", "The instance ids %s are not valid for Virtual Machine Scale Set '%s'." % (
                ", ".join(map(str, unknown)), self.name)
        indexes = sorted({keys[str(name).lower()] for name in names})
        busy = [self.instance_key(self.ids[i]) for i in indexes if self.instance(i, now)["provisioning"] == "updating"]
        if busy:
            return 409, "OperationNotAllowed", ("Operation 'manualUpgrade' is not allowed on instances %s since an "
                                                "update of them is in progress." % ", ".join(busy))
        update = manual.ManualUpgrade(self, now, [i for i in indexes if i not in self.protected])
        self.manual_upgrades.append(update)
        return update

    def power(self, index):
        if index in self.deallocated:
            return "deallocated"
        return "agent-not-ready" if index in self.agent_not_ready else "running"

    def render_vm(self, index, versions, expand, now, number=None, creating=False, select=None):
        """One VM of the scale set: a scale-set VM (Uniform) or a virtual machine of the resource group (Flexible).

        ``resources[]`` lists the model's extensions with the model's ``major.minor`` (the VM list example), never
        what runs; ``instanceView.extensions`` has the installed full versions. A MaxSurge instance being created
        reports ``ProvisioningState/creating`` and no extensions yet [UNVERIFIED]. ``select="instanceview"``
        (``$select=instanceView``, Uniform only) keeps ``name``, ``id``, ``instanceId`` and the instance view
        [UNVERIFIED which keys remain: the old REST doc's example shows ``instanceId`` and ``properties.instanceView``].
        """
        number = index if number is None else number
        vm_id = self.vm_id(number)
        applied = self.instance(index, now)
        state = "Creating" if creating else applied["provisioning"].capitalize()
        view = None
        if expand:
            health = applied["health"] if manual.has_health_probe(self.extensions) else None
            view = (exts.creating_view(index) if creating
                    else exts.instance_view(self.extensions, versions, index, self.power(index), applied["provisioning"],
                                            health))
        if select == "instanceview" and not self.flexible:
            props = {"instanceView": view} if view is not None else {}
            return {"name": "%s_%d" % (self.name, number), "id": vm_id, "instanceId": str(number), "properties": props}
        props = {"vmId": str(uuid.uuid5(uuid.NAMESPACE_URL, vm_id.lower())), "provisioningState": state,
                 "timeCreated": format_ts(self.created)}
        if self.flexible:
            props["virtualMachineScaleSet"] = {"id": self.id}
        else:
            # latestModelApplied is a property of scale-set VMs only (VirtualMachineScaleSetVMProperties); a new
            # instance (MaxSurge) is created from the latest model.
            props.update(latestModelApplied=creating or applied["generation"] == self.generation,
                         modelDefinitionApplied="VirtualMachineScaleSet")
        if view is not None:
            props["instanceView"] = view
        if self.image is not None:
            props["storageProfile"] = {"imageReference": images.vm_reference(self.image, versions.get(images.IMAGE_KEY, {}).get(index))}
        if self.image is not None or not self.flexible:
            props["protectionPolicy"] = {"protectFromScaleIn": index in self.protected,
                                         "protectFromScaleSetActions": index in self.protected}
        resources = [{"name": ext["name"], "id": "%s/extensions/%s" % (vm_id, ext["name"]),
                      "type": (FLEX_VM_TYPE if self.flexible else VM_TYPE) + "/extensions", "location": self.location,
                      "properties": {"publisher": ext["publisher"], "type": ext["type"],
                                     "typeHandlerVersion": ext["typeHandlerVersion"],
                                     "autoUpgradeMinorVersion": ext["autoUpgradeMinorVersion"],
                                     "provisioningState": state}} for ext in self.extensions]
        sku = self.sku if creating else applied["model"]["sku"]
        zones = {"zones": [self.zones[index % len(self.zones)]]} if self.zones else {}
        if self.flexible:
            return dict({"name": self.vm_name(number), "id": vm_id, "type": FLEX_VM_TYPE, "location": self.location,
                         "properties": dict(props, hardwareProfile={"vmSize": sku}), "resources": resources}, **zones)
        return dict({"name": "%s_%d" % (self.name, number), "id": vm_id, "type": VM_TYPE, "location": self.location,
                     "instanceId": str(number), "sku": {"name": sku, "tier": "Standard"}, "properties": props,
                     "resources": resources}, **zones)

    def list_vms(self, now, expand, select=None):
        """(rows, render) of every VM that exists at ``now`` (the surge instances of a batch in progress included);
        ``render(row)`` draws one, so a page renders only its own VMs."""
        versions = self.versions(now)
        return self.numbers(now), lambda row: self.render_vm(row[0], versions, expand, now, row[1], row[2], select)

    def render(self):
        upgrade_policy = {"mode": self.mode}
        if self.has_policy:
            upgrade_policy["rollingUpgradePolicy"] = dict(self.policy)
        extensions = []
        for ext in self.extensions:
            keys = ("publisher", "type", "typeHandlerVersion", "autoUpgradeMinorVersion", "enableAutomaticUpgrade")
            props = {key: ext[key] for key in keys}
            props["provisioningState"] = "Succeeded"
            extensions.append({"name": ext["name"], "properties": props})
        if self.automatic_os_policy is not None:
            upgrade_policy["automaticOSUpgradePolicy"] = dict(self.automatic_os_policy)
        profile = dict(self.profile_extra, extensionProfile={"extensions": extensions})
        if self.image is not None:
            profile["storageProfile"] = {"imageReference": images.model_reference(self.image)}
        return {
            "name": self.name, "id": self.id, "type": VMSS_TYPE, "location": self.location, "tags": self.tags,
            "sku": {"name": self.sku, "tier": "Standard", "capacity": self.capacity},
            "properties": {
                "orchestrationMode": self.orchestration,
                "singlePlacementGroup": not self.flexible,
                "upgradePolicy": upgrade_policy,
                "virtualMachineProfile": profile,
                "provisioningState": "Succeeded",
                "overprovision": False,
                "uniqueId": self.unique_id,
                "timeCreated": format_ts(self.created),
            },
        }


class Compute:
    """Routes for Microsoft.Compute; callers hold the emulator lock."""

    def __init__(self, scope, scale_sets, clock, page_size, catalog=None, image_catalog=None):
        self.catalog = catalog or exts.Catalog()
        self.image_catalog = image_catalog or images.ImageCatalog()
        self.scope = scope
        self.clock = clock
        self.page_size = page_size
        self.scale_sets = scale_sets
        self.operations = {}     # op id lower -> {"upgrade", "kind", "sub", "loc"}
        for vmss in scale_sets:
            scope.add_group(vmss.sub, vmss.rg, vmss.location)
            if vmss.upgrade is not None:
                self.operations[vmss.upgrade.op_id.lower()] = {"upgrade": vmss.upgrade, "kind": "start", "sub": vmss.sub}

    def find(self, sub, rg, name):
        for vmss in self.scale_sets:
            if (vmss.sub.lower(), vmss.rg.lower(), vmss.name.lower()) == (sub.lower(), rg.lower(), name.lower()):
                return vmss
        return None

    def handles(self, path):
        return any(r.match(path) for r in (RE_LIST_SUB, RE_LIST_RG, RE_VMSS, RE_OP, RE_EXT_VERSIONS, RE_RG_VMS,
                                           RE_IMAGE_VERSIONS, RE_GALLERY_VERSIONS))

    def handle(self, ctx):
        match = RE_OP.match(ctx.path)
        if match:
            return self._operation(ctx, match)
        match = RE_EXT_VERSIONS.match(ctx.path)
        if match:
            return self._ext_versions(ctx, match)
        match = RE_RG_VMS.match(ctx.path)
        if match:
            return self._rg_vms(ctx, match)
        match = RE_IMAGE_VERSIONS.match(ctx.path)
        if match:
            return self._image_versions(ctx, match)
        match = RE_GALLERY_VERSIONS.match(ctx.path)
        if match:
            return self._gallery_versions(ctx, match)
        match = RE_LIST_SUB.match(ctx.path) or RE_LIST_RG.match(ctx.path)
        if match:
            groups = match.groupdict()
            err = self.scope.check(groups["sub"], groups.get("rg"))
            if err:
                return err
            if ctx.method != "GET":
                return _bad_method(ctx)
            items = [v for v in self.scale_sets if v.sub.lower() == groups["sub"].lower()
                     and (groups.get("rg") is None or v.rg.lower() == groups["rg"].lower())]
            body = arm.paged(ctx, items, self.page_size, ScaleSet.render)
            return json_response(200, body)
        match = RE_VMSS.match(ctx.path)
        err = self.scope.check(match.group("sub"), match.group("rg"))
        if err:
            return err
        vmss = self.find(match.group("sub"), match.group("rg"), match.group("name"))
        if vmss is None:
            return arm.not_found_resource(VMSS_TYPE, match.group("name"), match.group("rg"))
        rest = (match.group("rest") or "").rstrip("/").lower()
        started = vmss.tick(self.clock.now())
        if started is not None:
            self.operations[started.op_id.lower()] = {"upgrade": started, "kind": "start", "sub": vmss.sub}
        return self._vmss_action(ctx, vmss, rest)

    def _vmss_action(self, ctx, vmss, rest):
        routes = {
            ("GET", ""): lambda: json_response(200, vmss.render()),
            ("GET", "/rollingupgrades/latest"): lambda: self._latest(vmss),
            ("POST", "/extensionrollingupgrade"): lambda: self._start(ctx, vmss, "extension"),
            ("POST", "/osrollingupgrade"): lambda: self._start(ctx, vmss, "os"),
            ("POST", "/approverollingupgrade"): lambda: self._approve(ctx, vmss),
            ("GET", "/osupgradehistory"): lambda: self._os_history(ctx, vmss),
            ("POST", "/rollingupgrades/cancel"): lambda: self._cancel(ctx, vmss),
            ("POST", "/manualupgrade"): lambda: self._manual(ctx, vmss),
            ("PATCH", ""): lambda: self._update(ctx, vmss),
            ("PUT", ""): lambda: self._update(ctx, vmss),
        }
        route = routes.get((ctx.method, rest))
        vm_match = RE_VM.match(rest)
        if route is None and vm_match and vmss.flexible:
            # A Flexible scale set has no scale-set VM APIs (Microsoft Learn, "Orchestration modes API comparison").
            return arm_error(409, "OperationNotAllowed", MSG_FLEXIBLE_REFUSED % vmss.name)   # status, code, wording [UNVERIFIED]
        if route is None and vm_match:
            return self._vms(ctx, vmss, vm_match) if ctx.method == "GET" else _bad_method(ctx)
        if route is None:
            if any(key[1] == rest for key in routes):
                return _bad_method(ctx)
            return arm_error(404, "NotFound", "The requested resource does not exist: %s" % ctx.path)
        return route()

    def _vms(self, ctx, vmss, match):
        """The VM list (paged, instance views with ``$expand=instanceView``, ``$select=instanceView`` keeping only
        them), one VM (by instance id), or one VM's instance view."""
        now = self.clock.now()
        versions = vmss.versions(now)
        expand = ctx.q("$expand", "").lower() == "instanceview"
        if match.group("id") is None:
            select = ctx.q("$select", "").lower() or None
            rows, render = vmss.list_vms(now, expand, select)
            body = arm.paged(ctx, rows, self.page_size, render)
            return json_response(200, body)
        found = [row for row in vmss.numbers(now) if str(row[1]) == match.group("id")]
        if not found:
            return arm.not_found_resource(VM_TYPE, "%s/%s" % (vmss.name, match.group("id")), vmss.rg)
        index, number, creating = found[0]
        vm = vmss.render_vm(index, versions, True, now, number, creating)
        if match.group("view"):
            return json_response(200, vm["properties"]["instanceView"])
        if not expand:
            vm["properties"].pop("instanceView", None)
        return json_response(200, vm)

    def _rg_vms(self, ctx, match):
        """VirtualMachines_List of a resource group: the VMs of its Flexible scale sets (Uniform instances are not
        listed there), filtered with the one ``$filter`` allowed, ``'virtualMachineScaleSet/id' eq '<id>'``; its
        ``$expand=instanceView`` "can only be specified if a valid $filter option is specified" (the API's parameter
        docs). Paged like every ARM list."""
        err = self.scope.check(match.group("sub"), match.group("rg"))
        if err:
            return err
        if ctx.method != "GET":
            return _bad_method(ctx)
        text = ctx.q("$filter", "")
        expand = ctx.q("$expand", "").lower() == "instanceview"
        wanted = None
        if text:
            parsed = RE_VMSS_FILTER.match(text)
            if not parsed:
                return arm_error(400, "InvalidParameter", "The value of parameter '$filter' is invalid.")   # [UNVERIFIED]
            wanted = parsed.group("id").rstrip("/").lower()
        elif expand:
            return arm_error(400, "InvalidParameter", "$expand=instanceView requires a valid $filter.")   # [UNVERIFIED]
        now = self.clock.now()
        items = []
        for vmss in self.scale_sets:
            if (not vmss.flexible or vmss.sub.lower() != match.group("sub").lower()
                    or vmss.rg.lower() != match.group("rg").lower() or (wanted is not None and vmss.id.lower() != wanted)):
                continue
            started = vmss.tick(now)
            if started is not None:
                self.operations[started.op_id.lower()] = {"upgrade": started, "kind": "start", "sub": vmss.sub}
            rows, render = vmss.list_vms(now, expand)
            items.extend((render, row) for row in rows)
        return json_response(200, arm.paged(ctx, items, self.page_size, lambda item: item[0](item[1])))

    def _ext_versions(self, ctx, match):
        """The versions catalog: a bare JSON array (E), not numerically ordered; one version by name."""
        groups = match.groupdict()
        err = self.scope.check(groups["sub"])
        if err:
            return err
        if ctx.method != "GET":
            return _bad_method(ctx)
        names = self.catalog.versions(groups["loc"], groups["pub"], groups["type"])
        if names is None or (groups["version"] is not None and groups["version"] not in names):
            # [UNVERIFIED] code and message for an unknown publisher/type/version
            return arm_error(404, "NotFound", "Artifact: VMExtensionType was not found.")
        items = self.catalog.render(groups["sub"], groups["loc"].lower(), groups["pub"], groups["type"], names)
        if groups["version"] is not None:
            return json_response(200, [i for i in items if i["name"] == groups["version"]][0])
        return json_response(200, items)

    def _latest(self, vmss):
        if vmss.upgrade is None:
            return arm_error(404, "NotFound", "The entity was not found in this Azure location.")
        return json_response(200, vmss.upgrade.status_info(self.clock.now(), self.clock.stamp))

    def _accepted(self, ctx, sub, location, op_id):
        version = ctx.q("api-version")
        path = "/subscriptions/%s/providers/Microsoft.Compute/locations/%s/operations/%s" % (sub, location, op_id)
        headers = [
            ("Azure-AsyncOperation", arm.link(ctx, path, [("api-version", version)])),
            ("Location", arm.link(ctx, path, [("monitor", "true"), ("api-version", version)])),
            ("x-ms-request-id", op_id),
            ("x-ms-request-charge", "0"),
        ]
        return empty_response(202, headers)

    def _start(self, ctx, vmss, kind):
        now = self.clock.now()
        if vmss.upgrade is not None and vmss.upgrade.running(now):
            return arm_error(409, "OperationNotAllowed", MSG_ALREADY_RUNNING)
        refused = self._os_refusal(vmss) if kind == "os" else None
        if refused:
            return refused
        vmss.settle(now)
        vmss.upgrade = RollingUpgrade(vmss, now, kind)
        if kind == "os":
            vmss.os_upgrades.append((vmss.upgrade, "User"))
        self.operations[vmss.upgrade.op_id.lower()] = {"upgrade": vmss.upgrade, "kind": "start", "sub": vmss.sub}
        return self._accepted(ctx, vmss.sub, vmss.location, vmss.upgrade.op_id)

    def _manual(self, ctx, vmss):
        """VirtualMachineScaleSets_UpdateInstances: ``{"instanceIds": [...]}`` (instance ids, or a Flexible scale
        set's VM names), an operation like the other actions (manual.py)."""
        body = ctx.json()
        names = body.get("instanceIds") if isinstance(body, dict) else None
        if not isinstance(names, list) or not names or not all(isinstance(name, str) for name in names):
            return arm_error(400, "InvalidParameter", "Required parameter 'instanceIds' is missing or empty.")   # [UNVERIFIED]
        started = vmss.manual_upgrade(self.clock.now(), names)
        if isinstance(started, tuple):
            return arm_error(*started)
        self.operations[started.op_id.lower()] = {"upgrade": started, "kind": "manual", "sub": vmss.sub}
        return self._accepted(ctx, vmss.sub, vmss.location, started.op_id)

    def _update(self, ctx, vmss):
        """PUT/PATCH of the scale set: a model change (manual.py); answered 200 with the scale set as it is now
        [UNVERIFIED: Azure also announces the update as an operation]."""
        refused = vmss.change_model(ctx.json(), self.clock.now())
        if isinstance(refused, tuple):
            return arm_error(*refused)
        if refused == "started":
            self.operations[vmss.upgrade.op_id.lower()] = {"upgrade": vmss.upgrade, "kind": "start", "sub": vmss.sub}
        return json_response(200, vmss.render())

    def _approve(self, ctx, vmss):
        """VirtualMachineScaleSets_ApproveRollingUpgrade (optional body ``{"instanceIds": [...]}``): the deferred OS
        upgrade's batches begin. Any instance ids approve the whole upgrade [UNVERIFIED: Azure approves per VM; this
        collection sends none, which approves every VM]. A long-running operation that succeeds at once."""
        now = self.clock.now()
        body = ctx.json()
        ids = body.get("instanceIds") if isinstance(body, dict) else None
        if ids is not None and not isinstance(ids, list):
            return arm_error(400, "InvalidParameter", "instanceIds must be a list of instance ids.")
        upgrade = vmss.upgrade
        if upgrade is None or not upgrade.awaiting_approval or not upgrade.running(now):
            return arm_error(409, "OperationNotAllowed", MSG_NOTHING_TO_APPROVE)
        upgrade.approve(now)
        op_id = new_id()
        self.operations[op_id] = {"upgrade": upgrade, "kind": "approve", "sub": vmss.sub}
        return self._accepted(ctx, vmss.sub, vmss.location, op_id)

    def _cancel(self, ctx, vmss):
        now = self.clock.now()
        if vmss.upgrade is None or not vmss.upgrade.running(now):
            return arm_error(409, "OperationNotAllowed", "There is no ongoing Rolling Upgrade to cancel.")
        vmss.upgrade.cancel_time = now
        op_id = new_id()
        self.operations[op_id] = {"upgrade": vmss.upgrade, "kind": "cancel", "sub": vmss.sub}
        return self._accepted(ctx, vmss.sub, vmss.location, op_id)

    def _operation(self, ctx, match):
        err = self.scope.check(match.group("sub"))
        if err:
            return err
        op = self.operations.get(match.group("op").lower())
        if op is None or op["sub"].lower() != match.group("sub").lower():
            return arm_error(404, "NotFound", "The entity was not found in this Azure location.")
        if ctx.method != "GET":
            return _bad_method(ctx)
        now = self.clock.now()
        upgrade = op["upgrade"]
        if op["kind"] in ("start", "manual"):
            status, end, error = upgrade.op_status(now)
            start = upgrade.start
        elif op["kind"] == "approve":
            start = end = upgrade.approved_at
            status, error = "Succeeded", None
        else:
            start = upgrade.cancel_time
            end = start + CANCEL_SECONDS
            status, error = ("Succeeded", None) if now >= end else ("InProgress", None)
            end = end if status == "Succeeded" else None
        if ctx.q("monitor", "").lower() == "true":
            if status == "InProgress":
                return empty_response(202, [("Location", arm.link(ctx, ctx.path, [("monitor", "true"), ("api-version", ctx.q("api-version"))]))])
            if status == "Failed":
                return json_response(400, {"error": error})   # [UNVERIFIED] monitor URL of a failed operation
            return empty_response(200)
        body = {"startTime": format_ts(self.clock.stamp(start))}
        if end is not None:
            body["endTime"] = format_ts(self.clock.stamp(end))
        body["status"] = status
        if error:
            body["error"] = error
        body["name"] = match.group("op")
        return json_response(200, body, pretty=True)

    @staticmethod
    def _os_refusal(vmss):
        """osRollingUpgrade's refusals (images.py, README "OS images"): a pinned image version, every instance
        protected, upgrade policy mode Automatic [UNVERIFIED]."""
        if vmss.image is None:
            return None
        if vmss.mode.lower() == "automatic":
            return arm_error(409, "OperationNotAllowed", MSG_OS_AUTOMATIC)
        if vmss.image["version"] != images.LATEST:
            return arm_error(409, "OperationNotAllowed", MSG_OS_PINNED)
        if vmss.capacity and all(i in vmss.protected for i in range(vmss.capacity)):
            return arm_error(409, "OperationNotAllowed", MSG_OS_PROTECTED)
        return None

    def _image_versions(self, ctx, match):
        """VirtualMachineImages_List: a bare JSON array, sorted as strings (not numerically)."""
        groups = match.groupdict()
        err = self.scope.check(groups["sub"])
        if err:
            return err
        if ctx.method != "GET":
            return _bad_method(ctx)
        names = self.image_catalog.platform_versions(groups["loc"], groups["pub"], groups["offer"], groups["sku"])
        if names is None:
            # [UNVERIFIED] code and message for an unknown publisher/offer/sku
            return arm_error(404, "NotFound", "Artifact: VMImage was not found.")
        return json_response(200, self.image_catalog.render_platform(groups["sub"], groups["loc"].lower(), groups["pub"],
                                                                     groups["offer"], groups["sku"], names))

    def _gallery_versions(self, ctx, match):
        """GalleryImageVersions_ListByGalleryImage: paged, each version with its publishing profile."""
        groups = match.groupdict()
        err = self.scope.check(groups["sub"], groups["rg"])
        if err:
            return err
        if ctx.method != "GET":
            return _bad_method(ctx)
        versions = self.image_catalog.gallery_versions(groups["rg"], groups["gallery"], groups["image"])
        if versions is None:
            return arm.not_found_resource(images.GALLERY_API + "/images", "%s/%s" % (groups["gallery"], groups["image"]), groups["rg"])

        def render(version):
            return images.ImageCatalog.render_gallery_version(groups["sub"], groups["rg"], groups["gallery"], groups["image"],
                                                              version)
        return json_response(200, arm.paged(ctx, versions, self.page_size, render))

    def _os_history(self, ctx, vmss):
        """VirtualMachineScaleSets_GetOSUpgradeHistory: paged UpgradeOperationHistoricalStatusInfo, newest first
        [UNVERIFIED order]; the scenario's ``os_upgrade_history`` entries after the upgrades started since."""
        now = self.clock.now()
        items = [self._history_item(vmss, upgrade, who, now) for upgrade, who in reversed(vmss.os_upgrades)]
        items += [self._scenario_history(vmss, entry, now) for entry in vmss.os_history]
        return json_response(200, arm.paged(ctx, items, self.page_size, lambda item: item))

    def _history_item(self, vmss, upgrade, who, now):
        st = upgrade.state(now)
        status = {"code": st["code"], "startTime": format_ts(self.clock.stamp(upgrade.requested))}
        if st["code"] != "RollingForward":
            end = upgrade.cancel_time if st["code"] == "Cancelled" else upgrade.end_time
            status["endTime"] = format_ts(self.clock.stamp(end))
        target = upgrade.targets.get(images.IMAGE_KEY)
        props = {"runningStatus": status, "progress": upgrade.progress(now), "startedBy": who,
                 "targetImageReference": images.vm_reference(vmss.image, None) if vmss.image else None,
                 "rollbackInfo": {"successfullyRolledbackInstanceCount": 0, "failedRolledbackInstanceCount": 0}}
        if props["targetImageReference"] is not None and target is not None:
            props["targetImageReference"] = dict(props["targetImageReference"], version=target)
        if st["code"] == "Faulted":
            props["error"] = upgrade.error
        return {"properties": props, "type": VMSS_TYPE + "/rollingUpgrades", "location": vmss.location}

    def _scenario_history(self, vmss, entry, now):
        start = now - float(entry.get("started_seconds_ago", 86400))
        status = {"code": entry.get("result", "Completed"), "startTime": format_ts(self.clock.stamp(start)),
                  "endTime": format_ts(self.clock.stamp(start + float(entry.get("duration_seconds", 600))))}
        ref = images.vm_reference(vmss.image, None) if vmss.image else {}
        running = status["code"] == "RollingForward"   # a scenario entry still running has moved nothing yet
        if running:
            del status["endTime"]
        props = {"runningStatus": status, "startedBy": entry.get("started_by", "Platform"),
                 "progress": {"successfulInstanceCount": 0 if running else vmss.capacity, "failedInstanceCount": 0,
                              "inProgressInstanceCount": 0, "pendingInstanceCount": vmss.capacity if running else 0},
                 "targetImageReference": dict(ref, version=str(entry.get("target_version", "latest"))),
                 "rollbackInfo": {"successfullyRolledbackInstanceCount": int(entry.get("rolled_back", 0)),
                                  "failedRolledbackInstanceCount": int(entry.get("rollback_failed", 0))}}
        if entry.get("error_code"):
            props["error"] = {"code": entry["error_code"], "message": entry.get("error_message", entry["error_code"])}
        return {"properties": props, "type": VMSS_TYPE + "/rollingUpgrades", "location": vmss.location}


def _bad_method(ctx):
    return arm_error(405, "UnsupportedHttpVerb", "The requested resource does not support http method '%s'." % ctx.method)
