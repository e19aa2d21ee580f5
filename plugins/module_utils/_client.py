# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one HTTP path to Azure: session, token, retries, errors, paging.

Every call (module request, operation poll, next page) goes through
``AzureClient.request``, which applies the timeouts, the retry policy, the
host check for the bearer token and the error parsing. Nothing else in the
collection touches ``requests``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import sys
import threading
import uuid

from ansible_collections.azure_ops.rollout.plugins.module_utils import _auth, _pacing
from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import (
    AzureAuthError, AzureError, AzureTimeoutError, missing_package, parse_error_body)
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import (
    UNREACHED_ATTEMPTS, UNREACHED_BACKOFF, UNREACHED_TIMED_OUT_ATTEMPTS, Deadline, SystemClock, backoff_delays, may_retry,
    parse_retry_after)

from urllib.parse import quote, urlencode, urljoin, urlsplit, urlunsplit, parse_qsl

COLLECTION_VERSION = "1.0.0"
USER_AGENT = "azure_ops.rollout/%s" % COLLECTION_VERSION
CONNECT_TIMEOUT = 10
# A token refused as stale is replaced at most this often per request (a revoked
# token, then its replacement revoked too); more means the credential is the problem.
MAX_TOKEN_REFRESHES = 2
# 401 codes that mean "get a new token and try again" rather than "you may not".
_STALE_TOKEN_CODES = ("ExpiredAuthenticationToken", "InvalidAuthenticationToken", "InvalidAuthenticationTokenTenant")


def quote_segment(value):
    """Quote one path segment so that it can never change the path (``../x``, ``a/b``, ``?``)."""
    value = str(value)
    if value in (".", ".."):
        # RFC 3986 dot-segments are removed by normalisation even when quoted
        # as %2E; refuse them rather than let a name walk up the path.
        raise AzureError("a path segment may not be %r" % value, code="InvalidPathSegment")
    return quote(value, safe="-._~@!$&'()*+,;=:")


def resource_path(*segments):
    """Join literal and variable segments: literals are trusted, ``("x", value)`` are quoted."""
    parts = []
    for segment in segments:
        if isinstance(segment, tuple):
            parts.append(quote_segment(segment[1]))
        else:
            parts.append(segment.strip("/"))
    return "/" + "/".join(parts)


def origin(url):
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


class Response:
    """What callers need from a response: status, headers, parsed body, URL."""

    def __init__(self, status, headers, content, url, credential=None):
        self.status = status
        self.headers = headers
        self.content = content
        self.url = url
        # The fingerprint of the token sent (_auth.fingerprint), never the token: a 401 drops only that one.
        self.credential = credential

    _parsed = None

    def json(self):
        """The parsed body (None when empty); AzureError when it is not JSON."""
        if not self.content:
            return None
        if self._parsed is None:
            try:
                self._parsed = json.loads(self.content.decode("utf-8-sig"))
            except ValueError:
                raise AzureError("Azure sent a response that is not valid JSON (HTTP %s from %s)" % (self.status, _redact(self.url)),
                                 status=self.status, code="InvalidResponseBody")
        return self._parsed

    def is_valid_json(self):
        try:
            self.json()
        except AzureError:
            return False
        return True

    def header(self, name):
        return self.headers.get(name)


class RetryPolicy:
    """How hard to try: attempts and the longest single backoff."""

    def __init__(self, max_attempts=8, backoff_base=1.0, backoff_cap=30.0, max_wait=600.0, rng=None):
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_wait = max_wait
        self.rng = rng


class AzureClient:
    """An authenticated client for one resource manager endpoint (and data planes).

    ``scope`` picks the token audience per request: ``"arm"`` (default) or a
    full scope such as the Device Update one. The token for a scope is only
    ever sent to the origin registered for that scope.
    """

    def __init__(self, options, clock=None, retry=None, session=None, max_connections=10, pacer=None):
        self.options = dict(options)
        self.clock = clock or SystemClock()
        self.retry = retry or RetryPolicy()
        # Azure's rate limits are shared by everything this process sends: one pacer (_pacing.PACER) on the
        # real clock; a client on another clock (tests) gets its own on that clock.
        self.pacer = pacer or (_pacing.PACER if clock is None else _pacing.Pacer(self.clock))
        self.stats = _pacing.Stats()   # every throttle this client's requests waited out (a module run's)
        arm = _auth.endpoints(self.options)[0]
        self.resource_manager_endpoint = arm
        self.subscription_id = self.options.get("subscription_id")
        self.read_timeout = int(self.options.get("request_timeout") or 60)
        self._session = session
        self._scopes = {"arm": (_auth.arm_scope(arm), origin(arm))}
        self._tokens = None
        # Threads of a batch step share one client: lazy setup under a lock, the deadline of the request
        # in flight per thread (a token fetched on the way shares it), and a pool with a connection per
        # thread that may be sending at once, so keep-alive connections are reused, not re-handshaken.
        self._setup_lock = threading.Lock()
        self._local = threading.local()
        self.max_connections = max_connections

    # -- setup -------------------------------------------------------------
    @property
    def verify(self):
        if self.options.get("validate_certs") is False:
            return False
        return self.options.get("ca_path") or True

    @property
    def session(self):
        with self._setup_lock:
            if self._session is None:
                requests = _requests()  # deferred so that argument errors fail fast
                session = requests.Session()
                session.headers["User-Agent"] = USER_AGENT
                if self.max_connections > 10:
                    adapter = requests.adapters.HTTPAdapter(pool_maxsize=self.max_connections)
                    session.mount("https://", adapter)
                if self.verify is False:
                    import urllib3

                    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
                self._session = session
        return self._session

    @property
    def tokens(self):
        if self._tokens is None:
            verify = self.verify
            if verify is True:
                # Same bundle requests would pick up from REQUESTS_CA_BUNDLE.
                verify = self.session.merge_environment_settings(self.resource_manager_endpoint, {}, None, True, None)["verify"]
            with self._setup_lock:
                if self._tokens is None:
                    chain = _auth.credential_chain(self.options, verify, self._post_token_form)
                    self._tokens = _auth.TokenProvider(chain)
        return self._tokens

    def throttled(self):
        """What Azure's throttling cost this client's requests: ``[{"policy", "times", "seconds"}]``, the ``throttled``
        entry of a module's result (a batch step's job reports its scale set's own, from its ``Context``)."""
        return self.stats.summary()

    def trusts(self, url, scope="arm"):
        """Whether ``scope``'s token may be sent to ``url`` (its origin is the one the token is for)."""
        return origin(url) == self._scopes[scope][1]

    def register_scope(self, name, scope, endpoint):
        """Allow ``scope``'s token to be sent to ``endpoint``'s origin (a data plane)."""
        self._scopes[name] = (scope, origin(endpoint))

    # -- requests ------------------------------------------------------------
    def url(self, path, base=None):
        return (base or self.resource_manager_endpoint).rstrip("/") + path

    def request(self, method, url, params=None, body=None, scope="arm", expected=(200,), starts_operation=False,
                deadline=None, headers=None, allow_status=(), form=None):
        """Send one logical request, retrying transient failures, and return a Response.

        ``expected`` statuses return normally, ``allow_status`` too (for 404
        "does not exist" and 304 "not modified"); anything else raises
        AzureError. ``starts_operation`` marks a POST that must never run twice.
        ``scope=None`` sends no token (the token endpoint itself); ``form`` is
        a form-encoded body. ``deadline``: a Deadline or a ``_pacing.Context``
        (priority, and the statistics its throttles feed).
        """
        if not url.lower().startswith("https://") and not url.lower().startswith("http://"):
            url = self.url(url)
        token_scope = None
        if scope is not None:
            token_scope, trusted_origin = self._scopes[scope]
            if origin(url) != trusted_origin:
                raise AzureError(
                    "refusing to send the %s token to %s://%s:%s, which is not the endpoint it was issued for (%s://%s:%s)"
                    % ((scope,) + origin(url) + trusted_origin), code="UntrustedHost", url=url)
        deadline = _pacing.Context(deadline or Deadline(None, self.clock))
        # A token fetched on the way (client secret grant) shares this deadline.
        self._local.deadline = deadline
        delays = backoff_delays(self.retry.backoff_base, self.retry.backoff_cap, self.retry.rng)
        unreached_delays = backoff_delays(UNREACHED_BACKOFF, 2 * UNREACHED_BACKOFF, self.retry.rng)
        token_refreshes = 0
        attempt = unreached = 0
        while True:
            attempt += 1
            if deadline.expired():
                raise AzureTimeoutError("the deadline passed before %s %s could be sent" % (method, _redact(url)), url=url)
            try:
                response, slot = self._paced_send(method, url, params, body if form is None else form, token_scope,
                                                  headers, deadline, form is not None)
            except _ConnectionFailed as failure:
                if failure.sent:
                    retry = attempt < self.retry.max_attempts and may_retry(starts_operation, None, True)
                    wait = next(delays)
                else:
                    unreached += 1
                    retry = unreached < (UNREACHED_TIMED_OUT_ATTEMPTS if failure.timed_out else UNREACHED_ATTEMPTS)
                    wait = next(unreached_delays)
                if not retry:
                    tries = " (%d attempts)" % attempt if attempt > 1 else ""
                    raise AzureError("%s%s: %s %s" % (failure.reason, tries, method, _redact(url)), code=failure.code, url=url)
            else:
                if response.status in expected or response.status in allow_status:
                    # A truncated body on a read is transient (a proxy or a
                    # dropped stream): read again rather than fail the task.
                    if method == "GET" and response.status == 200 and not response.is_valid_json():
                        if attempt >= self.retry.max_attempts:
                            response.json()  # raises the clear InvalidResponseBody error
                        wait = next(delays)
                    else:
                        return response
                else:
                    error = self.error_from(response)
                    if (token_scope and response.status == 401 and error.code in _STALE_TOKEN_CODES
                            and token_refreshes < MAX_TOKEN_REFRESHES):
                        token_refreshes += 1
                        self.tokens.invalidate(token_scope, response.credential)
                        continue
                    if attempt >= self.retry.max_attempts or not may_retry(starts_operation, response.status):
                        raise error
                    hinted = parse_retry_after(response.headers, self.clock.wall())
                    wait = next(delays) if hinted is None else hinted
                    if response.status == 429:
                        self._wait_out_throttle(method, url, error, wait, deadline, slot)
                        continue
            if wait > self.retry.max_wait or wait > deadline.remaining():
                raise AzureTimeoutError(
                    "gave up on %s %s: the service asked to wait %.0f s, beyond the time left (%.0f s)"
                    % (method, _redact(url), wait, min(deadline.remaining(), self.retry.max_wait)), url=url)
            deadline.sleep(wait)

    def _wait_out_throttle(self, method, url, error, wait, deadline, slot):
        """Azure said 429: wait its Retry-After within the deadline (recorded), or raise at once if it reaches past it."""
        policy = _pacing.throttle_policy(error, method)
        self.pacer.throttle(slot, policy, wait, _allowed(error))
        left = deadline.remaining() if deadline.at is not None else self.retry.max_wait
        if wait > left:
            self._record(deadline, [(policy or error.code, 0.0)])
            raise _pacing.throttled_error(method, _redact(url), error, policy, wait, left)
        self._record(deadline, [(policy or error.code, deadline.sleep(wait))])

    def _record(self, context, waits):
        """Throttles waited out: this client's, and the call's scale set's (its Context's statistics)."""
        for policy, seconds in waits:
            self.stats.add(policy, seconds)
            if context.stats is not None and context.stats is not self.stats:
                context.stats.add(policy, seconds)

    def _paced_send(self, method, url, params, body, token_scope, headers, context, is_form=False):
        """``_send`` in its turn under Azure's rate limits; the pacer learns from the answer. (response, Slot)"""
        slot = self.pacer.acquire(context, method, url)
        self._record(context, slot.held)
        response = None
        try:
            response = self._send(method, url, params, body, token_scope, headers, context, is_form)
        finally:
            self.pacer.answer(slot, response.headers if response is not None else None)
        return response, slot

    def _send(self, method, url, params, body, token_scope, headers, deadline, is_form=False):
        requests = _requests()
        send_headers = {"x-ms-client-request-id": str(uuid.uuid4()), "Accept": "application/json"}
        if headers:
            send_headers.update(headers)
        credential = None
        if token_scope:
            token = self.tokens.token(token_scope)
            send_headers["Authorization"] = "Bearer " + token
            credential = _auth.fingerprint(token)
        data = None
        if is_form:
            data = body  # requests form-encodes a dict
        elif body is not None:
            data = json.dumps(body)
            send_headers["Content-Type"] = "application/json"
        elif method in ("POST", "PUT", "PATCH"):
            data = b""
        read_timeout = max(1.0, min(self.read_timeout, deadline.remaining()))
        connect_timeout = min(CONNECT_TIMEOUT, read_timeout)
        try:
            raw = self.session.request(method, url, params=params, data=data, headers=send_headers, verify=self.verify,
                                       timeout=(connect_timeout, read_timeout), allow_redirects=False)
        except requests.exceptions.SSLError as exc:
            raise AzureError("TLS verification of %s failed (%s). Set ca_path to the CA that signed the server "
                             "certificate, or validate_certs=false only for a trusted test endpoint: %s %s"
                             % (_host_port(url), _innermost_text(exc), method, _redact(url)), code="TLSError", url=url)
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            raise _ConnectionFailed(exc, url, connect_timeout, read_timeout)
        return Response(raw.status_code, raw.headers, raw.content, raw.url, credential)

    def error_from(self, response):
        """The AzureError an error response stands for."""
        fields = parse_error_body(response.status, "", response.headers, response.content)
        message = fields.pop("message")
        return AzureError(message, url=response.url, **fields)

    def _post_token_form(self, url, form):
        """POST a token request (client-credentials grant), with the usual retries; return the JSON body."""
        try:
            body = self.request("POST", url, form=form, scope=None, deadline=getattr(self._local, "deadline", None)).json()
        except AzureError as error:
            raise token_error(url, error)
        if not isinstance(body, dict):
            raise AzureAuthError("the token endpoint %s did not answer a JSON object" % _redact(url))
        return body

    # -- conveniences --------------------------------------------------------
    def get_json(self, url, params=None, scope="arm", deadline=None, allow_status=(), headers=None):
        """GET and parse JSON; returns (body or None, Response)."""
        response = self.request("GET", url, params=params, scope=scope, deadline=deadline, allow_status=allow_status,
                                headers=headers)
        if response.status != 200:
            return None, response
        return response.json(), response

    def pages(self, url, params=None, scope="arm", limit=None, deadline=None):
        """Yield the items of a paged list lazily, following ``nextLink``; stop after ``limit`` items."""
        count = 0
        api_version = (params or {}).get("api-version")
        while url:
            body, response = self.get_json(url, params=params, scope=scope, deadline=deadline)
            body = body or {}
            for item in body.get("value") or []:
                if limit is not None and count >= limit:
                    return
                count += 1
                yield item
            if limit is not None and count >= limit:
                return
            url, params = next_page(response.url, body.get("nextLink"), api_version)


def next_page(current_url, next_link, api_version=None):
    """(url, params) of the next page, or (None, None). Relative links resolve against the current URL."""
    if not next_link:
        return None, None
    url = urljoin(current_url, next_link)
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if api_version and not any(pair[0].lower() == "api-version" for pair in query):
        query.append(("api-version", api_version))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query, quote_via=quote), "")), None


def _allowed(error):
    """The ``allowedRequestCount`` a Compute 429 gives in its detail (the size of the budget it ran out of), or None."""
    for detail in error.details or []:
        try:
            inner = json.loads(detail.get("message") or "") if isinstance(detail, dict) else None
            return int(inner["allowedRequestCount"])
        except (TypeError, ValueError, KeyError):
            continue
    return None


def _requests():
    """The requests package, imported on first use (argument errors fail before); a clear error when it is missing."""
    try:
        import requests
    except ImportError:
        raise missing_package("requests", sys.executable)
    return requests


def token_error(url, error):
    """The AzureAuthError for a failed token request: refused credentials only when the endpoint said so."""
    if error.status in (400, 401):
        # OAuth 2 answers invalid_client, unauthorized_client, invalid_request... with 400 or 401.
        return AzureAuthError("the token endpoint %s refused the client credentials: %s %s"
                              % (_redact(url), error.code, error.message),
                              status=error.status, request_id=error.request_id, url=error.url)
    if error.status:
        return AzureAuthError("the token endpoint %s answered %s %s: %s" % (_redact(url), error.status, error.code, error.message),
                              status=error.status, request_id=error.request_id, code=error.code, url=error.url)
    # No answer at all (connection, name resolution, TLS, deadline): say which, not "refused".
    return AzureAuthError(error.message, code=error.code, url=error.url)


class _ConnectionFailed(Exception):
    """A request that got no HTTP answer: ``code`` and ``reason`` say why, ``sent`` whether it may have reached the service."""

    def __init__(self, exc, url, connect_timeout, read_timeout):
        code, reason, sent, timed_out = describe_connection_failure(exc, url, connect_timeout, read_timeout)
        super(_ConnectionFailed, self).__init__(reason)
        self.code = code
        self.reason = reason
        self.sent = sent
        self.timed_out = timed_out


def _exception_chain(exc):
    """``exc`` and the exceptions it wraps (requests -> urllib3 -> socket), outermost first."""
    chain = []
    while exc is not None and exc not in chain and len(chain) < 10:
        chain.append(exc)
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        exc = inner or exc.__cause__ or exc.__context__
    return chain


def _innermost_text(exc):
    """The message of the innermost cause (``[Errno 111] Connection refused``), not urllib3's wrapping."""
    inner = _exception_chain(exc)[-1]
    text = " ".join(str(inner).split())
    return text[:300] or inner.__class__.__name__


def describe_connection_failure(exc, url, connect_timeout, read_timeout):
    """(code, reason in words naming the host, may it have reached the service?, was it a connect timeout?)."""
    requests = _requests()
    host = _host_port(url)
    names = [type(e).__name__ for e in _exception_chain(exc)]
    if "NameResolutionError" in names or "gaierror" in names:
        return "NameResolutionError", "the host name %s does not resolve (%s)" % (origin(url)[1], _innermost_text(exc)), False, False
    if "ConnectionRefusedError" in names:
        return "ConnectionError", "connection refused by %s" % host, False, False
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "ConnectionError", "no answer from %s within %s s (connect timeout)" % (host, connect_timeout), False, True
    if "NewConnectionError" in names:
        return "ConnectionError", "cannot connect to %s (%s)" % (host, _innermost_text(exc)), False, False
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "ConnectionError", "no response from %s within %.0f s (read timeout)" % (host, read_timeout), True, False
    return "ConnectionError", "connection to %s failed (%s)" % (host, _innermost_text(exc)), True, False


def _host_port(url):
    return "%s:%s" % origin(url)[1:]


def _redact(url):
    """The URL without its query (no SAS or skip tokens in messages)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
