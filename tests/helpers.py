# -*- coding: utf-8 -*-
"""What the collection's tests share: ``from tests.helpers import ...`` (never from a conftest).

Ids of the emulator's ``default`` scenario (tests/emulator/scenarios/default.yaml)
    ``SUB``, ``RG``, ``AKS_OPERATIONS`` (Succeeded, Failed, long-running), ``ADU_OPERATIONS`` (Running -> Succeeded,
    Running -> Failed, Succeeded, Failed).

One in-process module runner
    ``run_module(module, args, check_mode=False) -> result``: calls the module's ``main()`` with ``args`` and
    returns what it printed (``result["failed"]`` is set when it failed). ``module`` is the module object or its
    name. The module reads credentials from the environment: set it with ``emulator_env(emulator)``
    (the fixture ``run_module`` of tests/unit/modules does, and puts the run on the simulated clock).

One request-log helper
    ``api_requests(emulator, method=None, contains="")``: the emulator's log of ARM and Device Update requests
    (token requests left out), optionally only one method and paths containing ``contains``.

Clocks (anything with ``monotonic()``, ``sleep()`` and ``wall()`` can drive AzureClient, Deadline and the pacer)
    ``RecordingClock()``: time moves only when someone sleeps; ``sleeps`` lists every sleep.
    ``EmulatorClock(emulator)``: a ``RecordingClock`` whose sleeps move the emulator's clock on by as much.
    ``SimulatedClock(emulator)``: real time plus every sleep skipped; a sleep returns at once, is recorded in
    ``sleeps`` and moves the emulator's simulated time on by as much (times its time scale), so a 300-second
    upgrade watched every 30 s takes no real time. ``install()`` puts the whole process on it (every
    ``SystemClock``: clients, deadlines, the shared pacer) for one test; use it through the fixtures.

Clients and environments
    ``options_for(emulator, **overrides)``: AzureClient options for the emulator (client secret, its CA).
    ``latest_path(name, rg)``: the ``rollingUpgrades/latest`` path of a scale set of the default scenario.
    ``emulator_env(emulator)``: environment pointing every credential source at the emulator.
    ``issued_tokens(emulator)``: every access token the emulator issued so far.
"""
from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from ansible_collections.azure_ops.rollout.plugins.module_utils import _timing
from ansible_collections.azure_ops.rollout.plugins.module_utils._vmss import vmss_path

from tests.emulator.scenarios import DEFAULT_SUBSCRIPTION

SUB = DEFAULT_SUBSCRIPTION
RG = "rg-test"
AKS_OPERATIONS = tuple("00000000-0000-0000-0000-0000000000a%d" % i for i in (1, 2, 3))
ADU_OPERATIONS = tuple("11111111-0000-0000-0000-00000000000%d" % i for i in (1, 2, 3, 4))


# -- the module runner -----------------------------------------------------------------------------------
@contextlib.contextmanager
def _module_args(args):
    """Patch the module arguments: ansible-core >= 2.19 has patch_module_args; older cores read _ANSIBLE_ARGS."""
    try:
        from ansible.module_utils.testing import patch_module_args
    except ImportError:  # ansible-core < 2.19
        from ansible.module_utils import basic

        old = basic._ANSIBLE_ARGS  # pylint: disable=protected-access
        basic._ANSIBLE_ARGS = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")  # pylint: disable=protected-access
        try:
            yield
        finally:
            basic._ANSIBLE_ARGS = old  # pylint: disable=protected-access
        return
    with patch_module_args(args):
        yield


def run_module(module, args, check_mode=False):
    """Call ``module.main()`` with ``args``; return the JSON it printed (``failed`` set on fail_json)."""
    if isinstance(module, str):
        module = importlib.import_module("ansible_collections.azure_ops.rollout.plugins.modules." + module)
    args = dict(args, _ansible_check_mode=True) if check_mode else dict(args)
    buf = io.StringIO()
    with _module_args(args), contextlib.redirect_stdout(buf):
        try:
            module.main()
        except SystemExit:
            pass
    text = buf.getvalue().strip()
    assert text, "module printed nothing"
    return json.loads(text.splitlines()[-1])


# -- the request log ---------------------------------------------------------------------------------------
def api_requests(emulator, method=None, contains=""):
    """ARM and Device Update requests in the emulator's log (no token requests), oldest first."""
    return [r for r in emulator.requests if r["kind"] in ("arm", "adu") and (method is None or r["method"] == method)
            and contains in r["path"]]


# -- clocks ------------------------------------------------------------------------------------------------
class RecordingClock:
    """Monotonic time that only moves when someone sleeps; every sleep is recorded."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(round(seconds, 3))
        self.now += seconds

    def wall(self):
        return time.time() + (self.now - 1000.0)


class EmulatorClock(RecordingClock):
    """A ``RecordingClock`` whose sleeps move the emulator's clock on by as much (Azure's clock: buckets refill,
    windows end, upgrades progress), for tests that run a client under the emulator's rate limits."""

    def __init__(self, emulator):
        super().__init__()
        self.emulator = emulator

    def sleep(self, seconds):
        super().sleep(seconds)
        self.emulator.advance(seconds)


class SimulatedClock:
    """Real time plus every sleep skipped; sleeps move the emulator's simulated time on instead of waiting."""

    # Skipped seconds of the whole process, so the clock never goes back between tests (the pacer keeps state).
    skipped = 0.0

    def __init__(self, emulator=None):
        self.emulator = emulator
        self.sleeps = []

    def monotonic(self):
        return time.monotonic() + SimulatedClock.skipped

    def wall(self):
        return time.time() + SimulatedClock.skipped

    def sleep(self, seconds):
        if seconds <= 0:
            return
        self.sleeps.append(round(seconds, 3))
        SimulatedClock.skipped += seconds
        if self.emulator is not None:
            self.emulator.advance(seconds * self.emulator.clock.time_scale)

    def wait(self, condition, seconds):
        """A pacer's wait on its condition: skipped like a sleep (the lock released meanwhile)."""
        condition.release()
        try:
            self.sleep(seconds)
        finally:
            condition.acquire()

    def install(self, monkeypatch):
        """Every ``SystemClock`` of this process reads this clock until the test ends."""
        for name in ("monotonic", "sleep", "wall", "wait"):
            monkeypatch.setattr(_timing.SystemClock, name, staticmethod(getattr(self, name)))
        return self


# -- clients and environments ------------------------------------------------------------------------------
def options_for(emulator, **overrides):
    """AzureClient options for the emulator: its client secret, authority, endpoint and CA."""
    options = {
        "auth_source": "auto",
        "subscription_id": SUB,
        "client_id": emulator.client_id,
        "secret": emulator.client_secret,
        "tenant": emulator.tenant_id,
        "authority_host": emulator.base_url,
        "resource_manager_endpoint": emulator.base_url,
        "cloud_environment": "AzureCloud",
        "validate_certs": True,
        "ca_path": emulator.ca_path,
        "request_timeout": 10,
    }
    options.update(overrides)
    return options


def latest_path(name="vmss-healthy", rg=RG):
    return vmss_path(SUB, rg, name, "rollingUpgrades/latest")


def emulator_env(emulator):
    """Environment pointing every credential source at the emulator, so a stray request is logged, never sent out."""
    env = dict(emulator.env())
    # Managed identity (App Service shape) would also go to the emulator, not to 169.254.169.254.
    env["IDENTITY_ENDPOINT"] = emulator.identity_endpoint
    env["IDENTITY_HEADER"] = emulator.identity_header
    env["MSI_ENDPOINT"] = emulator.identity_endpoint
    env["MSI_SECRET"] = emulator.identity_header
    env.setdefault("AZURE_CONFIG_DIR", os.path.join(os.path.dirname(emulator.ca_path), "no-az-cli"))
    return env


def issued_tokens(emulator):
    """Every access token the emulator issued so far (private state, read under its lock)."""
    with emulator._lock:  # pylint: disable=protected-access
        return list(emulator._state.identity.tokens)  # pylint: disable=protected-access


# -- integration tests: scenarios, inventories and reports of real ansible-playbook runs -----------------------------
REPO_ROOT = Path(__file__).resolve().parents[1]
# Where tests/conftest.py links the checkout as ansible_collections/azure_ops/rollout.
COLLECTIONS_DIR = REPO_ROOT / "tests" / "output" / "collections"
COLLECTION_LINK = COLLECTIONS_DIR / "ansible_collections" / "azure_ops" / "rollout"
PLAYBOOKS = REPO_ROOT / "playbooks"
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
