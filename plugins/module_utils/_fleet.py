# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The batch step: every scale set of a batch planned, started (once) and watched in one process.

Ansible forks a worker per host per task; watching a 40-minute upgrade with a task per host per round
costs the controller CPU for every host and every round. Here one task (the action plugin
``vmss_rollout_batch``, run once per batch) runs one state machine per scale set (``Job``, an
``_engine.Rollout``: the very machine the module ``vmss_extension_upgrade`` runs for its one scale set)
on one scheduler (``_engine.Scheduler``: the calling thread and a bounded pool of HTTP workers), with
one shared client and token. The calling thread prints a compact block per progress interval and
returns one record per scale set (``_outcome``).

Nothing here knows Ansible: the action plugin passes targets, options, a client, a clock and an
``emit(lines)`` function, so the whole step is tested without ``ansible-playbook``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible_collections.azure_ops.rollout.plugins.module_utils import (_drift, _engine, _model, _os_upgrade,
                                                                        _outcome, _upgrade, _validation, _vmss)
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import ModuleFailure

# The rules a target's fields must follow (named after the host variables they come from).
TARGET_RULES = (("resource_group", _validation.RESOURCE_GROUP), ("name", _validation.VMSS_NAME),
                ("subscription_id", _validation.SUBSCRIPTION_ID))
# The batch step's own options, beside the decision options it shares with vmss_extension_upgrade and the model
# rollout's (vmss_model_rollout; for kind=model only).
BATCH_SPEC = dict(_upgrade.DECISION_SPEC, **dict(_model.MODEL_SPEC, **dict(_os_upgrade.KIND_SPEC, **dict(_os_upgrade.OS_SPEC, **{
    "hosts": {"type": "list", "elements": "str", "required": True},
    "mode": {"type": "str", "choices": ["rollout", "status"], "default": "rollout"},
    "ring": {"type": "str"},
    "progress_interval": {"type": "int", "default": 30},
    "max_concurrent_starts": {"type": "int", "default": 10},
    "parallel_reads": {"type": "int", "default": 20},
    "drift": {"type": "bool", "default": False},
    "variable_prefix": {"type": "str", "default": ""},
    "report": {"type": "dict"},
}))))
BATCH_RULES = dict(_upgrade.DECISION_RULES, **dict(_model.MODEL_RULES, **{
    "progress_interval": _validation.Range(1, 3600),
    "max_concurrent_starts": _validation.Range(0, 1000),
    "parallel_reads": _validation.Range(1, 200),
}))


class Interrupted(BaseException):
    """The run was stopped (SIGINT, SIGTERM) while the batch watched: raised in the calling thread by the caller's
    signal handler. A BaseException, so no ``except Exception`` of a step swallows it. ``run_rollout`` adds
    ``records``: every scale set's record at that moment (the unfinished ones ``Interrupted``)."""

    def __init__(self, signum=None):
        BaseException.__init__(self, signum)
        self.signum = signum
        self.records = None


def utc_iso(epoch):
    """``2026-11-30T00:40:12+00:00``: UTC, the zone written out."""
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).replace(microsecond=0).isoformat()


def target_problems(target):
    """What is wrong with a target's fields, in words naming the host variable (empty when fine)."""
    found = []
    for key, rule in TARGET_RULES:
        value = target.get(key)
        # An empty name gets its rule's words below; an unset (null) one must not become the name "None".
        if value is None or (value == "" and key != "name"):
            if key == "subscription_id":
                found.append("subscription_id is not set (host var subscription_id, azure_subscription_id, "
                             "module_defaults or AZURE_SUBSCRIPTION_ID)")
            elif key == "resource_group":
                found.append("resource_group is not set (host var resource_group)")
            else:
                found.append("vmss_name is not set (host var vmss_name)")
            continue
        problem = rule.problem(value)
        if problem:
            found.append("%s %s" % ("vmss_name" if key == "name" else key, problem))
    return found


# Options a batch shares: one value for every scale set of the batch.
BATCH_SETTINGS = tuple(sorted(set(_upgrade.DECISION_SPEC) | set(_model.MODEL_SPEC) | set(_os_upgrade.OS_SPEC)
                              | set(("kind", "progress_interval", "max_concurrent_starts"))))


def _as_option(option, value):
    """``value`` converted as the batch step converts its option (so 80, "80" and 80.0 are one value)."""
    from ansible.module_utils.common.validation import check_type_bool, check_type_int, check_type_str

    kind = BATCH_SPEC[option].get("type", "str")
    try:
        # raw options (extensions: a list of names) are compared as given, not as their text
        return {"int": check_type_int, "bool": check_type_bool, "raw": lambda raw: raw}.get(kind, check_type_str)(value)
    except (TypeError, ValueError):
        return value


def setting_conflicts(params, host_settings, prefix, first_host):
    """Messages for the batch settings a host sets (as ``<prefix><option>``) to another value than its batch uses.

    The batch step runs once for the batch with the options of its first host; a different value on another host
    would be silently ignored, so it is refused instead, naming the variable.
    """
    found = []
    for option in sorted(host_settings):
        mine, theirs = host_settings[option], params.get(option)
        if _as_option(option, mine) != theirs:
            found.append("%s%s is %s on this host but %s for its batch (the value on %s): the scale sets of a batch "
                         "share one value, set it for the whole ring or play" % (prefix, option, mine, theirs, first_host))
    return found


class Job(_engine.Rollout):
    """One scale set of a batch: its state machine (``_engine.Rollout``) and the record the batch returns for it."""

    def __init__(self, target, params, client, check_mode=False, diff_mode=False, kind=None):
        super(Job, self).__init__(target, dict(params, wait=True, operation_url=None), client, kind or _upgrade.EXTENSION,
                                  check_mode=check_mode, diff_mode=diff_mode, read_final_operation=False)
        self.diff = None      # the versions before and after (--diff), its headers naming the scale set
        self.record = None    # the outcome rendered (_outcome.rollout_record), once the machine is done
        self.started_at = None

    def step(self):
        if self.started_at is None:
            self.started_at = utc_iso(self.client.clock.wall())
        return super(Job, self).step()


def render(job, clock, on_timeout):
    """The record of a job whose machine is done: its outcome as ``_outcome`` renders it."""
    outcome = job.outcome
    if outcome is None:
        # Backstop: a machine never ends without an outcome, but if one did the batch must say so.
        outcome = _engine.Outcome(job.partial(), {"msg": "internal error: the step of this scale set ended without an "
                                                  "outcome", "error": None})
    # What Azure's throttling cost this scale set's requests, as the module reports it.
    result = dict(outcome.result, throttled=job.stats.summary())
    job.diff = labelled_diff(result.get("diff"), job.target["name"])
    record = _outcome.rollout_record(job.target, result, outcome.failure, job.check_mode, on_timeout,
                                     elapsed=clock.monotonic() - job.began if job.began is not None else None,
                                     started_at=job.started_at, ended_at=utc_iso(clock.wall()), warnings=job.warnings)
    job.record = explain_refusal(record, job.params.get("variable_prefix"))
    job.phase = job.record["status"]


def labelled_diff(diff, name):
    """The procedure's diff (``--diff``: versions before and after), its headers naming the scale set."""
    if not diff:
        return None
    return dict(diff, before_header="%s: %s" % (name, diff.get("before_header")),
                after_header="%s: %s" % (name, diff.get("after_header")))


# What a refusal needs to become a start, a wait or an approval: the status it gives, the option and value that
# refused, the value that lets it through, and what that does.
REFUSING_OPTIONS = (("Refused", "if_faulted", "fail", "start", "start"),
                    ("Refused", "if_running", "fail", "wait", "wait for"),
                    (_outcome.AWAITING_APPROVAL, "approve_deferred", "false", "true", "approve"))


def explain_refusal(record, prefix):
    """A ``Refused`` (or ``AwaitingApproval``) record of the role names the exact variable
    (``vmss_extension_rollout_if_faulted``) in ``refused_by`` and its message, and the way to override it for this scale
    set: ``-e <variable>=start --limit <host>`` (the same variable set on the host alone is refused: the scale sets of
    a batch share one value)."""
    if not prefix:
        return record
    for status, option, refusing, value, verb in REFUSING_OPTIONS:
        words = "%s=%s" % (option, refusing)
        if record.get("status") == status and words in (record.get("msg") or ""):
            variable = prefix + option
            msg = record["msg"].replace(words, "%s=%s" % (variable, refusing)).replace(
                "run with %s=%s" % (option, value), "start it again as below").rstrip(".")
            return dict(record, refused_by=variable, msg="%s. To %s this scale set anyway: ansible-playbook ... -e %s=%s "
                        "--limit %s (on the command line: a value set on one host is refused, the scale sets of a batch "
                        "share one)." % (msg, verb, variable, value, record["host"]))
    return record


def snapshot(jobs, clock, batch, interrupted=False):
    """Every job's record now: its outcome, else ``Running`` (or ``Interrupted`` when the run was stopped)."""
    now = clock.monotonic()
    records = []
    for job in jobs:
        record = job.record  # read once: the job's thread may set it meanwhile
        if record is None:
            record = _outcome.unfinished_record(job.target, job.kind.known(job, job.partial()), job.check_mode, interrupted,
                                                elapsed=None if job.began is None else now - job.began,
                                                started_at=job.started_at)
        records.append(dict(record, batch=batch))
    return records


class Display:
    """The lines the batch prints: a header, then a block per progress interval, then a closing line."""

    def __init__(self, jobs, emit, width=None):
        self.jobs = jobs
        self.emit = emit
        # A name shared by scale sets of different resource groups is shown as resource_group/name.
        names = [job.target["name"] for job in jobs]
        self.labels = dict((id(job), job.target["name"] if names.count(job.target["name"]) == 1
                            else "%s/%s" % (job.target["resource_group"], job.target["name"])) for job in jobs)
        self.width = width or max([len(label) for label in self.labels.values()] + [12])
        self.shown = {}

    def line(self, job, now):
        record = job.record
        elapsed = record["elapsed"] if record else (now - job.began if job.began is not None else 0.0)
        text = _outcome.progress_line(self.labels[id(job)], job.phase, job.shaped, elapsed, self.width)
        if record and record["failed"]:
            text += "  " + _failure_text(record)
        elif record and (record.get("versions") or record.get("model")):
            text += "  " + _outcome.shorten(_outcome.versions_text(record), 120)
        return text

    def block(self, now, elapsed, note=None):
        """Lines of the scale sets whose state changed since the last block, and the batch summary. Scale sets that
        ended in this block with the very same failure (500 refused credentials) share one line."""
        lines, changed = [], []
        for job in self.jobs:
            key = (job.phase, _outcome.counts(job.shaped)["percent"], job.record is not None)
            # By job, not by name: scale set names are unique per resource group only.
            if self.shown.get(id(job)) != key:
                self.shown[id(job)] = key
                changed.append(job)
        failed = [job for job in changed if job.record is not None and job.record["failed"]]
        alike = {}
        for entry in _outcome.groups([job.record for job in failed]):
            for record in entry[2]:
                alike[id(record)] = entry[2]
        done = set()
        for job in changed:
            group = alike.get(id(job.record))
            if group is None or len(group) == 1:
                lines.append("  " + self.line(job, now))
            elif id(group) not in done:
                done.add(id(group))
                lines.append("  %-*s %-15s %s: %s" % (self.width, "%d scale sets" % len(group), group[0]["status"],
                                                      _failure_text(group[0]), _outcome.names(group, 5)))
        summary = _outcome.summary_line(elapsed, [job.phase for job in self.jobs], len(self.jobs))
        lines.append("  " + summary + ("  | " + note if note else ""))
        self.emit(lines)


def header(title, count, started, params, on_timeout, progress_interval, check_mode=False):
    """The batch's first line: what it does, its bounds, and what a stopped run leaves behind."""
    if check_mode:
        after = "Check mode: nothing is started or cancelled, each scale set is only planned."
    else:
        after = "Upgrades started go on in Azure if this run is stopped; a re-run attaches to them."
    return "%s: %d scale set%s, started %s; each waits up to %s (on_timeout=%s), polls every %ss, progress every %ss. %s" % (
        title or "batch", count, "" if count == 1 else "s", started, _outcome.duration(params.get("wait_timeout")),
        on_timeout, params.get("poll_interval"), progress_interval, after)


def _failure_text(record):
    """Azure's code, else the failure without the scale set's name, cut between words."""
    return record["error_code"] or _outcome.shorten(_outcome.problem(record), 160)


def run_rollout(jobs, clock, emit, progress_interval=30, max_concurrent_starts=10, on_timeout="fail", title=None,
                throttle_note=None, on_block=None, workers=_engine.WORKERS):
    """Run every job to its outcome, printing progress; return the records in job order.

    ``max_concurrent_starts`` bounds how many scale sets plan and start at once (0: no bound); every
    started upgrade is watched at once, by at most ``workers`` threads. ``throttle_note()``, when given, returns a
    short text (or None) shown in the summary line while Azure throttles the batch. ``on_block(records)``, when
    given, is called before the first request and after every progress block with every job's record at that moment
    (``snapshot``): the caller rewrites the report, so a run killed outright leaves a truthful one.
    ``Interrupted`` raised in this thread (by the caller's signal handler) leaves with ``records`` set.
    """
    began = clock.monotonic()
    batch = utc_iso(clock.wall())  # the batch a record belongs to: Ansible's max_fail_percentage is per batch
    params = jobs[0].params if jobs else {}
    check_mode = bool(jobs) and all(job.check_mode for job in jobs)
    # One versions catalog per batch: each (location, publisher, type) is read once for all its scale sets.
    catalog_cache = _drift.CatalogCache()
    for job in jobs:
        job.catalog_cache = job.catalog_cache or catalog_cache
    display = Display(jobs, emit)
    planned_shown = [False]

    def block(now):
        display.block(now, now - began, throttle_note() if throttle_note else None)
        if on_block and not all(job.record is not None for job in jobs):
            on_block(snapshot(jobs, clock, batch))

    def after_step(job):
        if job.state == "done" and job.record is None:
            render(job, clock, on_timeout)
        # One block as soon as every scale set is planned and its upgrade started (or its outcome known).
        # (A machine a worker just ended has no record yet: it is rendered when its step is collected, in this thread.)
        if not planned_shown[0] and all(job.record is not None or job.state in _engine.WATCHING for job in jobs):
            planned_shown[0] = True
            if not all(job.record is not None for job in jobs):
                block(clock.monotonic())

    try:
        emit([header(title, len(jobs), batch, params, on_timeout, progress_interval, check_mode)])
        if on_block:
            on_block(snapshot(jobs, clock, batch))
        scheduler = _engine.Scheduler(clock, workers=min(workers, len(jobs)), max_starts=max_concurrent_starts,
                                      pacer=jobs[0].client.pacer if jobs else None)
        scheduler.run(jobs, after_step, progress_interval, block)
        display.block(clock.monotonic(), clock.monotonic() - began, throttle_note() if throttle_note else None)
    except Interrupted as stop:
        stop.records = snapshot(jobs, clock, batch, interrupted=True)
        raise
    for job in jobs:
        job.record["batch"] = batch
    return [job.record for job in jobs]


def run_status(targets, client, api_version=_vmss.API_VERSION, parallel=20, drift=False, extensions=None, kind="extension"):
    """Read the latest rolling upgrade of every target (read only); return status records in target order.

    With ``drift``, also each scale set's extension drift (``_drift.check``), or with ``kind="os"`` its OS image drift
    (``_os_image.check``, no history): one model read, the VM list pages, and the catalog reads shared by the whole
    batch through one cache. With ``kind="model"``, the instances not on the latest model (``_model.check``: the model
    and the VM list, no POST); a scale set that check cannot read them of (Flexible) is an ``Error``, never current.
    """
    cache, rollout_kind = _drift.CatalogCache(), _os_upgrade.KINDS[kind]

    def read(target):
        where = (target["subscription_id"], target["resource_group"], target["name"])
        try:
            latest = _vmss.read_latest(client, *where, api_version=api_version)
            found = rollout_kind.read_drift(client, where, cache, extensions, api_version) if drift else None
        except (AzureError, ModuleFailure) as error:
            details = error.to_dict() if isinstance(error, AzureError) else None
            return _outcome.status_record(target, failure={"msg": str(error) if details else error.msg, "error": details})
        except Exception as error:  # pylint: disable=broad-except  # one scale set's crash must not end the status
            return _outcome.status_record(target, failure=_engine.unexpected(error))
        return _outcome.status_record(target, latest.upgrade, server_now=latest.server_time, drift=found)

    tasks = [_engine.Task(lambda target=target: read(target)) for target in targets]
    _engine.Scheduler(client.clock, workers=max(1, min(parallel, len(targets) or 1))).run(tasks)
    return [task.value for task in tasks]
