# -*- coding: utf-8 -*-
"""adu_operations_info against the emulator, on the simulated clock."""

import pytest

from tests.emulator.clock import parse_time
from tests.helpers import api_requests


# -- Device Update ---------------------------------------------------------------------------------
@pytest.fixture
def adu(emulator):
    return {"endpoint": emulator.host, "instance_id": "blue"}


def test_adu_list_all_pages(run_module, adu, emulator):
    failed, result = run_module("adu_operations_info", **adu)
    assert not failed and len(result["operations"]) == 250
    op = result["operations"][0]
    assert set(op) == {"operation_id", "status", "update_id", "resource_location", "trace_id", "created_date_time",
                       "last_action_date_time", "etag", "error"}
    assert len(api_requests(emulator, "GET")) == 3
    assert all(r["audience"] == "https://api.adu.microsoft.com" for r in api_requests(emulator))


def test_adu_top_caps_what_is_returned(run_module, adu, emulator):
    failed, result = run_module("adu_operations_info", status=["Running", "NotStarted"], top=12, **adu)
    assert not failed and len(result["operations"]) == 12
    assert {op["status"] for op in result["operations"]} <= {"Running", "NotStarted"}
    (request,) = api_requests(emulator, "GET")
    assert request["query"]["filter"] == ["status eq 'Running' or status eq 'NotStarted'"] and request["query"]["top"] == ["12"]


def test_adu_top_caps_even_when_the_service_pages_on(run_module, adu, emulator):
    """The emulator pages 100 at a time whatever top says: the module still stops at top."""
    failed, result = run_module("adu_operations_info", top=120, **adu)
    assert not failed and len(result["operations"]) == 120
    assert len(api_requests(emulator, "GET")) == 2


def test_adu_max_items_is_an_alias_of_top(run_module, adu, emulator):
    failed, result = run_module("adu_operations_info", max_items=3, **adu)
    assert not failed and len(result["operations"]) == 3
    assert api_requests(emulator, "GET")[0]["query"]["top"] == ["3"]


def test_adu_legacy_api_shape(run_module, adu, emulator):
    failed, result = run_module("adu_operations_info", api_version="2020-09-01", status=["Running"], **adu)
    assert not failed and result["operations"] and {op["status"] for op in result["operations"]} == {"Running"}
    assert result["operations"][0]["update_id"]["provider"]
    first = api_requests(emulator, "GET")[0]
    assert "/deviceupdate/blue/v2/updates/operations" in first["path"] and first["query"]["$filter"] == ["status eq 'Running'"]


def test_adu_get_one_and_unknown(run_module, adu):
    failed, result = run_module("adu_operations_info", operation_id="11111111-0000-0000-0000-000000000004", **adu)
    assert not failed and result["operation"]["status"] == "Failed"
    assert result["operation"]["error"]["innererror"]["code"] == "CannotDownload"
    failed, result = run_module("adu_operations_info", operation_id="11111111-0000-0000-0000-000000000003", **adu)
    assert not failed and result["operation"]["update_id"] == {"provider": "Contoso", "name": "Sensor", "version": "1.0.2"}
    failed, result = run_module("adu_operations_info", operation_id="nope", **adu)
    assert not failed and result["exists"] is False and "operation" not in result


def test_adu_wait_to_success(run_module, adu, emulator):
    emulator.set_time_scale(30)
    failed, result = run_module("adu_operations_info", operation_id="11111111-0000-0000-0000-000000000001", wait=True,
                                poll_interval=1, **adu)
    assert not failed, result.get("msg")
    assert result["operation"]["status"] == "Succeeded" and result["timeline"][-1]["status"] == "Succeeded"


def test_adu_wait_honours_retry_after_and_sends_if_none_match(run_module, adu, emulator):
    failed, listed = run_module("adu_operations_info", status=["Running"], top=1, **adu)
    running = listed["operations"][0]["operation_id"]
    emulator.clear_requests()
    failed, result = run_module("adu_operations_info", operation_id=running, wait=True, wait_timeout=12, poll_interval=1, **adu)
    assert failed and result["timed_out"] and result["operation"]["status"] == "Running"
    gets = api_requests(emulator, "GET")
    # Retry-After is 5 s in the scenario (poll_interval 1 is ignored): reads at 0, 5 and 10 s (simulated time),
    # then the 2 s left; the unchanged operation is answered 304 to If-None-Match.
    assert [r["status"] for r in gets] == [200, 304, 304]
    assert run_module.clock.sleeps[:2] == [5, 5] and 11.5 <= sum(run_module.clock.sleeps) <= 12
    gaps = [parse_time(later["sim_time"]) - parse_time(earlier["sim_time"]) for earlier, later in zip(gets, gets[1:])]
    assert all(5 <= gap <= 5.5 for gap in gaps), gaps


def test_adu_wait_on_failure_fails_with_the_innermost_error(run_module, adu, emulator):
    emulator.set_time_scale(30)
    failed, result = run_module("adu_operations_info", operation_id="11111111-0000-0000-0000-000000000002", wait=True,
                                poll_interval=1, **adu)
    assert failed and result["operation"]["status"] == "Failed"
    assert result["msg"].startswith("Device Update operation 11111111-0000-0000-0000-000000000002 failed: "
                                    "CannotProcessImportManifest: Error processing import manifest. (inner error "
                                    "CannotDownload: Cannot download import manifest. Response status code does not "
                                    "indicate success: 403"), result["msg"]


def test_adu_throttling_is_retried(run_module, adu, emulator):
    emulator.add_fault({"match": {"kind": "adu"}, "action": {"status": 429, "retry_after": 1}, "times": 2})
    failed, result = run_module("adu_operations_info", top=10, **adu)
    assert not failed and len(result["operations"]) == 10
    assert [r["status"] for r in api_requests(emulator)][:3] == [429, 429, 200]


@pytest.mark.parametrize("endpoint, words", [
    ("https://contoso.api.adu.microsoft.com", "endpoint must be the account host name only"),
    ("contoso.api.adu.microsoft.com/path", "no scheme, path or query"),
    ("contoso.api.adu.microsoft.com?x=1", "no scheme, path or query"),
    ("", "endpoint must not be empty"),
])
def test_adu_endpoint_is_a_host_only(run_module, emulator, endpoint, words):
    failed, result = run_module("adu_operations_info", endpoint=endpoint, instance_id="blue")
    assert failed and words in result["msg"], result["msg"]
    assert emulator.requests == []


@pytest.mark.parametrize("args, words", [
    ({"status": ["Succeeded"]}, "value of status must be one or more of"),
    ({"top": 0}, "top must be at least 1"),
    ({"instance_id": "blue/../red"}, "instance_id must be letters"),
    ({"api_version": "2023-01-01"}, "value of api_version must be one of"),
    ({"operation_id": "x", "status": ["Running"]}, "mutually exclusive"),
])
def test_adu_bad_input(run_module, adu, emulator, args, words):
    failed, result = run_module("adu_operations_info", **dict(adu, **args))
    assert failed and words in result["msg"], result["msg"]
    assert emulator.requests == []
