# -*- coding: utf-8 -*-
"""_engine: the scheduler and the state machine of one scale set's rollout.

The scheduler and the machine are tested on a virtual clock (``RecordingClock``: time moves only when someone
sleeps, and the scheduler sleeps only when no worker is at work), twice over: with a scripted kind (no HTTP: the
upgrade's progress is a function of the clock) at fleet scale, and with the extension kind against the emulator.
"""

import functools
import threading
import time

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _engine, _shapes, _upgrade, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient, RetryPolicy
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import ModuleFailure
from ansible_collections.azure_ops.rollout.plugins.module_utils._pacing import Pacer, elastic
from tests.emulator.scenarios import load_scenario

from tests.helpers import SUB, EmulatorClock, RecordingClock, options_for

PARAMS = dict((name, spec["default"]) for name, spec in _upgrade.DECISION_SPEC.items())


# -- a scripted kind: an upgrade that lasts ``seconds`` of the clock from its start, no HTTP ---------------------------
@functools.lru_cache(maxsize=None)
def _shaped(code, done, total):
    return _shapes.rolling_upgrade({"properties": {
        "runningStatus": {"code": code},
        "progress": {"successfulInstanceCount": done, "failedInstanceCount": 0, "inProgressInstanceCount": 0,
                     "pendingInstanceCount": total - done}}})


class ScriptedKind(_upgrade.ExtensionKind):
    """Each scale set's upgrade runs ``seconds`` from its start; ``fault`` names scale sets whose upgrade Faults (the
    extension kind with its plan, start, poll and cancel scripted: no HTTP)."""

    name = "scripted"

    def __init__(self, clock, seconds=2400, fault=(), running=(), fail_start=()):
        self.clock, self.seconds, self.fault, self.running, self.fail_start = clock, seconds, set(fault), set(running), set(fail_start)
        self.started = {}
        self.requests = 0
        self.lock = threading.Lock()
        self.concurrent_starts = 0
        self.peak_starts = 0

    def _count(self):
        with self.lock:
            self.requests += 1

    def read_latest(self, rollout, ctx):
        self._count()
        name = rollout.params["name"]
        began = self.started.get(name)
        if began is None:
            return _vmss.Latest(False, None, None)
        done = min(10, int(10 * (self.clock.monotonic() - began) / self.seconds))
        code = "Completed" if done >= 10 else "RollingForward"
        if name in self.fault and done >= 3:
            code = "Faulted"
        return _vmss.Latest(True, _shaped(code, done, 10), None)

    def plan(self, rollout, ctx):
        name = rollout.params["name"]
        if name in self.running:
            self.started.setdefault(name, self.clock.monotonic() - self.seconds / 2)
        latest = self.read_latest(rollout, ctx)
        action = _vmss.plan(latest.upgrade, rollout.params["if_running"])
        return _upgrade.Plan(latest.upgrade, action, {"extensions": None, "instance_naming": None}, None)

    def start(self, rollout, ctx):
        with self.lock:
            self.concurrent_starts += 1
            self.peak_starts = max(self.peak_starts, self.concurrent_starts)
        try:
            self._count()
            if rollout.params["name"] in self.fail_start:
                raise AzureError("Azure refused", status=400, code="BadRequest")
            self.started[rollout.params["name"]] = self.clock.monotonic()
            return None, None
        finally:
            with self.lock:
                self.concurrent_starts -= 1

    @staticmethod
    def raced(rollout, ctx, error):
        return None

    @staticmethod
    def poll_request(rollout):
        return None

    def progress(self, rollout, ctx):
        rollout.latest = self.read_latest(rollout, ctx).upgrade
        return None

    def cancel(self, rollout, ctx):
        self._count()
        self.started.pop(rollout.params["name"], None)


class Clocked:
    """What a Rollout needs of a client when its kind makes no request: the clock."""

    def __init__(self, clock):
        self.clock = clock
        self.pacer = None


def _rollouts(kind, clock, count, **params):
    options = dict(PARAMS, poll_interval=30, wait_timeout=3600)
    options.update(params)
    return [_engine.Rollout({"subscription_id": SUB, "resource_group": "rg", "name": "vmss-%04d" % i}, options,
                            Clocked(clock), kind) for i in range(count)]


def test_a_40_minute_rollout_of_5000_scale_sets_runs_in_seconds_with_few_threads():
    clock = RecordingClock()
    kind = ScriptedKind(clock, seconds=2400, fault={"vmss-0007"})
    rollouts = _rollouts(kind, clock, 5000, poll_interval=60)
    scheduler = _engine.Scheduler(clock, workers=32, max_starts=50)
    ticks, began = [], time.monotonic()
    threads = []
    scheduler.run(rollouts, interval=300, on_tick=lambda now: (ticks.append(now), threads.append(threading.active_count())))
    assert time.monotonic() - began < 30
    outcomes = [r.outcome for r in rollouts]
    assert all(o is not None for o in outcomes) and [r.state for r in rollouts] == ["done"] * 5000
    assert [r.params["name"] for r in rollouts if r.outcome.failed] == ["vmss-0007"]
    assert rollouts[0].outcome.result["rolling_upgrade"]["running_status"]["code"] == "Completed"
    # Virtual time: 40 minutes of upgrades and a poll every 60 s (its schedule kept), a progress tick every 5 minutes.
    assert 2400 <= clock.now - 1000.0 <= 2400 + 60 + 60 and len(ticks) >= 8
    # Polls: about one per 60 s per scale set, not more.
    assert kind.requests <= 5000 * (2 + 2400 / 60 + 2)
    assert scheduler.threads <= 32 and max(threads) <= 32 + 8
    assert kind.peak_starts <= 32


def test_max_starts_admits_only_so_many_machines_into_plan_and_start():
    clock = RecordingClock()
    kind = ScriptedKind(clock, seconds=60)
    admitted = []
    rollouts = _rollouts(kind, clock, 12)
    states = {}

    def after(machine):
        states[machine.params["name"]] = machine.state
        admitted.append(sum(1 for m in rollouts if m.ctx is not None and m.state in _engine.STARTING))

    _engine.Scheduler(clock, workers=0, max_starts=3).run(rollouts, after_step=after)
    assert max(admitted) <= 3 and set(states.values()) == {"done"}
    assert all(not r.outcome.failed for r in rollouts)


class Batches(ScriptedKind):
    """Three batches per scale set, 30 s apart: the judge says when the next start is due; each start takes 20 ms of
    real time, so starts that were not bounded would overlap."""

    def __init__(self, *args, **kwargs):
        super(Batches, self).__init__(*args, **kwargs)
        self.batches = {}

    def start(self, rollout, ctx):
        with self.lock:
            self.concurrent_starts += 1
            self.peak_starts = max(self.peak_starts, self.concurrent_starts)
        try:
            time.sleep(0.02)
            self.started[rollout.params["name"]] = self.clock.monotonic()
            return None, None
        finally:
            with self.lock:
                self.concurrent_starts -= 1

    def judge(self, rollout):
        super(Batches, self).judge(rollout)
        done = self.batches[rollout.params["name"]] = self.batches.get(rollout.params["name"], 0) + 1
        return 30.0 if done < 3 else None


def test_a_machine_back_at_a_start_waits_for_a_start_slot_like_a_new_one():
    clock = RecordingClock()
    kind = Batches(clock, seconds=60)
    rollouts = _rollouts(kind, clock, 6, poll_interval=10)
    _engine.Scheduler(clock, workers=4, max_starts=1).run(rollouts)
    assert kind.batches == dict(("vmss-%04d" % i, 3) for i in range(6))
    assert all(not r.outcome.failed for r in rollouts)
    # Every start (18: three batches of six scale sets) went alone: one start slot, four workers.
    assert kind.peak_starts == 1


def test_a_start_follows_its_own_plan_not_every_other_plan_of_the_batch():
    clock = RecordingClock()
    calls = []

    class Ordered(ScriptedKind):
        def plan(self, rollout, ctx):
            calls.append("plan")
            return super(Ordered, self).plan(rollout, ctx)

        def start(self, rollout, ctx):
            calls.append("start")
            return super(Ordered, self).start(rollout, ctx)

    rollouts = _rollouts(Ordered(clock, seconds=60), clock, 200)
    _engine.Scheduler(clock, workers=4).run(rollouts)
    # Unbounded starts, 4 workers: the first POST comes after a handful of plans, not after all 200 of them.
    assert calls.count("start") == 200 and calls.index("start") < 10


def test_a_step_that_crashes_ends_only_its_machine():
    clock = RecordingClock()
    kind = ScriptedKind(clock, seconds=60, fail_start={"vmss-0001"})
    rollouts = _rollouts(kind, clock, 3)
    _engine.Scheduler(clock, workers=2).run(rollouts)
    failed = rollouts[1].outcome
    assert failed.failed and failed.failure["error"]["code"] == "BadRequest" and isinstance(failed.error, AzureError)
    assert failed.result == {"action": "start", "upgrade_started": False, "rolling_upgrade": None, "left_running": False}
    assert not rollouts[0].outcome.failed and not rollouts[2].outcome.failed


def test_the_outcome_is_decided_once():
    clock = RecordingClock()
    rollout = _rollouts(ScriptedKind(clock, seconds=60), clock, 1)[0]
    _engine.Scheduler(clock, workers=0).run([rollout])
    with pytest.raises(RuntimeError, match="decided twice"):
        rollout._finish({})   # pylint: disable=protected-access


@pytest.mark.parametrize("on_timeout, cancelled, failed", [("leave", False, False), ("cancel", True, True),
                                                           ("fail", False, True)])
def test_a_deadline_ends_the_watch_by_on_timeout(on_timeout, cancelled, failed):
    clock = RecordingClock()
    kind = ScriptedKind(clock, seconds=3600)
    rollout = _rollouts(kind, clock, 1, wait_timeout=300, on_timeout=on_timeout)[0]
    _engine.Scheduler(clock, workers=0).run([rollout])
    outcome = rollout.outcome
    assert outcome.result["timed_out"] and outcome.result["cancelled"] is cancelled and outcome.failed is failed
    assert outcome.result["left_running"] is (not cancelled)
    # The deadline is hard: no poll after it.
    assert clock.now - 1000.0 == pytest.approx(300, abs=0.01)


def test_an_attached_upgrade_is_watched_and_never_cancelled_without_cancel_attached():
    clock = RecordingClock()
    kind = ScriptedKind(clock, seconds=3600, running={"vmss-0000"})
    rollout = _rollouts(kind, clock, 1, wait_timeout=120, on_timeout="cancel")[0]
    _engine.Scheduler(clock, workers=0).run([rollout])
    outcome = rollout.outcome
    assert outcome.result["action"] == "attach" and not outcome.result["cancelled"] and outcome.failed
    assert "Not cancelled" in outcome.failure["msg"] and kind.started    # the attached upgrade goes on


def test_an_interrupt_in_a_tick_leaves_the_scheduler_at_once():
    clock = RecordingClock()
    rollouts = _rollouts(ScriptedKind(clock, seconds=600), clock, 20)

    def stop(now):
        raise KeyboardInterrupt()

    with pytest.raises(KeyboardInterrupt):
        _engine.Scheduler(clock, workers=4).run(rollouts, interval=60, on_tick=stop)
    assert clock.now - 1000.0 <= 90 and any(r.outcome is None for r in rollouts)


def test_a_stopped_scheduler_runs_no_step_that_was_handed_out_but_not_begun():
    # An interrupt stops the scheduler while a worker is in a step: a step queued behind it (a start, say) must never
    # run after the interrupt; the step in progress ends.
    began, release, ran = threading.Event(), threading.Event(), []

    def first():
        began.set()
        release.wait(5)
        ran.append("first")

    scheduler = _engine.Scheduler(RecordingClock(), workers=1)
    scheduler._hand(_engine.Task(first))                       # pylint: disable=protected-access
    scheduler._hand(_engine.Task(lambda: ran.append("second")))  # pylint: disable=protected-access
    assert began.wait(5)
    scheduler._stop()                                           # pylint: disable=protected-access
    release.set()
    scheduler._threads[0].join(5)                               # pylint: disable=protected-access
    assert ran == ["first"] and not scheduler._threads[0].is_alive()  # pylint: disable=protected-access


def test_a_poll_whose_budget_is_spent_is_held_back_not_handed_to_a_worker():
    clock = RecordingClock()
    pacer = Pacer(clock, budgets={"LowCostGet": ((12, 2), (800, 2400))})

    class Polled(ScriptedKind):
        def __init__(self, *args, **kwargs):
            super(Polled, self).__init__(*args, **kwargs)
            self.polled_at = []

        def poll_request(self, rollout):
            return "GET", "https://management.azure.com" + _vmss.vmss_path(SUB, "rg", rollout.params["name"],
                                                                           "rollingUpgrades/latest")

        def progress(self, rollout, ctx):
            url = self.poll_request(rollout)[1]
            pacer.acquire(elastic(ctx), "GET", url)
            self.polled_at.append(clock.monotonic())
            return super(Polled, self).progress(rollout, ctx)

    kind = Polled(clock, seconds=60)
    rollout = _rollouts(kind, clock, 1, poll_interval=1)[0]
    _engine.Scheduler(clock, workers=2, pacer=pacer).run([rollout])
    gaps = [b - a for a, b in zip(kind.polled_at, kind.polled_at[1:])]
    # A bucket of 2 at 12 a minute, a quarter kept for urgent requests: after the first poll, one every 5 s at most.
    assert rollout.outcome.result["rolling_upgrade"]["running_status"]["code"] == "Completed"
    assert gaps and min(gaps[1:] or gaps) >= 4.9


# -- the extension kind against the emulator (issue 17: the operation for the end, latest as its budget allows) --------
def _watched(emulator, on_poll=None):
    data = load_scenario("default")
    data["throttling"] = True           # Compute's buckets with Microsoft's numbers
    emulator.load(data)
    clock = EmulatorClock(emulator)
    client = AzureClient(options_for(emulator), clock=clock, pacer=Pacer(clock),
                         retry=RetryPolicy(max_attempts=4, backoff_base=0.5, backoff_cap=4.0))
    params = dict(PARAMS, poll_interval=1, wait_timeout=3600, only_if_outdated=False)
    rollout = _engine.Rollout({"subscription_id": SUB, "resource_group": "rg-test", "name": "vmss-healthy"}, params,
                              client, _upgrade.EXTENSION,
                              observer=on_poll and (lambda event, value: event == "poll" and on_poll(client)))
    _engine.Scheduler(clock, workers=0, pacer=client.pacer).run([rollout])
    reads = [r for r in emulator.requests if r["kind"] == "arm" and r["method"] == "GET"]
    latest = [r["status"] for r in reads if r["path"].endswith("/rollingUpgrades/latest")]
    operations = [r["status"] for r in reads if "/operations/" in r["path"]]
    return rollout, latest, operations


def test_a_watch_of_its_own_upgrade_reads_the_operation_and_latest_only_as_its_budget_allows(emulator):
    rollout, latest, operations = _watched(emulator)
    result = rollout.outcome.result
    assert not rollout.outcome.failed and result["rolling_upgrade"]["running_status"]["code"] == "Completed"
    assert rollout.op_status["status"] == "Succeeded"
    final = [v["latest"] for v in emulator.state()["scale_sets"] if v["name"] == "vmss-healthy"][0]["properties"]
    assert result["rolling_upgrade"]["progress"]["successful_instance_count"] == final["progress"]["successfulInstanceCount"]
    # Batches of 60 s polled every second: the operation's status (45 tokens, 15 a minute for it) every second
    # until its bucket is down to the quarter kept for what cannot wait, then at its refill; the scale set's latest
    # only when its own bucket (36 tokens, 12 a minute) has a token above that quarter; never a 429.
    assert 429 not in latest + operations and len(operations) > len(latest)
    took = result["elapsed"]
    assert len(operations) <= 34 + took / 4 + 2 and len(latest) <= 27 + took / 5 + 2


def test_a_cancelled_upgrade_is_judged_by_latest_though_its_operation_says_succeeded(emulator):
    cancelled = []

    def cancel(client):
        if not cancelled:
            cancelled.append(_vmss.cancel_upgrade(client, SUB, "rg-test", "vmss-healthy"))

    rollout, latest, operations = _watched(emulator, cancel)
    assert rollout.op_status["status"] == "Succeeded"             # the recorded quirk (tests/emulator/README.md)
    assert rollout.outcome.failed and isinstance(rollout.outcome.error, ModuleFailure)
    assert rollout.outcome.result["rolling_upgrade"]["running_status"]["code"] == "Cancelled" and latest[-1] == 200
