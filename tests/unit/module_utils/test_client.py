# -*- coding: utf-8 -*-
"""_client: AzureClient against the emulator over real HTTPS (headers, retries, Retry-After, deadlines, connection
failures, TLS, quoting, paging, token scopes and refresh) and its pure helpers."""

import socket
import sys

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _adu, _auth
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient, RetryPolicy, next_page, quote_segment
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError, AzureTimeoutError
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline
from ansible_collections.azure_ops.rollout.plugins.module_utils._vmss import vmss_path

from tests.helpers import SUB, api_requests, latest_path, options_for


API = {"api-version": "2024-07-01"}


def test_get_sends_user_agent_request_id_and_one_token(emulator, make_client):
    client = make_client()
    for attempt in range(3):
        body, response = client.get_json(latest_path("vmss-rolling"), params=API)
        assert response.status == 200
        assert body["properties"]["runningStatus"]["code"] == "RollingForward"
    records = api_requests(emulator)
    assert len(records) == 3
    assert all(r["user_agent"].startswith("azure_ops.rollout/") for r in records)
    ids = {r["client_request_id"] for r in records}
    assert len(ids) == 3 and None not in ids
    assert emulator.issued_tokens_count() == 1


@pytest.mark.parametrize("hint, expected", [
    ({"retry_after": 3}, 3.0),
    ({"retry_after_ms": 1500}, 1.5),
    ({"x_ms_retry_after_ms": 700}, 0.7),
])
def test_throttled_get_waits_exactly_retry_after(emulator, make_client, clock, hint, expected):
    action = {"status": 429}
    action.update(hint)
    emulator.add_fault({"match": {"kind": "arm", "method": "GET"}, "action": action, "times": 2})
    body = make_client().get_json(latest_path("vmss-rolling"), params=API)[0]
    assert body["properties"]["runningStatus"]["code"] == "RollingForward"
    assert clock.sleeps == [expected, expected]
    assert [r["status"] for r in api_requests(emulator)] == [429, 429, 200]


def test_retry_after_http_date(emulator, make_client, clock):
    emulator.add_fault({"match": {"kind": "arm"}, "action": {"status": 503, "retry_after_http_date": 5}, "times": 1})
    make_client().get_json(latest_path("vmss-rolling"), params=API)
    assert len(clock.sleeps) == 1 and 3.0 <= clock.sleeps[0] <= 6.0


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_with_growing_jittered_backoff(emulator, make_client, clock, status):
    emulator.add_fault({"match": {"kind": "arm"}, "action": {"status": status}, "times": 3})
    make_client().get_json(latest_path("vmss-rolling"), params=API)
    # base 0.5 s doubling, full jitter above half the step: [0.25,0.5], [0.5,1], [1,2]
    assert len(clock.sleeps) == 3
    for sleep, step in zip(clock.sleeps, (0.5, 1.0, 2.0)):
        assert step / 2 <= sleep <= step


def test_retries_are_bounded_by_count(emulator, make_client):
    emulator.add_fault({"match": {"kind": "arm"}, "action": {"status": 500}})
    with pytest.raises(AzureError) as info:
        make_client(max_attempts=4).get_json(latest_path("vmss-rolling"), params=API)
    assert info.value.status == 500 and info.value.code == "InternalServerError"
    assert len(api_requests(emulator)) == 4


def test_retry_after_beyond_the_deadline_gives_up_at_once(emulator, make_client, clock):
    emulator.add_fault({"match": {"kind": "arm"}, "action": {"status": 429, "retry_after": 120}})
    client = make_client()
    with pytest.raises(AzureTimeoutError) as info:
        client.get_json(latest_path("vmss-rolling"), params=API, deadline=Deadline(30, clock))
    assert "120" in str(info.value)
    assert clock.sleeps == []  # it did not sleep towards a wait it could never finish
    assert len(api_requests(emulator)) == 1


def test_deadline_bounds_a_slow_response(emulator, make_client):
    """A response slower than the time left is abandoned when the deadline passes (real clock)."""
    emulator.add_fault({"match": {"kind": "arm"}, "action": {"delay": 3}})
    client = make_client(clock_=Deadline(None).clock, max_attempts=2)
    deadline = Deadline(1.0, client.clock)
    with pytest.raises(AzureError):
        client.get_json(latest_path("vmss-rolling"), params=API, deadline=deadline)
    assert deadline.elapsed() < 2.5


def test_malformed_json_on_a_read_is_read_again(emulator, make_client):
    emulator.add_fault({"match": {"kind": "arm", "method": "GET"}, "action": {"malformed_json": True}, "times": 1})
    body = make_client().get_json(latest_path("vmss-rolling"), params=API)[0]
    assert body["properties"]["runningStatus"]["code"] == "RollingForward"
    assert len(api_requests(emulator, "GET")) == 2


def test_dropped_connection_on_a_read_is_retried(emulator, make_client):
    emulator.add_fault({"match": {"kind": "arm", "method": "GET"}, "action": {"drop": True}, "times": 2})
    body = make_client().get_json(latest_path("vmss-rolling"), params=API)[0]
    assert body["properties"]["progress"]


# -- a POST that starts an operation is never sent twice unless it cannot have been accepted ---------------
def _start(client, name="vmss-healthy"):
    return client.request("POST", vmss_path(SUB, "rg-test", name, "extensionRollingUpgrade"), params=API,
                          expected=(200, 202), starts_operation=True)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_start_is_not_retried_after_an_ambiguous_failure(emulator, make_client, status):
    emulator.add_fault({"match": {"method": "POST", "kind": "arm"}, "action": {"status": status}, "times": 1})
    with pytest.raises(AzureError) as info:
        _start(make_client())
    assert info.value.status == status
    assert len(api_requests(emulator, "POST")) == 1


@pytest.mark.parametrize("status", [429, 503])
def test_start_is_retried_when_the_service_refused_it(emulator, make_client, status):
    emulator.add_fault({"match": {"method": "POST", "kind": "arm"}, "action": {"status": status, "retry_after": 1}, "times": 1})
    response = _start(make_client())
    assert response.status == 202
    assert [r["status"] for r in api_requests(emulator, "POST")] == [status, 202]


def test_start_dropped_after_acceptance_is_not_sent_again(emulator, make_client):
    emulator.add_fault({"match": {"method": "POST", "kind": "arm"}, "action": {"drop": True, "apply": True}, "times": 1})
    with pytest.raises(AzureError) as info:
        _start(make_client())
    assert info.value.code == "ConnectionError"
    assert len(api_requests(emulator, "POST")) == 1
    body = make_client().get_json(latest_path(), params=API)[0]
    assert body["properties"]["runningStatus"]["code"] == "RollingForward"  # it did start, exactly once


def test_start_is_retried_when_the_connection_was_refused(emulator, clock):
    """Nothing listens on the port: the request never left, so even a start may be sent again."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = AzureClient(options_for(emulator, resource_manager_endpoint="https://127.0.0.1:%d" % port), clock=clock,
                         retry=RetryPolicy(max_attempts=3, backoff_base=0.1))
    client.tokens._tokens[client._scopes["arm"][0]] = ("unused", 1e12)  # pylint: disable=protected-access
    with pytest.raises(AzureError) as info:
        _start(client)
    assert info.value.code == "ConnectionError"
    assert len(clock.sleeps) == 2  # three attempts


# -- TLS --------------------------------------------------------------------------------------------------
def test_wrong_ca_fails_with_a_clear_message(emulator, make_client, tmp_path):
    import trustme

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    client = make_client(ca_path=str(other))
    client.tokens._tokens[client._scopes["arm"][0]] = ("unused", 1e12)  # pylint: disable=protected-access
    with pytest.raises(AzureError) as info:
        client.get_json(latest_path(), params=API)
    assert info.value.code == "TLSError"
    assert "ca_path" in str(info.value)


def test_validate_certs_defaults_on_and_can_be_turned_off(emulator, make_client, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    client = make_client(ca_path=None)
    assert client.verify is True
    with pytest.raises(AzureError) as info:
        client.get_json(latest_path("vmss-rolling"), params=API)
    assert info.value.code == "TLSError"
    insecure = make_client(ca_path=None, validate_certs=False)
    body = insecure.get_json(latest_path("vmss-rolling"), params=API)[0]
    assert body["properties"]


def test_requests_ca_bundle_is_honoured(emulator, make_client, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_path)
    body = make_client(ca_path=None).get_json(latest_path("vmss-rolling"), params=API)[0]
    assert body["properties"]


# -- path segments ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["../../x", "a/b", "x?api-version=1", "x#frag", "%2e%2e"])
def test_names_cannot_change_the_path(emulator, make_client, name):
    client = make_client()
    with pytest.raises(AzureError) as info:
        client.get_json(latest_path(name), params=API)
    assert info.value.status == 404
    (record,) = api_requests(emulator)
    assert record["path"].startswith("/subscriptions/%s/resourceGroups/rg-test/providers/Microsoft.Compute/"
                                     "virtualMachineScaleSets/" % SUB)
    assert record["path"].endswith("/rollingUpgrades/latest")


@pytest.mark.parametrize("segment", [".", ".."])
def test_dot_segments_are_refused(segment):
    with pytest.raises(AzureError):
        quote_segment(segment)


def test_quote_segment_escapes_separators():
    assert quote_segment("a/b?c#d%e") == "a%2Fb%3Fc%23d%25e"


# -- no answer at all: fail fast, say why, name the host ---------------------------------------------------
def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _client_for(emulator, clock, **options):
    """A client with a ready ARM token, so that only the request under test goes out."""
    client = AzureClient(options_for(emulator, **options), clock=clock)
    client.tokens._tokens[client._scopes["arm"][0]] = ("unused", 1e12)  # pylint: disable=protected-access
    return client


def test_refused_connection_gets_a_few_quick_attempts_then_names_the_host(emulator, clock):
    port = _closed_port()
    client = _client_for(emulator, clock, resource_manager_endpoint="https://127.0.0.1:%d" % port)
    with pytest.raises(AzureError) as info:
        client.get_json(latest_path(), params=API)
    assert info.value.code == "ConnectionError"
    assert info.value.message.startswith("connection refused by 127.0.0.1:%d (3 attempts): GET https://" % port)
    assert len(clock.sleeps) == 2 and sum(clock.sleeps) <= 1.5  # not the backoff of a failing service


def test_unresolvable_name_is_a_name_resolution_error(emulator, clock):
    client = _client_for(emulator, clock, resource_manager_endpoint="https://management.nothing-here.invalid")
    with pytest.raises(AzureError) as info:
        client.get_json(latest_path(), params=API)
    assert info.value.code == "NameResolutionError"
    assert info.value.message.startswith("the host name management.nothing-here.invalid does not resolve")
    assert sum(clock.sleeps) <= 1.5


def test_token_endpoint_failure_is_not_called_a_refusal(emulator, make_client):
    emulator.add_fault({"match": {"kind": "token"}, "action": {"status": 500}})
    with pytest.raises(AzureError) as info:
        make_client(max_attempts=2).get_json(latest_path(), params=API)
    assert "refused the client credentials" not in str(info.value)
    assert "token endpoint %s/%s/oauth2/v2.0/token answered 500" % (emulator.base_url, emulator.tenant_id) in str(info.value)


def test_tls_failure_of_the_token_request_is_not_called_a_refusal(emulator, make_client, tmp_path):
    import trustme

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    with pytest.raises(AzureError) as info:
        make_client(ca_path=str(other)).get_json(latest_path(), params=API)
    assert info.value.code == "TLSError" and emulator.host in info.value.message
    assert "refused the client credentials" not in str(info.value)


def test_a_host_without_requests_is_told_which_python_and_package(emulator, monkeypatch):
    monkeypatch.setitem(sys.modules, "requests", None)  # `import requests` now raises ImportError
    with pytest.raises(AzureError) as info:
        AzureClient(options_for(emulator)).get_json(latest_path(), params=API)
    assert info.value.code == "MissingDependency"
    assert "requests is not installed for %s" % sys.executable in str(info.value)
    assert "%s -m pip install requests" % sys.executable in str(info.value)
    assert api_requests(emulator) == []


# -- paging, token scopes, token lifetime ----------------------------------------------------------------------


def test_next_page_handles_relative_and_absolute_links_and_keeps_api_version():
    url = next_page("https://h:1/a/b/ops?api-version=1&top=5", "/a/b/ops?skipToken=xyz", "2022-10-01")[0]
    assert url == "https://h:1/a/b/ops?skipToken=xyz&api-version=2022-10-01"
    url = next_page("https://h:1/a", "https://h:1/c?$skipToken=%7B%22k%22%3A1%7D&api-version=9", "2022-10-01")[0]
    assert url == "https://h:1/c?%24skipToken=%7B%22k%22%3A1%7D&api-version=9"
    assert next_page("https://h:1/a", None) == (None, None)


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


def test_threads_refused_the_same_expired_token_replace_it_once(emulator, make_client):
    # Eight threads of a batch step hold one token when it expires: each is answered 401, each asks for a new one;
    # only the first drops the refused token, the others keep the replacement already cached (one token request).
    client = make_client()
    path = "/subscriptions/%s/resourceGroups/rg-test/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-rolling" % SUB
    client.get_json(path, params={"api-version": "2024-07-01"})
    scope = client._scopes["arm"][0]  # pylint: disable=protected-access
    refused = _auth.fingerprint(client.tokens.token(scope))
    client.tokens.invalidate(scope, refused)
    replacement = client.tokens.token(scope)
    for late in range(7):  # the other threads, late with the same refused token
        client.tokens.invalidate(scope, refused)
        assert client.tokens.token(scope) == replacement, late
    assert emulator.issued_tokens_count() == 2
    client.tokens.invalidate(scope, _auth.fingerprint(replacement))  # the replacement refused in turn: dropped
    assert client.tokens.token(scope) != replacement
    assert emulator.issued_tokens_count() == 3


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
