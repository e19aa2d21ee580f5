# -*- coding: utf-8 -*-
"""The OS image rollout (vmss_extension_rollout_kind=os) and the OS drift status gate (fleet_kind=os), by
ansible-playbook against the emulator; the module vmss_os_upgrade by FQCN."""
from __future__ import annotations

from pathlib import Path

from tests.helpers import PLAYBOOKS, SUB, posts, read_json, rows_by_name, scenario, vmss, write_inventory

UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
OLD = "24.04.202409120"
NEWEST = "24.04.202501140"


def _fleet():
    return [vmss("os-canary", "canary", image=dict(UBUNTU), installed_image={"default": "latest", "1": OLD}),
            vmss("os-r1-current", "ring1", image=dict(UBUNTU), installed_image="latest"),
            vmss("os-r1-behind", "ring1", image=dict(UBUNTU), installed_image=OLD, orchestration_mode="Flexible")]


def test_os_rollout_starts_only_where_behind_and_a_rerun_sends_no_post(emulator, run_playbook, tmp_path):
    sets = _fleet()
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets, extra_vars={"vmss_extension_rollout_kind": "os"})
    extra = {"rollout_report_dir": str(tmp_path / "reports"), "rollout_allow_empty_rings": True}
    run_playbook(PLAYBOOKS / "vmss_extension_rollout.yml", inventory=inv, emulator=emulator, extra_vars=extra).assert_ok()
    assert sorted(posts(emulator)) == sorted(posts(emulator, "/osRollingUpgrade")) and len(posts(emulator)) == 2
    report = read_json(tmp_path / "reports" / "vmss_extension_rollout.json")
    assert report["title"] == "VMSS OS image rollout"
    rows = rows_by_name(report)
    assert rows["os-r1-current"]["status"] == "Current" and not rows["os-r1-current"]["changed"]
    assert rows["os-canary"]["status"] == "Completed" and rows["os-r1-behind"]["status"] == "Completed"
    assert rows["os-canary"]["versions"] == [{"name": "OS image", "from": {OLD: 1, NEWEST: 4}, "to": NEWEST, "outdated": 1}]

    emulator.clear_requests()
    run_playbook(PLAYBOOKS / "vmss_extension_rollout.yml", inventory=inv, emulator=emulator, extra_vars=extra).assert_ok()
    assert posts(emulator) == []
    rows = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))
    assert {row["status"] for row in rows.values()} == {"Current"}

    # The status gate on OS drift passes now that every instance runs the newest image.
    status = run_playbook(PLAYBOOKS / "fleet_status.yml", inventory=inv, emulator=emulator,
                          extra_vars={"fleet_report_dir": str(tmp_path / "reports"), "fleet_kind": "os",
                                      "fleet_fail_on_drift": True})
    status.assert_ok()


def test_os_drift_fails_the_status_gate(emulator, run_playbook, tmp_path):
    sets = _fleet()
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    result = run_playbook(PLAYBOOKS / "fleet_status.yml", inventory=inv, emulator=emulator,
                          extra_vars={"fleet_report_dir": str(tmp_path / "reports"), "fleet_kind": "os",
                                      "fleet_fail_on_drift": True})
    assert result.rc != 0
    assert "Gate failed: os-canary (rg-it): an outdated OS image: OS image" in result.stdout
    report = read_json(tmp_path / "reports" / "fleet_status.json")
    rows = rows_by_name(report)
    assert rows["os-r1-current"]["outdated"] is False and rows["os-r1-behind"]["outdated"] is True
    assert "an outdated OS image" in report["headline"]
    assert posts(emulator) == []


def test_kind_os_with_extensions_fails_before_any_request(emulator, run_playbook, tmp_path):
    sets = _fleet()
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets, extra_vars={"vmss_extension_rollout_kind": "os",
                                                      "vmss_extension_rollout_extensions": ["HealthExtension"]})
    result = run_playbook(PLAYBOOKS / "vmss_extension_rollout.yml", inventory=inv, emulator=emulator,
                          extra_vars={"rollout_report_dir": str(tmp_path / "reports"), "rollout_allow_empty_rings": True})
    assert result.rc != 0
    assert "vmss_extension_rollout_extensions is for kind=extension" in result.stdout
    assert [r for r in emulator.requests if r["kind"] == "arm"] == []


def test_vmss_os_upgrade_by_fqcn_starts_once_and_a_rerun_is_current(emulator, run_playbook):
    emulator.load(scenario([vmss("vmss-os-behind", "ring1", image=dict(UBUNTU), installed_image={"default": "latest", "1": OLD}),
                            vmss("vmss-os-current", "ring1", image=dict(UBUNTU), installed_image="latest")]))
    env = dict(emulator.env(), ROLLOUT_TEST_CA=emulator.ca_path, AZURE_SUBSCRIPTION_ID="")
    result = run_playbook(Path(__file__).parent / "module_playbooks" / "vmss_os_upgrade.yml", env=env, timeout=240,
                          extra_vars={"subscription_id": SUB, "old": OLD, "newest": NEWEST})
    result.assert_ok()
    assert posts(emulator) == ["/subscriptions/%s/resourceGroups/rg-it/providers/Microsoft.Compute/"
                               "virtualMachineScaleSets/vmss-os-behind/osRollingUpgrade" % SUB]
    assert "changed=2" in result.stdout  # the check-mode plan and the upgrade; the reruns change nothing


def _deferred_fleet():
    """A ring whose scale set's automatic OS upgrade waits for approval (the platform starts it at the first request,
    deferred: osRollingUpgradeDeferral), beside one that is simply behind."""
    deferred = vmss("os-deferred", "canary", image=dict(UBUNTU), installed_image={"default": "latest", "2": OLD},
                    automatic_os_upgrade_policy={"enableAutomaticOSUpgrade": True, "osRollingUpgradeDeferral": True},
                    platform_upgrade={"kind": "os", "after_requests": 0})
    return [deferred, vmss("os-behind", "canary", image=dict(UBUNTU), installed_image=OLD)]


def test_a_deferred_os_upgrade_fails_its_scale_set_unless_the_ring_approves_it(emulator, run_playbook, tmp_path):
    sets = _deferred_fleet()
    emulator.load(scenario(sets))
    extra = {"rollout_report_dir": str(tmp_path / "reports"), "rollout_allow_empty_rings": True}
    inv = write_inventory(tmp_path, sets, extra_vars={"vmss_extension_rollout_kind": "os"})
    refused = run_playbook(PLAYBOOKS / "vmss_extension_rollout.yml", inventory=inv, emulator=emulator, extra_vars=extra)
    assert refused.rc != 0
    rows = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))
    assert rows["os-deferred"]["status"] == "AwaitingApproval" and rows["os-deferred"]["failed"]
    assert "vmss_extension_rollout_approve_deferred=true" in rows["os-deferred"]["msg"]
    assert rows["os-behind"]["status"] == "Completed"
    assert posts(emulator, "/approveRollingUpgrade") == [] and len(posts(emulator, "/osRollingUpgrade")) == 1

    # The status gate shows it, and fails on it when told to.
    status = run_playbook(PLAYBOOKS / "fleet_status.yml", inventory=inv, emulator=emulator,
                          extra_vars={"fleet_report_dir": str(tmp_path / "reports"), "fleet_kind": "os",
                                      "fleet_fail_on": ["Faulted", "Error", "AwaitingApproval"]})
    assert status.rc != 0
    assert rows_by_name(read_json(tmp_path / "reports" / "fleet_status.json"))["os-deferred"]["status"] == "AwaitingApproval"

    emulator.clear_requests()
    (tmp_path / "approving").mkdir()
    inv = write_inventory(tmp_path / "approving", sets, extra_vars={"vmss_extension_rollout_kind": "os",
                                                                    "vmss_extension_rollout_approve_deferred": True})
    run_playbook(PLAYBOOKS / "vmss_extension_rollout.yml", inventory=inv, emulator=emulator, extra_vars=extra).assert_ok()
    rows = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))
    assert rows["os-deferred"]["status"] == "Completed" and rows["os-deferred"]["action"] == "approve"
    assert rows["os-behind"]["status"] == "Current"
    assert len(posts(emulator, "/approveRollingUpgrade")) == 1 and posts(emulator, "/osRollingUpgrade") == []
