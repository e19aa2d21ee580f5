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
import time

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

    def install(self, monkeypatch):
        """Every ``SystemClock`` of this process reads this clock until the test ends."""
        for name in ("monotonic", "sleep", "wall"):
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
