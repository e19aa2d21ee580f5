# -*- coding: utf-8 -*-
"""fleet_status.yml, adu_operations_report.yml and aks_operation_wait.yml against the emulator."""
from __future__ import annotations

import re

import yaml

from tests.helpers import (PLAYBOOKS, chromium_dom, chromium_screenshot, png_size, posts, read_json, rows_by_name, scenario,
                           vmss, write_inventory)


def _status_fleet():
    return [
        vmss("st-done", "canary", existing_upgrade={"status": "Completed", "finished_seconds_ago": 3600}),
        vmss("st-faulted", "ring1", capacity=10, failing_instances=[0, 1],
             existing_upgrade={"status": "Faulted", "finished_seconds_ago": 600}),
        vmss("st-rolling", "ring1", batch_seconds=600,
             existing_upgrade={"status": "RollingForward", "started_seconds_ago": 1500}),
        vmss("st-never", "ring2"),
    ]


def test_fleet_status_report_and_gate(emulator, run_playbook, tmp_path):
    sets = _status_fleet()
    emulator.load(scenario(sets, time_scale=1.0))
    inv = write_inventory(tmp_path, sets)
    result = run_playbook(PLAYBOOKS / "fleet_status.yml", inventory=inv, emulator=emulator, check=True,
                          extra_vars={"fleet_report_dir": str(tmp_path / "reports")})
    # The gate fails the run because st-faulted is Faulted; --check changed nothing on the service.
    result.assert_failed()
    assert "Gate failed: 1 of 4 scale sets Faulted/Error (st-faulted)." in result.stdout
    # The failure is st-faulted's own: no healthy scale set (the first host ran the report) carries it.
    fatal = [line for line in result.stdout.splitlines() if line.startswith("fatal: ")]
    assert len(fatal) == 1 and fatal[0].startswith("fatal: [st-faulted]: FAILED!"), fatal
    assert "Gate failed: st-faulted (rg-it): Faulted: MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade" in (
        fatal[0])
    assert re.search(r"st-done\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0", result.stdout)
    assert posts(emulator) == []
    # From one batch step, one token for the whole fleet. Per scale set: the latest upgrade, the model and the VM
    # list pages (never an instance view per instance); the versions catalog once per location/publisher/type.
    arm = [e["path"] for e in emulator.requests if e["kind"] == "arm"]
    assert len([e for e in emulator.requests if e["kind"] == "token"]) == 1
    assert len([p for p in arm if p.endswith("/rollingUpgrades/latest")]) == 4
    assert len([p for p in arm if p.endswith("/virtualMachineScaleSets/" + p.rsplit("/", 1)[-1])]) == 4
    assert not [p for p in arm if p.endswith("/instanceView")]
    catalog = [p for p in arm if p.endswith("/versions")]
    assert len(catalog) == len(set(catalog)) >= 1
    report = read_json(tmp_path / "reports" / "fleet_status.json")
    rows = rows_by_name(report)
    assert rows["st-done"]["status"] == "Completed" and rows["st-done"]["percent"] == 100.0
    assert rows["st-done"]["last_action_time"] and rows["st-done"]["elapsed"] > 0
    assert rows["st-faulted"]["status"] == "Faulted"
    assert rows["st-faulted"]["error_code"] == "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
    assert rows["st-rolling"]["status"] == "RollingForward" and 0 < rows["st-rolling"]["percent"] < 100
    assert rows["st-rolling"]["elapsed"] >= 1499  # started 1500 s before the scenario loaded; stamps are rounded
    assert rows["st-never"]["status"] == "NeverUpgraded"
    assert {r["ring"] for r in report["rows"]} == {"canary", "ring1", "ring2"}
    assert re.search(r"ring1\s+st-faulted\s+Faulted", result.stdout)      # the failed rows in the output
    # Drift of every scale set: the never-upgraded one runs the old extension on every instance.
    assert rows["st-never"]["outdated"] is True and rows["st-never"]["outdated_instance_count"] == 5
    assert rows["st-never"]["outdated_extensions"][0]["outdated_instances"] == 5
    assert all(isinstance(row["outdated"], bool) for row in rows.values())

    dom = chromium_dom(tmp_path / "reports" / "fleet_status.html", tmp_path)
    assert 'class="headline bad"' in dom and "Gate failed" in dom
    for name, status in (("st-done", "Completed"), ("st-faulted", "Faulted"), ("st-rolling", "RollingForward"),
                         ("st-never", "NeverUpgraded")):
        assert re.search(r">%s<.*?<span class=\"chip [a-z]+\">%s</span>" % (name, status), dom, re.S), name
    assert rows["st-done"]["last_action_time"] in dom
    png = chromium_screenshot(tmp_path / "reports" / "fleet_status.html", tmp_path, width=1400)
    assert png_size(png) == (1400, 1000) and png.stat().st_size > 20000
    assert "<script" not in dom and "http://" not in dom.split("<body>")[0] and "https://" not in dom.split("<body>")[0]


def test_fleet_status_gate_passes_without_faulted(emulator, run_playbook, tmp_path):
    sets = [s for s in _status_fleet() if s["name"] != "st-faulted"]
    emulator.load(scenario(sets, time_scale=1.0))
    inv = write_inventory(tmp_path, sets)
    result = run_playbook(PLAYBOOKS / "fleet_status.yml", inventory=inv, emulator=emulator,
                          extra_vars={"fleet_report_dir": str(tmp_path / "reports")}).assert_ok()
    assert "Gate passed: no scale set Faulted/Error." in result.stdout
    report = read_json(tmp_path / "reports" / "fleet_status.json")
    assert len(report["rows"]) == 3 and report["passed"] is True and report["result"] == "passed"
    assert 'class="headline good"' in (tmp_path / "reports" / "fleet_status.html").read_text()
    # The drift gate (off by default) fails on the scale sets with outdated extensions: failed in the JSON, red.
    result = run_playbook(PLAYBOOKS / "fleet_status.yml", inventory=inv, emulator=emulator,
                          extra_vars={"fleet_report_dir": str(tmp_path / "reports"), "fleet_fail_on_drift": True})
    result.assert_failed()
    assert re.search(r"Gate failed: \d of 3 scale sets Faulted/Error or outdated \(.*st-never", result.stdout)
    report = read_json(tmp_path / "reports" / "fleet_status.json")
    assert report["passed"] is False and report["result"] == "failed"
    html = (tmp_path / "reports" / "fleet_status.html").read_text()
    assert 'class="headline bad"' in html and 'class="headline good"' not in html


def test_adu_operations_report(emulator, run_playbook, tmp_path):
    inv = tmp_path / "adu.yml"
    inv.write_text(yaml.safe_dump({"all": {
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "children": {"adu_instances": {"hosts": {
            "adu-blue": {"adu_endpoint": emulator.host, "adu_instance_id": "blue"},
            "adu-green": {"adu_endpoint": emulator.host, "adu_instance_id": "green"}}}}}}))
    result = run_playbook(PLAYBOOKS / "adu_operations_report.yml", inventory=inv, emulator=emulator,
                          extra_vars={"adu_report_dir": str(tmp_path / "reports")}).assert_ok()
    ops = read_json(tmp_path / "reports" / "adu_operations.json")["operations"]
    assert {op["status"] for op in ops} <= {"Running", "NotStarted", "Failed"}
    for instance in ("adu-blue", "adu-green"):
        mine = [op for op in ops if op["instance"] == instance]
        assert any(op["status"] == "Failed" for op in mine), instance
        assert any(op["status"] in ("Running", "NotStarted") for op in mine), instance
    assert "11111111-0000-0000-0000-000000000004" in {op["operation_id"] for op in ops}   # an explicit Failed one
    assert re.search(r"\d+ running or not started, \d+ failed", result.stdout)
    # Fails as a gate when asked to.
    run_playbook(PLAYBOOKS / "adu_operations_report.yml", inventory=inv, emulator=emulator,
                 extra_vars={"adu_report_dir": str(tmp_path / "reports"), "adu_fail_on_failed": True}).assert_failed()


def _aks_ops(*ops):
    return {"aks_operations": [dict(resource_group="rg-test", name="aks-test", **op) for op in ops],
            "aks_poll_interval": 1, "aks_wait_timeout": 120}


def test_aks_operation_wait_success(emulator, run_playbook):
    emulator.set_time_scale(30)
    result = run_playbook(PLAYBOOKS / "aks_operation_wait.yml", emulator=emulator,
                          extra_vars=_aks_ops({"operation_id": "00000000-0000-0000-0000-0000000000a1"})).assert_ok()
    assert "00000000-0000-0000-0000-0000000000a1: Succeeded" in result.stdout


def test_aks_operation_wait_failure(emulator, run_playbook):
    emulator.set_time_scale(30)
    result = run_playbook(PLAYBOOKS / "aks_operation_wait.yml", emulator=emulator, extra_vars=_aks_ops(
        {"operation_id": "00000000-0000-0000-0000-0000000000a1"},
        {"operation_id": "00000000-0000-0000-0000-0000000000a2", "agent_pool": "nodepool1"})).assert_failed()
    assert "AKS operation(s) failed" in result.stdout
    assert "ReconcileAgentPoolIdentityError" in result.stdout
    assert "aks-test/00000000-0000-0000-0000-0000000000a2" in result.stdout


def test_aks_operation_wait_refuses_an_empty_list(emulator, run_playbook):
    result = run_playbook(PLAYBOOKS / "aks_operation_wait.yml", emulator=emulator).assert_failed()
    assert "aks_operations must be a non-empty list" in result.stdout
