# -*- coding: utf-8 -*-
"""Helpers for the playbook/role integration tests (real ansible-playbook against the emulator)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests import helpers

REPO_ROOT = Path(__file__).resolve().parents[2]
PLAYBOOKS = REPO_ROOT / "playbooks"
SUB = helpers.SUB
POLICY = {"maxBatchInstancePercent": 20, "maxUnhealthyInstancePercent": 20,
          "maxUnhealthyUpgradedInstancePercent": 20, "pauseTimeBetweenBatches": "PT0S"}
# Fast for the emulator: a status read and a progress block every second.
FAST_VARS = {
    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    "vmss_extension_rollout_poll_interval": 1,
    "vmss_extension_rollout_progress_interval": 1,
    "vmss_extension_rollout_wait_timeout": 50,
}


def vmss(name, ring, capacity=5, batch_seconds=60, rg="rg-it", **extra):
    spec = {"name": name, "resource_group": rg, "location": extra.pop("location", "eastus"), "capacity": capacity,
            "batch_seconds": batch_seconds, "tags": {"ring": ring, "app": "it"}, "rolling_upgrade_policy": dict(POLICY)}
    spec.update(extra)
    return spec


def scenario(scale_sets, time_scale=150.0, **extra):
    data = {"name": "it", "time_scale": time_scale, "seed": 3, "page_size": 2, "subscriptions": [SUB],
            "resource_groups": [{"name": "rg-it", "location": "eastus"}, {"name": "rg-it2", "location": "westeurope"}],
            "scale_sets": scale_sets}
    data.update(extra)
    return data


def write_inventory(tmp_path: Path, scale_sets, extra_vars=None, name="inventory") -> Path:
    """A static YAML inventory: one host per scale set, grouped by its ring tag, children of `vmss`."""
    inv_dir = tmp_path / name
    inv_dir.mkdir()
    rings = {}
    for spec in scale_sets:
        rings.setdefault(spec["tags"]["ring"], {})[spec["name"]] = {"resource_group": spec["resource_group"]}
    all_vars = dict(FAST_VARS)
    all_vars.update(extra_vars or {})
    inv = {"all": {"vars": all_vars, "children": {"vmss": {"children": {r: {"hosts": h} for r, h in rings.items()}}}}}
    (inv_dir / "hosts.yml").write_text(yaml.safe_dump(inv))
    return inv_dir


def posts(emu, suffix=None):
    """Paths of the ARM/ADU POST requests (not token requests) in the emulator log, optionally ending with ``suffix``."""
    return [e["path"] for e in emu.requests
            if e["method"] == "POST" and e["kind"] != "token" and (suffix is None or e["path"].lower().endswith(suffix.lower()))]


def spend(emu, method, path, times, api_version="2024-07-01"):
    """Another client of the subscription sends ``times`` requests (using up a budget); returns their statuses."""
    import requests  # pylint: disable=import-outside-toplevel

    with requests.Session() as session:
        token = session.post("%s/%s/oauth2/v2.0/token" % (emu.base_url, emu.tenant_id), verify=emu.ca_path, timeout=10,
                             data={"grant_type": "client_credentials", "client_id": emu.client_id,
                                   "client_secret": emu.client_secret,
                                   "scope": "https://management.azure.com/.default"}).json()["access_token"]
        return [session.request(method, emu.base_url + path, params={"api-version": api_version}, verify=emu.ca_path,
                                headers={"Authorization": "Bearer " + token}, timeout=10).status_code
                for attempt in range(times)]


def read_json(path: Path):
    return json.loads(Path(path).read_text())


def plain(value):
    """ansible-inventory 2.19 marks values from inventory plugins as {"__ansible_unsafe": value}; unwrap them."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def rows_by_name(report):
    return {row["name"]: row for row in report["rows"]}


def chromium_dom(html: Path, tmp_path: Path) -> str:
    """The DOM of a local HTML file after headless Chromium rendered it."""
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(browser):
        # CI installs it (.ci/run): there a missing browser is a failure, not a reason to skip the check.
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    profile = tmp_path / "chromium-profile"
    profile.mkdir(exist_ok=True)
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=%s" % profile,
         "--dump-dom", "file://%s" % html],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def chromium_screenshot(html: Path, tmp_path: Path, width=1400, height=1000) -> Path:
    """A PNG of a local HTML file rendered by headless Chromium at ``width`` px; also kept under tests/output."""
    browser = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(browser):
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    png = tmp_path / (html.stem + ".png")
    profile = tmp_path / "chromium-shot-profile"
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         "--user-data-dir=%s" % profile, "--window-size=%d,%d" % (width, height), "--screenshot=%s" % png,
         "file://%s" % html], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and png.is_file(), proc.stderr
    keep = REPO_ROOT / "tests" / "output" / "screenshots"
    keep.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, keep / png.name)
    return png


def png_size(png: Path):
    """(width, height) from a PNG's IHDR chunk."""
    data = png.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.fixture
def ansible_env():
    """Environment bits every run needs beyond run_playbook's defaults."""
    return {"ANSIBLE_PYTHON_INTERPRETER": sys.executable}
