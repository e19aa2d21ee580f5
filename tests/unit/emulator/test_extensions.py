"""Extension versions: the model, the VM list with instance views, the catalog, and upgrades moving versions."""

import pytest

from tests.emulator import fleet, load_scenario
from tests.emulator.compute import DEFAULT_EXTENSIONS
from tests.emulator.extensions import Catalog, normalize, version_key

SUB = "00000000-0000-0000-0000-000000000001"

CATALOG = ("/subscriptions/%s/providers/Microsoft.Compute/locations/%s/publishers/%s/artifacttypes/vmextension/types/%s/versions"
           "%s?api-version=2024-07-01")


def _catalog(client, location="eastus", publisher="Microsoft.ManagedServices", ext_type="ApplicationHealthLinux", tail=""):
    return client.get(CATALOG % (SUB, location, publisher, ext_type, tail))


def _vms(client, name, rg="rg-test", expand=True):
    """Every VM of a scale set, following nextLink; returns (vms, pages, next links)."""
    url = client.vmss(name, "/virtualMachines", rg) + ("&$expand=instanceView" if expand else "")
    vms, links = [], []
    while url:
        body = client.get(url).json()
        vms += body["value"]
        url = body.get("nextLink")
        if url:
            links.append(url)
    return vms, len(links) + 1, links


def _installed(vm, ext_name):
    view = vm["properties"]["instanceView"]
    if "extensions" not in view or view["extensions"] is None:
        return None
    return {e["name"]: e["typeHandlerVersion"] for e in view["extensions"]}.get(ext_name)


def _versions(client, name, ext_name="HealthExtension", rg="rg-test"):
    return [_installed(vm, ext_name) for vm in _vms(client, name, rg)[0]]


def test_model_extensions(client):
    model = client.get(client.vmss("vmss-healthy")).json()
    exts = model["properties"]["virtualMachineProfile"]["extensionProfile"]["extensions"]
    assert [e["name"] for e in exts] == ["HealthExtension", "CustomScript"]
    assert exts[1]["properties"] == {"publisher": "Microsoft.Azure.Extensions", "type": "CustomScript", "typeHandlerVersion": "2.1",
                                     "autoUpgradeMinorVersion": False, "enableAutomaticUpgrade": False,
                                     "provisioningState": "Succeeded"}
    assert "installed" not in str(model)


def test_vm_list_with_instance_view(client):
    vms, pages = _vms(client, "vmss-healthy")[:2]
    assert pages == 1 and [vm["instanceId"] for vm in vms] == [str(i) for i in range(10)]
    first = vms[0]
    assert first["type"] == "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
    assert first["id"].endswith("/virtualMachineScaleSets/vmss-healthy/virtualMachines/0")
    assert first["properties"]["latestModelApplied"] is True
    view = first["properties"]["instanceView"]
    assert [(e["name"], e["type"], e["typeHandlerVersion"]) for e in view["extensions"]] == [
        ("HealthExtension", "Microsoft.ManagedServices.applicationHealthLinux", "1.0.9"),
        ("CustomScript", "Microsoft.Azure.Extensions.customScript", "2.1.10")]
    assert [h["type"] for h in view["vmAgent"]["extensionHandlers"]] == [e["type"] for e in view["extensions"]]
    assert [_installed(vm, "HealthExtension") for vm in vms] == ["1.0.9", "1.1.3"] + ["1.0.9"] * 7 + [None]
    deallocated = vms[9]["properties"]["instanceView"]
    assert "extensions" not in deallocated and "vmAgent" not in deallocated
    assert deallocated["statuses"][1]["code"] == "PowerState/deallocated"
    plain = _vms(client, "vmss-healthy", expand=False)[0]
    assert all("instanceView" not in vm["properties"] for vm in plain)


def test_vm_list_pages_with_absolute_next_links(emulator, client):
    data = load_scenario("default")
    data["page_size"] = 3
    emulator.load(data)
    vms, pages, links = _vms(client, "vmss-healthy")
    assert pages == 4 and len(vms) == 10 and len({vm["instanceId"] for vm in vms}) == 10
    assert all(link.startswith(emulator.base_url + "/subscriptions/") and "$skiptoken=" in link
               and "$expand=instanceView" in link and "api-version=2024-07-01" in link for link in links)
    assert all("instanceView" in vm["properties"] for vm in vms)


def test_one_vm_and_its_instance_view(client):
    vm = client.get(client.vmss("vmss-healthy", "/virtualMachines/1")).json()
    assert vm["instanceId"] == "1" and "instanceView" not in vm["properties"]
    view = client.get(client.vmss("vmss-healthy", "/virtualMachines/1/instanceView")).json()
    assert view["extensions"][0]["typeHandlerVersion"] == "1.1.3"
    resp = client.get(client.vmss("vmss-healthy", "/virtualMachines/10"))
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "ResourceNotFound"
    assert client.post(client.vmss("vmss-healthy", "/virtualMachines")).status_code == 405


def test_agent_not_ready_reports_null_extensions(emulator, client):
    emulator.load({"scale_sets": [{"name": "s", "resource_group": "rg", "capacity": 2, "agent_not_ready_instances": [1]}]})
    vms = _vms(client, "s", rg="rg")[0]
    view = vms[1]["properties"]["instanceView"]
    assert view["extensions"] is None and view["vmAgent"]["extensionHandlers"] is None
    assert _installed(vms[0], "HealthExtension") == "1.0.0"


def test_catalog_is_a_bare_array_in_no_numeric_order(client):
    resp = _catalog(client)
    body = resp.json()
    assert resp.status_code == 200 and isinstance(body, list)
    names = [item["name"] for item in body]
    assert sorted(names, key=version_key) != names and names.index("1.0.10") < names.index("1.0.9")
    assert set(body[0]) == {"location", "name", "id"} and body[0]["location"] == "eastus"
    assert body[0]["id"].endswith("/Types/ApplicationHealthLinux/Versions/" + body[0]["name"])
    client.emu.set_throttling(True)      # in no published Compute category: counted by ARM alone when the limits are on
    try:
        headers = _catalog(client).headers
        assert "x-ms-ratelimit-remaining-resource" not in headers and "x-ms-ratelimit-remaining-subscription-reads" in headers
    finally:
        client.emu.set_throttling(False)
    # Per location: westeurope does not list 1.1.3 yet.
    assert "1.1.3" in names and "1.1.3" not in [i["name"] for i in _catalog(client, "WestEurope").json()]
    # Case-insensitive publisher and type, one version by name, unknown ones 404.
    lower = _catalog(client, publisher="microsoft.managedservices", ext_type="applicationhealthlinux").json()
    assert [i["name"] for i in lower] == names
    assert _catalog(client, tail="/1.0.10").json()["name"] == "1.0.10"
    assert _catalog(client, tail="/9.9.9").status_code == 404
    assert _catalog(client, ext_type="NoSuchType").status_code == 404


def test_scenario_catalog_overrides_and_empty_lists(emulator, client):
    emulator.load({"extension_catalog": [{"publisher": "Contoso", "type": "Agent", "versions": ["3.0.1", "3.0.10", "3.0.2"]},
                                         {"publisher": "Contoso", "type": "Agent", "versions": [], "locations": ["westus"]}],
                   "scale_sets": [{"name": "s", "resource_group": "rg"}]})
    assert [i["name"] for i in _catalog(client, publisher="Contoso", ext_type="Agent").json()] == ["3.0.1", "3.0.10", "3.0.2"]
    assert _catalog(client, "westus", "Contoso", "Agent").json() == []


def test_extension_upgrade_moves_versions_batch_by_batch(emulator, client):
    before = _versions(client, "vmss-healthy")
    client.post(client.vmss("vmss-healthy", "/extensionRollingUpgrade"))
    assert _versions(client, "vmss-healthy") == before
    emulator.advance(61)   # batch 1 (instances 0, 2: instance 1 is current and not batched) done
    assert _versions(client, "vmss-healthy") == ["1.1.3"] * 3 + ["1.0.9"] * 6 + [None]
    emulator.advance(240)  # all done
    assert _versions(client, "vmss-healthy") == ["1.1.3"] * 9 + [None]
    # The minor-pinned CustomScript stays on its 2.1 target although 2.2.1 is listed.
    assert set(_versions(client, "vmss-healthy", "CustomScript")) == {"2.1.10", None}


def test_failing_instances_keep_the_old_version(emulator, client):
    emulator.load({"scale_sets": [{"name": "f", "resource_group": "rg", "capacity": 10, "batch_seconds": 60, "failing_instances": [3],
                                   "rolling_upgrade_policy": {"maxUnhealthyUpgradedInstancePercent": 50}}]})
    client.post(client.vmss("f", "/extensionRollingUpgrade", "rg"))
    emulator.advance(400)
    assert client.get(client.vmss("f", "/rollingUpgrades/latest", "rg")).json()["properties"]["runningStatus"]["code"] == "Completed"
    versions = _versions(client, "f", rg="rg")
    assert versions[3] == "1.0.0" and versions[:3] + versions[4:] == ["1.1.3"] * 9


def test_faulted_upgrade_moves_only_the_batches_it_did(emulator, client):
    client.post(client.vmss("vmss-faulty", "/extensionRollingUpgrade"))
    emulator.advance(400)
    # Batch 1 (0 and 1) failed and the upgrade faulted: nothing moved.
    assert set(_versions(client, "vmss-faulty")) == {"1.0.0"}


def test_os_upgrade_does_not_move_extensions(emulator, client):
    client.post(client.vmss("vmss-never", "/osRollingUpgrade"))
    emulator.advance(400)
    assert set(_versions(client, "vmss-never")) == {"1.0.0"}


def test_a_later_upgrade_starts_from_what_the_previous_one_left(emulator, client):
    client.post(client.vmss("vmss-healthy", "/extensionRollingUpgrade"))
    emulator.advance(90)   # batch 1 (0, 2) done, batch 2 (3, 4) running
    client.post(client.vmss("vmss-healthy", "/rollingUpgrades/cancel"))
    emulator.advance(10)
    after_cancel = _versions(client, "vmss-healthy")
    assert after_cancel[:5] == ["1.1.3"] * 5 and after_cancel[5] == "1.0.9"  # the in-flight batch finished
    client.post(client.vmss("vmss-healthy", "/osRollingUpgrade"))
    emulator.advance(400)
    assert _versions(client, "vmss-healthy") == after_cancel


def test_scenario_upgrade_already_running_moves_only_later_batches(emulator, client):
    assert set(_versions(client, "vmss-rolling")) == {"1.0.0"}
    emulator.advance(900)
    assert set(_versions(client, "vmss-rolling")) == {"1.1.3"}
    assert set(_versions(client, "vmss-done")) == {"1.1.3"}   # current from the start


def _behind(vmss, spec, catalog):
    """Whether any reporting instance of a state() scale set runs less than the emulator's target."""
    model = {e["name"]: normalize(e) for e in spec.get("extensions") or DEFAULT_EXTENSIONS}
    for name, versions in vmss["extension_versions"].items():
        target = catalog.target(vmss["location"], model[name])
        if target and any(v is not None and version_key(v) < version_key(target) for v in versions):
            return True
    return False


@pytest.mark.parametrize("scenario", ["default", "demo", "fleet"])
def test_bundled_scenarios_have_drift(emulator, scenario):
    data = fleet(30, fault_every=10) if scenario == "fleet" else load_scenario(scenario)
    emulator.load(data)
    specs = {s["name"]: s for s in data["scale_sets"]}
    catalog = Catalog(data.get("extension_catalog"))
    state = {s["name"]: s for s in emulator.state()["scale_sets"]}
    behind = {name for name, vmss in state.items() if _behind(vmss, specs[name], catalog)}
    current = set(state) - behind
    assert behind and current
    if scenario == "default":
        assert current == {"vmss-done"}
    if scenario == "demo":
        rings = {name: vmss["tags"]["ring"] for name, vmss in state.items()}
        # hack/demo.sh's outcome: canary and ring1 upgrade but for web-r1-eus-02, current (the rollout skips it),
        # api-r1-weu-02 faults, ring2 never starts.
        assert {n for n, r in rings.items() if r in ("canary", "ring1")} - {"web-r1-eus-02"} <= behind
        assert "api-r1-weu-02" in behind
        assert current == {"web-r1-eus-02", "web-r2-eus-02", "api-r2-weu-03"}
        assert state["web-r2-eus-02"]["extension_versions"]["HealthExtension"].count(None) == 1
    if scenario == "fleet":
        faulting = {s["name"] for s in data["scale_sets"] if "fail_percent" in s}
        assert faulting <= behind
        assert current == {"vmss-%04d" % i for i in range(30) if (i + 1) % 3 == 0 and (i + 1) % 10}


# -- Flexible orchestration, resources[], $select, MaxSurge, only outdated instances batched ---------------------------
RG_VMS = "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01%s"
FLEX = {"name": "flex", "resource_group": "rg", "orchestration_mode": "Flexible", "capacity": 3, "batch_seconds": 10}


def _flex_vms(client, vmss_id, rg="rg", expand=True):
    query = "&$filter=" + "'virtualMachineScaleSet/id' eq '%s'" % vmss_id + ("&$expand=instanceView" if expand else "")
    return client.get(RG_VMS % (SUB, rg, query))


def test_flexible_model_says_so_and_refuses_the_scale_set_vm_apis(emulator, client):
    emulator.load({"scale_sets": [FLEX, {"name": "uni", "resource_group": "rg"}]})
    model = client.get(client.vmss("flex", "", "rg")).json()
    assert model["properties"]["orchestrationMode"] == "Flexible"
    assert client.get(client.vmss("uni", "", "rg")).json()["properties"]["orchestrationMode"] == "Uniform"
    for tail in ("/virtualMachines", "/virtualMachines/0", "/virtualMachines/0/instanceView"):
        resp = client.get(client.vmss("flex", tail, "rg"))
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "OperationNotAllowed", tail


def test_flexible_vms_are_listed_by_the_resource_group_filter_with_instance_views(emulator, client):
    emulator.load({"page_size": 2, "scale_sets": [FLEX, {"name": "uni", "resource_group": "rg"},
                                                  dict(FLEX, name="flex2", capacity=2)]})
    vmss_id = client.get(client.vmss("flex", "", "rg")).json()["id"]
    body = _flex_vms(client, vmss_id).json()
    vms = body["value"]
    body = client.get(body["nextLink"]).json()
    vms += body["value"]
    assert "nextLink" not in body and len(vms) == 3
    assert all(vm["name"].startswith("flex_") and len(vm["name"]) == len("flex_") + 8 for vm in vms)
    assert len({vm["name"] for vm in vms}) == 3
    for vm in vms:
        assert vm["type"] == "Microsoft.Compute/virtualMachines" and "instanceId" not in vm
        assert vm["id"].endswith("/providers/Microsoft.Compute/virtualMachines/" + vm["name"])
        assert vm["properties"]["virtualMachineScaleSet"]["id"] == vmss_id
        assert "latestModelApplied" not in vm["properties"]   # a scale-set VM property only
        assert _installed(vm, "HealthExtension") == "1.0.0"
        # resources[] carries the model's major.minor, not what runs
        assert vm["resources"][0]["properties"]["typeHandlerVersion"] == "1.0"
    # Without a filter: every Flexible VM of the group (never a Uniform instance); $expand needs the filter.
    everything, url = [], RG_VMS % (SUB, "rg", "")
    while url:
        page = client.get(url).json()
        everything, url = everything + page["value"], page.get("nextLink")
    assert sorted(vm["name"].split("_")[0] for vm in everything) == ["flex"] * 3 + ["flex2"] * 2
    assert client.get(RG_VMS % (SUB, "rg", "&$expand=instanceView")).status_code == 400
    assert client.get(RG_VMS % (SUB, "rg", "&$filter=name eq 'x'")).status_code == 400


def test_flexible_extension_upgrade_moves_the_vm_versions(emulator, client):
    emulator.load({"scale_sets": [FLEX]})
    vmss_id = client.get(client.vmss("flex", "", "rg")).json()["id"]
    assert client.post(client.vmss("flex", "/extensionRollingUpgrade", "rg")).status_code == 202
    emulator.advance(60)
    latest = client.get(client.vmss("flex", "/rollingUpgrades/latest", "rg")).json()
    assert latest["properties"]["runningStatus"]["code"] == "Completed"
    assert [_installed(vm, "HealthExtension") for vm in _flex_vms(client, vmss_id).json()["value"]] == ["1.1.3"] * 3


def test_select_instance_view_keeps_pages_small(emulator, client):
    full = client.get(client.vmss("vmss-healthy", "/virtualMachines") + "&$expand=instanceView").json()["value"][0]
    small = client.get(client.vmss("vmss-healthy", "/virtualMachines")
                       + "&$expand=instanceView&$select=instanceView").json()["value"][0]
    assert set(small) == {"name", "id", "instanceId", "properties"} and set(small["properties"]) == {"instanceView"}
    assert small["properties"]["instanceView"] == full["properties"]["instanceView"]
    assert full["properties"]["latestModelApplied"] is True
    assert [r["name"] for r in full["resources"]] == ["HealthExtension", "CustomScript"]
    assert full["resources"][0]["properties"]["typeHandlerVersion"] == "1.0"   # the model's, not the installed 1.0.9
    assert full["resources"][0]["type"] == "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/extensions"


def test_only_outdated_instances_are_batched(emulator, client):
    emulator.load({"scale_sets": [{"name": "p", "resource_group": "rg", "capacity": 10, "batch_seconds": 60,
                                   "extensions": [dict(DEFAULT_EXTENSIONS[0],
                                                       installed={"default": "latest", "3": "1.0.9", "7": "1.0.9"})]}]})
    client.post(client.vmss("p", "/extensionRollingUpgrade", "rg"))
    latest = client.get(client.vmss("p", "/rollingUpgrades/latest", "rg")).json()["properties"]["progress"]
    assert latest == {"successfulInstanceCount": 0, "failedInstanceCount": 0, "inProgressInstanceCount": 2,
                      "pendingInstanceCount": 0}
    emulator.advance(61)   # one batch of 2 (batches are 20% of 10), not 5
    latest = client.get(client.vmss("p", "/rollingUpgrades/latest", "rg")).json()["properties"]
    assert latest["runningStatus"]["code"] == "Completed" and latest["progress"]["successfulInstanceCount"] == 2
    assert set(_versions(client, "p", rg="rg")) == {"1.1.3"}


def test_max_surge_replaces_instances_with_new_ids(emulator, client):
    policy = {"maxSurge": True, "maxBatchInstancePercent": 50}
    emulator.load({"scale_sets": [{"name": "s", "resource_group": "rg", "capacity": 4, "batch_seconds": 60,
                                   "rolling_upgrade_policy": policy}]})
    client.post(client.vmss("s", "/extensionRollingUpgrade", "rg"))
    emulator.advance(30)   # batch 1 (0, 1): their new instances 4, 5 are being created
    vms = _vms(client, "s", "rg")[0]
    assert [vm["instanceId"] for vm in vms] == ["0", "1", "2", "3", "4", "5"]
    creating = [vm for vm in vms if vm["properties"]["provisioningState"] == "Creating"]
    assert [vm["instanceId"] for vm in creating] == ["4", "5"]
    assert creating[0]["properties"]["instanceView"]["statuses"][0]["code"] == "ProvisioningState/creating"
    latest = client.get(client.vmss("s", "/rollingUpgrades/latest", "rg")).json()["properties"]
    assert sum(latest["progress"].values()) == 4   # the counts never include the surge instances
    assert latest["policy"]["maxSurge"] is True
    emulator.advance(40)   # batch 1 done: 0 and 1 deleted
    assert [vm["instanceId"] for vm in _vms(client, "s", "rg")[0]] == ["4", "5", "2", "3", "6", "7"]
    emulator.advance(60)
    vms = _vms(client, "s", "rg")[0]
    assert [vm["instanceId"] for vm in vms] == ["4", "5", "6", "7"]
    assert [_installed(vm, "HealthExtension") for vm in vms] == ["1.1.3"] * 4
    assert client.get(client.vmss("s", "/virtualMachines/0", "rg")).status_code == 404
    assert client.get(client.vmss("s", "/virtualMachines/6", "rg")).status_code == 200


def test_latest_echoes_the_whole_policy(emulator, client):
    policy = {"maxBatchInstancePercent": 30, "enableCrossZoneUpgrade": True, "prioritizeUnhealthyInstances": True,
              "rollbackFailedInstancesOnPolicyBreach": True, "maxSurge": False}
    emulator.load({"scale_sets": [{"name": "s", "resource_group": "rg", "capacity": 4, "rolling_upgrade_policy": policy}]})
    client.post(client.vmss("s", "/osRollingUpgrade", "rg"))
    echoed = client.get(client.vmss("s", "/rollingUpgrades/latest", "rg")).json()["properties"]["policy"]
    assert echoed == dict(policy, maxUnhealthyInstancePercent=20, maxUnhealthyUpgradedInstancePercent=20,
                          pauseTimeBetweenBatches="PT0S")


def test_demo_and_fleet_include_flexible_scale_sets():
    demo = {v["name"]: v.get("orchestration_mode", "Uniform") for v in load_scenario("demo")["scale_sets"]}
    assert {name for name, mode in demo.items() if mode == "Flexible"} == {"web-canary-weu", "api-r2-weu-02"}
    modes = [v.get("orchestration_mode", "Uniform") for v in fleet(8)["scale_sets"]]
    assert modes == ["Uniform"] * 3 + ["Flexible"] + ["Uniform"] * 3 + ["Flexible"]
    assert all("orchestration_mode" not in v for v in fleet(8, flexible_every=None)["scale_sets"])
