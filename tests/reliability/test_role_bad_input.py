# -*- coding: utf-8 -*-
"""Every role variable with a wrong type, an empty, over-long or pattern-breaking value fails before any request.

One ansible-playbook run over one batch: a first host with good values, then one host per bad value. Types and
choices are refused by the role's argument_specs, per host; a scale set's own host variables (vmss_name,
resource_group, subscription_id) by the batch step, per host; a batch setting (timeouts, policies) a host sets to
another value than its batch by the batch step too. Each bad host must fail with a message naming its variable, and
the emulator must see no request for any of them.
"""
from __future__ import annotations

import json
import sys

BAD = [
    ("vmss_name", ""),
    ("vmss_name", "x" * 65),
    ("vmss_name", "bad name!"),
    ("resource_group", "r" * 91),
    ("resource_group", "rg/../other"),
    ("resource_group", "rg."),
    ("subscription_id", "not-a-guid"),
    ("vmss_extension_rollout_wait_timeout", -5),
    ("vmss_extension_rollout_wait_timeout", 86401),
    ("vmss_extension_rollout_wait_timeout", "soon"),
    ("vmss_extension_rollout_poll_interval", 0),
    ("vmss_extension_rollout_progress_interval", 0),
    ("vmss_extension_rollout_skip_if_completed_within", -1),
    ("vmss_extension_rollout_max_concurrent_starts", 5000),
    ("vmss_extension_rollout_if_running", "maybe"),
    ("vmss_extension_rollout_if_running", ""),
    ("vmss_extension_rollout_if_faulted", "retry"),
    ("vmss_extension_rollout_on_timeout", "explode"),
    ("vmss_extension_rollout_cancel_attached", "perhaps"),
    ("vmss_extension_rollout_fail_on_error", "perhaps"),
]

PLAYBOOK = """
- name: Role with bad variables
  hosts: all
  gather_facts: false
  roles:
    - role: azure_ops.rollout.vmss_extension_rollout
      vars:
        vmss_extension_rollout_poll_interval: 1
        vmss_extension_rollout_progress_interval: 1
"""


def test_every_bad_role_variable_is_refused_before_any_request(emulator, run_playbook, tmp_path):
    hosts = {"aaa-good": {"vmss_name": "vmss-healthy", "resource_group": "rg-test"}}
    for index, (name, value) in enumerate(BAD):
        host_vars = {"vmss_name": "vmss-bad-%02d" % index, "resource_group": "rg-test"}
        host_vars[name] = value  # the one bad value of this host
        hosts["bad-%02d" % index] = host_vars
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                                             "hosts": hosts}}))
    playbook = tmp_path / "bad_vars.yml"
    playbook.write_text(PLAYBOOK)
    emulator.set_time_scale(120)
    result = run_playbook(playbook, inventory=inventory, emulator=emulator, args=["-f", "10"], timeout=240)
    result.assert_failed()
    output = result.stdout + result.stderr
    for index, (name, value) in enumerate(BAD):
        host = "bad-%02d" % index
        lines = [line for line in output.splitlines() if "[%s]" % host in line and ("FAILED" in line or "fatal" in line)]
        assert lines, "%s (%s=%r) did not fail:\n%s" % (host, name, value, output[-3000:])
        assert any(name in line for line in lines), "%s: message does not name %s: %s" % (host, name, lines)
    # The good scale set was upgraded; nothing at all was asked about the bad ones.
    assert [r for r in emulator.requests if r["kind"] in ("arm", "adu") and "/vmss-bad-" in r["path"]] == []
    assert [r for r in emulator.requests if r["method"] == "POST" and r["kind"] == "arm"]
    recap = output.split("PLAY RECAP")[-1]
    assert recap.count("failed=1") == len(BAD), recap
