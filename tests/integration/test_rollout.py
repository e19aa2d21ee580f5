# -*- coding: utf-8 -*-
"""playbooks/vmss_extension_rollout.yml (the role on the batch step) against the emulator: outcomes, safety, output."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import yaml

from tests.helpers import (PLAYBOOKS, chromium_dom, chromium_screenshot, png_size, posts, read_json, rows_by_name, scenario,
                           vmss, write_inventory)

ROLLOUT = PLAYBOOKS / "vmss_extension_rollout.yml"
START = "/extensionRollingUpgrade"
REPORT = "vmss_extension_rollout.json"


def _run(run_playbook, emulator, inv, tmp_path, **kwargs):
    # Most tests need fewer than three rings: empty rings are allowed unless a test is about them.
    extra = {"rollout_report_dir": str(tmp_path / "reports"), "rollout_allow_empty_rings": True}
    extra.update(kwargs.pop("extra_vars", {}))
    return run_playbook(ROLLOUT, inventory=inv, emulator=emulator, extra_vars=extra, **kwargs)


def _report(tmp_path):
    return read_json(tmp_path / "reports" / REPORT)


def _tokens(emulator):
    return [e for e in emulator.requests if e["kind"] == "token"]


def _batch_output(stdout, ring):
    """The lines the batch step of ``ring`` printed: its header up to the end of its task."""
    start = stdout.index("ring %s: " % ring)
    return stdout[start:stdout.index("\nok: [", start)].splitlines()


def test_clean_rollout_then_rerun_changes_nothing(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary"), vmss("it-r1-a", "ring1", batch_seconds=120),
            vmss("it-r1-b", "ring1", rg="rg-it2", location="westeurope"),
            vmss("it-r2", "ring2")]
    emulator.load(scenario(sets))
    # Time runs 150x in the emulator, so the "same night" window is widened to a simulated day.
    inv = write_inventory(tmp_path, sets, extra_vars={"vmss_extension_rollout_skip_if_completed_within": 86400})

    result = _run(run_playbook, emulator, inv, tmp_path).assert_ok()
    # Live progress from one batch step per ring: a header, lines per changed scale set, a summary per block.
    ring1 = _batch_output(result.stdout, "ring1")
    assert re.match(r"ring ring1: 2 scale sets, started \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00; each waits up to 50s", ring1[0])
    assert any(re.match(r"\s+it-r1-a\s+RollingForward\s+\d+%  ok \d+  failed 0  running \d+  pending \d+  \d+s$", line)
               for line in ring1), ring1
    # The last line of a scale set: its outcome, and the versions from -> to it was started for.
    assert re.match(r"\s+it-r1-a\s+Completed\s+100%  ok 5  failed 0  running 0  pending 0  \d+s  HealthExtension "
                    r"\S+ on 5 -> \S+",
                    [line for line in ring1 if "it-r1-a" in line][-1])
    assert re.match(r"\s+\[\s*\d+s\] 2 scale sets: 2 Completed$", [line for line in ring1 if "] 2 scale sets" in line][-1])
    # The batch step rewrote the report before returning: its headline and path follow the last block.
    assert ring1[-1].startswith("Report: ") and ring1[-1].endswith("vmss_extension_rollout.html")
    assert "Found variable using reserved name" not in result.stdout + result.stderr
    for noise in ("Could not match supplied host pattern", "beyond rollout_rings", "no hosts matched"):
        assert noise not in result.stdout + result.stderr, noise
    report = _report(tmp_path)
    rows = rows_by_name(report)
    assert set(rows) == {s["name"] for s in sets}
    for row in rows.values():
        assert row["status"] == "Completed" and row["action"] == "start" and row["changed"] is True
        assert row["succeeded"] == 5 and row["failed_instances"] == 0 and row["percent"] == 100.0
        assert row["subscription_id"] == emulator.subscription_ids[0]
        assert row["timeline"] and row["started_at"].endswith("+00:00") and row["elapsed"] > 0
    assert [r["ring"] for r in report["rows"]] == ["canary", "ring1", "ring1", "ring2"]
    assert report["summary"] == {"Completed": 4} and report["headline"] == "4 scale sets: 4 Completed."
    assert report["run_started_at"] <= report["run_ended_at"] and report["time_zone"] == "UTC"
    assert len(posts(emulator, START)) == 4
    assert re.search(r"it-r2\s+: ok=\d+\s+changed=1\s", result.stdout)
    # One token per batch step (three rings, one batch each), however many scale sets and polls.
    assert len(_tokens(emulator)) == 3, _tokens(emulator)

    # Second run the same night: every instance now runs the target versions -> Current (decided before
    # skip_if_completed_within), nothing changes.
    emulator.clear_requests()
    again = _run(run_playbook, emulator, inv, tmp_path).assert_ok()
    assert posts(emulator) == []
    recap = [line for line in again.stdout.splitlines() if line.startswith("it-") and ": ok=" in line]
    assert len(recap) == 4 and all(re.search(r"changed=0\s", line) for line in recap), recap
    rows = rows_by_name(_report(tmp_path))
    assert {r["status"] for r in rows.values()} == {"Current"} and {r["action"] for r in rows.values()} == {"current"}


def test_faulting_ring_stops_the_rollout_and_a_rerun_refuses_to_start_it_again(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary"), vmss("it-r1-ok", "ring1"),
            vmss("it-r1-bad", "ring1", capacity=10, failing_instances=[0, 1]),
            vmss("it-r2-a", "ring2"), vmss("it-r2-b", "ring2")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)

    result = _run(run_playbook, emulator, inv, tmp_path).assert_failed()
    assert result.rc == 2
    # One failure line for the failed scale set, naming Azure's code and message and the counts; no JSON blob.
    fatal = [line for line in result.stdout.splitlines() if line.startswith("fatal: ")]
    assert len(fatal) == 1 and fatal[0].startswith("fatal: [it-r1-bad]: FAILED! => "), fatal
    assert re.search(r"it-r1-bad \(rg-it\): Faulted: MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade: "
                     r"Rolling Upgrade failed .*\(succeeded 0, failed 2, in progress 0, pending 8\)", fatal[0])
    assert "rolling_upgrade" not in result.stdout
    # ring2 never started: no request at all for its scale sets.
    assert len(posts(emulator, START)) == 3
    assert not [e for e in emulator.requests if "/it-r2-" in e["path"]]
    report = _report(tmp_path)
    rows = rows_by_name(report)
    assert report["headline"] == ("Stopped in ring ring1: it-r1-bad Faulted "
                                  "(MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade). Not started: ring2.")
    assert rows["it-r1-bad"]["status"] == "Faulted" and rows["it-r1-bad"]["failed_instances"] == 2
    assert rows["it-r1-bad"]["error_code"] == "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
    assert rows["it-r1-ok"]["status"] == "Completed"      # the rest of the ring finished its upgrade
    assert rows["it-r2-a"]["status"] == rows["it-r2-b"]["status"] == "NotStarted"

    # A re-run does not start the Faulted scale set again (if_faulted defaults to fail): Refused, no POST for it.
    emulator.clear_requests()
    again = _run(run_playbook, emulator, inv, tmp_path,
                 extra_vars={"vmss_extension_rollout_skip_if_completed_within": 86400}).assert_failed()
    assert not [p for p in posts(emulator) if "/it-r1-bad/" in p]
    rows = rows_by_name(_report(tmp_path))
    assert rows["it-r1-bad"]["status"] == "Refused" and rows["it-r1-bad"]["action"] == "refuse"
    assert "if_faulted=start" in rows["it-r1-bad"]["msg"] and "Faulted" in again.stdout
    # The exact variable, and the way to override it for this scale set only (a host variable alone is refused).
    assert rows["it-r1-bad"]["refused_by"] == "vmss_extension_rollout_if_faulted"
    assert "-e vmss_extension_rollout_if_faulted=start --limit it-r1-bad" in rows["it-r1-bad"]["msg"]
    assert "-e vmss_extension_rollout_if_faulted=start --limit it-r1-bad" in again.stdout


def test_upgrade_already_running_is_attached_and_a_stopped_run_leaves_it_going(emulator, run_playbook, tmp_path):
    # 5 batches of 30 sim s at 10x: the running upgrade ends ~14 s (real) after the scenario loads.
    sets = [vmss("it-rolling", "canary", capacity=5, batch_seconds=30,
                 existing_upgrade={"status": "RollingForward", "started_seconds_ago": 10, "kind": "extension"})]
    emulator.load(scenario(sets, time_scale=10.0))
    inv = write_inventory(tmp_path, sets)
    result = _run(run_playbook, emulator, inv, tmp_path).assert_ok()
    assert posts(emulator, START) == []
    row = rows_by_name(_report(tmp_path))["it-rolling"]
    assert row["action"] == "attach" and row["status"] == "Completed" and row["changed"] is False
    assert re.search(r"it-rolling\s+RollingForward", result.stdout)
    # Attached, not started by this run, and Azure's own start time (before this run's step began) in the report.
    assert row["start_time"] and row["start_time"][:19] < row["started_at"][:19]
    html = (tmp_path / "reports" / "vmss_extension_rollout.html").read_text()
    assert "attached: started by someone else" in html and "Started in Azure (UTC)" in html


def _as_from_a_terminal():
    """In the child, before ansible-playbook starts: SIGINT and SIGTERM as a shell in a terminal leaves them. A test run
    started in the background of a non-interactive shell (`make test &`) inherits SIGINT ignored, and the batch step
    rightly leaves an ignored signal ignored; the Ctrl-C tests need ansible-playbook as an operator starts it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_ctrl_c_leaves_the_upgrade_running_and_a_rerun_attaches(emulator, tmp_path):
    sets = [vmss("it-long", "canary", capacity=5, batch_seconds=60)]
    emulator.load(scenario(sets, time_scale=10.0))         # ~30 s real for the whole upgrade
    inv = write_inventory(tmp_path, sets)
    env = dict(os.environ, **emulator.env())
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inv), str(ROLLOUT),
           "-e", "rollout_report_dir=%s" % (tmp_path / "reports"), "-e", "rollout_allow_empty_rings=true"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=_as_from_a_terminal)
    try:
        deadline = time.monotonic() + 60
        while not posts(emulator, START) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert posts(emulator, START), "the rollout never started"
        time.sleep(2)
        os.killpg(proc.pid, signal.SIGINT)          # Ctrl-C: the terminal sends SIGINT to the whole group
        out = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # Interrupted in the first batch: the report exists and says the upgrade goes on in Azure; so does the console.
    row = _interrupted_report(tmp_path)["it-long"]
    assert row["status"] == "Interrupted" and row["left_running"] is True and row["action"] == "start"
    assert "Ring canary interrupted: these upgrades are still running in Azure; a re-run attaches: it-long." in out
    # The upgrade goes on in Azure: a re-run finds it running and attaches to it instead of starting a second one.
    emulator.clear_requests()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert posts(emulator, START) == []
    row = rows_by_name(_report(tmp_path))["it-long"]
    assert row["action"] == "attach" and row["status"] == "Completed"


def test_sigterm_of_ansible_playbook_marks_the_report_interrupted(emulator, tmp_path):
    # A cancelled job or a stopped service sends SIGTERM to ansible-playbook alone, not Ctrl-C to its group.
    sets = [vmss("it-term", "canary", capacity=5, batch_seconds=60)]
    emulator.load(scenario(sets, time_scale=10.0))
    inv = write_inventory(tmp_path, sets)
    proc = _start_rollout(emulator, inv, tmp_path, "-e", "rollout_allow_empty_rings=true")
    try:
        _wait_for(lambda: posts(emulator, START), 60, "the start")
        time.sleep(1.5)
        proc.terminate()
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    row = _interrupted_report(tmp_path)["it-term"]
    assert row["status"] == "Interrupted" and row["left_running"] is True


def test_a_killed_ansible_playbook_leaves_a_report_that_says_interrupted(emulator, tmp_path):
    # kill -9 of ansible-playbook: its worker (own session) outlives it; at its next progress block it sees that
    # nobody waits for the batch any more, marks the report and ends, instead of watching on and reporting a pass.
    sets = [vmss("it-kill", "canary", capacity=5, batch_seconds=60), vmss("it-kill-r1", "ring1")]
    emulator.load(scenario(sets, time_scale=10.0))
    inv = write_inventory(tmp_path, sets)
    proc = _start_rollout(emulator, inv, tmp_path, "-e", "rollout_allow_empty_rings=true")
    try:
        _wait_for(lambda: posts(emulator, START), 60, "the start")
        time.sleep(1.5)
        proc.kill()
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    rows = _interrupted_report(tmp_path)
    assert rows["it-kill"]["status"] == "Interrupted" and rows["it-kill"]["left_running"] is True
    assert rows["it-kill-r1"]["status"] == "NotStarted"
    time.sleep(2)
    assert not [p for p in posts(emulator) if "/it-kill-r1/" in p]


def _interrupted_report(tmp_path, timeout=15):
    """The report's rows once it says the run was interrupted (the batch step writes it as ansible-playbook exits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        path = tmp_path / "reports" / REPORT
        report = read_json(path) if path.exists() else {}
        if report.get("result") == "interrupted":
            assert report["passed"] is False
            return rows_by_name(report)
        time.sleep(0.2)
    raise AssertionError("the report never said interrupted: %s" % (report.get("headline"),))


def _start_rollout(emulator, inv, tmp_path, *args):
    env = dict(os.environ, **emulator.env())
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", str(inv), str(ROLLOUT),
           "-e", "rollout_report_dir=%s" % (tmp_path / "reports")] + list(args)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True, preexec_fn=_as_from_a_terminal)


def _wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out waiting for " + what)


def test_ctrl_c_in_a_later_ring_reports_its_upgrades_as_running_in_azure(emulator, tmp_path):
    sets = [vmss("it-canary", "canary", batch_seconds=5), vmss("it-r1", "ring1", batch_seconds=5)] + [
        vmss("it-r2-%d" % index, "ring2", batch_seconds=120) for index in range(4)]
    emulator.load(scenario(sets, time_scale=10.0))        # ring2: ~60 s real per upgrade, interrupted after ~3 s
    inv = write_inventory(tmp_path, sets)
    proc = _start_rollout(emulator, inv, tmp_path)
    try:
        _wait_for(lambda: len([p for p in posts(emulator, START) if "/it-r2-" in p]) == 4, 90, "ring2's starts")
        # While the batch watches, the report on disk already says ring2 runs (a SIGKILL would leave it so).
        running = _wait_for(lambda: [r for r in read_json(tmp_path / "reports" / REPORT)["rows"]
                                     if r["status"] == "Running" and r["left_running"]], 20,
                            "a report rewritten while ring2 runs")
        assert {r["name"] for r in running} == {"it-r2-%d" % index for index in range(4)}
        assert all("running in Azure" in r["msg"] and r["failed"] is False for r in running)
        report = read_json(tmp_path / "reports" / REPORT)
        assert report["result"] == "running" and report["passed"] is False
        assert report["headline"].startswith("Ring ring2 in progress: 4 upgrades running in Azure")
        os.killpg(proc.pid, signal.SIGINT)
        out = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 99, out[-2000:]
    rows = _interrupted_report(tmp_path)
    assert rows["it-canary"]["status"] == rows["it-r1"]["status"] == "Completed"
    for index in range(4):
        row = rows["it-r2-%d" % index]
        assert row["status"] == "Interrupted" and row["failed"] is True and row["left_running"] is True, row
        assert "a re-run attaches" in row["msg"]
    headline = read_json(tmp_path / "reports" / REPORT)["headline"]
    assert headline == ("Ring ring2 interrupted: these upgrades are still running in Azure; a re-run attaches: "
                        "it-r2-0, it-r2-1, it-r2-2, it-r2-3.")
    assert headline in out, out[-2000:]            # the console says the same


def test_identical_failures_of_many_scale_sets_are_one_line(emulator, run_playbook, tmp_path):
    sets = [vmss("it-c%d" % index, "canary") for index in range(6)]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    result = _run(run_playbook, emulator, inv, tmp_path, env={"AZURE_CLIENT_SECRET": "not-the-secret"}).assert_failed()
    block = _batch_output(result.stdout, "canary")
    # In the progress block: one line for the six, not six lines.
    progress = [line for line in block if line.startswith("  ") and "it-c" in line and not line.startswith("  canary ")]
    assert len(progress) == 1 and re.match(r"  6 scale sets\s+Error\s+AuthenticationFailed: it-c0, it-c1, it-c2, "
                                           r"it-c3, it-c4 and 1 more$", progress[0]), block
    # In the summary after the block: one line too.
    summary = [line for line in block if line.startswith("  canary ")]
    assert len(summary) == 1 and "6 scale sets Error it-c0, it-c1" in " ".join(summary[0].split()), block
    report = _report(tmp_path)
    assert len(report["attention"]) == 1 and report["attention"][0]["count"] == 6


def test_timeout_cancels_only_what_the_run_started(emulator, run_playbook, tmp_path):
    sets = [vmss("it-slow", "canary", capacity=10, batch_seconds=3600),
            vmss("it-theirs", "canary", capacity=10, batch_seconds=3600,
                 existing_upgrade={"status": "RollingForward", "started_seconds_ago": 10, "kind": "extension"})]
    emulator.load(scenario(sets, time_scale=1.0))
    inv = write_inventory(tmp_path, sets, extra_vars={"vmss_extension_rollout_wait_timeout": 4,
                                                      "vmss_extension_rollout_on_timeout": "cancel"})
    result = _run(run_playbook, emulator, inv, tmp_path).assert_failed()
    cancels = posts(emulator, "/rollingUpgrades/cancel")
    assert len(cancels) == 1 and "/it-slow/" in cancels[0], cancels
    rows = rows_by_name(_report(tmp_path))
    assert rows["it-slow"]["status"] == "TimedOut" and rows["it-slow"]["cancelled"] is True
    assert rows["it-slow"]["left_running"] is False and rows["it-slow"]["failed"] is True
    assert rows["it-theirs"]["status"] == "TimedOut" and rows["it-theirs"]["cancelled"] is False
    assert rows["it-theirs"]["left_running"] is True and "cancel_attached" in rows["it-theirs"]["msg"]
    # The counts the message ends with are the record's own (the report's columns), whatever it quotes from before.
    for row in rows.values():
        own = "succeeded %s, failed %s, in progress %s, pending %s" % (
            row["succeeded"], row["failed_instances"], row["in_progress"], row["pending"])
        assert own in row["msg"], row["msg"]
    assert re.search(r"it-slow \(rg-it\): TimedOut: Timed out after 4s .*was cancelled", result.stdout)


def test_check_mode_changes_nothing(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary"), vmss("it-r1", "ring1"),
            vmss("it-r1-rolling", "ring1", batch_seconds=36000,
                 existing_upgrade={"status": "RollingForward", "started_seconds_ago": 10})]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    result = _run(run_playbook, emulator, inv, tmp_path, check=True, args=("--diff",)).assert_ok()
    assert posts(emulator) == []
    # The header says nothing is started; --diff shows the versions before and after of each scale set to start.
    header = _batch_output(result.stdout, "canary")[0]
    assert "Check mode: nothing is started" in header and "go on in Azure" not in header
    assert "--- before: it-canary: installed extension versions" in result.stdout
    assert "+++ after: it-canary: after the rolling upgrade" in result.stdout
    assert re.search(r"^\+HealthExtension \(Microsoft\.ManagedServices\.ApplicationHealthLinux\): \S+ on 5 \(5 outdated",
                     result.stdout, re.M), result.stdout
    assert "before: it-r1-rolling" not in result.stdout         # attached, not started: nothing to diff
    report = _report(tmp_path)
    rows = rows_by_name(report)
    assert rows["it-canary"]["status"] == "WouldStart" and rows["it-canary"]["changed"] is True
    versions = rows["it-canary"]["versions"]
    assert versions and all(v["to"] and v["from"] and v["outdated"] == 5 for v in versions), versions
    assert rows["it-r1-rolling"]["status"] == "WouldAttach" and rows["it-r1-rolling"]["changed"] is False
    assert report["check_mode"] is True and report["headline"].startswith("Check mode, nothing started")


def test_invalid_variables_fail_before_any_request_and_are_in_the_report(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary"), vmss("it-r1", "ring1")]
    emulator.load(scenario(sets))
    # A type error stops the preflight (the role's argument spec, checked for every scale set at once; one line,
    # tests/integration/test_rollout_plan.py); a range error (the batch step's rule) is the scale set's record.
    for bad, words in (({"vmss_extension_rollout_wait_timeout": "soon"}, "vmss_extension_rollout_wait_timeout"),
                       ({"vmss_extension_rollout_wait_timeout": -5},
                        "vmss_extension_rollout_wait_timeout must be at least 1 (got -5)")):
        emulator.clear_requests()
        inv = write_inventory(tmp_path, sets, extra_vars=bad, name="inv-%s" % abs(hash(str(bad))))
        result = _run(run_playbook, emulator, inv, tmp_path).assert_failed()
        assert words in result.stdout
        assert [e for e in emulator.requests if e["kind"] != "token"] == []
    rows = rows_by_name(_report(tmp_path))
    assert rows["it-canary"]["status"] == "Error" and words in rows["it-canary"]["msg"], rows["it-canary"]
    assert rows["it-r1"]["status"] == "NotStarted"


def test_a_bad_host_variable_fails_only_that_scale_set_before_any_request(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary"), vmss("it-canary-bad", "canary")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    hosts = yaml.safe_load((inv / "hosts.yml").read_text())
    hosts["all"]["children"]["vmss"]["children"]["canary"]["hosts"]["it-canary-bad"]["resource_group"] = "rg."
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    _run(run_playbook, emulator, inv, tmp_path).assert_failed()
    assert not [e for e in emulator.requests if "/it-canary-bad" in e["path"]]
    rows = rows_by_name(_report(tmp_path))
    assert rows["it-canary-bad"]["status"] == "Error" and "resource_group must match" in rows["it-canary-bad"]["msg"]
    assert rows["it-canary"]["status"] == "Completed"


def test_an_empty_ring_stops_the_run_before_any_request(emulator, run_playbook, tmp_path):
    sets = [vmss("it-r1", "ring1"), vmss("it-r2", "ring2")]      # no canary: a tag typo
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    result = _run(run_playbook, emulator, inv, tmp_path, extra_vars={"rollout_allow_empty_rings": False}).assert_failed()
    assert "ring canary has no scale set in the inventory" in result.stdout
    assert [e for e in emulator.requests if e["kind"] != "token"] == []
    # The refused run has its report too: the problem in the headline, every scale set NotStarted, failed.
    report = _report(tmp_path)
    assert report["headline"].startswith("Not started, nothing was asked of Azure: ring canary has no scale set")
    assert report["result"] == "failed" and report["passed"] is False and report["problems"]
    assert {r["name"]: r["status"] for r in report["rows"]} == {"it-r1": "NotStarted", "it-r2": "NotStarted"}
    assert "Report: %s" % (tmp_path / "reports" / "vmss_extension_rollout.html") in result.stdout
    # Allowed on purpose: the other rings roll out.
    _run(run_playbook, emulator, inv, tmp_path, extra_vars={"rollout_allow_empty_rings": True}).assert_ok()
    assert len(posts(emulator, START)) == 2


def test_zero_scale_sets_fail_the_rollout_and_the_status_gate(emulator, run_playbook, tmp_path):
    # The inventory plugin with a wrong secret: the source fails, and Ansible goes on with no host at all.
    config = tmp_path / "broken.azure_vmss.yml"
    config.write_text(yaml.safe_dump({"plugin": "azure_ops.rollout.vmss", "keyed_groups": [
        {"key": "vmss_tags.ring | default('unringed')", "prefix": "", "separator": ""}], "groups": {"vmss": True}}))
    env = {"AZURE_CLIENT_SECRET": "not-the-secret", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "true"}
    for playbook, extra in ((ROLLOUT, {"rollout_report_dir": str(tmp_path / "r")}),
                            (PLAYBOOKS / "fleet_status.yml", {"fleet_report_dir": str(tmp_path / "r")})):
        result = run_playbook(playbook, inventory=config, emulator=emulator, env=env, extra_vars=extra).assert_failed()
        assert "no scale set in the inventory" in result.stdout and "ANSIBLE_INVENTORY_UNPARSED_FAILED" in result.stdout
        assert [e for e in emulator.requests if e["kind"] == "arm"] == []
        if playbook == ROLLOUT:      # the refused rollout has its report, and it failed
            report = read_json(tmp_path / "r" / REPORT)
            assert report["result"] == "failed" and "no scale set in the inventory" in report["headline"]


def test_limit_to_a_ring_still_writes_the_report(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary"), vmss("it-r1", "ring1"), vmss("it-r2", "ring2")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    _run(run_playbook, emulator, inv, tmp_path, args=("--limit", "canary")).assert_ok()
    rows = rows_by_name(_report(tmp_path))
    assert rows["it-canary"]["status"] == "Completed"
    assert rows["it-r1"]["status"] == rows["it-r2"]["status"] == "NotRun"
    assert len(posts(emulator, START)) == 1


def test_auth_from_group_vars_only(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary")]
    emulator.load(scenario(sets))
    env = emulator.env()
    # The documented azure_* variables as group vars, and nothing in the environment but the CA bundle.
    group_vars = {"azure_subscription_id": env["AZURE_SUBSCRIPTION_ID"], "azure_client_id": env["AZURE_CLIENT_ID"],
                  "azure_secret": env["AZURE_CLIENT_SECRET"], "azure_tenant": env["AZURE_TENANT_ID"],
                  "azure_resource_manager_endpoint": env["AZURE_RESOURCE_MANAGER_ENDPOINT"],
                  "azure_authority_host": env["AZURE_AUTHORITY_HOST"]}
    inv = write_inventory(tmp_path, sets)
    (inv / "group_vars").mkdir()
    (inv / "group_vars" / "vmss.yml").write_text(yaml.safe_dump(group_vars))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    clean.update({"REQUESTS_CA_BUNDLE": env["REQUESTS_CA_BUNDLE"], "SSL_CERT_FILE": env["SSL_CERT_FILE"]})
    result = run_playbook(ROLLOUT, inventory=inv, extra_vars={"rollout_report_dir": str(tmp_path / "reports"),
                                                              "rollout_allow_empty_rings": True},
                          cwd=tmp_path, **_without_azure_env(clean))
    result.assert_ok()
    assert rows_by_name(_report(tmp_path))["it-canary"]["status"] == "Completed"
    assert env["AZURE_CLIENT_SECRET"] not in result.stdout + result.stderr


def _without_azure_env(clean):
    """run_playbook starts from os.environ: blank the AZURE_* variables there for this run."""
    blanked = {k: "" for k in os.environ if k.startswith("AZURE_")}
    blanked.update(clean)
    return {"env": blanked}


def test_rollout_report_html_renders(emulator, run_playbook, tmp_path):
    sets = [vmss("it-canary", "canary"), vmss("it-r1-bad", "ring1", failing_instances=[0]), vmss("it-r2", "ring2")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    _run(run_playbook, emulator, inv, tmp_path).assert_failed()
    html = tmp_path / "reports" / "vmss_extension_rollout.html"
    dom = chromium_dom(html, tmp_path)
    assert 'class="headline bad"' in dom and "Stopped in ring ring1: it-r1-bad Faulted" in dom
    assert re.search(r"Run started \d{4}-\d\d-\d\dT[\d:]+\+00:00, ended \d{4}-\d\d-\d\dT[\d:]+\+00:00 \(UTC\)", dom)
    assert dom.count("<svg") >= 2 and "<polyline" in dom           # progress pictures of the scale sets that ran
    assert "<script" not in dom and "http://" not in dom.split("<body>")[0] and "https://" not in dom.split("<body>")[0]
    for name in ("it-canary", "it-r1-bad", "it-r2"):
        assert ">%s<" % name in dom
    # A screenshot at 1400 px wide (kept in tests/output/screenshots for a person to look at) has content.
    png = chromium_screenshot(html, tmp_path, width=1400)
    assert png_size(png) == (1400, 1000) and png.stat().st_size > 20000
