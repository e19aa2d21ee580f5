# -*- coding: utf-8 -*-
"""The example rulebook under the real ansible-rulebook (Java, Drools) against the emulator."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ansible_collections.azure_ops.rollout.plugins.module_utils import _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient

from tests.helpers import FAST_VARS, REPO_ROOT, SUB, scenario, vmss

RULEBOOK = REPO_ROOT / "extensions" / "eda" / "rulebooks" / "rollout_events.yml"
# JVM and Drools start, the first rounds, one ansible-playbook run: generous, but bounded.
FIRE_WITHIN = 120


def _wait_for(predicate, timeout, what, proc, output):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError("ansible-rulebook exited (rc %s) before %s:\n%s" % (proc.returncode, what, output.read_text()))
        time.sleep(0.2)
    raise AssertionError("%s did not happen within %s s:\n%s" % (what, timeout, output.read_text()))


CONTOSO = {"name": "ContosoAgent", "publisher": "Contoso", "type": "Agent", "typeHandlerVersion": "3.0",
           "autoUpgradeMinorVersion": True, "installed": "3.0.10"}
HEALTH = {"name": "HealthExtension", "publisher": "Microsoft.ManagedServices", "type": "ApplicationHealthLinux",
          "typeHandlerVersion": "1.0", "autoUpgradeMinorVersion": True}


def _fleet(*contoso_versions, faulted=False):
    """eda-ok (current, completes its upgrade), eda-faulty (behind, faults; ``faulted``: its latest upgrade already
    Faulted), eda-drift (current until Contoso publishes more)."""
    fleet = [vmss("eda-ok", "canary", capacity=2, extensions=[dict(HEALTH, installed="latest")]),
             vmss("eda-faulty", "ring1", failing_instances=[0, 1],
                  **({"existing_upgrade": {"status": "Faulted", "finished_seconds_ago": 60}} if faulted else {})),
             vmss("eda-drift", "ring2", capacity=2, batch_seconds=10, extensions=[CONTOSO])]
    return scenario(fleet, time_scale=10.0,
                    extension_catalog=[{"publisher": "Contoso", "type": "Agent", "versions": list(contoso_versions)}])


def _posts(emulator):
    return [r["path"].split("/")[-2] for r in emulator.requests
            if r["method"] == "POST" and r["path"].endswith("/extensionRollingUpgrade")]


def _rings_inventory(tmp_path, notify_log, rings):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {
        "vars": dict(FAST_VARS, ansible_connection="local", resource_group="rg-it",
                     rollout_events_notify_log=str(notify_log)),
        "children": {"vmss": {"children": dict((ring, {"hosts": dict((h, {}) for h in hosts)})
                                               for ring, hosts in rings.items())}}}}))
    return inventory


def _start_rulebook(emulator, tmp_path, inventory, reports):
    variables = tmp_path / "vars.yml"
    variables.write_text(yaml.safe_dump({"rollout_events_resource_groups": ["rg-it"], "rollout_events_interval": 0.5,
                                         "rollout_events_drift_interval": 0.5, "rollout_events_list_interval": 0,
                                         "rollout_events_report_dir": str(reports)}))
    env = dict(os.environ)
    env.update({k: str(v) for k, v in emulator.env().items()})
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")  # as `source build/emulator.env` does (hack/emulator.sh)
    output = tmp_path / "ansible-rulebook.log"
    with output.open("wb") as sink:
        proc = subprocess.Popen([os.path.join(venv_bin, "ansible-rulebook"), "-r", str(RULEBOOK), "-i", str(inventory),
                                 "--vars", str(variables)],
                                cwd=str(REPO_ROOT), env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
    return proc, output


def _descendants(pid):
    """Every process started under ``pid`` (from /proc: ansible-runner starts ansible-playbook in a session of its
    own, so a process group does not reach it)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _stop(proc):
    """Stop ansible-rulebook and every ansible-playbook it started: a rollout still watching must not outlive the test."""
    started = _descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pid in started:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _client(emulator):
    return AzureClient({"subscription_id": SUB, "client_id": emulator.client_id, "secret": emulator.client_secret,
                        "tenant": emulator.tenant_id, "authority_host": emulator.base_url,
                        "resource_manager_endpoint": emulator.base_url, "ca_path": emulator.ca_path})


def _rollout_runs(text):
    """The rollout runs in the log: distinct canary batch headers (ansible-rulebook logs a failed run's output twice)."""
    return len(set(re.findall(r"ring canary: \d+ scale sets?, started (\S+);", text)))


def test_the_rulebook_notifies_a_fault_and_a_drift_behind_it_stops_at_the_fault(emulator, tmp_path):
    emulator.load(_fleet("3.0.1", "3.0.10"))
    notify_log = tmp_path / "notify.jsonl"
    reports = tmp_path / "reports"
    inventory = _rings_inventory(tmp_path, notify_log, {"canary": ["eda-ok"], "ring1": ["eda-faulty"],
                                                        "ring2": ["eda-drift"]})
    proc, output = _start_rulebook(emulator, tmp_path, inventory, reports)
    try:
        # The sources run steadily once they have read the three scale sets three times (their baseline);
        # ansible-rulebook's own start (Drools) can hold its event loop for seconds after the first round.
        _wait_for(lambda: (len([r for r in emulator.requests if r["path"].endswith("/rollingUpgrades/latest")]) >= 9
                           and len([r for r in emulator.requests if r["path"].endswith("/virtualMachines")]) >= 9),
                  FIRE_WITHIN, "the sources' first rounds", proc, output)
        client = _client(emulator)
        # 1. A fault: eda-faulty faults after its first batch (60 sim s = 6 s); eda-ok completes after 2 batches (12 s).
        started = time.monotonic()
        for name in ("eda-ok", "eda-faulty"):
            _vmss.start_upgrade(client, SUB, "rg-it", name)
        _wait_for(lambda: notify_log.exists() and notify_log.read_text().strip(), FIRE_WITHIN, "the notification", proc,
                  output)
        fired_after = time.monotonic() - started
        _wait_for(lambda: _vmss.read_latest(client, SUB, "rg-it", "eda-ok").upgrade["running_status"]["code"] == "Completed",
                  60, "eda-ok completing", proc, output)
        time.sleep(3)  # a few more rounds: no repeat, and eda-ok's completion is no fault
        assert sorted(_posts(emulator)) == ["eda-faulty", "eda-ok"]  # ours; the rules started nothing
        # 2. Drift: Contoso publishes 3.1.0, in reach of eda-drift's autoUpgradeMinorVersion (the reload also
        # revokes every token: the sources must carry on with new ones; it keeps eda-faulty Faulted). eda-drift is in
        # ring2, behind ring1's fault:
        # the rollout runs once, rings in order, and stops at the Refused eda-faulty; eda-drift is not started.
        emulator.load(_fleet("3.0.1", "3.0.10", "3.1.0", faulted=True))
        _wait_for((reports / "vmss_extension_rollout.json").exists, FIRE_WITHIN, "the rollout's report", proc,
                  output)
        _wait_for(lambda: "PLAY RECAP" in output.read_text(), 60, "the rollout's end", proc, output)
        time.sleep(5)  # more rounds and a throttle window: no second run
    finally:
        _stop(proc)
    lines = [json.loads(line) for line in notify_log.read_text().splitlines()]
    # The fault, once; the reload's Faulted upgrade of eda-faulty (another start time) is another upgrade, which the
    # source may have notified too before it stopped.
    assert [line["previous_status"] for line in lines] in (["RollingForward"], ["RollingForward", "Faulted"]), lines
    assert {line["host"] for line in lines} == {"eda-faulty"}
    record = lines[0]
    assert (record["host"], record["kind"], record["status"], record["previous_status"]) == (
        "eda-faulty", "vmss_rolling_upgrade", "Faulted", "RollingForward")
    assert record["error_code"] == "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
    assert record["rule"] == "Notify when a rolling upgrade faults"
    assert fired_after < FIRE_WITHIN
    print("the fault rule fired %.1f s after the upgrades started (the fault itself comes after 6 s)" % fired_after)
    assert _posts(emulator) == []  # the drift rule's run started nothing: ring1's fault stops it before ring2
    report = json.loads((reports / "vmss_extension_rollout.json").read_text())
    assert report["headline"].startswith("Stopped in ring ring1: eda-faulty Refused"), report["headline"]
    rows = {row["host"]: row["status"] for row in report["rows"]}
    assert rows["eda-drift"] == "NotStarted" and rows["eda-faulty"] == "Refused"
    text = output.read_text()
    assert _rollout_runs(text) == 1, text
    assert "Traceback" not in text, text
    assert emulator.client_secret not in text


def test_a_drift_present_at_start_is_rolled_out_once_ring_after_ring(emulator, tmp_path):
    # Two scale sets already behind when the rulebook starts, in two rings: one run, canary first.
    fleet = [vmss("eda-c", "canary", capacity=2, batch_seconds=10, extensions=[CONTOSO]),
             vmss("eda-r1", "ring1", capacity=2, extensions=[dict(HEALTH, installed="latest")]),
             vmss("eda-r2", "ring2", capacity=2, batch_seconds=10, extensions=[CONTOSO])]
    emulator.load(scenario(fleet, time_scale=10.0, extension_catalog=[
        {"publisher": "Contoso", "type": "Agent", "versions": ["3.0.1", "3.0.10", "3.1.0"]}]))
    reports = tmp_path / "reports"
    inventory = _rings_inventory(tmp_path, tmp_path / "notify.jsonl", {"canary": ["eda-c"], "ring1": ["eda-r1"],
                                                                       "ring2": ["eda-r2"]})
    proc, output = _start_rulebook(emulator, tmp_path, inventory, reports)
    try:
        _wait_for(lambda: len(_posts(emulator)) == 2, FIRE_WITHIN, "the rollout of the drifted scale sets", proc, output)
        _wait_for(lambda: "PLAY RECAP" in output.read_text(), 60, "the rollout's end", proc, output)
        time.sleep(5)  # more rounds and a throttle window: the scale sets are current, no second run
    finally:
        _stop(proc)
    assert _posts(emulator) == ["eda-c", "eda-r2"]  # rings in order; eda-r1 is current
    report = json.loads((reports / "vmss_extension_rollout.json").read_text())
    assert {row["host"]: row["status"] for row in report["rows"]} == {
        "eda-c": "Completed", "eda-r1": "Current", "eda-r2": "Completed"}
    text = output.read_text()
    assert _rollout_runs(text) == 1, text
    assert "Traceback" not in text, text
