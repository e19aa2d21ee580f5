# -*- coding: utf-8 -*-
"""The rollout run the way AWX / AAP runs a job, without a container.

AWX syncs the inventory source (``ansible-inventory --list --export`` over the inventory plugin), writes the
result into the job's private data dir as an inventory script, puts the credentials' environment variables in
``env/envvars`` and the job template's extra variables in ``env/extravars``, then streams the job through
``ansible-runner transmit | ansible-runner worker | ansible-runner process``. The job output (the progress blocks
of the batch step too) reaches AWX only as job events; this test checks that they arrive while the batch is still
running, that every scale set's result is in the events, and that a faulting canary fails the job.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

from tests.helpers import COLLECTIONS_DIR

from tests.helpers import PLAYBOOKS, plain, posts, scenario, vmss

PLAYBOOK = "playbooks/vmss_extension_rollout.yml"
BATCH_ACTION = "azure_ops.rollout.vmss_rollout_batch"
# Time runs 20x: one instance per rolling batch (20 % of 5), 50 simulated seconds each. awx-canary-ok completes
# after 5 batches (12.5 s real); awx-canary-bad faults after its 4th batch (10 s real: 1 of 4 upgraded failed, over
# the policy's 20 %). The canary ring's batch step therefore lasts ~12.5 s, and the job fails there: ring1 and
# ring2 never start.
TIME_SCALE = 20.0
FLEET = [
    vmss("awx-canary-ok", "canary", capacity=5, batch_seconds=50),
    vmss("awx-canary-bad", "canary", capacity=5, batch_seconds=50, failing_instances=[3]),
    vmss("awx-r1", "ring1"),
    vmss("awx-r2", "ring2"),
]
CANARY = {"awx-canary-ok": "Completed", "awx-canary-bad": "Faulted"}
PIPELINE_TIMEOUT = 90
SUMMARY_LINE = re.compile(r"^\s*\[\s*[0-9hms]+\] 2 scale sets: ", re.M)
SCALE_SET_LINE = re.compile(r"^\s*awx-canary-ok\s+RollingForward\s+\d+%\s+ok \d+", re.M)


def _runner_env():
    """The pipeline's environment: this venv's tools first on PATH, no ANSIBLE_*/AZURE_* from the test process
    (the job gets those only through env/envvars, as in AWX)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "AZURE_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _sync_inventory(source: Path, job_env: dict) -> dict:
    """What an AWX inventory update does with an inventory source: ``ansible-inventory --list --export``."""
    env = dict(_runner_env(), **job_env)
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(source), "--list",
                           "--export"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and "Failed to parse" not in proc.stderr, proc.stderr
    return plain(json.loads(proc.stdout))


def _private_data_dir(tmp_path: Path, emulator) -> Path:
    pdd = tmp_path / "job"
    project = pdd / "project"
    shutil.copytree(PLAYBOOKS, project / "playbooks")
    job_env = {k: str(v) for k, v in emulator.env().items()}  # what a custom credential type would inject
    job_env.update({"ANSIBLE_COLLECTIONS_PATH": str(COLLECTIONS_DIR), "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
                    "ANSIBLE_NOCOLOR": "1", "ANSIBLE_RETRY_FILES_ENABLED": "false"})
    # Inventory source "sourced from a project": the inventory plugin's config file in the project, synced once.
    inventory = _sync_inventory(project / "playbooks" / "inventory" / "demo" / "demo.azure_vmss.yml", job_env)
    assert set(inventory["canary"]["hosts"]) == set(CANARY), inventory
    # The job's inventory: a script printing the synced inventory, as AWX writes it.
    (pdd / "inventory").mkdir(parents=True)
    script = pdd / "inventory" / "hosts"
    script.write_text("#!%s\nimport json\nprint(json.dumps(%r))\n" % (sys.executable, inventory))
    script.chmod(0o755)
    (pdd / "env").mkdir()
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(job_env))
    extravars = {"rollout_report_dir": str(tmp_path / "reports"), "vmss_extension_rollout_poll_interval": 1,
                 "vmss_extension_rollout_progress_interval": 1, "vmss_extension_rollout_wait_timeout": 120}
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    return pdd


def _run_pipeline(pdd: Path):
    """``transmit | worker | process`` as one shell pipeline, bounded; returns (rc, output, first-seen times of
    the event files that ``process`` wrote, in seconds since the epoch)."""
    runner = shlex.quote(str(Path(sys.executable).parent / "ansible-runner"))
    command = ("set -o pipefail; {r} transmit {d} -p {p} | {r} worker | {r} process {d}"
               .format(r=runner, d=shlex.quote(str(pdd)), p=PLAYBOOK))
    events_dir = pdd / "artifacts" / "job_events"  # where `process` writes them
    seen, stop = {}, threading.Event()

    def scan():
        if events_dir.is_dir():
            now = time.time()
            for name in os.listdir(events_dir):
                seen.setdefault(name, now)

    def watch():  # the receiving end, as AWX would see it: when did each event file appear
        while not stop.wait(0.1):
            scan()
        scan()  # the files of the last 0.1 s count as seen at the end

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    proc = subprocess.Popen(["bash", "-c", command], env=_runner_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        output = proc.communicate(timeout=PIPELINE_TIMEOUT)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output = proc.communicate()[0]
        raise AssertionError("ansible-runner pipeline did not end within %ss:\n%s" % (PIPELINE_TIMEOUT, output))
    finally:
        stop.set()
        watcher.join()
    return proc.returncode, output, seen


def _created(event) -> float:
    """The event's ``created`` time (ISO, UTC, set in the ansible-playbook process) as epoch seconds."""
    stamp = datetime.datetime.fromisoformat(event["created"])
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


def test_rollout_through_ansible_runner_streams_live_progress(emulator, tmp_path):
    emulator.load(scenario(FLEET, time_scale=TIME_SCALE))
    pdd = _private_data_dir(tmp_path, emulator)
    began = time.time()
    rc, output, seen = _run_pipeline(pdd)
    wall = time.time() - began

    artifacts = pdd / "artifacts"
    events_dir = artifacts / "job_events"
    assert events_dir.is_dir(), output
    files = sorted(events_dir.glob("*.json"))
    events = [json.loads(path.read_text()) for path in files]
    assert set(seen) == {path.name for path in files}, output
    for path, event in zip(files, events):
        event["_seen"] = seen[path.name]
    events.sort(key=lambda e: e["counter"])
    context = "\n".join(e.get("stdout", "") for e in events)

    # (c) The faulting canary failed the job: AWX shows it failed (ansible-playbook's rc 2), ring1/ring2 untouched.
    assert (artifacts / "status").read_text().strip() == "failed", output
    assert (artifacts / "rc").read_text().strip() == "2", output
    assert rc == 2, output  # `ansible-runner process` exits with the job's rc
    assert len(posts(emulator, "/extensionRollingUpgrade")) == 2
    assert not [e for e in emulator.requests if "/awx-r1" in e["path"] or "/awx-r2" in e["path"]]

    # The batch task of the canary ring: its start and its result event.
    start = [e for e in events if e["event"] == "playbook_on_task_start"
             and e.get("event_data", {}).get("task_action") == BATCH_ACTION]
    assert len(start) == 1, context
    task_uuid = start[0]["event_data"]["task_uuid"]
    done = [e for e in events if e["event"] == "runner_on_ok" and e.get("event_data", {}).get("task_uuid") == task_uuid]
    assert len(done) == 1, context
    t_start, t_done = _created(start[0]), _created(done[0])
    batch = t_done - t_start
    assert 10 <= batch <= 40, batch

    # (a) Progress lines are job events created while the batch step was still running, spread over its run, and
    # they reached the receiving end (process's job_events) before the batch task's result did.
    # (verbose events that AWX attaches to the batch task: its task_uuid is their parent)
    progress = [e for e in events if e["event"] == "verbose" and e.get("event_data", {}).get("task_uuid") == task_uuid]
    summaries = [e for e in progress if SUMMARY_LINE.search(e["stdout"])]
    per_scale_set = [e for e in progress if SCALE_SET_LINE.search(e["stdout"])]
    live = [e for e in summaries if _created(e) < t_done]
    assert len(live) >= 5, context
    offsets = [round(_created(e) - t_start, 1) for e in live]
    assert offsets[0] <= 5.0, offsets                      # the first block comes soon after the start
    assert offsets[-1] - offsets[0] >= batch / 2, offsets  # the blocks come all along the batch, not in one burst
    assert len([e for e in per_scale_set if _created(e) < t_done - 2]) >= 3, context
    arrived = [round(done[0]["_seen"] - e["_seen"], 1) for e in live]
    assert max(arrived) >= batch / 2, arrived              # written by `process` long before the result came

    # (b) Each canary scale set's record is in the events: the batch task's result (res.results, one record per scale
    # set; Ansible registers it on every host of the batch, the role sets no fact per host), and the Faulted one
    # failed its host with Azure's error code.
    results = (done[0]["event_data"].get("res") or {}).get("results") or {}
    assert {host: record["status"] for host, record in results.items()} == CANARY, context
    assert results["awx-canary-bad"]["error_code"] == "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
    failed = {e["event_data"]["host"]: e for e in events if e["event"] == "runner_on_failed"}
    assert set(failed) == {"awx-canary-bad"}, context
    assert "Faulted" in failed["awx-canary-bad"]["event_data"]["res"]["msg"]
    stats = [e for e in events if e["event"] == "playbook_on_stats"]
    assert stats and stats[0]["event_data"]["failures"] == {"awx-canary-bad": 1}

    print("batch task %.1f s (created: start -> ok); progress blocks at +%s s; arrived at process %s s before the "
          "result; %d per-scale-set lines; %d events; wall %.1f s" % (batch, offsets, arrived, len(per_scale_set),
                                                                      len(events), wall))
