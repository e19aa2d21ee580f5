# -*- coding: utf-8 -*-
"""vmss_model_rollout against the emulator's ``model`` scenario: batches of manualupgrade behind health gates, the stop
rule, idempotence and resume, check and diff modes, refusals (tests/emulator/README.md, "Model rollouts")."""

import pytest

from tests.helpers import api_requests

RG = "rg-model"


@pytest.fixture
def model(emulator):
    emulator.load("model")
    return emulator


def _batches(emulator, name):
    return [r for r in api_requests(emulator, "POST") if r["path"].endswith("/%s/manualupgrade" % name)]


def test_every_instance_reaches_the_latest_model_in_batches_and_a_rerun_changes_nothing(run_module, model):
    failed, result = run_module("vmss_model_rollout", resource_group=RG, name="vmss-manual", batch_size="30%",
                                health_timeout=300, wait_timeout=7200)
    assert not failed, result.get("msg")
    assert result["changed"] and result["action"] == "start" and result["remaining_instances"] == []
    assert sorted(result["upgraded_instances"], key=int) == [str(i) for i in range(10)]
    # 10 instances in batches of 3 (30 %, rounded up): 4 calls, each healthy before the next.
    assert [len(b["instances"]) for b in result["batches"]] == [3, 3, 3, 1]
    assert [b["verdict"] for b in result["batches"]] == ["healthy"] * 4
    assert all(b["operation_status"] == "Succeeded" for b in result["batches"])
    assert [b["started_at"] for b in result["batches"]] == sorted(b["started_at"] for b in result["batches"])
    assert len(_batches(model, "vmss-manual")) == 4
    # Spread over the three zones: no batch takes two instances of one zone while another zone has one left.
    assert not result["timed_out"] and not result["left_running"]
    model.clear_requests()
    failed, again = run_module("vmss_model_rollout", resource_group=RG, name="vmss-manual")
    assert not failed and again["action"] == "current" and not again["changed"] and again["batches"] == []
    assert _batches(model, "vmss-manual") == []


def test_check_mode_and_diff_say_which_instances_move_in_which_batch_and_send_nothing(run_module, model):
    failed, result = run_module("vmss_model_rollout", _check_mode=True, resource_group=RG, name="vmss-manual",
                                batch_size="4", _ansible_diff=True)
    assert not failed and result["changed"] and result["action"] == "start"
    assert result["plan"][0].startswith("10 instances not on the latest model, in batches of batch_size 4")
    assert [line.split(":")[0] for line in result["plan"][1:]] == ["batch 1", "batch 2", "batch 3"]
    assert result["diff"]["after"].count("batch ") == 3 and result["upgraded_instances"] == []
    assert api_requests(model, "POST") == []


def test_unhealthy_instances_after_their_upgrade_stop_the_rollout_and_name_them(run_module, model):
    failed, result = run_module("vmss_model_rollout", resource_group=RG, name="vmss-manual-sick", batch_size="2",
                                order="name", max_unhealthy_upgraded_percent=20, health_timeout=300,
                                wait_timeout=7200)
    assert failed
    # Batches 0,1 then 2,3: instance 2 comes back unhealthy, 1 of 4 upgraded = 25 % > 20 %: stop, name it, leave the rest.
    assert [b["instances"] for b in result["batches"]] == [["0", "1"], ["2", "3"]]
    assert result["batches"][1]["verdict"] == "unhealthy" and result["batches"][1]["health"]["unhealthy"] == ["2"]
    assert result["stopped_by"]["rule"] == "max_unhealthy_upgraded_percent" and result["stopped_by"]["instances"] == ["2"]
    assert "Stopped the model rollout of vmss-manual-sick after batch 2" in result["msg"] and "2 (" in result["msg"]
    assert result["remaining_instances"][:3] == ["4", "5", "6"] and "9" in result["remaining_instances"]
    assert len(_batches(model, "vmss-manual-sick")) == 2
    # The re-run goes on from where it stopped: the plan is the instances not on the latest model.
    failed, again = run_module("vmss_model_rollout", _check_mode=True, resource_group=RG, name="vmss-manual-sick",
                               batch_size="2", order="name")
    assert again["plan"][1] == "batch 1: 4, 5" and "protected from scale-set actions): 9" in again["plan"][-1]


def test_a_flexible_scale_set_is_refused_before_any_change(run_module, model):
    failed, result = run_module("vmss_model_rollout", resource_group=RG, name="vmss-flex-manual")
    assert failed and result["action"] == "refuse" and "FlexibleNotSupported" in result["msg"]
    assert api_requests(model, "POST") == []


def test_the_deadline_starts_no_batch_after_it_and_says_what_goes_on(run_module, model):
    failed, result = run_module("vmss_model_rollout", resource_group=RG, name="vmss-manual", batch_size="5",
                                wait_timeout=100, on_timeout="leave")
    # One batch of 120 s per instance update cannot end within 100 s: it goes on in Azure, nothing else is started.
    assert not failed and result["timed_out"] and result["left_running"] and result["upgraded_instances"] == []
    assert len(_batches(model, "vmss-manual")) == 1
    # A re-run waits for the batch in flight (never sends it again), then goes on.
    model.clear_requests()
    failed, again = run_module("vmss_model_rollout", resource_group=RG, name="vmss-manual", batch_size="5",
                               wait_timeout=3600)
    assert not failed, again["msg"]
    assert again["remaining_instances"] == []
    assert again["batches"][0]["operation_status"] is None and len(again["batches"][0]["instances"]) == 5
    assert len(_batches(model, "vmss-manual")) == 1


def test_bad_options_are_refused_before_any_request(run_module, model):
    failed, result = run_module("vmss_model_rollout", resource_group=RG, name="vmss-manual", batch_size="half",
                                max_unhealthy_percent=150)
    assert failed and "batch_size must be a number of instances" in result["msg"]
    assert "max_unhealthy_percent" in result["msg"] and api_requests(model) == []
