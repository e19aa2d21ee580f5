# -*- coding: utf-8 -*-
"""The shared documentation as ansible-doc shows it (one real ansible-doc run over every module)."""

import os
import re
import subprocess
import sys
from pathlib import Path

MODULES = sorted(path.stem for path in (Path(__file__).resolve().parents[3] / "plugins" / "modules").glob("*.py"))


def test_every_module_documents_and_the_resource_group_pattern_renders_whole():
    """ansible-doc ends C() at the first ')': the pattern is a V() with its ')' escaped, and must come out whole."""
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    out = subprocess.run([ansible_doc, "-t", "module"] + ["azure_ops.rollout." + name for name in MODULES],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    text = re.sub(r"\s+", " ", out)
    for name in MODULES:
        assert "azure_ops.rollout.%s" % name in text
    # The vmss doc fragment (vmss_extension_upgrade, vmss_rolling_upgrade_info) and aks_operation_info's own option.
    whole = text.count("matching `^[-\\w._()]+$', not ending with `.'")
    assert whole >= 3 and whole == text.count("matching `^["), text
