# -*- coding: utf-8 -*-
"""The shared upgrade procedure as a batch step drives it: the drift decision and one catalog cache for many jobs."""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _drift, _engine, _fleet, _upgrade, _vmss

from tests.helpers import SUB, api_requests

DEFAULTS = {option: spec.get("default") for option, spec in _upgrade.DECISION_SPEC.items()}


def _job(client, name, cache=None, **params):
    job = _fleet.Job({"subscription_id": SUB, "resource_group": "rg-test", "name": name, "host": name},
                     dict(DEFAULTS, **params), client, check_mode=True)
    if cache is not None:
        job.catalog_cache = cache
    return job


def _catalog_reads(emulator):
    return len([r for r in api_requests(emulator) if r["path"].endswith("/versions")])


def test_plan_order_with_the_drift_input():
    running = {"running_status": {"code": "RollingForward", "start_time": None}}
    faulted = {"running_status": {"code": "Faulted", "start_time": None}, "error": None}
    assert _vmss.plan(running, "wait", outdated=False) == "attach"
    assert _vmss.plan(running, "fail", outdated=False) == "refuse"
    assert _vmss.plan(None, "wait", outdated=False) == "current"
    assert _vmss.plan(faulted, "wait", if_faulted="fail", outdated=False) == "current"
    assert _vmss.plan(faulted, "wait", if_faulted="fail", outdated=True) == "refuse"
    assert _vmss.plan(None, "wait", outdated=True) == "start"
    assert _vmss.plan(None, "wait", outdated=None) == "start"   # not checked (only_if_outdated=false)


def test_jobs_of_a_batch_share_one_catalog_cache(emulator, make_client):
    client = make_client()
    cache = _drift.CatalogCache()
    healthy = _engine.run_one(_job(client, "vmss-healthy", cache))
    done = _engine.run_one(_job(client, "vmss-done", cache))
    assert (healthy["action"], done["action"]) == ("start", "current") and not done["changed"]
    assert _catalog_reads(emulator) == 2 and cache.reads == 2   # HealthExtension (eastus) once, CustomScript once
    emulator.clear_requests()
    # Without a shared cache each job reads its own catalog.
    _engine.run_one(_job(client, "vmss-healthy"))
    _engine.run_one(_job(client, "vmss-done"))
    assert _catalog_reads(emulator) == 3


def test_a_job_reports_current_to_its_observer_and_honours_its_options(emulator, make_client):
    client = make_client()
    heard = []
    job = _job(client, "vmss-healthy", extensions=["CustomScript"])
    job.observer = lambda event, value: heard.append((event, value))
    result = _engine.run_one(job)
    assert result["action"] == "current" and heard == [("planned", "current")]
    result = _engine.run_one(_job(client, "vmss-done", only_if_outdated=False))
    assert result["action"] == "start" and result["extensions"] is None
    assert api_requests(emulator, "POST") == []
