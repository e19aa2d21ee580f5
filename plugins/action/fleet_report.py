# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of azure_ops.rollout.fleet_report: write the fleet report (see the module docs)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.azure_ops.rollout.plugins.module_utils import _fleet, _outcome, _report

display = Display()

ARGUMENT_SPEC = {
    "kind": {"type": "str", "choices": ["rollout", "status"], "default": "rollout"},
    "title": {"type": "str"},
    "rollout_kind": {"type": "str", "choices": sorted(_report.ROLLOUT_TITLES), "default": "extension"},
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
            gate_failed = _outcome.gate(rows, params["fail_on"], params["fail_on_drift"])
            document = _report.report("status", params["title"] or "VMSS fleet status", rows,
                                      _report.status_headline(rows, params["fail_on"], params["fail_on_drift"]),
                                      params["run_started_at"] or ended, ended, check_mode,
                                      result="failed" if gate_failed else "passed")
            failures = _report.gate_failures(rows, params["fail_on"], params["fail_on_drift"])
        else:
            plan = params["plan"]
            if plan is None:
                plan = _report.plan_rings(params["rings"], groups, task_vars.get("ansible_play_hosts_all") or [], True)[1]
            known = _report.read_hosts(set(host for entry in plan for host in entry["hosts"]), hostvars, self._templar)
            document = _report.rollout_document(plan, known, None, params["title"] or _report.ROLLOUT_TITLES[params["rollout_kind"]],
                                                params["run_started_at"], ended,
                                                check_mode, params["max_fail_percentage"])
            rows = document["rows"]
            failures = _report.failures(rows)
        try:
            paths = _report.write(params["dest"], params["name"], document)
        except OSError as error:
            raise AnsibleActionFail("cannot write the report to %s: %s" % (params["dest"], error))
        display.display("\n".join(_report.text_lines(document) + ["Report: %s" % paths["html"]]))
        result = {"changed": False, "headline": document["headline"], "summary": document["summary"],
                  "failures": failures, "json": paths["json"], "html": paths["html"], "passed": document["passed"],
                  "result": document["result"]}
        if params["kind"] == "status" and params["gate"] and gate_failed:
            # One line: the headline names the scale sets; the rows are in the report. (fleet_status.yml sets
            # gate=false and fails each scale set of failures, so that no healthy host carries the failure.)
            return {"changed": False, "failed": True, "msg": document["headline"], "html": paths["html"],
                    "failures": failures, "passed": False, "result": "failed"}
        return result
