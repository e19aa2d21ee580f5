# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of azure_ops.rollout.fleet_preflight: the checks and the plan before any request (see the module docs).

A thin caller of ``module_utils/_rings.py``: it gathers the inventory facts (groups, the play's hosts, the variables
of each scale set, the inventory sources Ansible parsed) and fails with one line per problem.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.azure_ops.rollout.plugins.module_utils import _fleet, _report, _rings

display = Display()

ROLE = "vmss_extension_rollout"
ROLE_PREFIX = ROLE + "_"
# The role's argument spec is read from the collection itself: one definition of the role's variables.
ROLE_SPEC_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                              "roles", ROLE, "meta", "argument_specs.yml")
DEFAULT_RINGS = ["canary", "ring1", "ring2"]

ARGUMENT_SPEC = {
    "rings": {"type": "list", "elements": "str", "default": DEFAULT_RINGS},
    "allow_empty_rings": {"type": "bool", "default": False},
    "serial": {"type": "raw", "default": "100%"},
    "max_fail_percentage": {"type": "raw", "default": 0},
    "unringed": {"type": "str", "choices": list(_rings.UNRINGED), "default": "fail"},
    "scale_sets_group": {"type": "str", "default": "vmss"},
    "report_dir": {"type": "path", "default": "rollout-reports"},
    "report_name": {"type": "str", "default": "vmss_extension_rollout"},
    "check_variables": {"type": "bool", "default": False},
    "write_report": {"type": "bool", "default": False},
    "drift": {"type": "bool", "default": True},
    "fail_on_drift": {"type": "bool", "default": False},
}


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        try:
            params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        except AnsibleActionFail as error:
            # The playbooks fill these options from their variables: name those too.
            raise AnsibleActionFail("Not starting: %s (the rollout playbook sets option X from its variable "
                                    "rollout_X: %s)" % (error, ", ".join(sorted(_rings.SETTING_OPTIONS))))
        groups = task_vars.get("groups") or {}
        problems = []
        if params["check_variables"]:
            problems += self._run_settings(task_vars, params)
        if params["fail_on_drift"] and not params["drift"]:
            problems.append("fleet_fail_on_drift=true (fail_on_drift) needs the drift reads that fleet_drift=false "
                            "(drift) turns off: the gate would pass on drift it never read. Set fleet_drift=true, or "
                            "fleet_fail_on_drift=false")
        problems += self._source_problems(task_vars)
        for problem in (_rings.serial_problem(params["serial"]), _rings.percentage_problem(params["max_fail_percentage"])):
            if problem:
                problems.append(problem)
        more, plan = _rings.plan(params["rings"], groups, task_vars.get("ansible_play_hosts_all") or [],
                                 params["allow_empty_rings"], params["unringed"], params["scale_sets_group"])
        problems += more
        if params["check_variables"]:
            problems += self._variable_problems(task_vars, plan)
        if problems:
            raise AnsibleActionFail("Not starting:\n  " + "\n  ".join(problems) + self._refused_report(
                params, task_vars, plan, problems))
        running = [entry for entry in plan if entry["state"] == "run"]
        unringed = [host for entry in plan if entry["state"] == "unringed" for host in entry["hosts"]]
        return {"changed": False, "plan": plan, "started_at": _fleet.utc_iso(time.time()),
                "rings": [entry["ring"] for entry in running],
                "serial": _rings.batches(plan, params["serial"]),
                "max_fail_percentage": float(params["max_fail_percentage"]),
                "report_dir": os.path.abspath(params["report_dir"]), "report_name": params["report_name"],
                "unringed": unringed,
                "msg": "; ".join("ring %s: %d scale sets%s" % (e["ring"] or "(none)", len(e["hosts"]),
                                                               "" if e["state"] == "run" else " (%s)" % e["state"])
                                 for e in plan)}

    def _refused_report(self, params, task_vars, plan, problems):
        """Write the report of the refused run (the docs promise a report for every run); the line that says where."""
        if not params["write_report"]:
            return ""
        now = _fleet.utc_iso(time.time())
        document = _report.refused_document(plan, problems, task_vars.get("hostvars") or {}, now, now,
                                            bool(self._task.check_mode))
        try:
            paths = _report.write(os.path.abspath(params["report_dir"]), params["report_name"], document)
        except OSError as error:
            return "\n(the report could not be written to %s: %s)" % (params["report_dir"], error)
        return "\nReport: %s" % paths["html"]

    @staticmethod
    def _source_problems(task_vars):
        """Every inventory source must have parsed, not only one: a failed source is a missing part of the fleet."""
        if C.INVENTORY_ANY_UNPARSED_IS_FAILED:
            return []  # Ansible itself stopped on any source that failed
        try:
            from ansible.inventory.manager import IGNORED  # pylint: disable=import-outside-toplevel

            # pylint: disable-next=protected-access
            processed = task_vars["hostvars"]._inventory._inventory.processed_sources
        except (ImportError, KeyError, AttributeError):
            return ["cannot tell whether every inventory source was parsed (this ansible-core does not say): set "
                    "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=true so that Ansible stops on a source that fails"]
        failed = _rings.failed_sources(task_vars.get("ansible_inventory_sources") or [], processed,
                                       skip=lambda entry: bool(IGNORED.search(entry.encode("utf-8", "surrogateescape"))))
        if not failed:
            return []
        return ["inventory source(s) %s could not be parsed (see the warnings above): the scale sets they hold are "
                "missing from this run. Fix the source, or leave it out of -i" % ", ".join(failed)]

    @staticmethod
    def _run_settings(task_vars, params):
        """Take the run-wide settings the scale sets agree on into ``params`` (the options of the preflight host are
        only its own view); the problems when they disagree or a value is invalid."""
        hostvars = task_vars.get("hostvars") or {}
        hosts = (task_vars.get("groups") or {}).get(params["scale_sets_group"]) or [
            host for host in task_vars.get("ansible_play_hosts_all") or [] if host != "localhost"]
        seen = {}
        for host in hosts:
            values = hostvars.get(host) or {}
            seen[host] = dict((name, values[name]) for name in _rings.RUN_SETTINGS if name in values)
        agreed, found = _rings.agreed_settings(seen)
        problems = _rings.collapse(found)
        for name, value in sorted(agreed.items()):
            option = _rings.SETTING_OPTIONS[name]
            result = ArgumentSpecValidator({option: ARGUMENT_SPEC[option]}).validate({option: value})
            if result.error_messages:
                problems.append("%s: %s" % (name, "; ".join(result.error_messages).replace(option, name)))
            else:
                params[option] = result.validated_parameters[option]
        return problems

    @staticmethod
    def _variable_problems(task_vars, plan):
        """Role variables of a wrong type or choice (problems); unknown ones (warnings)."""
        import yaml  # pylint: disable=import-outside-toplevel

        hostvars = task_vars.get("hostvars") or {}
        role_values = {_rings.RUN: _prefixed(task_vars, ROLE_PREFIX)}
        for host in [host for entry in plan for host in entry["in_run"]]:
            role_values[host] = _prefixed(hostvars.get(host) or {}, ROLE_PREFIX)
        with open(ROLE_SPEC_PATH) as handle:
            spec = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
        errors, unknown = _rings.role_variable_problems(spec, ROLE_PREFIX, role_values, _validate)
        for line in _rings.collapse(unknown):
            display.warning(line)
        return _rings.collapse(errors)


def _prefixed(values, prefix):
    """The variables whose names start with ``prefix``, leaving out the role's own results and registered steps."""
    return dict((name, values[name]) for name in list(values)
                if name.startswith(prefix) and not name.startswith(prefix + "_")
                and name not in (prefix + "result", prefix + "error"))


def _validate(spec, values):
    return list(ArgumentSpecValidator(spec).validate(values).error_messages)
