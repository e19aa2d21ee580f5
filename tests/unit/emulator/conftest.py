"""Fixtures for the emulator's own tests (the plugin is normally loaded by tests/conftest.py)."""

import pytest
import requests

from tests.helpers import SUB

API = "2024-07-01"
ARM_SCOPE = "https://management.azure.com/.default"
ADU_SCOPE = "https://api.adu.microsoft.com/.default"


class _Session(requests.Session):
    """Passes verify= on every request: REQUESTS_CA_BUNDLE in the environment would override Session.verify."""

    def __init__(self, ca_path):
        super().__init__()
        self.ca_path = ca_path

    def request(self, method, url, *args, **kwargs):  # pylint: disable=arguments-differ
        kwargs.setdefault("verify", self.ca_path)
        return super().request(method, url, *args, **kwargs)


class Client:
    """Tiny test client: real HTTPS with the emulator CA, tokens from the emulator's token endpoint."""

    def __init__(self, emu):
        self.emu = emu
        self.session = _Session(emu.ca_path)
        self._tokens = {}

    def token(self, scope=ARM_SCOPE):
        if scope not in self._tokens:
            resp = self.session.post("%s/%s/oauth2/v2.0/token" % (self.emu.base_url, self.emu.tenant_id), data={
                "grant_type": "client_credentials", "client_id": self.emu.client_id,
                "client_secret": self.emu.client_secret, "scope": scope})
            resp.raise_for_status()
            self._tokens[scope] = resp.json()["access_token"]
        return self._tokens[scope]

    def request(self, method, url, scope=ARM_SCOPE, auth=True, **kwargs):
        if not url.startswith("https://"):
            url = self.emu.base_url + url
        headers = kwargs.pop("headers", {})
        if auth:
            headers["Authorization"] = "Bearer " + self.token(scope)
        return self.session.request(method, url, headers=headers, **kwargs)

    @staticmethod
    def vmss(name, suffix="", rg="rg-test", sub=SUB):
        return vmss_path(name, rg, sub, suffix)

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)


def vmss_path(name, rg="rg-test", sub=SUB, suffix=""):
    return "/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Compute/virtualMachineScaleSets/%s%s?api-version=%s" % (
        sub, rg, name, suffix, API)


@pytest.fixture
def client(emulator):  # pylint: disable=redefined-outer-name
    return Client(emulator)
