"""AKS operation status (SUMMARY.md section 3, examples/aks)."""

import re

from . import arm
from .clock import format_ts
from .wire import arm_error, json_response

CLUSTER_TYPE = "Microsoft.ContainerService/managedClusters"
RE_AKS = re.compile(r"^/subscriptions/(?P<sub>[^/]+)/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.ContainerService/managedClusters/"
                    r"(?P<name>[^/]+)(?:/agentPools/(?P<pool>[^/]+))?/operations(?:/(?P<op>[^/]+))?/?$", re.I)
TERMINAL = ("Succeeded", "Failed", "Canceled")


class AksOperation:
    """A scenario operation: InProgress for ``duration`` sim seconds from ``start``, then its final status."""

    def __init__(self, spec, start):
        self.op_id = str(spec["id"])
        self.start = start + float(spec.get("offset", 0))
        self.duration = float(spec.get("duration", 60))
        self.final = spec.get("status", "Succeeded")
        if self.final not in TERMINAL:
            raise ValueError("AKS operation %s: status must be one of %s" % (self.op_id, TERMINAL))
        self.error = spec.get("error")
        if self.final == "Failed" and not self.error:
            self.error = {"code": "ReconcileAgentPoolIdentityError", "message": "Reconcile agent pool nodepool1 identity failed"}
        self.agent_pool = spec.get("agent_pool")
        self.children = [AksOperation(child, self.start) for child in spec.get("operations") or []]

    def render(self, now, base_id, stamp=lambda instant: instant):
        """The operation's body at ``now``; ``stamp`` turns an instant into wall-clock time (clock.py)."""
        body = {"id": "%s/operations/%s" % (base_id, self.op_id), "name": self.op_id}
        end = self.start + self.duration
        if now < self.start:
            body.update({"status": "NotStarted", "percentComplete": 0})   # [UNVERIFIED] only with a positive offset
        elif now < end:
            pct = 100.0 * (now - self.start) / self.duration if self.duration else 100.0
            body.update({"status": "InProgress", "percentComplete": int(pct)})
        else:
            body["status"] = self.final
            if self.final == "Succeeded":
                body["percentComplete"] = 100
        if now >= self.start:
            body["startTime"] = format_ts(stamp(self.start), zulu=True)
        if now >= end:
            body["endTime"] = format_ts(stamp(end), zulu=True)
            if self.final == "Failed":
                body["error"] = self.error
        if self.children:
            body["operations"] = [child.render(now, base_id, stamp) for child in self.children]
        return body


class Cluster:
    def __init__(self, spec, default_sub, now):
        self.sub = spec.get("subscription") or default_sub
        self.rg = spec["resource_group"]
        self.name = spec["name"]
        self.location = spec.get("location", "eastus")
        start = now - float(spec.get("started_seconds_ago", 0))
        self.operations = [AksOperation(op, start - float(op.get("started_seconds_ago", 0))) for op in spec.get("operations") or []]

    @property
    def id(self):
        return "/subscriptions/%s/resourceGroups/%s/providers/%s/%s" % (self.sub, self.rg, CLUSTER_TYPE, self.name)


class Aks:
    """Routes for managedClusters operations; callers hold the emulator lock."""

    def __init__(self, scope, clusters, clock, page_size):
        self.scope = scope
        self.clusters = clusters
        self.clock = clock
        self.page_size = page_size
        for cluster in clusters:
            scope.add_group(cluster.sub, cluster.rg, cluster.location)

    @staticmethod
    def handles(path):
        return bool(RE_AKS.match(path))

    def handle(self, ctx):
        match = RE_AKS.match(ctx.path)
        sub, rg, name, pool, op_id = match.group("sub", "rg", "name", "pool", "op")
        err = self.scope.check(sub, rg)
        if err:
            return err
        cluster = next((c for c in self.clusters if (c.sub.lower(), c.rg.lower(), c.name.lower()) == (sub.lower(), rg.lower(), name.lower())), None)
        if cluster is None:
            return arm.not_found_resource(CLUSTER_TYPE, name, rg)
        if ctx.method != "GET":
            return arm_error(405, "UnsupportedHttpVerb", "The requested resource does not support http method '%s'." % ctx.method)
        base_id = cluster.id + ("/agentPools/%s" % pool if pool else "")
        ops = cluster.operations
        if pool:
            ops = [op for op in ops if (op.agent_pool or "").lower() == pool.lower()]
        now = self.clock.now()
        if op_id is None:
            if pool:
                return arm_error(404, "NotFound", "The requested resource does not exist.")
            return json_response(200, arm.paged(ctx, ops, self.page_size, lambda op: op.render(now, base_id, self.clock.stamp)))
        op = next((o for o in ops if o.op_id.lower() == op_id.lower()), None)
        if op is None:
            return arm_error(404, "NotFound", "Operation '%s' was not found for managed cluster '%s'." % (op_id, name))
        return json_response(200, op.render(now, base_id, self.clock.stamp))
