#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vmss_model_rollout
short_description: Bring every instance of a VM scale set to its latest model, in batches, behind health gates
version_added: 1.0.0
description:
  - For a scale set whose upgrade policy is C(Manual) (or C(Automatic), where Azure updates every instance at once and
    may leave some behind), after its model changed (an image version, a size, a setting), upgrades every instance whose
    C(latestModelApplied) is false, in batches of C(POST .../manualupgrade), and after each batch waits until each of
    its instances is healthy, or O(health_timeout) passed.
  - Health of an instance. With the Application Health extension in the model, its C(vmHealth) decides. Without it, the
    VM must have provisioned and be running. An instance whose health is still unknown when O(health_timeout) passes
    counts as unhealthy.
  - The stop rule is Azure's rolling-upgrade policy, applied by the module after each batch (and before the first). It
    stops when the unhealthy share of the upgraded instances passes O(max_unhealthy_upgraded_percent), or the unhealthy
    share of all instances passes O(max_unhealthy_percent). The task then fails, naming the instances and why, and the
    instances not yet upgraded are left as they are.
  - An instance that was unhealthy before the rollout, and is still unhealthy after its upgrade, does not count in the
    upgraded share (the new model did not break it). It still counts in the share of all instances.
  - Idempotent and resumable. The plan is always "the instances not on the latest model", so a re-run after a stop, a
    timeout or a lost controller goes on where the last run ended. Instances still being updated by an earlier run's
    batch are waited for, never sent again. RV(changed) is true only when an instance was upgraded.
  - Instances protected from scale-set actions are left out (Azure does not upgrade them) and listed in
    RV(protected_instances). Instances that do not report C(latestModelApplied) are listed in RV(unknown_instances).
  - Flexible scale sets are refused before any change. Azure documents C(manualupgrade) with VM names for them, but
    their VMs report no C(latestModelApplied), so nothing says which of them are outdated.
  - One deadline, O(wait_timeout), for the whole task. No batch starts after it. A batch in flight at the deadline goes
    on in Azure (a C(manualupgrade) cannot be cancelled), and a re-run waits for it.
author:
  - azure_ops.rollout maintainers (@azure-ops)
options:
  wait_timeout:
    description: Hard deadline of the whole task, in seconds. No batch starts after it.
    type: int
    default: 3600
  poll_interval:
    description: Seconds between two reads of a batch's operation or of its instances' health.
    type: int
    default: 15
  on_timeout:
    description:
      - What the deadline means. V(fail) fails the task. V(leave) returns without failing, with RV(timed_out) and
        RV(left_running) set.
      - Either way a batch in flight goes on in Azure, and the instances not reached keep their model.
    type: str
    choices: [fail, leave]
    default: fail
extends_documentation_fragment:
  - azure_ops.rollout.azure
  - azure_ops.rollout.azure.action_group
  - azure_ops.rollout.azure.vmss
  - azure_ops.rollout.azure.model
attributes:
  check_mode:
    support: full
    description: One read of the model and one of the instance list; RV(plan) says which instances would move in which
      batch. Nothing is sent.
  diff_mode:
    support: full
    description: Before, the instances not on the latest model; after, the batches that would move them.
"""

EXAMPLES = r"""
- name: After changing the model, bring every instance to it, 2 at a time, 5 minutes of health per batch
  azure_ops.rollout.vmss_model_rollout:
    resource_group: rg-web
    name: vmss-web-01
    batch_size: "2"
    health_timeout: 300
    max_unhealthy_upgraded_percent: 0
    wait_timeout: 7200
  register: rollout

- name: Show which instances would move in which batch
  azure_ops.rollout.vmss_model_rollout:
    resource_group: rg-web
    name: vmss-web-01
    batch_size: 25%
  check_mode: true
  register: planned
"""

RETURN = r"""
changed:
  description: True when an instance was upgraded (in check mode, when one would be).
  returned: always
  type: bool
action:
  description: C(start) (instances to upgrade), C(current) (every instance is on the latest model) or C(refuse).
  returned: always
  type: str
  sample: start
instance_count:
  description: Instances of the scale set.
  returned: when the instances were read
  type: int
batch_size:
  description: Instances per batch, as resolved from O(batch_size).
  returned: when the instances were read
  type: int
limits:
  description: The unhealthy limits applied, from the options or the scale set's rolling policy.
  returned: when the instances were read
  type: dict
  sample: {max_unhealthy_percent: 20, max_unhealthy_upgraded_percent: 20}
plan:
  description: The plan in words, one line per batch naming its instances, then the instances left out and why.
  returned: when the instances were read
  type: list
  elements: str
  sample: ["4 instances not on the latest model, in batches of 50% of 4 instances (batch_size)", "batch 1: 0, 1",
           "batch 2: 2, 3"]
upgraded_instances:
  description: The instances this task upgraded (instance ids).
  returned: always
  type: list
  elements: str
remaining_instances:
  description: The instances still not on the latest model when the task ended (what a re-run would upgrade).
  returned: always
  type: list
  elements: str
in_flight_instances:
  description: Instances that were being updated when the task began (an earlier run's batch), waited for first.
  returned: when the instances were read
  type: list
  elements: str
protected_instances:
  description: Instances not on the latest model but protected from scale-set actions, left as they are.
  returned: when the instances were read
  type: list
  elements: str
unknown_instances:
  description: Instances that do not report whether they run the latest model, left out.
  returned: when the instances were read
  type: list
  elements: str
batches:
  description: One entry per batch, in order, with its instances, times and health verdict.
  returned: always
  type: list
  elements: dict
  contains:
    batch:
      description: The batch number, from 1.
      type: int
    instances:
      description: The instance ids of the batch.
      type: list
      elements: str
    started_at:
      description: Seconds into the task when the batch started.
      type: float
    ended_at:
      description: Seconds into the task when its health gate ended.
      type: float
    duration:
      description: Seconds from its start to the end of its health gate.
      type: float
    operation_status:
      description: How the C(manualupgrade) operation ended (C(Succeeded), C(Failed)), null for a batch waited for.
      type: str
    verdict:
      description: C(healthy), C(unhealthy) or C(unknown) (not settled within O(health_timeout)).
      type: str
    health:
      description: The instances of the batch by health, C(healthy), C(unhealthy) and C(unknown).
      type: dict
    why:
      description: Why each instance that is not healthy is not, by instance id.
      type: dict
stopped_by:
  description: The stop rule that ended the rollout, the share found, the limit and the instances.
  returned: when the stop rule stopped the rollout
  type: dict
  sample: {rule: max_unhealthy_upgraded_percent, percent: 50.0, limit: 20, instances: ["2"], message: "..."}
note:
  description: What the upgrade policy means for a model rollout (Rolling, Automatic), or null (Manual).
  returned: when the model was read
  type: str
upgrade_mode:
  description: The scale set's upgrade policy mode.
  returned: when the model was read
  type: str
orchestration_mode:
  description: C(Uniform) or C(Flexible).
  returned: when the model was read
  type: str
timed_out:
  description: Whether O(wait_timeout) ended the task.
  returned: always
  type: bool
left_running:
  description: Whether a batch was still in flight in Azure when the task ended.
  returned: always
  type: bool
elapsed:
  description: Seconds the task took.
  returned: always
  type: float
throttled:
  description: What Azure's throttling cost the task, per policy.
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _engine, _model, _validation, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import AzureModule, ModuleFailure

ARGUMENT_SPEC = dict(_model.MODEL_SPEC, **{
    "resource_group": {"type": "str", "required": True},
    "name": {"type": "str", "required": True, "aliases": ["vmss_name"]},
    "api_version": {"type": "str", "default": _vmss.API_VERSION},
    "wait_timeout": {"type": "int", "default": 3600},
    "poll_interval": {"type": "int", "default": 15},
    "on_timeout": {"type": "str", "choices": ["fail", "leave"], "default": "fail"},
})
RULES = dict(_model.MODEL_RULES, **{
    "resource_group": _validation.RESOURCE_GROUP,
    "name": _validation.VMSS_NAME,
    "api_version": _validation.API_VERSION,
    "wait_timeout": _validation.Range(1, 86400),
    "poll_interval": _validation.Range(1, 3600),
})


def rollout(module):
    target = {"subscription_id": module.subscription_id, "resource_group": module.params["resource_group"],
              "name": module.params["name"]}
    machine = _engine.Rollout(target, module.params, module.client, _model.MODEL, check_mode=module.check_mode,
                              diff_mode=module.diff_mode)
    try:
        return _model.module_result(_engine.run_one(machine))
    except ModuleFailure as failure:
        failure.result = _model.module_result(failure.result)
        raise
    finally:
        for message in machine.warnings:
            module.warn(message)


def main():
    AzureModule(ARGUMENT_SPEC, rules=RULES).run(rollout)


if __name__ == "__main__":
    main()
