#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vmss_os_info
short_description: Tell which instances of a VM scale set run an older OS image than an OS upgrade would install
version_added: 1.0.0
description:
  - Reads a scale set's model (its image reference and upgrade policy), the image version every instance runs (one VM
    list, never one call per instance) and the image catalog, and returns the version an OS rolling upgrade would
    install, the outdated and unknown instances and how many instances run each version, plus the refusals Azure
    would answer a start with, the automatic OS upgrade policy and the newest entries of the OS upgrade history.
  - Starting an OS rolling upgrade on a current scale set is accepted and recorded as a new upgrade; this module
    answers "would anything change?" without changing anything.
  - Which image an instance runs is its C(storageProfile.imageReference.exactVersion). A Uniform scale set's instances
    come from the scale-set VM list and are named by instance id; a Flexible one's from the resource group's VM list
    filtered to the scale set, named by VM name (RV(instance_naming)).
  - What an upgrade would install (RV(target_version)) is, for a platform image with version C(latest), the highest
    version the location lists for its publisher, offer and SKU; for a Compute Gallery image definition, the highest
    version that is not C(excludeFromLatest), whose provisioning succeeded and that is replicated to the scale set's
    region. Versions compare as integer tuples (C(2024.1.10) is above C(2024.1.9)).
  - An instance is outdated when it runs a version below the target; one that reports no version is unknown, listed
    apart, and does not by itself make the scale set outdated.
author:
  - azure_ops.rollout maintainers (@azure-ops)
options:
  history:
    description:
      - How many of the newest C(osUpgradeHistory) entries to return in RV(os_upgrade_history). C(0) skips that read.
    type: int
    default: 5
extends_documentation_fragment:
  - azure_ops.rollout.azure
  - azure_ops.rollout.azure.action_group
  - azure_ops.rollout.azure.read_only
  - azure_ops.rollout.azure.vmss
"""

EXAMPLES = r"""
- name: Which instances run an older OS image?
  azure_ops.rollout.vmss_os_info:
    subscription_id: "{{ azure_subscription_id }}"
    resource_group: rg-web
    name: vmss-web-01
  register: os_drift

- name: Show them
  ansible.builtin.debug:
    msg: "{{ os_drift.outdated_instances | length }} of {{ os_drift.instance_count }} instances below {{ os_drift.target_version }}"

- name: Fail early when Azure would refuse an OS upgrade
  ansible.builtin.assert:
    that: os_drift.refusals | length == 0
    fail_msg: "{{ os_drift.refusals | map(attribute='message') | join('; ') }}"
"""

RETURN = r"""
image_reference:
  description: The model's C(imageReference) as Azure returns it.
  returned: always
  type: dict
  sample: {publisher: Canonical, offer: ubuntu-24_04-lts, sku: server, version: latest}
image_kind:
  description: C(platform) (publisher, offer, SKU), C(gallery) (a Compute Gallery image by resource id) or C(other)
    (a managed image or none, for which no target can be read).
  returned: always
  type: str
  sample: platform
target_version:
  description: The image version an OS rolling upgrade would install; null when it cannot be known (see RV(note)).
  returned: always
  type: str
  sample: 24.04.202501140
outdated:
  description: Whether any instance runs a version below RV(target_version).
  returned: always
  type: bool
  sample: true
outdated_instance_count:
  description: How many instances are outdated.
  returned: always
  type: int
  sample: 3
instance_count:
  description: Instances of the scale set (not those being created or deleted).
  returned: always
  type: int
  sample: 10
outdated_instances:
  description: Instances running a version below the target, named as RV(instance_naming) says.
  returned: always
  type: list
  elements: str
  sample: ['0', '2', '3']
unknown_instances:
  description: Instances that report no image version. They do not make the scale set outdated.
  returned: always
  type: list
  elements: str
  sample: []
provisioning_instances:
  description: Instances being created or deleted (a C(maxSurge) upgrade replacing them); neither outdated nor unknown.
  returned: always
  type: list
  elements: str
  sample: []
protected_instances:
  description: Instances protected from scale-set actions; an OS rolling upgrade leaves them as they are.
  returned: always
  type: list
  elements: str
  sample: ['7']
instance_versions:
  description: Image version -> number of instances running it (unknown instances not counted).
  returned: always
  type: dict
  sample: {24.04.202409120: 3, 24.04.202501140: 7}
instance_naming:
  description: C(instance_id) (Uniform scale set) or C(vm_name) (Flexible scale set).
  returned: always
  type: str
  sample: instance_id
note:
  description: Why the target is unknown (an image this module cannot read a catalog for, or none listed), else null.
  returned: always
  type: str
  sample: null
location:
  description: The scale set's location, whose catalog (or gallery replica) decides the target.
  returned: always
  type: str
  sample: eastus
orchestration_mode:
  description: The scale set's orchestration mode (C(Uniform) when its model does not say).
  returned: always
  type: str
  sample: Uniform
upgrade_mode:
  description: The model's C(upgradePolicy.mode) (C(Rolling), C(Manual) or C(Automatic)).
  returned: always
  type: str
  sample: Rolling
automatic_os_upgrade_policy:
  description: The model's C(upgradePolicy.automaticOSUpgradePolicy) as Azure returns it; null when it has none.
  returned: always
  type: dict
  sample: {enableAutomaticOSUpgrade: true, disableAutomaticRollback: false}
approval:
  description:
    - Whether an automatic OS upgrade waits for approval. V(not_deferred) (automatic OS upgrades off, or not deferred
      by C(osRollingUpgradeDeferral)), V(none_pending) (deferred, but none waits) or V(pending) (an
      C(osUpgradeHistory) entry started by C(Platform) is still C(RollingForward) and has moved no instance yet).
    - An inference. Microsoft documents the deferral flag and the C(approveRollingUpgrade) call, and says a deferred
      upgrade notifies each VM through the IMDS tag C(Platform.PendingOSUpgrade), which a controller cannot read; it
      does not document how Resource Manager shows the wait.
    - With deferral on, the history pages are read (usually one request) even when O(history=0).
  returned: always
  type: str
  choices: [not_deferred, none_pending, pending]
  sample: pending
approval_instances:
  description: With RV(approval=pending), the outdated instances not protected from scale-set actions, which the
    approved upgrade would move; else empty.
  returned: always
  type: list
  elements: str
  sample: ['0', '3']
refusals:
  description:
    - What Azure would answer an OS rolling upgrade start with, each with Azure's C(code) and a C(message) saying what to
      change. Empty when nothing known rules a start out.
    - A pinned image version (only instances whose C(imageReference.version) is C(latest) can be upgraded), an image
      that is neither a platform nor a Compute Gallery image, every instance protected, upgrade policy mode
      C(Automatic).
  returned: always
  type: list
  elements: dict
  sample: [{code: OperationNotAllowed, message: "the model pins image version 1.0.0 ..."}]
os_upgrade_history:
  description: The newest entries of the scale set's OS upgrade history (at most O(history)), newest first.
  returned: always
  type: list
  elements: dict
  contains:
    started_by:
      description: Who started it, C(User) or C(Platform) (or C(Unknown)).
      type: str
      returned: always
      sample: Platform
    start_time:
      description: When it started.
      type: str
      returned: always
      sample: '2026-11-30T02:00:00.0000000+00:00'
    end_time:
      description: When it ended (null while running).
      type: str
      returned: always
      sample: '2026-11-30T02:40:00.0000000+00:00'
    result:
      description: Its running status code (C(RollingForward), C(Cancelled), C(Completed) or C(Faulted)).
      type: str
      returned: always
      sample: Completed
    target_image:
      description: The image reference it upgraded to.
      type: dict
      returned: always
      sample: {publisher: Canonical, offer: ubuntu-24_04-lts, sku: server, version: 24.04.202501140}
    progress:
      description: Its instance counts as Azure reports them.
      type: dict
      returned: always
      sample: {successfulInstanceCount: 10, failedInstanceCount: 0, inProgressInstanceCount: 0, pendingInstanceCount: 0}
    error:
      description: Azure's error when it faulted, else null.
      type: dict
      returned: always
      sample: null
    rollback:
      description: C(rolled_back) and C(failed) instance counts and the rollback C(error); null when Azure reports none.
      type: dict
      returned: always
      sample: {rolled_back: 0, failed: 0, error: null}
throttled:
  description:
    - What Azure's rate limits cost this task, one item per policy that answered 429 with C(times) and the C(seconds)
      waited. Empty when Azure never throttled it.
  returned: always
  type: list
  elements: dict
  sample: [{policy: LowCostGet, times: 1, seconds: 5.0}]
"""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _drift, _os_image, _validation, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import AzureModule

ARGUMENT_SPEC = dict(_vmss.TARGET_SPEC, history={"type": "int", "default": _os_image.HISTORY_ENTRIES})
RULES = dict(_vmss.TARGET_RULES, history=_validation.Range(0, _os_image.HISTORY_LIMIT))


def read_os_drift(module):
    params = module.params
    drift = _os_image.check(module.client, module.subscription_id, params["resource_group"], params["name"],
                            _drift.CatalogCache(), history=params["history"], api_version=params["api_version"])
    return dict(drift, changed=False)


def main():
    AzureModule(ARGUMENT_SPEC, rules=RULES).run(read_os_drift)


if __name__ == "__main__":
    main()
