"""Fault actions, the control endpoint and the CLI."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def _start(client, name="vmss-healthy"):
    return client.post(client.vmss(name, "/extensionRollingUpgrade"))


def _latest_code(client, name="vmss-healthy"):
    resp = client.get(client.vmss(name, "/rollingUpgrades/latest"))
    return resp.json()["properties"]["runningStatus"]["code"] if resp.status_code == 200 else resp.status_code


def test_status_fault_does_not_apply_post(emulator, client):
    emulator.add_fault({"name": "throttle", "match": {"method": "POST", "path_regex": "extensionRollingUpgrade$"},
                        "action": {"status": 429, "retry_after": 3, "x_ms_retry_after_ms": 1500}, "times": 1})
    client.token()
    resp = _start(client)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3" and resp.headers["x-ms-retry-after-ms"] == "1500"
    assert resp.json()["error"]["code"] == "TooManyRequests"
    assert _latest_code(client) == 404          # not applied
    assert _start(client).status_code == 202    # rule spent
    assert [r["fault"] for r in emulator.requests if r["method"] == "POST" and r["kind"] == "arm"] == ["throttle", None]


def test_status_variants_after_and_http_date(emulator, client):
    emulator.add_fault({"match": {"kind": "arm"}, "action": {"status": 503, "retry_after_http_date": 2, "retry_after_ms": 10}, "after": 1, "times": 1})
    url = client.vmss("vmss-healthy")
    assert client.get(url).status_code == 200
    resp = client.get(url)
    assert resp.status_code == 503 and resp.headers["Retry-After"].endswith("GMT") and resp.headers["retry-after-ms"] == "10"
    assert client.get(url).status_code == 200
    emulator.add_fault({"match": {"kind": "token"}, "action": {"status": 500}})
    resp = client.session.post("%s/%s/oauth2/v2.0/token" % (emulator.base_url, emulator.tenant_id), data={})
    assert resp.status_code == 500 and resp.json()["error"] == "temporarily_unavailable"


def test_drop_without_and_with_apply(emulator, client):
    client.token()
    emulator.add_fault({"match": {"method": "POST"}, "action": {"drop": True}, "times": 1})
    with pytest.raises(requests.ConnectionError):
        _start(client)
    assert _latest_code(client) == 404
    emulator.add_fault({"match": {"method": "POST"}, "action": {"drop": True, "apply": True}, "times": 1})
    with pytest.raises(requests.ConnectionError):
        _start(client)
    assert _latest_code(client) == "RollingForward"
    assert _start(client).status_code == 409
    assert [r["dropped"] for r in emulator.requests if r["method"] == "POST"] == [False, True, True, False]


def test_delay_and_malformed(emulator, client):
    client.token()
    emulator.add_fault({"match": {"method": "GET"}, "action": {"delay": 0.3}, "times": 1})
    began = time.time()
    assert client.get(client.vmss("vmss-healthy")).status_code == 200
    assert time.time() - began >= 0.3
    emulator.add_fault({"match": {"path_regex": "/virtualMachineScaleSets$"}, "action": {"malformed_json": True}, "times": 1})
    resp = client.get("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-test/providers/Microsoft.Compute/"
                      "virtualMachineScaleSets?api-version=2024-07-01")
    assert resp.status_code == 200
    with pytest.raises(ValueError):
        json.loads(resp.text)


def test_expire_tokens(emulator, client):
    client.token()
    emulator.add_fault({"match": {"kind": "arm"}, "action": {"expire_tokens": True}, "times": 1})
    resp = client.get(client.vmss("vmss-healthy"))
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "ExpiredAuthenticationToken"
    client._tokens.clear()  # pylint: disable=protected-access
    assert client.get(client.vmss("vmss-healthy")).status_code == 200


def test_foreign_and_relative_location(emulator, client):
    client.token()
    emulator.add_fault({"match": {"method": "POST"}, "action": {"foreign_location": True}, "times": 1})
    resp = _start(client)
    location = resp.headers["Azure-AsyncOperation"]
    assert location.startswith(emulator.foreign_base_url + "/subscriptions/")
    # a correct client would never do this; the foreign listener records it
    foreign = client.session.get(location, headers={"Authorization": "Bearer " + client.token()})
    assert foreign.status_code == 404 and foreign.headers["Content-Type"].startswith("application/problem+json")
    rec = [r for r in emulator.requests if r["listener"] == "foreign"][0]
    assert rec["had_authorization_header"] and rec["host"] == emulator.foreign_base_url.split("://")[1]
    assert "Bearer" not in json.dumps(emulator.requests)
    emulator.add_fault({"match": {"method": "POST"}, "action": {"relative_location": True}, "times": 1})
    resp = client.post(client.vmss("vmss-never", "/osRollingUpgrade"))
    assert resp.headers["Location"].startswith("/subscriptions/")


def test_probability_is_seeded(emulator, client):
    def run():
        emulator.load("default")
        client._tokens.clear()  # pylint: disable=protected-access
        client.token()
        emulator.add_fault({"match": {"kind": "arm"}, "action": {"status": 500}, "probability": 0.5})
        return [client.get(client.vmss("vmss-healthy")).status_code for attempt in range(12)]
    first = run()
    assert 200 in first and 500 in first and run() == first


def test_scenario_faults(emulator, client):
    emulator.load({"scale_sets": [{"name": "s", "resource_group": "rg"}],
                   "faults": [{"name": "x", "match": {"kind": "arm"}, "action": {"status": 502}, "times": 1}]})
    url = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/s?api-version=1"
    assert client.get(url).status_code == 502
    assert client.get(url).status_code == 200


def test_control_endpoint(emulator):
    def call(method, name, body=None):
        resp = requests.request(method, emulator.base_url + "/_emulator/" + name, json=body, verify=emulator.ca_path, timeout=30)
        assert resp.status_code == 200, resp.text
        return resp.json()
    assert call("GET", "health")["status"] == "ok"
    assert call("POST", "scenario", {"name": "demo"})["scenario"] == "demo"
    assert len(call("GET", "state")["scale_sets"]) == 12
    assert call("POST", "faults", {"name": "f", "match": {"kind": "arm"}, "action": {"status": 500}})["name"] == "f"
    assert call("GET", "state")["faults"][0]["name"] == "f"
    call("DELETE", "faults")
    before = call("POST", "clock", {"advance": 0})["sim_time"]
    after = call("POST", "clock", {"advance": 3600, "time_scale": 1})["sim_time"]
    assert after > before
    requests.get(emulator.base_url + "/subscriptions/x?api-version=1", verify=emulator.ca_path, timeout=30)
    assert [r["path"] for r in call("GET", "requests")] == ["/subscriptions/x"]
    call("DELETE", "requests")
    assert call("GET", "requests") == []
    assert call("GET", "env")["AZURE_AUTHORITY_HOST"] == emulator.base_url


def test_cli_prints_ready_line(tmp_path):
    env_file = tmp_path / "emu.env"
    cmd = [sys.executable, "-m", "tests.emulator", "--scenario", "demo", "--time-scale", "10", "--env-file", str(env_file),
           "--export", "ANSIBLE_COLLECTIONS_PATH=/some where"]
    with subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            ready = json.loads(proc.stdout.readline())
            assert set(ready) == {"base_url", "host", "ca_path", "foreign_base_url", "env"}
            health = requests.get(ready["base_url"] + "/_emulator/health", verify=ready["ca_path"], timeout=30).json()
            assert health["scenario"] == "demo"
            assert "export AZURE_AUTHORITY_HOST=" + ready["base_url"] in env_file.read_text()
            assert "export ANSIBLE_COLLECTIONS_PATH='/some where'\n" in env_file.read_text()
        finally:
            proc.terminate()
            assert proc.wait(timeout=10) == 0


def test_the_env_file_of_hack_emulator_sh_puts_the_venv_tools_on_path(tmp_path):
    """After `source build/emulator.env`, `.venv/bin/ansible-rulebook` finds ansible-galaxy and ansible-playbook (it
    runs them from PATH) without the venv being activated."""
    env_file = tmp_path / "emu.env"
    venv = Path(sys.executable).parent.parent
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "EMULATOR_VENV": str(venv)}
    with subprocess.Popen(["hack/emulator.sh", "default", str(env_file)], cwd=ROOT, env=bare, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert json.loads(proc.stdout.readline())["base_url"]
            found = subprocess.run(["bash", "-c", "source %s && command -v ansible-galaxy ansible-playbook" % env_file],
                                   env=bare, capture_output=True, text=True, timeout=30, check=True).stdout.split()
            assert found == [str(venv / "bin" / "ansible-galaxy"), str(venv / "bin" / "ansible-playbook")]
        finally:
            proc.terminate()
            proc.wait(timeout=10)
