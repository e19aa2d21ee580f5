# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of azure_ops.rollout.vmss_rollout_batch: the batch step, on the controller (see the module docs).

A thin caller: it reads the batch's hosts from the inventory, validates the options, builds one client
and hands everything to ``module_utils/_fleet.py``, printing its progress lines through Ansible's display.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import difflib
import multiprocessing
import os
import signal
import threading
import time

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.azure_ops.rollout.plugins.module_utils import (_auth, _fleet, _os_upgrade, _outcome, _report, _rings,
                                                                        _validation)
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import SHARED_RULES

display = Display()

# Host variables a scale set is read from: the inventory plugin azure_ops.rollout.vmss sets them all.
NAME_VAR, GROUP_VAR, SUBSCRIPTION_VAR = "vmss_name", "resource_group", "subscription_id"


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        spec = _auth.auth_argument_spec()
        spec.update(_fleet.BATCH_SPEC)
        params = self.validate_argument_spec(argument_spec=spec)[1]
        problems = _validation.problems(params, dict(SHARED_RULES, **_fleet.BATCH_RULES)) + _os_upgrade.kind_problems(params)
        if problems:
            raise AnsibleActionFail("Invalid options: " + "; ".join(params["variable_prefix"] + p for p in problems))
        options = _auth.options_from_env(params)
        if options.get("auth_source") == "credential_file" and not options.get("subscription_id"):
            try:
                options["subscription_id"] = _auth.read_credential_file(options.get("profile")).get("subscription_id")
            except AzureError as error:
                raise AnsibleActionFail(str(error))

        if params.get("report") and not params["report"].get("title"):
            params["report"] = dict(params["report"], title=_report.ROLLOUT_TITLES[params["kind"]])
        if not params.get("ring") and (params.get("report") or {}).get("plan") and params["mode"] == "rollout":
            try:  # the fleet playbook's one ring play: the batch's ring is in the preflight's plan
                params["ring"] = _rings.batch_ring(params["report"]["plan"], params["hosts"])
            except ValueError as error:
                raise AnsibleActionFail(str(error))
        targets = [self._target(host, task_vars, options.get("subscription_id"), params.get("ring"))
                   for host in params["hosts"]]
        valid, records = [], {}
        prefix = params["variable_prefix"]
        for target in targets:
            problems = _fleet.target_problems(target)
            if prefix:
                hostvars = task_vars.get("hostvars", {}).get(target["host"], {})
                settings = dict((option, hostvars[prefix + option]) for option in _fleet.BATCH_SETTINGS
                                if prefix + option in hostvars)
                problems += _fleet.setting_conflicts(params, settings, prefix, task_vars.get("inventory_hostname"))
            if problems:
                records[target["host"]] = _outcome.error_record(target, "invalid host variables: " + "; ".join(problems))
            else:
                valid.append(target)

        check_mode = bool(self._task.check_mode)
        from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient

        client = AzureClient(options, max_connections=max(10, min(len(valid), 100)))
        jobs = []
        if params["mode"] == "status":
            done = _fleet.run_status(valid, client, params["api_version"], params["parallel_reads"], params["drift"],
                                     params.get("extensions"), params["kind"])
        else:
            jobs, done = self._rollout(params, task_vars, client, valid, records, check_mode)
        records = self._merge(records, done)
        ordered = [records[target["host"]] for target in targets]
        report = None
        if params.get("report") and params["mode"] == "rollout":
            report = self._report(params["report"], task_vars, records, check_mode)
        summary = {}
        for record in ordered:
            summary[record["status"]] = summary.get(record["status"], 0) + 1
        # changed is recorded per host by the role (a run_once result would mark every host of the batch).
        result = {"changed": False, "results": records, "summary": summary, "report": report,
                  "failed_hosts": [r["host"] for r in ordered if r.get("failed")]}
        _show_diffs([job.diff for job in jobs if job.diff])
        return result

    def _rollout(self, params, task_vars, client, targets, invalid, check_mode):
        """Run the batch's upgrades (``_fleet.run_rollout``); the report is rewritten at every progress block. On
        SIGINT/SIGTERM, or once ansible-playbook is gone, the report and the console say what goes on in Azure, and the
        process ends as the signal would have ended it. Returns (jobs, records)."""
        diff_mode = bool(self._task.diff if self._task.diff is not None else self._play_context.diff)
        kind = _os_upgrade.KINDS[params["kind"]]
        jobs = [_fleet.Job(target, params, client, check_mode, diff_mode, kind=kind) for target in targets]
        if params.get("report"):
            self._report_settings(params["report"])
        _PARENT[0] = os.getppid()

        def rewrite(current):
            if _orphaned():
                raise _fleet.Interrupted(None)  # ansible-playbook is gone (killed): nobody waits for this batch
            if params.get("report"):
                self._report(params["report"], task_vars, self._merge(invalid, current), check_mode, show=False)
        with _interruptible() as stopped:
            try:
                return jobs, _fleet.run_rollout(jobs, client.clock, self._emit, params["progress_interval"],
                                                params["max_concurrent_starts"], params["on_timeout"],
                                                title="ring %s" % params["ring"] if params.get("ring") else "batch",
                                                throttle_note=client.pacer.note, on_block=rewrite)
            except _fleet.Interrupted as stop:
                stopped.append(stop.signum)
                self._interrupted(params, task_vars, self._merge(invalid, stop.records), check_mode)
        if stopped[0] is None:
            os._exit(1)  # the parent is gone: no one to return the result to
        _resignal(stopped[0])
        raise AnsibleActionFail("interrupted (signal %s)" % stopped[0])

    @staticmethod
    def _merge(invalid, current):
        """The batch's records by host: the hosts refused before any request, then the batch's own."""
        records = dict(invalid)
        current = current or []
        batch = next((record.get("batch") for record in current if record.get("batch")), _fleet.utc_iso(time.time()))
        for record in list(invalid.values()) + current:
            records[record["host"]] = dict(record, batch=record.get("batch") or batch)
        return records

    def _interrupted(self, params, task_vars, records, check_mode):
        """The run was stopped: the report marks the unfinished scale sets, the console says the same."""
        if not params.get("report"):
            running = [r["name"] for r in records.values() if r["status"] == "Interrupted" and r.get("left_running")]
            _tell_console(["Batch %s: %s." % (_outcome.INTERRUPTED, ", ".join(running))] if running else [])
            return
        # The console first (the main process is exiting), then the files.
        try:
            self._report(params["report"], task_vars, records, check_mode, show=_tell_console)
        except AnsibleActionFail as error:
            _tell_console(["The report could not be written: %s" % error])

    @staticmethod
    def _report_settings(settings):
        missing = [key for key in ("dest", "name", "plan") if not settings.get(key)]
        if missing:
            raise AnsibleActionFail("report needs %s" % ", ".join(missing))

    def _report(self, settings, task_vars, records, check_mode, show=True):
        """Rewrite the fleet report with this batch's records, before any host of the batch fails.

        ``show``: print its summary through Ansible's display (True), not at all (False), or through this function,
        called before the files are written.
        """
        self._report_settings(settings)
        document = _report.rollout_document(settings["plan"], self._known(settings["plan"], task_vars), records,
                                            settings.get("title"), settings.get("run_started_at"),
                                            _fleet.utc_iso(time.time()), check_mode,
                                            float(settings.get("max_fail_percentage") or 0))
        paths = _report.report_paths(settings["dest"], settings["name"])
        lines = _report.text_lines(document) + ["Report: %s" % paths["html"]]
        if callable(show):
            show(lines)
        try:
            _report.write(settings["dest"], settings["name"], document)
        except OSError as error:
            raise AnsibleActionFail("cannot write the report to %s: %s" % (settings["dest"], error))
        if show is True:
            display.display("\n".join(lines))
        return {"headline": document["headline"], "summary": document["summary"], "html": paths["html"],
                "json": paths["json"], "passed": document["passed"], "result": document["result"]}

    def _known(self, plan, task_vars):
        """What the report reads of each host of the plan (its names and the records of earlier batches), read from
        the inventory once per batch step: Ansible computes a host's variables anew at each ``hostvars`` access, and the
        report is rewritten at every progress block."""
        cached = getattr(self, "_known_hosts", None)
        if cached is None:
            cached = _report.read_hosts(set(host for entry in plan for host in entry["hosts"]),
                                        task_vars.get("hostvars") or {}, self._templar)
            self._known_hosts = cached  # pylint: disable=attribute-defined-outside-init
        return cached

    @staticmethod
    def _target(host, task_vars, default_subscription, ring):
        hostvars = task_vars.get("hostvars", {}).get(host, {})
        return {
            "host": host,
            # An empty vmss_name is an error, not the host name: only an unset one defaults to it.
            "name": hostvars[NAME_VAR] if NAME_VAR in hostvars else host,
            "resource_group": hostvars.get(GROUP_VAR),
            "subscription_id": hostvars.get(SUBSCRIPTION_VAR) or default_subscription,
            "ring": ring,
        }

    @staticmethod
    def _emit(lines):
        display.display("\n".join(lines))


def _show_diffs(diffs):
    """``--diff``: the versions before and after of each scale set to start, as the callback shows a module's diff.

    Printed here, not returned as ``diff``: the callback shows a diff only with ``changed``, and a ``run_once`` result
    marked changed would count every scale set of the batch as changed in the recap.
    """
    for diff in diffs:
        lines = difflib.unified_diff(diff["before"].splitlines(True), diff["after"].splitlines(True),
                                     fromfile="before: " + diff["before_header"],
                                     tofile="after: " + diff["after_header"], n=10)
        for line in lines:
            line = line.rstrip("\n")
            colour = (C.COLOR_DIFF_ADD if line.startswith("+") else C.COLOR_DIFF_REMOVE if line.startswith("-")
                      else C.COLOR_DIFF_LINES if line.startswith("@@") else None)
            display.display(line, color=colour)


@contextlib.contextmanager
def _interruptible():
    """SIGINT and SIGTERM raise ``_fleet.Interrupted`` in this thread while the batch watches (then both are ignored
    until the report is written); yields a list the caller appends the signal to when it handled one.

    ansible-playbook forwards Ctrl-C to its worker as SIGINT, then SIGTERMs it a moment later; the worker's own
    handler would kill it at once, before the report could say which upgrades go on in Azure.
    """
    stopped = []
    if threading.current_thread() is not threading.main_thread():
        yield stopped  # signal handlers can only be set in the main thread: the per-block report is all there is
        return
    previous = {}

    def stop(signum, frame):
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        raise _fleet.Interrupted(signum)

    for sig in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # a signal the process ignores stays ignored
            previous[sig] = signal.signal(sig, stop)
    try:
        yield stopped
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _resignal(signum):
    """Hand the signal to the handler that was there before (the worker's: it ends the process)."""
    os.kill(os.getpid(), signum)


# The process that started this one (ansible-playbook, for its worker): the console of _tell_console.
_PARENT = [None]


def _orphaned():
    """Whether the ansible-playbook process that forked this worker is gone (killed outright: SIGKILL, SIGHUP)."""
    return multiprocessing.parent_process() is not None and _PARENT[0] is not None and os.getppid() != _PARENT[0]


def _tell_console(lines):
    """Print ``lines`` where the operator sees them, at once.

    In ansible-playbook's worker, display goes through a queue that the interrupted main process stops reading within
    a millisecond, and the worker's own stdout and stderr are /dev/null: write to the main process's stderr (the
    terminal, the CI log, ansible-runner's output). Elsewhere, through Ansible's display.
    """
    if not lines:
        return
    text = "\n".join(lines) + "\n"
    # Only while the process that started this one still runs (an orphan's parent is init, or a subreaper).
    if multiprocessing.parent_process() is not None and not _orphaned():
        try:
            handle = os.open("/proc/%d/fd/2" % os.getppid(), os.O_WRONLY | os.O_APPEND | os.O_NOCTTY)
        except OSError:
            handle = None
        if handle is not None:
            try:
                os.write(handle, text.encode("utf-8", "replace"))
                return
            except OSError:
                pass
            finally:
                os.close(handle)
    display.display(text.rstrip("\n"), stderr=True)
