"""Microsoft.Compute scale sets and the rolling-upgrade state machine (SUMMARY.md section 1)."""

import math
import re
import uuid

from . import arm, extensions as exts
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
VM_TYPE = VMSS_TYPE + "/virtualMachines"

DEFAULT_POLICY = {
    "maxBatchInstancePercent": 20,
    "maxUnhealthyInstancePercent": 20,
    "maxUnhealthyUpgradedInstancePercent": 20,
    "pauseTimeBetweenBatches": "PT0S",
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
MSG_ALREADY_RUNNING = ("Rolling Upgrade cannot be started because there is already an ongoing Rolling Upgrade on this "
                       "Virtual Machine Scale Set. Wait for it to finish or cancel it first.")
CANCEL_SECONDS = 1.0   # the start operation reports Succeeded ~1 s after a Cancel (SUMMARY section 1)


def _spread(capacity, percent):
    """Evenly spread ``percent`` of ``capacity`` instance indexes."""
    return {i for i in range(capacity) if math.floor((i + 1) * percent / 100.0) > math.floor(i * percent / 100.0)}


class RollingUpgrade:
    """A deterministic timeline computed once at start; states are read lazily for any sim time."""

    def __init__(self, vmss, start, kind):
        self.kind = kind
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
        # What an extension upgrade moves each model extension to (the catalog as it was at the start).
        self.targets = {e["name"].lower(): vmss.catalog.target(vmss.location, e) for e in vmss.extensions} if kind == "extension" else {}
        # Batches that ended before this moment are already reflected in the scale set's versions (scenario upgrades).
        self.applied_from = None
        order = list(range(self.capacity))
        if self.policy.get("prioritizeUnhealthyInstances"):
            order.sort(key=lambda i: (i not in self.unhealthy, i))
        size = max(1, int(math.ceil(self.capacity * float(self.policy["maxBatchInstancePercent"]) / 100.0)))
        self.batches = [order[i:i + size] for i in range(0, len(order), size)]
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
        if pct > limit:
            return {"code": "MaxUnhealthyInstancePercentExceededInRollingUpgrade", "message": MSG_UNHEALTHY % (round(pct), limit)}
        return None

    def _plan(self):
        """Find the natural end: Completed after the last batch or Faulted after a policy breach."""
        self.end_code, self.end_done, self.error = "Completed", len(self.batches), None
        self.end_time = self.batch_end(len(self.batches) - 1) if self.batches else self.start
        error = self._unhealthy_error(0)
        if error:
            self.end_code, self.end_done, self.error, self.end_time = "Faulted", 0, error, self.start
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
        if self.cancelled() and now >= self.cancel_time:
            done = len([i for i in range(len(self.batches)) if self.batch_start(i) <= self.cancel_time])
            return {"code": "Cancelled", "done": done, "in_progress": None}
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
        return {"successfulInstanceCount": len(done) - failed, "failedInstanceCount": failed,
                "inProgressInstanceCount": running, "pendingInstanceCount": self.capacity - len(done) - running}

    def upgraded(self, now):
        """Indexes of the instances whose extensions this upgrade has moved by ``now`` (failing ones never move)."""
        done = self.state(now)["done"]
        return {i for index, batch in enumerate(self.batches[:done]) for i in batch
                if i not in self.failing and (self.applied_from is None or self.batch_end(index) > self.applied_from)}

    def status_info(self, now):
        st = self.state(now)
        cancelled = st["code"] == "Cancelled"
        props = {
            "policy": self.policy,
            "runningStatus": {
                "code": st["code"],
                "startTime": format_ts(self.start),
                "lastAction": "Cancel" if cancelled else "Start",
                "lastActionTime": format_ts(self.cancel_time if cancelled else self.start),
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

    def __init__(self, spec, default_sub, now, catalog=None):
        self.catalog = catalog or exts.Catalog()
        self.sub = spec.get("subscription") or default_sub
        self.rg = spec["resource_group"]
        self.name = spec["name"]
        self.location = spec.get("location", "eastus")
        self.tags = dict(spec.get("tags") or {})
        self.capacity = int(spec.get("capacity", 10))
        self.sku = spec.get("sku", "Standard_D2s_v3")
        self.mode = spec.get("upgrade_mode", "Rolling")
        self.has_policy = "rolling_upgrade_policy" in spec or self.mode == "Rolling"
        self.policy = dict(DEFAULT_POLICY)
        self.policy.update(spec.get("rolling_upgrade_policy") or {})
        self.extensions = [exts.normalize(e) for e in spec.get("extensions") or DEFAULT_EXTENSIONS]
        # Installed versions per extension (name lower) and instance index, as of the last settle().
        self.base_versions = {e["name"].lower(): exts.initial_versions(e, self.capacity, self.catalog, self.location)
                              for e in self.extensions}
        self.deallocated = {int(i) for i in spec.get("deallocated_instances") or []}
        self.agent_not_ready = {int(i) for i in spec.get("agent_not_ready_instances") or []}
        self.batch_seconds = float(spec.get("batch_seconds", 300))
        self.failing = {int(i) for i in spec.get("failing_instances") or []}
        if spec.get("fail_percent"):
            self.failing |= _spread(self.capacity, float(spec["fail_percent"]))
        self.unhealthy = {int(i) for i in spec.get("unhealthy_instances") or []}
        self.unique_id = str(uuid.uuid5(uuid.NAMESPACE_URL, self.id.lower()))
        self.created = now - 30 * 86400
        self.upgrade = None
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

    def versions(self, now):
        """{extension name lower: {instance index: installed version}} at sim time ``now``."""
        current = {name: dict(per_instance) for name, per_instance in self.base_versions.items()}
        upgrade = self.upgrade
        if upgrade is None or not upgrade.targets:
            return current
        moved = upgrade.upgraded(now) - self.deallocated - self.agent_not_ready
        for name, target in upgrade.targets.items():
            if target is None:
                continue
            per_instance = current[name]
            for index in moved:
                if exts.version_key(per_instance[index]) < exts.version_key(target):
                    per_instance[index] = target
        return current

    def settle(self, now):
        """Fold what the current upgrade did into the base versions (before a new upgrade replaces it)."""
        self.base_versions = self.versions(now)

    def power(self, index):
        if index in self.deallocated:
            return "deallocated"
        return "agent-not-ready" if index in self.agent_not_ready else "running"

    def render_vm(self, index, versions, expand):
        vm_id = "%s/virtualMachines/%d" % (self.id, index)
        props = {"latestModelApplied": True, "modelDefinitionApplied": "VirtualMachineScaleSet",
                 "vmId": str(uuid.uuid5(uuid.NAMESPACE_URL, vm_id.lower())), "provisioningState": "Succeeded",
                 "timeCreated": format_ts(self.created)}
        if expand:
            props["instanceView"] = exts.instance_view(self.extensions, versions, index, self.power(index))
        return {"name": "%s_%d" % (self.name, index), "id": vm_id, "type": VM_TYPE, "location": self.location,
                "instanceId": str(index), "sku": {"name": self.sku, "tier": "Standard"}, "properties": props}

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
        return {
            "name": self.name, "id": self.id, "type": VMSS_TYPE, "location": self.location, "tags": self.tags,
            "sku": {"name": self.sku, "tier": "Standard", "capacity": self.capacity},
            "properties": {
                "singlePlacementGroup": True,
                "upgradePolicy": upgrade_policy,
                "virtualMachineProfile": {"extensionProfile": {"extensions": extensions}},
                "provisioningState": "Succeeded",
                "overprovision": False,
                "uniqueId": self.unique_id,
                "timeCreated": format_ts(self.created),
            },
        }


class Compute:
    """Routes for Microsoft.Compute; callers hold the emulator lock."""

    def __init__(self, scope, scale_sets, clock, page_size, catalog=None):
        self.catalog = catalog or exts.Catalog()
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
        return any(r.match(path) for r in (RE_LIST_SUB, RE_LIST_RG, RE_VMSS, RE_OP, RE_EXT_VERSIONS))

    def handle(self, ctx):
        match = RE_OP.match(ctx.path)
        if match:
            return self._operation(ctx, match)
        match = RE_EXT_VERSIONS.match(ctx.path)
        if match:
            return self._ext_versions(ctx, match)
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
        return self._vmss_action(ctx, vmss, rest)

    def _vmss_action(self, ctx, vmss, rest):
        routes = {
            ("GET", ""): lambda: json_response(200, vmss.render()),
            ("GET", "/rollingupgrades/latest"): lambda: self._latest(vmss),
            ("POST", "/extensionrollingupgrade"): lambda: self._start(ctx, vmss, "extension"),
            ("POST", "/osrollingupgrade"): lambda: self._start(ctx, vmss, "os"),
            ("POST", "/rollingupgrades/cancel"): lambda: self._cancel(ctx, vmss),
        }
        route = routes.get((ctx.method, rest))
        vm_match = RE_VM.match(rest)
        if route is None and vm_match:
            return self._vms(ctx, vmss, vm_match) if ctx.method == "GET" else _bad_method(ctx)
        if route is None:
            if any(key[1] == rest for key in routes):
                return _bad_method(ctx)
            return arm_error(404, "NotFound", "The requested resource does not exist: %s" % ctx.path)
        return route()

    def _vms(self, ctx, vmss, match):
        """The VM list (paged, instance views with ``$expand=instanceView``), one VM, or one VM's instance view."""
        versions = vmss.versions(self.clock.now())
        if match.group("id") is None:
            expand = ctx.q("$expand", "").lower() == "instanceview"
            body = arm.paged(ctx, list(range(vmss.capacity)), self.page_size, lambda i: vmss.render_vm(i, versions, expand))
            return json_response(200, body)
        index = match.group("id")
        if not index.isdigit() or int(index) >= vmss.capacity:
            return arm.not_found_resource(VM_TYPE, "%s/%s" % (vmss.name, index), vmss.rg)
        if match.group("view"):
            view = exts.instance_view(vmss.extensions, versions, int(index), vmss.power(int(index)))
            return json_response(200, view)
        expand = ctx.q("$expand", "").lower() == "instanceview"
        return json_response(200, vmss.render_vm(int(index), versions, expand))

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
        return json_response(200, vmss.upgrade.status_info(self.clock.now()))

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
        vmss.settle(now)
        vmss.upgrade = RollingUpgrade(vmss, now, kind)
        self.operations[vmss.upgrade.op_id.lower()] = {"upgrade": vmss.upgrade, "kind": "start", "sub": vmss.sub}
        return self._accepted(ctx, vmss.sub, vmss.location, vmss.upgrade.op_id)

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
        if op["kind"] == "start":
            status, end, error = upgrade.op_status(now)
            start = upgrade.start
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
        body = {"startTime": format_ts(start)}
        if end is not None:
            body["endTime"] = format_ts(end)
        body["status"] = status
        if error:
            body["error"] = error
        body["name"] = match.group("op")
        return json_response(200, body, pretty=True)


def _bad_method(ctx):
    return arm_error(405, "UnsupportedHttpVerb", "The requested resource does not support http method '%s'." % ctx.method)
