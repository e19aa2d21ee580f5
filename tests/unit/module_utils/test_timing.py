# -*- coding: utf-8 -*-
"""_timing: Retry-After in every form, backoff, retry decisions and deadlines (pure, on a recording clock)."""

import email.utils
import random

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _timing
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline, backoff_delays, may_retry, parse_retry_after

from tests.helpers import RecordingClock


@pytest.mark.parametrize("headers, seconds", [
    ({"retry-after-ms": "1500"}, 1.5),
    ({"x-ms-retry-after-ms": "700", "retry-after": "9"}, 0.7),  # milliseconds win
    ({"retry-after": "3"}, 3.0),
    ({"retry-after": " 2.5 "}, 2.5),
    ({"retry-after": "-4"}, 0.0),
    ({"retry-after": "soon"}, None),
    ({}, None),
])
def test_parse_retry_after(headers, seconds):
    assert parse_retry_after(headers) == seconds


def test_parse_retry_after_http_date_is_relative_to_now():
    now = 1700000000.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now + 30, usegmt=True)}, now) == 30.0
    assert parse_retry_after({"retry-after": email.utils.formatdate(now - 30, usegmt=True)}, now) == 0.0


def test_backoff_doubles_to_the_cap_with_jitter_above_half_the_step():
    delays = backoff_delays(1.0, 8.0, random.Random(7))
    for step in (1, 2, 4, 8, 8, 8):
        assert step / 2.0 <= next(delays) <= step


@pytest.mark.parametrize("starts, status, sent, allowed", [
    (False, 500, True, True), (False, 404, True, False), (False, None, True, True),
    (True, 500, True, False), (True, 429, True, True), (True, 503, True, True),
    (True, None, True, False),   # a start whose connection dropped may have been accepted: never twice
    (True, None, False, True),   # refused before sending: it cannot have been
])
def test_may_retry(starts, status, sent, allowed):
    assert may_retry(starts, status, sent) is allowed


def test_the_quick_retry_budget_of_unreached_requests_is_small():
    """Documented in the request_timeout option: 3 attempts, at most 0.5 s then 1 s apart."""
    assert _timing.UNREACHED_ATTEMPTS == 3 and _timing.UNREACHED_TIMED_OUT_ATTEMPTS == 2
    delays = backoff_delays(_timing.UNREACHED_BACKOFF, 2 * _timing.UNREACHED_BACKOFF)
    assert sum(next(delays) for attempt in range(_timing.UNREACHED_ATTEMPTS - 1)) <= 1.5


def test_deadline_never_sleeps_past_itself():
    clock = RecordingClock()
    deadline = Deadline(10, clock)
    assert deadline.sleep(4) == 4 and deadline.remaining() == 6 and not deadline.expired()
    assert deadline.sleep(100) == 6 and deadline.expired() and deadline.elapsed() == 10
    assert clock.sleeps == [4, 6]
    assert Deadline(None, clock).remaining() == float("inf")
