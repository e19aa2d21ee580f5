# -*- coding: utf-8 -*-
"""_adu: the status filter and the API shapes (pure), paging and reads against the emulator."""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _adu

from tests.helpers import api_requests


def test_status_filter_string():
    assert _adu.status_filter(["NotStarted", "Running"]) == "status eq 'NotStarted' or status eq 'Running'"
    assert _adu.status_filter(None) is None


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


def test_get_operation_reads_status_operation_and_retry_after(emulator, make_client):
    client = make_client()
    _adu.connect(client, emulator.host)
    api = _adu.OperationsApi(emulator.host, "blue")
    read = _adu.get_operation(client, api, "11111111-0000-0000-0000-000000000001")
    assert read.status == 200 and read.operation["status"] == "Running" and read.retry_after == 5
    unchanged = _adu.get_operation(client, api, "11111111-0000-0000-0000-000000000001", etag=read.operation["etag"])
    assert unchanged.status == 304 and unchanged.operation is None
    assert _adu.get_operation(client, api, "nope") == (404, None, None)


def test_api_shapes():
    ga = _adu.OperationsApi("h.example:8443", "blue")
    assert ga.url("x") == "https://h.example:8443/deviceUpdate/blue/updates/operations/x"
    assert ga.params(["Running"], 5) == {"api-version": "2022-10-01", "filter": "status eq 'Running'", "top": 5}
    legacy = _adu.OperationsApi("h.example", "blue", "2020-09-01")
    assert legacy.url() == "https://h.example/deviceupdate/blue/v2/updates/operations"
    assert legacy.params(["Running"], 5) == {"$filter": "status eq 'Running'", "$top": 5}
