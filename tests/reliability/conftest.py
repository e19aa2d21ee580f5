# -*- coding: utf-8 -*-
"""Reliability tests: markers and the emu_env fixture. Fixtures emulator and run_playbook come from tests/conftest.py."""

import pytest

from tests.helpers import emulator_env


def pytest_configure(config):
    config.addinivalue_line("markers", "soak: the fault-injection soak of the rollout playbook (SOAK_* env vars size it)")


@pytest.fixture
def emu_env(emulator, monkeypatch):
    """The emulator, with its (secret-free) environment exported for in-process module runs and an empty log."""
    for key, value in emulator_env(emulator).items():
        monkeypatch.setenv(key, value)
    emulator.clear_requests()
    return emulator
