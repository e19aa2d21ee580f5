# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of azure_ops.rollout.fleet_preflight: the ring checks before any request (see the module docs)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.azure_ops.rollout.plugins.module_utils import _fleet, _report

ARGUMENT_SPEC = {
    "rings": {"type": "list", "elements": "str", "required": True},
    "allow_empty_rings": {"type": "bool", "default": False},
    "max_rings": {"type": "int"},
}


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        problems, plan = _report.plan_rings(params["rings"], task_vars.get("groups") or {},
                                            task_vars.get("ansible_play_hosts_all") or [],
                                            params["allow_empty_rings"], params["max_rings"])
        if problems:
            raise AnsibleActionFail("Not starting: " + "; ".join(problems))
        return {"changed": False, "plan": plan, "started_at": _fleet.utc_iso(time.time()),
                "msg": "; ".join("ring %s: %d scale sets%s" % (e["ring"], len(e["hosts"]),
                                                               "" if e["state"] == "run" else " (%s)" % e["state"])
                                 for e in plan)}
