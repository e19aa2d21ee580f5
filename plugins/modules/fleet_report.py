#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: fleet_report
short_description: Write the report of a fleet rollout or of the fleet status (JSON and HTML), and gate on it
version_added: 1.0.0
description:
  - With O(kind=rollout), gathers the record of every scale set of every ring (its record in the batch step's result
    that the role P(azure_ops.rollout.vmss_extension_rollout#role) registers on every host of the batch, or a fact
    C(vmss_extension_rollout_result), or the error C(vmss_extension_rollout_error) a ring play keeps when the role could
    not run) and writes O(dest)/O(name)C(.json) and C(.html). A scale set without either
    is C(NotStarted) (the run stopped before its turn) or C(NotRun) (left out by C(--limit)).
  - The ring plays run it after every batch, before they fail the scale sets that failed, so the report is written even
    when a ring stops the run or C(--limit) leaves out the last play. RV(failures) names the hosts to fail.
  - With O(kind=status), reports the status records of M(azure_ops.rollout.vmss_rollout_batch) in O(records) and, with
    O(gate=true), fails when a scale set's status is in O(fail_on).
  - The report has a headline (what happened, and which ring and scale set stopped the run), C(result) (C(passed),
    C(failed), C(running), C(interrupted)) and C(passed) (true for C(passed) only; the headline's colour follows it), the
    run's start and end in UTC, counts per status, and a row per scale set with a small picture of its progress over time (inline SVG, no
    JavaScript, no external resource). The play output gets the headline and the failed rows only.
  - This is an action plugin; it writes on the controller, also in check mode.
author:
  - azure_ops.rollout maintainers (@azure-ops)
options:
  kind:
    description: V(rollout) for the outcome of a rollout, V(status) for the latest rolling upgrade of each scale set.
    type: str
    choices: [rollout, status]
    default: rollout
  title:
    description: Title of the report. Defaults to the title of O(rollout_kind) (C(VMSS extension rollout), C(VMSS OS
      image rollout), C(VMSS model rollout)) or C(VMSS fleet status).
    type: str
  rollout_kind:
    description: With O(kind=rollout), what the rollout upgraded (the batch step's C(kind)), which gives the default
      O(title).
    type: str
    choices: [extension, model, os]
    default: extension
  dest:
    description: Directory on the controller for the report files (created when missing).
    type: path
    required: true
  name:
    description: File name of the report, without extension.
    type: str
    required: true
  rings:
    description: Inventory groups of the rings, in order (the rows are grouped by ring).
    type: list
    elements: str
    default: []
  plan:
    description: The RV(azure_ops.rollout.fleet_preflight#module:plan) of the run. Without it every host of O(rings) is taken as part of the run.
    type: list
    elements: dict
  records:
    description: With O(kind=status), the RV(azure_ops.rollout.vmss_rollout_batch#module:results) of the status batch.
    type: dict
  run_started_at:
    description: When the run started (UTC, ISO 8601), usually RV(azure_ops.rollout.fleet_preflight#module:started_at).
    type: str
  max_fail_percentage:
    description: The ring plays' C(max_fail_percentage), to tell in the headline whether a ring's failures stopped the run.
    type: float
    default: 0
  fail_on:
    description: With O(kind=status), the statuses that fail the gate.
    type: list
    elements: str
    default: [Faulted, Error]
  gate:
    description: With O(kind=status), fail the task when a scale set's status is in O(fail_on) (or, with
      O(fail_on_drift=true), when it runs outdated extensions).
    type: bool
    default: true
  fail_on_drift:
    description: With O(kind=status), also fail the gate when a scale set has outdated extensions (from the status
      records' C(outdated), read with the batch step's C(drift) option).
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Writes the report in check mode too (it only describes what the run read or planned).
  diff_mode:
    support: none
    description: Nothing in Azure changes.
"""

EXAMPLES = r"""
- name: Write the fleet report
  azure_ops.rollout.fleet_report:
    dest: "{{ playbook_dir }}/reports"
    name: vmss_extension_rollout
    rings: [canary, ring1, ring2]
    plan: "{{ rollout_preflight.plan }}"
    run_started_at: "{{ rollout_preflight.started_at }}"
  run_once: true
  register: rollout_report

- name: Fail the scale sets that did not end well
  ansible.builtin.fail:
    msg: "{{ rollout_report.failures[inventory_hostname] }}"
  when: inventory_hostname in rollout_report.failures
"""

RETURN = r"""
headline:
  description: What happened, in one sentence.
  returned: always
  type: str
  sample: 'Stopped in ring ring1: api-r1-weu-02 Faulted (MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade). Not started: ring2.'
passed:
  description:
    - Whether the run or the gate passed (the report's C(passed); its headline is green only then). False while the
      report describes a run still at work (C(result=running)), and for an interrupted run.
  returned: always
  type: bool
  sample: false
result:
  description: C(passed), C(failed), C(running) or C(interrupted) (the report's C(result)).
  returned: always
  type: str
  sample: failed
summary:
  description: Number of scale sets per status.
  returned: always
  type: dict
  sample: {Completed: 6, Faulted: 1, NotStarted: 5}
failures:
  description:
    - With O(kind=rollout), host name to message for every scale set whose outcome is a failure.
    - With O(kind=status), host name to message for every scale set that fails the gate. The task runs once, so a
      failed gate (O(gate=true)) is reported on the host it ran on; to fail each scale set that fails the gate and no
      other, set O(gate=false) and fail the hosts of RV(failures) (as C(playbooks/fleet_status.yml) does).
  returned: always
  type: dict
  sample: {api-r1-weu-02: 'api-r1-weu-02 (rg-demo-westeurope): Faulted: MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade: ...'}
json:
  description: Path of the JSON report.
  returned: always
  type: str
html:
  description: Path of the HTML report.
  returned: always
  type: str
"""
