# -*- coding: utf-8 -*-
"""The example rulebook under the real ansible-rulebook (Java, Drools) against the emulator."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from ansible_collections.azure_ops.rollout.plugins.module_utils import _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient

from .conftest import REPO_ROOT, SUB, scenario, vmss

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


def test_the_rulebook_notifies_for_a_faulting_scale_set_only(emulator, tmp_path):
    fleet = [vmss("eda-ok", "canary", capacity=2), vmss("eda-faulty", "ring1", failing_instances=[0, 1])]
    emulator.load(scenario(fleet, time_scale=10.0))
    notify_log = tmp_path / "notify.jsonl"
    hosts = {name: {"ansible_connection": "local"} for name in ("eda-ok", "eda-faulty", "not-watched")}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"hosts": hosts, "vars": {
        "ansible_python_interpreter": sys.executable, "rollout_events_notify_log": str(notify_log)}}}))
    variables = tmp_path / "vars.yml"
    variables.write_text(yaml.safe_dump({"rollout_events_resource_groups": ["rg-it"], "rollout_events_interval": 0.5}))
    env = dict(os.environ)
    env.update({k: str(v) for k, v in emulator.env().items()})
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")  # ansible-runner starts the venv's ansible-playbook
    output = tmp_path / "ansible-rulebook.log"
    with output.open("wb") as sink:
        proc = subprocess.Popen([os.path.join(venv_bin, "ansible-rulebook"), "-r", str(RULEBOOK), "-i", str(inventory),
                                 "--vars", str(variables)],
                                cwd=str(REPO_ROOT), env=env, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT)
    try:
        # The source runs steadily once it has read both scale sets three times (their baseline: never upgraded);
        # ansible-rulebook's own start (Drools) can hold its event loop for seconds after the first round.
        _wait_for(lambda: len([r for r in emulator.requests if r["path"].endswith("/rollingUpgrades/latest")]) >= 6,
                  FIRE_WITHIN, "the source's first rounds", proc, output)
        client = AzureClient({"subscription_id": SUB, "client_id": emulator.client_id, "secret": emulator.client_secret,
                              "tenant": emulator.tenant_id, "authority_host": emulator.base_url,
                              "resource_manager_endpoint": emulator.base_url, "ca_path": emulator.ca_path})
        started = time.monotonic()
        for name in ("eda-ok", "eda-faulty"):
            _vmss.start_upgrade(client, SUB, "rg-it", name)
        # eda-faulty faults after its first batch (60 sim s = 6 s); eda-ok completes after 2 batches (12 s).
        _wait_for(lambda: notify_log.exists() and notify_log.read_text().strip(), FIRE_WITHIN, "the notification", proc,
                  output)
        fired_after = time.monotonic() - started
        _wait_for(lambda: _vmss.read_latest(client, SUB, "rg-it", "eda-ok").upgrade["running_status"]["code"] == "Completed",
                  60, "eda-ok completing", proc, output)
        time.sleep(3)  # a few more rounds: no repeat, and eda-ok's completion is no fault
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    lines = [json.loads(line) for line in notify_log.read_text().splitlines()]
    assert len(lines) == 1, lines
    record = lines[0]
    assert (record["host"], record["kind"], record["status"], record["previous_status"]) == (
        "eda-faulty", "vmss_rolling_upgrade", "Faulted", "RollingForward")
    assert record["error_code"] == "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
    assert record["rule"] == "Notify when a rolling upgrade faults"
    assert fired_after < FIRE_WITHIN
    print("the rule fired %.1f s after the upgrades started (the fault itself comes after 6 s)" % fired_after)
    text = output.read_text()
    assert "Traceback" not in text, text
    assert emulator.client_secret not in text
