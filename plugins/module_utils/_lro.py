# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Waiting: a generic waiter and the Azure long-running-operation poller.

The waiter polls a fetch function until a pure predicate holds or a hard
deadline passes, and keeps a short timeline of what it saw. Operations are
watched by the ARM async rules (github.com/Azure/azure-resource-manager-rpc,
v1.0/async-api-reference.md): prefer ``Azure-AsyncOperation``, else
``Operation-Location``, else ``Location``; wait ``Retry-After`` when sent,
else the caller's interval.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError, AzureTimeoutError
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import RETRYABLE_STATUS, parse_retry_after

from urllib.parse import urljoin

TERMINAL_STATUSES = ("succeeded", "failed", "canceled", "cancelled")
TIMELINE_LENGTH = 20
# Status reads that may fail in a row (each already retried by the client)
# before a wait gives up: a failed read says nothing about the operation.
MAX_FAILED_POLLS = 3


def is_transient(error):
    """Whether a failed status read is worth reading again later (throttling, 5xx, network, garbled body)."""
    return error.status in RETRYABLE_STATUS or error.code in ("ConnectionError", "InvalidResponseBody")


def is_terminal_status(status):
    return str(status or "").lower() in TERMINAL_STATUSES


class Timeline:
    """Distinct observations in order, trimmed to the first and the latest ones."""

    def __init__(self, limit=TIMELINE_LENGTH):
        self.limit = limit
        self.entries = []
        self.polls = 0

    def observe(self, elapsed, summary):
        self.polls += 1
        if summary is None:
            return
        if self.entries and {k: v for k, v in self.entries[-1].items() if k != "elapsed"} == summary:
            return
        entry = {"elapsed": round(elapsed, 1)}
        entry.update(summary)
        self.entries.append(entry)
        if len(self.entries) > self.limit:
            # Keep how it started and how it is going.
            del self.entries[1]


class WaitResult:
    """How a wait ended; ``stopped_by`` is the AzureTimeoutError that ended it early (for example a throttle
    whose Retry-After reached past the deadline), None when it ran its course."""

    def __init__(self, done, value, elapsed, timeline, polls, stopped_by=None):
        self.done = done
        self.value = value
        self.elapsed = elapsed
        self.timeline = timeline
        self.polls = polls
        self.stopped_by = stopped_by

    @property
    def timed_out(self):
        return not self.done


def next_poll(due, now, interval, hinted=None):
    """When the next poll is due: ``hinted`` seconds from ``now`` when the service said so, else the first slot of
    the schedule (``due`` + k ``interval``) at least half an interval from ``now``."""
    if hinted is not None:
        return now + hinted
    due += interval
    if due < now + interval / 2.0:
        due += interval * math.ceil((now + interval / 2.0 - due) / interval)
    return due


def wait_until(fetch, is_done, deadline, interval, summarize=None, on_poll=None):
    """Poll until ``is_done(value)`` or the deadline passes.

    ``fetch()`` returns ``(value, hinted_wait)``; ``hinted_wait`` (the
    service's Retry-After, or None) replaces ``interval`` for the next sleep.
    Polls keep to their schedule (one ``interval`` after the other from the
    first): a read that took long, or that the pacer held back, does not put
    off every later one; a slot less than half an interval after the read
    is skipped. The deadline is hard: no sleep and no request extends past it.
    """
    timeline = Timeline()
    value = None
    failed_polls = 0
    due = deadline.elapsed()
    while True:
        try:
            value, hinted = fetch()
        except AzureTimeoutError as error:
            # The deadline passed inside a read (or Azure throttled it past the deadline): that is a timeout
            # of the wait, reported with the last status seen (the caller's on_timeout applies).
            return WaitResult(False, value, deadline.elapsed(), timeline.entries, timeline.polls, stopped_by=error)
        except AzureError as error:
            # ARM: an error reading the status is not the operation's failure.
            # Keep the last status seen and read again, a few times at most.
            failed_polls += 1
            if not is_transient(error) or failed_polls > MAX_FAILED_POLLS or deadline.expired():
                raise
            hinted = None
        else:
            failed_polls = 0
            timeline.observe(deadline.elapsed(), summarize(value) if summarize else None)
            if on_poll:
                on_poll(value)
            if is_done(value):
                return WaitResult(True, value, deadline.elapsed(), timeline.entries, timeline.polls)
        now = deadline.elapsed()
        due = next_poll(due, now, interval, hinted)
        wait = due - now
        if wait >= deadline.remaining():
            # Sleeping to the deadline and polling once more would start a
            # request with no time left; stop with the last status seen.
            deadline.sleep(deadline.remaining())
            return WaitResult(False, value, deadline.elapsed(), timeline.entries, timeline.polls)
        deadline.sleep(wait)


class Operation:
    """Where to watch an operation: its status URL, and which header gave it (``kind``)."""

    def __init__(self, status_url, kind):
        self.status_url = status_url
        self.kind = kind


def operation_from_response(response):
    """The Operation announced by a 201/202 response, or None when it finished synchronously."""
    headers = response.headers
    for name, kind in (("Azure-AsyncOperation", "azure-asyncoperation"), ("Operation-Location", "operation-location")):
        value = headers.get(name)
        if value:
            return Operation(urljoin(response.url, value), kind)
    location = headers.get("Location")
    if location and response.status in (201, 202):
        return Operation(urljoin(response.url, location), "location")
    return None


def operation_from_url(url):
    """Resume watching an operation from the URL an earlier task returned."""
    kind = "location" if "monitor=true" in url.lower() else "azure-asyncoperation"
    return Operation(url, kind)


def fetch_operation_status(client, operation, scope="arm", deadline=None):
    """One poll: (status body, hinted wait). Location polling maps 202 to InProgress. ``deadline``: a Deadline or a
    ``_pacing.Context`` (an elastic one for a poll)."""
    if operation.kind == "location":
        response = client.request("GET", operation.status_url, scope=scope, deadline=deadline, expected=(200, 201, 202, 204))
        if response.status == 202:
            return {"status": "InProgress"}, parse_retry_after(response.headers)
        return {"status": "Succeeded", "result": response.json() if response.is_valid_json() else None}, None
    body, response = client.get_json(operation.status_url, scope=scope, deadline=deadline)
    if not isinstance(body, dict) or "status" not in body:
        body = {"status": "Unknown", "raw": body}
    return body, parse_retry_after(response.headers)
