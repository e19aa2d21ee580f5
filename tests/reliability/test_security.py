# -*- coding: utf-8 -*-
"""Security checks as tests: no token to a foreign host, no path-segment injection, TLS verified by default
with a clear message for a wrong CA, and no secret or token in -vvv output."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import trustme

from ansible_collections.azure_ops.rollout.plugins.modules import (
    adu_operations_info, aks_operation_info, vmss_extension_upgrade, vmss_rolling_upgrade_info)

from tests.helpers import SUB, emulator_env, issued_tokens, run_module


def foreign(emu):
    return [r for r in emu.requests if r["listener"] == "foreign"]


# --------------------------------------------------------------------------- foreign hosts
AKS_PAGED = {"name": "sec-aks-paged", "subscriptions": [SUB], "page_size": 2,
             "aks_clusters": [{"name": "aks-test", "resource_group": "rg-test", "location": "eastus",
                               "operations": [{"id": "op-%d" % i, "duration": 600} for i in range(5)]}]}


@pytest.mark.parametrize("kind", ["aks-nextlink", "adu-nextlink"])
def test_nextlink_on_foreign_host_is_refused(emu_env, kind):
    """A nextLink on another host: the listing fails with a clear error and no bearer token goes there."""
    if kind == "aks-nextlink":
        emu_env.load(AKS_PAGED)
        mod, args = aks_operation_info, {"resource_group": "rg-test", "name": "aks-test"}
    else:
        mod, args = adu_operations_info, {"endpoint": emu_env.host, "instance_id": "blue"}
    emu_env.add_fault({"name": "foreign", "match": {"method": "GET", "path_regex": "/operations$"},
                       "action": {"foreign_location": True}})
    result = run_module(mod, args)
    assert result.get("failed"), str(result)[:500]
    assert "refusing to send" in result["msg"] and "token" in result["msg"], result["msg"]
    assert all(not r["had_authorization_header"] for r in foreign(emu_env))


def test_foreign_operation_urls_are_never_followed_with_the_token(emu_env):
    """Azure-AsyncOperation and Location on another host: the upgrade still ends right (it is watched through
    rollingUpgrades/latest), the operation URL is never sent the token, and the upgrade is started once."""
    emu_env.set_time_scale(60)
    emu_env.add_fault({"name": "foreign", "match": {"method": "POST", "path_regex": "extensionRollingUpgrade$"},
                       "action": {"foreign_location": True}})
    result = run_module(vmss_extension_upgrade, {"resource_group": "rg-test", "name": "vmss-healthy",
                                                 "poll_interval": 1, "wait_timeout": 60})
    assert not result.get("failed"), result.get("msg")
    assert result["rolling_upgrade"]["running_status"]["code"] == "Completed"
    assert result["operation_url"].startswith(emu_env.foreign_base_url)
    assert all(not r["had_authorization_header"] for r in foreign(emu_env))
    posts = [r for r in emu_env.requests if r["method"] == "POST" and r["kind"] == "arm"]
    assert len(posts) == 1


def test_operation_url_on_foreign_host_is_refused_before_any_request(emu_env):
    """operation_url (user input) pointing elsewhere: no token leaves, and nothing reaches the foreign listener."""
    url = emu_env.foreign_base_url + "/subscriptions/%s/providers/Microsoft.Compute/locations/eastus/operations/x?api-version=2024-07-01" % SUB
    result = run_module(vmss_extension_upgrade, {"resource_group": "rg-test", "name": "vmss-healthy",
                                                 "operation_url": url, "wait_timeout": 10, "poll_interval": 1})
    assert result.get("failed")
    assert "refusing to send" in result["msg"]
    assert foreign(emu_env) == []


def test_adu_token_is_never_sent_to_arm_and_arm_token_never_to_adu(emu_env):
    result = run_module(adu_operations_info, {"endpoint": emu_env.host, "instance_id": "blue", "top": 3})
    assert not result.get("failed"), result
    adu = [r for r in emu_env.requests if r["kind"] == "adu"]
    assert adu and all(r["audience"] == "https://api.adu.microsoft.com" for r in adu), adu


# --------------------------------------------------------------------------- path injection
@pytest.mark.parametrize("mod,args,prefix", [
    (aks_operation_info, {"resource_group": "rg-test", "name": "aks-test", "operation_id": "x%2F..%2F..%2Fy"},
     "/subscriptions/%s/resourceGroups/rg-test/providers/Microsoft.ContainerService/managedClusters/aks-test/operations/" % SUB),
    (aks_operation_info, {"resource_group": "rg-test", "name": "aks-test", "operation_id": "a b;c=d&e"},
     "/subscriptions/%s/resourceGroups/rg-test/providers/Microsoft.ContainerService/managedClusters/aks-test/operations/" % SUB),
    (adu_operations_info, {"endpoint": "HOST", "instance_id": "blue", "operation_id": "%2e%2e%2f%2e%2e%2fx"},
     "/deviceUpdate/blue/updates/operations/"),
    (adu_operations_info, {"endpoint": "HOST", "instance_id": "blue", "operation_id": "..%5c..%5cx"},
     "/deviceUpdate/blue/updates/operations/"),
], ids=["aks-encoded-slash", "aks-query-chars", "adu-encoded-dots", "adu-backslash"])
def test_path_segment_injection_is_impossible(emu_env, mod, args, prefix):
    """Whatever passes validation is sent as exactly one segment under the expected collection."""
    args = {k: (emu_env.host if v == "HOST" else v) for k, v in args.items()}
    run_module(mod, args)
    api = [r for r in emu_env.requests if r["kind"] in ("arm", "adu")]
    assert api, "no request made"
    for record in api:
        assert record["path"].startswith(prefix), record["path"]
        tail = record["path"][len(prefix):]
        assert "/" not in tail and tail not in (".", ".."), record["path"]
        assert set(record["query"]) <= {"api-version"}, record["query"]


@pytest.mark.parametrize("value", ["../../x", "rg/x", "rg?api-version=1", "rg#x", "..", "."])
def test_names_with_path_syntax_never_reach_the_wire(emu_env, value):
    for field in ("resource_group", "name"):
        args = {"resource_group": "rg-test", "name": "vmss-done", field: value}
        result = run_module(vmss_rolling_upgrade_info, args)
        assert result.get("failed"), (field, value, result)
    assert emu_env.requests == []


# --------------------------------------------------------------------------- TLS
def test_validate_certs_defaults_on(emu_env, monkeypatch):
    """Without the emulator's CA anywhere, the default (validate_certs=true) refuses the self-signed server."""
    for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(var, raising=False)
    result = run_module(vmss_rolling_upgrade_info, {"resource_group": "rg-test", "name": "vmss-done"})
    assert result.get("failed")
    assert "TLS verification" in result["msg"] and "ca_path" in result["msg"], result["msg"]
    from ansible_collections.azure_ops.rollout.plugins.module_utils import _auth
    assert _auth.auth_argument_spec()["validate_certs"]["default"] is True
    assert [r for r in emu_env.requests if r["kind"] == "arm"] == []


def test_wrong_ca_fails_with_clear_message(emu_env, tmp_path):
    other = trustme.CA()
    ca_file = tmp_path / "other-ca.pem"
    other.cert_pem.write_to_path(str(ca_file))
    result = run_module(vmss_rolling_upgrade_info, {"resource_group": "rg-test", "name": "vmss-done",
                                                    "ca_path": str(ca_file)})
    assert result.get("failed")
    assert "TLS verification" in result["msg"] and "ca_path" in result["msg"], result["msg"]
    assert "Traceback" not in json.dumps(result)
    # the secret never went to the untrusted server: no token request got through
    assert emu_env.issued_tokens_count() == 0


def test_right_ca_via_ca_path_only(emu_env, monkeypatch):
    for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.delenv(var, raising=False)
    result = run_module(vmss_rolling_upgrade_info, {"resource_group": "rg-test", "name": "vmss-done",
                                                    "ca_path": emu_env.ca_path})
    assert not result.get("failed"), result


# --------------------------------------------------------------------------- secrets in -vvv output
PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: info with the secret as a module option
      azure_ops.rollout.vmss_rolling_upgrade_info:
        resource_group: rg-test
        name: vmss-done
        client_id: "{{ cid }}"
        secret: "{{ sec }}"
        tenant: "{{ ten }}"
    - name: upgrade with the secret as a module option, and an Azure error on the way
      azure_ops.rollout.vmss_extension_upgrade:
        resource_group: rg-test
        name: vmss-faulty
        poll_interval: 1
        wait_timeout: 60
        secret: "{{ sec }}"
      ignore_errors: true
    - name: info with the secret from the environment only
      azure_ops.rollout.vmss_rolling_upgrade_info:
        resource_group: rg-test
        name: vmss-healthy
    - name: a wrong secret must not be echoed either
      azure_ops.rollout.aks_operation_info:
        resource_group: rg-test
        name: aks-test
        secret: "{{ sec }}-wrong"
      ignore_errors: true
"""


def test_no_secret_or_token_in_vvv_output(emulator, run_playbook, tmp_path):
    book = tmp_path / "secrets.yml"
    book.write_text(PLAY)
    emulator.set_time_scale(60)
    env = emulator_env(emulator)
    env["ANSIBLE_LOG_PATH"] = str(tmp_path / "ansible.log")
    res = run_playbook(book, emulator=env, verbose=3, extra_vars={
        "cid": emulator.client_id, "sec": emulator.client_secret, "ten": emulator.tenant_id}, timeout=240)
    output = res.stdout + res.stderr + Path(env["ANSIBLE_LOG_PATH"]).read_text()
    assert "ok=" in res.stdout, res.describe()
    assert "MaxUnhealthyUpgradedInstancePercentExceeded" in output, "the Azure error should be shown"
    secret = emulator.client_secret
    assert secret not in output
    tokens = issued_tokens(emulator)
    assert tokens, "the emulator issued no token: the play did not authenticate"
    for token in tokens:
        assert token not in output
    assert "Bearer " not in output
    # the progress/temp files left behind carry no secret either
    for path in Path(tmp_path).rglob("*"):
        if path.is_file() and path.stat().st_size < 5_000_000:
            text = path.read_text(errors="replace")
            if path.name in ("extra_vars.json", "secrets.yml"):
                continue  # the test's own input
            assert secret not in text, path
            assert not any(t in text for t in tokens), path
