# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of azure_ops.rollout.vmss_rollout_check: one host's verdict from its record (see the module docs).

The only per-host task of a rollout batch, so it does as little as a task can: it reads its host's record from the
batch step's registered result by the variable's name (templating the record as an option would copy it through
Ansible's templar and argument validation in every worker) and returns ``_outcome.host_verdict``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase

from ansible_collections.azure_ops.rollout.plugins.module_utils import _outcome

ARGUMENT_SPEC = {
    "batch_var": {"type": "str", "required": True},
    "fail_on_error": {"type": "bool", "default": True},
}


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        params = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        host = task_vars.get("inventory_hostname")
        registered = task_vars.get(params["batch_var"])
        results = registered.get("results") if isinstance(registered, dict) else None
        record = results.get(host) if isinstance(results, dict) else None
        return _outcome.host_verdict(host, record, params["fail_on_error"])
