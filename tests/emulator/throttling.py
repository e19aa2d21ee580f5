"""Azure's rate limits in simulated time: ARM token buckets and Compute (CRP) fixed-window policies.

Ground truth: /work/shared/azure-api/THROTTLING.md ("T") and SUMMARY.md section 1 (recorded headers).

* ARM (T section 1): per subscription and kind of operation (reads = GET/HEAD, writes = PUT/PATCH/POST,
  deletes = DELETE) a token bucket of ``size`` requests refilling at ``refill`` per simulated second. Every answer
  ARM counted carries ``x-ms-ratelimit-remaining-subscription-<kind>``; an empty bucket answers 429
  ``SubscriptionRequestsThrottled`` with ``Retry-After``.
* Compute (T section 2): named policies over fixed windows (``...3Min`` = 180 s, ``...30Min`` = 1,800 s), counted per
  subscription from the moment the scenario was loaded. A request is classified by method and path
  (``classify``); every policy of its operation group must have room, else 429 ``OperationNotAllowed`` with a
  ``TooManyRequests`` detail naming the exhausted policy and ``Retry-After`` until its window ends. Every answer to
  a classified request carries ``x-ms-ratelimit-remaining-resource`` with the policies that applied.

``Retry-After`` is in real seconds, like every wait the emulator announces (``SimClock.real_seconds``).
"""

import copy
import json
import math
import re

from .clock import format_ts
from .wire import json_response

# THROTTLING.md section 1: bucket size and refill per second, per subscription.
ARM_DEFAULTS = {"reads": (250, 25.0), "writes": (200, 10.0), "deletes": (200, 10.0)}

# Compute policies and their limits. Not published by Microsoft; chosen from observed values (THROTTLING.md
# section 2 and public recordings): remaining counts seen one request into a window give the limit.
COMPUTE_DEFAULTS = {
    "GetVMScaleSet3Min": 400,            # 395 / 2595 remaining recorded (SUMMARY.md section 1: 395 / 2575)
    "GetVMScaleSet30Min": 2600,
    "GetOperation3Min": 50000,           # 49999 / 399976 remaining in a public SDK recording
    "GetOperation30Min": 400000,
    "HighCostGetVMScaleSet3Min": 200,    # 200 / 1000 cited as limits "for reference only"
    "HighCostGetVMScaleSet30Min": 1000,
    "VMScaleSetVMViews3Min": 5000,       # cited as a limit
    "VMScaleSetActions3Min": 240,        # 239 / 1197 remaining after the first start of a rolling upgrade
    "VMScaleSetActions30Min": 1200,
    "ListVMImagesVersionsFromLocation3Min": 16000,   # 15999 / 43999 remaining (THROTTLING.md section 2)
    "ListVMImagesVersionsFromLocation30Min": 44000,
}
# Sent with every scale-set action as recorded (SUMMARY.md section 1); a queue depth, not a window: not enforced.
QUEUED_OPERATIONS = ("VmssQueuedVMOperations", 4800)
COMPUTE_NAMESPACE = "Microsoft.Compute/"
CRP_MESSAGE = "The server rejected the request because too many requests have been received for this subscription."
ARM_MESSAGE = ("Number of '%s' requests for subscription '%s' actor '%s' exceeded. Please try again after '%d' seconds "
               "after additional tokens are available. Refer to https://aka.ms/arm-throttling for additional information.")
_KIND_WORD = {"reads": "read", "writes": "write", "deletes": "delete"}
_WINDOW_RE = re.compile(r"(\d+)(Min|Sec|Hour)$")
_UNITS = {"Sec": 1, "Min": 60, "Hour": 3600}

_SUB = r"^/subscriptions/(?P<sub>[^/]+)"
_VMSS = _SUB + r"/resourceGroups/[^/]+/providers/Microsoft\.Compute/virtualMachineScaleSets/[^/]+"
# (method, path pattern, operation group): the first match wins. Paths have no query string.
_CLASSES = [
    ("GET", re.compile(_SUB + r"/providers/Microsoft\.Compute/locations/[^/]+/operations/[^/]+/?$", re.I), "GetOperation"),
    # The VM list of a scale set (with $expand=instanceView: the "high cost" read, THROTTLING.md section 2).
    ("GET", re.compile(_VMSS + r"/virtualMachines/?$", re.I), "HighCostGetVMScaleSet"),
    ("GET", re.compile(_VMSS + r"/virtualMachines/[^/]+(/instanceView)?/?$", re.I), "VMScaleSetVMViews"),
    # Scale-set lists of a subscription or resource group [UNVERIFIED: counted as high-cost reads].
    ("GET", re.compile(_SUB + r"(/resourceGroups/[^/]+)?/providers/Microsoft\.Compute/virtualMachineScaleSets/?$", re.I),
     "HighCostGetVMScaleSet"),
    ("GET", re.compile(_VMSS + r"(/rollingUpgrades/latest)?/?$", re.I), "GetVMScaleSet"),
    ("POST", re.compile(_VMSS + r"/.+$", re.I), "VMScaleSetActions"),
    # The extension versions catalog of a location (EXTENSIONS.md read 3).
    ("GET", re.compile(_SUB + r"/providers/Microsoft\.Compute/locations/[^/]+/publishers/[^/]+/artifacttypes/vmextension/types/"
                       r"[^/]+/versions(/[^/]+)?/?$", re.I), "ListVMImagesVersionsFromLocation"),
]


def classify(method, path):
    """The Compute operation group of a request (``GetVMScaleSet``...), or None when no CRP policy applies."""
    for verb, pattern, group in _CLASSES:
        if method.upper() == verb and pattern.match(path):
            return group
    return None


def arm_kind(method):
    method = method.upper()
    if method in ("GET", "HEAD"):
        return "reads"
    return "deletes" if method == "DELETE" else "writes"


def subscription_of(path):
    match = re.match(_SUB, path, re.I)
    return match.group("sub").lower() if match else None


def window_seconds(policy):
    """Length of a policy's window from its name (``GetVMScaleSet3Min`` -> 180), None without a suffix."""
    match = _WINDOW_RE.search(policy)
    return int(match.group(1)) * _UNITS[match.group(2)] if match else None


class TokenBucket:
    """``size`` tokens, refilled continuously at ``refill`` per second of the given (simulated) time."""

    def __init__(self, size, refill, now):
        self.size = float(size)
        self.refill = float(refill)
        self.tokens = float(size)
        self.at = now

    def fill(self, now):
        if now > self.at:
            self.tokens = min(self.size, self.tokens + (now - self.at) * self.refill)
            self.at = now

    def take(self, now):
        """(True, remaining) when a token was taken, else (False, seconds until one is there)."""
        self.fill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True, int(self.tokens)
        return False, (1.0 - self.tokens) / self.refill if self.refill > 0 else float("inf")


class FixedWindow:
    """``limit`` requests per window of ``seconds``, windows counted from ``origin``."""

    def __init__(self, limit, seconds, origin):
        self.limit = int(limit)
        self.seconds = float(seconds)
        self.origin = origin
        self.index = 0
        self.count = 0      # accepted in the current window
        self.measured = 0   # every request seen in the current window, rejected ones included

    def _roll(self, now):
        index = int(math.floor((now - self.origin) / self.seconds))
        if index != self.index:
            self.index, self.count, self.measured = index, 0, 0

    def start(self):
        return self.origin + self.index * self.seconds

    def end(self):
        return self.start() + self.seconds

    def full(self, now):
        self._roll(now)
        return self.count >= self.limit

    def remaining(self, now):
        self._roll(now)
        return max(0, self.limit - self.count)


def _limits(spec):
    """(enabled, arm {kind: (size, refill)}, compute {policy: limit}) from a scenario's ``throttling`` value."""
    if spec is None or spec is False:
        spec = {"enabled": False}
    elif spec is True:
        spec = {}
    spec = copy.deepcopy(spec)
    arm = dict(ARM_DEFAULTS)
    for kind, value in (spec.get("arm") or {}).items():
        if kind not in ARM_DEFAULTS:
            raise ValueError("throttling.arm: unknown kind %r (reads, writes, deletes)" % kind)
        if isinstance(value, dict):
            value = (value["size"], value["refill"])
        arm[kind] = (int(value[0]), float(value[1]))
    compute = dict(COMPUTE_DEFAULTS)
    for policy, limit in (spec.get("compute") or {}).items():
        if limit is None:
            compute.pop(policy, None)
            continue
        if window_seconds(policy) is None:
            raise ValueError("throttling.compute: %r needs a window suffix (3Min, 30Min, ...)" % policy)
        compute[policy] = int(limit)
    return bool(spec.get("enabled", True)), arm, compute


class Throttling:
    """The rate limits of one loaded scenario. Callers hold the emulator lock."""

    def __init__(self, spec, clock, actor):
        self.enabled, self.arm_limits, self.compute_limits = _limits(spec)
        self.clock = clock
        self.actor = actor
        self.origin = clock.now() if clock is not None else 0.0
        self._buckets = {}   # (sub, kind) -> TokenBucket
        self._windows = {}   # (sub, policy) -> FixedWindow
        self.throttled = {}  # policy or "subscription-<kind>" -> 429 answers sent

    def describe(self):
        return {"enabled": self.enabled, "arm": {k: list(v) for k, v in self.arm_limits.items()},
                "compute": dict(self.compute_limits), "throttled": dict(self.throttled)}

    def budgets(self, subscription):
        """What is left now of every budget of ``subscription`` (for ``minimum_seconds``'s ``start``).

        ``{"subscription-reads": {"tokens": 180.0}, "GetVMScaleSet3Min": {"remaining": 12, "ends_in": 41.0}, ...}``,
        simulated seconds; budgets never used yet are full, their windows counted from the scenario's load.
        """
        now = self.clock.now()
        state = {}
        for kind in self.arm_limits:
            bucket = self._bucket(subscription.lower(), kind, now)
            bucket.fill(now)
            state["subscription-" + kind] = {"tokens": bucket.tokens}
        for policy in self.compute_limits:
            window = self._window(subscription.lower(), policy)
            state[policy] = {"remaining": window.remaining(now), "ends_in": window.end() - now}
        return state

    def policies(self, group):
        """The configured policies of an operation group, shortest window first."""
        names = [p for p in self.compute_limits if p[:-len(_WINDOW_RE.search(p).group(0))] == group]
        return sorted(names, key=window_seconds)

    def _bucket(self, sub, kind, now):
        key = (sub, kind)
        if key not in self._buckets:
            self._buckets[key] = TokenBucket(self.arm_limits[kind][0], self.arm_limits[kind][1], now)
        return self._buckets[key]

    def _window(self, sub, policy):
        key = (sub, policy)
        if key not in self._windows:
            self._windows[key] = FixedWindow(self.compute_limits[policy], window_seconds(policy), self.origin)
        return self._windows[key]

    def admit(self, ctx):
        """Count an authenticated ARM request. Returns the 429 Response when a limit refuses it, else None.

        The remaining counts are kept on ``ctx.ratelimit`` for ``decorate``.
        """
        sub = subscription_of(ctx.path)
        if sub is None:
            return None
        now = self.clock.now()
        kind = arm_kind(ctx.method)
        group = classify(ctx.method, ctx.path)
        policies = self.policies(group) if group else []
        if not self.enabled:
            # Limits off: nothing is counted or refused, and no remaining count is announced (a count that never
            # goes down would have a client pace itself against a budget that is not there).
            return None
        ok, value = self._bucket(sub, kind, now).take(now)
        if not ok:
            wait = self.clock.real_seconds(value)
            ctx.ratelimit = {"arm": (kind, 0), "compute": []}
            self._count("subscription-" + kind)
            message = ARM_MESSAGE % (_KIND_WORD[kind], sub, self.actor, wait)
            return json_response(429, {"error": {"code": "SubscriptionRequestsThrottled", "message": message}},
                                 [("Retry-After", str(wait))])
        ctx.ratelimit = {"arm": (kind, value), "compute": []}
        windows = [(p, self._window(sub, p)) for p in policies]
        full = [(p, w) for p, w in windows if w.full(now)]
        for _policy, window in windows:
            window.measured += 1
        if full:
            ctx.ratelimit["compute"] = [(p, w.remaining(now)) for p, w in windows]
            return self._refuse(full, now)
        for _policy, window in windows:
            window.count += 1
        ctx.ratelimit["compute"] = [(p, w.remaining(now)) for p, w in windows]
        return None

    def _count(self, name):
        self.throttled[name] = self.throttled.get(name, 0) + 1

    def _refuse(self, full, now):
        """The CRP 429: the exhausted policy with the window that frees last, Retry-After until it does."""
        policy, window = max(full, key=lambda item: item[1].end())
        self._count(policy)
        wait = self.clock.real_seconds(window.end() - now)
        detail = {"operationGroup": policy, "startTime": format_ts(window.start()), "endTime": format_ts(window.end()),
                  "allowedRequestCount": window.limit, "measuredRequestCount": window.measured}
        body = {"error": {"code": "OperationNotAllowed", "message": CRP_MESSAGE,
                          "details": [{"code": "TooManyRequests", "target": policy,
                                       "message": json.dumps(detail, separators=(",", ":"))}]}}
        return json_response(429, body, [("Retry-After", str(wait))])

    @staticmethod
    def decorate(ctx, resp):
        """The remaining-count headers of a request ``admit`` counted."""
        if ctx.ratelimit is None:
            return
        kind, remaining = ctx.ratelimit["arm"]
        resp.set_header("x-ms-ratelimit-remaining-subscription-" + kind, remaining)
        pairs = ["%s%s;%d" % (COMPUTE_NAMESPACE, p, n) for p, n in ctx.ratelimit["compute"]]
        if pairs and classify(ctx.method, ctx.path) == "VMScaleSetActions":
            pairs.append("%s%s;%d" % ((COMPUTE_NAMESPACE,) + QUEUED_OPERATIONS))
        if pairs:
            resp.set_header("x-ms-ratelimit-remaining-resource", ",".join(pairs))


def advance_budgets(budgets, seconds, limits=None):
    """``budgets`` (``Throttling.budgets``) as they stand ``seconds`` (simulated) later with no request in between:
    buckets refilled, windows that ended replaced by fresh ones."""
    throttling = Throttling(True if limits is None else limits, None, None)
    later = {}
    for name, state in budgets.items():
        if "tokens" in state:
            size, refill = throttling.arm_limits[name[len("subscription-"):]]
            later[name] = {"tokens": min(float(size), state["tokens"] + seconds * refill)}
        elif seconds < state["ends_in"]:
            later[name] = {"remaining": state["remaining"], "ends_in": state["ends_in"] - seconds}
        else:
            window = window_seconds(name)
            later[name] = {"remaining": throttling.compute_limits[name],
                           "ends_in": window - (seconds - state["ends_in"]) % window}
    return later


def minimum_seconds(needed, limits=None, time_scale=1.0, start=None):
    """Least real seconds in which the limits (default: on, with the defaults) let ``needed`` requests through.

    ``needed``: {Compute operation group or ARM kind ("reads", "writes", "deletes"): count} for one subscription.
    ``start``: the budgets when the requests begin (``Throttling.budgets``: what is left of each window and bucket,
    and when each window ends); None means full budgets with windows starting at the first request.
    ``N`` requests under a window of limit ``L`` and length ``W`` with ``r`` left for ``e`` more seconds need nothing
    more when ``N <= r``, else ``e + (ceil((N - r) / L) - 1) * W``; a bucket holding ``t`` tokens refilling at
    ``refill`` per second lets ``N`` through in ``(N - t) / refill``. Every budget is a lower bound on its own, so the
    largest is.
    Returns (real seconds, the binding policy or None when nothing binds).
    """
    throttling = Throttling(True if limits is None else limits, None, None)
    start = start or {}
    best, binding = 0.0, None
    for name, count in needed.items():
        if not count:
            continue
        if name in throttling.arm_limits:
            size, refill = throttling.arm_limits[name]
            tokens = start.get("subscription-" + name, {}).get("tokens", size)
            candidates = [("subscription-" + name, max(0.0, (count - tokens) / refill))]
        else:
            candidates = []
            for policy in throttling.policies(name):
                limit, window = throttling.compute_limits[policy], window_seconds(policy)
                state = start.get(policy, {"remaining": limit, "ends_in": window})
                if count <= state["remaining"]:
                    continue
                further = math.ceil((count - state["remaining"]) / float(limit)) - 1
                candidates.append((policy, state["ends_in"] + further * window))
        for policy, sim in candidates:
            if sim / time_scale > best:
                best, binding = sim / time_scale, policy
    return best, binding
