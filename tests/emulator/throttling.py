"""Azure's rate limits in wall-clock time: ARM token buckets, and Compute's per-minute token buckets (or, as an
option, its older fixed windows).

Ground truth: /work/shared/azure-api/THROTTLING.md ("T") and SUMMARY.md section 1 (recorded headers).

* ARM (T section 1): per subscription and kind of operation (reads = GET/HEAD, writes = PUT/PATCH/POST,
  deletes = DELETE) a token bucket of ``size`` requests refilling at ``refill`` per second. Every answer
  ARM counted carries ``x-ms-ratelimit-remaining-subscription-<kind>``; an empty bucket answers 429
  ``SubscriptionRequestsThrottled`` with ``Retry-After``.
* Compute, model ``buckets`` (the default; T section 2, Microsoft Learn "Compute throttling limits", 2024): per
  category (``bucket_category``) a bucket per resource (the scale set, the VM, the operation) and one per
  subscription and region, each of ``capacity`` tokens refilled at ``refill`` a minute (``BUCKET_DEFAULTS``:
  Microsoft's published numbers). A request takes a token from each; when one is empty nothing is taken and the
  answer is 429 ``OperationNotAllowed`` with a ``TooManyRequests`` detail naming the category and ``Retry-After``
  until that bucket's next token [UNVERIFIED: Microsoft says a throttled caller can call again after the one-minute
  window; the next token is what the refill rate gives]. Every answer carries what is left of both in
  ``x-ms-ratelimit-remaining-resource``, as ``Microsoft.Compute/<category>;n`` (the resource's) and
  ``Microsoft.Compute/<category>Subscription;n`` [UNVERIFIED: the names are not published; they carry no window].
* Compute, model ``windows`` (recorded traffic before 2024, T section 2 "Older model"): named policies over fixed
  windows (``...3Min`` = 180 s, ``...30Min`` = 1,800 s), counted per subscription from the scenario's load, with
  ``Retry-After`` until the window that frees last ends (up to 1,200 s and more).

Every time here (buckets, windows, ``Retry-After``) is wall-clock time (``SimClock.wall``: real time plus what a
test advanced): Azure's clock runs at rate 1, and only upgrade durations are scaled.
"""

import copy
import json
import math
import re

from .clock import format_ts
from .wire import json_response

# THROTTLING.md section 1: bucket size and refill per second, per subscription.
ARM_DEFAULTS = {"reads": (250, 25.0), "writes": (200, 10.0), "deletes": (200, 10.0)}

# Compute's token buckets (T section 2 table): category -> ((refill per minute, capacity) per resource or None,
# (refill per minute, capacity) per subscription and region).
BUCKET_DEFAULTS = {
    "LowCostGet": ((12, 36), (800, 2400)),       # scale set Get, rollingUpgrades/latest (VMSS Low Cost Get)
    "HighCostGet": ((10, 30), (360, 1080)),      # scale-set lists; the scale set's VM list (nearest, T section 2)
    "Update": ((4, 12), (500, 1500)),            # the upgrade POSTs and cancel (nearest: VMSS Update)
    "VMGet": ((12, 36), (2000, 6000)),           # one scale-set VM's Get / instance view
    "VMLowCostGet": ((12, 36), (8000, 24000)),   # one VM's Get
    "VMHighCostGet": (None, (300, 900)),         # VM lists, Flexible scale sets' VMs (subscription level only)
    "GetOperation": ((15, 45), (5000, 15000)),   # an asynchronous operation's status (nearest: VM Get Operation)
}
SUBSCRIPTION_SUFFIX = "Subscription"
# Compute policies of the older window model and their limits. Not published by Microsoft; chosen from observed
# values (THROTTLING.md section 2 and public recordings): remaining counts seen one request into a window give the limit.
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


# (methods, path pattern, category, per resource: the match names the resource): the first match wins.
_BUCKET_CLASSES = [
    ("GET", re.compile(_SUB + r"/providers/Microsoft\.Compute/locations/[^/]+/operations/[^/]+", re.I), "GetOperation", True),
    ("GET", re.compile(_VMSS + r"/virtualMachines/?$", re.I), "HighCostGet", True),
    ("GET", re.compile(_VMSS + r"/virtualMachines/[^/]+", re.I), "VMGet", True),
    ("GET", re.compile(_VMSS, re.I), "LowCostGet", True),
    ("POST PUT PATCH DELETE", re.compile(_VMSS, re.I), "Update", True),
    ("GET", re.compile(_SUB + r"(/resourceGroups/[^/]+)?/providers/Microsoft\.Compute/virtualMachineScaleSets/?$", re.I),
     "HighCostGet", False),
    ("GET", re.compile(_SUB + r"(/resourceGroups/[^/]+)?/providers/Microsoft\.Compute/virtualMachines/?$", re.I),
     "VMHighCostGet", False),
    ("GET", re.compile(_SUB + r"/resourceGroups/[^/]+/providers/Microsoft\.Compute/virtualMachines/[^/]+", re.I),
     "VMLowCostGet", True),
]


def bucket_category(method, path):
    """(Compute category, resource id or None) of a request under the bucket model, or (None, None). The extension
    versions catalog is in no published category: ARM counts it alone [UNVERIFIED]."""
    for verbs, pattern, category, per_resource in _BUCKET_CLASSES:
        match = pattern.match(path)
        if method.upper() in verbs.split() and match:
            return category, match.group(0).lower().rstrip("/") if per_resource else None
    return None, None


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
    """(enabled, model, arm {kind: (size, refill)}, compute) from a scenario's ``throttling`` value.

    ``compute``: for ``buckets``, {category: ((refill per minute, capacity) or None, (refill, capacity))}, from
    ``{"LowCostGet": {"resource": [12, 36], "subscription": [800, 2400]}}`` (either part may be left out, or null:
    no such bucket); for ``windows``, {policy: limit}. The model is ``model``, else ``windows`` when a policy given
    carries a window suffix, else ``buckets``.
    """
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
    given = spec.get("compute") or {}
    model = spec.get("model") or ("windows" if any(window_seconds(p) for p in given) else "buckets")
    if model not in ("buckets", "windows"):
        raise ValueError("throttling.model: %r is not buckets or windows" % model)
    if model == "buckets":
        compute = dict(BUCKET_DEFAULTS)
        for category, value in given.items():
            if category not in BUCKET_DEFAULTS:
                raise ValueError("throttling.compute: unknown category %r (%s)" % (category, ", ".join(sorted(BUCKET_DEFAULTS))))
            resource, subscription = compute[category]
            value = value or {}
            resource = value.get("resource", resource)
            subscription = value.get("subscription", subscription)
            compute[category] = (tuple(resource) if resource else None, tuple(subscription) if subscription else None)
        return bool(spec.get("enabled", True)), model, arm, compute
    compute = dict(COMPUTE_DEFAULTS)
    for policy, limit in given.items():
        if limit is None:
            compute.pop(policy, None)
            continue
        if window_seconds(policy) is None:
            raise ValueError("throttling.compute: %r needs a window suffix (3Min, 30Min, ...)" % policy)
        compute[policy] = int(limit)
    return bool(spec.get("enabled", True)), model, arm, compute


class Throttling:
    """The rate limits of one loaded scenario. Callers hold the emulator lock. ``locate(path)``: the region of the
    resource a path addresses (subscription buckets are per subscription and region), or None."""

    def __init__(self, spec, clock, actor, locate=None):
        self.enabled, self.model, self.arm_limits, self.compute_limits = _limits(spec)
        self.clock = clock
        self.actor = actor
        self.locate = locate or (lambda path: None)
        self.origin = clock.wall() if clock is not None else 0.0
        self._buckets = {}   # (sub, kind) or (sub, region, category, resource or "*") -> TokenBucket
        self._windows = {}   # (sub, policy) -> FixedWindow
        self.throttled = {}  # policy or "subscription-<kind>" -> 429 answers sent

    def describe(self):
        compute = (dict((c, [list(r) if r else None, list(s) if s else None]) for c, (r, s) in self.compute_limits.items())
                   if self.model == "buckets" else dict(self.compute_limits))
        return {"enabled": self.enabled, "model": self.model, "arm": {k: list(v) for k, v in self.arm_limits.items()},
                "compute": compute, "throttled": dict(self.throttled)}

    def budgets(self, subscription):
        """What is left now of every budget of ``subscription`` used so far (full when never used).

        ``{"subscription-reads": {"tokens": 180.0}, "GetVMScaleSet3Min": {"remaining": 12, "ends_in": 41.0},
        "LowCostGet/eastus/*": {"tokens": 2399.0}, "LowCostGet/eastus/<scale set id>": {"tokens": 35.0}, ...}``.
        """
        now = self.clock.wall()
        sub = subscription.lower()
        state = {}
        for kind in self.arm_limits:
            bucket = self._bucket(sub, kind, now)
            bucket.fill(now)
            state["subscription-" + kind] = {"tokens": bucket.tokens}
        if self.model == "buckets":
            for key, bucket in self._buckets.items():
                if len(key) == 4 and key[0] == sub:
                    bucket.fill(now)
                    state["/".join((key[2], key[1], key[3]))] = {"tokens": bucket.tokens}
            return state
        for policy in self.compute_limits:
            window = self._window(sub, policy)
            state[policy] = {"remaining": window.remaining(now), "ends_in": window.end() - now}
        return state

    def policies(self, group):
        """The configured policies of an operation group, shortest window first (window model)."""
        names = [p for p in self.compute_limits if p[:-len(_WINDOW_RE.search(p).group(0))] == group]
        return sorted(names, key=window_seconds)

    def _bucket(self, sub, kind, now):
        key = (sub, kind)
        if key not in self._buckets:
            self._buckets[key] = TokenBucket(self.arm_limits[kind][0], self.arm_limits[kind][1], now)
        return self._buckets[key]

    def _compute_buckets(self, sub, path, method, now):
        """[(header name, TokenBucket)] of a request under the bucket model: its resource's, then its subscription's."""
        category, resource = bucket_category(method, path)
        if category is None:
            return category, []
        region = (self.locate(resource or path) or "").lower()
        found = []
        for scope, limits, name in ((resource, self.compute_limits[category][0], category),
                                    ("*", self.compute_limits[category][1], category + SUBSCRIPTION_SUFFIX)):
            if scope and limits:
                key = (sub, region, category, scope)
                if key not in self._buckets:
                    self._buckets[key] = TokenBucket(limits[1], limits[0] / 60.0, now)
                found.append((name, self._buckets[key]))
        return category, found

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
        if sub is None or not self.enabled:
            # Limits off: nothing is counted or refused, and no remaining count is announced (a count that never
            # goes down would have a client pace itself against a budget that is not there).
            return None
        now = self.clock.wall()
        kind = arm_kind(ctx.method)
        ok, value = self._bucket(sub, kind, now).take(now)
        if not ok:
            wait = max(1, int(math.ceil(value)))
            ctx.ratelimit = {"arm": (kind, 0), "compute": []}
            self._count("subscription-" + kind)
            message = ARM_MESSAGE % (_KIND_WORD[kind], sub, self.actor, wait)
            return json_response(429, {"error": {"code": "SubscriptionRequestsThrottled", "message": message}},
                                 [("Retry-After", str(wait))])
        ctx.ratelimit = {"arm": (kind, value), "compute": []}
        if self.model == "buckets":
            return self._admit_buckets(ctx, sub, now)
        group = classify(ctx.method, ctx.path)
        windows = [(p, self._window(sub, p)) for p in (self.policies(group) if group else [])]
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

    def _admit_buckets(self, ctx, sub, now):
        """Take a token from the resource's and the subscription's bucket of the request's category, or refuse
        (taking none) with Retry-After until the empty one's next token."""
        category, buckets = self._compute_buckets(sub, ctx.path, ctx.method, now)
        empty = []
        for name, bucket in buckets:
            bucket.fill(now)
            if bucket.tokens < 1.0:
                empty.append((name, bucket))
        if not empty:
            for _name, bucket in buckets:
                bucket.tokens -= 1.0
        ctx.ratelimit["compute"] = [(name, int(bucket.tokens)) for name, bucket in buckets]
        if not empty:
            return None
        self._count(category)
        _name, bucket = max(empty, key=lambda item: (1.0 - item[1].tokens) / item[1].refill)
        wait = max(1, int(math.ceil((1.0 - bucket.tokens) / bucket.refill)))
        detail = {"operationGroup": category, "startTime": format_ts(now), "endTime": format_ts(now + wait),
                  "allowedRequestCount": int(bucket.size), "measuredRequestCount": int(bucket.size) + 1}
        return self._too_many(category, detail, wait)

    @staticmethod
    def _too_many(policy, detail, wait):
        """The CRP 429 (THROTTLING.md section 2)."""
        body = {"error": {"code": "OperationNotAllowed", "message": CRP_MESSAGE,
                          "details": [{"code": "TooManyRequests", "target": policy,
                                       "message": json.dumps(detail, separators=(",", ":"))}]}}
        return json_response(429, body, [("Retry-After", str(wait))])

    def _count(self, name):
        self.throttled[name] = self.throttled.get(name, 0) + 1

    def _refuse(self, full, now):
        """The CRP 429 of the window model: the exhausted policy with the window that frees last, Retry-After until it
        does (wall-clock seconds)."""
        policy, window = max(full, key=lambda item: item[1].end())
        self._count(policy)
        wait = max(1, int(math.ceil(window.end() - now)))
        detail = {"operationGroup": policy, "startTime": format_ts(window.start()), "endTime": format_ts(window.end()),
                  "allowedRequestCount": window.limit, "measuredRequestCount": window.measured}
        return self._too_many(policy, detail, wait)

    def decorate(self, ctx, resp):
        """The remaining-count headers of a request ``admit`` counted."""
        if ctx.ratelimit is None:
            return
        kind, remaining = ctx.ratelimit["arm"]
        resp.set_header("x-ms-ratelimit-remaining-subscription-" + kind, remaining)
        pairs = ["%s%s;%d" % (COMPUTE_NAMESPACE, p, n) for p, n in ctx.ratelimit["compute"]]
        if pairs and self.model == "windows" and classify(ctx.method, ctx.path) == "VMScaleSetActions":
            pairs.append("%s%s;%d" % ((COMPUTE_NAMESPACE,) + QUEUED_OPERATIONS))
        if pairs:
            resp.set_header("x-ms-ratelimit-remaining-resource", ",".join(pairs))


def _windows(limits):
    """A Throttling of the window model with ``limits`` (None: the defaults), for the sums below."""
    spec = dict(limits) if isinstance(limits, dict) else {}
    spec.setdefault("model", "windows")
    return Throttling(spec, None, None)


def least_seconds(requests, limits=None, locate=None):
    """Least seconds in which the bucket model (default: on, with Microsoft's numbers) lets ``requests`` (``[(method,
    path)]`` of one subscription, every one accepted) through, all buckets full at the first.

    A bucket of capacity ``C`` refilled at ``r`` a second lets ``N`` requests through in ``max(0, (N - C) / r)`` at the
    earliest; every bucket (each scale set's, the subscription's per category and region, ARM's per kind) is a lower
    bound on its own, so the largest is. Returns (seconds, the binding bucket or None when nothing binds).
    """
    spec = dict(limits) if isinstance(limits, dict) else {}
    spec.setdefault("model", "buckets")
    throttling = Throttling(spec, None, None, locate)
    counts = {}
    for method, path in requests:
        kind = arm_kind(method)
        counts[("subscription-" + kind, None)] = counts.get(("subscription-" + kind, None), 0) + 1
        category, resource = bucket_category(method, path)
        if category is None:
            continue
        region = (throttling.locate(resource or path) or "").lower()
        per_resource, per_subscription = throttling.compute_limits[category]
        for scope, limit in ((resource, per_resource), ("*", per_subscription)):
            if scope and limit:
                key = ("%s/%s/%s" % (category, region, scope), (limit[1], limit[0] / 60.0))
                counts[key] = counts.get(key, 0) + 1
    best, binding = 0.0, None
    for (name, limit), count in counts.items():
        size, refill = limit if limit else throttling.arm_limits[name[len("subscription-"):]]
        seconds = max(0.0, (count - size) / refill)
        if seconds > best:
            best, binding = seconds, name
    return best, binding


def advance_budgets(budgets, seconds, limits=None):
    """``budgets`` (``Throttling.budgets`` of the window model) as they stand ``seconds`` later with no request in
    between: buckets refilled, windows that ended replaced by fresh ones."""
    throttling = _windows(limits)
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
    Returns (real seconds, the binding policy or None when nothing binds). The window model (``least_seconds``: the
    bucket model).
    """
    throttling = _windows(limits)
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
