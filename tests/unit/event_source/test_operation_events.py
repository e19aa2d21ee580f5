# -*- coding: utf-8 -*-
"""The event source against the emulator: main() with a queue, every kind, de-duplication, faults, cancellation."""

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _adu, _vmss
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient
from ansible_collections.azure_ops.rollout.plugins.module_utils._events import ArgumentError

from tests.helpers import SUB

LATEST = "/rollingUpgrades/latest"
FAULT_CODE = "MaxUnhealthyUpgradedInstancePercentExceededInRollingUpgrade"


def source_args(emu, **overrides):
    """Arguments for the emulator: explicit credentials, its CA, rounds every 50 ms (simulated time moves when a test
    advances it)."""
    args = {
        "subscription_id": SUB, "client_id": emu.client_id, "secret": emu.client_secret, "tenant": emu.tenant_id,
        "authority_host": emu.base_url, "resource_manager_endpoint": emu.base_url, "ca_path": emu.ca_path,
        "request_timeout": 10, "interval": 0.05,
    }
    args.update(overrides)
    return args


def payload(event):
    return event["azure_ops_rollout"]


def client_for(emu):
    return AzureClient({"subscription_id": SUB, "client_id": emu.client_id, "secret": emu.client_secret,
                        "tenant": emu.tenant_id, "authority_host": emu.base_url, "resource_manager_endpoint": emu.base_url,
                        "ca_path": emu.ca_path})


def start_upgrade(emu, name, resource_group="rg-test"):
    _vmss.start_upgrade(client_for(emu), SUB, resource_group, name)


# -- vmss_rolling_upgrade --------------------------------------------------------------------------------------
def test_a_fault_is_reported_once_with_its_error_progress_and_host(emulator, run_source):
    args = source_args(emulator, resource_group="rg-test", scale_sets=["vmss-faulty"])

    async def body(run):
        await run.requests(2, LATEST)  # baseline: never upgraded (404), nothing to report
        assert run.pending() == []
        start_upgrade(emulator, "vmss-faulty")
        started = payload(await run.event())
        assert (started["status"], started["previous_status"]) == ("RollingForward", None)
        emulator.advance(61)  # the first batch fails -> Faulted by policy
        event = await run.event()
        await run.rounds(5, LATEST)  # unchanged state: no repeat
        return event, run.pending()

    event, later = run_source(args, body)
    assert later == []
    assert event["meta"] == {"hosts": "vmss-faulty"}
    fault = payload(event)
    assert (fault["kind"], fault["subscription_id"], fault["resource_group"], fault["name"]) == (
        "vmss_rolling_upgrade", SUB, "rg-test", "vmss-faulty")
    assert (fault["status"], fault["previous_status"]) == ("Faulted", "RollingForward")
    assert fault["error"]["code"] == FAULT_CODE
    assert fault["progress"]["failed_instance_count"] == 2 and fault["progress"]["percent_complete"] == 20.0
    assert set(fault) == {"kind", "subscription_id", "resource_group", "name", "status", "previous_status", "progress", "error"}


def test_a_fault_is_queued_as_soon_as_it_is_read_while_a_slow_read_of_the_same_round_goes_on(emulator, run_source):
    delay, interval = 1.0, 0.6
    emulator.add_fault({"name": "slow", "match": {"path_regex": "/vmss-done" + LATEST + "$"}, "action": {"delay": delay}})
    args = source_args(emulator, resource_group="rg-test", scale_sets=["vmss-done", "vmss-faulty"], interval=interval)

    async def body(run):
        await run.requests(1, "/vmss-done" + LATEST, timeout=10)  # a whole round: the baselines
        start_upgrade(emulator, "vmss-faulty")
        emulator.advance(61)  # the first batch fails -> Faulted by policy
        event = payload(await run.event(timeout=10))
        while event["status"] != "Faulted":   # a round may have read it between the start and the jump
            event = payload(await run.event(timeout=10))
        queued_at = time.time()
        read_at = [r["time"] for r in emulator.requests if r["path"].endswith("/vmss-faulty" + LATEST)][-1]
        slow = len([r for r in emulator.requests if r["fault"] == "slow"])
        slow_end = (await run.requests(slow + 1, "/vmss-done" + LATEST, timeout=10))[-1]["time"]  # the next one
        return event, read_at, queued_at, slow_end

    event, read_at, queued_at, slow_end = run_source(args, body)
    assert (event["name"], event["status"]) == ("vmss-faulty", "Faulted")
    # Queued while the round's slow read (started with the fault's read, ``delay`` long) went on: the next slow read
    # to end had begun before the event was queued (a round's events queued at its end would come ``interval`` before
    # the next round's slow read begins).
    assert slow_end - delay < queued_at + interval / 2 and queued_at < slow_end
    assert read_at <= queued_at < read_at + delay


def test_completion_is_reported_and_progress_alone_is_not_a_change(emulator, run_source):
    args = source_args(emulator, resource_group="rg-test", scale_sets=["vmss-healthy"])

    async def body(run):
        await run.requests(1, LATEST)
        start_upgrade(emulator, "vmss-healthy")
        seen = [payload(await run.event())["status"]]
        for _round in range(5):  # five batches of 60 sim s: progress moves, the status does not
            emulator.advance(60)
            await run.rounds(2, LATEST)
        seen.append(payload(await run.event())["status"])
        await run.rounds(3, LATEST)
        return seen, run.pending()

    seen, later = run_source(args, body)
    assert seen == ["RollingForward", "Completed"] and later == []


def test_emit_current_state_reports_each_scale_set_of_a_resource_group_once(emulator, run_source):
    args = source_args(emulator, resource_groups=["rg-test"], emit_current_state=True)

    async def body(run):
        first = [payload(await run.event()) for _round in range(2)]
        await run.rounds(3 * 5, LATEST)  # three more rounds over the five scale sets
        return first, run.pending()

    first, later = run_source(args, body)
    assert later == []
    assert sorted((e["name"], e["status"], e["previous_status"]) for e in first) == [
        ("vmss-done", "Completed", None), ("vmss-rolling", "RollingForward", None)]


def test_a_new_upgrade_that_ends_like_the_last_one_is_reported(emulator, run_source):
    args = source_args(emulator, resource_group="rg-test", scale_sets=["vmss-done"], interval=0.5)

    async def body(run):
        await run.requests(1, LATEST)  # baseline: Completed a day ago
        start_upgrade(emulator, "vmss-done")
        emulator.advance(600)  # started and completed within one interval
        return payload(await run.event())

    event = run_source(args, body)
    assert (event["status"], event["previous_status"]) == ("Completed", "Completed")


def test_scale_sets_that_appear_in_the_list_are_picked_up(emulator, run_source):
    scenario = {"name": "grow", "time_scale": 0.001, "subscriptions": [SUB],
                "scale_sets": [{"name": "web-01", "resource_group": "rg-web", "capacity": 2, "batch_seconds": 10}]}
    emulator.load(scenario)
    args = source_args(emulator, resource_groups=["rg-web"], list_interval=0)

    async def body(run):
        await run.requests(2, "/virtualMachineScaleSets/web-01" + LATEST)
        scenario["scale_sets"].append({"name": "web-02", "resource_group": "rg-web", "capacity": 2, "batch_seconds": 10})
        emulator.load(scenario)
        await run.requests(1, "/virtualMachineScaleSets/web-02" + LATEST)
        start_upgrade(emulator, "web-02", "rg-web")
        return payload(await run.event())

    event = run_source(args, body)
    assert (event["name"], event["status"]) == ("web-02", "RollingForward")


# -- vmss_extension_drift -----------------------------------------------------------------------------------------
CONTOSO = {"name": "ContosoAgent", "publisher": "Contoso", "type": "Agent", "typeHandlerVersion": "3.0",
           "autoUpgradeMinorVersion": True, "installed": "3.0.10"}


def drift_scenario(*versions):
    return {"name": "drift", "time_scale": 0.001, "subscriptions": [SUB],
            "extension_catalog": [{"publisher": "Contoso", "type": "Agent", "versions": list(versions)}],
            "scale_sets": [{"name": "web-01", "resource_group": "rg-web", "capacity": 3, "batch_seconds": 10,
                            "extensions": [CONTOSO]}]}


def test_drift_is_reported_when_a_newer_extension_version_is_published(emulator, run_source):
    emulator.load(drift_scenario("3.0.1", "3.0.10"))
    args = source_args(emulator, kinds=["vmss_extension_drift"], resource_group="rg-web", scale_sets=["web-01"],
                       list_interval=0)

    async def body(run):
        await run.requests(2, "/virtualMachines")  # baseline: Current, not reported
        assert run.pending() == []
        emulator.load(drift_scenario("3.0.1", "3.0.10", "3.1.0"))  # a newer version in reach of autoUpgradeMinorVersion
        event = await run.event()
        await run.rounds(3, "/virtualMachines")
        return event, run.pending()

    event, later = run_source(args, body)
    assert later == []
    assert event["meta"] == {"hosts": "web-01"}
    change = payload(event)
    assert (change["kind"], change["resource_group"], change["name"], change["status"], change["previous_status"]) == (
        "vmss_extension_drift", "rg-web", "web-01", "Outdated", "Current")
    assert (change["progress"]["outdated_instance_count"], change["progress"]["instance_count"]) == (3, 3)
    agent = change["progress"]["extensions"][0]
    assert (agent["name"], agent["model_version"], agent["target_version"], agent["instance_versions"]) == (
        "ContosoAgent", "3.0", "3.1.0", {"3.0.10": 3})


def test_drift_ends_when_an_extension_upgrade_moved_every_instance(emulator, run_source):
    args = source_args(emulator, kinds=["vmss_extension_drift", "vmss_rolling_upgrade"], resource_group="rg-test",
                       scale_sets=["vmss-healthy"])

    async def body(run):
        # The baseline is Outdated (instances 0, 2-8 behind): reported, not taken silently (a drift present at start).
        baseline = payload(await run.event())
        await run.requests(2, "/virtualMachines")
        start_upgrade(emulator, "vmss-healthy")
        started = payload(await run.event())
        emulator.advance(301)  # five batches of 60 sim s
        ended = [payload(await run.event()) for _round in range(2)]
        await run.rounds(3, "/virtualMachines")
        return baseline, started, ended, run.pending()

    baseline, started, ended, later = run_source(args, body)
    assert later == []
    assert (baseline["kind"], baseline["status"], baseline["previous_status"]) == ("vmss_extension_drift", "Outdated", None)
    assert (started["kind"], started["status"]) == ("vmss_rolling_upgrade", "RollingForward")
    by_kind = {change["kind"]: change for change in ended}
    assert by_kind["vmss_rolling_upgrade"]["status"] == "Completed"
    current = by_kind["vmss_extension_drift"]
    assert (current["status"], current["previous_status"]) == ("Current", "Outdated")
    assert current["progress"]["outdated_instance_count"] == 0
    health = current["progress"]["extensions"][0]
    assert (health["target_version"], health["unknown_instance_count"]) == ("1.1.3", 1)  # instance 9 is deallocated


# -- adu_import ---------------------------------------------------------------------------------------------
ADU_SCENARIO = {
    "name": "adu", "time_scale": 0.001, "subscriptions": [SUB],
    "adu_instances": [{"instance_id": "blue", "import_seconds": 30, "operations": [
        {"id": "op-ok", "provider": "Contoso", "name": "Sensor", "version": "1.0.0", "running_seconds": 60,
         "result": "Succeeded"},
        {"id": "op-bad", "provider": "Contoso", "name": "Sensor", "version": "1.0.1", "running_seconds": 120,
         "result": "Failed"},
        {"id": "op-old", "provider": "Contoso", "name": "Sensor", "version": "0.9.0", "created_seconds_ago": 3600,
         "result": "Failed"}]}],
}


def test_device_update_imports_report_their_outcome_once(emulator, run_source):
    emulator.load(ADU_SCENARIO)
    args = source_args(emulator, adu_endpoint=emulator.host, adu_instance_id="blue")

    async def body(run):
        return await run.after_each_advance("/updates/operations", [61, 60])

    (ok, bad), later = run_source(args, body)
    assert later == []  # op-old failed before the start: history, not a change
    assert ok["meta"] == {"hosts": "blue"}
    ok, bad = payload(ok), payload(bad)
    assert (ok["kind"], ok["name"], ok["status"], ok["previous_status"]) == ("adu_import", "blue", "Succeeded", "Running")
    assert ok["progress"]["operation_id"] == "op-ok" and ok["progress"]["update_id"]["version"] == "1.0.0"
    assert (bad["status"], bad["previous_status"], bad["progress"]["operation_id"]) == ("Failed", "Running", "op-bad")
    assert bad["error"]["code"] == "CannotProcessImportManifest"
    # each operation that ended was read once, then forgotten
    gets = [r["path"] for r in emulator.requests if r["path"].endswith(("/op-ok", "/op-bad"))]
    assert sorted(gets) == ["/deviceUpdate/blue/updates/operations/op-bad", "/deviceUpdate/blue/updates/operations/op-ok"]


def test_an_import_started_after_the_start_is_followed_to_its_end(emulator, run_source):
    emulator.load(ADU_SCENARIO)
    args = source_args(emulator, adu_endpoint=emulator.host, adu_instance_id="blue")

    async def body(run):
        await run.requests(1, "/updates/operations")
        client = client_for(emulator)
        _adu.connect(client, emulator.host)
        client.request("POST", "https://%s/deviceUpdate/blue/updates:import" % emulator.host,
                       params={"api-version": "2022-10-01"}, scope="adu", expected=(202,), starts_operation=True,
                       body=[{"importManifest": {"url": "https://contoso.blob/m.json", "sizeInBytes": 1,
                                                 "hashes": {"sha256": "x"}}}])
        await run.rounds(2, "/updates/operations")  # seen NotStarted: no event
        emulator.advance(40)  # runs 30 s after 2 s NotStarted
        first = payload(await run.event())
        return first

    event = run_source(args, body)
    assert (event["status"], event["previous_status"]) == ("Succeeded", "NotStarted")  # last seen before the jump
    assert event["progress"]["operation_id"] not in ("op-ok", "op-bad", "op-old")


# -- aks_operation -------------------------------------------------------------------------------------------
def test_aks_operations_report_failure_and_success(emulator, run_source):
    args = source_args(emulator, resource_group="rg-test", aks_clusters=["aks-test"])

    async def body(run):
        return await run.after_each_advance("/managedClusters/aks-test/operations", [31, 30])

    (failed, succeeded), later = run_source(args, body)
    assert later == []
    assert failed["meta"] == {"hosts": "aks-test"}
    failed, succeeded = payload(failed), payload(succeeded)
    assert (failed["kind"], failed["resource_group"], failed["name"]) == ("aks_operation", "rg-test", "aks-test")
    assert (failed["status"], failed["previous_status"]) == ("Failed", "InProgress")
    assert failed["progress"]["operation_id"] == "00000000-0000-0000-0000-0000000000a2"
    assert failed["error"]["code"] == "ReconcileAgentPoolIdentityError"
    assert (succeeded["status"], succeeded["progress"]["operation_id"]) == ("Succeeded", "00000000-0000-0000-0000-0000000000a1")
    assert succeeded["progress"]["percent_complete"] == 100


# -- throttling, failed reads, tokens --------------------------------------------------------------------------------
def test_a_throttled_read_is_retried_and_the_change_still_reported(emulator, run_source):
    args = source_args(emulator, resource_group="rg-test", scale_sets=["vmss-faulty"])

    async def body(run):
        await run.requests(1, LATEST)
        start_upgrade(emulator, "vmss-faulty")
        emulator.add_fault({"name": "throttle", "match": {"method": "GET", "path_regex": "rollingUpgrades/latest$"},
                            "action": {"status": 429, "retry_after_ms": 20}, "times": 2})
        return payload(await run.event())

    event = run_source(args, body)
    assert event["status"] == "RollingForward"
    throttled = [r for r in emulator.requests if r["fault"] == "throttle"]
    assert [r["status"] for r in throttled] == [429, 429]


def test_reads_failing_for_whole_rounds_are_logged_once_and_the_source_goes_on(emulator, run_source, caplog):
    caplog.set_level(logging.INFO, logger="azure_ops.rollout.operation_events")
    args = source_args(emulator, resource_group="rg-test", scale_sets=["vmss-faulty"], interval=0.01)

    async def body(run):
        await run.requests(1, LATEST)
        emulator.add_fault({"name": "busy", "match": {"method": "GET", "path_regex": "rollingUpgrades/latest$"},
                            "action": {"status": 503, "retry_after_ms": 1}, "times": 12})
        start_upgrade(emulator, "vmss-faulty")
        event = payload(await run.event(timeout=10))
        return event

    event = run_source(args, body)
    assert event["status"] == "RollingForward"
    assert len([r for r in emulator.requests if r["fault"] == "busy"]) == 12  # three rounds of four attempts
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings  # the same problem is logged once
    assert "reading scale set rg-test/vmss-faulty failed (the source goes on): Azure returned 503" in warnings[0]
    assert any("reading scale set rg-test/vmss-faulty works again" in r.getMessage() for r in caplog.records)


def test_a_missing_scale_set_is_logged_and_the_others_are_still_watched(emulator, run_source, caplog):
    args = source_args(emulator, resource_group="rg-test", scale_sets=["vmss-gone", "vmss-faulty"])

    async def body(run):
        await run.requests(1, "/vmss-faulty" + LATEST)
        start_upgrade(emulator, "vmss-faulty")
        return payload(await run.event())

    assert run_source(args, body)["name"] == "vmss-faulty"
    assert any("rg-test/vmss-gone failed" in r.getMessage() and "ResourceNotFound" in r.getMessage() for r in caplog.records)


def test_one_token_per_plane_reused_and_an_expired_token_replaced_mid_run(emulator, run_source):
    emulator.load(dict(ADU_SCENARIO, scale_sets=[{"name": "web-01", "resource_group": "rg-test", "capacity": 2}]))
    args = source_args(emulator, resource_group="rg-test", scale_sets=["web-01"], adu_endpoint=emulator.host,
                       adu_instance_id="blue")

    async def body(run):
        await run.requests(10, LATEST)
        tokens_before = emulator.issued_tokens_count()
        emulator.add_fault({"name": "expire", "match": {"path_regex": "rollingUpgrades/latest$"},
                            "action": {"expire_tokens": True}, "times": 1})
        await run.rounds(3, LATEST)
        emulator.advance(61)
        event = payload(await run.event())
        return tokens_before, event

    tokens_before, event = run_source(args, body)
    assert tokens_before == 2  # ARM and Device Update, reused across ten rounds
    assert event["status"] == "Succeeded"  # the Device Update plane works after both tokens expired
    assert emulator.issued_tokens_count() == 4  # each plane got a new one, once
    refused = [r for r in emulator.requests if r["status"] == 401]
    assert len(refused) == 2 and all(r["fault"] in ("expire", None) for r in refused)


def test_a_token_is_refreshed_before_it_expires(emulator, run_source):
    # A token of 300 s is inside the 300 s refresh margin as soon as a second has begun to pass: the next round's read
    # must take a new one, long before this one expires (Azure's lifetimes are whole seconds).
    emulator.load({"name": "short", "time_scale": 0.001, "subscriptions": [SUB], "identity": {"token_lifetime": 300},
                   "scale_sets": [{"name": "web-01", "resource_group": "rg-test", "capacity": 2}]})
    args = source_args(emulator, resource_group="rg-test", scale_sets=["web-01"], interval=0.2)

    async def body(run):
        return await run.rounds(3, LATEST)

    run_source(args, body)
    assert emulator.issued_tokens_count() >= 2
    assert all(r["status"] != 401 for r in emulator.requests)


# -- the event loop and cancellation ----------------------------------------------------------------------------
def test_reads_run_off_the_event_loop(emulator, run_source):
    emulator.add_fault({"match": {"path_regex": "rollingUpgrades/latest$"}, "action": {"delay": 0.5}, "times": 1})
    args = source_args(emulator, resource_group="rg-test", scale_sets=["vmss-done"])

    async def body(run):
        ticks = 0
        end = asyncio.get_running_loop().time() + 0.5
        while asyncio.get_running_loop().time() < end:
            await asyncio.sleep(0.01)
            ticks += 1
        return ticks

    assert run_source(args, body) >= 25  # the loop kept turning while a read was stuck for 0.5 s


def test_cancellation_ends_the_source_and_its_worker_at_once_even_during_a_long_retry_wait(emulator, run_source):
    emulator.add_fault({"name": "slow-down", "match": {"path_regex": "rollingUpgrades/latest$"},
                        "action": {"status": 429, "retry_after": 30}})
    args = source_args(emulator, resource_group="rg-test", scale_sets=["vmss-done"])

    async def body(run):
        await run.requests(1, LATEST)  # the worker now waits 30 s before its retry
        began = time.monotonic()
        await run.stop()
        return time.monotonic() - began

    began = time.monotonic()
    stopped_in = run_source(args, body)
    total = time.monotonic() - began  # asyncio.run waits for the worker thread to end
    assert stopped_in < 0.5 and total < 3
    assert len([r for r in emulator.requests if r["fault"] == "slow-down"]) == 1  # no retry after the cancel


def test_bad_arguments_end_the_source_at_start_before_any_request(emulator, run_source):
    args = source_args(emulator, scale_sets=["vmss-faulty"], interval="often")

    async def body(run):
        return await run.event()

    with pytest.raises(ArgumentError) as info:
        run_source(args, body)
    assert str(info.value) == ("azure_ops.rollout.operation_events: invalid arguments: scale_sets[0] is a bare name "
                               "(vmss-faulty): set resource_group, or give {resource_group, name}; interval must be a "
                               "number of seconds, got 'often'")
    assert emulator.requests == []


# -- documentation -------------------------------------------------------------------------------------------
def test_the_documented_options_are_exactly_the_accepted_arguments(source):
    import yaml

    from ansible_collections.azure_ops.rollout.plugins.doc_fragments.azure import ModuleDocFragment
    from ansible_collections.azure_ops.rollout.plugins.module_utils import _events

    doc = yaml.safe_load(source["DOCUMENTATION"])
    assert doc["extends_documentation_fragment"] == ["azure_ops.rollout.azure"]
    documented = set(doc["options"]) | set(yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"])
    assert documented == set(_events.AUTH_ARGS + _events.SOURCE_ARGS)
    assert doc["options"]["kinds"]["choices"] == list(_events.KINDS)
    for example in yaml.safe_load(source["EXAMPLES"]):
        for entry in example["sources"]:
            _events.validate_args(dict(entry[_events.SOURCE_NAME], subscription_id=SUB, client_id="c", secret="s",
                                       tenant="t"), environ={})


# -- loading ---------------------------------------------------------------------------------------------------
def _run_by_path(path, cwd):
    """Load the source file as ansible-rulebook does (runpy.run_path), in a fresh interpreter with a bare sys.path."""
    code = "import runpy, sys; print(runpy.run_path(sys.argv[1])['events_utils'].__file__)"
    return subprocess.run([sys.executable, "-c", code, str(path)], cwd=str(cwd), env={"PATH": os.environ["PATH"]},
                          capture_output=True, text=True, timeout=60, check=False)


def test_run_by_path_from_a_collections_path_it_finds_the_collection_module_utils(source, tmp_path):
    proc = _run_by_path(source["__file__"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    # <collections path>/ansible_collections/azure_ops/rollout/plugins/module_utils/_events.py, through the same path
    assert proc.stdout.strip() == str(Path(source["__file__"]).parents[4] / "plugins" / "module_utils" / "_events.py")


def test_run_by_path_outside_an_installed_collection_it_says_so(source, tmp_path):
    stray = tmp_path / "a" / "b" / "c" / "d" / "operation_events.py"
    stray.parent.mkdir(parents=True)
    shutil.copy(source["__file__"], stray)
    proc = _run_by_path(stray, tmp_path)
    assert proc.returncode != 0
    assert ("ImportError: azure_ops.rollout.operation_events must run from an installed collection "
            "(<path>/ansible_collections/azure_ops/rollout); it is at %s" % stray.parent) in proc.stderr
