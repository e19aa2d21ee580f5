# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine: one scheduler, and one explicit state machine per scale set.

``Rollout`` is one scale set's rollout, a state machine whose states are its next action::

    plan ──> start ──> watch ──> done
      │        │         │ └──> timeout ──> done      (on_timeout: leave, fail, or cancel and then done)
      └────────┴─────────┴────> done                  (current, skipped, refused, check mode, a failure)

The plan's action is ``start``, ``attach`` (watch an upgrade running already), ``skip``, ``current``, ``refuse``, or
``approve``: the start state approves an upgrade the platform started and deferred (``_os_upgrade.OsKind``), which is
then watched like an attached one (not this run's upgrade: ``upgrade_started`` stays false).

Each ``step()`` does the work of one state (a few requests at most) and says when the next one is due; the outcome
is decided exactly once, in ``_finish``. What differs between rollout kinds (extensions, OS images) is a small
strategy, the ``kind`` (see ``_upgrade.ExtensionKind``): ``plan`` (what the upgrade would change), ``start`` (the
POST) and ``progress`` (one status read).

``Scheduler`` runs any number of such machines in the calling thread: a heap of (due time, machine), a bounded
pool of worker threads that run the steps (``workers=0``: run them in the calling thread), admission of at most
``max_starts`` machines into their plan and start states at once (Azure's write budget), polls held back while
the pacer says their budget is spent, and a callback every ``interval`` seconds (the progress blocks). When no
worker is busy it sleeps on its clock until the next due step, so a test clock that jumps when slept runs a
40-minute rollout in no time. Signals raised in the calling thread (``Interrupted``) end ``run`` at once.

Nothing here knows Ansible or Azure's URLs: the module, the batch step and the event source are callers.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import heapq
import itertools
import queue
import threading

from ansible_collections.azure_ops.rollout.plugins.module_utils import _lro, _pacing, _shapes, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError, AzureTimeoutError
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import ModuleFailure
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

# HTTP workers of a scheduler at most: a fleet of thousands of scale sets is watched by this many threads.
WORKERS = 32
# Time allowed for the cancel request after the wait deadline has passed.
CANCEL_BUDGET = 120
# The states in which a machine holds a start slot (see Scheduler: max_starts).
STARTING = ("plan", "start")
# The states of a machine whose work goes on in Azure while it waits.
WATCHING = ("watch", "timeout")
# The plan's actions that change something in Azure.
CHANGING = ("start", "approve")


class Outcome:
    """How a rollout ended, decided once: the result (the module's result keys), the failure (``{"msg", "error"}``)
    or None, and the exception that ended it (a module re-raises it as it came)."""

    def __init__(self, result, failure=None, error=None):
        self.result = result
        self.failure = failure
        self.error = error

    @property
    def failed(self):
        return self.failure is not None


def unexpected(error):
    """The failure of a step that crashed: the exception in one line, no traceback."""
    return {"msg": "unexpected error: %s: %s" % (type(error).__name__, error), "error": None}


class Rollout:
    """One scale set's rollout (see the module docstring).

    ``target``: ``{"subscription_id", "resource_group", "name"}`` (and ``host``); ``params``: the decision options
    (``_upgrade.DECISION_SPEC``) plus ``wait`` and ``operation_url``; ``kind``: the strategy; ``observer(event,
    value)`` hears ``("planned", action)``, ``("started", None)`` and ``("poll", shaped or None)``.
    ``read_final_operation``: read the start operation's final status once the upgrade ended (the module's
    ``operation`` result; the batch step does without it: one request less per scale set).
    """

    def __init__(self, target, params, client, kind, check_mode=False, diff_mode=False, observer=None,
                 read_final_operation=True, catalog_cache=None):
        self.target = target
        self.params = dict({"wait": True, "operation_url": None}, **params)
        self.params.update(resource_group=target["resource_group"], name=target["name"])
        self.client = client
        self.kind = kind
        self.subscription_id = target["subscription_id"]
        self.check_mode = check_mode
        self.diff_mode = diff_mode
        self.observer = observer
        self.read_final_operation = read_final_operation
        self.catalog_cache = catalog_cache
        self.warnings = []
        self.stats = _pacing.Stats()   # what throttling cost this scale set's requests (carried in their Context)
        # The machine: its state, its deadline (set at the first step) and what the watch keeps between polls.
        self.state = "plan"
        self.ctx = None
        self.operation = None
        self.planned_at = None     # the service's clock at the plan read: an upgrade that began after it is ours
        self.started_after = None
        self.op_status = None
        self.timeline = None
        self.due = 0.0
        self.failed_polls = 0
        self.result = None
        self.outcome = None
        # What a display reads while the machine runs (single attribute writes).
        self.phase = "waiting"
        self.shaped = None       # the latest rolling upgrade read, when it is ours
        self.latest = None       # the latest rolling upgrade read, ours or not
        self.action = None
        self.upgrade_started = False
        self.began = None

    @property
    def where(self):
        return (self.subscription_id, self.params["resource_group"], self.params["name"])

    def warn(self, message):
        self.warnings.append(message)

    def _observe(self, event, value):
        if event == "planned":
            self.action = value
            self.phase = {"start": "starting", "attach": "attached", "skip": "Skipped", "current": "Current",
                          "refuse": "Refused", "approve": "approving"}.get(value, value)
        elif event == "started":
            self.upgrade_started = True
        elif event == "poll" and value is not None:
            self.shaped = value
            self.phase = value["running_status"]["code"] or self.phase
        if self.observer is not None:
            self.observer(event, value)

    # -- the machine ---------------------------------------------------------------------------------
    def step(self):
        """Do the current state's work; return the seconds until the next step is due, or None when done."""
        if self.ctx is None:
            self.began = self.client.clock.monotonic()
            self.ctx = _pacing.Context(Deadline(self.params["wait_timeout"], self.client.clock), stats=self.stats)
        try:
            return getattr(self, "_" + self.state)()
        except ModuleFailure as error:
            self._finish(error.result, {"msg": error.msg, "error": None}, error)
        except AzureError as error:
            self._finish(self.partial(), {"msg": str(error), "error": error.to_dict()}, error)
        except Exception as error:  # pylint: disable=broad-except  # one scale set's crash must not end a batch
            self._finish(self.partial(), unexpected(error), error)
        return None

    def next_request(self):
        """``(method, url)`` of the next step's first request when it is a poll (the scheduler holds a poll back while
        its budget is spent), else None."""
        if self.state != "watch":
            return None
        return self.kind.poll_request(self)

    def _plan(self):
        self.phase = "planning"
        params = self.params
        plan = self.kind.plan(self, self.ctx)
        self.latest, self.planned_at = plan.latest, plan.server_time
        action = plan.action
        self.result = dict(self.kind.base_result(self, plan), changed=action in CHANGING, upgrade_started=False,
                           action=action, elapsed=0.0, timeline=[], polls=0, timed_out=False, cancelled=False,
                           left_running=False, **plan.details)
        self._observe("planned", action)
        if action == "refuse":
            raise ModuleFailure(self.kind.refusal(self, plan), **self.result)
        if self.check_mode or action in ("skip", "current") or (action == "attach" and not params["wait"]):
            return self._finish(self.result)
        if action == "attach":
            return self._begin_watch()
        # The start follows its plan in the same step: a batch's first starts never wait behind the other plans.
        self.state = "start"
        return self._start()

    def _start(self):
        params, result = self.params, self.result
        try:
            self.operation, self.started_after = self.kind.start(self, self.ctx)
        except AzureError as error:
            raced = self.kind.raced(self, self.ctx, error)
            if raced is None:
                raise
            # Someone (Azure itself, most often) started one between our plan read and the POST: a running upgrade,
            # decided by if_running like one seen at the plan read.
            action = _vmss.plan(raced, params["if_running"])
            text = race_text(params["name"], error, raced, params["if_running"])
            result.update(action=action, changed=False, rolling_upgrade=raced,
                          start_refused={"code": error.code, "message": error.message})
            self._observe("planned", action)
            if action != "attach":
                raise ModuleFailure(text, **result)
            self.warn(text)
        else:
            result["operation_url"] = self.operation.status_url if self.operation else None
            if self.action != "approve":
                result["upgrade_started"] = True
                self._observe("started", None)
        if not params["wait"]:
            result["elapsed"] = round(self.ctx.elapsed(), 1)
            return self._finish(result)
        self.state = "watch"
        return self._begin_watch()

    def _begin_watch(self):
        self.state = "watch"
        self.timeline = _lro.Timeline()
        self.due = self.ctx.elapsed()
        return 0.0

    def _watch(self):
        """One poll; the next one keeps to the schedule (``_lro.next_poll``), never past the deadline."""
        ctx = self.ctx
        try:
            hinted = self.kind.progress(self, ctx)
        except AzureTimeoutError as error:
            # The deadline passed inside a read (or Azure throttled it past the deadline): a timeout of the wait.
            return self._timeout(error)
        except AzureError as error:
            # ARM: an error reading the status is not the operation's failure; read again, a few times at most.
            self.failed_polls += 1
            if not _lro.is_transient(error) or self.failed_polls > _lro.MAX_FAILED_POLLS or ctx.expired():
                raise
            hinted = None
        else:
            self.failed_polls = 0
            latest = self.latest
            self.timeline.observe(ctx.elapsed(), _shapes.progress_summary(latest) if latest else None)
            self._observe("poll", self.watched())
            if self.kind.ended(self):
                return self._judge()
        now = ctx.elapsed()
        self.due = _lro.next_poll(self.due, now, self.params["poll_interval"], hinted)
        wait = self.due - now
        if wait >= ctx.remaining():
            # Polling once more at the deadline would start a request with no time left: time out then.
            self.state = "timeout"
            return ctx.remaining()
        return wait

    def watched(self):
        """The upgrade this rollout is about: when it started one, a latest that began before the start is an older
        upgrade (the start failed before the new one showed), whose code and error must not be taken for the outcome.
        The one place that asks "is it ours" of a read (``_vmss.is_ours``); a lost start's answer asks it of the plan
        read's time instead (``_upgrade.RollingUpgradeKind.start``)."""
        latest = self.latest
        return latest if self.started_after is None or _vmss.is_ours(latest, self.started_after) else None

    def record_watch(self):
        """The watch's findings into the result: the timeline, the time, and what the kind keeps (the upgrade watched,
        the operation)."""
        self.result.update(timeline=self.timeline.entries if self.timeline else [],
                           polls=self.timeline.polls if self.timeline else 0, elapsed=round(self.ctx.elapsed(), 1))
        self.kind.record(self)

    def _judge(self):
        """The kind judges what it watched: it raises ModuleFailure when it did not end well, else it says when the
        next start is due (another batch of instances) or None (done)."""
        following = self.kind.judge(self)
        if following is None:
            return self._finish(self.result)
        if following >= self.ctx.remaining():
            # The next start would come after the deadline: nothing more is started (on_timeout decides).
            self.state = "timeout"
            return self.ctx.remaining()
        self.state = "start"
        return following

    def _timeout(self, cause=None):
        """Apply ``on_timeout``. Only an upgrade this rollout started is cancelled, unless ``cancel_attached``.
        ``cause``: a throttle whose Retry-After reached past the deadline ends the wait early; the message says so."""
        params, result = self.params, self.result
        self.record_watch()
        result["timed_out"] = True
        what, progress = self.kind.noun, self.kind.progress_text(self)
        if isinstance(cause, _pacing.AzureThrottledError):
            text = "Stopped waiting for the %s of %s after %ss of wait_timeout=%ss: %s; last progress: %s" % (
                what, params["name"], result["elapsed"], params["wait_timeout"], cause, progress)
        else:
            text = "Timed out after %ss waiting for the %s of %s; last progress: %s" % (
                params["wait_timeout"], what, params["name"], progress)
        still_running = self.kind.still_running(self)
        if params["on_timeout"] == "leave":
            result["left_running"] = still_running
            self.warn(text + ". It goes on in Azure (on_timeout=leave).")
            return self._finish(result)
        if params["on_timeout"] == "cancel" and (result["upgrade_started"] or params.get("cancel_attached")):
            text += self._cancel()
        elif params["on_timeout"] == "cancel":
            text += (". Not cancelled: this task attached to an upgrade it did not start (set cancel_attached=true to "
                     "cancel those too); it goes on in Azure")
        else:
            text += ". It goes on in Azure (on_timeout=fail)"
        result["left_running"] = not result["cancelled"] and still_running
        raise ModuleFailure(text, **result)

    def _cancel(self):
        """Cancel the upgrade (after the deadline: on a budget of its own) and read how it stands; the words to add."""
        grace = _pacing.Context(Deadline(CANCEL_BUDGET, self.client.clock), stats=self.stats)
        try:
            self.kind.cancel(self, grace)
            self.result["cancelled"] = True
            text = ". The rolling upgrade was cancelled (on_timeout=cancel)"
        except AzureError as error:
            text = ". Cancelling it failed, it goes on in Azure: %s" % error
        try:
            self.result["rolling_upgrade"] = self.kind.read_latest(self, grace).upgrade
        except AzureError:
            pass  # keep the last status seen before the cancel
        return text

    def _finish(self, result, failure=None, error=None):
        """The outcome, decided here and only here."""
        if self.outcome is not None:
            raise RuntimeError("the outcome of %s was decided twice" % self.params["name"])
        self.state = "done"
        self.result = result
        self.outcome = Outcome(result, failure, error)
        return None

    def partial(self):
        """What is known of a rollout a failure ended before its result was whole: it may have started an upgrade
        that goes on in Azure."""
        if self.action is None:
            return {}
        return {"action": self.action, "upgrade_started": self.upgrade_started, "rolling_upgrade": self.shaped,
                "left_running": self.upgrade_started and (self.shaped is None or _vmss.is_running(self.shaped))}


def race_text(name, error, shaped, if_running):
    """One sentence for a start that lost the race, naming who started the running upgrade where Azure says (its
    refusal's message is all Azure tells of it)."""
    return ("Azure refused to start a rolling upgrade of %s: a rolling upgrade that this task did not start is running "
            "(started %s; %s: %s). if_running=%s: %s." % (
                name, shaped["running_status"].get("start_time"), error.code, error.message, if_running,
                {"wait": "watching it", "fail": "not watching it", "start": "another cannot be started"}[if_running]))


def run_one(rollout):
    """Run one rollout to its outcome in the calling thread (a module's run); return its result, or raise what ended
    it (ModuleFailure with the result, AzureError)."""
    Scheduler(rollout.client.clock, workers=0).run([rollout])
    outcome = rollout.outcome
    if outcome.error is not None and isinstance(outcome.error, (ModuleFailure, AzureError)):
        raise outcome.error
    if outcome.failed:
        raise ModuleFailure(outcome.failure["msg"], **outcome.result)
    return outcome.result


class Task:
    """A one-step machine around a function (a status read): for the scheduler, like a Rollout that is done at once."""

    def __init__(self, function):
        self.function = function
        self.value = None
        self.state = "plan"

    def step(self):
        self.value = self.function()
        self.state = "done"
        return None

    @staticmethod
    def next_request():
        return None


class Scheduler:
    """Runs machines (anything with ``step()``, ``state`` and ``next_request()``) to their end (module docstring).

    ``clock``: ``monotonic()`` and ``sleep(seconds)``; ``pacer``: asked whether a poll's budget has a token
    (``Pacer.delay``) before the poll is handed to a worker; ``max_starts``: machines admitted into their plan and
    start states at once (0: no bound); a machine that goes back to a start (a model rollout's next batch) waits for a
    slot again.
    """

    def __init__(self, clock, workers=WORKERS, max_starts=0, pacer=None):
        self.clock = clock
        self.workers = workers
        self.max_starts = max_starts
        self.pacer = pacer
        self._tasks = queue.SimpleQueue()       # steps for the workers (None: stop)
        self._finished = queue.SimpleQueue()    # (machine, delay) of each step done, for the scheduler
        self._busy = 0                          # steps handed out and not yet collected (the scheduler's own count)
        self._threads = []
        self._seq = itertools.count()

    @property
    def queue_limit(self):
        """Steps handed out at once: every worker busy and as many waiting (a worker never idles for the scheduler)."""
        return 2 * self.workers

    @property
    def threads(self):
        return len(self._threads)

    def run(self, machines, after_step=None, interval=None, on_tick=None):
        """Step every machine until each is done. ``after_step(machine)`` runs in this thread after each step;
        ``on_tick(now)`` every ``interval`` seconds. Returns the machines."""
        heap = []
        waiting = collections.deque((machine, self.clock.monotonic()) for machine in machines)
        starting, holding = [0], set()
        left = [len(machines)]
        now = self.clock.monotonic()
        next_tick = now + interval if interval else None

        def admit(at):
            while waiting and (not self.max_starts or starting[0] < self.max_starts):
                machine, due = waiting.popleft()
                starting[0] += 1
                holding.add(id(machine))
                heapq.heappush(heap, (max(at, due), next(self._seq), machine))

        def settle(machine, delay, at):
            if machine.state not in STARTING and id(machine) in holding:
                holding.discard(id(machine))
                starting[0] -= 1
            if after_step is not None:
                after_step(machine)
            if delay is None:
                left[0] -= 1
            elif machine.state in STARTING and id(machine) not in holding:
                # Back to a start (the next batch of instances): it waits for a start slot like a new machine.
                waiting.append((machine, at + max(0.0, delay)))
            else:
                heapq.heappush(heap, (at + max(0.0, delay), next(self._seq), machine))
            admit(at)

        admit(now)
        try:
            while left[0]:
                now = self.clock.monotonic()
                for machine, delay in self._collect():
                    settle(machine, delay, now)
                if next_tick is not None and now >= next_tick:
                    on_tick(now)
                    next_tick = now + interval
                while heap and heap[0][0] <= now and (self.workers == 0 or self._busy < self.queue_limit):
                    machine = heapq.heappop(heap)[2]
                    hold = self._held_back(machine)
                    if hold:
                        heapq.heappush(heap, (now + hold, next(self._seq), machine))
                        continue
                    if self.workers == 0:
                        settle(machine, machine.step(), self.clock.monotonic())
                        now = self.clock.monotonic()
                    else:
                        self._hand(machine)
                if not left[0]:
                    break
                self._wait(now, heap, next_tick)
        finally:
            self._stop()
        return machines

    def _held_back(self, machine):
        """Seconds a poll waits for its budget (the pacer decides; never past the machine's deadline), else 0."""
        request = machine.next_request() if self.pacer is not None else None
        if not request:
            return 0.0
        ctx = _pacing.elastic(machine.ctx)
        return min(self.pacer.delay(ctx, *request), ctx.remaining())

    def _wait(self, now, heap, next_tick):
        """Until the next due step (when a worker is free for it), the next tick, or a finished step."""
        dues = [next_tick] if next_tick is not None else []
        if heap and (self.workers == 0 or self._busy < self.queue_limit):
            dues.append(heap[0][0])
        if self._busy:
            try:
                done = self._finished.get(timeout=max(0.0, min(dues) - now) if dues else None)
            except queue.Empty:
                return
            self._finished.put(done)   # collected with the others at the top of the loop
            return
        if not dues:
            raise RuntimeError("the scheduler has machines left but nothing due and nothing at work")
        # Nothing at work: nothing can happen before the next due step.
        self.clock.sleep(max(0.0, min(dues) - now))

    def _collect(self):
        done = []
        while True:
            try:
                done.append(self._finished.get_nowait())
            except queue.Empty:
                break
        self._busy -= len(done)
        return done

    def _hand(self, machine):
        self._busy += 1
        if len(self._threads) < self.workers and len(self._threads) < self._busy:
            thread = threading.Thread(target=self._work, name="rollout-worker-%d" % len(self._threads))
            thread.daemon = True   # a stopped controller stops watching; the upgrades go on in Azure
            self._threads.append(thread)
            thread.start()
        self._tasks.put(machine)

    def _work(self):
        while True:
            machine = self._tasks.get()
            if machine is None:
                return
            try:
                delay = machine.step()
            except Exception:  # pylint: disable=broad-except  # a machine's step never raises; a backstop all the same
                delay = None
                machine.state = "done"
            self._finished.put((machine, delay))

    def _stop(self):
        """No step handed out and not yet begun is run (an interrupt must not be followed by a start); each worker
        ends after the step it is in."""
        while True:
            try:
                self._tasks.get_nowait()
            except queue.Empty:
                break
        for _thread in self._threads:
            self._tasks.put(None)
