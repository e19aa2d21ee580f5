#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: adu_operations_info
short_description: List or read Azure Device Update import and delete operations
version_added: 1.0.0
description:
  - Lists the update operations of an Azure Device Update instance (optionally only C(NotStarted) and/or C(Running)
    ones), or reads one operation and optionally waits for it to reach C(Succeeded) or C(Failed).
  - Uses the Device Update data plane and its own token audience (C(https://api.adu.microsoft.com/.default)).
    Throttled calls (HTTP 429; the list API allows 50 calls a minute per instance) are retried after C(Retry-After).
author:
  - azure_ops.rollout maintainers (@azure-ops)
options:
  endpoint:
    description:
      - Host name of the Device Update account endpoint, for example C(contoso.api.adu.microsoft.com), optionally with
        C(:port). Always reached over HTTPS; a scheme, path or query is refused.
    type: str
    required: true
  instance_id:
    description: Device Update instance name.
    type: str
    required: true
  operation_id:
    description: Read this operation. Without it, operations are listed.
    type: str
  status:
    description:
      - When listing, return only operations with these statuses (the only filter the service supports).
    type: list
    elements: str
    choices: [NotStarted, Running]
  top:
    description:
      - When listing, return at most this many operations (1 to 1000000). It is sent to the service as its C(top)
        (C($top) with V(2020-09-01)), which returns no more than that, and the module stops reading pages once it has
        that many. Without it every operation is returned, read page by page.
      - O(max_items) is an alias, kept for playbooks written before O(top) capped the result.
    type: int
    aliases: [max_items]
  api_version:
    description:
      - V(2022-10-01) is the GA API. V(2020-09-01) selects the legacy preview URL shape
        (C(/deviceupdate/{instanceId}/v2/updates/operations) with C($filter) and C($top)).
    type: str
    choices: ['2022-10-01', '2020-09-01']
    default: '2022-10-01'
  wait:
    description: Wait for O(operation_id) to reach C(Succeeded) or C(Failed). Fails the task when it ends C(Failed).
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait, a hard deadline (1 to 86400).
    type: int
    default: 1800
  poll_interval:
    description: Seconds between reads when the service sends no C(Retry-After) (1 to 3600).
    type: int
    default: 10
extends_documentation_fragment:
  - azure_ops.rollout.azure
  - azure_ops.rollout.azure.action_group
  - azure_ops.rollout.azure.read_only
"""

EXAMPLES = r"""
- name: List running and not-started import operations
  azure_ops.rollout.adu_operations_info:
    endpoint: contoso.api.adu.microsoft.com
    instance_id: blue
    status: [NotStarted, Running]
  register: running

- name: Wait for one import to finish
  azure_ops.rollout.adu_operations_info:
    endpoint: contoso.api.adu.microsoft.com
    instance_id: blue
    operation_id: e4491c1e-d3b5-4e5a-9d4e-6e1c2b5e4f1a
    wait: true
    wait_timeout: 900

- name: At most 100 operations, through the legacy preview API
  azure_ops.rollout.adu_operations_info:
    endpoint: contoso.api.adu.microsoft.com
    instance_id: blue
    api_version: '2020-09-01'
    top: 100
"""

RETURN = r"""
exists:
  description: Whether O(operation_id) was found (false when the service answers 404). Always true when listing.
  returned: always
  type: bool
  sample: true
operation:
  description: The operation, when O(operation_id) is given and exists.
  returned: when operation_id is given and the operation exists
  type: dict
  contains:
    operation_id:
      description: Operation ID.
      type: str
      returned: always
    status:
      description: C(NotStarted), C(Running), C(Succeeded) or C(Failed) (C(Undefined) in the preview API).
      type: str
      returned: always
      sample: Running
    update_id:
      description: The update (C(provider), C(name), C(version)), from C(update.updateId) (GA) or C(updateId) (preview).
      type: dict
      returned: always
      sample: {provider: microsoft, name: adu, version: 1.0.0.0}
    resource_location:
      description: Location of the imported update, when the operation succeeded.
      type: str
      returned: always
    trace_id:
      description: Trace ID to quote to support.
      type: str
      returned: always
    created_date_time:
      description: When the operation was created (ISO 8601).
      type: str
      returned: always
    last_action_date_time:
      description: When it last changed (ISO 8601).
      type: str
      returned: always
    etag:
      description: Entity tag of the operation.
      type: str
      returned: always
    error:
      description: Azure's error (C(code), C(message), C(target), C(details), C(innererror), C(occurred_date_time)) or null.
      type: dict
      returned: always
operations:
  description: The listed operations, same shape as RV(operation), read page by page, at most O(top).
  returned: when operation_id is not given
  type: list
  elements: dict
elapsed:
  description: Seconds spent waiting.
  returned: when wait=true
  type: float
timeline:
  description: Distinct statuses seen while waiting.
  returned: when wait=true
  type: list
  elements: dict
timed_out:
  description: Whether O(wait_timeout) passed before the operation ended.
  returned: when wait=true
  type: bool
throttled:
  description:
    - What Azure's rate limits cost this task, one item per policy that answered 429 (for example C(LowCostGet)
      or C(subscription-reads)) with C(times) and the C(seconds) waited. Empty when Azure never throttled it.
  returned: always
  type: list
  elements: dict
  sample: [{policy: LowCostGet, times: 1, seconds: 5.0}]
"""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _adu, _validation
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import error_text
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import WAIT_RULES, AzureModule, ModuleFailure, wait_spec, waited
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

ARGUMENT_SPEC = {
    "endpoint": {"type": "str", "required": True},
    "instance_id": {"type": "str", "required": True},
    "operation_id": {"type": "str"},
    "status": {"type": "list", "elements": "str", "choices": list(_adu.LIST_STATUSES)},
    "top": {"type": "int", "aliases": ["max_items"]},
    "api_version": {"type": "str", "choices": list(_adu.API_VERSIONS), "default": _adu.GA_API_VERSION},
}
ARGUMENT_SPEC.update(wait_spec(timeout=1800, interval=10))
RULES = {
    "endpoint": _validation.ADU_ENDPOINT,
    "instance_id": _validation.ADU_INSTANCE,
    "operation_id": _validation.OPERATION_ID,
    "top": _validation.Range(1, 1000000),
}
RULES.update(WAIT_RULES)


def read_operations(module):
    params = module.params
    _adu.connect(module.client, params["endpoint"])
    api = _adu.OperationsApi(params["endpoint"], params["instance_id"], params["api_version"])
    if not params["operation_id"]:
        operations = list(_adu.list_operations(module.client, api, params["status"], params["top"]))
        return {"changed": False, "exists": True, "operations": operations}
    if not params["wait"]:
        shaped = _adu.get_operation(module.client, api, params["operation_id"]).operation
        return dict({"changed": False, "exists": shaped is not None}, **({"operation": shaped} if shaped else {}))

    outcome = _adu.wait_operation(module.client, api, params["operation_id"],
                                  Deadline(params["wait_timeout"], module.client.clock), params["poll_interval"])
    shaped = outcome.value
    result = waited(outcome)
    if shaped is None:
        raise ModuleFailure("Device Update operation %s was not found in instance %s"
                            % (params["operation_id"], params["instance_id"]), **result)
    result["operation"] = shaped
    if outcome.timed_out:
        raise ModuleFailure("Timed out after %ss waiting for Device Update operation %s (last status %s)"
                            % (params["wait_timeout"], params["operation_id"], shaped["status"]), **result)
    if shaped["status"].lower() == "failed":
        raise ModuleFailure("Device Update operation %s failed: %s" % (params["operation_id"], error_text(shaped["error"])),
                            **result)
    return result


def main():
    AzureModule(ARGUMENT_SPEC, rules=RULES, needs_subscription=False,
                mutually_exclusive=[("operation_id", "status"), ("operation_id", "top")],
                required_if=[("wait", True, ["operation_id"])]).run(read_operations)


if __name__ == "__main__":
    main()
