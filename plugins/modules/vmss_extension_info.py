#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vmss_extension_info
short_description: Tell which instances of a VM scale set run outdated extensions
version_added: 1.0.0
description:
  - Reads a scale set's model, the extension versions every instance runs (the VM list with instance views) and the
    versions the catalog of its location lists, and returns per extension the target version, the outdated and unknown
    instances and how many instances run each installed version, plus whether the scale set is outdated at all.
  - Azure offers no call that answers "would an extension rolling upgrade change anything?"; starting one to find out is
    not safe (the service accepts it and records a new C(Completed) run). This module answers it without changing
    anything. M(azure_ops.rollout.vmss_extension_upgrade) applies the same rule to start only when something is outdated.
  - The rule is in the notes below.
author:
  - azure_ops.rollout maintainers (@azure-ops)
extends_documentation_fragment:
  - azure_ops.rollout.azure
  - azure_ops.rollout.azure.action_group
  - azure_ops.rollout.azure.read_only
  - azure_ops.rollout.azure.vmss
  - azure_ops.rollout.azure.extensions
"""

EXAMPLES = r"""
- name: Which instances run outdated extensions?
  azure_ops.rollout.vmss_extension_info:
    subscription_id: "{{ azure_subscription_id }}"
    resource_group: rg-web
    name: vmss-web-01
  register: drift

- name: Show the outdated ones
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.outdated_instances | length }} of {{ item.instance_count }} instances below {{ item.target_version }}"
  loop: "{{ drift.extensions | selectattr('outdated') }}"
  loop_control:
    label: "{{ item.name }}"

- name: Only the health extension counts for this gate
  azure_ops.rollout.vmss_extension_info:
    resource_group: rg-web
    name: vmss-web-01
    extensions: [HealthExtension]
  register: health

- name: Fail the pipeline while instances are behind
  ansible.builtin.assert:
    that: not health.outdated
    fail_msg: "{{ health.outdated_instance_count }} instances run an outdated HealthExtension"
"""

RETURN = r"""
outdated:
  description: Whether any instance runs an outdated version of any considered extension.
  returned: always
  type: bool
  sample: true
outdated_instance_count:
  description: How many instances are outdated for at least one considered extension (each instance counted once).
  returned: always
  type: int
  sample: 8
location:
  description: The scale set's location, whose versions catalog was read.
  returned: always
  type: str
  sample: eastus
orchestration_mode:
  description: The scale set's orchestration mode (C(Uniform) when its model does not say), which decides how its
    instances were read and named.
  returned: always
  type: str
  sample: Flexible
instance_naming:
  description: How RV(extensions[].outdated_instances), RV(extensions[].unknown_instances) and
    RV(extensions[].provisioning_instances) name instances, C(instance_id) (Uniform) or C(vm_name) (Flexible).
  returned: always
  type: str
  sample: instance_id
extensions:
  description: One record per considered extension of the model, in the model's order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The extension's name in the model.
      type: str
      returned: always
      sample: HealthExtension
    publisher:
      description: Its publisher, as the model spells it.
      type: str
      returned: always
      sample: Microsoft.ManagedServices
    type:
      description: Its type, as the model spells it.
      type: str
      returned: always
      sample: ApplicationHealthLinux
    model_version:
      description: The model's C(typeHandlerVersion), usually C(major.minor).
      type: str
      returned: always
      sample: '1.0'
    target_version:
      description: The version an extension rolling upgrade would install (see the notes); null when the catalog lists
        none within reach.
      type: str
      returned: always
      sample: 1.1.3
    outdated:
      description: Whether any instance runs a version lower than RV(extensions[].target_version).
      type: bool
      returned: always
      sample: true
    instance_count:
      description: Instances of the scale set (those that report a version and those that do not; not those being
        created or deleted).
      type: int
      returned: always
      sample: 10
    outdated_instances:
      description: Instances running a version lower than the target, named as RV(extensions[].instance_naming) says
        (instance ids as strings, or VM names).
      type: list
      elements: str
      returned: always
      sample: ['0', '2', '3']
    unknown_instances:
      description: Instances that report no version of this extension (deallocated, agent not ready, extension absent).
        They do not make the scale set outdated.
      type: list
      elements: str
      returned: always
      sample: ['9']
    provisioning_instances:
      description: Instances being created or deleted (a C(maxSurge) rolling upgrade replacing them). Neither outdated
        nor unknown, and not counted in RV(extensions[].instance_count).
      type: list
      elements: str
      returned: always
      sample: []
    instance_naming:
      description: C(instance_id) (Uniform scale set) or C(vm_name) (Flexible scale set).
      type: str
      returned: always
      sample: instance_id
    instance_versions:
      description: Installed full version -> number of instances running it (unknown instances not counted).
      type: dict
      returned: always
      sample: {1.0.9: 8, 1.1.3: 1}
    note:
      description: Why nothing can be outdated for this extension (no version listed within reach), else null.
      type: str
      returned: always
      sample: null
throttled:
  description:
    - What Azure's rate limits cost this task, one item per policy that answered 429 (for example C(LowCostGet)
      or C(subscription-reads)) with C(times) and the C(seconds) waited. Empty when Azure never throttled it.
  returned: always
  type: list
  elements: dict
  sample: [{policy: LowCostGet, times: 1, seconds: 5.0}]
"""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _drift, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import AzureModule

ARGUMENT_SPEC = dict(_vmss.TARGET_SPEC, **_drift.EXTENSIONS_SPEC)
RULES = dict(_vmss.TARGET_RULES, **_drift.EXTENSIONS_RULES)


def read_drift(module):
    params = module.params
    drift = _drift.check(module.client, module.subscription_id, params["resource_group"], params["name"],
                         _drift.CatalogCache(), names=params["extensions"], api_version=params["api_version"])
    return dict(drift, changed=False)


def main():
    AzureModule(ARGUMENT_SPEC, rules=RULES).run(read_drift)


if __name__ == "__main__":
    main()
