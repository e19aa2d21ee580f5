#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vmss_rollout_check
short_description: Mark one scale set changed or failed as its record of the batch step says
version_added: 1.0.0
description:
  - The per-host part of a rollout batch, after M(azure_ops.rollout.vmss_rollout_batch) ran once for the batch with
    C(register). Ansible gives a C(run_once) task's registered result to every host of the batch; each host reads its
    own record there (C(results[inventory_hostname])) and is C(changed) when this run started its scale set's upgrade
    (in check mode, would start it), and fails with the record's one-line C(msg) when the outcome is a failure
    (C(Faulted), C(Cancelled), C(Refused), C(Failed), C(Error), C(Interrupted), C(TimedOut) unless the batch ran with
    C(on_timeout=leave)). So the play's recap counts each scale set, and C(serial) and C(max_fail_percentage) stop the
    rollout as usual.
  - A host without a record in that result fails (nothing says how its scale set ended).
  - The role P(azure_ops.rollout.vmss_extension_rollout#role) runs it as its only per-host task; use the role unless you
    build your own play.
  - This is an action plugin; it runs on the controller, sends no request and starts no module.
author:
  - azure_ops.rollout maintainers (@azure-ops)
options:
  batch_var:
    description:
      - Name of the variable the batch step's result was registered in (C(register) of the
        M(azure_ops.rollout.vmss_rollout_batch) task). The record is read from it by name, not passed as an option, so
        no worker copies the batch's records.
    type: str
    required: true
  fail_on_error:
    description: Fail the host when its record's C(failed) is true. With V(false) the host is only marked changed or ok.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: Reads the record of the check-mode batch step (C(WouldStart) is changed, nothing fails for it).
  diff_mode:
    support: none
    description: The batch step prints the diffs.
"""

EXAMPLES = r"""
- name: Upgrade the extensions of the scale sets of this batch
  azure_ops.rollout.vmss_rollout_batch:
    hosts: "{{ ansible_play_batch }}"
    ring: canary
  run_once: true
  register: rollout_batch

- name: Fail the scale sets whose upgrade did not end well
  azure_ops.rollout.vmss_rollout_check:
    batch_var: rollout_batch
"""

RETURN = r"""
changed:
  description: Whether this run started the scale set's upgrade (the record's C(changed)).
  returned: always
  type: bool
  sample: true
msg:
  description: When the host fails, the record's message (scale set, resource group, status, Azure's code and message).
  returned: failed
  type: str
  sample: 'web-r1-eus-02 (rg-web): Faulted: MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade: ...'
"""
