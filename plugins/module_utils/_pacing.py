# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pacing under Azure's rate limits: token buckets planned from the published budgets, corrected by Azure's answers.

Since 2024 the Compute resource provider throttles per region with token buckets refilled every minute, one per
resource (a scale set) and one per subscription for each category of request ("Compute throttling limits",
Microsoft Learn); ARM adds a bucket per subscription and kind (reads, writes, deletes: "Understand how Azure
Resource Manager throttles requests"). The client knows the category of each of its own calls (``classify``), so
``PACER``, shared by every client and thread of the process, keeps one bucket per (subscription, category, resource)
and per (subscription, category), filled with ``BUDGETS`` (configurable: ``Pacer(budgets=...)``, or JSON in
``AZURE_OPS_ROLLOUT_BUDGETS``). A request takes a token from each of its buckets, waiting (woken, not polling) when
one is empty. Other principals spend the same budgets, so Azure's answers correct the estimates: a remaining count
lower than the bucket it describes best lowers that bucket, and a 429 empties it and holds it for its
``Retry-After``. An older policy over a fixed window (``GetVMScaleSet30Min``: the name says so) becomes one more
bucket of the category, its size the most it was seen at, refilled over its window.

Each request carries a ``Context``: its deadline, its priority (``urgent``: a plan read or a start, which waits for
nothing but the budget; ``elastic``: a poll, which leaves ``ELASTIC_RESERVE`` of every bucket to the urgent ones) and
the statistics of the scale set it serves (the throttles it waited out: ``throttled``). Waiters of a bucket are
served in their order of arrival. The interface is two calls, ``acquire`` and ``answer`` (and ``throttle`` for a
429), so that a scheduler can drive it as well as threads do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import itertools
import json
import os
import re
import threading

from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureTimeoutError
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline, SystemClock

from urllib.parse import urlsplit

# Category: ((refill per minute, capacity) per resource or None, (refill per minute, capacity) per subscription).
# Compute's from "Compute throttling limits" (/work/shared/azure-api/THROTTLING.md section 2); ARM's buckets
# (section 1: 250 at 25/s, 200 at 10/s) per minute.
BUDGETS = {
    "LowCostGet": ((12, 36), (800, 2400)),       # scale set Get, rollingUpgrades/latest
    "HighCostGet": ((10, 30), (360, 1080)),      # the scale set's VM list (nearest), scale-set lists
    "Update": ((4, 12), (500, 1500)),            # the upgrade POSTs and cancel (nearest), PUT/PATCH
    "VMGet": ((12, 36), (2000, 6000)),           # one scale-set VM's Get / instance view
    "VMLowCostGet": ((12, 36), (8000, 24000)),   # one VM's Get
    "VMHighCostGet": (None, (300, 900)),         # VM lists (a Flexible scale set's VMs)
    "GetOperation": ((15, 45), (5000, 15000)),   # an asynchronous operation's status (nearest)
    "reads": (None, (1500, 250)), "writes": (None, (600, 200)), "deletes": (None, (600, 200)),
}
ARM_KINDS = ("reads", "writes", "deletes")
BUDGETS_ENV = "AZURE_OPS_ROLLOUT_BUDGETS"
# The size taken for an older windowed policy first met in a 429 that does not say it (answers correct it).
WINDOW_GUESS = 100
# Polls (elastic requests) leave this share of every bucket to requests that cannot wait.
ELASTIC_RESERVE = 0.25
_WINDOW = re.compile(r"(\d+)(Sec|Min|Hour)$")
_UNITS = {"Sec": 1, "Min": 60, "Hour": 3600}
_ARM_KIND = re.compile(r"Number of '(read|write|delete)' requests", re.I)
_VMSS = r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.compute/virtualmachinescalesets/[^/]+"
_COMPUTE = r"^/subscriptions/[^/]+(/resourcegroups/[^/]+)?/providers/microsoft\.compute/"
_OPERATION = re.compile(r"^/subscriptions/[^/]+/providers/microsoft\.compute/locations/[^/]+/operations/[^/]+")
# (methods, path pattern, category, the pattern naming its resource or None): the first match wins.
_CATEGORIES = [
    ("GET", _OPERATION, "GetOperation", _OPERATION),
    ("GET", re.compile(_VMSS + r"/virtualmachines/?$"), "HighCostGet", re.compile(_VMSS)),
    ("GET", re.compile(_VMSS + r"/virtualmachines/[^/]+"), "VMGet", re.compile(_VMSS + r"/virtualmachines/[^/]+")),
    ("GET", re.compile(_VMSS), "LowCostGet", re.compile(_VMSS)),
    ("POST PUT PATCH DELETE", re.compile(_VMSS), "Update", re.compile(_VMSS)),
    ("GET", re.compile(_COMPUTE + r"virtualmachinescalesets/?$"), "HighCostGet", None),
    ("GET", re.compile(_COMPUTE + r"virtualmachines/?$"), "VMHighCostGet", None),
    ("GET", re.compile(_COMPUTE + r"virtualmachines/[^/]+"), "VMLowCostGet", re.compile(_COMPUTE + r"virtualmachines/[^/]+")),
]


def classify(method, url):
    """``(host, subscription, [(category, resource or None)])`` of a request: its Compute category (a resource
    bucket when the category has one) and its ARM kind; no buckets outside ``/subscriptions`` (tokens, data planes)."""
    parts = urlsplit(url)
    path, method = parts.path.lower().rstrip("/"), method.upper()
    match = re.match(r"^/subscriptions/([^/]+)", path)
    if not match:
        return parts.netloc.lower(), "", []
    found = []
    for methods, pattern, category, resource in _CATEGORIES:
        if method in methods.split() and pattern.match(path):
            found.append((category, resource.match(path).group(0) if resource else None))
            break
    kind = "reads" if method in ("GET", "HEAD") else "deletes" if method == "DELETE" else "writes"
    return parts.netloc.lower(), match.group(1), found + [(kind, None)]


def parse_resource(value):
    """``[(name, remaining)]`` from a ``name;count`` list such as ``Microsoft.Compute/GetVMScaleSet3Min;197,...``."""
    pairs = []
    for item in str(value or "").split(","):
        name, sep, count = item.strip().rpartition(";")
        try:
            if sep and name.strip():
                pairs.append((name.strip(), int(count.strip())))
        except ValueError:
            continue
    return pairs


def window_seconds(name):
    """The window an older policy's name carries (``GetVMScaleSet3Min``: 180), or None."""
    match = _WINDOW.search(name)
    return float(int(match.group(1)) * _UNITS[match.group(2)]) if match else None


def throttle_policy(error, method="GET"):
    """The policy a 429 names (Compute: ``target`` or ``operationGroup``; ARM: ``subscription-reads``...), or None."""
    for detail in error.details or []:
        if isinstance(detail, dict) and detail.get("target"):
            return str(detail["target"])
        try:
            inner = json.loads(detail.get("message") or "") if isinstance(detail, dict) else None
        except (TypeError, ValueError):
            continue
        if isinstance(inner, dict) and inner.get("operationGroup"):
            return str(inner["operationGroup"])
    if error.code == "SubscriptionRequestsThrottled":
        match = _ARM_KIND.search(error.message or "")
        kind = match.group(1).lower() if match else {"GET": "read", "HEAD": "read", "DELETE": "delete"}.get(
            method.upper(), "write")
        return "subscription-%ss" % kind
    return None


def duration_text(seconds):
    """``4m10s``, ``45s``, ``1h02m``: a wait as an operator reads it."""
    seconds = int(round(max(0.0, seconds)))
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm%02ds" % (seconds // 60, seconds % 60)
    return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)


def summarize(waits):
    """The ``throttled`` result entry from ``[(policy, seconds waited)]``: one item per policy, in order of first wait."""
    order, totals = [], {}
    for policy, seconds in waits:
        if policy not in totals:
            order.append(policy)
            totals[policy] = {"policy": policy, "times": 0, "seconds": 0.0}
        totals[policy]["times"] += 1
        totals[policy]["seconds"] = round(totals[policy]["seconds"] + seconds, 1)
    return [totals[policy] for policy in order]


class AzureThrottledError(AzureTimeoutError):
    """Azure throttled a request (429) for longer than its deadline allows: stop now instead of sleeping into it."""

    def __init__(self, message, policy=None, retry_after=None, **kwargs):
        kwargs.setdefault("status", 429)
        kwargs.setdefault("code", "TooManyRequests")
        super(AzureThrottledError, self).__init__(message, **kwargs)
        self.policy = policy
        self.retry_after = retry_after


def throttled_error(method, url, error, policy, wait, left):
    """The AzureThrottledError for a 429 (``error``) whose ``Retry-After`` (``wait``) outlasts the ``left`` seconds."""
    message = ("throttled by Azure on %s %s: policy %s, Retry-After %.0f s, beyond the %.0f s it may still wait "
               "(deadline); not waiting for it" % (method, url, policy or "not named", wait, left))
    return AzureThrottledError(message, policy=policy, retry_after=wait, status=error.status, code=error.code,
                               target=error.target, details=error.details, request_id=error.request_id, url=error.url)


class Stats:
    """What throttling cost one scale set (or one module run): ``[(policy, seconds waited)]``, thread-safe."""

    def __init__(self):
        self.waits = []
        self._lock = threading.Lock()

    def add(self, policy, seconds):
        with self._lock:
            self.waits.append((policy, seconds))

    def summary(self):
        with self._lock:
            return summarize(self.waits)


class Context(Deadline):
    """One call's deadline (it is one: pass it wherever a Deadline goes), priority and the statistics it feeds."""

    def __init__(self, deadline=None, priority=None, stats=None, clock=None):   # pylint: disable=super-init-not-called
        """``deadline``: a Deadline, or a Context whose priority and statistics are kept unless given here."""
        deadline = deadline or Deadline(None, clock)
        self.clock, self.started, self.at = deadline.clock, deadline.started, deadline.at
        self.priority = priority or getattr(deadline, "priority", "urgent")
        self.stats = stats if stats is not None else getattr(deadline, "stats", None)

    def elastic(self):
        """The same call as a poll: it may go later at no cost but a later answer."""
        return Context(self, "elastic", self.stats)


def elastic(deadline):
    """``deadline`` (a Deadline, a Context or None) as an elastic Context."""
    return Context(deadline).elastic()


class Bucket:
    """``capacity`` tokens refilled at ``rate`` per second; no request goes before ``resume`` (a 429's end)."""

    def __init__(self, refill_per_minute, capacity, now):
        self.capacity, self.rate = float(capacity), float(refill_per_minute) / 60.0
        self.tokens, self.at, self.resume, self.queue = float(capacity), now, 0.0, []

    def level(self, now):
        if now > self.at:
            self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
            self.at = now
        return self.tokens

    def wait(self, now, need):
        """Seconds until ``need`` tokens are there and any hold has ended (a millisecond at least, if any)."""
        short = need - self.level(now)
        refill = 0.0 if short <= 1e-6 else short / self.rate if self.rate > 0 else 1e9
        wait = max(self.resume - now, refill)
        return max(wait, 0.001) if wait > 0 else 0.0


class Slot:
    """A request granted: its buckets, the seconds it was paced and the holds it waited out (``[(policy, s)]``)."""

    def __init__(self, host, subscription, keys, paced, held):
        self.host, self.subscription, self.keys, self.paced, self.held = host, subscription, keys, paced, held


class Pacer:
    """Rate-limit state of one process, shared by its threads (see the module docstring)."""

    def __init__(self, clock=None, budgets=None):
        self.clock = clock or SystemClock()
        self.budgets = dict(BUDGETS, **(budgets if budgets is not None else _env_budgets()))
        self._cond = threading.Condition()
        self._tickets = itertools.count()
        self.reset()

    def reset(self):
        """Forget everything (tests, or a process that starts over)."""
        with self._cond:
            self._buckets, self._windows, self._throttles = {}, {}, {}   # key -> Bucket; (host, sub, cat) -> names
            self.paced_seconds = 0.0

    def _keys(self, host, subscription, categories, now):
        """The bucket keys of a request (created full on first use), windowed policies learnt for its category."""
        keys = []
        for category, resource in categories:
            per_resource, per_subscription = self.budgets.get(category, (None, None))
            for scope, budget in ((resource, per_resource), ("*", per_subscription)):
                key = (host, subscription, category, scope)
                if budget and scope and key not in self._buckets:
                    self._buckets[key] = Bucket(budget[0], budget[1], now)
                if budget and scope:
                    keys.append(key)
            keys += [(host, subscription, name, "*") for name in sorted(self._windows.get((host, subscription, category), ()))]
        return keys

    def acquire(self, ctx, method, url):
        """Wait for a token of every bucket of the request (never past ``ctx``'s deadline: then it goes, and Azure
        decides), take them and return the Slot. A hold announced by a 429 that outlasts the deadline raises
        AzureThrottledError at once: nothing is sent."""
        host, subscription, categories = classify(method, url)
        elastic_ = getattr(ctx, "priority", "urgent") == "elastic"
        ticket, paced, held = (elastic_, next(self._tickets)), 0.0, []
        with self._cond:
            now = self.clock.monotonic()
            keys = self._keys(host, subscription, categories, now)
            buckets = [self._buckets[key] for key in keys]
            for bucket in buckets:
                bucket.queue.append(ticket)
                bucket.queue.sort()
            try:
                while True:
                    now = self.clock.monotonic()
                    wait, hold = 0.0, None
                    for key, bucket in zip(keys, buckets):
                        ahead = bucket.queue.index(ticket)
                        need = 1 + ahead + (ELASTIC_RESERVE * bucket.capacity if elastic_ else 0.0)
                        this = bucket.wait(now, need)
                        if bucket.resume > now and (hold is None or bucket.resume > hold[0]):
                            hold = (bucket.resume, key[2])
                        wait = max(wait, this)
                    if hold and hold[0] - now > ctx.remaining():
                        text = ("throttled by Azure: policy %s resumes in %.0f s, beyond the %.0f s left before the "
                                "deadline; not sending %s %s" % (hold[1], hold[0] - now, ctx.remaining(), method,
                                                                 url.split("?")[0]))
                        raise AzureThrottledError(text, policy=hold[1], retry_after=hold[0] - now, url=url)
                    if wait <= 0 or (not hold and wait >= ctx.remaining()):
                        for bucket in buckets:
                            bucket.level(now)
                            bucket.tokens -= 1
                        self.paced_seconds += paced
                        return Slot(host, subscription, keys, paced, held)
                    began = self.clock.monotonic()
                    self._pause(ctx, min(wait, ctx.remaining()))
                    spent = self.clock.monotonic() - began
                    if hold and held and held[-1][0] == hold[1]:
                        held[-1] = (hold[1], held[-1][1] + spent)
                    elif hold:
                        held.append((hold[1], spent))
                    else:
                        paced += spent
            finally:
                for bucket in buckets:
                    bucket.queue.remove(ticket)
                self._cond.notify_all()   # the waiters behind this one move up

    def _pause(self, ctx, seconds):
        """Wait ``seconds`` on the call's clock, woken early when a waiter ahead leaves (a clock without ``wait``,
        a test's or a stoppable one, sleeps outside the lock instead)."""
        wait = getattr(ctx.clock, "wait", None)
        if wait is not None:
            wait(self._cond, seconds)
            return
        self._cond.release()
        try:
            ctx.sleep(seconds)
        finally:
            self._cond.acquire()

    def delay(self, ctx, method, url):
        """Seconds until a request would be granted without waiting (0: now); nothing is taken. The scheduler holds
        a poll back this long instead of letting it wait in a worker."""
        host, subscription, categories = classify(method, url)
        reserve = ELASTIC_RESERVE if getattr(ctx, "priority", "urgent") == "elastic" else 0.0
        with self._cond:
            now = self.clock.monotonic()
            buckets = [self._buckets[key] for key in self._keys(host, subscription, categories, now)]
            return max([b.wait(now, 1 + len(b.queue) + reserve * b.capacity) for b in buckets] + [0.0])

    def ready(self, ctx, method, url):
        """Whether a request would be granted now without waiting (a watch reads progress only when it is)."""
        return self.delay(ctx, method, url) <= 0

    def answer(self, slot, headers=None):
        """Learn from an answer's remaining counts (None: no answer came). A count is for the bucket of the request
        whose estimate it is nearest (Azure's names for them are not published); it only ever lowers it."""
        if not headers:
            return
        with self._cond:
            now = self.clock.monotonic()
            for name, count in _counts(headers):
                short = name.rsplit("/", 1)[-1]
                seconds = window_seconds(short)
                if seconds:   # an older policy over a fixed window: a bucket of the request's categories
                    for category in set(key[2] for key in slot.keys if key[2] in self.budgets and key[2] not in ARM_KINDS):
                        self._windows.setdefault((slot.host, slot.subscription, category), set()).add(short)
                    key = (slot.host, slot.subscription, short, "*")
                    bucket = self._buckets.get(key)
                    if bucket is None or count > bucket.capacity:
                        bucket = self._buckets[key] = Bucket(60.0 * max(count, 1) / seconds, max(count, 1), now)
                    bucket.level(now)
                    bucket.tokens = min(bucket.tokens, count)
                    continue
                kind = short[len("subscription-"):] if short.startswith("subscription-") else None
                candidates = [self._buckets[key] for key in slot.keys if (key[2] == kind) == bool(kind)
                              and key[2] in self.budgets]
                if candidates:
                    nearest = min(candidates, key=lambda b: abs(b.level(now) - count))
                    nearest.tokens = min(nearest.tokens, float(count))

    def throttle(self, slot, policy, wait, allowed=None):
        """Azure answered 429 with ``Retry-After`` ``wait``, naming ``policy`` (or None): the bucket it names is empty
        and held until then (of a category's two, the one whose size is ``allowed`` when the 429 says so, else the
        emptier); a policy not known here holds the request's Compute buckets the same way, and an older windowed
        one becomes a bucket of the category. An unnamed 429 holds nothing. Kept for ``throttled``."""
        with self._cond:
            now = self.clock.monotonic()
            if policy is None:
                return
            self._throttles[policy] = max(self._throttles.get(policy, 0.0), now + wait)
            keys = [key for key in slot.keys if policy in (key[2], "subscription-" + key[2])]
            compute = [key for key in slot.keys if key[2] in self.budgets and key[2] not in ARM_KINDS]
            seconds = window_seconds(policy)
            if not keys and seconds:
                for category in set(key[2] for key in compute):
                    self._windows.setdefault((slot.host, slot.subscription, category), set()).add(policy)
                keys = [(slot.host, slot.subscription, policy, "*")]
                size = allowed or WINDOW_GUESS
                self._buckets.setdefault(keys[0], Bucket(60.0 * size / seconds, size, now))
            keys = keys or ([] if policy.startswith("subscription-") else compute)
            if len(keys) > 1:
                sized = [key for key in keys if allowed is not None and self._buckets[key].capacity == allowed]
                keys = sized or [min(keys, key=lambda k: self._buckets[k].level(now) / self._buckets[k].capacity)]
            for key in keys:
                bucket = self._buckets[key]
                bucket.level(now)
                bucket.tokens, bucket.resume = 0.0, max(bucket.resume, now + wait)
                if window_seconds(key[2]):   # a fixed window is whole again when it ends
                    bucket.tokens, bucket.at = bucket.capacity, bucket.resume

    def snapshot(self):
        """The state for tests and displays: ``{"buckets": {"sub/category/resource": {...}}, "throttles": {...}}``."""
        with self._cond:
            now = self.clock.monotonic()
            buckets = dict(("%s/%s/%s" % key[1:], {"tokens": round(b.level(now), 2), "capacity": b.capacity,
                                                   "per_minute": round(b.rate * 60.0, 3), "waiting": len(b.queue),
                                                   "resume_in": round(max(0.0, b.resume - now), 1)})
                           for key, b in self._buckets.items())
            return {"buckets": buckets, "paced_seconds": round(self.paced_seconds, 1),
                    "throttles": dict((p, round(t - now, 1)) for p, t in self._throttles.items() if t > now)}

    def throttled(self):
        """The throttle in force that ends last: ``{"policy": "LowCostGet", "resume_in": 50.0}``, or None."""
        active = self.snapshot()["throttles"]
        if not active:
            return None
        policy = max(active, key=active.get)
        return {"policy": policy, "resume_in": active[policy]}

    def note(self):
        """``throttled by Azure: LowCostGet, resuming in 50s`` while a throttle is in force, else None."""
        state = self.throttled()
        return None if state is None else "throttled by Azure: %s, resuming in %s" % (
            state["policy"], duration_text(state["resume_in"]))


def _counts(headers):
    """``[(name, remaining)]`` of every ``x-ms-ratelimit-remaining-*`` header (the ``-resource`` one: each pair)."""
    counts = []
    for key, value in headers.items():
        lower = key.lower()
        if lower == "x-ms-ratelimit-remaining-resource":
            counts += parse_resource(value)
        elif lower.startswith("x-ms-ratelimit-remaining-subscription-"):
            try:
                counts.append((lower[len("x-ms-ratelimit-remaining-"):], int(str(value).strip())))
            except ValueError:
                continue
    return counts


def _env_budgets():
    """``{category: ((refill, capacity) or None, (refill, capacity))}`` from ``AZURE_OPS_ROLLOUT_BUDGETS`` (JSON)."""
    text = os.environ.get(BUDGETS_ENV)
    if not text:
        return {}
    try:
        return dict((category, tuple(tuple(b) if b else None for b in pair)) for category, pair in json.loads(text).items())
    except (TypeError, ValueError, AttributeError):
        raise ValueError("%s must be JSON {category: [[refill per minute, capacity] or null, [refill per minute, "
                         "capacity]]}, got %r" % (BUDGETS_ENV, text))


# The one pacer of this process (see the module docstring).
PACER = Pacer()
