# -*- coding: utf-8 -*-
"""A module host whose Python lacks ``requests``: the task fails with a message naming that interpreter and the
package to install, before any request and without a traceback (a real ansible-playbook run, the module executed
by a bare virtual environment's Python)."""
from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.helpers import api_requests, emulator_env

PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Read the latest rolling upgrade
      azure_ops.rollout.vmss_rolling_upgrade_info:
        resource_group: rg-test
        name: vmss-done
"""


def test_a_python_without_requests_is_named_with_the_package_to_install(emulator, run_playbook, tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True, timeout=60)
    python = str(bare / "bin" / "python")
    assert subprocess.run([python, "-c", "import requests"], capture_output=True, check=False).returncode != 0
    (tmp_path / "inventory.ini").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % python)
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    env = dict(emulator_env(emulator), ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    result = run_playbook(tmp_path / "play.yml", inventory=tmp_path / "inventory.ini", env=env)
    result.assert_failed()
    shown = re.search(r"FAILED! => (\{.*?\})\s*\n\s*PLAY RECAP", result.stdout, re.S)
    assert shown, result.describe()
    failure = json.loads(shown.group(1))
    assert failure["error"]["code"] == "MissingDependency", failure
    assert "the Python package requests is not installed for %s" % python in failure["msg"]
    assert "%s -m pip install requests" % python in failure["msg"]
    assert "Traceback" not in result.stdout + result.stderr
    assert api_requests(emulator) == [] and not any(r["kind"] == "token" for r in emulator.requests)
