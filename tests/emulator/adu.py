"""Device Update data plane: update operations, GA 2022-10-01 and legacy 2020-09-01 /v2/ (SUMMARY.md section 2)."""

import hashlib
import json
import math
import re
import secrets
import urllib.parse
import uuid

from .clock import format_ts
from .wire import json_response, empty_response, new_id

GA_VERSIONS = ("2022-10-01",)
STATUSES = ("NotStarted", "Running", "Succeeded", "Failed")
TERMINAL = ("Succeeded", "Failed")
RE_GA = re.compile(r"^/deviceUpdate/(?P<inst>[^/]+)/updates(?::(?P<action>import)|/operations(?:/(?P<op>[^/]+))?)/?$", re.I)
RE_LEGACY = re.compile(r"^/deviceupdate/(?P<inst>[^/]+)/v2/updates(?:/operations(?:/(?P<op>[^/]+))?)?/?$", re.I)
RE_CLAUSE = re.compile(r"^status\s+eq\s+'(?P<status>[^']*)'$", re.I)
DEFAULT_MIX = {"Succeeded": 70, "Failed": 10, "Running": 10, "NotStarted": 10}
IMPORT_ERROR = {
    "code": "CannotProcessImportManifest",
    "message": "Error processing import manifest.",
    "innerError": {
        "code": "CannotDownload",
        "message": "Cannot download import manifest.",
        "errorDetail": "Response status code does not indicate success: 403 (Server failed to authenticate the request. "
                       "Make sure the value of Authorization header is formed correctly including the signature.).",
    },
}


def _hash(*parts):
    return hashlib.sha256("/".join(str(p) for p in parts).encode("utf-8")).hexdigest()


def _trace_parent():
    return "00-%s-%s-00" % (secrets.token_hex(16), secrets.token_hex(8))


class AduOp:
    """NotStarted for ``wait`` s after ``created``, Running for ``run`` s, then ``result``."""

    def __init__(self, op_id, created, wait, run, result, update, error=None):
        self.op_id = op_id
        self.created = created
        self.wait = wait
        self.run = run
        self.result = result
        self.update = update
        self.error = error
        self.trace_id = _hash("trace", op_id)[:32]

    def status(self, now):
        if now < self.created + self.wait:
            return "NotStarted"
        if now < self.created + self.wait + self.run:
            return "Running"
        return self.result

    def last_action(self, now):
        marks = [self.created, self.created + self.wait, self.created + self.wait + self.run]
        return max(m for m in marks if m <= now) if now >= self.created else self.created

    def etag(self, now):
        return '"%s"' % uuid.uuid5(uuid.NAMESPACE_OID, "%s/%s" % (self.op_id, self.status(now)))

    def render(self, now, instance, legacy, stamp=lambda instant: instant):
        """The operation's body at ``now``; ``stamp`` turns an instant into wall-clock time (clock.py)."""
        status = self.status(now)
        body = {"operationId": self.op_id, "status": status}
        upd = self.update
        if status in ("Running", "Succeeded"):
            if legacy:
                body["updateId"] = dict(upd)
            else:
                body["update"] = {"updateId": dict(upd), "friendlyName": "%s %s %s" % (upd["provider"], upd["name"], upd["version"])}
        if status == "Succeeded":
            if legacy:
                body["resourceLocation"] = "/deviceupdate/%s/v2/updates/providers/%s/names/%s/versions/%s" % (
                    instance, upd["provider"], upd["name"], upd["version"])
            else:
                body["resourceLocation"] = "/deviceUpdate/%s/updates/providers/%s/names/%s/versions/%s?api-version=%s" % (
                    instance, upd["provider"], upd["name"], upd["version"], GA_VERSIONS[0])
        zulu = legacy
        if status == "Failed":
            err = {"occurredDateTime": format_ts(stamp(self.last_action(now)), zulu)}
            err.update(self.error or IMPORT_ERROR)
            body["error"] = err
        body["traceId"] = self.trace_id
        body["lastActionDateTime"] = format_ts(stamp(self.last_action(now)), zulu)
        body["createdDateTime"] = format_ts(stamp(self.created), zulu)
        body["etag"] = self.etag(now)
        return body


class Instance:
    """One ADU instance: explicit ops, cheaply generated ops (rendered on demand) and imported ops."""

    def __init__(self, spec, now):
        self.instance_id = spec["instance_id"]
        self.page_size = int(spec.get("page_size", 100))
        self.retry_after = float(spec.get("retry_after", 5))
        limits = spec.get("rate_limits") or {}
        self.limits = {"list": int(limits.get("list_per_minute", 50)), "get": int(limits.get("get_per_minute", 510))}
        self.windows = {}
        self.import_seconds = float(spec.get("import_seconds", 30))
        self.import_result = spec.get("import_result", "Succeeded")
        self.loaded = now
        self.explicit = [self._explicit(op, now) for op in spec.get("operations") or []]
        gen = spec.get("generate") or {}
        self.gen_count = int(gen.get("count", 0))
        mix = gen.get("statuses") or DEFAULT_MIX
        total = float(sum(mix.values())) or 1.0
        self.gen_mix = []
        acc = 0.0
        for name in STATUSES:
            acc += mix.get(name, 0) / total
            self.gen_mix.append((acc, name))
        self.gen_running = float(gen.get("running_seconds", 600))
        self.gen_waiting = float(gen.get("not_started_seconds", 120))
        self.gen_prefix = _hash("gen", self.instance_id)[:8]
        self.imported = []

    @staticmethod
    def _explicit(op, now):
        created = now - float(op.get("created_seconds_ago", 0))
        update = {"provider": op.get("provider", "Contoso"), "name": op.get("name", "Sensor"), "version": str(op.get("version", "1.0.0"))}
        return AduOp(op.get("id") or new_id(), created, float(op.get("not_started_seconds", 0)), float(op.get("running_seconds", 60)),
                     op.get("result", "Succeeded"), update, op.get("error"))

    def _generated(self, index):
        digest = _hash("op", self.instance_id, index)
        roll = int(digest[:8], 16) / float(0xFFFFFFFF)
        status = next((name for edge, name in self.gen_mix if roll <= edge), "Succeeded")
        op_id = "%s-%s-4%s-8%s-%012d" % (self.gen_prefix, digest[8:12], digest[12:15], digest[15:18], index)
        update = {"provider": "Contoso", "name": "Device-%d" % (index % 7), "version": "1.%d.%d" % (index // 100, index % 100)}
        if status in TERMINAL:
            created = self.loaded - 3600 - index * 60
            return AduOp(op_id, created, 5.0, 60.0, status, update)
        if status == "Running":
            return AduOp(op_id, self.loaded - 10, 5.0, self.gen_running + 5, "Succeeded", update)
        return AduOp(op_id, self.loaded, self.gen_waiting, self.gen_running, "Succeeded", update)

    def __len__(self):
        return len(self.explicit) + self.gen_count + len(self.imported)

    def at(self, index):
        if index < len(self.explicit):
            return self.explicit[index]
        index -= len(self.explicit)
        if index < self.gen_count:
            return self._generated(index)
        return self.imported[index - self.gen_count]

    def find(self, op_id):
        for op in self.explicit + self.imported:
            if op.op_id.lower() == op_id.lower():
                return op
        if op_id.startswith(self.gen_prefix) and op_id[-12:].isdigit():
            index = int(op_id[-12:])
            if index < self.gen_count:
                op = self._generated(index)
                if op.op_id == op_id.lower():
                    return op
        return None

    def throttle(self, bucket, now, clock):
        """None, or the real seconds to wait when the sim-time minute window of ``bucket`` is exhausted."""
        window = math.floor(now / 60.0)
        start, count = self.windows.get(bucket, (window, 0))
        if start != window:
            start, count = window, 0
        if count >= self.limits[bucket]:
            return clock.real_seconds((window + 1) * 60.0 - now)
        self.windows[bucket] = (start, count + 1)
        return None

    def add_import(self, now):
        number = len(self.imported) + 1
        update = {"provider": "Contoso", "name": "Imported", "version": "1.0.%d" % number}
        op = AduOp(new_id(), now, 2.0, self.import_seconds, self.import_result, update)
        self.imported.append(op)
        return op


def _error(status, code, message, headers=None):
    return json_response(status, {"error": {"code": code, "message": message}}, headers)


def _parse_filter(text):
    """Set of statuses, or None when the filter is invalid (only NotStarted/Running clauses joined by ``or``)."""
    wanted = set()
    for clause in re.split(r"\s+or\s+", text.strip(), flags=re.I):
        match = RE_CLAUSE.match(clause.strip())
        if not match or match.group("status") not in ("NotStarted", "Running"):
            return None
        wanted.add(match.group("status"))
    return wanted


class Adu:
    """Routes for the ADU data plane; callers hold the emulator lock."""

    def __init__(self, instances, clock):
        self.instances = {inst.instance_id.lower(): inst for inst in instances}
        self.clock = clock

    @staticmethod
    def handles(path):
        return bool(RE_GA.match(path) or RE_LEGACY.match(path))

    def handle(self, ctx):
        legacy = RE_LEGACY.match(ctx.path)
        match = legacy or RE_GA.match(ctx.path)
        resp = self._route(ctx, match, bool(legacy))
        resp.headers.append(("traceparent", _trace_parent()))
        return resp

    def _route(self, ctx, match, legacy):
        if not legacy and ctx.q("api-version") not in GA_VERSIONS:
            return _error(400, "UnsupportedApiVersion", "The api-version '%s' is not supported. Supported versions: %s." % (
                ctx.q("api-version"), ", ".join(GA_VERSIONS)))
        inst = self.instances.get(match.group("inst").lower())
        if inst is None:
            return _error(404, "InstanceNotFound", "Instance '%s' was not found." % match.group("inst"))
        now = self.clock.now()
        op_id = match.group("op")
        is_import = (match.groupdict().get("action") is not None) if not legacy else (
            op_id is None and not ctx.path.rstrip("/").lower().endswith("/operations"))
        if is_import:
            if ctx.method != "POST" or (legacy and ctx.q("action") != "import"):
                return _error(405, "MethodNotAllowed", "Method %s is not allowed here." % ctx.method)
            return self._import(ctx, inst, now, legacy)
        if ctx.method != "GET":
            return _error(405, "MethodNotAllowed", "Method %s is not allowed here." % ctx.method)
        wait = inst.throttle("get" if op_id else "list", now, self.clock)
        if wait is not None:
            return _error(429, "TooManyRequests", "Too many requests. Retry after %d seconds." % wait, [("Retry-After", str(wait))])
        if op_id:
            return self._get(ctx, inst, op_id, now, legacy)
        return self._list(ctx, inst, now, legacy)

    def _get(self, ctx, inst, op_id, now, legacy):
        op = inst.find(op_id)
        if op is None:
            body = {"type": "https://tools.ietf.org/html/rfc7231#section-6.5.4", "title": "Not Found", "status": 404, "traceId": _trace_parent()}
            return json_response(404, body, content_type="application/problem+json; charset=utf-8")
        etag = op.etag(now)
        headers = [("ETag", etag)]
        if op.status(now) not in TERMINAL:
            headers.append(("Retry-After", str(self.clock.real_seconds(inst.retry_after))))
        if ctx.headers.get("If-None-Match") == etag:
            return empty_response(304, headers)
        return json_response(200, op.render(now, inst.instance_id, legacy, self.clock.stamp), headers)

    def _list(self, ctx, inst, now, legacy):
        prefix = "$" if legacy else ""
        text = ctx.q(prefix + "filter")
        wanted = None
        if text is not None:
            wanted = _parse_filter(text)
            if wanted is None:
                return _error(400, "BadRequest", "Invalid filter '%s'. Only \"status eq 'NotStarted' or status eq 'Running'\" is supported." % text)
        top = ctx.q(prefix + "top")
        if top is not None:
            if not top.isdigit():
                return _error(400, "BadRequest", "Invalid value '%s' for parameter %stop." % (top, prefix))
            top = int(top)
        index = self._skip(ctx.q(prefix + "skipToken"), legacy)
        if index is None:
            return _error(400, "BadRequest", "Invalid skip token.")
        limit = inst.page_size if top is None else min(top, inst.page_size)
        items = []
        while index < len(inst) and len(items) < limit:
            op = inst.at(index)
            index += 1
            if wanted is None or op.status(now) in wanted:
                items.append(op.render(now, inst.instance_id, legacy, self.clock.stamp))
        body = {"value": items}
        if index < len(inst) and limit > 0:
            body["nextLink"] = self._next_link(ctx, inst.instance_id, legacy, text, top, index)
        return json_response(200, body)

    @staticmethod
    def _skip(token, legacy):
        if token is None:
            return 0
        try:
            value = json.loads(token)["offset"] if legacy else int(token)
        except (ValueError, KeyError, TypeError):
            return None
        return value if isinstance(value, int) and value >= 0 else None

    @staticmethod
    def _next_link(ctx, instance, legacy, text, top, index):
        if legacy:
            params = []
            if text is not None:
                params.append(("$filter", text))
            params += [("$top", str(top if top is not None else 100)), ("$skipToken", json.dumps({"offset": index}))]
            path = "/deviceupdate/%s/v2/updates/operations" % instance
        else:
            params = [("api-version", GA_VERSIONS[0])]
            if text is not None:
                params.append(("filter", text))
            if top is not None:
                params.append(("top", str(top)))
            params.append(("skipToken", str(index)))
            path = "/deviceUpdate/%s/updates/operations" % instance
        return "%s%s?%s" % (ctx.link_base, path, urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="$"))

    def _import(self, ctx, inst, now, legacy):
        body = ctx.json()
        items = body if isinstance(body, list) else [body]
        if not items or not all(isinstance(i, dict) and isinstance(i.get("importManifest"), dict) and i["importManifest"].get("url") for i in items):
            return _error(400, "BadRequest", "The request body must contain importManifest with a url.")
        wait = inst.throttle("get", now, self.clock)
        if wait is not None:
            return _error(429, "TooManyRequests", "Too many requests. Retry after %d seconds." % wait, [("Retry-After", str(wait))])
        op = inst.add_import(now)
        if legacy:
            loc = "%s/deviceupdate/%s/v2/updates/operations/%s" % (ctx.link_base, inst.instance_id, op.op_id)
            return empty_response(202, [("Location", loc), ("Operation-Location", loc)])
        loc = "%s/deviceUpdate/%s/updates/operations/%s?api-version=%s" % (ctx.link_base, inst.instance_id, op.op_id, GA_VERSIONS[0])
        return empty_response(202, [("Operation-Location", loc)])
