#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: fleet_preflight
short_description: Check the rings, the settings and the inventory of a fleet rollout, and plan its batches, before any request
version_added: 1.0.0
description:
  - Fails, before anything is asked of Azure, with one line per problem, when no inventory group of O(rings) has a host
    (the inventory source failed or matched nothing), when any inventory source of the run could not be parsed (each
    one in C(ansible_inventory_sources), files in an inventory directory included, as
    C(ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED) would), when a ring has no host in the inventory (a tag typo, an
    C(exclude_tags)) unless O(allow_empty_rings=true), when a host is in two rings, when O(rings) names a ring twice or
    a ring that is no group name, when a scale set of O(scale_sets_group) is in no ring (unless
    O(unringed=notrun)), when O(serial) or O(max_fail_percentage) is not valid, or when O(fail_on_drift=true) with
    O(drift=false) (a gate that would pass on drift it never read).
  - With O(check_variables=true) it takes the run-wide settings (C(rollout_rings), C(rollout_serial),
    C(rollout_max_fail_percentage), C(rollout_allow_empty_rings), C(rollout_unringed), C(rollout_scale_sets_group),
    C(rollout_report_dir), C(rollout_report_name)) from the value every scale set of O(scale_sets_group) sees (extra
    vars, the all group or the scale set group's vars; they replace the options), and fails when scale sets see
    different values (set on one ring group, one run could not honour both), and when a variable of the role
    C(azure_ops.rollout.vmss_extension_rollout) has a wrong type or choice (the role's argument spec; one line per problem naming its scale sets, not one per
    host). It warns about C(vmss_extension_rollout_*) variables the role does not have (a misspelled name).
  - A ring whose hosts are all left out by C(--limit) is a deliberate choice, planned as C(limited out); the reports list
    its scale sets as C(NotRun).
  - Returns the plan the ring play runs, RV(rings) (its host pattern, in order), RV(serial) (its batch sizes, each
    ring's hosts in this run cut by O(serial), so no batch spans two rings) and RV(max_fail_percentage).
  - Run it once (C(run_once=true)) in a play whose hosts are C(localhost) and every scale set, and register the result.
  - This is an action plugin; it runs on the controller and sends no request.
author:
  - azure_ops.rollout maintainers (@azure-ops)
options:
  rings:
    description: Inventory groups rolled out in this order, one ring each (any number).
    type: list
    elements: str
    default: [canary, ring1, ring2]
  allow_empty_rings:
    description: Roll out even when a ring has no host in the inventory.
    type: bool
    default: false
  serial:
    description: Scale sets per batch within a ring, a number (V(0) for the whole ring) or a percentage of the ring.
    type: raw
    default: 100%
  max_fail_percentage:
    description: The failed share of a batch (0 to 100) above which the run stops; returned for the play's keyword.
    type: raw
    default: 0
  unringed:
    description:
      - What a scale set of O(scale_sets_group) in no ring does. V(fail) stops the run naming it; V(notrun) plans it
        (ring V(""), state C(unringed)) so that the report lists it as C(NotRun).
    type: str
    choices: [fail, notrun]
    default: fail
  scale_sets_group:
    description: The inventory group of every scale set (the inventory plugin's C(groups)); no check without it.
    type: str
    default: vmss
  report_dir:
    description: The report directory, returned as an absolute path (a relative one is under the working directory).
    type: path
    default: rollout-reports
  report_name:
    description: The report's file name, without extension.
    type: str
    default: vmss_extension_rollout
  check_variables:
    description: Also check the run-wide settings and the role's variables of every host (see above).
    type: bool
    default: false
  write_report:
    description:
      - When the checks fail, write the rollout report of the refused run (O(report_dir)/O(report_name)C(.json) and
        C(.html), as M(azure_ops.rollout.fleet_report) does) before failing - the problems in its headline and in
        C(problems), every scale set C(NotStarted) or C(NotRun), C(result=failed) - and name it in the message.
    type: bool
    default: false
  drift:
    description: Whether the status gate reads the extension drift.
    type: bool
    default: true
  fail_on_drift:
    description: Whether the status gate fails on outdated extensions; V(true) with O(drift=false) is refused.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    description: Runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes.
"""

EXAMPLES = r"""
- name: Check the rings before any request
  azure_ops.rollout.fleet_preflight:
    rings: [canary, ring1, ring2]
  run_once: true
  register: rollout_preflight
"""

RETURN = r"""
plan:
  description: One entry per ring, in order.
  returned: success
  type: list
  elements: dict
  contains:
    ring:
      description: The ring (inventory group).
      type: str
      returned: always
    hosts:
      description: Its hosts in the whole inventory.
      type: list
      elements: str
      returned: always
    in_run:
      description: Its hosts in this run (after C(--limit)).
      type: list
      elements: str
      returned: always
    state:
      description: C(run), C(limited out) (every host left out by C(--limit)), C(empty) or C(unringed).
      type: str
      returned: always
    note:
      description: Why the entry is there (the C(unringed) entry only).
      type: str
      returned: when state is unringed
rings:
  description: The rings with scale sets in this run, in order (the ring play's hosts).
  returned: success
  type: list
  elements: str
serial:
  description: The ring play's batch sizes, ring after ring.
  returned: success
  type: list
  elements: int
  sample: [2, 2, 2, 6]
max_fail_percentage:
  description: O(max_fail_percentage) as a number.
  returned: success
  type: float
report_dir:
  description: O(report_dir) as an absolute path.
  returned: success
  type: str
report_name:
  description: O(report_name).
  returned: success
  type: str
unringed:
  description: The scale sets in no ring, planned as C(NotRun) (O(unringed=notrun)).
  returned: success
  type: list
  elements: str
started_at:
  description: When the run started (UTC, ISO 8601 with the zone).
  returned: success
  type: str
  sample: '2026-11-30T00:40:12+00:00'
msg:
  description: The plan in one line.
  returned: success
  type: str
  sample: 'ring canary: 2 scale sets; ring ring1: 4 scale sets; ring ring2: 6 scale sets'
"""
