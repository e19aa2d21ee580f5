"""Pytest fixtures: ``emulator_server`` (session, scenario "default") and ``emulator`` (fresh state per test)."""

import pytest

from .app import Emulator


@pytest.fixture(scope="session")
def emulator_server():
    emu = Emulator(scenario="default").start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def emulator(emulator_server):  # pylint: disable=redefined-outer-name
    emulator_server.load("default")
    yield emulator_server
