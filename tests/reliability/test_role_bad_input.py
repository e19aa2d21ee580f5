# -*- coding: utf-8 -*-
"""Every role variable with a wrong type, an empty, over-long or pattern-breaking value fails before any request.

One ansible-playbook run: each inventory host carries one bad value, so each host must fail on its own with a
message naming its variable and the rule, and the emulator must see no Azure request at all.
"""
from __future__ import annotations

import json
import sys

BAD = [
    ("vmss_extension_rollout_vmss_name", ""),
    ("vmss_extension_rollout_vmss_name", "x" * 65),
    ("vmss_extension_rollout_vmss_name", "bad name!"),
    ("vmss_extension_rollout_vmss_name", ["a", "list"]),
    ("vmss_extension_rollout_resource_group", ""),
    ("vmss_extension_rollout_resource_group", "r" * 91),
    ("vmss_extension_rollout_resource_group", "rg/../other"),
    ("vmss_extension_rollout_subscription_id", "not-a-guid"),
    ("vmss_extension_rollout_wait_timeout", -5),
    ("vmss_extension_rollout_wait_timeout", 0),
    ("vmss_extension_rollout_wait_timeout", 86401),
    ("vmss_extension_rollout_wait_timeout", "soon"),
    ("vmss_extension_rollout_poll_interval", 0),
    ("vmss_extension_rollout_poll_interval", 3601),
    ("vmss_extension_rollout_progress_interval", 0),
    ("vmss_extension_rollout_async_margin", 10),
    ("vmss_extension_rollout_skip_if_completed_within", -1),
    ("vmss_extension_rollout_throttle", 5000),
    ("vmss_extension_rollout_if_running", "maybe"),
    ("vmss_extension_rollout_if_running", ""),
    ("vmss_extension_rollout_on_timeout", "explode"),
    ("vmss_extension_rollout_run_dir", "relative/dir"),
    ("vmss_extension_rollout_run_dir", ""),
    ("vmss_extension_rollout_fail_on_error", "perhaps"),
]

PLAYBOOK = """
- name: Role with bad variables
  hosts: all
  gather_facts: false
  roles:
    - azure_ops.rollout.vmss_extension_rollout
"""


def test_every_bad_role_variable_is_refused_before_any_request(emulator, run_playbook, tmp_path):
    hosts = {}
    for index, (name, value) in enumerate(BAD):
        host_vars = {"vmss_name": "vmss-healthy", "resource_group": "rg-test",
                     "vmss_extension_rollout_run_dir": str(tmp_path / "progress")}
        host_vars[name] = value  # the one bad value of this host
        hosts["bad-%02d" % index] = host_vars
    inventory = tmp_path / "inventory.json"
    inventory.write_text(json.dumps({"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
                                             "hosts": hosts}}))
    playbook = tmp_path / "bad_vars.yml"
    playbook.write_text(PLAYBOOK)
    result = run_playbook(playbook, inventory=inventory, emulator=emulator, args=["-f", "10"], timeout=240)
    result.assert_failed()
    output = result.stdout + result.stderr
    for index, (name, value) in enumerate(BAD):
        host = "bad-%02d" % index
        lines = [line for line in output.splitlines() if "[%s]" % host in line and ("FAILED" in line or "fatal" in line)]
        assert lines, "%s (%s=%r) did not fail:\n%s" % (host, name, value, output[-3000:])
        assert any(name in line for line in lines), "%s: message does not name %s: %s" % (host, name, lines)
    assert [r for r in emulator.requests if r["kind"] in ("arm", "adu", "token")] == []
    recap = output.split("PLAY RECAP")[-1]
    assert recap.count("failed=1") == len(BAD), recap
