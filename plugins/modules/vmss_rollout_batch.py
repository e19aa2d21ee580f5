#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vmss_rollout_batch
short_description: Upgrade (or read) the extensions of a batch of VM scale sets in one controller step, with live progress
version_added: 1.0.0
description:
  - The batch step of the fleet rollout. Run it once per batch (C(run_once=true)) with O(hosts=ansible_play_batch); it
    plans, starts (at most once) and watches every scale set of the batch concurrently, in one process on the controller,
    and returns one record per inventory host in RV(results). The role P(azure_ops.rollout.vmss_extension_rollout#role) wraps
    it; use the role unless you build your own play.
  - Each scale set goes through exactly the procedure of M(azure_ops.rollout.vmss_extension_upgrade) (same decisions,
    start-once rule, deadlines, retries and error messages), as one state machine per scale set driven by one scheduler and
    at most 32 HTTP worker threads. They share one client and one token per identity, so a batch of 500 scale sets costs
    the controller one task, not a task per host per progress round.
  - While it waits it prints through Ansible's display, which C(ansible-playbook) shows and AWX / Automation Platform
    receives as job events as they happen. First a header, then one block per O(progress_interval) seconds with a line
    per scale set whose state changed and a one-line summary of the batch; a 40-minute batch of 50 scale sets prints at
    most 55 lines per interval, usually far fewer.
  - The scale sets are the inventory hosts in O(hosts). Each is read from its host variables C(vmss_name) (default the
    host name), C(resource_group) and C(subscription_id) (default O(subscription_id)), as the inventory plugin
    P(azure_ops.rollout.vmss#inventory) sets them. A host whose variables break a rule gets an C(Error) record, and nothing is
    asked of Azure for it.
  - If the controller stops (Ctrl-C, a lost job), the upgrades already started go on in Azure; a re-run with
    O(if_running=wait) attaches to them and starts nothing new. With O(report), the report is rewritten before the first
    request and after every progress block (a scale set still at work is C(Running), its upgrade C(left_running)), so
    even a killed controller leaves a truthful report; on SIGINT or SIGTERM the step marks the unfinished scale sets
    C(Interrupted) in the report and prints the report's summary on ansible-playbook's stderr before it ends.
  - O(kind) says what the batch rolls out, one kind per run - V(extension), the extensions
    (C(POST .../extensionRollingUpgrade), as M(azure_ops.rollout.vmss_extension_upgrade)), or V(os), the OS image
    (C(POST .../osRollingUpgrade), as M(azure_ops.rollout.vmss_os_upgrade) - started only when an unprotected instance
    runs an older image, the refusals Azure would answer told before any C(POST)), or V(model), the instances not on
    the latest model (C(POST .../manualupgrade) in batches with a health gate after each, as
    M(azure_ops.rollout.vmss_model_rollout) does it, for scale sets whose upgrade policy is C(Manual) or C(Automatic)).
  - With O(kind=model), the options O(batch_size), O(pause_between_batches), O(max_unhealthy_percent),
    O(max_unhealthy_upgraded_percent), O(health_timeout) and O(order) decide each scale set's batches and stop rule
    (given with another kind, they are refused). A scale set whose unhealthy share passes a limit stops (C(Failed), the
    stop rule's message naming the instances; the rest left as they are); the others of the batch go on. O(extensions),
    O(only_if_outdated=false), O(if_running) other than V(wait), O(cancel_attached=true) and O(on_timeout=cancel) are
    refused with it (a C(manualupgrade) cannot be cancelled); O(if_faulted) and O(skip_if_completed_within) do not
    apply (a model rollout reads no rolling upgrade).
  - B(Start slots and the Update budget.) O(max_concurrent_starts) bounds the scale sets in their plan or starting a
    batch at once (a scale set's next batch waits for a start slot as a new one does). With O(kind=model) every batch
    is one C(POST .../manualupgrade), which Azure counts against the scale set's Update budget (4 a minute per scale
    set, 500 a minute per subscription, Microsoft Learn "Compute throttling limits"); the collection's pacer holds
    each POST until its budget has a token, so a fleet's batches never exceed it (a 429 is waited for as Azure says).
  - With O(mode=status) nothing is started or waited for; the latest rolling upgrade of every scale set is read, at most
    O(parallel_reads) at a time (the fleet status gate).
  - This is an action plugin; it always runs on the controller, whatever the connection of the hosts.
author:
  - azure_ops.rollout maintainers (@azure-ops)
options:
  hosts:
    description:
      - Inventory hosts of the batch, one scale set each. Pass C(ansible_play_batch).
    type: list
    elements: str
    required: true
  mode:
    description:
      - V(rollout) plans, starts and watches the extension rolling upgrades. V(status) only reads the latest rolling
        upgrade of each scale set.
    type: str
    choices: [rollout, status]
    default: rollout
  kind:
    description:
      - What the batch rolls out (O(mode=rollout)) or reads the drift of (O(mode=status) with O(drift=true)).
      - V(extension) - the extension rolling upgrade and the extension drift.
      - V(os) - the OS image rolling upgrade and the OS image drift (as M(azure_ops.rollout.vmss_os_info) reads it,
        without the history). O(extensions) must then be unset.
      - V(model) - the model rollout (C(manualupgrade) in batches, health gates) and, with O(mode=status), the instances
        not on the latest model (the model and the VM list, no C(POST); a Flexible scale set, whose VMs do not say, is
        an C(Error)).
    type: str
    choices: [extension, model, os]
    default: extension
  approve_deferred:
    description:
      - With O(kind=os), approve a scale set's automatic OS upgrade that the platform started and deferred
        (C(osRollingUpgradeDeferral)) and that waits for approval, then watch it to its end, as
        M(azure_ops.rollout.vmss_os_upgrade) does with O(azure_ops.rollout.vmss_os_upgrade#module:approve_deferred). V(false)
        fails such a scale set (C(AwaitingApproval)). Set only with O(kind=os), with O(api_version) C(2023-09-01) or
        later.
    type: bool
    default: false
  ring:
    description: Name of the ring (inventory group) the batch belongs to, for the progress lines and the records.
    type: str
  progress_interval:
    description: Seconds between two progress blocks (1 to 3600). A block is also printed as soon as every scale set is
      planned, and when the batch ends.
    type: int
    default: 30
  max_concurrent_starts:
    description:
      - At most this many scale sets plan and start at once (0 to 1000, V(0) for no bound), to stay within Azure's write
        budget. Watching is never bounded.
    type: int
    default: 10
  parallel_reads:
    description: With O(mode=status), at most this many reads at once (1 to 200).
    type: int
    default: 20
  drift:
    description:
      - With O(mode=status), also read each scale set's extension drift (as M(azure_ops.rollout.vmss_extension_info)
        does - one model read, the VM list with instance views, the versions catalog read once per location, publisher and
        type for the whole batch) into RV(results.outdated), RV(results.outdated_instance_count) and
        RV(results.outdated_extensions); with O(kind=os), the OS image drift instead (one entry C(OS image) in
        RV(results.outdated_extensions)); with O(kind=model), the instances not on the latest model (one entry C(Model),
        its C(instance_versions) the instances on the C(latest) model and on an C(older) one).
    type: bool
    default: false
  report:
    description:
      - With O(mode=rollout), rewrite the fleet report (as M(azure_ops.rollout.fleet_report) does) with this batch's
        records before returning, so that it is written before any host of the batch fails. Keys C(dest) (directory),
        C(name), C(plan) (the RV(azure_ops.rollout.fleet_preflight#module:plan) of the run), and optionally
        C(run_started_at), C(max_fail_percentage) and C(title) (by default the kind's, as
        M(azure_ops.rollout.fleet_report)'s O(azure_ops.rollout.fleet_report#module:rollout_kind) gives it).
    type: dict
  variable_prefix:
    description:
      - Written before each option name in the messages about invalid options, for a caller that exposes the options as
        variables (the role passes C(vmss_extension_rollout_), so a message names the variable the user set).
    type: str
    default: ''
  api_version:
    description: Compute API version of the rolling upgrade calls.
    type: str
    default: '2024-07-01'
extends_documentation_fragment:
  - azure_ops.rollout.azure
  - azure_ops.rollout.azure.action_group
  - azure_ops.rollout.azure.upgrade
  - azure_ops.rollout.azure.extensions
  - azure_ops.rollout.azure.model
attributes:
  check_mode:
    support: full
    description: Plans without any POST; the records say C(WouldStart), C(WouldAttach), C(WouldApprove), C(Skipped) or
      C(Current).
  diff_mode:
    support: full
    description:
      - With C(--diff), prints each scale set to start with the extension versions its instances run before and the
        target versions after, as M(azure_ops.rollout.vmss_extension_upgrade) does (also in check mode). The records
        carry them as RV(results.versions) in any mode.
notes:
  - The batch's own options (timeouts, policies) are templated once, for the first host of the batch; per scale set,
    only C(vmss_name), C(resource_group) and C(subscription_id) are read from each host.
  - The C(changed) result of this task is always false (a C(run_once) result is given to every host of the batch); the role marks
    each host changed from its record.
"""

EXAMPLES = r"""
- name: Upgrade the extensions of the scale sets of this batch
  azure_ops.rollout.vmss_rollout_batch:
    hosts: "{{ ansible_play_batch }}"
    ring: canary
    wait_timeout: 2400
    poll_interval: 30
    progress_interval: 60
    if_faulted: fail
  run_once: true
  register: batch

# Ansible gives the registered result to every host of the batch: each reads its own record, no set_fact per host.
- name: Mark each scale set changed or failed as its record says
  azure_ops.rollout.vmss_rollout_check:
    batch_var: batch

- name: Read the latest rolling upgrade of every scale set (read only)
  azure_ops.rollout.vmss_rollout_batch:
    hosts: "{{ ansible_play_hosts }}"
    mode: status
  run_once: true
  register: fleet
"""

RETURN = r"""
results:
  description:
    - One record per inventory host of O(hosts), keyed by host name.
    - With O(mode=rollout) the record of an upgrade (the role's C(vmss_extension_rollout_result)); with O(mode=status)
      the record of the latest rolling upgrade.
  returned: always
  type: dict
  sample:
    web-r1-eus-01: {host: web-r1-eus-01, name: web-r1-eus-01, resource_group: rg-web, status: Completed, failed: false,
                    action: start, changed: true, succeeded: 10, failed_instances: 0, elapsed: 432.1}
  contains:
    host:
      description: Inventory host name.
      type: str
      returned: always
    name:
      description: Scale set name.
      type: str
      returned: always
    resource_group:
      description: Resource group of the scale set.
      type: str
      returned: always
    subscription_id:
      description: Subscription of the scale set.
      type: str
      returned: always
    ring:
      description: O(ring), when given.
      type: str
      returned: always
    status:
      description:
        - With O(mode=rollout) one of C(Completed), C(Current), C(Skipped), C(WouldStart), C(WouldAttach),
          C(WouldApprove), C(TimedOut), C(Faulted), C(Cancelled), C(Refused), C(AwaitingApproval) (with O(kind=os), a deferred
          automatic OS upgrade waits for approval and O(approve_deferred=false)), C(Failed), C(Error), C(NotStarted) (and in the report, rewritten while the
          batch runs or when it was interrupted, C(Running) and C(Interrupted)).
        - With O(mode=status) the code of the latest rolling upgrade (C(RollingForward), C(Completed), C(Faulted),
          C(Cancelled)), C(AwaitingApproval) in place of C(RollingForward) (with O(kind=os) and O(drift=true), a
          deferred automatic OS upgrade waits for approval), C(NeverUpgraded), or C(Error) when it could not be read.
      type: str
      returned: always
      sample: Completed
    failed:
      description: Whether the outcome is a failure (for example C(Faulted), C(TimedOut) unless O(on_timeout=leave)).
      type: bool
      returned: with O(mode=rollout)
    action:
      description: What the scale set's step decided (C(start), C(attach), C(skip), C(current), C(refuse)), null when it
        could not plan.
      type: str
      returned: with O(mode=rollout)
    changed:
      description: Whether an upgrade was started (in check mode, would be).
      type: bool
      returned: with O(mode=rollout)
    upgrade_started:
      description: Whether this run sent the start (never in check mode).
      type: bool
      returned: with O(mode=rollout)
    timed_out:
      description: Whether O(wait_timeout) passed first.
      type: bool
      returned: with O(mode=rollout)
    cancelled:
      description: Whether this run cancelled the upgrade.
      type: bool
      returned: with O(mode=rollout)
    left_running:
      description: Whether the step ended while the upgrade still runs in Azure.
      type: bool
      returned: with O(mode=rollout)
    succeeded:
      description: Instances upgraded successfully (null when no rolling upgrade status is known).
      type: int
      returned: always
    failed_instances:
      description: Instances that failed to upgrade.
      type: int
      returned: always
    in_progress:
      description: Instances being upgraded.
      type: int
      returned: always
    pending:
      description: Instances not yet upgraded.
      type: int
      returned: always
    percent:
      description: Share of instances done (succeeded or failed), 0 to 100.
      type: float
      returned: always
    error_code:
      description: Azure's error code (for example C(MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade)).
      type: str
      returned: always
    error_message:
      description: Azure's error message.
      type: str
      returned: always
    msg:
      description: One line saying what happened, for the operator and the failure of the host. When Azure ended the
        upgrade before its first batch (C(MaxUnhealthyInstancePercentExceededBeforeRollingUpgrade)), it names the first
        unhealthy instances.
      type: str
      returned: always
    policy:
      description: The whole rolling upgrade policy Azure echoed with the upgrade (snake_case, as in
        RV(azure_ops.rollout.vmss_rolling_upgrade_info#module:rolling_upgrade.policy)); null without one.
      type: dict
      returned: always
    unhealthy_instances:
      description: The instances Azure named unhealthy in the upgrade's C(error.details)
        (C(RollingUpgradeInstanceUnhealthyError)), instance ids or, in a Flexible scale set, VM names. Empty otherwise.
      type: list
      elements: str
      returned: always
    start_refused:
      description: Azure's C(code) and C(message) when it refused the start because an upgrade had begun since the plan
        read (see RV(azure_ops.rollout.vmss_extension_upgrade#module:start_refused)); null otherwise.
      type: dict
      returned: with O(mode=rollout)
    instance_naming:
      description: How the scale set names its instances, C(instance_id) (Uniform) or C(vm_name) (Flexible); null when
        drift was not read.
      type: str
      returned: always
    elapsed:
      description:
        - With O(mode=rollout), seconds from the start of the scale set's step to its outcome, the one elapsed value shown
          in the progress lines, the role's fact and the reports.
        - With O(mode=status), seconds since the latest upgrade started, by the service's clock at the read (Azure reports
          no end time for a rolling upgrade).
      type: float
      returned: always
    started_at:
      description: When the scale set's step started (UTC, ISO 8601 with the zone).
      type: str
      returned: with O(mode=rollout)
    ended_at:
      description: When it ended (UTC, ISO 8601 with the zone).
      type: str
      returned: with O(mode=rollout)
    start_time:
      description: Start time of the rolling upgrade, as Azure reports it.
      type: str
      returned: always
    last_action_time:
      description: Time of the last action on the latest rolling upgrade, as Azure reports it.
      type: str
      returned: with O(mode=status)
    outdated:
      description: Whether an instance runs an outdated extension, or with O(kind=os) an older OS image than the target
        (null when drift was not read).
      type: bool
      returned: with O(mode=status)
    outdated_instance_count:
      description: Instances outdated for any extension (null when drift was not read).
      type: int
      returned: with O(mode=status)
    outdated_extensions:
      description: The outdated extensions, each C(name), C(target_version), C(instance_versions) (installed version to
        instance count), C(outdated_instances) and C(unknown_instances) (counts).
      type: list
      elements: dict
      returned: with O(mode=status)
    drift_kind:
      description: What the drift read is of, C(extension), C(os) or C(model) (O(kind)); null when drift was not read.
      type: str
      returned: with O(mode=status)
    timeline:
      description: Distinct progress observations (C(elapsed), C(code), C(succeeded), C(failed), C(in_progress),
        C(pending), C(percent_complete)), for the progress picture of the report.
      type: list
      elements: dict
      returned: with O(mode=rollout)
    throttled:
      description: What Azure's 429 answers cost this scale set's requests, C(policy), C(times) and C(seconds) waited
        (empty when none), as in the modules' RV(azure_ops.rollout.vmss_extension_upgrade#module:throttled).
      type: list
      elements: dict
      returned: with O(mode=rollout)
    versions:
      description:
        - Each extension's versions, from the drift read before the start (empty when it was not read, for example for
          an upgrade already running that the step attached to) - C(name), C(from) (installed version to instance
          count), C(to) (the target version) and C(outdated) (instances).
        - With O(kind=os), one entry named C(OS image) - the image versions the instances run, the target, and the
          outdated instances an OS upgrade moves (those not protected from scale-set actions).
      type: list
      elements: dict
      returned: with O(mode=rollout)
      sample: [{name: HealthExtension, from: {1.0.0: 8}, to: 1.0.9, outdated: 8}]
    model:
      description:
        - With O(kind=model), what the model rollout did (null for the other kinds) - C(upgraded_instances) and
          C(remaining_instances) (still not on the latest model, the protected ones included), C(protected_instances),
          C(in_flight_instances) (an earlier run's batch, waited for), C(instance_count), C(batch_size),
          C(planned_batches) (the batches planned at the start), C(batches) (each C(batch), C(instances) (count),
          C(started_at) and C(ended_at) (seconds into the scale set's step) and C(verdict) (C(healthy), C(unhealthy) or
          C(unknown))), and C(stopped_by) (the stop rule that ended it - C(rule), C(percent), C(limit), C(instances),
          C(message) - or null).
        - Its status is C(Completed), C(Current) (every instance on the latest model, no C(POST)), C(Failed) (stopped by
          the rule; the message names the instances and why), C(Refused) (Flexible, or over a limit before the first
          batch) or C(TimedOut) (no batch starts after O(wait_timeout); one in flight goes on in Azure).
      type: dict
      returned: with O(mode=rollout)
    refused_by:
      description: For a C(Refused) scale set of the role, the exact variable that refused it (for example
        C(vmss_extension_rollout_if_faulted)); its message says how to override it for this scale set only.
      type: str
      returned: when refused and O(variable_prefix) is set
    warnings:
      description: Warnings of the scale set's step (for example a start whose answer was lost).
      type: list
      elements: str
      returned: with O(mode=rollout)
summary:
  description: Number of scale sets per status.
  returned: always
  type: dict
  sample: {Completed: 11, Faulted: 1}
report:
  description: With O(report), the report's C(headline), C(summary), C(result), C(passed) and the paths C(json) and
    C(html); else null.
  returned: always
  type: dict
failed_hosts:
  description: Hosts whose record is a failure (O(mode=rollout)).
  returned: always
  type: list
  elements: str
  sample: [api-r1-weu-02]
"""
