#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vmss_os_upgrade
short_description: Start a VM scale set OS image rolling upgrade once, only when an instance runs an older image
version_added: 1.0.0
description:
  - Starts a rolling upgrade that moves the instances of a scale set to the newest OS image its model allows
    (C(POST .../osRollingUpgrade)), then by default waits for it to end under a hard deadline. The twin of
    M(azure_ops.rollout.vmss_extension_upgrade), with the same options, decisions and results, driving the same engine.
  - Idempotent. It reads C(rollingUpgrades/latest) first; when an upgrade is already C(RollingForward) it attaches to it
    (see O(if_running)) instead of starting a second one. RV(changed) is true only when this task started an upgrade.
  - Exactly idempotent (O(only_if_outdated=true), the default). When no upgrade is running it reads what
    M(azure_ops.rollout.vmss_os_info) reads (the model, the one VM list, the image catalog) and starts only when an
    instance that is not protected from scale-set actions runs an image older than the one the upgrade would install
    (RV(target_version)). Otherwise it returns RV(action=current) with RV(changed=false) and sends no C(POST) (Azure
    would accept the start anyway and record a new upgrade). The decision order is a running upgrade (O(if_running);
    the platform's deferred automatic OS upgrade waiting for approval, O(approve_deferred)),
    then nothing outdated (V(current)), then a latest upgrade that C(Faulted) with O(if_faulted=fail), then one
    completed within O(skip_if_completed_within) (V(skip)), else V(start).
  - Azure's refusals are told before any C(POST) when the reads predict them (RV(refusals)), with Azure's code and a
    sentence saying what to change, and the task fails with RV(action=refuse) - the model pins an image version
    (only instances whose C(imageReference.version) is C(latest) can be upgraded), every instance is protected, the
    upgrade policy mode is C(Automatic), or the model's image is neither a platform nor a Compute Gallery image (no
    target can be read for it, so it is not called current either).
  - A start Azure refuses all the same (409) fails with Azure's code and message and what to change; an upgrade that
    faults because a scheduled maintenance window does not cover now
    (C(RollingUpgradeBatchStartTimeNotWithinScheduledWindows)) fails with Azure's words and that advice.
  - An upgrade that ends C(Faulted) or C(Cancelled), or an operation that ends C(Failed), fails the task with Azure's
    error code and message, and still returns RV(operation) and RV(rolling_upgrade).
  - To roll an OS image out across a fleet ring by ring, use the role P(azure_ops.rollout.vmss_extension_rollout#role)
    with C(vmss_extension_rollout_kind=os) (one batch step per ring).
author:
  - azure_ops.rollout maintainers (@azure-ops)
options:
  only_if_outdated:
    description:
      - Start an upgrade only when an instance not protected from scale-set actions runs an image version below
        RV(target_version); otherwise the scale set is C(current) and nothing is started (C(changed=false), no C(POST)).
        The image versions are read only when no upgrade is running.
      - V(false) starts whenever the other options allow, without reading the versions (the OS drift keys are null);
        Azure's refusals then come back as the 409 it answers.
    type: bool
    default: true
  approve_deferred:
    description:
      - When an upgrade is running and it is the platform's automatic OS upgrade that waits for approval
        (RV(approval=pending), C(osRollingUpgradeDeferral)), approve it (C(POST .../approveRollingUpgrade) for every VM)
        and watch it to its end like an attached upgrade (RV(action=approve), RV(changed=true), RV(upgrade_started=false);
        O(on_timeout=cancel) cancels it only with O(cancel_attached=true)).
      - V(false) fails such a scale set with RV(action=refuse), nothing started or approved, rather than attach to an
        upgrade that would only wait for the deadline.
      - Needs O(api_version) C(2023-09-01) or later (the first with C(approveRollingUpgrade)); an older one is refused
        before any request.
    type: bool
    default: false
  history:
    description:
      - How many of the newest C(osUpgradeHistory) entries to return in RV(os_upgrade_history) when the OS drift is read.
        V(0) (the default) skips that read.
    type: int
    default: 0
extends_documentation_fragment:
  - azure_ops.rollout.azure
  - azure_ops.rollout.azure.action_group
  - azure_ops.rollout.azure.vmss
  - azure_ops.rollout.azure.run
  - azure_ops.rollout.azure.upgrade
attributes:
  check_mode:
    support: full
    description: Reads the current status and the image versions only; RV(changed) says whether an upgrade would start.
      No POST, no waiting.
  diff_mode:
    support: full
    description: When an upgrade starts (or would, in check mode), shows the image versions the instances run and their
      counts before, and the target version after. Needs O(only_if_outdated=true).
"""

EXAMPLES = r"""
- name: Roll the scale set to the newest image when an instance runs an older one, waiting up to an hour
  azure_ops.rollout.vmss_os_upgrade:
    subscription_id: "{{ azure_subscription_id }}"
    resource_group: rg-web
    name: vmss-web-01
    wait_timeout: 3600
    on_timeout: cancel
  register: os_upgrade

- name: Say what happened
  ansible.builtin.debug:
    msg: "{{ os_upgrade.action }}: {{ os_upgrade.outdated_instance_count }} instances below {{ os_upgrade.target_version }}"

- name: Nightly, in check mode, with the versions before and after
  azure_ops.rollout.vmss_os_upgrade:
    resource_group: rg-web
    name: vmss-web-02
  check_mode: true
  diff: true

- name: Start without waiting, then watch the same operation to the end
  azure_ops.rollout.vmss_os_upgrade:
    resource_group: rg-web
    name: vmss-web-03
    wait: false
  register: started

- name: Watch it
  azure_ops.rollout.vmss_os_upgrade:
    resource_group: rg-web
    name: vmss-web-03
    operation_url: "{{ started.operation_url }}"
  when: started.operation_url
"""

RETURN = r"""
changed:
  description: True when this task started a rolling upgrade or approved a deferred one (in check mode, when it would
    have).
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
      O(operation_url) was given), C(current) (no unprotected instance runs an image older than the target, nothing
      started), C(skip) (completed within O(skip_if_completed_within)), C(approve) (a deferred automatic OS upgrade was
      approved, O(approve_deferred)) or C(refuse) (Azure would refuse the start, see RV(refusals), a deferred upgrade
      waits for approval without O(approve_deferred=true), or O(if_faulted=fail) or O(if_running=fail) refused).
  returned: always
  type: str
  sample: current
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
image_reference:
  description: The model's C(imageReference) as Azure returns it.
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: dict
  sample: {publisher: Canonical, offer: ubuntu-24_04-lts, sku: server, version: latest}
image_kind:
  description: C(platform) (publisher, offer, SKU), C(gallery) (a Compute Gallery image by resource id) or C(other)
    (a managed image or none, for which no target can be read).
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: str
  sample: platform
target_version:
  description: The image version an OS rolling upgrade would install; null when it cannot be known (see RV(note)).
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: str
  sample: 24.04.202501140
outdated:
  description: Whether any instance runs a version below RV(target_version).
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: bool
  sample: true
outdated_instance_count:
  description: How many instances are outdated.
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: int
  sample: 3
instance_count:
  description: Instances of the scale set (not those being created or deleted).
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: int
  sample: 10
outdated_instances:
  description: Instances running a version below the target, named as RV(instance_naming) says.
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: list
  elements: str
  sample: ['0', '2', '3']
unknown_instances:
  description: Instances that report no image version. They do not make the scale set outdated.
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: list
  elements: str
  sample: []
provisioning_instances:
  description: Instances being created or deleted (a C(maxSurge) upgrade replacing them); neither outdated nor unknown.
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: list
  elements: str
  sample: []
protected_instances:
  description: Instances protected from scale-set actions; an OS rolling upgrade leaves them as they are.
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: list
  elements: str
  sample: ['7']
instance_versions:
  description: Image version -> number of instances running it (unknown instances not counted).
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: dict
  sample: {24.04.202409120: 3, 24.04.202501140: 7}
instance_naming:
  description: C(instance_id) (Uniform scale set) or C(vm_name) (Flexible scale set).
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: str
  sample: instance_id
note:
  description: Why the target is unknown (an image this module cannot read a catalog for, or none listed), else null.
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: str
  sample: null
location:
  description: The scale set's location, whose catalog (or gallery replica) decides the target.
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: str
  sample: eastus
orchestration_mode:
  description: The scale set's orchestration mode (C(Uniform) when its model does not say).
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: str
  sample: Uniform
upgrade_mode:
  description: The model's C(upgradePolicy.mode) (C(Rolling), C(Manual) or C(Automatic)).
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: str
  sample: Rolling
automatic_os_upgrade_policy:
  description: The model's C(upgradePolicy.automaticOSUpgradePolicy) as Azure returns it; null when it has none.
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
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
    - Read with the OS drift and, when an upgrade is running that has moved no instance yet, on its own (the model and,
      with deferral on, the history pages).
  returned: always; null when neither was read (O(operation_url), O(only_if_outdated=false) with no upgrade running)
  type: str
  choices: [not_deferred, none_pending, pending]
  sample: pending
approval_instances:
  description: With RV(approval=pending), the outdated instances not protected from scale-set actions, which the
    approved upgrade would move; else empty.
  returned: always; null when the OS drift was not read
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
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
  type: list
  elements: dict
  sample: [{code: OperationNotAllowed, message: "the model pins image version 1.0.0 ..."}]
os_upgrade_history:
  description: The newest entries of the scale set's OS upgrade history (at most O(history)), newest first.
  returned: always; null when the OS drift was not read (an upgrade was running, O(operation_url), O(only_if_outdated=false))
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
    - What Azure's rate limits cost this task, one item per policy that answered 429 (for example C(LowCostGet)
      or C(subscription-reads)) with C(times) and the C(seconds) waited. Empty when Azure never throttled it.
  returned: always
  type: list
  elements: dict
  sample: [{policy: LowCostGet, times: 1, seconds: 5.0}]
"""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _os_image, _os_upgrade, _upgrade, _validation
from ansible_collections.azure_ops.rollout.plugins.module_utils._module import AzureModule, ModuleFailure
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

# The decision options (shared with the batch step vmss_rollout_batch) less the extension ones, and this one run.
EXTENSION_ONLY = ("extensions",)
ARGUMENT_SPEC = dict(((key, value) for key, value in _upgrade.DECISION_SPEC.items() if key not in EXTENSION_ONLY),
                     history={"type": "int", "default": 0}, **dict(_os_upgrade.OS_SPEC, **_upgrade.RUN_SPEC))
RULES = dict(((key, value) for key, value in _upgrade.DECISION_RULES.items() if key not in EXTENSION_ONLY),
             history=_validation.Range(0, _os_image.HISTORY_LIMIT), **_upgrade.RUN_RULES)


def upgrade(module):
    problem = _os_upgrade.approve_problem(module.params)
    if problem:
        raise ModuleFailure("Invalid options: " + problem)
    observer = _upgrade.progress_file_observer(module.params["progress_file"], Deadline(None))
    return _upgrade.run_upgrade(module, _os_upgrade.OS, observer)


def main():
    AzureModule(ARGUMENT_SPEC, rules=RULES).run(upgrade)


if __name__ == "__main__":
    main()
