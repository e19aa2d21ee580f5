# -*- coding: utf-8 -*-
"""_fleet: the batch step run in-process (no ansible-playbook) against the emulator, on a virtual clock.

The clock (``EmulatorClock``) moves only when slept, and moves the emulator's clock as far: the scheduler sleeps only
when no worker is at work, so an upgrade of a few simulated minutes takes a fraction of a second and deadlines, poll
intervals and progress blocks keep their meaning. Every batch runs in a thread with a real-time bound, so a batch
that never ends fails its test.
"""

import re
import threading

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _fleet, _upgrade
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient, RetryPolicy
from tests.emulator.scenarios import load_scenario

from tests.helpers import SUB, EmulatorClock, RecordingClock, options_for

RG = "rg-test"
FAULT_CODE = "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"
PARAMS = dict((name, spec["default"]) for name, spec in _upgrade.DECISION_SPEC.items())


def vmss(name, capacity=4, batch_seconds=30, **extra):
    """A scale set of the test scenario: batches of one instance (25%), ``batch_seconds`` simulated seconds each."""
    spec = {"name": name, "resource_group": RG, "location": "eastus", "capacity": capacity,
            "batch_seconds": batch_seconds,
            "rolling_upgrade_policy": {"maxBatchInstancePercent": 25, "maxUnhealthyInstancePercent": 50,
                                       "maxUnhealthyUpgradedInstancePercent": 20, "pauseTimeBetweenBatches": "PT0S"}}
    spec.update(extra)
    return spec


# 4 batches of 30 s: Completed 120 s after its start.
HEALTHY = vmss("fleet-healthy")
# The first batch's only instance fails: Faulted by policy 30 s after its start.
FAULTING = vmss("fleet-faulting", failing_instances=[0])
# Started 30 s before the test: Completed 90 s into it.
RUNNING = vmss("fleet-running", existing_upgrade={"status": "RollingForward", "started_seconds_ago": 30})
# Completed 10 minutes ago.
RECENT = vmss("fleet-recent", existing_upgrade={"status": "Completed", "finished_seconds_ago": 600})
# Faulted 10 minutes ago.
FAULTED = vmss("fleet-faulted", failing_instances=[0], existing_upgrade={"status": "Faulted", "finished_seconds_ago": 600})
NEVER = vmss("fleet-never")


@pytest.fixture
def fleet(emulator):
    """fleet(*scale_sets) -> (client, clock): the emulator loaded with these scale sets, on a virtual clock."""
    def load(*scale_sets):
        data = load_scenario("default")
        data.update(name="fleet-unit", scale_sets=list(scale_sets), aks_clusters=[], adu_instances=[])
        emulator.load(data)
        clock = EmulatorClock(emulator)
        client = AzureClient(options_for(emulator), clock=clock,
                             retry=RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_cap=8.0), max_connections=20)
        return client, clock
    return load


def target(name, rg=RG, host=None):
    return {"host": host or "host-" + name, "name": name, "resource_group": rg, "subscription_id": SUB, "ring": "canary"}


def jobs_for(client, names, check_mode=False, **params):
    options = dict(PARAMS, poll_interval=10, wait_timeout=600)
    options.update(params)
    return [_fleet.Job(target(name), options, client, check_mode) for name in names]


def run_batch(jobs, clock, blocks=None, bound=20.0, **kwargs):
    """run_rollout in a thread, bounded in real time; returns the records by scale set name."""
    kwargs.setdefault("progress_interval", 30)
    kwargs.setdefault("on_timeout", jobs[0].params["on_timeout"] if jobs else "fail")
    emitted = [] if blocks is None else blocks
    box = {}

    def body():
        box["records"] = _fleet.run_rollout(jobs, clock, emitted.append, title="ring canary", **kwargs)

    thread = threading.Thread(target=body, daemon=True)
    thread.start()
    thread.join(bound)
    assert not thread.is_alive(), "the batch did not end within %ss real time; printed: %s" % (bound, emitted)
    records = box["records"]
    assert [r["name"] for r in records] == [job.target["name"] for job in jobs]
    return dict((r["name"], r) for r in records)


def posts(emulator, tail="extensionRollingUpgrade"):
    return [r for r in emulator.requests if r["kind"] == "arm" and r["method"] == "POST" and r["path"].endswith(tail)]


def latest_code(emulator, name):
    return [s for s in emulator.state()["scale_sets"] if s["name"] == name][0]["latest"]["properties"]["runningStatus"]["code"]


# -- a mixed batch ---------------------------------------------------------------------------------------------------
def test_mixed_batch_ends_in_the_right_records(fleet, emulator):
    client, clock = fleet(HEALTHY, FAULTING, RUNNING, RECENT)
    jobs = jobs_for(client, ["fleet-healthy", "fleet-faulting", "fleet-running", "fleet-recent"],
                    skip_if_completed_within=3600)
    blocks = []
    records = run_batch(jobs, clock, blocks)

    healthy = records["fleet-healthy"]
    assert (healthy["status"], healthy["failed"], healthy["action"], healthy["changed"]) == (
        "Completed", False, "start", True)
    assert healthy["upgrade_started"] and healthy["succeeded"] == 4 and healthy["percent"] == 100.0
    # One elapsed value, in simulated seconds: the whole step (plan, start, 120 s of upgrade, the last reads).
    assert 120 <= healthy["elapsed"] < 600 and healthy["elapsed"] >= healthy["timeline"][-1]["elapsed"]
    assert healthy["timeline"][-1]["code"] == "Completed" and healthy["polls"] >= 5
    assert healthy["started_at"].endswith("+00:00") and healthy["ring"] == "canary"

    faulting = records["fleet-faulting"]
    assert (faulting["status"], faulting["failed"], faulting["error_code"]) == ("Faulted", True, FAULT_CODE)
    assert faulting["failed_instances"] == 1 and FAULT_CODE in faulting["msg"]
    assert faulting["elapsed"] < healthy["elapsed"]

    running = records["fleet-running"]
    assert (running["status"], running["action"], running["changed"], running["upgrade_started"]) == (
        "Completed", "attach", False, False)

    recent = records["fleet-recent"]
    assert (recent["status"], recent["action"], recent["failed"], recent["changed"]) == ("Skipped", "skip", False, False)
    assert recent["polls"] == 0

    # Exactly one accepted start per scale set this batch started, none for the others; one token for all.
    started = sorted(r["path"].split("/")[-2] for r in posts(emulator))
    assert started == ["fleet-faulting", "fleet-healthy"]
    assert all(r["status"] == 202 for r in posts(emulator))
    assert emulator.issued_tokens_count() == 1


def test_check_mode_plans_without_any_post(fleet, emulator):
    client, clock = fleet(HEALTHY, FAULTING, RUNNING, RECENT)
    names = ["fleet-healthy", "fleet-faulting", "fleet-running", "fleet-recent"]
    records = run_batch(jobs_for(client, names, check_mode=True, skip_if_completed_within=3600), clock)
    assert [records[n]["status"] for n in names] == ["WouldStart", "WouldStart", "WouldAttach", "Skipped"]
    assert [records[n]["changed"] for n in names] == [True, True, False, False]
    assert not any(r["failed"] or r["upgrade_started"] or r["check_mode"] is not True for r in records.values())
    arm = [r for r in emulator.requests if r["kind"] == "arm"]
    assert {r["method"] for r in arm} == {"GET"}, "check mode sends nothing"
    # Each latest upgrade once; the extension drift of the three not running (model, one VM list page), and the
    # versions catalog once for the whole batch (one cache per batch step).
    tails = sorted(r["path"].rsplit("/", 1)[-1] for r in arm)
    assert tails.count("latest") == 4 and tails.count("virtualMachines") == 3 and tails.count("versions") == 1
    assert len(arm) == 4 + 3 + 3 + 1


# -- bounds and sharing ----------------------------------------------------------------------------------------------
class SlotWatch:
    """Counts the jobs between their first read (the plan, inside the start slot) and the answer to their start."""

    def __init__(self):
        self.lock = threading.Lock()
        self.inside = 0
        self.peak = 0

    def client(self, shared):
        return _WatchedClient(shared, self)


class _WatchedClient:
    def __init__(self, client, watch):
        self._client, self._watch, self._entered = client, watch, False

    def __getattr__(self, name):
        return getattr(self._client, name)

    def get_json(self, *args, **kwargs):
        if not self._entered:
            self._entered = True
            with self._watch.lock:
                self._watch.inside += 1
                self._watch.peak = max(self._watch.peak, self._watch.inside)
        return self._client.get_json(*args, **kwargs)

    def request(self, *args, **kwargs):
        try:
            return self._client.request(*args, **kwargs)
        finally:
            if kwargs.get("starts_operation") and self._entered:
                with self._watch.lock:
                    self._watch.inside -= 1


@pytest.mark.parametrize("bound, expected_peak", [(2, 2), (0, 6)])
def test_max_concurrent_starts_bounds_the_starts(fleet, emulator, bound, expected_peak):
    names = ["fleet-tiny-%d" % i for i in range(6)]
    client, clock = fleet(*[vmss(name, capacity=1, batch_seconds=10) for name in names])
    # Every start takes 0.15 s real to be answered, so unbounded starts would overlap.
    emulator.add_fault({"match": {"method": "POST", "path_regex": "extensionRollingUpgrade$"}, "action": {"delay": 0.15}})
    watch = SlotWatch()
    jobs = jobs_for(client, names)
    for job in jobs:
        job.client = watch.client(client)
    records = run_batch(jobs, clock, max_concurrent_starts=bound)
    assert all(r["status"] == "Completed" for r in records.values()), [r["msg"] for r in records.values()]
    assert watch.peak == expected_peak and watch.inside == 0
    assert len(posts(emulator)) == 6
    # Six threads asked for a token at once: one token request for the batch.
    assert emulator.issued_tokens_count() == 1


def test_a_refused_credential_is_asked_once_per_batch(fleet, emulator):
    names = ["fleet-a", "fleet-b", "fleet-c", "fleet-d", "fleet-e", "fleet-f"]
    clock = fleet(*[vmss(name) for name in names])[1]
    client = AzureClient(options_for(emulator, secret="not-the-secret-4711"), clock=clock,
                         retry=RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_cap=8.0))
    records = run_batch(jobs_for(client, names), clock)
    for record in records.values():
        assert (record["status"], record["failed"], record["error_code"]) == ("Error", True, "AuthenticationFailed")
        assert "invalid_client" in record["msg"] and "not-the-secret-4711" not in str(record)
    assert len([r for r in emulator.requests if r["kind"] == "token"]) == 1
    assert [r for r in emulator.requests if r["kind"] == "arm"] == []


# -- timeouts --------------------------------------------------------------------------------------------------------
def test_on_timeout_cancel_cancels_only_what_this_batch_started(fleet, emulator):
    long_new = vmss("fleet-long", batch_seconds=300)
    long_running = vmss("fleet-long-running", batch_seconds=300,
                        existing_upgrade={"status": "RollingForward", "started_seconds_ago": 30})
    client, clock = fleet(long_new, long_running)
    jobs = jobs_for(client, ["fleet-long", "fleet-long-running"], wait_timeout=60, on_timeout="cancel")
    records = run_batch(jobs, clock)

    started = records["fleet-long"]
    assert (started["status"], started["failed"], started["timed_out"]) == ("TimedOut", True, True)
    assert started["cancelled"] is True and started["left_running"] is False
    assert "cancelled (on_timeout=cancel)" in started["msg"]
    attached = records["fleet-long-running"]
    assert (attached["status"], attached["failed"], attached["timed_out"]) == ("TimedOut", True, True)
    assert attached["cancelled"] is False and attached["left_running"] is True
    assert "cancel_attached=true" in attached["msg"]

    assert [r["path"].split("/")[-3] for r in posts(emulator, "rollingUpgrades/cancel")] == ["fleet-long"]
    assert latest_code(emulator, "fleet-long") == "Cancelled"
    assert latest_code(emulator, "fleet-long-running") == "RollingForward"
    assert 60 <= started["elapsed"] < 600  # stopped at its deadline, not at the end of the 1200 s upgrade


# -- invalid targets (checked by the action plugin before any request) -----------------------------------------------
def test_target_problems_name_the_host_variable_and_the_rule():
    assert _fleet.target_problems(target("fleet-healthy")) == []
    bad_group = _fleet.target_problems(target("fleet-healthy", rg="rg."))
    assert len(bad_group) == 1 and bad_group[0].startswith("resource_group must match")
    bad_name = _fleet.target_problems(dict(target("web-"), subscription_id="not-a-guid"))
    assert [p.split(" ")[0] for p in bad_name] == ["vmss_name", "subscription_id"]
    assert "subscription GUID" in bad_name[1]
    missing = _fleet.target_problems({"host": "h", "name": None, "resource_group": None, "subscription_id": ""})
    assert missing == ["resource_group is not set (host var resource_group)",
                       "vmss_name is not set (host var vmss_name)",
                       "subscription_id is not set (host var subscription_id, azure_subscription_id, module_defaults "
                       "or AZURE_SUBSCRIPTION_ID)"]
    assert _fleet.target_problems(dict(target("x"), name="")) == ["vmss_name must not be empty"]


def test_per_host_settings_are_compared_as_the_option_takes_them():
    prefix = "vmss_extension_rollout_"
    params = {"extensions": ["HealthExtension"], "wait_timeout": 80, "only_if_outdated": True}
    same = {"extensions": ["HealthExtension"], "wait_timeout": "80", "only_if_outdated": "yes"}
    assert _fleet.setting_conflicts(params, same, prefix, "h1") == []
    other = _fleet.setting_conflicts(params, {"extensions": ["CustomScript"]}, prefix, "h1")
    assert len(other) == 1 and other[0].startswith("vmss_extension_rollout_extensions is ['CustomScript'] on this host")


# -- what the batch prints -------------------------------------------------------------------------------------------
SUMMARY = re.compile(r"^  \[ *[0-9hms-]+\] \d+ scale sets?: ")


def test_display_prints_a_header_blocks_of_changed_lines_and_a_summary(fleet, emulator):
    client, clock = fleet(HEALTHY, FAULTING, RUNNING, RECENT)
    names = ["fleet-healthy", "fleet-faulting", "fleet-running", "fleet-recent"]
    blocks = []
    records = run_batch(jobs_for(client, names, skip_if_completed_within=3600), clock, blocks)
    header = blocks[0]
    assert len(header) == 1 and header[0].startswith("ring canary: 4 scale sets, started ")
    assert "on_timeout=fail" in header[0] and "polls every 10s, progress every 30s" in header[0]
    assert "a re-run attaches to them" in header[0]
    assert len(blocks) >= 3, blocks
    for block in blocks[1:]:
        assert 1 <= len(block) <= len(names) + 1, block
        assert SUMMARY.match(block[-1]), block[-1]
        assert all(line.split()[0] in names for line in block[:-1]), block
    # The last block: a line for each scale set that ended since the block before, the failure with its code.
    last = blocks[-1]
    assert last[-1].endswith("] 4 scale sets: 2 Completed, 1 Faulted, 1 Skipped")
    for name in names:
        lines = [line for block in blocks[1:] for line in block[:-1] if line.split()[0] == name]
        assert lines, "%s never shown" % name
        assert lines[-1].split()[1] == records[name]["status"], lines
    assert [line for block in blocks for line in block if line.split()[0] == "fleet-faulting"][-1].endswith(FAULT_CODE)
    total = sum(len(block) for block in blocks)
    assert total < len(blocks) * (len(names) + 1), "every scale set was printed in every block"


def test_the_check_mode_header_says_nothing_is_started(fleet, emulator):
    client, clock = fleet(HEALTHY)
    blocks = []
    run_batch(jobs_for(client, ["fleet-healthy"], check_mode=True), clock, blocks)
    assert "Check mode: nothing is started" in blocks[0][0] and "go on in Azure" not in blocks[0][0]


def test_every_block_hands_every_record_to_on_block(fleet, emulator):
    client, clock = fleet(HEALTHY, RUNNING)
    seen = []
    records = run_batch(jobs_for(client, ["fleet-healthy", "fleet-running"]), clock, on_block=seen.append,
                        progress_interval=10)
    # Before any request: both Running (planning), nothing in Azure yet, not failures.
    assert [(r["name"], r["status"], r["left_running"], r["failed"]) for r in seen[0]] == [
        ("fleet-healthy", "Running", False, False), ("fleet-running", "Running", False, False)]
    # While they run: the started and the attached upgrade go on in Azure, with their counts.
    watching = [r for snapshot in seen for r in snapshot if r["status"] == "Running" and r["left_running"]]
    assert {r["action"] for r in watching} == {"start", "attach"}
    assert all("running in Azure" in r["msg"] for r in watching) and any(r["succeeded"] is not None for r in watching)
    assert len(set(r["batch"] for snapshot in seen for r in snapshot)) == 1
    assert set(r["batch"] for r in records.values()) == {seen[0][0]["batch"]}
    assert {r["status"] for r in records.values()} == {"Completed"}


def test_an_interrupt_leaves_with_every_record(fleet, emulator):
    client, clock = fleet(HEALTHY)
    jobs = jobs_for(client, ["fleet-healthy"])

    def interrupt(records):
        if any(r["left_running"] for r in records):
            raise _fleet.Interrupted(2)

    with pytest.raises(_fleet.Interrupted) as stop:
        _fleet.run_rollout(jobs, clock, lambda lines: None, progress_interval=5, max_concurrent_starts=1,
                           on_block=interrupt)
    # Nothing watches on after the interrupt: the scheduler ran in this thread, and the caller exits.
    assert jobs[0].record is None and jobs[0].state == "watch"
    records = dict((r["name"], r) for r in stop.value.records)
    assert stop.value.signum == 2
    started = records["fleet-healthy"]
    assert started["status"] == "Interrupted" and started["failed"] is True and started["left_running"] is True
    assert "goes on in Azure; a re-run attaches" in started["msg"] and started["batch"]


def test_display_prints_only_the_scale_sets_that_changed():
    jobs = [_fleet.Job(target(name), dict(PARAMS), None) for name in ("a-1", "b-22", "c-333")]
    emitted = []
    display = _fleet.Display(jobs, emitted.append)
    display.block(0.0, 0.0)
    assert [line.split()[:2] for line in emitted[-1][:-1]] == [["a-1", "waiting"], ["b-22", "waiting"],
                                                               ["c-333", "waiting"]]
    assert emitted[-1][-1] == "  [    0s] 3 scale sets: 3 waiting"
    display.block(10.0, 10.0)
    assert emitted[-1] == ["  [   10s] 3 scale sets: 3 waiting"]
    jobs[1].began = 0.0
    jobs[1].phase = "RollingForward"
    jobs[1].shaped = {"running_status": {"code": "RollingForward"}, "percent_complete": 25.0,
                      "progress": {"successful_instance_count": 1, "failed_instance_count": 0,
                                   "in_progress_instance_count": 1, "pending_instance_count": 2}}
    display.block(40.0, 40.0, note="throttled")
    assert emitted[-1] == ["  b-22         RollingForward   25%  ok 1  failed 0  running 1  pending 2  40s",
                           "  [   40s] 3 scale sets: 2 waiting, 1 RollingForward  | throttled"]
    display.block(50.0, 50.0)
    assert len(emitted[-1]) == 1, "the same percent is not printed again"


def test_identical_failures_of_a_block_share_one_line():
    from ansible_collections.azure_ops.rollout.plugins.module_utils import _outcome

    names = ["web-%03d" % index for index in range(500)] + ["api-1"]
    jobs = [_fleet.Job(target(name), dict(PARAMS), None) for name in names]
    denied = {"msg": "AuthenticationFailed: the client secret was refused by the tenant", "error": {
        "code": "AuthenticationFailed", "message": "the client secret was refused by the tenant"}}
    for job in jobs[:500]:
        job.record = _outcome.rollout_record(job.target, None, denied, elapsed=1.0)
        job.phase = job.record["status"]
    jobs[500].record = _outcome.rollout_record(jobs[500].target, {"action": "current"}, elapsed=1.0)
    jobs[500].phase = "Current"
    emitted = []
    _fleet.Display(jobs, emitted.append).block(2.0, 2.0)
    lines = emitted[-1]
    assert len(lines) == 3, lines
    assert re.match(r"  500 scale sets\s+Error\s+AuthenticationFailed: web-000, web-001, web-002, web-003, web-004 "
                    r"and 495 more$", lines[0]), lines[0]
    assert lines[1].split()[:2] == ["api-1", "Current"] and lines[2].endswith("500 Error, 1 Current")


def test_a_refusal_names_the_variable_and_the_way_to_override_it(fleet, emulator):
    client, clock = fleet(FAULTED)
    jobs = jobs_for(client, ["fleet-faulted"], if_faulted="fail", variable_prefix="vmss_extension_rollout_")
    record = run_batch(jobs, clock)["fleet-faulted"]
    assert record["status"] == "Refused" and record["refused_by"] == "vmss_extension_rollout_if_faulted"
    assert "(vmss_extension_rollout_if_faulted=fail)" in record["msg"] and " if_faulted=start" not in record["msg"]
    assert record["msg"].endswith("To start this scale set anyway: ansible-playbook ... -e "
                                  "vmss_extension_rollout_if_faulted=start --limit host-fleet-faulted (on the command "
                                  "line: a value set on one host is refused, the scale sets of a batch share one)."), (
        record["msg"])
    # Without a variable prefix (the module's own options), the message is the module's.
    plain = run_batch(jobs_for(client, ["fleet-faulted"], if_faulted="fail"), clock)["fleet-faulted"]
    assert "if_faulted=start" in plain["msg"] and "refused_by" not in plain


def test_a_long_failure_is_cut_between_words():
    from ansible_collections.azure_ops.rollout.plugins.module_utils import _outcome

    job = _fleet.Job(target("web-1"), dict(PARAMS), None)
    job.record = _outcome.rollout_record(job.target, None, {"msg": " ".join(["unexpected"] * 40), "error": None})
    job.phase = job.record["status"]
    line = _fleet.Display([job], lambda lines: None).line(job, 0.0)
    assert line.endswith("unexpected ...") and "unexpected unexpected" in line


def test_two_scale_sets_of_the_same_name_are_tracked_apart():
    # Scale set names are unique per resource group only.
    jobs = [_fleet.Job(dict(target("web"), host="rg-a_web", resource_group="rg-a"), dict(PARAMS), None),
            _fleet.Job(dict(target("web"), host="rg-b_web", resource_group="rg-b"), dict(PARAMS), None)]
    emitted = []
    display = _fleet.Display(jobs, emitted.append)
    display.block(0.0, 0.0)
    jobs[1].phase = "starting"
    display.block(10.0, 10.0)
    assert len(emitted[-1]) == 2 and "starting" in emitted[-1][0]
    jobs[0].phase = "starting"
    display.block(20.0, 20.0)
    assert len(emitted[-1]) == 2 and "starting" in emitted[-1][0], "rg-a's change was hidden by rg-b's"


# -- a crash in one job ----------------------------------------------------------------------------------------------
class _CrashingClient:
    """The shared client, except that reading a rolling upgrade raises RuntimeError (after the start, if asked)."""

    def __init__(self, client, after_start=False):
        self._client, self._after_start, self._started = client, after_start, False

    def __getattr__(self, name):
        return getattr(self._client, name)

    def request(self, *args, **kwargs):
        response = self._client.request(*args, **kwargs)
        self._started = self._started or bool(kwargs.get("starts_operation"))
        return response

    def get_json(self, *args, **kwargs):
        if not self._after_start or self._started:
            raise RuntimeError("boom in the client")
        return self._client.get_json(*args, **kwargs)


def test_a_crash_in_one_job_is_that_scale_sets_record_and_the_batch_finishes(fleet, emulator):
    client, clock = fleet(HEALTHY, vmss("fleet-crash-early"), vmss("fleet-crash-late", batch_seconds=300))
    jobs = jobs_for(client, ["fleet-healthy", "fleet-crash-early", "fleet-crash-late"])
    jobs[1].client = _CrashingClient(client)
    jobs[2].client = _CrashingClient(client, after_start=True)
    records = run_batch(jobs, clock)

    assert records["fleet-healthy"]["status"] == "Completed"
    early = records["fleet-crash-early"]
    assert (early["status"], early["failed"], early["action"], early["changed"]) == ("Error", True, None, False)
    assert early["msg"] == "fleet-crash-early (rg-test): Error: unexpected error: RuntimeError: boom in the client"
    late = records["fleet-crash-late"]
    assert (late["status"], late["failed"], late["action"]) == ("Failed", True, "start")
    assert late["upgrade_started"] is True and late["changed"] is True and late["left_running"] is True
    assert "unexpected error: RuntimeError: boom in the client" in late["msg"] and "Traceback" not in late["msg"]
    # The crash stopped the watching, not the upgrade: it goes on in Azure (and the record says so).
    assert latest_code(emulator, "fleet-crash-late") == "RollingForward"
    assert sorted(r["path"].split("/")[-2] for r in posts(emulator)) == ["fleet-crash-late", "fleet-healthy"]


def test_an_empty_batch_prints_its_header_and_ends():
    blocks = []
    assert _fleet.run_rollout([], RecordingClock(), blocks.append) == []
    assert blocks[0][0].startswith("batch: 0 scale sets") and SUMMARY.match(blocks[-1][-1])


# -- status (read only) ----------------------------------------------------------------------------------------------
def test_run_status_reads_each_latest_upgrade(fleet, emulator):
    client = fleet(NEVER, RUNNING, FAULTED)[0]
    targets = [target("fleet-never"), target("fleet-running"), target("fleet-faulted"), target("fleet-missing"),
               target("fleet-never", rg="rg-missing")]
    before = emulator.sim_now()  # the scenario was loaded just now: the running upgrade began 30 s before
    records = _fleet.run_status(targets, client, parallel=3)
    after = emulator.sim_now()
    assert [r["host"] for r in records] == [t["host"] for t in targets]
    never, running, faulted, missing, no_group = records
    assert (never["status"], never["elapsed"], never["error_code"]) == ("NeverUpgraded", None, None)
    # (Azure's Date has a resolution of one second.)
    assert running["status"] == "RollingForward" and 29 <= running["elapsed"] <= 30 + (after - before) + 5
    assert (running["succeeded"], running["in_progress"], running["pending"]) == (1, 1, 2)
    assert (faulted["status"], faulted["error_code"]) == ("Faulted", FAULT_CODE)
    assert faulted["last_action_time"] and faulted["elapsed"] is not None
    assert (missing["status"], missing["error_code"]) == ("Error", "ResourceNotFound")
    assert "404 ResourceNotFound" in missing["msg"]
    assert (no_group["status"], no_group["error_code"]) == ("Error", "ResourceGroupNotFound")
    arm = [r for r in emulator.requests if r["kind"] == "arm"]
    assert len(arm) == 5 and all(r["method"] == "GET" for r in arm)
    assert emulator.issued_tokens_count() == 1


def test_run_status_survives_a_crash_in_one_read(fleet, emulator):
    client = fleet(NEVER, RUNNING)[0]

    class OneCrashes(_CrashingClient):
        def get_json(self, path, *args, **kwargs):
            if "fleet-running" in path:
                raise RuntimeError("boom in the client")
            return self._client.get_json(path, *args, **kwargs)

    records = _fleet.run_status([target("fleet-never"), target("fleet-running")], OneCrashes(client))
    assert records[0]["status"] == "NeverUpgraded"
    assert (records[1]["status"], records[1]["error_code"]) == ("Error", None)
    assert records[1]["msg"] == "unexpected error: RuntimeError: boom in the client"


def test_a_throttled_read_is_waited_and_in_that_scale_sets_record_only(fleet, emulator):
    client, clock = fleet(HEALTHY, NEVER)
    emulator.add_fault({"name": "throttle-one", "match": {"kind": "arm", "method": "GET",
                                                          "path_regex": "fleet-healthy/rollingUpgrades/latest$"},
                        "action": {"status": 429, "retry_after": 20}, "times": 1})
    records = run_batch(jobs_for(client, ["fleet-healthy", "fleet-never"]), clock)
    assert records["fleet-healthy"]["status"] == records["fleet-never"]["status"] == "Completed"
    throttled = records["fleet-healthy"]["throttled"]
    assert len(throttled) == 1 and throttled[0]["times"] == 1 and throttled[0]["seconds"] >= 19, throttled
    assert records["fleet-never"]["throttled"] == []


# -- Flexible scale sets and races with Azure's own upgrades (issue 19) ----------------------------------------------
def test_a_batch_that_races_a_platform_upgrade_watches_it_and_says_so(fleet, emulator):
    client, clock = fleet(vmss("fleet-raced", platform_upgrade={"after_requests": 3}), HEALTHY)
    records = run_batch(jobs_for(client, ["fleet-raced", "fleet-healthy"]), clock)
    raced = records["fleet-raced"]
    assert (raced["status"], raced["action"], raced["upgrade_started"], raced["failed"]) == (
        "Completed", "attach", False, False)
    assert raced["start_refused"]["code"] == "OperationNotAllowed"
    assert any("Azure refused to start" in w for w in raced["warnings"])
    assert records["fleet-healthy"]["upgrade_started"] and records["fleet-healthy"]["start_refused"] is None


def test_a_flexible_scale_set_in_a_batch_and_in_the_status(fleet, emulator):
    client, clock = fleet(vmss("fleet-flex", orchestration_mode="Flexible"), HEALTHY)
    records = run_batch(jobs_for(client, ["fleet-flex", "fleet-healthy"]), clock)
    assert records["fleet-flex"]["status"] == "Completed" and records["fleet-flex"]["upgrade_started"]
    assert records["fleet-flex"]["instance_naming"] == "vm_name" and records["fleet-healthy"]["instance_naming"] == "instance_id"
    status = _fleet.run_status([target("fleet-flex"), target("fleet-healthy")], client, drift=True)
    assert [(r["outdated"], r["instance_naming"]) for r in status] == [(False, "vm_name"), (False, "instance_id")]
    assert not [r for r in emulator.requests if "/virtualMachineScaleSets/fleet-flex/virtualMachines" in r["path"]]
