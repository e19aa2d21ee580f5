# -*- coding: utf-8 -*-
"""_aks: operation paths (pure), one read and a wait against the emulator."""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _aks
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import Deadline

from tests.helpers import AKS_OPERATIONS, RG, SUB, SimulatedClock


def test_operations_path_quotes_every_name():
    base = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ContainerService/managedClusters/aks-test" % (SUB, RG)
    assert _aks.operations_path(SUB, RG, "aks-test") == base + "/operations"
    assert _aks.operations_path(SUB, RG, "aks-test", "pool1", "a/b") == base + "/agentPools/pool1/operations/a%2Fb"


def test_get_operation_is_the_operation_or_none(emulator, make_client):
    client = make_client()
    found = _aks.get_operation(client, _aks.operations_path(SUB, RG, "aks-test", operation_id=AKS_OPERATIONS[2]))
    assert found["name"] == AKS_OPERATIONS[2] and found["status"] == "InProgress"
    assert _aks.get_operation(client, _aks.operations_path(SUB, RG, "aks-test", operation_id="nope")) is None


def test_wait_follows_the_operation_on_the_simulated_clock(emulator, make_client):
    clock = SimulatedClock(emulator)
    client = make_client(clock_=clock)
    outcome = _aks.wait_operation(client, _aks.operations_path(SUB, RG, "aks-test", operation_id=AKS_OPERATIONS[0]),
                                  Deadline(600, clock), interval=15)
    # It succeeds 60 s after the scenario starts: 4 or 5 reads 15 s apart (each sleep is 15 s less the read's own
    # time: the polls keep to their schedule), no real waiting.
    assert outcome.done and outcome.value["status"] == "Succeeded"
    assert outcome.timeline[0]["status"] == "InProgress" and outcome.timeline[-1]["status"] == "Succeeded"
    assert len(clock.sleeps) in (3, 4) and all(14.0 < sleep <= 15 for sleep in clock.sleeps)
