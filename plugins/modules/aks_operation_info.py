#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: aks_operation_info
short_description: Read, list or wait for AKS managed cluster operations
version_added: 1.0.0
description:
  - Reads the status of one operation of an AKS managed cluster (or of one of its agent pools), or lists the operations
    of a cluster, and optionally waits for an operation to reach C(Succeeded), C(Failed) or C(Canceled).
  - A C(Failed) status is data, not a task failure, unless O(wait=true) (see O(fail_on_failed)).
author:
  - azure_ops.rollout maintainers (@azure-ops)
options:
  resource_group:
    description: Resource group of the cluster (1 to 90 characters matching V(^[-\\w._(\)]+$), not ending with C(.)).
    type: str
    required: true
  name:
    description: Name of the managed cluster (1 to 63 characters, letters, digits, C(-) and C(_), starting and ending
      with a letter or digit).
    type: str
    required: true
    aliases: [cluster_name]
  operation_id:
    description: ID of the operation to read. Without it, the operations of the cluster are listed.
    type: str
  agent_pool:
    description: Read the operation of this agent pool (C(^[a-z][a-z0-9]{0,11}$)). Requires O(operation_id).
    type: str
  api_version:
    description:
      - Container service API version.
      - The operation status API (C(OperationStatusResult_Get), C(_List), C(_GetByAgentPool)) exists only in preview
        API versions, no GA version serves it. Checked in Azure/azure-rest-api-specs
        (C(specification/containerservice/resource-manager/Microsoft.ContainerService/aks)) in December 2026. It is
        served by C(2024-02-02-preview), C(2025-05-02-preview) (the default, whose spec and examples the collection is
        tested against) and C(2025-07-02-preview), and the SDKs have samples for C(2025-10-02-preview) and
        C(2026-03-02-preview). The stable C(2025-05-01) and C(2025-07-01) do not have it. Azure retires preview
        versions; when the default stops answering, pick a newer preview here.
    type: str
    default: '2025-05-02-preview'
  wait:
    description: Wait for the operation (O(operation_id) required) to reach a terminal status.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait, a hard deadline (1 to 86400).
    type: int
    default: 1800
  poll_interval:
    description: Seconds between status reads (1 to 3600).
    type: int
    default: 15
  fail_on_failed:
    description:
      - When O(wait=true), fail the task if the operation ends C(Failed) or C(Canceled), with Azure's error code and
        message. With V(false) the task succeeds and RV(operation) tells how the operation ended.
      - Without O(wait) a C(Failed) status is data and never fails the task.
    type: bool
    default: true
  max_items:
    description: When listing, stop after this many operations.
    type: int
extends_documentation_fragment:
  - azure_ops.rollout.azure
  - azure_ops.rollout.azure.action_group
  - azure_ops.rollout.azure.read_only
"""

EXAMPLES = r"""
- name: Wait for a cluster upgrade to finish, failing on failure
  azure_ops.rollout.aks_operation_info:
    subscription_id: 00000000-0000-0000-0000-000000000001
    resource_group: rg-aks
    name: aks-prod
    operation_id: 00000000-0000-0000-0000-000000000001
    wait: true
    wait_timeout: 3600

- name: List the operations of a cluster
  azure_ops.rollout.aks_operation_info:
    resource_group: rg-aks
    name: aks-prod
  register: ops

- name: Read an agent pool operation
  azure_ops.rollout.aks_operation_info:
    resource_group: rg-aks
    name: aks-prod
    agent_pool: nodepool1
    operation_id: 00000000-0000-0000-0000-000000000002
"""

RETURN = r"""
exists:
  description: Whether the operation was found (false when the service answers 404). Always true when listing.
  returned: always
  type: bool
  sample: true
operation:
  description: The operation, when O(operation_id) is given and it exists.
  returned: when operation_id is given and the operation exists
  type: dict
  contains:
    id:
      description: Resource ID of the operation status.
      type: str
      returned: always
    name:
      description: Operation ID.
      type: str
      returned: always
    status:
      description: C(InProgress), C(Succeeded), C(Failed), C(Canceled), or another service status.
      type: str
      returned: always
      sample: InProgress
    percent_complete:
      description: Progress from 0 to 100, when the service reports it.
      type: float
      returned: always
      sample: 40
    start_time:
      description: When the operation started (ISO 8601).
      type: str
      returned: always
    end_time:
      description: When it ended (ISO 8601), or null.
      type: str
      returned: always
    resource_id:
      description: The resource the operation acts on, when sent.
      type: str
      returned: always
    error:
      description: Azure's error (C(code), C(message), C(target), C(details), C(additional_info)) or null.
      type: dict
      returned: always
      sample: {code: ReconcileAgentPoolIdentityError, message: Reconcile agent pool nodepool1 identity failed}
    operations:
      description: Nested operations, same shape.
      type: list
      elements: dict
      returned: always
operations:
  description: The operations of the cluster, same shape as RV(operation).
  returned: when operation_id is not given
  type: list
  elements: dict
elapsed:
  description: Seconds spent waiting.
  returned: when wait=true
  type: float
timeline:
  description: Distinct statuses and progress seen while waiting.
  returned: when wait=true
  type: list
  elements: dict
  sample: [{elapsed: 0.0, status: InProgress, percent_complete: 40}]
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

from ansible_collections.azure_ops.rollout.plugins.module_utils import _aks, _validation
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import error_text
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import WAIT_RULES, AzureModule, ModuleFailure, wait_spec, waited
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

ARGUMENT_SPEC = {
    "resource_group": {"type": "str", "required": True},
    "name": {"type": "str", "required": True, "aliases": ["cluster_name"]},
    "operation_id": {"type": "str"},
    "agent_pool": {"type": "str"},
    "api_version": {"type": "str", "default": _aks.API_VERSION},
    "fail_on_failed": {"type": "bool", "default": True},
    "max_items": {"type": "int"},
}
ARGUMENT_SPEC.update(wait_spec(timeout=1800, interval=15))
RULES = {
    "resource_group": _validation.RESOURCE_GROUP,
    "name": _validation.AKS_NAME,
    "agent_pool": _validation.AGENT_POOL,
    "operation_id": _validation.OPERATION_ID,
    "api_version": _validation.API_VERSION,
    "max_items": _validation.Range(1, 1000000),
}
RULES.update(WAIT_RULES)


def read_operations(module):
    params = module.params
    path = _aks.operations_path(module.subscription_id, params["resource_group"], params["name"], params["agent_pool"],
                                params["operation_id"])
    api_version = params["api_version"]
    if not params["operation_id"]:
        return {"changed": False, "exists": True,
                "operations": _aks.list_operations(module.client, path, api_version, params["max_items"])}
    if not params["wait"]:
        shaped = _aks.get_operation(module.client, path, api_version)
        return dict({"changed": False, "exists": shaped is not None}, **({"operation": shaped} if shaped else {}))

    outcome = _aks.wait_operation(module.client, path, Deadline(params["wait_timeout"], module.client.clock),
                                  params["poll_interval"], api_version)
    shaped = outcome.value
    result = waited(outcome)
    if shaped is None:
        raise ModuleFailure("AKS operation %s of cluster %s was not found" % (params["operation_id"], params["name"]), **result)
    result["operation"] = shaped
    if outcome.timed_out:
        raise ModuleFailure("Timed out after %ss waiting for AKS operation %s (last status %s, %s%% complete)"
                            % (params["wait_timeout"], params["operation_id"], shaped["status"], shaped["percent_complete"]),
                            **result)
    if params["fail_on_failed"] and shaped["status"].lower() != "succeeded":
        raise ModuleFailure("AKS operation %s ended %s: %s" % (params["operation_id"], shaped["status"],
                                                               error_text(shaped["error"])), **result)
    return result


def main():
    AzureModule(ARGUMENT_SPEC, rules=RULES,
                required_by={"agent_pool": "operation_id"},
                required_if=[("wait", True, ["operation_id"])]).run(read_operations)


if __name__ == "__main__":
    main()
