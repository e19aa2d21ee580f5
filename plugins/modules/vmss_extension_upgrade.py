#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vmss_extension_upgrade
short_description: Start a VM scale set extension rolling upgrade once, and wait for it
version_added: 1.0.0
description:
  - Starts a rolling upgrade that moves the extensions of every instance of a scale set to the latest version
    (C(POST .../extensionRollingUpgrade)), then by default waits for it to end under a hard deadline.
  - Idempotent. It reads C(rollingUpgrades/latest) first; when an upgrade is already C(RollingForward) it attaches to it
    (see O(if_running)) instead of starting a second one. RV(changed) is true only when this task started an upgrade.
  - Exactly idempotent (O(only_if_outdated=true), the default). When no upgrade is running it reads which instances
    run outdated extensions (the rule is in the notes below, the same as M(azure_ops.rollout.vmss_extension_info)) and,
    when none does, returns RV(action=current) with RV(changed=false) and sends no C(POST) (Azure would accept the
    start anyway and record a new C(Completed) run). The decision order is a running upgrade (O(if_running)), then
    nothing outdated (V(current)), then a latest upgrade that C(Faulted) with O(if_faulted=fail), then one completed
    within O(skip_if_completed_within) (V(skip)), else V(start).
  - An upgrade that ends C(Faulted) or C(Cancelled), or an operation that ends C(Failed), fails the task with Azure's
    error code and message, and still returns RV(operation) and RV(rolling_upgrade).
  - When Azure throttles a status read for longer than O(wait_timeout) leaves (a C(Retry-After) of 20 minutes is
    possible), the wait ends at once under O(on_timeout), and the message says that Azure throttled it, with the policy
    and the C(Retry-After). A throttled start is retried after its C(Retry-After) (a 429 proves nothing started).
    RV(throttled) tells what throttling cost the task.
author:
  - azure_ops.rollout maintainers (@azure-ops)
extends_documentation_fragment:
  - azure_ops.rollout.azure
  - azure_ops.rollout.azure.action_group
  - azure_ops.rollout.azure.vmss
  - azure_ops.rollout.azure.run
  - azure_ops.rollout.azure.upgrade
  - azure_ops.rollout.azure.extensions
attributes:
  check_mode:
    support: full
    description: Reads the current status (and the extension versions) only; RV(changed) says whether an upgrade would
      start. No POST, no waiting.
  diff_mode:
    support: full
    description: When an upgrade starts (or would, in check mode), shows per outdated extension the installed versions
      and their instance counts before, and the target version after. Needs O(only_if_outdated=true).
"""

EXAMPLES = r"""
- name: Upgrade the extensions of a scale set and wait up to 40 minutes
  azure_ops.rollout.vmss_extension_upgrade:
    subscription_id: "{{ azure_subscription_id }}"
    resource_group: rg-web
    name: vmss-web-01
    wait_timeout: 2400
    on_timeout: cancel
  register: upgrade

- name: Start without waiting
  azure_ops.rollout.vmss_extension_upgrade:
    resource_group: rg-web
    name: vmss-web-02
    wait: false
  register: started

- name: Nightly, start only when an instance runs an outdated HealthExtension (changed only then)
  azure_ops.rollout.vmss_extension_upgrade:
    resource_group: rg-web
    name: vmss-web-03
    extensions: [HealthExtension]
    skip_if_completed_within: 3600
  register: nightly

- name: Later, watch the same operation to the end
  azure_ops.rollout.vmss_extension_upgrade:
    resource_group: rg-web
    name: vmss-web-02
    operation_url: "{{ started.operation_url }}"
    wait_timeout: 3600
"""

RETURN = r"""
changed:
  description: True when this task started a rolling upgrade (in check mode, when it would have).
  returned: always
  type: bool
  sample: true
upgrade_started:
  description:
    - Whether a rolling upgrade was started by this task (always false in check mode).
    - Not named C(started) because C(ansible.builtin.async_status) takes a C(started) key in a result for a job that is
      still running, which would make an C(async) run of this module look unfinished forever.
  returned: always
  type: bool
  sample: true
action:
  description:
    - What the task decided after reading the latest upgrade. C(start), C(attach) (one was running, or
      O(operation_url) was given), C(current) (no instance runs an outdated extension, nothing started),
      C(skip) (completed within O(skip_if_completed_within)) or C(refuse).
  returned: always
  type: str
  sample: start
operation:
  description: The async operation's final (or last seen) status, when it is known.
  returned: always
  type: dict
  contains:
    status:
      description: C(InProgress), C(Succeeded), C(Failed) or C(Canceled).
      type: str
      returned: when known
      sample: Succeeded
    start_time:
      description: When the operation started (ISO 8601).
      type: str
      returned: when known
    end_time:
      description: When it ended (ISO 8601).
      type: str
      returned: when known
    name:
      description: Operation ID.
      type: str
      returned: when known
    error:
      description: Azure's error (C(code), C(message), C(target), C(details), C(innererror)) or null.
      type: dict
      returned: when known
operation_url:
  description: URL of the async operation, to resume watching with O(operation_url). Null when none was started.
  returned: always
  type: str
  sample: https://management.azure.com/subscriptions/.../providers/Microsoft.Compute/locations/eastus/operations/3a5e...?api-version=2024-07-01
rolling_upgrade:
  description:
    - The rolling upgrade the task is about, in the shape M(azure_ops.rollout.vmss_rolling_upgrade_info) returns
      (C(policy), C(running_status), C(progress), C(error), C(is_terminal), C(percent_complete), and C(location)/C(type)
      when sent) - the latest at the end of the task. When the task started one, that one, or null when it never
      showed (the start failed first); an older upgrade's code and error are never reported as this task's.
    - Null when no upgrade ever ran.
  returned: always
  type: dict
  sample: {running_status: {code: Completed, start_time: '2026-11-22T05:06:27.0292795+00:00', last_action: Start},
           progress: {successful_instance_count: 10, failed_instance_count: 0, in_progress_instance_count: 0,
           pending_instance_count: 0}, is_terminal: true, percent_complete: 100.0}
elapsed:
  description: Seconds the task spent, waiting included.
  returned: always
  type: float
  sample: 612.4
timeline:
  description: Distinct progress observations while waiting (first and latest kept, at most 20).
  returned: always
  type: list
  elements: dict
  sample: [{elapsed: 0.0, code: RollingForward, succeeded: 0, failed: 0, in_progress: 2, pending: 8, percent_complete: 0.0}]
polls:
  description: Status reads made while waiting.
  returned: always
  type: int
  sample: 21
timed_out:
  description: Whether O(wait_timeout) passed before the upgrade ended.
  returned: always
  type: bool
  sample: false
cancelled:
  description: Whether this task cancelled the upgrade (O(on_timeout=cancel)).
  returned: always
  type: bool
  sample: false
extensions:
  description:
    - The extension drift read before deciding, one record per considered extension, exactly as
      M(azure_ops.rollout.vmss_extension_info) returns its RV(azure_ops.rollout.vmss_extension_info#module:extensions)
      (C(name), C(publisher), C(type), C(model_version), C(target_version), C(outdated), C(instance_count),
      C(outdated_instances), C(unknown_instances), C(provisioning_instances), C(instance_versions), C(instance_naming),
      C(note)). Instances are instance ids in a Uniform scale set and VM names in a Flexible one (C(instance_naming)).
    - Null when it was not read (O(only_if_outdated=false), an upgrade was running, or O(operation_url) was given).
  returned: always
  type: list
  elements: dict
  sample: [{name: HealthExtension, publisher: Microsoft.ManagedServices, type: ApplicationHealthLinux, model_version: '1.0',
            target_version: 1.1.3, outdated: true, instance_count: 10, outdated_instances: ['0', '2'],
            unknown_instances: ['9'], provisioning_instances: [], instance_versions: {1.0.9: 2, 1.1.3: 7},
            instance_naming: instance_id, note: null}]
instance_naming:
  description: How RV(extensions) names instances, C(instance_id) (a Uniform scale set) or C(vm_name) (a Flexible
    one); null when the drift was not read.
  returned: always
  type: str
  sample: instance_id
start_refused:
  description:
    - When Azure refused this task's start with 409 C(OperationNotAllowed) because a rolling upgrade had begun since the
      plan read (Azure starts them itself for automatic extension, OS and VM agent upgrades), its C(code) and
      C(message), which is all Azure says of who started the running one. The task then treats that upgrade as running
      under O(if_running) (C(wait) watches it, RV(action) becomes C(attach); C(fail) and C(start) fail) and warns.
    - Null otherwise.
  returned: always
  type: dict
  sample: {code: OperationNotAllowed, message: Rolling Upgrade cannot be started because there is already an ongoing
           Rolling Upgrade on this Virtual Machine Scale Set.}
left_running:
  description: Whether the task ended (timed out) while the upgrade was still running in Azure, not cancelled.
  returned: always
  type: bool
  sample: false
throttled:
  description:
    - What Azure's rate limits cost this task, one item per policy that answered 429 (for example C(LowCostGet)
      or C(subscription-reads)) with C(times) and the C(seconds) waited. Empty when Azure never throttled it.
  returned: always
  type: list
  elements: dict
  sample: [{policy: LowCostGet, times: 1, seconds: 5.0}]
"""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _upgrade
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import AzureModule
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

# The decision options (shared with the batch step vmss_rollout_batch) and the target of this one run.
ARGUMENT_SPEC = dict(_upgrade.DECISION_SPEC, **_upgrade.RUN_SPEC)
RULES = dict(_upgrade.DECISION_RULES, **_upgrade.RUN_RULES)


def upgrade(module):
    observer = _upgrade.progress_file_observer(module.params["progress_file"], Deadline(None))
    return _upgrade.run_extension_upgrade(module, observer)


def main():
    AzureModule(ARGUMENT_SPEC, rules=RULES).run(upgrade)


if __name__ == "__main__":
    main()
