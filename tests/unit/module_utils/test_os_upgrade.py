# -*- coding: utf-8 -*-
"""The OS kind's pure rules (which outdated instances move, the diff, the refusal texts) and the kind on the engine
against the emulator (a batch of OS rollouts over a current fleet: no POST)."""

from ansible_collections.azure_ops.rollout.plugins.module_utils import (_drift, _engine, _fleet, _os_upgrade, _outcome, _report,
                                                                        _upgrade)
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient, RetryPolicy
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError

from tests.helpers import SUB, EmulatorClock, api_requests, options_for

UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
NEWEST = "24.04.202501140"
OLD = "24.04.202409120"


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


# -- the kind in the batch step (_fleet) and the status reads -------------------------
def _fleet_of(emulator, *specs):
    emulator.load({"scale_sets": [dict({"resource_group": "rg-test", "capacity": 4, "batch_seconds": 30,
                                        "image": dict(UBUNTU), "installed_image": "latest"}, **spec) for spec in specs]})
    clock = EmulatorClock(emulator)
    return AzureClient(options_for(emulator), clock=clock, retry=RetryPolicy(max_attempts=4, backoff_base=0.5)), clock


def _target(name):
    return {"host": "h-" + name, "name": name, "resource_group": "rg-test", "subscription_id": SUB, "ring": "r1"}


def test_the_batch_step_rolls_the_os_image_out_only_where_an_instance_is_behind(emulator):
    client, clock = _fleet_of(emulator, {"name": "os-current"}, {"name": "os-behind", "installed_image": {"default": "latest", "2": OLD}},
                              {"name": "os-pinned", "image": dict(UBUNTU, version=OLD), "installed_image": OLD})
    params = dict(((key, spec.get("default")) for key, spec in _upgrade.DECISION_SPEC.items()), poll_interval=10,
                  wait_timeout=600)
    jobs = [_fleet.Job(_target(name), params, client, kind=_os_upgrade.KINDS["os"])
            for name in ("os-current", "os-behind", "os-pinned")]
    records = dict((record["name"], record) for record in _fleet.run_rollout(jobs, clock, lambda lines: None))
    assert records["os-current"]["status"] == "Current" and not records["os-current"]["changed"]
    assert records["os-current"]["versions"] == [{"name": "OS image", "from": {NEWEST: 4}, "to": NEWEST, "outdated": 0}]
    behind = records["os-behind"]
    assert behind["status"] == "Completed" and behind["changed"] and behind["succeeded"] == 1
    assert behind["versions"] == [{"name": "OS image", "from": {OLD: 1, NEWEST: 3}, "to": NEWEST, "outdated": 1}]
    pinned = records["os-pinned"]
    assert pinned["status"] == "Refused" and pinned["failed"] and "set imageReference.version to latest" in pinned["msg"]
    starts = api_requests(emulator, "POST")
    assert len(starts) == 1 and starts[0]["path"].endswith("/os-behind/osRollingUpgrade")
    assert len(api_requests(emulator, contains="/artifacttypes/vmimage/")) == 1   # one catalog for the batch


def test_status_reads_the_os_drift_for_the_gate(emulator):
    client = _fleet_of(emulator, {"name": "os-current"}, {"name": "os-behind", "installed_image": {"default": "latest", "2": OLD}})[0]
    records = _fleet.run_status([_target("os-current"), _target("os-behind")], client, drift=True, kind="os")
    assert [record["outdated"] for record in records] == [False, True]
    assert [record["drift_kind"] for record in records] == ["os", "os"]
    assert records[1]["outdated_extensions"] == [{"name": "OS image", "target_version": NEWEST,
                                                  "instance_versions": {OLD: 1, NEWEST: 3}, "outdated_instances": 1,
                                                  "unknown_instances": 0}]
    assert [record["host"] for record in _outcome.gate(records, fail_on_drift=True)] == ["h-os-behind"]
    assert "an outdated OS image" in _report.status_headline(records, ["Faulted"], fail_on_drift=True)
    assert not [r for r in api_requests(emulator) if "osUpgradeHistory" in r["path"]]


def test_kind_os_refuses_extensions():
    assert _os_upgrade.kind_problems({"kind": "os", "extensions": ["HealthExtension"]})[0].startswith(
        "extensions is for kind=extension")
    assert _os_upgrade.kind_problems({"kind": "os", "extensions": None}) == []
    assert _os_upgrade.kind_problems({"kind": "extension", "extensions": ["HealthExtension"]}) == []
