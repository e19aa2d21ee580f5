# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of azure_ops.rollout.fleet_report: write the fleet report (see the module docs)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.azure_ops.rollout.plugins.module_utils import _fleet, _outcome, _report

display = Display()

ARGUMENT_SPEC = {
    "kind": {"type": "str", "choices": ["rollout", "status"], "default": "rollout"},
    "title": {"type": "str"},
    "dest": {"type": "path", "required": True},
    "name": {"type": "str", "required": True},
    "rings": {"type": "list", "elements": "str", "default": []},
    "plan": {"type": "list", "elements": "dict"},
    "records": {"type": "dict"},
    "run_started_at": {"type": "str"},
    "max_fail_percentage": {"type": "float", "default": 0},
    "fail_on": {"type": "list", "elements": "str", "default": list(_outcome.STATUS_FAIL_ON)},
    "gate": {"type": "bool", "default": True},
    "fail_on_drift": {"type": "bool", "default": False},
}
RESULT_FACT, ERROR_FACT = "vmss_extension_rollout_result", "vmss_extension_rollout_error"


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        groups = task_vars.get("groups") or {}
        hostvars = task_vars.get("hostvars") or {}
        ended = _fleet.utc_iso(time.time())
        check_mode = bool(self._task.check_mode)
        if params["kind"] == "status":
            records = list((params["records"] or {}).values())
            rows = _report.status_rows(records, params["rings"], groups)
            document = _report.report("status", params["title"] or "VMSS fleet status", rows,
                                      _report.status_headline(rows, params["fail_on"], params["fail_on_drift"]),
                                      params["run_started_at"] or ended, ended, check_mode)
            failures = {}
        else:
            plan = params["plan"]
            if plan is None:
                plan = _report.plan_rings(params["rings"], groups, task_vars.get("ansible_play_hosts_all") or [], True)[1]
            records, targets = {}, {}
            for entry in plan:
                for host in entry["hosts"]:
                    values = hostvars.get(host) or {}
                    target = {"host": host, "name": values.get("vmss_name") or host,
                              "resource_group": values.get("resource_group"),
                              "subscription_id": values.get("subscription_id"), "ring": entry["ring"]}
                    targets[host] = target
                    if values.get(RESULT_FACT):
                        records[host] = values[RESULT_FACT]
                    elif values.get(ERROR_FACT):
                        records[host] = _outcome.error_record(target, values[ERROR_FACT])
            rows = _report.rollout_rows(plan, records, targets)
            document = _report.report("rollout", params["title"] or "VMSS extension rollout", rows,
                                      _report.headline(rows, plan, check_mode, params["max_fail_percentage"]),
                                      params["run_started_at"], ended, check_mode)
            failures = _report.failures(rows)
        paths = self._write(params["dest"], params["name"], document)
        display.display("\n".join(_report.text_lines(document) + ["Report: %s" % paths["html"]]))
        result = {"changed": False, "headline": document["headline"], "summary": document["summary"],
                  "failures": failures, "json": paths["json"], "html": paths["html"]}
        if params["kind"] == "status" and params["gate"]:
            if _outcome.gate(rows, params["fail_on"], params["fail_on_drift"]):
                # One line: the headline names the scale sets; the rows are in the report.
                return {"changed": False, "failed": True, "msg": document["headline"], "html": paths["html"]}
        return result

    @staticmethod
    def _write(directory, name, document):
        paths = {"json": os.path.join(directory, name + ".json"), "html": os.path.join(directory, name + ".html")}
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory)
            for key, text in (("json", json.dumps(document, indent=2, sort_keys=True) + "\n"),
                              ("html", _report.html(document))):
                partial = paths[key] + ".tmp"
                with open(partial, "w") as handle:
                    handle.write(text)
                os.rename(partial, paths[key])
        except OSError as error:
            raise AnsibleActionFail("cannot write the report to %s: %s" % (directory, error))
        return paths
