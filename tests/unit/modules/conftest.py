# -*- coding: utf-8 -*-
"""Run a module's main() in-process against the emulator and return its result."""

import importlib
import json

import pytest

SUB = "00000000-0000-0000-0000-000000000001"


class ModuleExit(Exception):
    pass


def _patched(args):
    try:
        from ansible.module_utils.testing import patch_module_args
        return patch_module_args(args)
    except ImportError:  # ansible-core before 2.19
        from unittest import mock
        from ansible.module_utils import basic
        from ansible.module_utils.common.text.converters import to_bytes
        return mock.patch.object(basic, "_ANSIBLE_ARGS", to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args})))


@pytest.fixture
def run_module(emulator, capsys, monkeypatch):
    """run_module(name, **args) -> (failed, result). Auth comes from the emulator's environment."""
    for key, value in emulator.env().items():
        monkeypatch.setenv(key, value)

    def run(_module_name, _check_mode=False, **args):
        module = importlib.import_module("ansible_collections.azure_ops.rollout.plugins.modules." + _module_name)
        if _check_mode:
            args["_ansible_check_mode"] = True
        capsys.readouterr()
        with _patched(args):
            with pytest.raises(SystemExit):
                module.main()
        result = json.loads(capsys.readouterr().out)
        return bool(result.get("failed")), result
    return run


def api_requests(emulator, method=None):
    return [r for r in emulator.requests if r["kind"] in ("arm", "adu") and (method is None or r["method"] == method)]
