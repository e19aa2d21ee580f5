# -*- coding: utf-8 -*-
"""The OS kind's pure rules (which outdated instances move, the diff, the refusal texts) and the kind on the engine
against the emulator (a batch of OS rollouts over a current fleet: no POST)."""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _drift, _engine, _os_upgrade, _upgrade
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError

from tests.helpers import SUB, api_requests

UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}


def _record(outdated=(), protected=(), counts=None, count=5):
    return {"outdated_instances": list(outdated), "protected_instances": list(protected), "instance_count": count,
            "instance_versions": counts or {"1.0.9": len(outdated), "1.0.10": count - len(outdated)},
            "target_version": "1.0.10", "image_kind": "platform", "image_reference": dict(UBUNTU, version="latest")}


# -- pure --------------------------------------------------------------------------
def test_movable_leaves_protected_instances_out():
    assert _os_upgrade.movable(_record(["0", "3"], ["3", "4"])) == ["0"]
    assert _os_upgrade.movable(_record(["0"], ["0"])) == []
    assert not _os_upgrade.every_instance_protected(_record(["0"], ["0"]))
    assert _os_upgrade.every_instance_protected(_record(["0"], ["0", "1", "2", "3", "4"]))
    assert not _os_upgrade.every_instance_protected(_record(count=0))


def test_diff_sorts_versions_as_numbers_and_counts_what_moves():
    found = _os_upgrade.diff(_record(["0", "1"], ["1"], counts={"1.0.10": 3, "1.0.9": 2}))
    assert found["before"] == "image Canonical:ubuntu-24_04-lts:server: 1.0.9 on 2, 1.0.10 on 3\n"
    assert found["after"] == ("image Canonical:ubuntu-24_04-lts:server: 1.0.10 on 4 (1 outdated instance upgraded, "
                              "1 protected left as they are)\n")


def test_gallery_label_names_gallery_and_definition():
    record = dict(_record(), image_kind="gallery",
                  image_reference={"id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/galProd/"
                                         "images/web"})
    assert _os_upgrade.image_label(record) == "gallery image galProd/web"


def test_a_refused_start_keeps_azures_code_and_message_and_adds_what_to_change():
    error = AzureError("Rolling upgrade batch cannot start now.", status=409,
                       code="RollingUpgradeBatchStartTimeNotWithinScheduledWindows", request_id="r1")
    told = _os_upgrade.refused("web", error)
    assert (told.status, told.code, told.request_id) == (409, error.code, "r1")
    assert told.message.startswith("Rolling upgrade batch cannot start now. (refused the OS rolling upgrade of web: ")
    assert "maintenance window" in told.message
    other = _os_upgrade.refused("web", AzureError("no", status=409, code="OperationNotAllowed"))
    assert "imageReference.version to be latest" in other.message


def test_refusal_text_names_each_code():
    text = _os_upgrade.refusal_text("web", [{"code": "OperationNotAllowed", "message": "a"},
                                            {"code": "OperationNotAllowed", "message": "b"}])
    assert text == ("Azure would refuse an OS rolling upgrade of web, so none was started: OperationNotAllowed: a; "
                    "OperationNotAllowed: b.")


# -- the kind on the engine, against the emulator -----------------------------------
def test_a_batch_over_a_current_fleet_sends_no_post_and_reads_each_catalog_once(emulator, make_client):
    sets = [{"name": "os-%d" % i, "resource_group": "rg-test", "capacity": 3, "image": dict(UBUNTU),
             "installed_image": "latest"} for i in range(4)]
    emulator.load({"scale_sets": sets})
    client, cache = make_client(), _drift.CatalogCache()
    params = dict((key, spec.get("default")) for key, spec in _upgrade.DECISION_SPEC.items())
    rollouts = [_engine.Rollout({"subscription_id": SUB, "resource_group": "rg-test", "name": entry["name"]}, params,
                                client, _os_upgrade.OS, catalog_cache=cache) for entry in sets]
    _engine.Scheduler(client.clock, workers=2).run(rollouts)
    assert [rollout.outcome.result["action"] for rollout in rollouts] == ["current"] * 4
    assert not any(rollout.outcome.failed for rollout in rollouts)
    assert api_requests(emulator, "POST") == []
    assert len(api_requests(emulator, contains="/artifacttypes/vmimage/")) == 1 and cache.reads == 1
    assert len(api_requests(emulator)) == 1 + 4 * 3   # per scale set: latest, model, one VM page
