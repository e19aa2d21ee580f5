"""Token endpoints (per IDENTITY-NOTES.md) and bearer token checks."""

import base64
import json
import re
import secrets
import time
import urllib.parse

from .wire import json_response

DEFAULT_IDENTITY = {
    "tenant_id": "11111111-1111-1111-1111-111111111111",
    "client_id": "22222222-2222-2222-2222-222222222222",
    "client_secret": "emulator-client-secret",
    "federated_token": "emulator-federated-token",
    "identity_header": "emulator-identity-header",
    "token_lifetime": 3600,
    "certificate_thumbprints": [],
    "managed_identity_client_ids": [],
}

ARM_AUDIENCES = ("https://management.azure.com", "https://management.core.windows.net")
ADU_AUDIENCE = "https://api.adu.microsoft.com"

_TOKEN_PATH = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token$")
_OIDC_PATH = re.compile(r"^/(?P<tenant>[^/]+)/v2\.0/\.well-known/openid-configuration$")


def normalise_audience(scope):
    """``https://management.azure.com/.default`` -> ``https://management.azure.com``."""
    aud = (scope or "").strip().split(" ")[0]
    if aud.endswith("/.default"):
        aud = aud[: -len("/.default")]
    return aud.rstrip("/")


def is_token_path(path):
    return bool(_TOKEN_PATH.match(path) or _OIDC_PATH.match(path)) or path in (
        "/common/discovery/instance", "/msi/token", "/metadata/identity/oauth2/token")


def _oauth_error(error, description):
    return json_response(400, {"error": error, "error_description": description})


def _b64url_json(segment):
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8"))


class Identity:
    """Issues opaque tokens and validates bearer tokens. Callers hold the emulator lock."""

    def __init__(self, config, base_url):
        self.config = dict(DEFAULT_IDENTITY)
        self.config.update(config or {})
        self.base_url = base_url
        self.tokens = {}   # token -> {"aud", "exp", "kind"}
        self.issued = {}   # kind -> count

    # ---- issuing -------------------------------------------------------
    def _issue(self, audience, kind):
        token = "emu." + secrets.token_urlsafe(32)
        lifetime = int(self.config["token_lifetime"])
        self.tokens[token] = {"aud": normalise_audience(audience), "exp": time.time() + lifetime, "kind": kind}
        self.issued[kind] = self.issued.get(kind, 0) + 1
        return token, lifetime

    def issued_count(self, kind=None):
        if kind is None:
            return sum(self.issued.values())
        return self.issued.get(kind, 0)

    def expire_all(self):
        for info in self.tokens.values():
            info["exp"] = 0.0

    def handle(self, ctx):
        """Route a token-kind request; returns a Response."""
        tenant = self.config["tenant_id"]
        match = _OIDC_PATH.match(ctx.path)
        if match and ctx.method == "GET":
            if match.group("tenant") != tenant:
                return _oauth_error("invalid_tenant", "AADSTS90002: Tenant '%s' not found." % match.group("tenant"))
            base = "%s/%s" % (self.base_url, tenant)
            return json_response(200, {
                "token_endpoint": base + "/oauth2/v2.0/token",
                "authorization_endpoint": base + "/oauth2/v2.0/authorize",
                "issuer": base + "/v2.0",
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "tenant_region_scope": "WW",
            })
        if ctx.path == "/common/discovery/instance":
            host = self.base_url.split("://", 1)[1]
            return json_response(200, {
                "tenant_discovery_endpoint": "%s/%s/v2.0/.well-known/openid-configuration" % (self.base_url, tenant),
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            })
        match = _TOKEN_PATH.match(ctx.path)
        if match and ctx.method == "POST":
            return self._token(ctx, match.group("tenant"))
        if ctx.path == "/msi/token" and ctx.method == "GET":
            return self._msi(ctx)
        if ctx.path == "/metadata/identity/oauth2/token" and ctx.method == "GET":
            return self._imds(ctx)
        return json_response(404, {"error": "not_found", "error_description": "Unknown identity endpoint %s" % ctx.path})

    def _token(self, ctx, tenant):
        form = urllib.parse.parse_qs((ctx.body or b"").decode("utf-8"), keep_blank_values=True)

        def get(key):
            return (form.get(key) or [None])[0]

        cfg = self.config
        if tenant != cfg["tenant_id"]:
            return _oauth_error("invalid_request", "AADSTS90002: Tenant '%s' not found. Check to make sure you have the correct tenant ID." % tenant)
        if get("grant_type") != "client_credentials":
            return _oauth_error("unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type '%s'." % get("grant_type"))
        if get("client_id") != cfg["client_id"]:
            return _oauth_error("unauthorized_client",
                                "AADSTS700016: Application with identifier '%s' was not found in the directory '%s'." % (get("client_id"), tenant))
        scope = get("scope")
        if not scope:
            return _oauth_error("invalid_request", "AADSTS900144: The request body must contain the following parameter: 'scope'.")
        if get("client_secret") is not None:
            if get("client_secret") != cfg["client_secret"]:
                return _oauth_error("invalid_client", "AADSTS7000215: Invalid client secret provided.")
            kind = "client_secret"
        elif get("client_assertion") is not None:
            kind = self._check_assertion(get("client_assertion"))
            if kind is None:
                return _oauth_error("invalid_client", "AADSTS700027: Client assertion failed signature validation.")
        else:
            return _oauth_error("invalid_client",
                                "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
        token, lifetime = self._issue(scope, kind)
        ctx.audience = normalise_audience(scope)
        return json_response(200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token})

    def _check_assertion(self, assertion):
        if assertion.rstrip("\r\n") == str(self.config["federated_token"]).rstrip("\r\n"):
            return "workload"
        parts = assertion.split(".")
        if len(parts) != 3:
            return None
        try:
            header, payload = _b64url_json(parts[0]), _b64url_json(parts[1])
        except (ValueError, UnicodeDecodeError):
            return None
        if not header.get("x5t") or payload.get("iss") != self.config["client_id"]:
            return None
        allowed = self.config.get("certificate_thumbprints") or []
        if allowed and header["x5t"].rstrip("=") not in [t.rstrip("=") for t in allowed]:
            return None
        return "certificate"

    def _msi_client_ok(self, ctx):
        client_id = ctx.q("client_id")
        return client_id in (None, self.config["client_id"]) or client_id in (self.config.get("managed_identity_client_ids") or [])

    def _msi(self, ctx):
        if ctx.headers.get("X-IDENTITY-HEADER") != self.config["identity_header"]:
            return json_response(401, {"statusCode": 401, "message": "Unauthorized: missing or invalid X-IDENTITY-HEADER"})
        resource = ctx.q("resource")
        if not resource or not self._msi_client_ok(ctx):
            return json_response(400, {"statusCode": 400, "message": "Bad request: resource missing or unknown client_id"})
        token, lifetime = self._issue(resource, "msi")
        ctx.audience = normalise_audience(resource)
        return json_response(200, {"access_token": token, "expires_on": str(int(time.time()) + lifetime),
                                   "resource": resource, "token_type": "Bearer", "client_id": self.config["client_id"]})

    def _imds(self, ctx):
        resource = ctx.q("resource")
        if ctx.headers.get("Metadata", "").lower() != "true" or not resource or not self._msi_client_ok(ctx):
            return json_response(400, {"error": "invalid_request", "error_description": "Required metadata header not specified"})
        token, lifetime = self._issue(resource, "imds")
        ctx.audience = normalise_audience(resource)
        return json_response(200, {"access_token": token, "expires_in": str(lifetime), "expires_on": str(int(time.time()) + lifetime),
                                   "resource": resource, "token_type": "Bearer"})

    # ---- checking -------------------------------------------------------
    def lookup(self, ctx):
        """(token, info) for the bearer token of ``ctx`` or (None, None)."""
        auth = ctx.headers.get("Authorization")
        if not auth or not auth.lower().startswith("bearer "):
            return None, None
        token = auth[7:].strip()
        return token, self.tokens.get(token)

    def check(self, ctx, audiences):
        """None when the request carries a valid token for one of ``audiences``, else a 401 Response."""
        token, info = self.lookup(ctx)
        if info is not None:
            ctx.audience = info["aud"]
        auth_uri = 'Bearer authorization_uri="%s/%s", error="invalid_token"' % (self.base_url, self.config["tenant_id"])
        if token is None:
            code, msg = "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing."
        elif info is None:
            code, msg = "InvalidAuthenticationToken", "The access token is invalid."
        elif info["exp"] <= time.time():
            code, msg = "ExpiredAuthenticationToken", "The access token expiry UTC time is earlier than current UTC time."
        elif info["aud"] not in [a.rstrip("/") for a in audiences]:
            code = "InvalidAuthenticationTokenAudience"
            msg = "The access token has been obtained for wrong audience or resource '%s'. It should exactly match with one of the allowed audiences '%s'." % (
                info["aud"], "','".join(audiences))
        else:
            ctx.authorized = True
            return None
        return json_response(401, {"error": {"code": code, "message": msg}}, [("WWW-Authenticate", auth_uri)])

    def is_valid(self, ctx):
        info = self.lookup(ctx)[1]
        if info is not None:
            ctx.audience = info["aud"]
        return info is not None and info["exp"] > time.time()
