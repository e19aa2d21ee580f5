#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vmss_rolling_upgrade_info
short_description: Read the status of the latest rolling upgrade of a VM scale set
version_added: 1.0.0
description:
  - Reads C(rollingUpgrades/latest) of a virtual machine scale set (OS or extension rolling upgrade) and returns its
    policy, running status, instance progress and error, plus derived C(is_terminal) and C(percent_complete).
  - A scale set on which no rolling upgrade ever ran is not an error; RV(exists) is then V(false).
author:
  - azure_ops.rollout maintainers (@azure-ops)
extends_documentation_fragment:
  - azure_ops.rollout.azure
  - azure_ops.rollout.azure.action_group
  - azure_ops.rollout.azure.read_only
  - azure_ops.rollout.azure.vmss
"""

EXAMPLES = r"""
- name: Read the latest rolling upgrade
  azure_ops.rollout.vmss_rolling_upgrade_info:
    subscription_id: "{{ azure_subscription_id }}"
    resource_group: rg-web
    name: vmss-web-01
  register: upgrade

- name: Gate a pipeline on a healthy scale set
  ansible.builtin.assert:
    that:
      - not upgrade.exists or upgrade.rolling_upgrade.running_status.code != 'Faulted'
    fail_msg: "{{ upgrade.rolling_upgrade.error.message | default('faulted') }}"
"""

RETURN = r"""
exists:
  description: Whether a rolling upgrade has ever run on the scale set (false when the service answers 404 NotFound).
  returned: always
  type: bool
  sample: true
rolling_upgrade:
  description: The latest rolling upgrade. Absent fields of the service are omitted or null.
  returned: when exists
  type: dict
  contains:
    policy:
      description:
        - The whole rolling upgrade policy in force, as the service echoes it (snake_case keys), for example
          C(max_batch_instance_percent), C(max_unhealthy_instance_percent), C(max_unhealthy_upgraded_instance_percent),
          C(pause_time_between_batches), C(max_surge) (new instances replace the upgraded ones, under new instance ids
          or VM names), C(prioritize_unhealthy_instances), C(rollback_failed_instances_on_policy_breach) and
          C(enable_cross_zone_upgrade). Keys the service does not send are absent.
      type: dict
      returned: always
      sample: {max_batch_instance_percent: 20, max_unhealthy_instance_percent: 20,
               max_unhealthy_upgraded_instance_percent: 20, pause_time_between_batches: PT0S, max_surge: false,
               prioritize_unhealthy_instances: false, rollback_failed_instances_on_policy_breach: false}
    running_status:
      description: Where the upgrade is.
      type: dict
      returned: always
      contains:
        code:
          description: C(RollingForward), C(Completed), C(Cancelled) or C(Faulted).
          type: str
          returned: always
          sample: RollingForward
        start_time:
          description: When the upgrade started (ISO 8601, as Azure sent it).
          type: str
          returned: always
          sample: '2026-11-22T05:06:27.0292795+00:00'
        last_action:
          description: C(Start) or C(Cancel).
          type: str
          returned: always
          sample: Start
        last_action_time:
          description: When the last action was taken (ISO 8601).
          type: str
          returned: always
          sample: '2026-11-22T05:06:27.0292795+00:00'
    progress:
      description: Instance counts.
      type: dict
      returned: always
      contains:
        successful_instance_count:
          description: Instances upgraded successfully.
          type: int
          returned: always
          sample: 6
        failed_instance_count:
          description: Instances whose upgrade failed.
          type: int
          returned: always
          sample: 0
        in_progress_instance_count:
          description: Instances being upgraded now.
          type: int
          returned: always
          sample: 2
        pending_instance_count:
          description: Instances not yet upgraded.
          type: int
          returned: always
          sample: 2
    error:
      description: Why the upgrade faulted (C(code), C(message), C(target), C(details), C(innererror)), or null.
      type: dict
      returned: always
      sample: {code: MaxUnhealthyInstancePercentExceededInRollingUpgrade, message: Rolling Upgrade failed..., target: null,
               details: [], innererror: null}
    is_terminal:
      description: Whether the upgrade has ended (C(Completed), C(Cancelled) or C(Faulted)).
      type: bool
      returned: always
      sample: false
    percent_complete:
      description: Percentage of instances that finished, successfully or not (0 to 100).
      type: float
      returned: always
      sample: 60.0
    location:
      description: Region of the scale set.
      type: str
      returned: when the service sends it
      sample: eastus
    type:
      description: Resource type.
      type: str
      returned: when the service sends it
      sample: Microsoft.Compute/virtualMachineScaleSets/rollingUpgrades
    id:
      description: Resource ID (the real service omits it).
      type: str
      returned: when the service sends it
    name:
      description: Resource name (the real service omits it).
      type: str
      returned: when the service sends it
    tags:
      description: Resource tags (the real service omits them).
      type: dict
      returned: when the service sends it
throttled:
  description:
    - What Azure's rate limits cost this task, one item per policy that answered 429 (for example C(LowCostGet)
      or C(subscription-reads)) with C(times) and the C(seconds) waited. Empty when Azure never throttled it.
  returned: always
  type: list
  elements: dict
  sample: [{policy: LowCostGet, times: 1, seconds: 5.0}]
"""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import AzureModule

ARGUMENT_SPEC = _vmss.TARGET_SPEC
RULES = _vmss.TARGET_RULES


def read_latest(module):
    params = module.params
    latest = _vmss.read_latest(module.client, module.subscription_id, params["resource_group"], params["name"],
                               params["api_version"])
    result = {"changed": False, "exists": latest.exists}
    if latest.exists:
        result["rolling_upgrade"] = latest.upgrade
    return result


def main():
    AzureModule(ARGUMENT_SPEC, rules=RULES).run(read_latest)


if __name__ == "__main__":
    main()
