# -*- coding: utf-8 -*-
"""vmss_rolling_upgrade_info against the emulator."""


# -- the info module ----------------------------------------------------------------------------------
def test_info_running(run_module):
    failed, result = run_module("vmss_rolling_upgrade_info", resource_group="rg-test", name="vmss-rolling")
    assert not failed and result["exists"] and not result["changed"]
    upgrade = result["rolling_upgrade"]
    assert upgrade["running_status"]["code"] == "RollingForward" and upgrade["is_terminal"] is False
    assert sum(upgrade["progress"].values()) == 6


def test_info_never_upgraded_is_not_an_error(run_module):
    failed, result = run_module("vmss_rolling_upgrade_info", resource_group="rg-test", name="vmss-never")
    assert not failed and result["exists"] is False and "rolling_upgrade" not in result


def test_info_missing_scale_set_is_an_error_with_azure_code(run_module):
    failed, result = run_module("vmss_rolling_upgrade_info", resource_group="rg-test", name="vmss-nope")
    assert failed and "404 ResourceNotFound" in result["msg"]
    assert result["error"]["code"] == "ResourceNotFound"


def test_a_secret_without_tenant_is_named_before_any_request(run_module, emulator, monkeypatch):
    monkeypatch.delenv("AZURE_TENANT_ID")
    failed, result = run_module("vmss_rolling_upgrade_info", resource_group="rg-test", name="vmss-done")
    assert failed and result["msg"] == "Invalid options: secret given but tenant missing (set tenant or AZURE_TENANT_ID)"
    assert emulator.requests == []
