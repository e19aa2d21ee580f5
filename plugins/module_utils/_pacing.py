# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pacing under Azure's rate limits: slow down before Azure says stop, and wait out a 429 visibly.

Azure Resource Manager counts requests per subscription in token buckets and the Compute resource provider
in named policies over fixed windows (``GetVMScaleSet3Min``, ``GetVMScaleSet30Min``...). Every answer tells
what is left: ``x-ms-ratelimit-remaining-subscription-reads: 249`` and
``x-ms-ratelimit-remaining-resource: Microsoft.Compute/GetVMScaleSet3Min;197,Microsoft.Compute/GetVMScaleSet30Min;1297``
(Microsoft Learn: "Understand how Azure Resource Manager throttles requests"; "Troubleshooting API throttling
errors" for virtual machines). A 429 says how long to wait (``Retry-After``) and, from Compute, which
policy ran out.

``PACER``, one per process, is shared by every client, every thread of a batch step and every call of a
module run, because Azure's budgets are shared the same way. For each kind of request it learns which
counters Azure reports, and

* when a counter falls below a low-water mark (``LOW_FRACTION`` of the most it was seen at), spreads what is
  left over the time until its window is surely back, so the budget is not exhausted before it refills;
* spreads *elastic* requests (the polls of a watch: sent later, they cost a later sight of the end, not a
  failure) over the windows at all times: each waits its turn behind those of its kind already waiting, spaced so
  that they never use more of a window than is left of it above a reserve (``ELASTIC_RESERVE`` of the window),
  which stays for the requests that cannot wait. Polls of hundreds of scale sets then share a 30-minute budget
  evenly instead of spending it in the first minutes and waiting out the rest;
* knows a window's length from the policy's name (``3Min``) in the server's time: the rate at which the answers'
  ``Date`` advances against this process's clock converts it (1 for Azure; the time scale of an emulator whose
  clock runs fast), and two comebacks of the count bound it from above. A window's end is dated from a comeback
  of its count or a 429's ``Retry-After``; else it is only bounded (a period after the count's first report), and
  polls held for want of share look now and then (``HELD_LOOKS`` times a window) whether it came back;
* counts a comeback only when the count rose by more than answers overtaking each other explain (within a window
  the count only goes down);
* after a 429 that names its policy (or ARM's subscription bucket), holds every request counted against it
  until the ``Retry-After`` has passed: one 429 per throttle, not one per thread;
* sends the first request of a kind alone, so a fresh process (a batch step, a module run) learns what is left
  before its threads burst into a budget another process used up;
* keeps the latest throttle for display (``throttled``).

Decisions that need no state (header parsing, naming a policy, windows) are pure functions.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import json
import re
import threading

from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureTimeoutError
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import SystemClock

from urllib.parse import urlsplit

REMAINING_PREFIX = "x-ms-ratelimit-remaining-"
RESOURCE_HEADER = "x-ms-ratelimit-remaining-resource"
# Pace a counter once it falls under this share of the most it was seen at, and never before it falls under
# LOW_FLOOR (so a small budget is not paced from its first request).
LOW_FRACTION = 0.1
LOW_FLOOR = 5
# Polls (elastic requests) never take the last quarter of a window: what cannot wait (a ring's plan reads and
# starts, all at once) finds it there.
ELASTIC_RESERVE = 0.25
# Polls held for want of share look this many times per window whether it came back (its end is only bounded
# until a comeback or a 429 dates it): one request from the reserve each time, when nothing else was sent.
HELD_LOOKS = 30
# How long a budget without a window in its name may take to come back: ARM's buckets refill completely in
# 10 s (reads: 250 at 25/s) and 20 s (writes, deletes: 200 at 10/s); anything else unknown.
ARM_HORIZON = 20.0
DEFAULT_HORIZON = 60.0
# A paced request looks again this often whether its budget came back (an answer to another request may say so).
PACE_SLICE = 2.0
# The server's clock rate (its Date against ours) is measured over at least RATE_SPAN of our seconds or RATE_TICKS of
# its own (a clock that runs fast is told within a second), and taken for other than 1 only when clearly so (beyond
# RATE_SNAP either way): a Date has a resolution of one second.
RATE_SPAN = 3.0
RATE_TICKS = 10.0
RATE_SNAP = 1.5
# A kind of request never answered yet goes one at a time (the first answer tells what is left, so a fresh process
# does not burst into a budget another process used up); the others look again this often.
PROBE_SLICE = 0.05
_WINDOW = re.compile(r"(\d+)(Sec|Min|Hour)$")
_UNITS = {"Sec": 1, "Min": 60, "Hour": 3600}
_ARM_KIND = re.compile(r"Number of '(read|write|delete)' requests", re.I)


# -- pure functions --------------------------------------------------------------------------------------
def parse_resource(value):
    """``[(name, remaining)]`` from a ``name;count`` list such as ``Microsoft.Compute/GetVMScaleSet3Min;197,...``.

    Pairs that do not parse are left out; names are kept as sent (``Microsoft.Compute/HighCostGet`` too).
    """
    pairs = []
    for item in str(value or "").split(","):
        name, sep, count = item.strip().rpartition(";")
        if not sep or not name.strip():
            continue
        try:
            pairs.append((name.strip(), int(count.strip())))
        except ValueError:
            continue
    return pairs


def remaining_counts(headers):
    """``{counter: remaining}`` from every ``x-ms-ratelimit-remaining-*`` header of an answer.

    ``x-ms-ratelimit-remaining-subscription-reads: 249`` gives ``subscription-reads``; the ``-resource``
    header gives one entry per policy.
    """
    counts = {}
    for key, value in headers.items():
        lower = key.lower()
        if not lower.startswith(REMAINING_PREFIX):
            continue
        if lower == RESOURCE_HEADER:
            counts.update(parse_resource(value))
            continue
        try:
            counts[lower[len(REMAINING_PREFIX):]] = int(str(value).strip())
        except ValueError:
            continue
    return counts


def short_name(counter):
    """``GetVMScaleSet3Min`` for ``Microsoft.Compute/GetVMScaleSet3Min`` (how Azure names it in a 429)."""
    return counter.rsplit("/", 1)[-1]


def horizon(counter):
    """The longest a counter's budget takes to come back: its window from the name, else a default."""
    match = _WINDOW.search(counter)
    if match:
        return float(int(match.group(1)) * _UNITS[match.group(2)])
    if counter.startswith(("subscription-", "tenant-")):
        return ARM_HORIZON
    return DEFAULT_HORIZON


def throttle_policy(error, method="GET"):
    """The policy a 429 names, or None.

    Compute names it in a ``TooManyRequests`` detail (``target``, or ``operationGroup`` in the detail's JSON
    message); ARM's ``SubscriptionRequestsThrottled`` means a subscription bucket (``subscription-reads``...).
    """
    for detail in error.details or []:
        if not isinstance(detail, dict):
            continue
        if detail.get("target"):
            return str(detail["target"])
        try:
            inner = json.loads(detail.get("message") or "")
        except (TypeError, ValueError):
            continue
        if isinstance(inner, dict) and inner.get("operationGroup"):
            return str(inner["operationGroup"])
    if error.code == "SubscriptionRequestsThrottled":
        match = _ARM_KIND.search(error.message or "")
        if match:
            return "subscription-%ss" % match.group(1).lower()
        method = method.upper()
        return "subscription-" + ("reads" if method in ("GET", "HEAD") else "deletes" if method == "DELETE" else "writes")
    return None


def request_class(method, url):
    """``(host, subscription, method, path template)``: requests Azure counts alike.

    ARM paths alternate type and name after ``providers/{namespace}``; names become ``*``, so every
    ``rollingUpgrades/latest`` of a subscription is one class, every status read of an operation another.
    """
    parts = urlsplit(url)
    segments = [s.lower() for s in parts.path.split("/") if s]
    subscription = segments[1] if len(segments) > 1 and segments[0] == "subscriptions" else ""
    template, is_name, index = [], False, 0
    while index < len(segments):
        if segments[index] == "providers" and index + 1 < len(segments):
            template += segments[index:index + 2]
            index, is_name = index + 2, False
            continue
        template.append("*" if is_name else segments[index])
        is_name = not is_name
        index += 1
    return parts.netloc.lower(), subscription, method.upper(), "/" + "/".join(template)


def window_end(anchor, period, now):
    """When the window running at ``now`` ends, for windows of ``period`` seconds of which one began at ``anchor``
    (which may be ahead of ``now``: a window known to begin then)."""
    return anchor + period * ((now - anchor) // period + 1)


def server_epoch(headers):
    """The answer's ``Date`` in seconds since the epoch, or None."""
    value = headers.get("Date") or headers.get("date") if headers else None
    try:
        parsed = email.utils.parsedate_tz(value) if value else None
    except (TypeError, ValueError):
        return None
    return float(email.utils.mktime_tz(parsed)) if parsed else None


def clock_rate(first, last):
    """Server seconds per local second between two ``(local, server)`` readings, 1.0 unless clearly otherwise, or
    None when they are too close to tell."""
    span = last[0] - first[0]
    if span <= 0 or (span < RATE_SPAN and last[1] - first[1] < RATE_TICKS):
        return None
    rate = (last[1] - first[1]) / span
    return rate if rate > RATE_SNAP or 0 < rate < 1 / RATE_SNAP else 1.0


def duration_text(seconds):
    """``4m10s``, ``45s``, ``1h02m``: a wait as an operator reads it."""
    seconds = int(round(max(0.0, seconds)))
    if seconds < 60:
        return "%ds" % seconds
    if seconds < 3600:
        return "%dm%02ds" % (seconds // 60, seconds % 60)
    return "%dh%02dm" % (seconds // 3600, seconds % 3600 // 60)


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


# -- the pacer -----------------------------------------------------------------------------------------------
class _Counter:
    """What is known of one budget (one subscription's ``Microsoft.Compute/GetVMScaleSet3Min``, say)."""

    def __init__(self, name):
        self.name = name
        self.named = horizon(name)    # the window's length by its name, in the server's time
        self.period = self.named      # ... bounded from above by two comebacks seen here
        self.windowed = bool(_WINDOW.search(name))
        self.reported = None    # the last count Azure reported
        self.peak = 0           # the most it was seen at: the budget's size, as far as we know
        self.remaining = None   # reported, less the requests sent since and not answered yet
        self.in_flight = 0
        self.sent_total = 0     # requests counted here since the process began
        self.reset_at = None    # when the count was last seen to come back (its window started by then)
        self.seen_at = None     # when Azure last reported it
        self.first_seen = None  # when Azure first reported it (its window ended by a period later)
        self.before_reset = None  # the report before the last comeback (the window started after it)
        self.sent_at = None     # when the last request counted here went
        self.resume_at = 0.0    # no request counted here goes before this time (a 429's Retry-After)


class Turn:
    """A request on its way: the counters it was counted against, the seconds it was paced, and the throttles
    announced by other requests it waited out (``held``: ``[(policy, seconds)]``). ``sent``: for each counter, the
    requests in flight and sent in all when it went (how many others its answer may have overtaken)."""

    def __init__(self, cls, keys, paced, held, sent=None):
        self.cls = cls
        self.keys = keys
        self.paced = paced
        self.held = held
        self.sent = sent or {}


class Pacer:
    """Rate-limit state of one process, shared by its threads (see the module docstring)."""

    def __init__(self, clock=None, low_fraction=LOW_FRACTION, low_floor=LOW_FLOOR):
        self.clock = clock or SystemClock()
        self.low_fraction = low_fraction
        self.low_floor = low_floor
        self._lock = threading.Lock()
        self._classes = {}    # request class -> set of counter keys (present once a request of it was answered)
        self._probing = {}    # request class never answered -> requests of it in flight
        self._counters = {}   # (host, subscription, counter's short name) -> _Counter
        self._throttles = {}  # policy (or error code) -> time its Retry-After ends
        self._clocks = {}     # host -> [(local, server) reading, server seconds per local second since it]
        self._queued = {}     # request class -> elastic requests waiting for their slot, in their order
        self._went = {}       # request class -> when its last elastic request went
        self.paced_seconds = 0.0

    def reset(self):
        """Forget everything (tests, or a process that starts over)."""
        with self._lock:
            self._classes, self._counters, self._throttles, self._probing = {}, {}, {}, {}
            self._clocks, self._queued, self._went = {}, {}, {}
            self.paced_seconds = 0.0

    def _period(self, host, counter):
        """A counter's window in this process's seconds: its name's length at the server's clock rate, or less when
        two comebacks proved it."""
        rate = self._clocks.get(host, (None, 1.0))[1]
        return min(counter.period, counter.named / rate)

    def _back(self, host, counter, now):
        """When the counter's budget is surely back: the end of the window running now, dated from its comeback (or
        a 429), else from its first report (a counter with a count to pace on has been reported)."""
        anchor = counter.reset_at if counter.reset_at is not None else counter.first_seen
        return window_end(anchor, self._period(host, counter), now)

    def _low(self, counter):
        return max(self.low_floor, self.low_fraction * counter.peak)

    def _interval(self, host, counter):
        """The gap to keep after the last request counted here: none until the count runs low, then what is left
        spread from that request to the time the budget is surely back."""
        if counter.remaining is None or counter.sent_at is None or counter.remaining >= self._low(counter):
            return 0.0
        back = self._back(host, counter, counter.sent_at) if counter.windowed else counter.sent_at + counter.period
        return (back - counter.sent_at) / max(counter.remaining, 1)

    def _spacing(self, host, counters, now):
        """(gap, time) for the next elastic request: what is left of each window above the polls' reserve, spread
        over the time to its end; nothing left there: wait for the window's end (looking now and then whether it
        came back when that end is only bounded)."""
        gap, until = 0.0, now
        for counter in counters:
            if not counter.windowed or counter.remaining is None or counter.resume_at > now:
                continue
            if self._back(host, counter, counter.seen_at) <= now:
                continue    # reported in a window that has ended since: the count is back, how far is not known
            back = self._back(host, counter, now)
            share = counter.remaining - max(self._low(counter), ELASTIC_RESERVE * counter.peak)
            if share < 1:
                looks = back
                if counter.reset_at is None and counter.sent_at is not None:   # an end only bounded: look
                    looks = counter.sent_at + self._period(host, counter) / HELD_LOOKS
                until = max(until, min(back, looks))
            else:
                gap = max(gap, (back - now) / share)
        return gap, until

    def _elastic_slot(self, cls, deadline):
        """Wait for an elastic request's slot: ``gap`` (see ``_spacing``) after the last one of its class that went,
        one more ``gap`` for each waiting ahead of it, or the window's end when nothing is left above the polls'
        reserve. The slot is worked out again at least every ``PACE_SLICE`` seconds, as what is known changes (the
        server's clock, a window coming back). Returns the seconds waited."""
        ticket, waited = object(), 0.0
        with self._lock:
            queue = self._queued.setdefault(cls, [])
            queue.append(ticket)
        try:
            while True:
                with self._lock:
                    now = self.clock.monotonic()
                    counters = [self._counters[key] for key in sorted(self._classes.get(cls, ()))]
                    gap, until = self._spacing(cls[0], counters, now)
                    ahead = queue.index(ticket)
                    wait = max(until, self._went.get(cls, now - gap) + gap * (ahead + 1)) - now
                    if wait <= 0 or wait >= deadline.remaining():
                        self._went[cls] = now
                        return waited
                waited += deadline.sleep(min(wait, PACE_SLICE))
        finally:
            with self._lock:
                queue.remove(ticket)

    def turn(self, method, url, deadline, elastic=False):
        """Wait until a request may go, then count it as sent; returns its Turn (pass it to ``observe``).

        ``elastic``: a request that may go later at no cost but a later answer (a poll), spread over the windows
        in its queue's order (see the module docstring).

        A throttle Azure announced for the request's budgets that outlasts ``deadline`` raises
        AzureThrottledError at once (nothing is sent). Pacing never holds a request past its deadline: then it
        goes, and Azure decides.
        """
        cls = request_class(method, url)
        paced, held = (self._elastic_slot(cls, deadline) if elastic else 0.0), []
        while True:
            with self._lock:
                now = self.clock.monotonic()
                keys = sorted(self._classes.get(cls, ()))
                counters = [self._counters[key] for key in keys]
                resume = max([(c.resume_at, c.name) for c in counters] or [(0.0, None)])
                pace = 0.0 if elastic else max(
                    [c.sent_at + self._interval(cls[0], c) - now for c in counters if c.sent_at is not None] or [0.0])
                if cls not in self._classes and self._probing.get(cls):
                    pace = PROBE_SLICE
                if resume[0] <= now and (pace <= 0 or pace >= deadline.remaining()):
                    if cls not in self._classes:
                        self._probing[cls] = self._probing.get(cls, 0) + 1
                    sent = {}
                    for key, counter in zip(keys, counters):
                        counter.sent_at = now
                        counter.in_flight += 1
                        counter.sent_total += 1
                        sent[key] = (counter.in_flight - 1, counter.sent_total)   # others in flight; all sent
                        if counter.remaining is not None:
                            counter.remaining -= 1
                    self.paced_seconds += paced
                    return Turn(cls, keys, paced, held, sent)
            if resume[0] > now:
                wait = resume[0] - now
                if wait > deadline.remaining():
                    raise AzureThrottledError(
                        "throttled by Azure: policy %s resumes in %.0f s, beyond the %.0f s left before the deadline; "
                        "not sending %s %s" % (resume[1], wait, deadline.remaining(), method, url.split("?")[0]),
                        policy=resume[1], retry_after=wait, url=url)
                held.append((resume[1], deadline.sleep(wait)))
            else:
                paced += deadline.sleep(min(pace, PACE_SLICE))   # (a probe's answer awaited counts as paced)

    def observe(self, turn, headers=None):
        """Learn from an answer's headers (None when no answer came) and close the Turn."""
        counts = remaining_counts(headers) if headers is not None else {}
        with self._lock:
            now = self.clock.monotonic()
            for key in turn.keys:
                self._counters[key].in_flight -= 1
            if turn.cls in self._probing:
                self._probing[turn.cls] -= 1
                if not self._probing[turn.cls]:
                    del self._probing[turn.cls]
            if headers is not None:
                self._classes.setdefault(turn.cls, set())    # answered: no longer probed
            host, subscription = turn.cls[0], turn.cls[1]
            server = server_epoch(headers)
            if server is not None:
                # Measured from the first reading, so the error of a Date's second and of an answer read late
                # shrinks as the process goes on; a server clock that went back starts it over.
                known = self._clocks.setdefault(host, [(now, server), 1.0])
                if server < known[0][1]:
                    known[:] = [(now, server), 1.0]
                rate = clock_rate(known[0], (now, server))
                if rate is not None:
                    known[1] = rate
            for name, value in counts.items():
                # Keyed by the name a 429 uses (GetVMScaleSet3Min), so a throttle and the headers meet.
                name = short_name(name)
                key = (host, subscription, name)
                self._classes.setdefault(turn.cls, set()).add(key)
                counter = self._counters.get(key)
                if counter is None:
                    counter = self._counters[key] = _Counter(name)
                # Come back: more than answers out of order could explain (the server may have counted, between
                # this request and the one reported last, every request in flight with this one: those in flight
                # when it went and those sent since). Two comebacks bound the window's length from above (it
                # started after the report before the first, ended before the second). Only for fixed windows: a
                # bucket (ARM's) refills a little all the time, it has no comebacks.
                in_flight, sent_total = turn.sent.get(key, (counter.in_flight, counter.sent_total))   # (a probe)
                overtaken = in_flight + counter.sent_total - sent_total
                came_back = counter.reported is None or value > counter.reported + overtaken + 1
                if counter.windowed and came_back and counter.reported is not None:
                    if counter.before_reset is not None:
                        counter.period = min(counter.period, now - counter.before_reset)
                    counter.before_reset = counter.seen_at
                    counter.reset_at = now
                counter.seen_at = now
                if counter.first_seen is None:
                    counter.first_seen = now
                counter.peak = max(counter.peak, value)
                if counter.windowed and not came_back:
                    # Within a window the count only goes down: an answer that others overtook tells less.
                    value = min(value, counter.reported)
                counter.reported = value
                counter.remaining = value - counter.in_flight
                if counter.sent_at is None:
                    counter.sent_at = now

    def throttle(self, method, url, policy, wait):
        """Azure answered 429 with ``Retry-After`` ``wait`` for ``policy`` (a name, or the error code if unnamed).

        A named policy (or ARM bucket) holds every request counted against it until then; every throttle is
        kept for ``throttled``.
        """
        cls = request_class(method, url)
        with self._lock:
            now = self.clock.monotonic()
            resume = now + wait
            self._throttles[policy] = max(self._throttles.get(policy, 0.0), resume)
            matched = [key for key in self._classes.get(cls, ()) if key[2] == policy]
            if not matched and (policy.startswith("subscription-") or _WINDOW.search(policy)):
                key = (cls[0], cls[1], policy)
                self._counters.setdefault(key, _Counter(policy))
                self._classes.setdefault(cls, set()).add(key)
                matched = [key]
            for key in matched:
                counter = self._counters[key]
                counter.resume_at = max(counter.resume_at, resume)
                if counter.windowed:
                    counter.reset_at = resume   # Compute waits until its window ends: the next one starts then
                # Held until then; after it Azure said the budget is back, so no pacing on the old count.
                counter.remaining = None

    def throttled(self, now=None):
        """The throttle in force that ends last: ``{"policy": "GetVMScaleSet3Min", "resume_in": 250.0}``, or None."""
        with self._lock:
            now = self.clock.monotonic() if now is None else now
            active = [(resume, policy) for policy, resume in self._throttles.items() if resume > now]
        if not active:
            return None
        resume, policy = max(active)
        return {"policy": policy, "resume_in": round(resume - now, 1)}

    def note(self, now=None):
        """``throttled by Azure: GetVMScaleSet3Min, resuming in 4m10s`` while a throttle is in force, else None."""
        state = self.throttled(now)
        if state is None:
            return None
        return "throttled by Azure: %s, resuming in %s" % (state["policy"], duration_text(state["resume_in"]))


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


# The one pacer of this process (see the module docstring).
PACER = Pacer()
