# -*- coding: utf-8 -*-
"""The model rollout in rings (vmss_extension_rollout_kind=model: manualupgrade in batches with health gates) and its
status gate (fleet_kind=model), by ansible-playbook against the emulator's ``model`` scenario."""
from __future__ import annotations

from tests.emulator.scenarios import load_scenario
from tests.helpers import PLAYBOOKS, posts, read_json, rows_by_name, write_inventory

MODEL_VARS = {"vmss_extension_rollout_kind": "model", "vmss_extension_rollout_batch_size": "4",
              "vmss_extension_rollout_wait_timeout": 300}


def _model_fleet(emulator, tmp_path, rings, **extra_vars):
    """The model scenario's scale sets named in ``rings`` ({name: ring}), at 300 simulated seconds a second."""
    data = load_scenario("model")
    sets = []
    for spec in data["scale_sets"]:
        if spec["name"] in rings:
            sets.append(dict(spec, tags={"ring": rings[spec["name"]]}))
    data.update(scale_sets=sets, time_scale=300.0, aks_clusters=[], adu_instances=[])
    emulator.load(data)
    emulator.clear_requests()
    return write_inventory(tmp_path, sets, extra_vars=dict(MODEL_VARS, **extra_vars))


def _run(run_playbook, emulator, inventory, tmp_path):
    return run_playbook(PLAYBOOKS / "vmss_extension_rollout.yml", inventory=inventory, emulator=emulator,
                        extra_vars={"rollout_report_dir": str(tmp_path / "reports"), "rollout_allow_empty_rings": True})


def _status(run_playbook, emulator, inventory, tmp_path):
    return run_playbook(PLAYBOOKS / "fleet_status.yml", inventory=inventory, emulator=emulator,
                        extra_vars={"fleet_report_dir": str(tmp_path / "reports"), "fleet_kind": "model",
                                    "fleet_fail_on_drift": True})


def test_model_rollout_in_rings_then_a_rerun_is_current_with_no_post(emulator, run_playbook, tmp_path):
    inventory = _model_fleet(emulator, tmp_path, {"vmss-manual": "canary", "vmss-automatic": "ring1"})

    # The gate before: vmss-manual's 10 instances are not on the latest model (read only, no POST).
    before = _status(run_playbook, emulator, inventory, tmp_path)
    assert before.rc != 0
    assert "Gate failed: vmss-manual (rg-model): instances not on the latest model: Model older on 10" in before.stdout
    assert posts(emulator) == []

    _run(run_playbook, emulator, inventory, tmp_path).assert_ok()
    assert len(posts(emulator)) == 3 and posts(emulator) == posts(emulator, "/vmss-manual/manualupgrade")
    report = read_json(tmp_path / "reports" / "vmss_extension_rollout.json")
    rows = rows_by_name(report)
    manual = rows["vmss-manual"]
    assert (manual["status"], manual["changed"]) == ("Completed", True)
    assert [entry["instances"] for entry in manual["model"]["batches"]] == [4, 4, 2]
    assert manual["model"]["remaining_instances"] == []
    assert rows["vmss-automatic"]["status"] == "Current" and not rows["vmss-automatic"]["changed"]
    html = (tmp_path / "reports" / "vmss_extension_rollout.html").read_text()
    assert "3 batches, 10 instances upgraded, 0 left" in html and "batch 3: 2 instances, healthy" in html

    emulator.clear_requests()
    _run(run_playbook, emulator, inventory, tmp_path).assert_ok()
    assert posts(emulator) == []
    rows = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))
    assert {row["status"] for row in rows.values()} == {"Current"}

    # The gate after: every instance on the latest model.
    _status(run_playbook, emulator, inventory, tmp_path).assert_ok()
    assert posts(emulator) == []


def test_unhealthy_instances_stop_their_ring(emulator, run_playbook, tmp_path):
    inventory = _model_fleet(emulator, tmp_path, {"vmss-manual-sick": "canary", "vmss-manual": "ring1"},
                             vmss_extension_rollout_batch_size="2")
    result = _run(run_playbook, emulator, inventory, tmp_path)
    assert result.rc != 0
    assert "Stopped the model rollout of vmss-manual-sick after batch" in result.stdout
    rows = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))
    sick = rows["vmss-manual-sick"]
    assert (sick["status"], sick["failed"]) == ("Failed", True)
    assert sick["model"]["stopped_by"]["instances"] and sick["model"]["remaining_instances"]
    # The next ring is not started: its scale set is untouched.
    assert rows["vmss-manual"]["status"] == "NotStarted"
    assert not [path for path in posts(emulator) if "/vmss-manual/" in path]


def test_kind_model_refuses_the_options_it_has_no_use_for_before_any_request(emulator, run_playbook, tmp_path):
    inventory = _model_fleet(emulator, tmp_path, {"vmss-manual": "canary"}, vmss_extension_rollout_on_timeout="cancel")
    result = _run(run_playbook, emulator, inventory, tmp_path)
    assert result.rc != 0
    assert "vmss_extension_rollout_on_timeout=cancel is not for kind=model" in result.stdout
    assert [r for r in emulator.requests if r["kind"] == "arm"] == []


def test_check_and_diff_mode_show_the_batches_and_send_nothing(emulator, run_playbook, tmp_path):
    inventory = _model_fleet(emulator, tmp_path, {"vmss-manual": "canary", "vmss-flex-manual": "ring1"})
    result = run_playbook(PLAYBOOKS / "vmss_extension_rollout.yml", inventory=inventory, emulator=emulator, check=True,
                          args=("--diff",), extra_vars={"rollout_report_dir": str(tmp_path / "reports"),
                                                        "rollout_allow_empty_rings": True})
    assert posts(emulator) == []
    # --diff: the batches each manualupgrade would get, headed by the scale set's name.
    assert "after: vmss-manual: manualupgrade batches" in result.stdout and "+batch 3: " in result.stdout
    rows = rows_by_name(read_json(tmp_path / "reports" / "vmss_extension_rollout.json"))
    assert rows["vmss-manual"]["status"] == "WouldStart" and rows["vmss-manual"]["model"]["planned_batches"] == 3
