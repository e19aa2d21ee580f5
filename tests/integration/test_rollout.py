# -*- coding: utf-8 -*-
"""The vmss_extension_rollout role and playbooks/vmss_extension_rollout.yml against the emulator."""
from __future__ import annotations

import re

from .conftest import PLAYBOOKS, chromium_dom, posts, read_json, rows_by_name, scenario, vmss, write_inventory

ROLLOUT = PLAYBOOKS / "vmss_extension_rollout.yml"
START = "/extensionRollingUpgrade"


def _run(run_playbook, emulator, inv, tmp_path, **kwargs):
    extra = {"rollout_report_dir": str(tmp_path / "reports")}
    extra.update(kwargs.pop("extra_vars", {}))
    return run_playbook(ROLLOUT, inventory=inv, emulator=emulator, extra_vars=extra, **kwargs)


def test_clean_rollout_then_rerun_changes_nothing(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary"), vmss("it-r1-a", "ring1", batch_seconds=120),
            vmss("it-r1-b", "ring1", rg="rg-it2", location="westeurope"),
            vmss("it-r2", "ring2")]
    emulator.load(scenario(sets))
    # Time runs 150x in the emulator, so the "same night" window is widened to a simulated day.
    inv = write_inventory(tmp_path, sets, extra_vars={"vmss_extension_rollout_skip_if_completed_within": 86400})

    result = _run(run_playbook, emulator, inv, tmp_path).assert_ok()
    # Live progress: one line per scale set per round, with counts and elapsed time.
    assert re.search(r"it-r1-a: RollingForward \d+% \| ok \d+ failed 0 in progress \d+ pending \d+ \| \d+s", result.stdout)
    assert re.search(r"it-canary: Completed 100% \| ok 5 failed 0 in progress 0 pending 0", result.stdout)
    report = read_json(tmp_path / "reports" / "vmss_extension_rollout.json")
    rows = rows_by_name(report)
    assert set(rows) == {s["name"] for s in sets}
    for row in rows.values():
        assert row["status"] == "Completed" and row["action"] == "start" and row["changed"] is True
        assert row["succeeded"] == 5 and row["failed_instances"] == 0 and row["percent"] == 100.0
        assert row["subscription_id"] == emulator.subscription_ids[0]
    assert [r["ring"] for r in report["rows"]] == ["canary", "ring1", "ring1", "ring2"]
    assert report["summary"] == {"Completed": 4}
    assert len(posts(emulator, START)) == 4
    assert (tmp_path / "reports" / "vmss_extension_rollout.html").is_file()
    assert re.search(r"it-r2\s+: ok=\d+\s+changed=1\s", result.stdout)

    # One token per module run, however many polls: the upgrade task does not get a token per poll.
    tokens = [e for e in emulator.requests if e["kind"] == "token"]
    assert len(tokens) <= 4, tokens

    # Second run the same night: every scale set Completed within skip_if_completed_within -> nothing changes.
    emulator.clear_requests()
    again = _run(run_playbook, emulator, inv, tmp_path).assert_ok()
    assert posts(emulator) == []
    recap = [line for line in again.stdout.splitlines() if line.startswith("it-") and ": ok=" in line]
    assert len(recap) == 4 and all(re.search(r"changed=0\s", line) for line in recap), recap
    rows = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))
    assert {r["status"] for r in rows.values()} == {"Skipped"}
    assert {r["action"] for r in rows.values()} == {"skip"}


def test_faulting_ring_stops_the_rollout(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary"), vmss("it-r1-ok", "ring1"),
            vmss("it-r1-bad", "ring1", capacity=10, failing_instances=[0, 1]),
            vmss("it-r2-a", "ring2"), vmss("it-r2-b", "ring2")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)

    result = _run(run_playbook, emulator, inv, tmp_path).assert_failed()
    assert result.rc == 2
    # The failure names Azure's code and message and the counts.
    assert "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade" in result.stdout
    assert re.search(r"it-r1-bad \(rg-it\): Faulted: .*succeeded 0, failed 2", result.stdout)
    # ring2 never started: no request at all for its scale sets.
    started = posts(emulator, START)
    assert len(started) == 3
    assert not [e for e in emulator.requests if "/it-r2-" in e["path"]]
    rows = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))
    assert rows["it-r1-bad"]["status"] == "Faulted"
    assert rows["it-r1-bad"]["error_code"] == "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
    assert rows["it-r1-bad"]["failed_instances"] == 2
    assert rows["it-r1-ok"]["status"] == "Completed"      # the rest of the ring finished its upgrade
    assert rows["it-r2-a"]["status"] == rows["it-r2-b"]["status"] == "NotStarted"


def test_upgrade_already_running_is_attached(emulator, run_playbook, tmp_path):
    # 5 batches of 30 sim s at 10x: the running upgrade ends ~14 s (real) after the scenario loads.
    sets = [vmss("it-rolling", "canary", capacity=5, batch_seconds=30,
                 existing_upgrade={"status": "RollingForward", "started_seconds_ago": 10, "kind": "extension"})]
    emulator.load(scenario(sets, time_scale=10.0))
    inv = write_inventory(tmp_path, sets)
    result = _run(run_playbook, emulator, inv, tmp_path).assert_ok()
    assert posts(emulator, START) == []
    row = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))["it-rolling"]
    assert row["action"] == "attach" and row["status"] == "Completed" and row["changed"] is False
    assert "it-rolling: RollingForward" in result.stdout


def test_timeout_cancels_and_fails(emulator, run_playbook, tmp_path):
    sets = [vmss("it-slow", "canary", capacity=10, batch_seconds=3600)]
    emulator.load(scenario(sets, time_scale=1.0))
    inv = write_inventory(tmp_path, sets, extra_vars={"vmss_extension_rollout_wait_timeout": 4,
                                                      "vmss_extension_rollout_on_timeout": "cancel"})
    result = _run(run_playbook, emulator, inv, tmp_path).assert_failed()
    assert posts(emulator, "/rollingUpgrades/cancel"), emulator.requests
    assert re.search(r"it-slow \(rg-it\): TimedOut: Timed out after 4s .*cancelled", result.stdout)
    row = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))["it-slow"]
    assert row["status"] == "TimedOut" and row["failed"] is True


def test_check_mode_changes_nothing(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary"), vmss("it-r1", "ring1"),
            vmss("it-r1-rolling", "ring1", batch_seconds=36000,
                 existing_upgrade={"status": "RollingForward", "started_seconds_ago": 10})]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    result = _run(run_playbook, emulator, inv, tmp_path, check=True).assert_ok()
    assert posts(emulator) == []
    rows = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))
    assert rows["it-canary"]["status"] == "WouldStart" and rows["it-canary"]["changed"] is True
    assert rows["it-r1-rolling"]["status"] == "WouldAttach" and rows["it-r1-rolling"]["changed"] is False
    assert "check mode" in result.stdout


def test_invalid_variables_fail_before_any_request(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets, extra_vars={"vmss_extension_rollout_wait_timeout": -5})
    result = _run(run_playbook, emulator, inv, tmp_path).assert_failed()
    assert "vmss_extension_rollout_wait_timeout must be an integer from 1 to 86400 (seconds) (got -5)" in result.stdout
    assert [e for e in emulator.requests if e["kind"] != "token"] == []


def test_rollout_report_html_renders(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary"), vmss("it-r1-bad", "ring1", failing_instances=[0]), vmss("it-r2", "ring2")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    _run(run_playbook, emulator, inv, tmp_path).assert_failed()
    dom = chromium_dom(tmp_path / "reports" / "vmss_extension_rollout.html", tmp_path)
    assert re.search(r'<tr class="completed" data-name="it-canary" data-state="Completed" data-percent="100.0">', dom)
    assert 'data-name="it-r1-bad" data-state="Faulted"' in dom
    assert 'data-name="it-r2" data-state="NotStarted"' in dom
    assert 'class="bar"' in dom
