# -*- coding: utf-8 -*-
"""The modules under real ansible-playbook runs against the emulator (assertions live in the playbooks)."""

from pathlib import Path

from tests.emulator import load_scenario
from tests.helpers import SUB, api_requests

PLAYBOOKS = Path(__file__).parent / "module_playbooks"


def _env(emulator):
    env = dict(emulator.env(), ROLLOUT_TEST_CA=emulator.ca_path)
    # The subscription must come from module_defaults of the action group, not from the environment.
    env["AZURE_SUBSCRIPTION_ID"] = ""
    return env


def _requests(emulator, method):
    return [r for r in api_requests(emulator, method) if r["kind"] == "arm"]


def test_vmss_modules(emulator, run_playbook, tmp_path):
    result = run_playbook(PLAYBOOKS / "vmss.yml", env=_env(emulator), timeout=240,
                          extra_vars={"subscription_id": SUB, "progress_dir": str(tmp_path), "emulator_url": emulator.base_url})
    result.assert_ok()
    posts = [r["path"].split("/virtualMachineScaleSets/")[1] for r in _requests(emulator, "POST")]
    assert posts == ["vmss-rolling/rollingUpgrades/cancel", "vmss-healthy/extensionRollingUpgrade",
                     "vmss-faulty/extensionRollingUpgrade", "vmss-never/extensionRollingUpgrade"]
    assert "changed=4" in result.stdout


def test_aks_and_adu_modules(emulator, run_playbook):
    emulator.set_time_scale(30)
    emulator.add_fault({"match": {"kind": "adu", "method": "GET"}, "action": {"status": 429, "retry_after": 1}, "times": 2})
    result = run_playbook(PLAYBOOKS / "aks_adu.yml", env=_env(emulator),
                          extra_vars={"subscription_id": SUB, "adu_endpoint": emulator.host}, timeout=240)
    result.assert_ok()
    adu = [r for r in emulator.requests if r["kind"] == "adu"]
    assert [r["status"] for r in adu[:3]] == [429, 429, 200]
    assert all(r["audience"] == "https://api.adu.microsoft.com" for r in adu if r["status"] == 200)
    legacy = [r for r in adu if "/v2/" in r["path"]]
    assert legacy[0]["query"]["$top"] == ["20"] and len(legacy) == 1  # top caps the result: one page of 20


def test_invalid_input_fails_before_any_request(emulator, run_playbook, tmp_path):
    playbook = tmp_path / "bad.yml"
    playbook.write_text("""
- hosts: localhost
  gather_facts: false
  tasks:
    - azure_ops.rollout.aks_operation_info:
        resource_group: "rg with spaces"
        name: "-cluster"
        agent_pool: "Pool_1"
        operation_id: "x"
""")
    result = run_playbook(playbook, env=_env(emulator), extra_vars={"subscription_id": SUB})
    result.assert_failed()
    for words in ("resource_group must match", "name must match", "agent_pool must match ^[a-z][a-z0-9]{0,11}$",
                  "subscription_id is required"):
        assert words in result.stdout, result.stdout
    assert [r for r in emulator.requests if r["kind"] != "control"] == []


def test_vmss_extension_info(emulator, run_playbook):
    data = load_scenario("default")
    data["page_size"] = 3
    emulator.load(data)
    result = run_playbook(PLAYBOOKS / "vmss_extension_info.yml", env=_env(emulator), extra_vars={"subscription_id": SUB},
                          timeout=240)
    result.assert_ok()
    assert "changed=0" in result.stdout and "failed=0" in result.stdout
    arm = [r for r in emulator.requests if r["kind"] == "arm"]
    assert not [r for r in arm if r["method"] != "GET" or "/virtualMachines/" in r["path"]]
    # Per run: the model, the VM list pages (4 for vmss-healthy, 2 for vmss-done), one catalog read per type.
    lists = [r for r in arm if r["path"].endswith("/virtualMachines")]
    assert len(lists) == 4 + 4 + 2 and all(r["query"]["$expand"] == ["instanceView"] for r in lists)
    assert len([r for r in arm if r["path"].endswith("/versions")]) == 2 + 1 + 1
