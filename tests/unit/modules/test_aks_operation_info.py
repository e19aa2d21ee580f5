# -*- coding: utf-8 -*-
"""aks_operation_info against the emulator, on the simulated clock."""

import pytest

from tests.helpers import AKS_OPERATIONS, api_requests


AKS = {"resource_group": "rg-test", "name": "aks-test"}


OK_OP, FAILED_OP, LONG_OP = AKS_OPERATIONS


def test_aks_get_in_progress_operation(run_module):
    failed, result = run_module("aks_operation_info", operation_id=LONG_OP, **AKS)
    assert not failed and result["exists"]
    operation = result["operation"]
    assert operation["status"] == "InProgress" and 0 <= operation["percent_complete"] < 100
    assert operation["name"] == LONG_OP and operation["id"].endswith("/operations/" + LONG_OP)
    assert [child["status"] for child in operation["operations"]]


def test_aks_list(run_module):
    failed, result = run_module("aks_operation_info", **AKS)
    assert not failed and {op["name"] for op in result["operations"]} >= {OK_OP, LONG_OP}


def test_aks_unknown_operation(run_module):
    failed, result = run_module("aks_operation_info", operation_id="00000000-0000-0000-0000-00000000ffff", **AKS)
    assert not failed and result["exists"] is False


def test_aks_wait_to_success(run_module, emulator):
    emulator.set_time_scale(30)
    failed, result = run_module("aks_operation_info", operation_id=OK_OP, wait=True, poll_interval=1, **AKS)
    assert not failed, result.get("msg")
    assert result["operation"]["status"] == "Succeeded" and result["timeline"][-1]["status"] == "Succeeded"
    assert result["timeline"][0]["status"] == "InProgress"


def test_aks_agent_pool_failure_is_data_unless_waiting(run_module, emulator):
    emulator.set_time_scale(30)
    failed, result = run_module("aks_operation_info", operation_id=FAILED_OP, agent_pool="nodepool1", wait=True,
                                poll_interval=1, **AKS)
    assert failed and "ReconcileAgentPoolIdentityError" in result["msg"]
    assert "/agentPools/nodepool1/operations/" in api_requests(emulator)[-1]["path"]
    failed, result = run_module("aks_operation_info", operation_id=FAILED_OP, agent_pool="nodepool1", wait=True,
                                fail_on_failed=False, poll_interval=1, **AKS)
    assert not failed and result["operation"]["status"] == "Failed"
    failed, result = run_module("aks_operation_info", operation_id=FAILED_OP, agent_pool="nodepool1", **AKS)
    assert not failed and result["operation"]["error"]["code"] == "ReconcileAgentPoolIdentityError"


def test_aks_wait_timeout(run_module):
    failed, result = run_module("aks_operation_info", operation_id=LONG_OP, wait=True, wait_timeout=2, poll_interval=1, **AKS)
    assert failed and result["timed_out"] and "Timed out after 2s" in result["msg"]


@pytest.mark.parametrize("args, words", [
    ({"subscription_id": "1234"}, "subscription_id must be a subscription GUID"),
    ({"resource_group": "a" * 91}, "resource_group must be 1 to 90 characters"),
    ({"resource_group": "rg with space"}, "resource_group must match"),
    ({"name": "-bad"}, "name must match"),
    ({"name": "a" * 64}, "name must be 1 to 63 characters"),
    ({"agent_pool": "Pool1", "operation_id": OK_OP}, "agent_pool must match ^[a-z][a-z0-9]{0,11}$"),
    ({"agent_pool": "nodepool1"}, "missing parameter(s) required by 'agent_pool': operation_id"),
    ({"operation_id": "a/b"}, "operation_id must not contain '/'"),
    ({"operation_id": ""}, "operation_id must not be empty"),
    ({"wait": True}, "wait is True but all of the following are missing: operation_id"),
    ({"max_items": 0}, "max_items must be at least 1"),
])
def test_aks_bad_input_fails_before_any_request(run_module, emulator, args, words):
    merged = dict(AKS, **args)
    failed, result = run_module("aks_operation_info", **merged)
    assert failed and words in result["msg"], result["msg"]
    assert emulator.requests == []


def test_api_version_default_is_the_checked_preview_and_can_be_changed(run_module, emulator):
    """No GA version serves the operation status: the default is the preview the collection is tested against (the
    one of the shared spec extract), the docs say which versions were checked, and another can be picked."""
    import os  # pylint: disable=import-outside-toplevel
    import yaml  # pylint: disable=import-outside-toplevel
    from ansible_collections.azure_ops.rollout.plugins.module_utils import _aks  # pylint: disable=import-outside-toplevel
    from ansible_collections.azure_ops.rollout.plugins.modules import aks_operation_info  # pylint: disable=import-outside-toplevel
    doc = yaml.safe_load(aks_operation_info.DOCUMENTATION)["options"]["api_version"]
    assert doc["default"] == _aks.API_VERSION == "2025-05-02-preview"
    text = " ".join(doc["description"])
    assert "no GA version" in text and "2025-07-02-preview" in text and "2025-05-01" in text
    shared = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared", "azure-api", "openapi")
    if os.path.isdir(shared):
        assert "aks_%s_operationStatus.json" % _aks.API_VERSION in os.listdir(shared)
    failed, _result = run_module("aks_operation_info", operation_id=OK_OP, api_version="2025-07-02-preview", **AKS)
    assert not failed
    assert [r["query"]["api-version"] for r in api_requests(emulator)] == [["2025-07-02-preview"]]
