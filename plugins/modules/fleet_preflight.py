#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: fleet_preflight
short_description: Check the rings of a fleet rollout against the inventory, before any request
version_added: 1.1.0
description:
  - Fails, before anything is asked of Azure, when no inventory group of O(rings) has a host (the inventory source failed
    or matched nothing), when a ring has no host in the inventory (a tag typo, an C(exclude_tags)) unless
    O(allow_empty_rings=true), when a host is in two rings, when O(rings) names a ring twice (it would be upgraded
    twice), or when O(rings) names more rings than the playbook has ring plays (O(max_rings)).
  - A ring whose hosts are all left out by C(--limit) is a deliberate choice, planned as C(limited out); the reports list
    its scale sets as C(NotRun).
  - Run it once (C(run_once=true)) in a play whose hosts are C(localhost) and every ring, and register the result; the
    ring plays pass RV(plan) and RV(started_at) to M(azure_ops.rollout.fleet_report).
  - This is an action plugin; it runs on the controller and sends no request.
author:
  - azure_ops.rollout maintainers (@azure-ops)
options:
  rings:
    description: Inventory groups rolled out in this order, one ring each.
    type: list
    elements: str
    required: true
  allow_empty_rings:
    description: Roll out even when a ring has no host in the inventory.
    type: bool
    default: false
  max_rings:
    description: The number of ring plays of the playbook; more rings in O(rings) is an error.
    type: int
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
      description: C(run), C(limited out) (every host left out by C(--limit)) or C(empty).
      type: str
      returned: always
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
