# -*- coding: utf-8 -*-
"""Fixture ``run_module``: a module's main() in-process against the emulator, on the simulated clock."""

import pytest

from tests import helpers
# Re-exported for test files written before tests.helpers; new tests import from tests.helpers.


@pytest.fixture
def run_module(emulator, monkeypatch):
    """``run_module(name, _check_mode=False, **args) -> (failed, result)``.

    Credentials come from the emulator's environment; the run is on ``helpers.SimulatedClock`` (its waits
    move the emulator's time instead of passing), so the fixture's ``clock.sleeps`` says how it waited.
    """
    for key, value in helpers.emulator_env(emulator).items():
        monkeypatch.setenv(key, value)
    clock = helpers.SimulatedClock(emulator).install(monkeypatch)

    def run(_module_name, _check_mode=False, **args):
        result = helpers.run_module(_module_name, args, check_mode=_check_mode)
        return bool(result.get("failed")), result

    run.clock = clock
    return run
