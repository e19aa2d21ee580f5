# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Auth options, clouds, and tokens per scope.

The shared options (and their environment fallbacks) are defined here once and
used by every module (through ``_module.py``) and by the inventory plugin.
azure-identity is imported lazily, only the credential class that is used;
a client secret is exchanged directly at the token endpoint (the same OAuth 2
client-credentials request azure-identity sends), which spares every task the
half second that importing azure-identity costs.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import configparser
import hashlib
import os
import sys
import threading
import time

from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import AzureAuthError, missing_package

CLOUDS = {
    "AzureCloud": ("https://management.azure.com", "https://login.microsoftonline.com"),
    "AzureChinaCloud": ("https://management.chinacloudapi.cn", "https://login.chinacloudapi.cn"),
    "AzureUSGovernment": ("https://management.usgovcloudapi.net", "https://login.microsoftonline.us"),
}
DEVICE_UPDATE_SCOPE = "https://api.adu.microsoft.com/.default"
AUTH_SOURCES = ("auto", "env", "cli", "msi", "workload_identity", "credential_file")

# Refresh a cached token when less than this many seconds of life remain
# (azure-identity uses the same margin).
REFRESH_MARGIN = 300

# option -> environment variables, first set wins: azure-identity's names,
# then the azure.azcollection names so its users can move over unchanged.
ENV_FALLBACKS = {
    "subscription_id": ("AZURE_SUBSCRIPTION_ID",),
    "client_id": ("AZURE_CLIENT_ID",),
    "secret": ("AZURE_CLIENT_SECRET", "AZURE_SECRET"),
    "tenant": ("AZURE_TENANT_ID", "AZURE_TENANT"),
    "x509_certificate_path": ("AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_X509_CERTIFICATE_PATH"),
    "profile": ("AZURE_PROFILE",),
    "cloud_environment": ("AZURE_CLOUD_ENVIRONMENT",),
    "resource_manager_endpoint": ("AZURE_RESOURCE_MANAGER_ENDPOINT",),
    "authority_host": ("AZURE_AUTHORITY_HOST",),
    "auth_source": ("ANSIBLE_AZURE_AUTH_SOURCE",),
}


# Every shared option, in the order of auth_argument_spec (plugins without an argument spec use this list).
OPTION_NAMES = ("auth_source", "subscription_id", "client_id", "secret", "tenant", "x509_certificate_path", "profile",
                "cloud_environment", "resource_manager_endpoint", "authority_host", "validate_certs", "ca_path",
                "request_timeout")


def auth_argument_spec():
    """The shared options as an AnsibleModule argument spec (env fallbacks included)."""
    from ansible.module_utils.basic import env_fallback

    def opt(name, **kwargs):
        kwargs.setdefault("type", "str")
        if name in ENV_FALLBACKS:
            kwargs["fallback"] = (env_fallback, list(ENV_FALLBACKS[name]))
        return kwargs

    return {
        "auth_source": opt("auth_source", choices=list(AUTH_SOURCES), default="auto"),
        "subscription_id": opt("subscription_id"),
        "client_id": opt("client_id"),
        "secret": opt("secret", no_log=True),
        "tenant": opt("tenant"),
        "x509_certificate_path": opt("x509_certificate_path", type="path"),
        "profile": opt("profile"),
        "cloud_environment": opt("cloud_environment", choices=list(CLOUDS), default="AzureCloud"),
        "resource_manager_endpoint": opt("resource_manager_endpoint"),
        "authority_host": opt("authority_host"),
        "validate_certs": {"type": "bool", "default": True},
        "ca_path": {"type": "path"},
        "request_timeout": {"type": "int", "default": 60},
    }


def options_from_env(options, environ=None):
    """Fill unset options from the environment (for plugins, which have no AnsibleModule)."""
    environ = os.environ if environ is None else environ
    filled = dict(options)
    for name, variables in ENV_FALLBACKS.items():
        if filled.get(name) in (None, ""):
            for var in variables:
                if environ.get(var):
                    filled[name] = environ[var]
                    break
    filled.setdefault("auth_source", "auto")
    filled.setdefault("cloud_environment", "AzureCloud")
    return filled


def _https_origin(value, option):
    """Normalise an endpoint option to ``https://host[:port]`` or fail clearly."""
    value = value.strip().rstrip("/")
    if "://" not in value:
        value = "https://" + value
    if not value.lower().startswith("https://"):
        raise AzureAuthError("%s must be an https:// URL, got %s" % (option, value), code="InvalidOption")
    return value


def endpoints(options):
    """(resource manager endpoint, authority host, custom authority?) for the options."""
    cloud = options.get("cloud_environment") or "AzureCloud"
    if cloud not in CLOUDS:
        raise AzureAuthError("cloud_environment must be one of %s, got %s" % (", ".join(CLOUDS), cloud),
                             code="InvalidOption")
    arm, authority = CLOUDS[cloud]
    if options.get("resource_manager_endpoint"):
        arm = _https_origin(options["resource_manager_endpoint"], "resource_manager_endpoint")
    custom = False
    if options.get("authority_host"):
        authority = _https_origin(options["authority_host"], "authority_host")
        custom = authority not in [pair[1] for pair in CLOUDS.values()]
    return arm, authority, custom


def arm_scope(resource_manager_endpoint):
    return resource_manager_endpoint.rstrip("/") + "/.default"


def read_credential_file(profile, path=None):
    """Read one profile of the azure.azcollection ``~/.azure/credentials`` file."""
    path = path or os.environ.get("AZURE_CREDENTIAL_FILE") or os.path.expanduser("~/.azure/credentials")
    parser = configparser.ConfigParser()
    if not parser.read(path):
        raise AzureAuthError("auth_source=credential_file but %s cannot be read" % path, code="CredentialFileMissing")
    profile = profile or "default"
    if not parser.has_section(profile):
        raise AzureAuthError("profile %s not found in %s" % (profile, path), code="CredentialFileMissing")
    section = dict(parser.items(profile))
    return {
        "subscription_id": section.get("subscription_id"),
        "client_id": section.get("client_id"),
        "secret": section.get("secret"),
        "tenant": section.get("tenant"),
        "x509_certificate_path": section.get("x509_certificate_path") or section.get("cert_path"),
        "cloud_environment": section.get("cloud_environment"),
    }


class ClientSecretGrant:
    """OAuth 2 client-credentials grant with a secret, sent on the client's session.

    Same request as azure-identity's ClientSecretCredential sends to
    ``{authority}/{tenant}/oauth2/v2.0/token``; done here so that the common
    service-principal path never imports azure-identity.
    """

    def __init__(self, authority, tenant, client_id, secret, post):
        self.token_url = "%s/%s/oauth2/v2.0/token" % (authority.rstrip("/"), tenant)
        self.client_id = client_id
        self._secret = secret
        self._post = post

    def get_token(self, scope):
        form = {"grant_type": "client_credentials", "client_id": self.client_id,
                "client_secret": self._secret, "scope": scope}
        body = self._post(self.token_url, form)
        try:
            token = body["access_token"]
            expires_in = int(body.get("expires_in", 3600))
        except (KeyError, TypeError, ValueError):
            raise AzureAuthError("the token endpoint %s answered without an access_token" % self.token_url)
        return token, time.time() + expires_in


def quiet_azure_logging():
    """Keep azure-identity's (and azure-core's) log lines off stderr.

    Without a handler, Python's last-resort handler writes their warnings ("AzureCliCredential.get_token failed:
    ...") to stderr, which Ansible reports as a worker that "errantly sent data directly to stderr". The reason is
    in the error the credential raises, which the caller reports; a process that configured logging (ansible-rulebook)
    still gets the records, as they propagate.
    """
    import logging  # pylint: disable=import-outside-toplevel

    logger = logging.getLogger("azure")
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())


class IdentityCredential:
    """An azure-identity credential built on first use from a factory."""

    def __init__(self, name, factory):
        self.name = name
        self._factory = factory
        self._credential = None

    def get_token(self, scope):
        if self._credential is None:
            quiet_azure_logging()
            self._credential = self._factory()
        access = self._credential.get_token(scope)
        return access.token, access.expires_on

    def reset(self):
        """Forget the credential (and azure-identity's own cache with it)."""
        self._credential = None


def explicit_credential_problem(options, environ=None):
    """Why explicit credentials cannot work, or None: a secret or certificate without client_id or tenant, or (with
    ``auth_source=auto``) a client_id without a secret or certificate.

    Checked before any request: without it a secret missing its tenant, or a secret set under a name nothing reads,
    would fall through to managed identity and the Azure CLI (the run would act as whatever identity the machine
    has), and the error would name neither. A user-assigned managed identity is chosen with ``auth_source=msi``; a
    client_id with AZURE_FEDERATED_TOKEN_FILE is workload identity.
    """
    source = options.get("auth_source") or "auto"
    if source not in ("auto", "explicit"):
        return None
    environ = os.environ if environ is None else environ
    given = next((name for name in ("secret", "x509_certificate_path") if options.get(name)), None)
    if not given:
        if not options.get("client_id") or (source == "auto" and environ.get("AZURE_FEDERATED_TOKEN_FILE")):
            return None
        missing = ["secret (or x509_certificate_path)"] + ([] if options.get("tenant") else ["tenant"])
        return ("client_id given but %s missing (set secret or AZURE_CLIENT_SECRET%s; the playbooks read "
                "azure_secret or azure_client_secret, azure_tenant or azure_tenant_id). For a user-assigned managed "
                "identity set auth_source=msi" % (" and ".join(missing),
                                                  "" if options.get("tenant") else ", tenant or AZURE_TENANT_ID"))
    missing = [name for name in ("client_id", "tenant") if not options.get(name)]
    if not missing:
        return None
    return "%s given but %s missing (set %s)" % (given, " and ".join(missing),
                                                 ", ".join("%s or %s" % (name, ENV_FALLBACKS[name][0]) for name in missing))


def _identity_kwargs(authority, custom_authority, verify):
    kwargs = {"authority": authority, "connection_verify": verify}
    if custom_authority:
        # Without this MSAL first asks login.microsoftonline.com about the
        # authority, which private clouds and Azure Stack Hub authorities cannot answer.
        kwargs["disable_instance_discovery"] = True
    return kwargs


def credential_chain(options, verify, post):
    """The list of (name, credential) to try, in order, for ``auth_source``.

    Nothing is imported or contacted here; each credential acts on first use.
    """
    source = options.get("auth_source") or "auto"
    if source == "credential_file":
        merged = dict(options)
        merged.update({k: v for k, v in read_credential_file(options.get("profile")).items() if v})
        options, source = merged, "explicit"
    problem = explicit_credential_problem(dict(options, auth_source=source))
    if problem:
        raise AzureAuthError(problem, code="CredentialMissing")
    authority, custom = endpoints(options)[1:]
    kwargs = _identity_kwargs(authority, custom, verify)
    client_id, tenant = options.get("client_id"), options.get("tenant")
    chain = []

    def identity(name, class_name, **extra):
        def factory():
            import azure.identity  # deferred: ~0.5 s, only on the paths that need it
            return getattr(azure.identity, class_name)(**extra)
        chain.append((name, IdentityCredential(name, factory)))

    def explicit():
        if client_id and options.get("secret") and tenant:
            chain.append(("client secret", ClientSecretGrant(authority, tenant, client_id, options["secret"], post)))
        elif client_id and options.get("x509_certificate_path") and tenant:
            identity("certificate", "CertificateCredential", tenant_id=tenant, client_id=client_id,
                     certificate_path=options["x509_certificate_path"], **kwargs)

    def workload():
        token_file = os.environ.get("AZURE_FEDERATED_TOKEN_FILE")
        if source == "workload_identity" or token_file:
            extra = {k: v for k, v in (("tenant_id", tenant), ("client_id", client_id), ("token_file_path", token_file)) if v}
            identity("workload identity", "WorkloadIdentityCredential", authority=authority, connection_verify=verify, **extra)

    def managed():
        extra = {"client_id": client_id} if client_id and not options.get("secret") else {}
        identity("managed identity", "ManagedIdentityCredential", connection_verify=verify, **extra)

    def cli():
        identity("Azure CLI", "AzureCliCredential", **({"tenant_id": tenant} if tenant else {}))

    if source in ("auto", "explicit"):
        explicit()
        if chain:
            # Explicit credentials are what the user meant: a wrong secret must
            # fail loudly, not fall through to some ambient identity.
            return chain
    if source == "env":
        identity("environment", "EnvironmentCredential", **kwargs)
    if source == "auto":
        workload()
        managed()
        cli()
    elif source == "workload_identity":
        workload()
    elif source == "msi":
        managed()
    elif source == "cli":
        cli()
    if not chain:
        raise AzureAuthError("auth_source=%s but client_id, secret (or x509_certificate_path) and tenant are not all set"
                             % source, code="CredentialMissing")
    return chain


def fingerprint(token):
    """A digest that tells two tokens apart without keeping either (SHA-256, hex)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest() if token else None


class TokenProvider:
    """Tokens per scope, cached for the life of the module run (or of a batch step).

    A token is reused until ``REFRESH_MARGIN`` seconds before it expires, so a
    long wait gets a fresh one in time; ``invalidate`` drops a token the
    service refused (for example revoked early) so the next call fetches anew.
    Thread-safe: the threads of a batch step share one provider, and a token
    is fetched once however many threads ask for it at the same moment.
    """

    def __init__(self, chain, clock=time.time):
        self._chain = chain
        self._active = None
        self._tokens = {}
        # A credential the token endpoint refused (400/401, see _client.token_error) is refused again: the threads
        # of a batch step get that error without asking again (one token request per identity per batch).
        self._refused = {}
        self._clock = clock
        self._lock = threading.Lock()
        self._fetched = threading.Condition(self._lock)   # a fetch ended (a token, or an error)
        self._fetching = set()                            # the scopes a thread is fetching a token for now

    def token(self, scope):
        """The token of ``scope``. One thread fetches at a time per scope, outside the lock: while a token still valid
        is refreshed ahead of its expiry the other threads keep using it, and only when none is valid do they wait for
        the one being fetched (a refresh never stalls a batch's requests)."""
        with self._lock:
            while True:
                cached = self._tokens.get(scope)
                left = cached[1] - self._clock() if cached else 0
                if cached and left > REFRESH_MARGIN:
                    return cached[0]
                if scope in self._refused:
                    raise self._refused[scope]
                if scope not in self._fetching:
                    self._fetching.add(scope)
                    break
                if cached and left > 0:
                    return cached[0]
                self._fetched.wait()
        try:
            token, expires_on = self._acquire(scope)
        except AzureAuthError as error:
            with self._lock:
                if error.status in (400, 401):
                    self._refused[scope] = error
            raise
        else:
            with self._lock:
                self._tokens[scope] = (token, expires_on)
            return token
        finally:
            with self._lock:
                self._fetching.discard(scope)
                self._fetched.notify_all()

    def invalidate(self, scope, refused=None):
        """Drop the token of ``scope`` (``refused``: the ``fingerprint`` of the token the service refused).

        Threads of a batch step that were refused the same expired token all ask; only the first drops it, the others
        find a newer token already cached and keep it (one token request per expiry, not one per thread).
        """
        with self._lock:
            cached = self._tokens.get(scope)
            if cached and refused is not None and fingerprint(cached[0]) != refused:
                return
            self._tokens.pop(scope, None)
            if self._active is not None and hasattr(self._active[1], "reset"):
                self._active[1].reset()

    def _acquire(self, scope):
        if self._active is not None:
            return self._fetch(self._active, scope)
        failures = []
        for entry in self._chain:
            try:
                result = self._fetch(entry, scope)
            except AzureAuthError as exc:
                if not exc.unavailable or len(self._chain) == 1:
                    raise
                # Only "not configured here" moves on to the next source; a
                # credential that is configured but refused is a real error.
                failures.append("%s: %s" % (entry[0], exc.message))
                continue
            self._active = entry
            return result
        raise AzureAuthError("no credential could get a token for %s; tried %s" % (scope, "; ".join(failures)))

    @staticmethod
    def _fetch(entry, scope):
        name, credential = entry
        try:
            return credential.get_token(scope)
        except AzureAuthError:
            raise
        except ImportError:
            raise missing_package("azure-identity", sys.executable, "%s authentication" % name, AzureAuthError)
        except Exception as exc:  # azure-identity raises many types; keep only its message
            message = " ".join(str(exc).split())[:400]
            error = AzureAuthError("%s could not get a token: %s" % (name, message))
            error.unavailable = type(exc).__name__ == "CredentialUnavailableError"
            raise error
