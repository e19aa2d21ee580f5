"""Fault injection rules (see README "Faults")."""

import copy
import random
import re

from .clock import http_date
from .wire import json_response

_ACTIONS = ("status", "drop", "delay", "malformed_json", "expire_tokens", "foreign_location", "relative_location")

_DEFAULT_CODES = {
    429: ("TooManyRequests", "The request is being throttled. Please retry after the period given in the Retry-After header."),
    500: ("InternalServerError", "The server encountered an internal error. Please retry the request."),
    502: ("BadGateway", "The gateway did not receive a valid response from the upstream server."),
    503: ("ServiceUnavailable", "The service is temporarily unavailable. Please retry the request."),
    504: ("GatewayTimeout", "The gateway did not receive a response within the specified time period."),
}


class FaultRule:
    """One rule: ``{"name", "match", "action", "times", "after", "probability"}``."""

    def __init__(self, spec, index):
        spec = copy.deepcopy(spec)
        self.name = spec.get("name") or "fault-%d" % index
        self.match = spec.get("match") or {}
        self.action = spec.get("action") or {}
        if not any(k in self.action for k in _ACTIONS):
            raise ValueError("fault %s: action needs one of %s" % (self.name, ", ".join(_ACTIONS)))
        self.times = spec.get("times")
        self.after = int(spec.get("after") or 0)
        self.probability = spec.get("probability")
        self.path_re = re.compile(self.match["path_regex"]) if self.match.get("path_regex") else None
        self.seen = 0
        self.fired = 0

    @property
    def spent(self):
        return self.times is not None and self.fired >= int(self.times)

    def matches(self, ctx):
        m = self.match
        if m.get("method") and m["method"].upper() != ctx.method.upper():
            return False
        if m.get("kind") and m["kind"] != ctx.kind:
            return False
        if m.get("listener") and m["listener"] != ctx.listener:
            return False
        if self.path_re is not None and not self.path_re.search(ctx.path):
            return False
        return True

    def describe(self):
        return {"name": self.name, "match": self.match, "action": self.action, "times": self.times,
                "after": self.after, "probability": self.probability, "seen": self.seen, "fired": self.fired}


class Faults:
    """Ordered rule list; the first rule that matches and fires wins. Callers hold the emulator lock."""

    def __init__(self, seed=0):
        self.rules = []
        self.rng = random.Random(seed)
        self._count = 0

    def add(self, spec):
        self._count += 1
        rule = FaultRule(spec, self._count)
        self.rules.append(rule)
        return rule

    def clear(self):
        self.rules = []

    def pick(self, ctx):
        for rule in self.rules:
            if rule.spent or not rule.matches(ctx):
                continue
            rule.seen += 1
            if rule.seen <= rule.after:
                continue
            if rule.probability is not None and self.rng.random() >= float(rule.probability):
                continue
            rule.fired += 1
            return rule
        return None


def status_response(action, kind, real_now):
    """The canned error response of a ``{"status": N, ...}`` action."""
    status = int(action["status"])
    headers = []
    if action.get("retry_after") is not None:
        headers.append(("Retry-After", str(action["retry_after"])))
    if action.get("retry_after_ms") is not None:
        headers.append(("retry-after-ms", str(action["retry_after_ms"])))
    if action.get("x_ms_retry_after_ms") is not None:
        headers.append(("x-ms-retry-after-ms", str(action["x_ms_retry_after_ms"])))
    if action.get("retry_after_http_date") is not None:
        headers.append(("Retry-After", http_date(real_now + float(action["retry_after_http_date"]))))
    if "body" in action:
        body = action["body"]
        if isinstance(body, str):
            resp = json_response(status, None, headers)
            resp.body = body.encode("utf-8")
            return resp
        return json_response(status, body, headers)
    code, message = _DEFAULT_CODES.get(status, ("Error", "Injected fault."))
    if kind == "token":
        return json_response(status, {"error": "temporarily_unavailable", "error_description": "AADSTS50196: " + message}, headers)
    return json_response(status, {"error": {"code": code, "message": message}}, headers)
