# -*- coding: utf-8 -*-
"""playbooks/rollout/preflight.yml and the one ring play (fleet_preflight, _rings) against the emulator: any number
of rings from the inventory, unringed scale sets, settings that would be ignored, role variables of a wrong type or
name, failed inventory sources, and the status gate's contradictory settings."""
from __future__ import annotations

import yaml

from tests.helpers import PLAYBOOKS, posts, read_json, rows_by_name, scenario, vmss, write_inventory

ROLLOUT = PLAYBOOKS / "vmss_extension_rollout.yml"
STATUS = PLAYBOOKS / "fleet_status.yml"
START = "/extensionRollingUpgrade"


def _arm(emulator):
    return [e for e in emulator.requests if e["kind"] == "arm"]


def test_four_rings_from_the_inventory_in_order_and_an_unringed_scale_set(emulator, run_playbook, tmp_path):
    rings = ["blue", "green", "red", "white"]
    sets = [vmss("it-%s" % ring, ring) for ring in rings] + [vmss("it-white-2", "white"), vmss("it-stray", "unringed")]
    emulator.load(scenario(sets))
    reports = tmp_path / "inventory-reports"
    # Settings in the inventory's all vars (not -e), and a misspelled role variable.
    inv = write_inventory(tmp_path, sets, extra_vars={"rollout_rings": rings, "rollout_report_dir": str(reports),
                                                      "rollout_serial": 1, "vmss_extension_rollout_wait_timout": 5})
    # 1. A scale set in no ring stops the run before any request, naming it.
    result = run_playbook(ROLLOUT, inventory=inv, emulator=emulator).assert_failed()
    assert "1 scale set(s) of group vmss are in no ring of rollout_rings (it-stray)" in result.stdout
    assert _arm(emulator) == []
    refused = rows_by_name(read_json(reports / "vmss_extension_rollout.json"))  # the refused run's report lists it
    assert refused["it-stray"]["status"] == "NotRun" and refused["it-blue"]["status"] == "NotStarted"
    # 2. Listed as NotRun on request: four rings, in order, one scale set per batch, the report where the inventory
    # says; the typo is warned about.
    result = run_playbook(ROLLOUT, inventory=inv, emulator=emulator,
                          extra_vars={"rollout_unringed": "notrun"}).assert_ok()
    assert [path.split("/")[-2] for path in posts(emulator, START)] == [
        "it-blue", "it-green", "it-red", "it-white", "it-white-2"]
    assert "did you mean vmss_extension_rollout_wait_timeout?" in result.stdout + result.stderr
    # one play for the rings: Ansible prints its header once per batch
    assert result.stdout.count("PLAY [Roll out the rings in order]") == 5
    assert "Could not match supplied host pattern" not in result.stdout + result.stderr
    for ring in rings:
        assert "ring %s: 1 scale set" % ring in result.stdout
    rows = rows_by_name(read_json(reports / "vmss_extension_rollout.json"))
    assert rows["it-stray"]["status"] == "NotRun" and rows["it-stray"]["ring"] == ""
    assert [rows["it-%s" % ring]["ring"] for ring in rings] == rings
    assert all(rows["it-%s" % ring]["status"] == "Completed" for ring in rings)


def test_settings_in_the_scale_set_groups_vars_are_the_runs(emulator, run_playbook, tmp_path):
    """group_vars/vmss.yml (where the example inventory keeps the role's settings) sets the rings and the report."""
    sets = [vmss("it-blue", "blue"), vmss("it-green", "green")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    (inv / "group_vars").mkdir()
    group_vars = {"rollout_rings": ["blue", "green"], "rollout_report_dir": str(tmp_path / "vmss-reports")}
    (inv / "group_vars" / "vmss.yml").write_text(yaml.safe_dump(group_vars))
    run_playbook(ROLLOUT, inventory=inv, emulator=emulator, check=True).assert_ok()
    rows = rows_by_name(read_json(tmp_path / "vmss-reports" / "vmss_extension_rollout.json"))
    assert [rows["it-blue"]["ring"], rows["it-green"]["ring"]] == ["blue", "green"]


def test_a_faulting_ring_stops_the_later_rings_of_the_one_play(emulator, run_playbook, tmp_path):
    sets = [vmss("it-a", "canary"), vmss("it-b", "ring1", failing_instances=[0, 1]), vmss("it-c", "ring2")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    run_playbook(ROLLOUT, inventory=inv, emulator=emulator,
                 extra_vars={"rollout_report_dir": str(tmp_path / "r")}).assert_failed()
    assert [path.split("/")[-2] for path in posts(emulator, START)] == ["it-a", "it-b"]
    rows = rows_by_name(read_json(tmp_path / "r" / "vmss_extension_rollout.json"))
    assert rows["it-c"]["status"] == "NotStarted"


def test_default_report_dir_is_under_the_working_directory(emulator, run_playbook, tmp_path):
    sets = [vmss("it-a", "canary")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    work = tmp_path / "work"
    work.mkdir()
    result = run_playbook(ROLLOUT, inventory=inv, emulator=emulator, check=True, cwd=work,
                          extra_vars={"rollout_allow_empty_rings": True}).assert_ok()
    assert (work / "rollout-reports" / "vmss_extension_rollout.json").exists(), result.stdout
    assert not (PLAYBOOKS / "reports" / "vmss_extension_rollout.json").exists()


def test_settings_that_would_be_ignored_or_are_wrong_stop_the_run_in_one_line_each(emulator, run_playbook, tmp_path):
    sets = [vmss("it-a", "canary"), vmss("it-b", "ring1"), vmss("it-c", "ring2")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    (inv / "group_vars").mkdir()
    # A run-wide setting on one ring group: the scale sets disagree, the run cannot honour both; refused, naming it.
    (inv / "group_vars" / "ring1.yml").write_text(yaml.safe_dump({"rollout_report_dir": str(tmp_path / "elsewhere")}))
    result = run_playbook(ROLLOUT, inventory=inv, emulator=emulator).assert_failed()
    assert "rollout_report_dir differs between scale sets (unset on it-a, it-c; %r on it-b)" % str(
        tmp_path / "elsewhere") in result.stdout
    (inv / "group_vars" / "ring1.yml").unlink()
    # A wrong value: named with its variable.
    result = run_playbook(ROLLOUT, inventory=inv, emulator=emulator,
                          extra_vars={"rollout_unringed": "skip"}).assert_failed()
    assert "value of unringed must be one of: fail, notrun, got: skip (the rollout playbook sets option X from its " \
        "variable rollout_X" in result.stdout
    # A wrong type for every scale set: one line, not the role's whole argument spec per host.
    result = run_playbook(ROLLOUT, inventory=inv, emulator=emulator,
                          extra_vars={"vmss_extension_rollout_wait_timeout": "soon"}).assert_failed()
    fatal = [line for line in result.stdout.splitlines() if line.startswith("fatal:")]
    assert len(fatal) == 1 and len(fatal[0]) < 400, fatal
    assert "vmss_extension_rollout_wait_timeout" in fatal[0] and "for the whole run" in fatal[0]
    assert "argument_spec_data" not in result.stdout
    assert _arm(emulator) == []


def test_a_failed_inventory_source_fails_the_gate_and_the_rollout(emulator, run_playbook, tmp_path):
    sets = [vmss("it-a", "canary"), vmss("it-b", "ring1"), vmss("it-c", "ring2")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    broken = tmp_path / "broken.yml"
    broken.write_text("all:\n  children:\n    vmss:\n      hosts:\n        - [broken\n")
    for playbook, extra in ((STATUS, {"fleet_report_dir": str(tmp_path / "r")}),
                            (ROLLOUT, {"rollout_report_dir": str(tmp_path / "r")})):
        result = run_playbook(playbook, inventory=inv, emulator=emulator, extra_vars=extra,
                              args=("-i", str(broken))).assert_failed()
        assert "inventory source(s) %s could not be parsed" % broken in result.stdout
        assert "Gate passed" not in result.stdout
    assert _arm(emulator) == []


def test_the_gate_refuses_to_skip_the_drift_it_gates_on(emulator, run_playbook, tmp_path):
    sets = [vmss("it-a", "canary")]
    emulator.load(scenario(sets))
    inv = write_inventory(tmp_path, sets)
    result = run_playbook(STATUS, inventory=inv, emulator=emulator,
                          extra_vars={"fleet_drift": False, "fleet_fail_on_drift": True,
                                      "fleet_report_dir": str(tmp_path / "r")}).assert_failed()
    assert "fleet_fail_on_drift=true" in result.stdout and "fleet_drift=false" in result.stdout
    assert "Gate passed" not in result.stdout
    assert _arm(emulator) == []


def test_the_readme_credential_names_are_read_by_the_playbooks(emulator, run_playbook, tmp_path):
    """azure_client_secret / azure_tenant_id (the README's first example) are aliases of azure_secret / azure_tenant."""
    import os  # pylint: disable=import-outside-toplevel

    sets = [vmss("it-a", "canary")]
    emulator.load(scenario(sets))
    env = emulator.env()
    inv = write_inventory(tmp_path, sets, extra_vars={
        "azure_subscription_id": env["AZURE_SUBSCRIPTION_ID"], "azure_client_id": env["AZURE_CLIENT_ID"],
        "azure_client_secret": env["AZURE_CLIENT_SECRET"], "azure_tenant_id": env["AZURE_TENANT_ID"],
        "azure_resource_manager_endpoint": env["AZURE_RESOURCE_MANAGER_ENDPOINT"],
        "azure_authority_host": env["AZURE_AUTHORITY_HOST"]})
    clean = {k: "" for k in os.environ if k.startswith("AZURE_")}
    clean.update({"REQUESTS_CA_BUNDLE": env["REQUESTS_CA_BUNDLE"], "SSL_CERT_FILE": env["SSL_CERT_FILE"]})
    for playbook, extra in ((STATUS, {"fleet_report_dir": str(tmp_path / "r")}),
                            (ROLLOUT, {"rollout_report_dir": str(tmp_path / "r"), "rollout_allow_empty_rings": True})):
        result = run_playbook(playbook, inventory=inv, extra_vars=extra, env=clean, check=True).assert_ok()
        assert env["AZURE_CLIENT_SECRET"] not in result.stdout + result.stderr
    assert [e for e in emulator.requests if e["kind"] == "token"]
    # Without the secret (a name nothing reads), the run fails naming it instead of trying the machine's identity.
    hosts = yaml.safe_load((inv / "hosts.yml").read_text())
    hosts["all"]["vars"]["azure_clientsecret"] = hosts["all"]["vars"].pop("azure_client_secret")
    (inv / "hosts.yml").write_text(yaml.safe_dump(hosts))
    result = run_playbook(STATUS, inventory=inv, extra_vars={"fleet_report_dir": str(tmp_path / "r")}, env=clean,
                          check=True).assert_failed()
    assert "client_id given but secret (or x509_certificate_path) missing" in result.stdout
    assert "managed identity" not in result.stdout.split("client_id given")[0]
