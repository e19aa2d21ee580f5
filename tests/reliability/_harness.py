# -*- coding: utf-8 -*-
"""Helpers for the reliability tests: run a module's main() in-process, secrets-free env for the emulator."""
from __future__ import annotations

import contextlib
import io
import json
import os

SUB = "00000000-0000-0000-0000-000000000001"


@contextlib.contextmanager
def module_args(args):
    """Patch the module arguments: ansible-core >= 2.19 has patch_module_args; older cores read _ANSIBLE_ARGS."""
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core < 2.19
        from ansible.module_utils import basic

        old = basic._ANSIBLE_ARGS
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = old
        return
    with patch_module_args(args):
        yield


def run_module_inprocess(module, args):
    """Call ``module.main()`` with ``args``; return the JSON it printed (``failed`` set on fail_json)."""
    buf = io.StringIO()
    with module_args(args), contextlib.redirect_stdout(buf):
        try:
            module.main()
        except SystemExit:
            pass
    text = buf.getvalue().strip()
    assert text, "module printed nothing"
    return json.loads(text.splitlines()[-1])


def emulator_env(emu):
    """Environment pointing every credential source at the emulator, so a stray request is logged, never sent out."""
    env = dict(emu.env())
    # Managed identity (App Service shape) would also go to the emulator, not to 169.254.169.254.
    env["IDENTITY_ENDPOINT"] = emu.identity_endpoint
    env["IDENTITY_HEADER"] = emu.identity_header
    env["MSI_ENDPOINT"] = emu.identity_endpoint
    env["MSI_SECRET"] = emu.identity_header
    env.setdefault("AZURE_CONFIG_DIR", os.path.join(os.path.dirname(emu.ca_path), "no-az-cli"))
    return env


def issued_tokens(emu):
    """Every access token the emulator issued so far (private state, read under its lock)."""
    with emu._lock:  # pylint: disable=protected-access
        return list(emu._state.identity.tokens)  # pylint: disable=protected-access
