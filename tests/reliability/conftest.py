# -*- coding: utf-8 -*-
"""Reliability tests: markers. Fixtures (emulator, run_playbook) come from tests/conftest.py."""


def pytest_configure(config):
    config.addinivalue_line("markers", "soak: the fault-injection soak of the rollout playbook (SOAK_* env vars size it)")
