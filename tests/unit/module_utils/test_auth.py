# -*- coding: utf-8 -*-
"""Every auth_source gets a real token from the emulator through azure-identity (or the direct grant)."""

import datetime
import os
import stat
import threading
import time

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils import _auth
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureError

from tests.helpers import SUB, RecordingClock, latest_path, options_for


API = {"api-version": "2024-07-01"}


AMBIENT = ("AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT",
           "IDENTITY_HEADER", "MSI_ENDPOINT", "AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_AUTHORITY_HOST")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, emulator):
    for name in AMBIENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_path)


def _read(emulator, **options):
    client = AzureClient(options_for(emulator, **options), clock=RecordingClock())
    body = client.get_json(latest_path("vmss-rolling"), params=API)[0]
    return client, body


def test_client_secret_never_imports_azure_identity(emulator):
    client, body = _read(emulator)
    assert body["properties"]["runningStatus"]["code"] == "RollingForward"
    assert type(client.tokens._chain[0][1]).__name__ == "ClientSecretGrant"  # pylint: disable=protected-access


def test_wrong_secret_fails_clearly_without_echoing_it(emulator):
    with pytest.raises(AzureError) as info:
        _read(emulator, secret="not-the-secret-xyz")
    assert info.value.code == "AuthenticationFailed"
    assert "invalid_client" in str(info.value)
    assert "not-the-secret-xyz" not in str(info.value)


def test_a_throttled_token_endpoint_is_retried(emulator):
    emulator.add_fault({"match": {"kind": "token"}, "action": {"status": 503, "retry_after": 1}, "times": 1})
    body = _read(emulator)[1]
    assert body["properties"]
    assert [r["status"] for r in emulator.requests if r["kind"] == "token"] == [503, 200]


def _certificate(path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u"azure-ops-rollout-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def test_certificate_credential(emulator, tmp_path):
    body = _read(emulator, secret=None, x509_certificate_path=_certificate(tmp_path / "sp.pem"))[1]
    assert body["properties"]
    assert any(r["kind"] == "token" and r["status"] == 200 for r in emulator.requests)


def test_workload_identity(emulator, tmp_path, monkeypatch):
    token_file = tmp_path / "federated"
    token_file.write_text(emulator.federated_token)
    monkeypatch.setenv("AZURE_FEDERATED_TOKEN_FILE", str(token_file))
    body = _read(emulator, auth_source="workload_identity", secret=None)[1]
    assert body["properties"]


def test_managed_identity_app_service_protocol(emulator, monkeypatch):
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.identity_header)
    body = _read(emulator, auth_source="msi", secret=None, client_id=None, tenant=None)[1]
    assert body["properties"]
    assert any("/msi/token" in r["path"] for r in emulator.requests)


def test_azure_cli(emulator, tmp_path, monkeypatch):
    """A stand-in `az` that fetches a real token from the emulator, as `az account get-access-token` would."""
    script = tmp_path / "az"
    script.write_text(
        "#!%s\nimport json, sys, time, requests\n"
        "resource = sys.argv[sys.argv.index('--resource') + 1]\n"
        "r = requests.post(%r, data={'grant_type': 'client_credentials', 'client_id': %r, 'client_secret': %r,"
        " 'scope': resource.rstrip('/') + '/.default'}, verify=%r).json()\n"
        "print(json.dumps({'accessToken': r['access_token'], 'expires_on': int(time.time()) + 3600,"
        " 'tokenType': 'Bearer'}))\n" % (__import__("sys").executable,
                                         "%s/%s/oauth2/v2.0/token" % (emulator.base_url, emulator.tenant_id),
                                         emulator.client_id, emulator.client_secret, emulator.ca_path))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", "%s:%s" % (tmp_path, os.environ["PATH"]))
    body = _read(emulator, auth_source="cli", secret=None, client_id=None, tenant=None)[1]
    assert body["properties"]


def test_azure_identity_log_lines_stay_off_stderr(tmp_path):
    """A failing azure-identity credential logs a warning; in a bare process (an Ansible worker: no logging set up)
    Python's last-resort handler printed it to stderr, which Ansible shows as "errantly sent data"."""
    import subprocess  # pylint: disable=import-outside-toplevel
    import sys  # pylint: disable=import-outside-toplevel

    code = ("from ansible_collections.azure_ops.rollout.plugins.module_utils import _auth\n"
            "chain = _auth.credential_chain({'auth_source': 'cli'}, True, None)\n"
            "try:\n    chain[0][1].get_token('https://management.azure.com/.default')\n"
            "except Exception as error:\n    print('raised', type(error).__name__)\n")
    env = {"PATH": str(tmp_path), "PYTHONPATH": os.pathsep.join(sys.path)}  # no `az` on PATH
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert "raised" in done.stdout, done.stdout + done.stderr
    assert done.stderr == ""


def test_credential_file_profile(emulator, tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\nsubscription_id=bad\n[emu]\nsubscription_id=%s\nclient_id=%s\nsecret=%s\ntenant=%s\n"
                           % (SUB, emulator.client_id, emulator.client_secret, emulator.tenant_id))
    monkeypatch.setenv("AZURE_CREDENTIAL_FILE", str(credentials))
    body = _read(emulator, auth_source="credential_file", profile="emu", client_id=None, secret=None, tenant=None)[1]
    assert body["properties"]


def test_env_credential(emulator, monkeypatch):
    monkeypatch.setenv("AZURE_CLIENT_ID", emulator.client_id)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", emulator.client_secret)
    monkeypatch.setenv("AZURE_TENANT_ID", emulator.tenant_id)
    body = _read(emulator, auth_source="env", client_id=None, secret=None, tenant=None)[1]
    assert body["properties"]


def test_env_fallbacks_accept_both_naming_schemes():
    filled = _auth.options_from_env({"client_id": None}, {"AZURE_SECRET": "s1", "AZURE_TENANT": "t1",
                                                          "AZURE_CLIENT_ID": "c1", "AZURE_SUBSCRIPTION_ID": SUB})
    assert (filled["secret"], filled["tenant"], filled["client_id"], filled["subscription_id"]) == ("s1", "t1", "c1", SUB)
    preferred = _auth.options_from_env({}, {"AZURE_SECRET": "old", "AZURE_CLIENT_SECRET": "new"})
    assert preferred["secret"] == "new"


@pytest.mark.parametrize("cloud, arm", [("AzureCloud", "https://management.azure.com"),
                                        ("AzureChinaCloud", "https://management.chinacloudapi.cn"),
                                        ("AzureUSGovernment", "https://management.usgovcloudapi.net")])
def test_clouds(cloud, arm):
    assert _auth.endpoints({"cloud_environment": cloud})[0] == arm
    assert _auth.arm_scope(arm) == arm + "/.default"


def test_custom_endpoints_must_be_https():
    with pytest.raises(AzureError):
        _auth.endpoints({"resource_manager_endpoint": "http://127.0.0.1:1"})
    assert _auth.endpoints({"resource_manager_endpoint": "127.0.0.1:8443/"})[0] == "https://127.0.0.1:8443"


def test_credential_file_problems_name_the_file_and_profile(tmp_path, monkeypatch):
    credentials = tmp_path / "credentials"
    credentials.write_text("[default]\nclient_id=x\n")
    monkeypatch.setenv("AZURE_CREDENTIAL_FILE", str(credentials))
    with pytest.raises(AzureError) as info:
        _auth.credential_chain({"auth_source": "credential_file", "profile": "nope"}, True, None)
    assert "profile nope not found in %s" % credentials in str(info.value)
    monkeypatch.setenv("AZURE_CREDENTIAL_FILE", str(tmp_path / "missing"))
    with pytest.raises(AzureError) as info:
        _auth.credential_chain({"auth_source": "credential_file"}, True, None)
    assert "cannot be read" in str(info.value)


@pytest.mark.parametrize("options, problem", [
    ({"client_id": "c", "secret": "s"}, "secret given but tenant missing (set tenant or AZURE_TENANT_ID)"),
    ({"secret": "s", "tenant": "t"}, "secret given but client_id missing (set client_id or AZURE_CLIENT_ID)"),
    ({"x509_certificate_path": "/p.pem"},
     "x509_certificate_path given but client_id and tenant missing (set client_id or AZURE_CLIENT_ID, tenant or AZURE_TENANT_ID)"),
    ({"client_id": "c", "secret": "s", "tenant": "t"}, None),
    ({"client_id": "c", "secret": "s", "auth_source": "msi"}, None),
    ({"client_id": "c", "auth_source": "msi"}, None),  # a user-assigned managed identity, chosen
    # A client id whose secret is set under a name nothing reads must not fall through to an ambient identity.
    ({"client_id": "c"}, "client_id given but secret (or x509_certificate_path) and tenant missing (set secret or "
                         "AZURE_CLIENT_SECRET, tenant or AZURE_TENANT_ID; the playbooks read azure_secret or "
                         "azure_client_secret, azure_tenant or azure_tenant_id). For a user-assigned managed identity "
                         "set auth_source=msi"),
    ({"client_id": "c", "tenant": "t"}, "client_id given but secret (or x509_certificate_path) missing (set secret or "
                                        "AZURE_CLIENT_SECRET; the playbooks read azure_secret or azure_client_secret, "
                                        "azure_tenant or azure_tenant_id). For a user-assigned managed identity set "
                                        "auth_source=msi"),
])
def test_explicit_credential_problem(options, problem):
    assert _auth.explicit_credential_problem(options, {}) == problem


def test_a_client_id_with_a_federated_token_file_is_workload_identity():
    assert _auth.explicit_credential_problem({"client_id": "c", "tenant": "t"},
                                             {"AZURE_FEDERATED_TOKEN_FILE": "/var/run/token"}) is None


def test_a_secret_without_tenant_fails_before_any_request(emulator):
    with pytest.raises(AzureError) as info:
        _read(emulator, tenant=None)
    assert info.value.code == "CredentialMissing"
    assert info.value.message == "secret given but tenant missing (set tenant or AZURE_TENANT_ID)"
    assert emulator.requests == []


def test_option_names_are_the_argument_spec_of_the_shared_options():
    from ansible_collections.azure_ops.rollout.plugins.module_utils._auth import OPTION_NAMES, auth_argument_spec

    assert OPTION_NAMES == tuple(auth_argument_spec())


def test_tokens_are_refreshed_before_expiry_during_long_waits(emulator, make_client):
    now = [0.0]
    client = make_client()
    client._tokens = _auth.TokenProvider(client.tokens._chain, clock=lambda: now[0])  # pylint: disable=protected-access
    scope = client._scopes["arm"][0]  # pylint: disable=protected-access
    now[0] = time.time()
    first = client.tokens.token(scope)
    now[0] += 3000  # 600 s of a 3600 s token left: still good
    assert client.tokens.token(scope) == first
    now[0] += 400  # 200 s left: refreshed before it can expire mid-request
    assert client.tokens.token(scope) != first
    assert emulator.issued_tokens_count() == 2


class _SlowCredential:
    """A credential whose second token takes until ``release`` is set (a token endpoint slow to answer a refresh)."""

    def __init__(self):
        self.calls = 0
        self.release = threading.Event()
        self.entered = threading.Event()

    def get_token(self, scope):
        self.calls += 1
        if self.calls > 1:
            self.entered.set()
            assert self.release.wait(10)
        return "token-%d" % self.calls, 1000 + 3600 * self.calls


def test_a_refresh_ahead_of_expiry_never_stalls_the_threads_that_hold_a_valid_token():
    now = [1000.0]
    credential = _SlowCredential()
    provider = _auth.TokenProvider([("test", credential)], clock=lambda: now[0])
    assert provider.token("scope") == "token-1"
    now[0] = 1000 + 3600 - _auth.REFRESH_MARGIN + 10     # inside the refresh margin, still valid
    refreshed = []
    refresher = threading.Thread(target=lambda: refreshed.append(provider.token("scope")))
    refresher.start()
    assert credential.entered.wait(10)
    # While one thread fetches the new token (outside the lock), the others keep the valid one at once.
    began = time.monotonic()
    assert [provider.token("scope"), provider.token("scope")] == ["token-1"] * 2 and time.monotonic() - began < 1
    credential.release.set()
    refresher.join(10)
    assert refreshed == ["token-2"] and provider.token("scope") == "token-2" and credential.calls == 2
