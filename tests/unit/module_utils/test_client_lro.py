# -*- coding: utf-8 -*-
"""Operations, paging, foreign hosts and token lifetime, against the emulator."""

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _adu, _vmss, _lro
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import Response, next_page
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError, AzureTimeoutError
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

from .conftest import SUB, api_requests


class _Headers(dict):
    def get(self, key, default=None):
        for name, value in self.items():
            if name.lower() == key.lower():
                return value
        return default


def _response(status=202, **headers):
    return Response(status, _Headers({k.replace("_", "-"): v for k, v in headers.items()}), b"",
                    "https://arm.example/subscriptions/s/resourceGroups/g/x/start?api-version=1", "POST")


# -- header precedence (pure) ----------------------------------------------------------------------
def test_azure_asyncoperation_wins_over_operation_location_and_location():
    op = _lro.operation_from_response(_response(Azure_AsyncOperation="https://arm.example/op/1",
                                                Operation_Location="https://arm.example/op/2",
                                                Location="https://arm.example/op/3?monitor=true"))
    assert (op.status_url, op.kind, op.final_url) == ("https://arm.example/op/1", "azure-asyncoperation",
                                                      "https://arm.example/op/3?monitor=true")


def test_operation_location_before_location():
    op = _lro.operation_from_response(_response(Operation_Location="/op/2", Location="/op/3"))
    assert (op.status_url, op.kind) == ("https://arm.example/op/2", "operation-location")


def test_location_alone_is_polled():
    op = _lro.operation_from_response(_response(Location="https://arm.example/op/3"))
    assert (op.status_url, op.kind, op.final_url) == ("https://arm.example/op/3", "location", None)


def test_relative_urls_resolve_against_the_request():
    op = _lro.operation_from_response(_response(Azure_AsyncOperation="../../ops/9?api-version=1"))
    assert op.status_url == "https://arm.example/subscriptions/s/resourceGroups/ops/9?api-version=1"


def test_a_synchronous_answer_has_no_operation():
    assert _lro.operation_from_response(_response(status=200)) is None


@pytest.mark.parametrize("status, terminal", [("Succeeded", True), ("failed", True), ("CANCELED", True),
                                              ("Canceled", True), ("InProgress", False), ("Running", False), (None, False)])
def test_terminal_statuses_are_case_insensitive(status, terminal):
    assert _lro.is_terminal_status(status) is terminal


def test_next_page_handles_relative_and_absolute_links_and_keeps_api_version():
    url = next_page("https://h:1/a/b/ops?api-version=1&top=5", "/a/b/ops?skipToken=xyz", "2022-10-01")[0]
    assert url == "https://h:1/a/b/ops?skipToken=xyz&api-version=2022-10-01"
    url = next_page("https://h:1/a", "https://h:1/c?$skipToken=%7B%22k%22%3A1%7D&api-version=9", "2022-10-01")[0]
    assert url == "https://h:1/c?%24skipToken=%7B%22k%22%3A1%7D&api-version=9"
    assert next_page("https://h:1/a", None) == (None, None)


# -- real polling ------------------------------------------------------------------------------------
def test_poll_start_operation_to_success_with_final_location(emulator, make_client, clock):
    emulator.set_time_scale(1000)
    client = make_client(clock_=Deadline(None).clock)
    operation = _vmss.start_upgrade(client, SUB, "rg-test", "vmss-healthy")[0]
    assert operation.kind == "azure-asyncoperation" and "monitor=true" in operation.final_url
    outcome = _lro.poll_operation(client, operation, Deadline(30), interval=0.2)
    assert outcome.done and outcome.value["status"] == "Succeeded"
    assert outcome.timeline[-1]["status"] == "Succeeded"
    paths = [r["path"] + ("?monitor" if r["query"].get("monitor") else "") for r in api_requests(emulator, "GET")]
    assert paths[-1].endswith("?monitor")  # the final GET on Location, once
    assert sum(1 for p in paths if p.endswith("?monitor")) == 1


def test_poll_honours_the_caller_interval_without_retry_after(emulator, make_client, clock):
    client = make_client()
    operation = _vmss.start_upgrade(client, SUB, "rg-test", "vmss-healthy")[0]
    outcome = _lro.poll_operation(client, operation, Deadline(45, clock), interval=10)
    assert outcome.timed_out and outcome.value["status"] == "InProgress"
    assert clock.sleeps[:4] == [10, 10, 10, 10]
    assert sum(clock.sleeps) <= 45  # a hard deadline


def test_poll_honours_retry_after_of_the_data_plane(emulator, make_client, clock):
    client = make_client()
    _adu.connect(client, emulator.host)
    response = client.request("POST", "https://%s/deviceUpdate/blue/updates:import" % emulator.host,
                              params={"api-version": "2022-10-01"}, scope="adu",
                              body=[{"importManifest": {"url": "https://contoso.blob/manifest.json", "sizeInBytes": 1,
                                                        "hashes": {"sha256": "x"}}}],
                              expected=(202,), starts_operation=True)
    operation = _lro.operation_from_response(response)
    assert operation.kind == "operation-location" and operation.status_url.startswith("https://" + emulator.host)
    outcome = _lro.poll_operation(client, operation, Deadline(20, clock), interval=1, scope="adu")
    assert clock.sleeps and all(s == 5 for s in clock.sleeps[:-1])  # scenario retry_after: 5
    assert outcome.value["status"] in ("NotStarted", "Running", "Succeeded")


def test_operation_on_a_foreign_host_is_refused_and_gets_no_token(emulator, make_client):
    emulator.add_fault({"match": {"method": "POST", "kind": "arm"}, "action": {"foreign_location": True}, "times": 1})
    client = make_client()
    operation = _vmss.start_upgrade(client, SUB, "rg-test", "vmss-healthy")[0]
    assert operation.status_url.startswith(emulator.foreign_base_url)
    with pytest.raises(AzureError) as info:
        _lro.poll_operation(client, operation, Deadline(10), interval=1)
    assert info.value.code == "UntrustedHost"
    assert [r for r in emulator.requests if r["listener"] == "foreign"] == []


def test_next_link_on_a_foreign_host_is_refused(emulator, make_client):
    emulator.add_fault({"match": {"method": "GET", "kind": "adu"}, "action": {"foreign_location": True}, "times": 1})
    client = make_client()
    _adu.connect(client, emulator.host)
    items = _adu.list_operations(client, _adu.OperationsApi(emulator.host, "blue"))
    with pytest.raises(AzureError) as info:
        list(items)
    assert info.value.code == "UntrustedHost"
    assert not any(r["listener"] == "foreign" for r in emulator.requests)


def test_adu_token_never_goes_to_the_arm_host_and_vice_versa(emulator, make_client):
    client = make_client()
    client.register_scope("adu", "https://api.adu.microsoft.com/.default", "https://adu.invalid")
    with pytest.raises(AzureError) as info:
        client.get_json(emulator.base_url + "/deviceUpdate/blue/updates/operations", scope="adu")
    assert info.value.code == "UntrustedHost"
    assert api_requests(emulator) == []


# -- paging --------------------------------------------------------------------------------------
def test_pages_follow_next_link_lazily_and_stop_at_the_limit(emulator, make_client):
    client = make_client()
    _adu.connect(client, emulator.host)
    api = _adu.OperationsApi(emulator.host, "blue")
    everything = list(_adu.list_operations(client, api))
    assert len(everything) == 250 and len({op["operation_id"] for op in everything}) == 250
    assert len(api_requests(emulator, "GET")) == 3  # 100 + 100 + 50
    emulator.clear_requests()
    first = list(_adu.list_operations(client, api, top=120))
    assert [op["operation_id"] for op in first] == [op["operation_id"] for op in everything[:120]]
    assert len(api_requests(emulator, "GET")) == 2  # never read the third page


def test_legacy_paging_with_skip_token(emulator, make_client):
    client = make_client()
    _adu.connect(client, emulator.host)
    api = _adu.OperationsApi(emulator.host, "blue", "2020-09-01")
    items = list(_adu.list_operations(client, api))
    assert len(items) == 250
    gets = api_requests(emulator, "GET")
    assert all("/v2/updates/operations" in r["path"] for r in gets)
    assert "$skipToken" in gets[1]["query"] and "api-version" not in gets[0]["query"]


def test_arm_list_pages(emulator, make_client):
    client = make_client()
    path = "/subscriptions/%s/providers/Microsoft.Compute/virtualMachineScaleSets" % SUB
    names = [vmss["name"] for vmss in client.pages(path, params={"api-version": "2024-07-01"}, limit=3)]
    assert len(names) == 3


# -- tokens ----------------------------------------------------------------------------------------
def test_a_token_revoked_mid_wait_is_replaced_once(emulator, make_client, clock):
    client = make_client()
    client.get_json("/subscriptions/%s/resourceGroups/rg-test/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-rolling"
                    % SUB, params={"api-version": "2024-07-01"})
    emulator.add_fault({"match": {"kind": "arm"}, "action": {"expire_tokens": True}, "times": 1})
    body = client.get_json(
        "/subscriptions/%s/resourceGroups/rg-test/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-rolling"
        % SUB, params={"api-version": "2024-07-01"})[0]
    assert body["name"] == "vmss-rolling"
    assert emulator.issued_tokens_count() == 2
    statuses = [r["status"] for r in api_requests(emulator)]
    assert statuses == [200, 401, 200]


def test_tokens_are_refreshed_before_expiry_during_long_waits(emulator, make_client):
    from ansible_collections.azure_ops.rollout.plugins.module_utils._auth import TokenProvider

    now = [0.0]
    client = make_client()
    client._tokens = TokenProvider(client.tokens._chain, clock=lambda: now[0])  # pylint: disable=protected-access
    scope = client._scopes["arm"][0]  # pylint: disable=protected-access
    now[0] = __import__("time").time()
    first = client.tokens.token(scope)
    now[0] += 3000  # 600 s of a 3600 s token left: still good
    assert client.tokens.token(scope) == first
    now[0] += 400  # 200 s left: refreshed before it can expire mid-request
    assert client.tokens.token(scope) != first
    assert emulator.issued_tokens_count() == 2


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


def test_a_replacement_token_revoked_again_is_replaced_again(emulator, make_client):
    client = make_client()
    path = "/subscriptions/%s/resourceGroups/rg-test/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-rolling" % SUB
    client.get_json(path, params={"api-version": "2024-07-01"})
    emulator.add_fault({"match": {"kind": "arm"}, "action": {"expire_tokens": True}, "times": 2})
    body = client.get_json(path, params={"api-version": "2024-07-01"})[0]
    assert body["name"] == "vmss-rolling"
    assert [r["status"] for r in api_requests(emulator)] == [200, 401, 401, 200]
    emulator.add_fault({"match": {"kind": "arm"}, "action": {"expire_tokens": True}, "times": 3})
    with pytest.raises(AzureError) as info:
        client.get_json(path, params={"api-version": "2024-07-01"})
    assert info.value.code == "ExpiredAuthenticationToken"
