# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of azure_ops.rollout.vmss_rollout_batch: the batch step, on the controller (see the module docs).

A thin caller: it reads the batch's hosts from the inventory, validates the options, builds one client
and hands everything to ``module_utils/_fleet.py``, printing its progress lines through Ansible's display.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.azure_ops.rollout.plugins.module_utils import _auth, _fleet, _outcome, _report, _validation
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
        problems = _validation.problems(params, dict(SHARED_RULES, **_fleet.BATCH_RULES))
        if problems:
            raise AnsibleActionFail("Invalid options: " + "; ".join(params["variable_prefix"] + p for p in problems))
        options = _auth.options_from_env(params)
        if options.get("auth_source") == "credential_file" and not options.get("subscription_id"):
            try:
                options["subscription_id"] = _auth.read_credential_file(options.get("profile")).get("subscription_id")
            except AzureError as error:
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
        if params["mode"] == "status":
            done = _fleet.run_status(valid, client, params["api_version"], params["parallel_reads"], params["drift"],
                                     params.get("extensions"))
        else:
            jobs = [_fleet.Job(target, params, client, check_mode) for target in valid]
            title = "ring %s" % params["ring"] if params.get("ring") else "batch"
            done = _fleet.run_rollout(jobs, client.clock, self._emit, params["progress_interval"],
                                      params["max_concurrent_starts"], params["on_timeout"], title=title,
                                      throttle_note=client.pacer.note)
        batch = next((record.get("batch") for record in done if record.get("batch")), _fleet.utc_iso(time.time()))
        for record in list(records.values()) + done:
            record.setdefault("batch", batch)
            records[record["host"]] = record
        ordered = [records[target["host"]] for target in targets]
        report = None
        if params.get("report") and params["mode"] == "rollout":
            report = self._report(params["report"], task_vars, records, check_mode)
        summary = {}
        for record in ordered:
            summary[record["status"]] = summary.get(record["status"], 0) + 1
        # changed is recorded per host by the role (a run_once result would mark every host of the batch).
        return {"changed": False, "results": records, "summary": summary, "report": report,
                "failed_hosts": [r["host"] for r in ordered if r.get("failed")]}

    @staticmethod
    def _report(settings, task_vars, records, check_mode):
        """Rewrite the fleet report with this batch's records, before any host of the batch fails."""
        missing = [key for key in ("dest", "name", "plan") if not settings.get(key)]
        if missing:
            raise AnsibleActionFail("report needs %s" % ", ".join(missing))
        document = _report.rollout_document(settings["plan"], task_vars.get("hostvars") or {}, records,
                                            settings.get("title"), settings.get("run_started_at"),
                                            _fleet.utc_iso(time.time()), check_mode,
                                            float(settings.get("max_fail_percentage") or 0))
        try:
            paths = _report.write(settings["dest"], settings["name"], document)
        except OSError as error:
            raise AnsibleActionFail("cannot write the report to %s: %s" % (settings["dest"], error))
        display.display("\n".join(_report.text_lines(document) + ["Report: %s" % paths["html"]]))
        return {"headline": document["headline"], "summary": document["summary"], "html": paths["html"],
                "json": paths["json"]}

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
