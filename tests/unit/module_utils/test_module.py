# -*- coding: utf-8 -*-
"""_module: the shared rules every module applies before any request (through a module run), the wait keys (pure)."""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _module
from ansible_collections.azure_ops.rollout.plugins.module_utils._lro import WaitResult

from tests.helpers import emulator_env, run_module


def test_waited_keys():
    assert _module.waited(WaitResult(False, None, 12.34, [{"status": "Running"}], 3)) == {
        "changed": False, "exists": False, "elapsed": 12.3, "timeline": [{"status": "Running"}], "timed_out": True}


def test_wait_spec_defaults():
    assert _module.wait_spec(1800, 10) == {"wait": {"type": "bool", "default": False},
                                           "wait_timeout": {"type": "int", "default": 1800},
                                           "poll_interval": {"type": "int", "default": 10}}


def test_shared_rules_fail_together_before_any_request(emulator, monkeypatch):
    for key, value in emulator_env(emulator).items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AZURE_TENANT_ID")
    result = run_module("vmss_rolling_upgrade_info", {"resource_group": "rg-test", "name": "vmss-done",
                                                      "subscription_id": "1234", "request_timeout": 0})
    assert result["failed"] and result["msg"] == (
        "Invalid options: subscription_id must be a subscription GUID such as 00000000-0000-0000-0000-000000000000; "
        "request_timeout must be at least 1 (got 0); secret given but tenant missing (set tenant or AZURE_TENANT_ID)")
    assert emulator.requests == []
