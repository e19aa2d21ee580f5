# -*- coding: utf-8 -*-
"""_lro: which header announces an operation (pure), the waiter (on a recording clock), one status read against the emulator."""

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _adu, _lro, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import Response
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError, AzureTimeoutError
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

from tests.helpers import SUB


class _Headers(dict):
    def get(self, key, default=None):
        for name, value in self.items():
            if name.lower() == key.lower():
                return value
        return default


def _response(status=202, **headers):
    return Response(status, _Headers({k.replace("_", "-"): v for k, v in headers.items()}), b"",
                    "https://arm.example/subscriptions/s/resourceGroups/g/x/start?api-version=1")


# -- header precedence (pure) ----------------------------------------------------------------------
def test_azure_asyncoperation_wins_over_operation_location_and_location():
    op = _lro.operation_from_response(_response(Azure_AsyncOperation="https://arm.example/op/1",
                                                Operation_Location="https://arm.example/op/2",
                                                Location="https://arm.example/op/3?monitor=true"))
    assert (op.status_url, op.kind) == ("https://arm.example/op/1", "azure-asyncoperation")


def test_operation_location_before_location():
    op = _lro.operation_from_response(_response(Operation_Location="/op/2", Location="/op/3"))
    assert (op.status_url, op.kind) == ("https://arm.example/op/2", "operation-location")


def test_location_alone_is_polled():
    op = _lro.operation_from_response(_response(Location="https://arm.example/op/3"))
    assert (op.status_url, op.kind) == ("https://arm.example/op/3", "location")


def test_relative_urls_resolve_against_the_request():
    op = _lro.operation_from_response(_response(Azure_AsyncOperation="../../ops/9?api-version=1"))
    assert op.status_url == "https://arm.example/subscriptions/s/resourceGroups/ops/9?api-version=1"


def test_a_synchronous_answer_has_no_operation():
    assert _lro.operation_from_response(_response(status=200)) is None


@pytest.mark.parametrize("status, terminal", [("Succeeded", True), ("failed", True), ("CANCELED", True),
                                              ("Canceled", True), ("InProgress", False), ("Running", False), (None, False)])
def test_terminal_statuses_are_case_insensitive(status, terminal):
    assert _lro.is_terminal_status(status) is terminal


# -- the waiter keeps waiting through failed status reads ---------------------------------------------------
class _Script:
    """A fetch function that plays a list of outcomes: a value, or an exception to raise."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome, None


def _wait(script, clock, seconds=100):
    return _lro.wait_until(script, lambda v: v == "done", Deadline(seconds, clock), interval=5)


def test_waiter_reads_again_after_transient_failures(clock):
    script = _Script("running", AzureError("x", status=503), AzureError("x", code="ConnectionError"),
                     AzureError("x", status=429, code="TooManyRequests"), "done")
    outcome = _wait(script, clock)
    assert outcome.done and outcome.value == "done" and script.calls == 5
    assert clock.sleeps == [5, 5, 5, 5]


def test_waiter_gives_up_after_too_many_failed_reads_in_a_row(clock):
    script = _Script("running", *[AzureError("x", status=500) for attempt in range(_lro.MAX_FAILED_POLLS + 1)])
    with pytest.raises(AzureError):
        _wait(script, clock)
    assert script.calls == _lro.MAX_FAILED_POLLS + 2


def test_waiter_does_not_hide_real_errors(clock):
    script = _Script("running", AzureError("gone", status=404, code="ResourceNotFound"))
    with pytest.raises(AzureError) as info:
        _wait(script, clock)
    assert info.value.code == "ResourceNotFound"


def test_deadline_inside_a_read_is_a_timeout_with_the_last_status(clock):
    script = _Script("running", AzureTimeoutError("deadline"))
    outcome = _wait(script, clock)
    assert outcome.timed_out and outcome.value == "running"


# -- one status read, against the emulator ------------------------------------------------------------------
def test_status_of_a_started_upgrade_from_its_async_operation_and_its_monitor_url(emulator, make_client):
    client = make_client()
    operation = _vmss.start_upgrade(client, SUB, "rg-test", "vmss-healthy")[0]
    assert operation.kind == "azure-asyncoperation"
    assert _lro.fetch_operation_status(client, operation)[0]["status"] == "InProgress"
    monitor = _lro.operation_from_url(operation.status_url.replace("?", "?monitor=true&"))
    assert monitor.kind == "location"
    assert _lro.fetch_operation_status(client, monitor)[0] == {"status": "InProgress"}  # 202 while it runs
    emulator.advance(3600)
    assert _lro.fetch_operation_status(client, operation)[0]["status"] == "Succeeded"
    assert _lro.fetch_operation_status(client, monitor)[0]["status"] == "Succeeded"


def test_status_read_returns_the_data_plane_retry_after(emulator, make_client):
    client = make_client()
    _adu.connect(client, emulator.host)
    response = client.request("POST", "https://%s/deviceUpdate/blue/updates:import" % emulator.host,
                              params={"api-version": "2022-10-01"}, scope="adu",
                              body=[{"importManifest": {"url": "https://contoso.blob/manifest.json", "sizeInBytes": 1,
                                                        "hashes": {"sha256": "x"}}}],
                              expected=(202,), starts_operation=True)
    operation = _lro.operation_from_response(response)
    assert operation.kind == "operation-location" and operation.status_url.startswith("https://" + emulator.host)
    body, hinted = _lro.fetch_operation_status(client, operation, scope="adu", deadline=Deadline(20, client.clock))
    assert body["status"] == "NotStarted" and hinted == 5  # the scenario's retry_after


def test_an_operation_on_a_foreign_host_is_refused_and_gets_no_token(emulator, make_client):
    emulator.add_fault({"match": {"method": "POST", "kind": "arm"}, "action": {"foreign_location": True}, "times": 1})
    client = make_client()
    operation = _vmss.start_upgrade(client, SUB, "rg-test", "vmss-healthy")[0]
    assert operation.status_url.startswith(emulator.foreign_base_url)
    with pytest.raises(AzureError) as info:
        _lro.fetch_operation_status(client, operation)
    assert info.value.code == "UntrustedHost"
    assert [r for r in emulator.requests if r["listener"] == "foreign"] == []


def test_polls_keep_to_their_schedule():
    assert _lro.next_poll(0.0, 0.3, 5.0) == 5.0           # a read of 0.3 s does not put the next one off
    assert _lro.next_poll(5.0, 7.0, 5.0) == 10.0          # held back 2 s: still the next slot...
    assert _lro.next_poll(5.0, 9.0, 5.0) == 15.0          # ... unless it is under half an interval away
    assert _lro.next_poll(5.0, 8.0, 5.0, hinted=3.0) == 11.0   # the service's Retry-After starts a new schedule
