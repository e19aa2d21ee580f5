# -*- coding: utf-8 -*-
"""Helpers for the client tests: a clock that records sleeps instead of sleeping, and client factories."""

import time

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient, RetryPolicy
from ansible_collections.azure_ops.rollout.plugins.module_utils._vmss import vmss_path

SUB = "00000000-0000-0000-0000-000000000001"


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


def options_for(emu, **overrides):
    options = {
        "auth_source": "auto",
        "subscription_id": SUB,
        "client_id": emu.client_id,
        "secret": emu.client_secret,
        "tenant": emu.tenant_id,
        "authority_host": emu.base_url,
        "resource_manager_endpoint": emu.base_url,
        "cloud_environment": "AzureCloud",
        "validate_certs": True,
        "ca_path": emu.ca_path,
        "request_timeout": 10,
    }
    options.update(overrides)
    return options


@pytest.fixture
def clock():
    return RecordingClock()


@pytest.fixture
def make_client(emulator, clock):
    def make(clock_=None, max_attempts=6, **overrides):
        retry = RetryPolicy(max_attempts=max_attempts, backoff_base=0.5, backoff_cap=8.0)
        return AzureClient(options_for(emulator, **overrides), clock=clock_ or clock, retry=retry)
    return make


def latest_path(name="vmss-healthy", rg="rg-test"):
    return vmss_path(SUB, rg, name, "rollingUpgrades/latest")


def api_requests(emu, method=None, contains=""):
    return [r for r in emu.requests if r["kind"] in ("arm", "adu") and (method is None or r["method"] == method)
            and contains in r["path"]]
