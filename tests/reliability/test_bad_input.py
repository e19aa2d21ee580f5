# -*- coding: utf-8 -*-
"""Bad input: every option of every module (and every role variable) with wrong types, empty strings,
over-long and pattern-breaking values fails with a message naming the option and the rule, before any
request (the emulator's request log stays empty, token requests included).

The full matrix runs each module's main() in-process (ansible.module_utils.testing.patch_module_args);
a representative subset, and the role variables, go through ansible-playbook.
"""
from __future__ import annotations

import re

import pytest

from ansible_collections.azure_ops.rollout.plugins.modules import (
    adu_operations_info, aks_operation_info, vmss_extension_info, vmss_extension_upgrade, vmss_rolling_upgrade_info)

from tests.helpers import run_module

MODULES = {
    "vmss_rolling_upgrade_info": (vmss_rolling_upgrade_info, {"resource_group": "rg-test", "name": "vmss-done"}),
    "vmss_extension_upgrade": (vmss_extension_upgrade, {"resource_group": "rg-test", "name": "vmss-healthy", "wait": False}),
    "aks_operation_info": (aks_operation_info, {"resource_group": "rg-test", "name": "aks-test"}),
    "vmss_extension_info": (vmss_extension_info, {"resource_group": "rg-test", "name": "vmss-healthy"}),
    "adu_operations_info": (adu_operations_info, {"endpoint": "HOST", "instance_id": "blue", "top": 5}),
}

LONG = "a" * 5000
# Values of a list of extension names that cannot be: not a list (a single name included), empty, items that are
# not strings or break the name rule.
EXTENSIONS_BAD = ["HealthExtension", {"HealthExtension": 1}, True, 5, [], [["HealthExtension"]], [None], ["ok", ""],
                  ["a/b"], [".."], ["x" * 257], ["a\nb"], ["a:b"], ["50%"]]
# Values that break a name/segment rule in some way.
SEGMENT_BAD = ["", "a/b", "../x", "..", "a?b", "a#b", "a\\b", "a\nb", "a b%2F", LONG, {"a": 1}]

SHARED_BAD = {
    "auth_source": ["bogus", "", ["env"]],
    "subscription_id": ["", "not-a-guid", "00000000-0000-0000-0000-0000000000011", "../../x", LONG, 12],
    "cloud_environment": ["Mars", ""],
    "resource_manager_endpoint": ["http://127.0.0.1:1", "ftp://x"],
    "authority_host": ["http://127.0.0.1:1"],
    "validate_certs": ["maybe", {"a": 1}],
    "request_timeout": ["abc", 0, 3601, -5, "1.5", [1]],
}

PER_MODULE_BAD = {
    "vmss_rolling_upgrade_info": {
        "resource_group": SEGMENT_BAD + ["a" * 91],
        "name": SEGMENT_BAD + ["a" * 65, "-vmss", "vmss.", "vmss-"],
        "api_version": ["", "latest", "2024-07-01/../x", "2024-07-01?x=1", "2024-13-01x", LONG],
    },
    "vmss_extension_upgrade": {
        "resource_group": SEGMENT_BAD + ["a" * 91],
        "name": SEGMENT_BAD + ["a" * 65, "-vmss", "vmss."],
        "api_version": ["", "latest", "2024-07-01/../x"],
        "wait": ["maybe", [True]],
        "wait_timeout": [0, -1, 86401, "abc", "", [1]],
        "poll_interval": [0, 3601, "x", ""],
        "if_running": ["bogus", "", ["wait"]],
        "on_timeout": ["bogus", ""],
        "skip_if_completed_within": [-1, 31536001, "x"],
        "operation_url": ["", "http://127.0.0.1/x", "ftp://x", "https://" + "a" * 3000, "https"],
        "only_if_outdated": ["maybe", [True], {"a": 1}],
        "extensions": EXTENSIONS_BAD,
    },
    "vmss_extension_info": {
        "resource_group": SEGMENT_BAD + ["a" * 91],
        "name": SEGMENT_BAD + ["a" * 65, "-vmss", "vmss."],
        "api_version": ["", "latest", "2024-07-01/../x"],
        "extensions": EXTENSIONS_BAD,
    },
    "aks_operation_info": {
        "resource_group": SEGMENT_BAD + ["a" * 91],
        "name": SEGMENT_BAD + ["a" * 64, "-aks", "aks_", "aks."],
        "operation_id": SEGMENT_BAD[:-1] + ["x" * 257],
        "api_version": ["", "latest", "2025-05-02-preview/../x"],
        "wait": ["maybe"],
        "wait_timeout": [0, 86401, "x"],
        "poll_interval": [0, 3601, "x"],
        "fail_on_failed": ["maybe"],
        "max_items": [0, -1, "x", 1000001],
    },
    "adu_operations_info": {
        "endpoint": ["", "https://x.example.com", "x.example.com/path", "x.example.com?q=1", "x.example.com#f",
                     "user@x.example.com", "x.example.com:123456", "a" * 254, "x..example.com", "x .com"],
        "instance_id": SEGMENT_BAD + ["-blue", "a" * 65],
        "status": [["Bogus"], "Succeeded", [{"a": 1}]],
        "top": [0, -1, 1000001, "x"],
        "api_version": ["2019-01-01", ""],
        "wait": ["maybe"],
        "wait_timeout": [0, "x"],
        "poll_interval": [0, "x"],
    },
}

# Options that need another option to be checked at all (required_by / mutually exclusive).
NEEDS = {
    ("aks_operation_info", "agent_pool"): {"operation_id": "00000000-0000-0000-0000-0000000000a1"},
    ("adu_operations_info", "operation_id"): {"top": None},
    ("adu_operations_info", "wait"): {"operation_id": "11111111-0000-0000-0000-000000000001", "top": None},
    ("adu_operations_info", "wait_timeout"): {"operation_id": "11111111-0000-0000-0000-000000000001", "top": None,
                                              "wait": True},
    ("adu_operations_info", "poll_interval"): {"operation_id": "11111111-0000-0000-0000-000000000001", "top": None,
                                               "wait": True},
    ("adu_operations_info", "status"): {"top": 5},
}
# Operation ids are quoted as one segment, so spaces and '%' are harmless there (test_security checks the quoting).
OPID_BAD = ["", "a/b", "../x", "..", "a?b", "a#b", "a\\b", "a\nb", "x" * 257]
PER_MODULE_BAD["aks_operation_info"]["operation_id"] = OPID_BAD
PER_MODULE_BAD["aks_operation_info"]["agent_pool"] = ["", "Pool1", "a" * 13, "1pool", "pool/x", "pool-1"]
PER_MODULE_BAD["adu_operations_info"]["operation_id"] = OPID_BAD

# Known gaps (reported to the lead; remove once plugins/module_utils/_validation.py is fixed): "." and ".." pass the
# RESOURCE_GROUP and OPERATION_ID patterns, so the failure comes later from _client.quote_segment ("a path segment
# may not be '..'") without naming the option. Still before any request, which the test checks first.

RULE_WORDS = re.compile(r"must|one of|unable to convert|not a valid|cannot|required|invalid|is not|only", re.I)


def _cases():
    cases = []
    for mod_name in MODULES:
        table = dict(SHARED_BAD)
        table.update(PER_MODULE_BAD[mod_name])
        for option, values in table.items():
            for index, value in enumerate(values):
                cases.append(pytest.param(mod_name, option, value, id="%s-%s-%d" % (mod_name, option, index)))
    return cases


def _args(emulator, mod_name, option, value):
    args = dict(MODULES[mod_name][1])
    if args.get("endpoint") == "HOST":
        args["endpoint"] = emulator.host
    for key, extra in NEEDS.get((mod_name, option), {}).items():
        if extra is None:
            args.pop(key, None)
        else:
            args[key] = extra
    args[option] = value
    return args


@pytest.mark.parametrize("mod_name", list(MODULES))
def test_valid_baseline_reaches_the_emulator(emu_env, mod_name):
    """Control: the same environment with valid options does send requests, so an empty log below means something."""
    args = _args(emu_env, mod_name, "request_timeout", 10)
    result = run_module(MODULES[mod_name][0], args)
    assert not result.get("failed"), result
    assert any(r["kind"] in ("arm", "adu") for r in emu_env.requests)


@pytest.mark.parametrize("mod_name,option,value", _cases())
def test_bad_option_fails_before_any_request(emu_env, mod_name, option, value):
    args = _args(emu_env, mod_name, option, value)
    result = run_module(MODULES[mod_name][0], args)
    shown = repr(value)[:80]
    assert result.get("failed"), "%s=%s was accepted: %s" % (option, shown, str(result)[:500])
    msg = result.get("msg", "")
    assert emu_env.requests == [], "%s=%s sent requests: %s" % (option, shown, [(r["method"], r["path"]) for r in emu_env.requests])
    assert option in msg, "message does not name %s: %s" % (option, msg)
    assert RULE_WORDS.search(msg), "message does not state the rule: %s" % msg
    assert len(msg) < 2000, "message is not short"
