# -*- coding: utf-8 -*-
"""The pure parts of the event source: arguments, observations, change detection, events, waits."""

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _events, _shapes
from ansible_collections.azure_ops.rollout.plugins.module_utils._events import ArgumentError, Tracker

SUB = "00000000-0000-0000-0000-000000000001"
AUTH = {"subscription_id": SUB, "client_id": "c", "secret": "s", "tenant": "t"}


def settings(**args):
    merged = dict(AUTH)
    merged.update(args)
    return _events.validate_args(merged, environ={})


def problems(**args):
    with pytest.raises(ArgumentError) as info:
        settings(**args)
    return str(info.value)


# -- arguments -------------------------------------------------------------------------------------------
def test_defaults_watch_the_rolling_upgrades_of_the_whole_subscription():
    result = settings()
    assert result["kinds"] == ["vmss_rolling_upgrade"]
    assert result["scale_sets"] is None and result["resource_groups"] is None
    assert (result["interval"], result["list_interval"], result["emit_current_state"]) == (60, 600, False)
    assert result["aks_clusters"] == [] and result["adu"] is None


def test_kinds_default_to_the_targets_that_are_set_and_never_include_drift():
    assert settings(resource_group="rg", aks_clusters=["aks-a"])["kinds"] == ["aks_operation"]
    assert settings(adu_endpoint="x.api.adu.microsoft.com", adu_instance_id="blue")["kinds"] == ["adu_import"]
    assert settings(resource_groups=["rg"], adu_endpoint="h", adu_instance_id="i")["kinds"] == ["vmss_rolling_upgrade",
                                                                                                "adu_import"]


def test_scale_sets_as_names_in_resource_group_or_mappings_deduplicated_case_insensitively():
    result = settings(resource_group="rg-a", scale_sets=["web-01", {"resource_group": "rg-b", "name": "api-01"},
                                                         {"name": "WEB-01"}])
    assert result["scale_sets"] == [("rg-a", "web-01"), ("rg-b", "api-01")]


def test_strings_from_rulebook_variables_are_accepted():
    result = settings(kinds="vmss_rolling_upgrade, aks_operation", resource_group="rg", aks_clusters=["a"],
                      interval="0.5", emit_current_state="yes", request_timeout="30")
    assert result["kinds"] == ["vmss_rolling_upgrade", "aks_operation"]
    assert (result["interval"], result["emit_current_state"], result["options"]["request_timeout"]) == (0.5, True, 30)


def test_auth_falls_back_to_the_environment_like_the_modules():
    result = _events.validate_args({"resource_group": "rg", "scale_sets": ["a"]},
                                   environ={"AZURE_SUBSCRIPTION_ID": SUB, "AZURE_CLIENT_ID": "c", "AZURE_SECRET": "s",
                                            "AZURE_TENANT": "t"})
    options = result["options"]
    assert (options["subscription_id"], options["client_id"], options["secret"], options["tenant"]) == (SUB, "c", "s", "t")


@pytest.mark.parametrize("args, expected", [
    ({"kinds": ["vmss_rolling_upgrade", "vm_drift"]}, "kinds must be among vmss_rolling_upgrade, vmss_extension_drift, "
                                                      "vmss_os_drift, adu_import, aks_operation, got vm_drift"),
    ({"kinds": []}, "kinds must name at least one of"),
    ({"interval": 0}, "interval must be between 0.01 and 86400, got 0"),
    ({"interval": "soon"}, "interval must be a number of seconds, got 'soon'"),
    ({"interval": True}, "interval must be a number of seconds"),
    ({"emit_current_state": "maybe"}, "emit_current_state must be a boolean (true or false), got 'maybe'"),
    ({"scale_sets": ["web-01"]}, "scale_sets[0] is a bare name (web-01): set resource_group, or give {resource_group, name}"),
    ({"scale_sets": [{"name": "a", "group": "g"}]}, "scale_sets[0] has unknown keys group (allowed: name, resource_group)"),
    ({"scale_sets": "web-01"}, "scale_sets must be a list of names or of {resource_group, name} mappings"),
    ({"resource_group": "rg", "scale_sets": ["bad/name"]}, "scale_sets[0] name must be a scale set name"),
    ({"resource_groups": ["rg."]}, "resource_groups entry 'rg.' must match"),
    ({"resource_group": "rg", "scale_sets": ["a"], "resource_groups": ["rg"]}, "set scale_sets or resource_groups, not both"),
    ({"kinds": ["aks_operation"]}, "kinds includes aks_operation: set aks_clusters"),
    ({"kinds": ["adu_import"]}, "adu_endpoint is required for adu_import; adu_instance_id is required for adu_import"),
    ({"kinds": ["adu_import"], "adu_endpoint": "https://x/y", "adu_instance_id": "blue"}, "adu_endpoint must be the account host"),
    ({"kinds": ["aks_operation"], "resource_group": "rg", "aks_clusters": ["a"], "adu_instance_id": "blue"},
     "adu_instance_id set but kinds does not include adu_import"),
    ({"kinds": ["adu_import"], "adu_endpoint": "h", "adu_instance_id": "i", "resource_groups": ["rg"]},
     "scale_sets / resource_groups are set but kinds has no scale set kind (vmss_rolling_upgrade, vmss_extension_drift, vmss_os_drift)"),
    ({"subscription_id": "abc"}, "subscription_id must be"),
    ({"auth_source": "password"}, "auth_source must be one of auto, env, cli, msi, workload_identity, credential_file"),
    ({"cloud_environment": "Mars"}, "cloud_environment must be one of"),
    ({"resource_manager_endpoint": "http://arm"}, "resource_manager_endpoint must be an https:// URL"),
    ({"request_timeout": 0}, "request_timeout must be between 1 and 3600, got 0"),
    ({"interval_seconds": 5}, "unknown argument(s) interval_seconds; the arguments are auth_source,"),
])
def test_bad_arguments_name_the_argument_and_the_rule(args, expected):
    message = problems(**args)
    assert message.startswith("azure_ops.rollout.operation_events: invalid arguments: ")
    assert expected in message


def test_every_problem_is_reported_at_once():
    message = problems(interval=-1, kinds=["nope"], request_timeout="x")
    assert "interval must be" in message and "kinds must be among" in message and "request_timeout must be" in message


def test_a_subscription_is_needed_except_for_device_update_alone():
    assert "subscription_id is required for vmss_rolling_upgrade" in problems(subscription_id=None)
    result = _events.validate_args({"client_id": "c", "secret": "s", "tenant": "t", "adu_endpoint": "h",
                                    "adu_instance_id": "i"}, environ={})
    assert result["kinds"] == ["adu_import"]


def test_a_missing_credential_file_is_an_argument_error(monkeypatch):
    monkeypatch.setenv("AZURE_CREDENTIAL_FILE", "/nonexistent/credentials")
    with pytest.raises(ArgumentError) as info:
        _events.validate_args({"subscription_id": SUB, "auth_source": "credential_file"}, environ={})
    assert "auth_source=credential_file but /nonexistent/credentials cannot be read" in str(info.value)


def test_eda_arguments_of_ansible_rulebook_are_ignored():
    assert settings(eda_feedback_queue=object())["kinds"] == ["vmss_rolling_upgrade"]


def test_secrets_never_appear_in_argument_errors():
    message = problems(secret="s3cr3t-value", interval="x")
    assert "s3cr3t-value" not in message


# -- observations ------------------------------------------------------------------------------------------
def latest(code, start="2026-01-01T00:00:00+00:00", error=None, succeeded=0, failed=0, in_progress=0, pending=0):
    properties = {"runningStatus": {"code": code, "startTime": start, "lastAction": "Start", "lastActionTime": start},
                  "progress": {"successfulInstanceCount": succeeded, "failedInstanceCount": failed,
                               "inProgressInstanceCount": in_progress, "pendingInstanceCount": pending}}
    if error:
        properties["error"] = error
    return _shapes.rolling_upgrade({"properties": properties})


def upgrade(code, **kwargs):
    return _events.rolling_upgrade_observation(SUB, "rg-web", "web-01", latest(code, **kwargs))


def test_rolling_upgrade_event_has_exactly_the_documented_fields():
    observation = upgrade("Faulted", failed=2, pending=8,
                          error={"code": "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade", "message": "m"})
    event = _events.build_event(observation, "RollingForward")
    assert event == {
        "azure_ops_rollout": {
            "kind": "vmss_rolling_upgrade", "subscription_id": SUB, "resource_group": "rg-web", "name": "web-01",
            "status": "Faulted", "previous_status": "RollingForward",
            "progress": {"successful_instance_count": 0, "failed_instance_count": 2, "in_progress_instance_count": 0,
                         "pending_instance_count": 8, "percent_complete": 20.0,
                         "start_time": "2026-01-01T00:00:00+00:00", "last_action": "Start",
                         "last_action_time": "2026-01-01T00:00:00+00:00"},
            "error": {"code": "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade", "message": "m",
                      "target": None, "details": []},
        },
        "meta": {"hosts": "web-01"},
    }


def test_a_scale_set_never_upgraded_has_no_status_and_reports_nothing():
    observation = _events.rolling_upgrade_observation(SUB, "rg", "fresh", None)
    assert (observation.status, observation.reported, observation.progress, observation.error) == (None, False, {}, None)


def test_aks_and_adu_observations():
    operation = _shapes.aks_operation({"id": "/subscriptions/s/.../operations/op-1", "name": "op-1", "status": "Failed",
                                       "error": {"code": "E", "message": "m"}})
    aks = _events.aks_observations(SUB, "rg", "aks-a", [operation])[0]
    event = _events.build_event(aks, "InProgress")
    assert event["meta"] == {"hosts": "aks-a"}
    assert event["azure_ops_rollout"]["progress"]["operation_id"] == "op-1"
    assert event["azure_ops_rollout"]["error"]["code"] == "E"
    adu = _events.adu_observation("h.api.adu.microsoft.com", "blue",
                                  _shapes.adu_operation({"operationId": "o-1", "status": "Succeeded"}))
    event = _events.build_event(adu, "Running")["azure_ops_rollout"]
    assert (event["kind"], event["name"], event["subscription_id"], event["resource_group"]) == ("adu_import", "blue", None, None)
    assert set(event["progress"]) == {"operation_id", "update_id", "created_date_time", "last_action_date_time",
                                      "resource_location", "trace_id"}


def drift(*outdated_per_extension, instances=4):
    records = [{"name": "ext%d" % i, "publisher": "P", "type": "T", "model_version": "1.0", "target_version": "1.0.9",
                "outdated": bool(count), "instance_count": instances,
                "outdated_instances": [str(n) for n in range(count)], "unknown_instances": ["9"] if i == 0 else [],
                "instance_versions": {"1.0.9": instances - count, "1.0.2": count}, "note": None}
               for i, count in enumerate(outdated_per_extension)]
    worst = max(outdated_per_extension or (0,))
    result = {"extensions": records, "outdated": bool(worst), "outdated_instance_count": worst, "location": "eastus"}
    return _events.drift_observation(SUB, "rg-web", "web-01", result)


def test_drift_event_counts_instances_and_summarizes_each_extension():
    event = _events.build_event(drift(3, 0), "Current")
    assert event["meta"] == {"hosts": "web-01"}
    change = event["azure_ops_rollout"]
    assert (change["kind"], change["status"], change["previous_status"], change["error"]) == (
        "vmss_extension_drift", "Outdated", "Current", None)
    assert change["progress"] == {
        "outdated_instance_count": 3, "instance_count": 4, "orchestration_mode": None, "instance_naming": None,
        "extensions": [
            {"name": "ext0", "publisher": "P", "type": "T", "model_version": "1.0", "target_version": "1.0.9",
             "outdated_instance_count": 3, "unknown_instance_count": 1, "instance_versions": {"1.0.9": 1, "1.0.2": 3},
             "note": None},
            {"name": "ext1", "publisher": "P", "type": "T", "model_version": "1.0", "target_version": "1.0.9",
             "outdated_instance_count": 0, "unknown_instance_count": 0, "instance_versions": {"1.0.9": 4, "1.0.2": 0},
             "note": None}]}
    assert drift().status == "Current" and drift().progress["instance_count"] == 0


def test_drift_event_says_how_instances_are_named():
    result = {"extensions": [], "outdated": False, "outdated_instance_count": 0, "orchestration_mode": "Flexible",
              "instance_naming": "vm_name"}
    progress = _events.drift_observation(SUB, "rg-web", "web-01", result).progress
    assert (progress["orchestration_mode"], progress["instance_naming"]) == ("Flexible", "vm_name")


def test_drift_changes_when_the_outdated_count_crosses_zero_only():
    tracker = Tracker()
    first = drift(0)
    assert tracker.update(first.scope, [first]) == []
    assert statuses(tracker.update(first.scope, [drift(2)])) == [("Outdated", "Current")]
    assert tracker.update(first.scope, [drift(3)]) == []  # more instances behind: the same state
    assert statuses(tracker.update(first.scope, [drift(0)])) == [("Current", "Outdated")]


def test_drift_and_rolling_upgrade_of_one_scale_set_are_tracked_apart():
    tracker = Tracker()
    tracker.update(drift(0).scope, [drift(0)])
    tracker.update(upgrade("Completed").scope, [upgrade("Completed")])
    assert drift(0).scope != upgrade("Completed").scope
    assert statuses(tracker.update(drift(0).scope, [drift(1)])) == [("Outdated", "Current")]


# -- change detection -------------------------------------------------------------------------------------------
def statuses(changes):
    return [(observation.status, previous) for observation, previous in changes]


def test_the_first_read_is_a_silent_baseline_then_each_change_is_reported_once():
    tracker = Tracker()
    first = upgrade("Completed")
    assert tracker.update(first.scope, [first]) == []
    assert tracker.update(first.scope, [upgrade("Completed")]) == []
    started = upgrade("RollingForward", start="2026-01-02T00:00:00+00:00", in_progress=2, pending=8)
    assert statuses(tracker.update(started.scope, [started])) == [("RollingForward", "Completed")]
    # progress moves, the status does not: no event
    moved = upgrade("RollingForward", start="2026-01-02T00:00:00+00:00", succeeded=4, in_progress=2, pending=4)
    assert tracker.update(moved.scope, [moved]) == []
    faulted = upgrade("Faulted", start="2026-01-02T00:00:00+00:00")
    assert statuses(tracker.update(faulted.scope, [faulted])) == [("Faulted", "RollingForward")]
    assert tracker.update(faulted.scope, [faulted]) == []


def test_emit_current_state_reports_the_baseline_with_no_previous_status():
    tracker = Tracker(emit_current_state=True)
    first = upgrade("Faulted")
    assert statuses(tracker.update(first.scope, [first])) == [("Faulted", None)]
    assert tracker.update(first.scope, [first]) == []


def test_a_drift_present_at_the_first_read_is_reported_not_a_silent_baseline():
    tracker = Tracker()
    behind = _events.drift_observation(SUB, "rg-web", "web-01", {"outdated": True, "outdated_instance_count": 3})
    assert statuses(tracker.update(behind.scope, [behind])) == [("Outdated", None)]
    assert tracker.update(behind.scope, [behind]) == []
    current = _events.drift_observation(SUB, "rg-web", "web-02", {"outdated": False, "outdated_instance_count": 0})
    assert tracker.update(current.scope, [current]) == []  # a current scale set is a silent baseline


def test_meta_hosts_all_lets_a_rule_run_its_playbook_over_the_inventory():
    behind = _events.drift_observation(SUB, "rg-web", "web-01", {"outdated": True, "outdated_instance_count": 3})
    assert _events.build_event(behind, None)["meta"] == {"hosts": "web-01"}
    assert _events.build_event(behind, None, "all")["meta"] == {"hosts": "all"}
    args = {"kinds": ["vmss_extension_drift"], "resource_groups": ["rg"], "subscription_id": SUB, "client_id": "c",
            "secret": "s", "tenant": "t"}
    assert _events.validate_args(dict(args, meta_hosts="all"), environ={})["meta_hosts"] == "all"
    assert _events.validate_args(args, environ={})["meta_hosts"] == "target"
    with pytest.raises(_events.ArgumentError, match="meta_hosts must be one of target, all, got 'some'"):
        _events.validate_args(dict(args, meta_hosts="some"), environ={})


def test_a_new_upgrade_ending_in_the_same_status_is_a_change():
    tracker = Tracker()
    tracker.update(upgrade("Completed").scope, [upgrade("Completed")])
    again = upgrade("Completed", start="2026-02-01T00:00:00+00:00")
    assert statuses(tracker.update(again.scope, [again])) == [("Completed", "Completed")]


def test_a_scale_set_whose_first_upgrade_starts_changes_from_none():
    tracker = Tracker()
    never = _events.rolling_upgrade_observation(SUB, "rg-web", "web-01", None)
    assert tracker.update(never.scope, [never]) == []
    started = upgrade("RollingForward")
    assert statuses(tracker.update(started.scope, [started])) == [("RollingForward", None)]


def test_unreported_statuses_update_the_state_silently():
    tracker = Tracker()
    scope = _events.aks_scope(SUB, "rg", "aks-a")

    def op(status):
        return _events.aks_observations(SUB, "rg", "aks-a", [{"name": "op-1", "status": status}])

    assert tracker.update(scope, []) == []  # baseline: no operation yet
    assert tracker.update(scope, op("InProgress")) == []  # new, but in flight: not an outcome
    assert statuses(tracker.update(scope, op("Failed"))) == [("Failed", "InProgress")]
    assert tracker.update(scope, op("Failed")) == []


def test_an_operation_first_seen_after_the_baseline_already_ended_is_reported():
    tracker = Tracker()
    scope = _events.aks_scope(SUB, "rg", "aks-a")
    tracker.update(scope, [])
    quick = _events.aks_observations(SUB, "rg", "aks-a", [{"name": "op-2", "status": "Succeeded"}])
    assert statuses(tracker.update(scope, quick)) == [("Succeeded", None)]


def test_a_complete_read_forgets_what_left_the_scope_and_forget_drops_a_scope():
    tracker = Tracker()
    scope = _events.aks_scope(SUB, "rg", "aks-a")
    both = [{"name": "a", "status": "InProgress"}, {"name": "b", "status": "InProgress"}]
    tracker.update(scope, _events.aks_observations(SUB, "rg", "aks-a", both))
    tracker.update(scope, _events.aks_observations(SUB, "rg", "aks-a", [{"name": "b", "status": "InProgress"}]))
    assert [key[-1] for key in tracker.keys(scope)] == ["b"]
    partial = _events.aks_observations(SUB, "rg", "aks-a", [{"name": "c", "status": "InProgress"}])
    tracker.update(scope, partial, complete=False)
    assert sorted(key[-1] for key in tracker.keys(scope)) == ["b", "c"]
    tracker.forget(scope)
    assert tracker.keys(scope) == set()
    # a scope read again after being forgotten starts from a new baseline
    assert tracker.update(scope, _events.aks_observations(SUB, "rg", "aks-a", [{"name": "d", "status": "Failed"}])) == []


def test_scale_set_names_are_case_insensitive():
    tracker = Tracker()
    tracker.update(upgrade("Completed").scope, [upgrade("Completed")])
    other_case = _events.rolling_upgrade_observation(SUB, "RG-WEB", "Web-01", latest("Completed"))
    assert tracker.update(other_case.scope, [other_case]) == []


# -- waiting ---------------------------------------------------------------------------------------------------
def test_next_wait_doubles_per_failed_round_and_is_capped():
    assert [_events.next_wait(60, n) for n in range(6)] == [60, 120, 240, 480, 900, 900]
    assert _events.next_wait(0.05, 3) == 0.4
    assert _events.next_wait(1200, 2) == 1200  # never below the interval
    assert _events.next_wait(60, 10 ** 6) == 900


def test_stoppable_clock_ends_a_wait_at_once():
    clock = _events.StoppableClock()
    clock.sleep(0)
    clock.stop()
    with pytest.raises(_events.SourceStopped):
        clock.sleep(3600)
    with pytest.raises(_events.SourceStopped):
        clock.check()


def test_a_secret_without_tenant_is_an_argument_error():
    assert problems(tenant=None).endswith("invalid arguments: secret given but tenant missing (set tenant or AZURE_TENANT_ID)")
