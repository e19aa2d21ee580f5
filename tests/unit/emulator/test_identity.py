"""Token endpoints and bearer-token checks."""

import base64
import json

from azure.identity import ClientSecretCredential

ARM_SCOPE = "https://management.azure.com/.default"
ADU_SCOPE = "https://api.adu.microsoft.com/.default"


def enc(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def _token_post(client, tenant=None, **form):
    emu = client.emu
    data = {"grant_type": "client_credentials", "client_id": emu.client_id, "scope": ARM_SCOPE}
    data.update(form)
    return client.session.post("%s/%s/oauth2/v2.0/token" % (emu.base_url, tenant or emu.tenant_id), data=data)


def test_azure_identity_client_secret_credential(emulator, client):
    cred = ClientSecretCredential(emulator.tenant_id, emulator.client_id, emulator.client_secret, authority=emulator.base_url,
                                  disable_instance_discovery=True, connection_verify=emulator.ca_path)
    token = cred.get_token(ARM_SCOPE)
    assert token.token.startswith("emu.")
    cred.get_token(ARM_SCOPE)   # cached by the credential
    assert emulator.issued_tokens_count() == 1
    assert emulator.issued_tokens_count("client_secret") == 1
    resp = client.session.get(emulator.base_url + client.vmss("vmss-healthy"), headers={"Authorization": "Bearer " + token.token})
    assert resp.status_code == 200
    kinds = [r["kind"] for r in emulator.requests]
    assert kinds[:2] == ["token", "token"] and kinds[-1] == "arm"   # discovery + token, then ARM
    dumped = json.dumps(emulator.requests)
    assert emulator.client_secret not in dumped and token.token not in dumped


def test_wrong_secret_and_tenant(client):
    resp = _token_post(client, client_secret="nope")
    assert resp.status_code == 400
    assert resp.json() == {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}
    resp = _token_post(client, tenant="not-a-tenant", client_secret=client.emu.client_secret)
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_request"


def test_token_response_shape_and_assertions(client):
    emu = client.emu
    body = _token_post(client, client_secret=emu.client_secret).json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600 and body["ext_expires_in"] == 3600
    jwt_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    resp = _token_post(client, client_assertion_type=jwt_type, client_assertion=emu.federated_token + "\n")
    assert resp.status_code == 200
    jwt = "%s.%s.sig" % (enc({"alg": "RS256", "typ": "JWT", "x5t": "abc="}), enc({"iss": emu.client_id, "sub": emu.client_id}))
    assert _token_post(client, client_assertion_type=jwt_type, client_assertion=jwt).status_code == 200
    bad = "%s.%s.sig" % (enc({"alg": "RS256"}), enc({"iss": emu.client_id}))
    assert _token_post(client, client_assertion_type=jwt_type, client_assertion=bad).status_code == 400
    assert emu.issued_tokens_count("workload") == 1 and emu.issued_tokens_count("certificate") == 1


def test_openid_configuration(client):
    emu = client.emu
    body = client.session.get("%s/%s/v2.0/.well-known/openid-configuration" % (emu.base_url, emu.tenant_id)).json()
    assert body["token_endpoint"] == "%s/%s/oauth2/v2.0/token" % (emu.base_url, emu.tenant_id)
    assert "authorization_endpoint" in body
    assert client.session.get(emu.base_url + "/common/discovery/instance").status_code == 200


def test_app_service_msi(client):
    emu = client.emu
    url = emu.identity_endpoint + "?api-version=2019-08-01&resource=https://management.azure.com/"
    assert client.session.get(url).status_code == 401
    resp = client.session.get(url, headers={"X-IDENTITY-HEADER": emu.identity_header})
    body = resp.json()
    assert resp.status_code == 200 and body["token_type"] == "Bearer" and int(body["expires_on"]) > 0
    arm = client.session.get(emu.base_url + client.vmss("vmss-healthy"), headers={"Authorization": "Bearer " + body["access_token"]})
    assert arm.status_code == 200


def test_bearer_checks(client):
    url = client.vmss("vmss-healthy")
    resp = client.get(url, auth=False)
    assert resp.status_code == 401
    assert resp.json()["error"] == {"code": "AuthenticationFailed", "message": "Authentication failed. The 'Authorization' header is missing."}
    assert resp.headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    resp = client.get(url, auth=False, headers={"Authorization": "Bearer made-up"})
    assert resp.json()["error"]["code"] == "InvalidAuthenticationToken"
    resp = client.get(url, scope=ADU_SCOPE)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    resp = client.get("/deviceUpdate/blue/updates/operations?api-version=2022-10-01", scope=ARM_SCOPE)
    assert resp.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    assert client.get(url, scope=client.emu.base_url + "/.default").status_code == 200
    assert client.get(url, scope="https://management.core.windows.net/").status_code == 200
    log = client.emu.requests
    assert [r["authorized"] for r in log if r["kind"] == "arm"] == [False, False, False, True, True]
    assert log[-1]["audience"] == "https://management.core.windows.net"


def test_short_token_lifetime_expires(emulator, client):
    data = {"identity": {"token_lifetime": 0}, "scale_sets": [{"name": "a", "resource_group": "rg"}]}
    emulator.load(data)
    resp = client.get("/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/"
                      "virtualMachineScaleSets/a?api-version=2024-07-01")
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "ExpiredAuthenticationToken"


def test_azure_identity_managed_and_workload(emulator, monkeypatch, tmp_path):
    from azure.identity import ManagedIdentityCredential, WorkloadIdentityCredential  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", emulator.ca_path)
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.identity_header)
    assert ManagedIdentityCredential().get_token(ARM_SCOPE).token.startswith("emu.")
    token_file = tmp_path / "token"
    token_file.write_text(emulator.federated_token + "\n")
    cred = WorkloadIdentityCredential(tenant_id=emulator.tenant_id, client_id=emulator.client_id, token_file_path=str(token_file),
                                      authority=emulator.base_url)
    assert cred.get_token(ADU_SCOPE).token.startswith("emu.")
    assert emulator.issued_tokens_count("msi") == 1 and emulator.issued_tokens_count("workload") == 1
