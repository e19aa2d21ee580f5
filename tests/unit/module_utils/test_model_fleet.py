# -*- coding: utf-8 -*-
"""The model kind (``_model.MODEL``) in the batch step (``_fleet``, kind=model) against the emulator's ``model``
scenario on a virtual clock: its records, the report's words and picture, the status gate's read, and the options the
kind refuses (``_os_upgrade.kind_problems``)."""

import threading

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import (_fleet, _model, _os_upgrade, _outcome, _report,
                                                                        _upgrade)
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient, RetryPolicy

from tests.helpers import SUB, EmulatorClock, api_requests, options_for

RG = "rg-model"
PARAMS = dict(((key, spec["default"]) for key, spec in _fleet.BATCH_SPEC.items() if "default" in spec),
              poll_interval=10, wait_timeout=3600, kind="model")


@pytest.fixture
def model_fleet(emulator):
    emulator.load("model")
    emulator.clear_requests()
    clock = EmulatorClock(emulator)
    return AzureClient(options_for(emulator), clock=clock, retry=RetryPolicy(max_attempts=4, backoff_base=0.5)), clock


def _target(name):
    return {"host": "h-" + name, "name": name, "resource_group": RG, "subscription_id": SUB, "ring": "r1"}


def _run(client, clock, names, check_mode=False, bound=30.0, **params):
    jobs = [_fleet.Job(_target(name), dict(PARAMS, **params), client, check_mode, kind=_os_upgrade.KINDS["model"])
            for name in names]
    lines, box = [], {}
    thread = threading.Thread(target=lambda: box.update(records=_fleet.run_rollout(
        jobs, clock, lines.extend, progress_interval=60, on_timeout=jobs[0].params["on_timeout"])), daemon=True)
    thread.start()
    thread.join(bound)
    assert not thread.is_alive(), "the batch did not end within %ss real time: %s" % (bound, lines)
    return dict((record["name"], record) for record in box["records"]), lines


def _posts(emulator):
    return api_requests(emulator, "POST", contains="/manualupgrade")


def test_a_batch_upgrades_in_batches_and_a_rerun_is_current_with_no_post(model_fleet, emulator):
    client, clock = model_fleet
    records, lines = _run(client, clock, ["vmss-manual"], batch_size="4")
    record = records["vmss-manual"]
    assert (record["status"], record["failed"], record["changed"]) == ("Completed", False, True)
    model = record["model"]
    assert [entry["instances"] for entry in model["batches"]] == [4, 4, 2]
    assert all(entry["verdict"] == "healthy" for entry in model["batches"])
    assert len(model["upgraded_instances"]) == 10 and model["remaining_instances"] == []
    assert _outcome.versions_text(record) == "3 batches, 10 instances upgraded, 0 left"
    assert len(_posts(emulator)) == 3
    # The progress lines name the batch in flight, and the last line of the scale set what it did.
    assert any("batch 2" in line for line in lines)
    assert any("3 batches, 10 instances upgraded, 0 left" in line for line in lines)
    # The report's picture: one bar per batch.
    assert _report.batches_svg(model, record["elapsed"]).count("<rect") == 1 + 3

    emulator.clear_requests()
    again = _run(client, clock, ["vmss-manual"], batch_size="4")[0]["vmss-manual"]
    assert (again["status"], again["changed"], again["model"]["batches"]) == ("Current", False, [])
    assert _posts(emulator) == []


def test_unhealthy_instances_stop_the_scale_set_and_leave_the_rest(model_fleet, emulator):
    client, clock = model_fleet
    records = _run(client, clock, ["vmss-manual-sick", "vmss-manual"], batch_size="2")[0]
    sick = records["vmss-manual-sick"]
    assert (sick["status"], sick["failed"]) == ("Failed", True)
    assert "Stopped the model rollout of vmss-manual-sick after batch" in sick["msg"]
    assert sick["model"]["stopped_by"]["rule"] in ("max_unhealthy_upgraded_percent", "max_unhealthy_percent")
    assert sick["model"]["remaining_instances"] and "9" in sick["model"]["remaining_instances"]
    assert any(entry["verdict"] == "unhealthy" for entry in sick["model"]["batches"])
    assert "not healthy: batch" in _outcome.versions_text(sick)
    # The other scale set of the batch is not held back by it.
    assert records["vmss-manual"]["status"] == "Completed"


def test_flexible_is_refused_and_check_mode_sends_nothing(model_fleet, emulator):
    client, clock = model_fleet
    records = _run(client, clock, ["vmss-flex-manual", "vmss-manual"], check_mode=True)[0]
    flex = records["vmss-flex-manual"]
    assert (flex["status"], flex["failed"]) == ("Refused", True) and "FlexibleNotSupported" in flex["msg"]
    assert records["vmss-manual"]["status"] == "WouldStart"
    assert records["vmss-manual"]["model"]["planned_batches"] == 5   # 20 % of 10 instances: batches of 2
    assert _posts(emulator) == []


def test_a_timeout_between_batches_is_timed_out_with_the_instances_left(model_fleet, emulator):
    client, clock = model_fleet
    record = _run(client, clock, ["vmss-manual"], batch_size="2", wait_timeout=300, on_timeout="leave")[0]["vmss-manual"]
    assert (record["status"], record["failed"], record["timed_out"]) == ("TimedOut", False, True)
    assert record["model"]["batches"] and record["model"]["remaining_instances"]
    assert len(record["model"]["upgraded_instances"]) + len(record["model"]["remaining_instances"]) == 10


def test_status_reads_the_instances_not_on_the_latest_model_without_any_post(model_fleet, emulator):
    client = model_fleet[0]
    names = ["vmss-manual", "vmss-automatic", "vmss-flex-manual"]
    found = _fleet.run_status([_target(name) for name in names], client, drift=True, kind="model")
    records = dict((record["name"], record) for record in found)
    manual = records["vmss-manual"]
    assert (manual["outdated"], manual["outdated_instance_count"], manual["drift_kind"]) == (True, 10, "model")
    assert manual["outdated_extensions"] == [{"name": "Model", "target_version": "latest",
                                              "instance_versions": {"older": 10}, "outdated_instances": 10,
                                              "unknown_instances": 0}]
    assert records["vmss-automatic"]["outdated"] is False
    # Flexible: nothing says which VMs are outdated: an Error, which fails the gate, never a pass.
    flex = records["vmss-flex-manual"]
    assert flex["status"] == "Error" and "FlexibleNotSupported" in flex["msg"]
    failing = _outcome.gate(list(records.values()), fail_on_drift=True)
    assert sorted(record["name"] for record in failing) == ["vmss-flex-manual", "vmss-manual"]
    assert "instances not on the latest model" in _report.status_headline(list(records.values()), ["Faulted", "Error"],
                                                                          fail_on_drift=True)
    assert _posts(emulator) == [] and api_requests(emulator, "POST") == []


@pytest.mark.parametrize("params, words", [
    ({"kind": "model", "extensions": ["HealthExtension"]}, "extensions is not for kind=model"),
    ({"kind": "model", "only_if_outdated": False}, "only_if_outdated is not for kind=model"),
    ({"kind": "model", "if_running": "fail"}, "if_running is not for kind=model"),
    ({"kind": "model", "cancel_attached": True}, "cancel_attached is not for kind=model"),
    ({"kind": "model", "on_timeout": "cancel"}, "on_timeout=cancel is not for kind=model"),
    ({"kind": "extension", "batch_size": "2"}, "batch_size is for kind=model"),
    ({"kind": "os", "health_timeout": 60}, "health_timeout is for kind=model"),
    ({"kind": "extension", "order": "name"}, "order is for kind=model"),
    ({"kind": "extension", "approve_deferred": True}, "approve_deferred is for kind=os"),
    ({"kind": "model", "approve_deferred": True}, "approve_deferred is for kind=os"),
    ({"kind": "os", "approve_deferred": True, "api_version": "2023-07-01"}, "approve_deferred needs api_version"),
])
def test_options_of_one_kind_are_refused_with_another(params, words):
    problems = _os_upgrade.kind_problems(dict(PARAMS, **params))
    assert len(problems) == 1 and problems[0].startswith(words)


def test_defaults_are_refused_by_no_kind():
    for kind in _os_upgrade.KINDS:
        assert _os_upgrade.kind_problems(dict(PARAMS, kind=kind)) == []
    # The role's defaults (if_faulted=fail, skip_if_completed_within=3600) are rolling-upgrade decisions a model
    # rollout does not read: not refused, so the role runs kind=model with its defaults.
    assert _os_upgrade.kind_problems(dict(PARAMS, if_faulted="fail", skip_if_completed_within=3600)) == []


def test_model_options_are_batch_settings():
    assert set(_model.MODEL_SPEC) <= set(_fleet.BATCH_SETTINGS) and "kind" in _fleet.BATCH_SETTINGS
    assert set(_upgrade.DECISION_SPEC) <= set(_fleet.BATCH_SPEC)


def test_a_batch_is_charged_to_the_scale_sets_update_budget():
    """Each batch's manualupgrade is an Update of its scale set: the pacer waits for that budget's token, and the
    emulator charges that bucket (THROTTLING.md section 2)."""
    from ansible_collections.azure_ops.rollout.plugins.module_utils import _pacing
    from tests.emulator.throttling import bucket_category

    path = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/vmss-manual" % (SUB, RG)
    categories = _pacing.classify("POST", "https://management.azure.com%s/manualupgrade?api-version=x" % path)[2]
    assert ("Update", path.lower()) in [(category, (resource or "").lower()) for category, resource in categories]
    assert bucket_category("POST", path + "/manualupgrade") == ("Update", path.lower())


def test_the_report_rewritten_while_the_batch_watches_shows_the_batches_so_far(model_fleet, emulator):
    client, clock = model_fleet
    jobs = [_fleet.Job(_target("vmss-manual"), dict(PARAMS, batch_size="2", pause_between_batches=120), client,
                       kind=_os_upgrade.KINDS["model"])]
    snapshots = []
    thread = threading.Thread(target=lambda: _fleet.run_rollout(jobs, clock, lambda lines: None, progress_interval=30,
                                                                on_block=snapshots.extend), daemon=True)
    thread.start()
    thread.join(30.0)
    assert not thread.is_alive()
    running = [record for record in snapshots if record["status"] == "Running" and (record["model"] or {}).get("batches")]
    assert running, snapshots
    # In flight: a batch goes on in Azure; between batches (the pause), nothing does.
    in_flight = [record for record in running if record["left_running"]]
    between = [record for record in running if not record["left_running"]]
    assert in_flight and between
    assert all("between batches" in record["msg"] for record in between)
    stopped = _fleet.snapshot(jobs, clock, "b", interrupted=True)[0]
    assert stopped["status"] == "Completed"   # done: its outcome, not Interrupted


def test_an_interrupted_model_rollout_between_batches_says_nothing_runs_in_azure():
    record = _outcome.unfinished_record(_target("vmss-manual"), {"action": "start", "upgrade_started": True,
                                                                 "batches": [{"batch": 1, "instances": ["0"],
                                                                              "started_at": 0, "ended_at": 5,
                                                                              "verdict": "healthy"}],
                                                                 "left_running": False}, interrupted=True)
    assert (record["status"], record["left_running"]) == ("Interrupted", False)
    assert "between batches, nothing runs in Azure" in record["msg"]
    rows = [dict(record, ring="r1")]
    text = _report.headline(rows, [{"ring": "r1", "hosts": ["h-vmss-manual"], "in_run": ["h-vmss-manual"],
                                    "state": "run"}])
    assert "may be running" not in text
