# -*- coding: utf-8 -*-
"""Model rollouts (_model): the pure plan, health and stop rules, and the reads and manualupgrade against the
emulator's ``model`` scenario (tests/emulator/README.md, "Model rollouts")."""

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _lro, _model, _validation

from tests.helpers import SUB, api_requests

RG = "rg-model"
PARAMS = {"batch_size": None, "order": "unhealthy_first", "max_unhealthy_percent": None,
          "max_unhealthy_upgraded_percent": None}
LIMITS = {"max_unhealthy_percent": 20, "max_unhealthy_upgraded_percent": 20}


def _model_body(mode="Manual", rolling=None, extensions=("ApplicationHealthLinux",), flexible=False):
    policy = {"mode": mode}
    if rolling is not None:
        policy["rollingUpgradePolicy"] = rolling
    exts = [{"name": "e%d" % i, "properties": {"publisher": "Microsoft.ManagedServices", "type": kind,
                                               "typeHandlerVersion": "1.0"}} for i, kind in enumerate(extensions)]
    return {"properties": {"orchestrationMode": "Flexible" if flexible else "Uniform", "upgradePolicy": policy,
                           "virtualMachineProfile": {"extensionProfile": {"extensions": exts}}}}


def _vm(instance_id, latest=False, provisioning="succeeded", power="running", health="healthy", protected=False,
        zone=None, fault_domain=0, view=True):
    statuses = [{"code": "ProvisioningState/%s" % provisioning}]
    if power:
        statuses.append({"code": "PowerState/%s" % power})
    props = {"latestModelApplied": latest, "protectionPolicy": {"protectFromScaleSetActions": protected}}
    if view:
        props["instanceView"] = {"platformFaultDomain": fault_domain, "statuses": statuses}
        if health:
            props["instanceView"]["vmHealth"] = {"status": {"code": "HealthState/%s" % health}}
    vm = {"instanceId": str(instance_id), "properties": props}
    if zone:
        vm["zones"] = [zone]
    return vm


def _records(*vms, probe=True):
    return [_model.instance_record(vm, probe) for vm in vms]


# -- options -------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["3", "1", " 5 ", "20%", "100%", "1 %"])
def test_batch_size_rule_accepts(value):
    assert _model.MODEL_RULES["batch_size"].problem(value) is None


@pytest.mark.parametrize("value, words", [("0", "at least 1"), ("0%", "1% to 100%"), ("101%", "1% to 100%"),
                                          ("-1", "a number of instances"), ("half", "a number of instances"),
                                          ("2.5", "a number of instances")])
def test_batch_size_rule_refuses(value, words):
    assert words in _model.MODEL_RULES["batch_size"].problem(value)


def test_option_rules_name_the_option():
    found = _validation.problems({"batch_size": "0", "max_unhealthy_percent": 101, "health_timeout": 0,
                                  "pause_between_batches": -1, "max_unhealthy_upgraded_percent": 50}, _model.MODEL_RULES)
    assert [text.split()[0] for text in found] == ["batch_size", "pause_between_batches", "max_unhealthy_percent",
                                                   "health_timeout"]
    assert set(_model.MODEL_SPEC) == set(_model.MODEL_RULES) | {"order"}
    assert _model.MODEL_SPEC["order"]["choices"] == ["unhealthy_first", "spread", "name"]


def test_batch_size_defaults_to_the_rolling_policy_else_20_percent():
    rolling = _model_body("Rolling", {"maxBatchInstancePercent": 30})
    assert _model.batch_size(None, 10, rolling) == (3, "30% of 10 instances (the scale set's maxBatchInstancePercent)")
    assert _model.batch_size(None, 10, _model_body()) == (2, "20% of 10 instances (the default)")
    assert _model.batch_size("25%", 10, rolling) == (3, "25% of 10 instances (batch_size)")    # rounded up
    assert _model.batch_size("1%", 10)[0] == 1 and _model.batch_size("20%", 0)[0] == 1
    assert _model.batch_size("4", 10, rolling) == (4, "batch_size 4")


def test_limits_come_from_the_options_else_the_rolling_policy_else_20():
    rolling = _model_body("Rolling", {"maxUnhealthyInstancePercent": 10, "maxUnhealthyUpgradedInstancePercent": 5})
    assert _model.limits(PARAMS, rolling) == {"max_unhealthy_percent": 10, "max_unhealthy_upgraded_percent": 5}
    assert _model.limits(dict(PARAMS, max_unhealthy_percent=0), rolling)["max_unhealthy_percent"] == 0
    assert _model.limits(PARAMS, _model_body()) == {"max_unhealthy_percent": 20, "max_unhealthy_upgraded_percent": 20}


def test_model_reads():
    assert _model.health_probe(_model_body()) and _model.health_probe(_model_body(extensions=("ApplicationHealthWindows",)))
    assert not _model.health_probe(_model_body(extensions=("CustomScript",)))
    assert _model.refusal(_model_body()) is None
    refused = _model.refusal(_model_body(flexible=True))
    assert refused["code"] == "FlexibleNotSupported" and "latestModelApplied" in refused["message"]
    assert _model.upgrade_mode(_model_body("Automatic")) == "Automatic" and _model.rolling_policy(_model_body()) is None


# -- health --------------------------------------------------------------------------
@pytest.mark.parametrize("vm, probe, expected", [
    (_vm(0), True, ("healthy", "HealthState/healthy")),
    (_vm(0, health="unhealthy"), True, ("unhealthy", "HealthState/unhealthy")),
    (_vm(0, health="initializing"), True, ("unknown", "HealthState/initializing")),
    (_vm(0, health=None), True, ("unknown", "no vmHealth reported")),            # a probe that says nothing: not sure
    (_vm(0, health=None), False, ("healthy", "provisioned and running")),
    (_vm(0, provisioning="updating"), True, ("unknown", "provisioning updating")),
    (_vm(0, provisioning="failed/OSProvisioningTimedOut"), False, ("unhealthy", "provisioning failed")),
    (_vm(0, power="deallocated", health=None), False, ("unhealthy", "VM deallocated")),
    (_vm(0, power="deallocated", health="healthy"), True, ("unhealthy", "VM deallocated")),
    (_vm(0, power=None), False, ("unknown", "power state not reported")),
    (_vm(0, view=False), False, ("unknown", "no instance view")),
])
def test_instance_health(vm, probe, expected):
    assert _model.instance_health(vm, probe) == expected


def test_instance_record():
    record = _model.instance_record(_vm(4, latest=True, protected=True, zone="2", fault_domain=1), True)
    assert record == {"name": "4", "latest": True, "protected": True, "zone": "2", "fault_domain": 1,
                      "provisioning": "succeeded", "health": "healthy", "why": "HealthState/healthy"}
    vm = _vm(5)
    del vm["properties"]["latestModelApplied"]
    assert _model.instance_record(vm, True)["latest"] is None


# -- order and plan --------------------------------------------------------------------
def test_spread_takes_one_instance_per_zone_and_fault_domain_in_turn():
    records = _records(*[_vm(i, zone=str(1 + i // 4)) for i in range(8)])          # 0-3 in zone 1, 4-7 in zone 2
    assert [r["name"] for r in _model.order_instances(records, "spread")] == ["0", "4", "1", "5", "2", "6", "3", "7"]
    assert [r["name"] for r in _model.order_instances(records, "name")] == [str(i) for i in range(8)]
    by_domain = _records(*[_vm(i, fault_domain=0 if i < 3 else 1) for i in range(5)])
    assert [r["name"] for r in _model.spread(by_domain)] == ["0", "3", "1", "4", "2"]


def test_unhealthy_first_then_spread_and_ids_sort_as_numbers():
    records = _records(_vm(10), _vm(9, health="unhealthy"), _vm(2), _vm(11, provisioning="updating"), _vm(1))
    assert [r["name"] for r in _model.order_instances(records)] == ["9", "11", "1", "2", "10"]
    assert [r["name"] for r in _model.order_instances(records, "name")] == ["1", "2", "9", "10", "11"]


def test_plan_batches_the_outdated_and_leaves_protected_and_unknown_out():
    unknown = _vm(6)
    del unknown["properties"]["latestModelApplied"]
    records = _records(_vm(0), _vm(1, latest=True), _vm(2), _vm(3, protected=True), _vm(4, health="unhealthy"), _vm(5),
                       unknown, _vm(7, provisioning="updating"))
    planned = _model.plan(records, 2)
    assert planned == {"instance_count": 8, "outdated": ["4", "0", "2", "5"], "batches": [["4", "0"], ["2", "5"]],
                       "in_flight": ["7"], "protected": ["3"], "unknown": ["6"]}
    assert _model.plan(_records(_vm(0, latest=True)), 2)["batches"] == []
    assert _model.remaining(records) == ["0", "2", "3", "4", "5", "7"]


def test_plan_text_and_diff():
    planned = {"instance_count": 5, "outdated": ["0", "1", "2"], "batches": [["0", "1"], ["2"]], "in_flight": [],
               "protected": ["3"], "unknown": []}
    assert _model.plan_lines(planned, "20% of 5 instances (the default)") == [
        "3 instances not on the latest model, in batches of 20% of 5 instances (the default)",
        "batch 1: 0, 1", "batch 2: 2", "left as they are (protected from scale-set actions): 3"]
    diff = _model.diff(planned)
    assert diff["before"] == "0\n1\n2\n3\n" and "batch 2: 2\n" in diff["after"]
    empty = dict(planned, outdated=[], batches=[], protected=[])
    assert _model.plan_lines(empty) == ["nothing to upgrade: every instance is on the latest model"]
    assert _model.plan_lines(dict(empty, in_flight=["4"])) == ["being updated now (waited for, not sent again): 4"]


# -- gates and the stop rule ----------------------------------------------------------------
def test_verdict_of_a_batch():
    records = _records(_vm(0), _vm(1, health="unhealthy"), _vm(2, health="initializing"))
    found = _model.verdict(records, ["0", "1", "2", "7"])
    assert (found["healthy"], found["unhealthy"], found["unknown"]) == (["0"], ["1"], ["2", "7"])
    assert found["why"] == {"1": "HealthState/unhealthy", "2": "HealthState/initializing", "7": "not listed"}
    assert _model.batch_verdict(found) == "unknown" and not _model.settled(found) and _model.settled(found, True)
    assert _model.batch_verdict(_model.verdict(records, ["0", "1"])) == "unhealthy"
    assert _model.batch_verdict(_model.verdict(records, ["0"])) == "healthy"
    record = _model.batch_record(2, ["0", "1"], 100.0, 160.04, _model.verdict(records, ["0", "1"]), "Succeeded")
    assert record["duration"] == 60.0 and record["verdict"] == "unhealthy" and record["health"]["unhealthy"] == ["1"]


def test_judge_upgraded_share():
    records = _records(*[_vm(i, health="unhealthy" if i == 2 else "healthy") for i in range(10)])
    assert _model.judge(records, ["0", "1", "2", "3", "4"], LIMITS) is None            # 1 of 5 = 20 %, not more
    breach = _model.judge(records, ["0", "1", "2", "3"], LIMITS)                        # 1 of 4 = 25 %
    assert breach["rule"] == "max_unhealthy_upgraded_percent" and breach["instances"] == ["2"]
    assert breach["message"] == ("1 of 4 upgraded instances unhealthy (25%, more than max_unhealthy_upgraded_percent 20): "
                                 "2 (HealthState/unhealthy)")


def test_judge_does_not_blame_the_new_model_for_instances_unhealthy_before():
    records = _records(*[_vm(i, health="unhealthy" if i in (0, 5) else "healthy") for i in range(10)])
    assert _model.judge(records, ["0", "1"], LIMITS, unhealthy_before=["0"]) is None          # 0 was broken before
    breach = _model.judge(records, ["0", "1", "5"], LIMITS, unhealthy_before=["0"])           # 5 broke: 1 of 3
    assert breach["instances"] == ["5"] and breach["percent"] == 33.3
    assert _model.judge(records, ["0", "1"], dict(LIMITS, max_unhealthy_percent=10),
                        unhealthy_before=["0"])["rule"] == "max_unhealthy_percent"            # still counted among all


def test_judge_all_instances_share_and_unknown_counts_as_unhealthy():
    records = _records(*[_vm(i, health="initializing" if i in (7, 8, 9) else "healthy") for i in range(10)])
    breach = _model.judge(records, [], LIMITS)                                          # before the first batch
    assert breach["rule"] == "max_unhealthy_percent" and breach["percent"] == 30.0 and breach["instances"] == ["7", "8", "9"]
    assert _model.judge(records, [], dict(LIMITS, max_unhealthy_percent=30)) is None
    assert _model.judge(records[:9], ["9"], dict(LIMITS, max_unhealthy_percent=100))["instances"] == ["9"]   # gone


# -- against the emulator ----------------------------------------------------------------
@pytest.fixture
def model(emulator):
    emulator.load("model")
    emulator.clear_requests()
    return emulator


def _check(client, name, **params):
    return _model.check(client, SUB, RG, name, dict(PARAMS, **params))


def _wait(client, emulator, operation, seconds):
    emulator.advance(seconds)
    return _lro.fetch_operation_status(client, operation)[0]["status"]


def test_check_reads_the_model_and_one_vm_list(model, make_client):
    found = _check(make_client(), "vmss-manual")
    assert [(r["method"], r["path"].rsplit("/", 1)[-1]) for r in api_requests(model)] == [
        ("GET", "vmss-manual"), ("GET", "virtualMachines")]
    listed = api_requests(model)[1]
    assert listed["query"].get("$expand") == ["instanceView"] and "$select" not in listed["query"]
    assert found["upgrade_mode"] == "Manual" and found["probe"] and found["refusal"] is None and found["note"] is None
    assert found["unhealthy_before"] == []
    assert found["batch_size"] == 2 and found["batch_size_from"] == "20% of 10 instances (the default)"
    assert found["plan"]["batches"] == [["0", "1"], ["2", "3"], ["4", "5"], ["6", "7"], ["8", "9"]]
    assert {r["zone"] for r in found["instances"]} == {"1", "2", "3"}


def test_check_takes_the_rolling_policy(model, make_client):  # pylint: disable=unused-argument
    found = _check(make_client(), "vmss-rolling-model")
    assert found["note"].startswith("the upgrade policy is Rolling")
    assert found["batch_size"] == 3 and found["limits"] == {"max_unhealthy_percent": 10, "max_unhealthy_upgraded_percent": 5}
    assert found["plan"]["batches"] == [["0", "1", "2"], ["3"]]


def test_flexible_is_refused_before_any_instance_read(model, make_client):
    found = _check(make_client(), "vmss-flex-manual")
    assert found["refusal"]["code"] == "FlexibleNotSupported" and found["plan"]["batches"] == []
    assert len(api_requests(model)) == 1


def test_batches_with_health_gates_stop_on_unhealthy_upgraded(model, make_client):
    client = make_client()
    found = _check(client, "vmss-manual-sick")
    planned = found["plan"]
    assert planned["batches"] == [["7", "0"], ["1", "2"], ["3", "4"], ["5", "6"], ["8"]]     # unhealthy 7 first
    assert planned["protected"] == ["9"]
    assert _model.judge(found["instances"], [], found["limits"]) is None                    # 1 of 10 unhealthy
    assert found["unhealthy_before"] == ["7"]
    upgraded = []
    for batch in planned["batches"]:
        operation, _accepted = _model.start_batch(client, SUB, RG, "vmss-manual-sick", batch)
        assert _wait(client, model, operation, 61) == "Succeeded"
        upgraded += batch
        records = _model.read_instances(client, SUB, RG, "vmss-manual-sick", True)
        assert _model.settled(_model.verdict(records, batch))
        breach = _model.judge(records, upgraded, found["limits"], found["unhealthy_before"])
        if breach:
            break
    assert upgraded == ["7", "0", "1", "2"]
    assert breach["rule"] == "max_unhealthy_upgraded_percent" and breach["instances"] == ["2"]
    assert _model.remaining(records) == ["3", "4", "5", "6", "8", "9"]
    posts = api_requests(model, "POST")
    assert [r["path"].rsplit("/", 1)[-1] for r in posts] == ["manualupgrade"] * 2
    # A re-run plans the rest (and the protected instance is still left out).
    assert _check(client, "vmss-manual-sick")["plan"]["outdated"] == ["3", "4", "5", "6", "8"]


def test_health_gate_waits_for_a_slow_instance(model, make_client):
    client = make_client()
    operation, _accepted = _model.start_batch(client, SUB, RG, "vmss-manual-sick", ["3", "4"])
    assert _wait(client, model, operation, 61) == "InProgress"                  # 4 takes 300 s
    found = _model.verdict(_model.read_instances(client, SUB, RG, "vmss-manual-sick", True), ["3", "4"])
    assert found["healthy"] == ["3"] and found["unknown"] == ["4"] and not _model.settled(found)
    assert _wait(client, model, operation, 240) == "Succeeded"
    assert _model.verdict(_model.read_instances(client, SUB, RG, "vmss-manual-sick", True), ["3", "4"])["healthy"] == ["3", "4"]


def test_without_a_probe_health_is_provisioning_and_power(model, make_client):
    client = make_client()
    found = _check(client, "vmss-manual-noprobe")
    assert not found["probe"] and found["plan"]["outdated"][0] == "5"           # deallocated: unhealthy, first
    assert {r["name"]: r["why"] for r in found["instances"]}["5"] == "VM deallocated"
    first = found["plan"]["batches"][0]
    operation, _accepted = _model.start_batch(client, SUB, RG, "vmss-manual-noprobe", first)
    assert first == ["5", "0"] and _wait(client, model, operation, 61) == "Succeeded"
    records = _model.read_instances(client, SUB, RG, "vmss-manual-noprobe", False)
    assert _model.verdict(records, first)["unhealthy"] == ["5"]                 # still deallocated, now on the model
    assert _model.judge(records, first, LIMITS, found["unhealthy_before"]) is None
    operation, _accepted = _model.start_batch(client, SUB, RG, "vmss-manual-noprobe", ["2", "3"])
    assert _wait(client, model, operation, 61) == "Failed"
    records = _model.read_instances(client, SUB, RG, "vmss-manual-noprobe", False)
    found = _model.verdict(records, ["2", "3"])
    assert found["healthy"] == ["2"] and found["unhealthy"] == ["3"] and found["why"]["3"] == "provisioning failed"
    assert _model.remaining(records) == ["1", "3", "4"]


def test_a_model_change_during_a_rollout_makes_upgraded_instances_outdated_again(model, make_client):
    client = make_client()
    operation, _accepted = _model.start_batch(client, SUB, RG, "vmss-manual", ["0", "1"])
    _wait(client, model, operation, 121)
    # The rest, spread over the zones (2, 5, 8 are in zone 3; 3, 6, 9 in zone 1; 4, 7 in zone 2).
    assert _check(client, "vmss-manual")["plan"]["outdated"] == ["3", "4", "2", "6", "7", "5", "9", "8"]
    model.change_model("vmss-manual", {"sku": {"name": "Standard_D4s_v3"}})
    assert len(_check(client, "vmss-manual")["plan"]["outdated"]) == 10


def test_check_mode_text(model, make_client):  # pylint: disable=unused-argument
    found = _check(make_client(), "vmss-manual-sick", batch_size="4")
    assert _model.plan_lines(found["plan"], found["batch_size_from"]) == [
        "9 instances not on the latest model, in batches of batch_size 4", "batch 1: 7, 0, 1, 2", "batch 2: 3, 4, 5, 6",
        "batch 3: 8", "left as they are (protected from scale-set actions): 9"]


def test_a_rerun_after_a_lost_controller_waits_for_the_batch_in_flight(model, make_client):
    client = make_client()
    _model.start_batch(client, SUB, RG, "vmss-manual", ["0", "1"])      # the controller is gone after this
    model.advance(30)
    planned = _check(client, "vmss-manual")["plan"]
    assert planned["in_flight"] == ["0", "1"] and "0" not in planned["outdated"]
    assert [b for batch in planned["batches"] for b in batch] == planned["outdated"] and len(planned["outdated"]) == 8
    model.advance(100)
    planned = _check(client, "vmss-manual")["plan"]
    assert planned["in_flight"] == [] and len(planned["outdated"]) == 8
