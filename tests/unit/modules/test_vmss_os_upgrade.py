# -*- coding: utf-8 -*-
"""vmss_os_upgrade against the emulator, on the simulated clock: start only when an unprotected instance runs an older
image, exact idempotence (no POST on a current scale set), Uniform and Flexible, gallery images, Azure's refusals
before and after the POST, check and diff modes."""

import json

from tests.helpers import api_requests

UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}
NEWEST = "24.04.202501140"   # the highest of the default catalog, listed after 24.04.202411030 (string order)
OLD = "24.04.202409120"
FAST = {"poll_interval": 1, "resource_group": "rg-test", "name": "vmss-os"}
GALLERY = {"resource_group": "rg-images", "gallery": "galProd", "image": "web",
           "versions": [{"name": "1.0.9", "regions": ["eastus"]}, {"name": "1.0.10", "regions": ["eastus"]},
                        {"name": "1.1.0", "regions": ["eastus"], "exclude_from_latest": True}]}


def _one(emulator, page_size=10, catalog=None, **spec):
    """One scale set ``vmss-os`` (5 instances, instances 0 and 3 on an older image, batches of 1 x 60 s)."""
    base = {"name": "vmss-os", "resource_group": "rg-test", "capacity": 5, "image": dict(UBUNTU), "batch_seconds": 60,
            "installed_image": {"default": "latest", "0": OLD, "3": OLD}}
    base.update(spec)
    emulator.load({"page_size": page_size, "scale_sets": [base], "image_catalog": catalog or {}})


def _kinds(emulator):
    """The ARM requests as short names: latest, model, vms, catalog, gallery, history, start."""
    names = []
    for r in api_requests(emulator):
        path = r["path"]
        names.append("latest" if path.endswith("/latest") else "vms" if path.endswith("/virtualMachines")
                     else "catalog" if "/artifacttypes/vmimage/" in path else "gallery" if "/galleries/" in path
                     else "history" if path.endswith("/osUpgradeHistory") else "start" if path.endswith("/osRollingUpgrade")
                     else "approve" if path.endswith("/approveRollingUpgrade")
                     else "operation" if "/operations/" in path
                     else "model" if "/virtualMachineScaleSets/" in path and path.count("/") == 8 else path)
    return names


def test_current_scale_set_changes_nothing_and_sends_no_post(run_module, emulator):
    _one(emulator, installed_image="latest")
    failed, result = run_module("vmss_os_upgrade", **FAST)
    assert not failed, result.get("msg")
    assert result["action"] == "current" and result["changed"] is False and result["upgrade_started"] is False
    assert result["target_version"] == NEWEST and result["instance_versions"] == {NEWEST: 5}
    assert result["outdated"] is False and result["outdated_instances"] == [] and result["refusals"] == []
    assert result["os_upgrade_history"] == []   # history=0 by default: not read
    assert _kinds(emulator) == ["latest", "model", "vms", "catalog"]


def test_outdated_starts_once_moves_only_the_outdated_and_a_second_run_is_current(run_module, emulator):
    emulator.set_time_scale(60)
    _one(emulator)
    failed, first = run_module("vmss_os_upgrade", wait_timeout=600, **FAST)
    assert not failed, first.get("msg")
    assert first["action"] == "start" and first["changed"] and first["upgrade_started"]
    assert first["outdated_instances"] == ["0", "3"] and first["instance_versions"] == {OLD: 2, NEWEST: 3}   # before
    assert first["rolling_upgrade"]["running_status"]["code"] == "Completed"
    # Only the two outdated instances were in the upgrade (batches of one).
    assert first["rolling_upgrade"]["progress"]["successful_instance_count"] == 2
    starts = api_requests(emulator, "POST")
    assert len(starts) == 1 and starts[0]["path"].endswith("/osRollingUpgrade")
    failed, second = run_module("vmss_os_upgrade", **FAST)
    assert not failed and second["action"] == "current" and not second["changed"]
    assert second["instance_versions"] == {NEWEST: 5}
    assert len(api_requests(emulator, "POST")) == 1


def test_flexible_scale_set_names_vms_and_is_current_after(run_module, emulator):
    emulator.set_time_scale(60)
    _one(emulator, orchestration_mode="Flexible")
    names = emulator.state()["scale_sets"][0]["vm_names"]
    failed, result = run_module("vmss_os_upgrade", _check_mode=True, **FAST)
    assert not failed and result["action"] == "start" and result["changed"] and not result["upgrade_started"]
    assert result["instance_naming"] == "vm_name" and result["outdated_instances"] == [names[0], names[3]]
    assert api_requests(emulator, "POST") == []
    failed, result = run_module("vmss_os_upgrade", wait_timeout=600, **FAST)
    assert not failed and result["action"] == "start", result.get("msg")
    failed, result = run_module("vmss_os_upgrade", **FAST)
    assert not failed and result["action"] == "current" and result["instance_versions"] == {NEWEST: 5}
    assert len(api_requests(emulator, "POST")) == 1


def test_gallery_image_target_excludes_excluded_versions(run_module, emulator):
    _one(emulator, image={"gallery": "galProd", "image": "web", "resource_group": "rg-images"},
         installed_image={"default": "1.0.10", "4": "1.0.9"}, catalog={"galleries": [GALLERY]})
    failed, result = run_module("vmss_os_upgrade", _check_mode=True, **FAST)
    assert not failed, result.get("msg")
    assert result["image_kind"] == "gallery" and result["target_version"] == "1.0.10"
    assert result["action"] == "start" and result["outdated_instances"] == ["4"]
    _one(emulator, image={"gallery": "galProd", "image": "web", "resource_group": "rg-images"},
         installed_image="1.0.10", catalog={"galleries": [GALLERY]})
    failed, result = run_module("vmss_os_upgrade", **FAST)
    assert not failed and result["action"] == "current" and api_requests(emulator, "POST") == []


def test_check_mode_and_diff_show_versions_before_and_target_after(run_module, emulator):
    _one(emulator, protected_instances=[3])
    failed, result = run_module("vmss_os_upgrade", _check_mode=True, _ansible_diff=True, **FAST)
    assert not failed, result.get("msg")
    assert result["changed"] and result["action"] == "start"
    label = "image Canonical:ubuntu-24_04-lts:server"
    assert result["diff"]["before"] == "%s: %s on 2, %s on 3\n" % (label, OLD, NEWEST)
    assert result["diff"]["after"] == "%s: %s on 4 (1 outdated instance upgraded, 1 protected left as they are)\n" % (
        label, NEWEST)
    assert api_requests(emulator, "POST") == []


def test_outdated_instances_that_are_all_protected_change_nothing(run_module, emulator):
    _one(emulator, protected_instances=[0, 3])
    failed, result = run_module("vmss_os_upgrade", **FAST)
    assert not failed, result.get("msg")
    assert result["action"] == "current" and not result["changed"] and result["outdated_instances"] == ["0", "3"]
    assert "are protected from scale-set actions" in json.dumps(result.get("warnings"))
    assert api_requests(emulator, "POST") == []


def test_pinned_version_is_refused_before_any_post(run_module, emulator):
    _one(emulator, image=dict(UBUNTU, version=OLD), installed_image=OLD)
    failed, result = run_module("vmss_os_upgrade", **FAST)
    assert failed and result["action"] == "refuse" and not result["changed"]
    assert "Azure would refuse an OS rolling upgrade of vmss-os" in result["msg"]
    assert "OperationNotAllowed" in result["msg"] and "set imageReference.version to latest" in result["msg"]
    assert [item["code"] for item in result["refusals"]] == ["OperationNotAllowed"]
    assert api_requests(emulator, "POST") == []


def test_every_instance_protected_is_refused_before_any_post(run_module, emulator):
    _one(emulator, protected_instances=[0, 1, 2, 3, 4])
    failed, result = run_module("vmss_os_upgrade", _check_mode=True, **FAST)
    assert failed and result["action"] == "refuse" and "protectFromScaleSetActions" in result["msg"]
    assert api_requests(emulator, "POST") == []


def test_automatic_upgrade_policy_is_refused_before_any_post(run_module, emulator):
    _one(emulator, upgrade_mode="Automatic")
    failed, result = run_module("vmss_os_upgrade", **FAST)
    assert failed and result["action"] == "refuse" and "upgradePolicy.mode to Rolling" in result["msg"]
    assert api_requests(emulator, "POST") == []


def test_a_409_without_reading_versions_is_azures_code_and_what_to_change(run_module, emulator):
    _one(emulator, image=dict(UBUNTU, version=OLD), installed_image=OLD)
    failed, result = run_module("vmss_os_upgrade", only_if_outdated=False, **FAST)
    assert failed
    assert result["error"]["code"] == "OperationNotAllowed" and result["error"]["status"] == 409
    assert "imageReference.version set to latest" in result["msg"]          # Azure's words
    assert "vmss_os_info's refusals say which applies" in result["msg"]    # what to change
    assert _kinds(emulator) == ["latest", "start", "latest"]   # the race check read the latest once


def test_a_fault_outside_the_maintenance_window_says_what_to_change(run_module, emulator):
    emulator.set_time_scale(60)
    _one(emulator, outside_maintenance_window=True)
    failed, result = run_module("vmss_os_upgrade", wait_timeout=600, **FAST)
    assert failed and result["upgrade_started"]
    assert "RollingUpgradeBatchStartTimeNotWithinScheduledWindows" in result["msg"]
    assert "maintenance window does not cover now" in result["msg"]
    assert result["rolling_upgrade"]["running_status"]["code"] == "Faulted"


def test_a_running_upgrade_is_attached_without_reading_versions(run_module, emulator):
    _one(emulator, existing_upgrade={"status": "RollingForward", "started_seconds_ago": 10, "kind": "os"})
    failed, result = run_module("vmss_os_upgrade", wait=False, **FAST)
    assert not failed and result["action"] == "attach" and result["target_version"] is None
    # It has moved instances: no wait for approval can show, so nothing more is read.
    assert result["approval"] is None and result["approval_instances"] is None
    assert _kinds(emulator) == ["latest"]


def test_history_is_read_when_asked(run_module, emulator):
    _one(emulator, installed_image="latest",
         os_upgrade_history=[{"started_by": "Platform", "target_version": OLD, "started_seconds_ago": 90000}])
    failed, result = run_module("vmss_os_upgrade", history=3, **FAST)
    assert not failed and result["action"] == "current"
    assert [entry["started_by"] for entry in result["os_upgrade_history"]] == ["Platform"]
    assert _kinds(emulator) == ["latest", "model", "vms", "catalog", "history"]


def test_bad_options_fail_before_any_request(run_module, emulator):
    _one(emulator)
    for args, words in (({"history": -1}, "history"), ({"only_if_outdated": "maybe"}, "only_if_outdated"),
                        ({"extensions": ["HealthExtension"]}, "extensions"),
                        ({"approve_deferred": True, "api_version": "2023-07-01"}, "approve_deferred needs api_version 2023-09-01")):
        failed, result = run_module("vmss_os_upgrade", **dict(FAST, **args))
        assert failed and words in result["msg"], result["msg"]
    assert api_requests(emulator) == []


# -- a deferred automatic OS upgrade waiting for approval (osRollingUpgradeDeferral) --------------------------------
DEFERRED = {"automatic_os_upgrade_policy": {"enableAutomaticOSUpgrade": True, "osRollingUpgradeDeferral": True},
            # The platform starts its OS upgrade at the first request; it waits for approval (emulator README).
            "platform_upgrade": {"kind": "os", "after_requests": 0}}


def test_a_deferred_upgrade_waiting_for_approval_is_refused_without_approve_deferred(run_module, emulator):
    _one(emulator, **DEFERRED)
    failed, result = run_module("vmss_os_upgrade", **FAST)
    assert failed and result["action"] == "refuse" and result["changed"] is False
    assert "waits for approval" in result["msg"] and "approve_deferred=true" in result["msg"]
    assert result["approval"] == "pending"
    assert _kinds(emulator) == ["latest", "model", "history"]   # no POST: nothing started, nothing approved


def test_approve_deferred_approves_the_platforms_upgrade_once_and_watches_it_to_its_end(run_module, emulator):
    emulator.set_time_scale(60)
    _one(emulator, **DEFERRED)
    failed, result = run_module("vmss_os_upgrade", approve_deferred=True, wait_timeout=600, **FAST)
    assert not failed, result.get("msg")
    assert result["action"] == "approve" and result["changed"] is True and result["upgrade_started"] is False
    assert result["rolling_upgrade"]["running_status"]["code"] == "Completed"
    assert result["rolling_upgrade"]["progress"]["successful_instance_count"] == 2
    kinds = _kinds(emulator)
    assert kinds.count("approve") == 1 and "start" not in kinds
    # Approved and ended: a second run finds the scale set current.
    emulator.clear_requests()
    failed, again = run_module("vmss_os_upgrade", approve_deferred=True, **FAST)
    assert not failed and again["action"] == "current" and again["changed"] is False
    assert again["approval"] == "none_pending" and "approve" not in _kinds(emulator)


def test_check_mode_says_it_would_approve_and_sends_nothing(run_module, emulator):
    _one(emulator, **DEFERRED)
    failed, result = run_module("vmss_os_upgrade", _check_mode=True, approve_deferred=True, **FAST)
    assert not failed and result["action"] == "approve" and result["changed"] is True
    assert [r for r in api_requests(emulator) if r["method"] != "GET"] == []


def test_vmss_os_info_shows_a_pending_approval_and_the_instances_it_would_move(run_module, emulator):
    _one(emulator, **DEFERRED)
    failed, result = run_module("vmss_os_info", resource_group="rg-test", name="vmss-os", history=0)
    assert not failed and result["approval"] == "pending" and result["approval_instances"] == ["0", "3"]
    assert result["os_upgrade_history"] == []   # history=0 returns none, though the newest entry was read


def test_an_approved_upgrade_that_moves_no_longer_waits_and_a_rerun_attaches(run_module, emulator):
    emulator.set_time_scale(60)
    _one(emulator, **DEFERRED)
    failed, first = run_module("vmss_os_upgrade", approve_deferred=True, wait=False, **FAST)
    assert not failed and first["action"] == "approve", first.get("msg")
    failed, info = run_module("vmss_os_info", resource_group="rg-test", name="vmss-os", history=1)
    assert info["os_upgrade_history"][0]["progress"]["inProgressInstanceCount"] == 1   # it moves
    assert info["approval"] == "none_pending" and info["approval_instances"] == []
    # A re-run (after on_timeout=leave, or Ctrl-C: "a re-run attaches") attaches and approves nothing again.
    for approve in (False, True):
        emulator.clear_requests()
        failed, again = run_module("vmss_os_upgrade", approve_deferred=approve, wait=False, **FAST)
        assert not failed and again["action"] == "attach", again.get("msg")
        assert [r for r in api_requests(emulator) if r["method"] == "POST"] == []


def test_a_lost_answer_to_an_approval_that_went_through_is_watched_not_sent_again(run_module, emulator):
    emulator.set_time_scale(60)
    _one(emulator, **DEFERRED)
    emulator.add_fault({"match": {"method": "POST", "kind": "arm"}, "action": {"drop": True, "apply": True}, "times": 1})
    failed, result = run_module("vmss_os_upgrade", approve_deferred=True, wait_timeout=600, **FAST)
    assert not failed, result["msg"]
    assert result["action"] == "approve" and result["rolling_upgrade"]["running_status"]["code"] == "Completed"
    assert len([r for r in api_requests(emulator) if r["method"] == "POST"]) == 1


def test_a_pending_approval_in_the_history_is_never_met_with_a_start(run_module, emulator):
    # The history says the platform's deferred upgrade waits while rollingUpgrades/latest shows none running (how Azure
    # shows the wait is not documented): refused (or approved), never an osRollingUpgrade beside it.
    _one(emulator, automatic_os_upgrade_policy=DEFERRED["automatic_os_upgrade_policy"],
         os_upgrade_history=[{"result": "RollingForward", "started_by": "Platform", "started_seconds_ago": 60}])
    failed, result = run_module("vmss_os_upgrade", _check_mode=True, **FAST)
    assert failed and result["approval"] == "pending" and result["action"] == "refuse"
    failed, result = run_module("vmss_os_upgrade", _check_mode=True, approve_deferred=True, **FAST)
    assert not failed and result["action"] == "approve"
    assert [r for r in api_requests(emulator) if r["method"] == "POST"] == []
