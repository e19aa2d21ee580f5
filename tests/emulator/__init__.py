"""Local Azure emulator for the azure_ops.rollout collection tests. See README.md."""

from .app import Emulator
from .scenarios import fleet, load_scenario

__all__ = ["Emulator", "fleet", "load_scenario"]
