# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time, deadlines and retry decisions: small pure pieces, no I/O.

Everything that waits takes a clock, so tests drive deadlines without sleeping and the same rules serve the retry
loop, the pacer and the scheduler. The Clock protocol, which ``SystemClock`` implements and every test clock follows:

* ``monotonic()``: seconds, only ever growing (deadlines, schedules, token buckets);
* ``wall()``: seconds since the epoch (the times a record shows);
* ``sleep(seconds)``: wait that long (the scheduler sleeps only when no worker is at work, so a test clock that
  jumps when slept runs a rollout of any length in no time: tests/helpers.py ``RecordingClock``);
* optionally ``wait(condition, seconds)``: wait on a held ``threading.Condition`` at most that long (the pacer's
  waits, so a waiter ahead that leaves wakes the next at once; without it the pacer sleeps).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import random
import time

RETRYABLE_STATUS = frozenset((429, 500, 502, 503, 504))
# A request that never reached the service (connection refused, host name not resolved) is tried at most
# UNREACHED_ATTEMPTS times, UNREACHED_BACKOFF seconds apart and doubling (jittered): under 1.5 s of waiting in
# all, not the long backoff a throttled or failing service gets. A connection attempt that timed out has
# already waited a whole connect timeout, so it is tried twice only.
UNREACHED_ATTEMPTS = 3
UNREACHED_TIMED_OUT_ATTEMPTS = 2
UNREACHED_BACKOFF = 0.5
# Statuses that prove the service did not act on the request, so even a POST
# that starts an operation may be sent again.
NOT_ACCEPTED_STATUS = frozenset((429, 503))


class SystemClock:
    """The real clock."""

    @staticmethod
    def monotonic():
        return time.monotonic()

    @staticmethod
    def sleep(seconds):
        if seconds > 0:
            time.sleep(seconds)

    @staticmethod
    def wall():
        return time.time()

    @staticmethod
    def wait(condition, seconds):
        """Wait on a held ``threading.Condition`` for at most ``seconds``, or until it is notified."""
        if seconds > 0:
            condition.wait(seconds)


class Deadline:
    """A point in monotonic time after which nothing more is attempted."""

    def __init__(self, seconds, clock=None):
        self.clock = clock or SystemClock()
        self.started = self.clock.monotonic()
        self.at = None if seconds is None else self.started + seconds

    def remaining(self):
        if self.at is None:
            return float("inf")
        return max(0.0, self.at - self.clock.monotonic())

    def expired(self):
        return self.remaining() <= 0

    def elapsed(self):
        return self.clock.monotonic() - self.started

    def sleep(self, seconds):
        """Sleep ``seconds`` but never past the deadline; return the time slept."""
        seconds = max(0.0, min(seconds, self.remaining()))
        self.clock.sleep(seconds)
        return seconds


def parse_retry_after(headers, now=None):
    """Seconds the service asks us to wait, or None.

    Honours ``retry-after-ms`` and ``x-ms-retry-after-ms`` (milliseconds) first,
    then ``Retry-After`` as delta-seconds or an HTTP date.
    """
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value) / 1000.0)
            except ValueError:
                pass
    value = headers.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def backoff_delays(base=1.0, cap=30.0, rng=None):
    """Yield exponential backoff delays with full jitter: base, 2*base, ... capped."""
    rng = rng or random.Random()
    attempt = 0
    while True:
        ceiling = min(cap, base * (2 ** attempt))
        # Full jitter spreads a fleet of clients apart; keep a floor of half the
        # step so a retry never comes back instantly.
        yield ceiling / 2.0 + rng.uniform(0, ceiling / 2.0)
        attempt += 1


def may_retry(starts_operation, status=None, sent=True):
    """Whether a failed attempt may be sent again.

    ``status`` is the HTTP status (None for a connection error), ``sent`` is
    False when the connection failed before the request left this machine.
    A request that starts an operation is retried only when the service cannot
    have accepted it: never started twice.
    """
    if status is None:
        return (not starts_operation) or not sent
    if starts_operation:
        return status in NOT_ACCEPTED_STATUS
    return status in RETRYABLE_STATUS
