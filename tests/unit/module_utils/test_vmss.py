# -*- coding: utf-8 -*-
"""_vmss: the scale set list and resource ids."""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _vmss

from .conftest import SUB


def test_id_scope_of_a_resource_id():
    assert _vmss.id_scope("/subscriptions/%s/resourceGroups/rg-Web/providers/Microsoft.Compute/"
                          "virtualMachineScaleSets/web-01" % SUB) == (SUB, "rg-Web")
    assert _vmss.id_scope("/SUBSCRIPTIONS/s/RESOURCEGROUPS/g/providers/x") == ("s", "g")
    assert _vmss.id_scope(None) == (None, None)
    assert _vmss.id_scope("/providers/Microsoft.Compute") == (None, None)


def test_scale_sets_path_quotes_its_segments():
    assert _vmss.scale_sets_path(SUB) == "/subscriptions/%s/providers/Microsoft.Compute/virtualMachineScaleSets" % SUB
    assert _vmss.scale_sets_path(SUB, "rg (web)") == (
        "/subscriptions/%s/resourceGroups/rg%%20(web)/providers/Microsoft.Compute/virtualMachineScaleSets" % SUB)


def test_list_scale_sets_of_a_subscription_and_of_a_resource_group_across_pages(emulator, make_client):
    emulator.load({"name": "list", "page_size": 2, "subscriptions": [SUB],
                   "scale_sets": [{"name": "a-%d" % i, "resource_group": "rg-a"} for i in range(3)]
                   + [{"name": "b-0", "resource_group": "rg-b"}]})
    client = make_client()
    everything = sorted(item["name"] for item in _vmss.list_scale_sets(client, SUB))
    assert everything == ["a-0", "a-1", "a-2", "b-0"]
    in_group = [_vmss.id_scope(item["id"])[1] for item in _vmss.list_scale_sets(client, SUB, "rg-a")]
    assert in_group == ["rg-a"] * 3
    lists = [r for r in emulator.requests if r["path"].endswith("/virtualMachineScaleSets")]
    assert len(lists) == 2 + 2  # two pages each
