# -*- coding: utf-8 -*-
"""Soak: the rollout playbook (one batch step per ring) over a fleet while the emulator injects faults.

Short form (CI, part of `make test`): 100 scale sets, about 2 minutes. Long form: `make soak`
(SOAK_SCALE_SETS=300 SOAK_FAULT_SCALE=2). Bounded in time (subprocess timeout) and requests (asserted);
loopback only (the emulator).

Azure's rate limits are on (ARM buckets, Compute policies: the fleet scenario's defaults), and on top of them
the faults: 429 bursts with Retry-After, 503 and 500, dropped connections (before and after the service
acted), slow responses, malformed JSON, and every token expiring mid-wait (twice). Every 10th scale set
faults by policy (half its instances fail).
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from tests.emulator.scenarios import fleet

from tests.helpers import emulator_env, issued_tokens

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = REPO / "playbooks" / "vmss_extension_rollout.yml"

SCALE_SETS = int(os.environ.get("SOAK_SCALE_SETS", "100"))
FAULT_SCALE = float(os.environ.get("SOAK_FAULT_SCALE", "1"))
TIME_SCALE = float(os.environ.get("SOAK_TIME_SCALE", "60"))
FORKS = int(os.environ.get("SOAK_FORKS", "50"))
WAIT_TIMEOUT = 240          # per scale set, seconds (the module's hard deadline)
RUN_BOUND = float(os.environ.get("SOAK_RUN_BOUND", "900"))   # whole playbook


def faults(scale):
    def p(x):
        return min(0.5, x * scale)

    arm_get = {"kind": "arm", "method": "GET"}
    return [
        {"name": "burst-429", "match": arm_get, "action": {"status": 429, "retry_after": 1}, "probability": p(0.08)},
        {"name": "get-503", "match": arm_get, "action": {"status": 503}, "probability": p(0.03)},
        {"name": "get-500", "match": arm_get, "action": {"status": 500}, "probability": p(0.02)},
        {"name": "get-drop", "match": arm_get, "action": {"drop": True}, "probability": p(0.02)},
        {"name": "get-slow", "match": arm_get, "action": {"delay": 1.5}, "probability": p(0.03)},
        {"name": "latest-malformed", "match": {"kind": "arm", "method": "GET", "path_regex": "rollingUpgrades/latest$"},
         "action": {"malformed_json": True}, "probability": p(0.03)},
        {"name": "post-429", "match": {"kind": "arm", "method": "POST"}, "action": {"status": 429, "retry_after": 1},
         "probability": p(0.1)},
        # A count, not a probability: at 0.05 over ~100 starts it sometimes fired no time at all.
        {"name": "post-503", "match": {"kind": "arm", "method": "POST"}, "action": {"status": 503}, "times": 3, "after": 10},
        # The service started the upgrade but the answer was lost: the module must not start it again.
        {"name": "post-drop-applied", "match": {"kind": "arm", "method": "POST"}, "action": {"drop": True, "apply": True},
         "times": 2, "after": 5},
        {"name": "expire-tokens", "match": arm_get, "action": {"expire_tokens": True}, "times": 2, "after": 60},
    ]


def _inventory(path, scenario):
    groups = {"canary": {}, "ring1": {}, "ring2": {}}
    for vmss in scenario["scale_sets"]:
        groups[vmss["tags"]["ring"]][vmss["name"]] = {"resource_group": vmss["resource_group"]}
    path.write_text(json.dumps({"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                                        "children": {g: {"hosts": h} for g, h in groups.items()}}}))


def _code(vmss_state):
    latest = vmss_state.get("latest") or {}
    return ((latest.get("properties") or {}).get("runningStatus") or {}).get("code")


@pytest.mark.soak
@pytest.mark.slow
def test_soak_rollout_under_faults(emulator, run_playbook, tmp_path):
    scenario = fleet(SCALE_SETS, fault_every=10, time_scale=TIME_SCALE, current_every=None)
    scenario["seed"] = 5
    emulator.load(scenario)
    rules = faults(FAULT_SCALE)
    for rule in rules:
        emulator.add_fault(rule)
    inv = tmp_path / "inventory.json"
    _inventory(inv, scenario)
    report_dir = tmp_path / "reports"
    started = time.monotonic()
    res = run_playbook(PLAYBOOK, inventory=inv, emulator=emulator_env(emulator), timeout=RUN_BOUND, args=["-f", str(FORKS)],
                       extra_vars={"rollout_max_fail_percentage": 100, "rollout_report_dir": str(report_dir),
                                   "vmss_extension_rollout_poll_interval": 2, "vmss_extension_rollout_progress_interval": 5,
                                   "vmss_extension_rollout_wait_timeout": WAIT_TIMEOUT,
                                   "vmss_extension_rollout_skip_if_completed_within": 0,
                                   "vmss_extension_rollout_max_concurrent_starts": 0})
    runtime = time.monotonic() - started
    log = emulator.requests
    state = {s["name"]: s for s in emulator.state()["scale_sets"]}
    output = res.stdout + res.stderr
    summary = {
        "scale_sets": SCALE_SETS, "runtime_s": round(runtime, 1), "rc": res.rc,
        "requests": len(log), "arm": sum(1 for r in log if r["kind"] == "arm"),
        "token": sum(1 for r in log if r["kind"] == "token"),
        "faults_fired": {r["name"]: r["fired"] for r in emulator.state()["faults"]},
    }
    out_dir = REPO / "tests" / "output" / "soak"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    (out_dir / "playbook.log").write_text(output)
    print("soak summary:", json.dumps(summary))

    # 0. the faults really happened (a soak that injected nothing proves nothing)
    assert all(fired for fired in summary["faults_fired"].values()), summary["faults_fired"]

    # Which starts the service accepted (202), also when the answer was then dropped on purpose (post-drop-applied).
    # A dropped start the service did not apply (its token had just expired under expire-tokens, say) started
    # nothing: the client cannot know, must not send it again, and must report the scale set Failed, not guess.
    accepted, unapplied = {}, set()
    for r in log:
        if r["method"] == "POST" and r["path"].endswith("/extensionRollingUpgrade"):
            name = r["path"].split("/virtualMachineScaleSets/")[1].split("/")[0]
            if r["status"] == 202 or (r["dropped"] and r.get("dropped_status") == 202):
                accepted[name] = accepted.get(name, 0) + 1
            elif r["dropped"] and r.get("fault") == "post-drop-applied":
                unapplied.add(name)
    unapplied -= set(accepted)

    # 1. every scale set ended as its policy says: fault_every-th Faulted, the others Completed (none: start not applied)
    wrong = {}
    for index, vmss in enumerate(scenario["scale_sets"]):
        expected = None if vmss["name"] in unapplied else "Faulted" if "fail_percent" in vmss else "Completed"
        got = _code(state[vmss["name"]])
        if got != expected:
            wrong[vmss["name"]] = (expected, got)
    assert not wrong, "final state wrong for %d scale sets: %s\n%s" % (len(wrong), dict(list(wrong.items())[:10]), output[-4000:])

    # 2. no upgrade started twice: at most one accepted start per scale set, no 409 "already running"
    assert all(n == 1 for n in accepted.values()), {k: v for k, v in accepted.items() if v != 1}
    assert len(accepted) + len(unapplied) == SCALE_SETS
    assert not [r for r in log if r["status"] == 409], "a second start was attempted"

    # 3. nothing hung: the run finished inside its bound, every scale set's step inside its deadline
    assert runtime < RUN_BOUND
    report = json.loads((report_dir / "vmss_extension_rollout.json").read_text())
    rows = {row["name"]: row for row in report["rows"]}
    assert all(row["elapsed"] is not None and row["elapsed"] <= WAIT_TIMEOUT + 5 for row in rows.values()), rows

    # 4. the report has every scale set with its true outcome; failures carry a clear message
    assert set(rows) == set(state), set(state) ^ set(rows)
    assert {name: row["status"] for name, row in rows.items()
            if row["status"] != (_code(state[name]) or "Failed")} == {}
    assert all("ConnectionError" in rows[name]["msg"] for name in unapplied), [rows[name] for name in unapplied]
    for name, row in rows.items():
        if _code(state[name]) == "Faulted":
            assert row.get("failed"), row
            text = (row.get("error_code") or "") + " " + (row.get("msg") or "")
            # Even when the answer to its start was lost (post-drop-applied), the module asks the service and
            # reports the policy fault itself.
            assert "MaxUnhealthy" in text, row
        if row.get("failed"):
            assert row.get("msg") and "Traceback" not in row["msg"] and "MODULE FAILURE" not in row["msg"], row
    assert "MODULE FAILURE" not in output and "Traceback" not in output

    # 5. no token or secret anywhere in the output, the report or the progress files
    secrets = [emulator.client_secret] + issued_tokens(emulator)
    texts = [output] + [p.read_text(errors="replace") for p in report_dir.rglob("*") if p.is_file()]
    for text in texts:
        assert not any(s in text for s in secrets)
        assert "Bearer " not in text

    # 6. bounded requests: one token per batch step (three rings), plus the replacements of the expired and the
    #    refused ones; polls bounded by the deadline; no storm
    assert summary["token"] <= 3 * 4, summary
    assert summary["arm"] <= SCALE_SETS * (WAIT_TIMEOUT / 2 + 10), summary
