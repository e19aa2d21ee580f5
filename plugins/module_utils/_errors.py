# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One error type for every way an Azure call can fail.

Azure answers errors in several shapes: ARM ``CloudError`` and Device Update
``ErrorResponse`` (``{"error": {"code", "message", ...}}``), ASP.NET
``application/problem+json`` (``{"title", "status", "traceId"}``), OAuth token
errors (``{"error": "invalid_client", "error_description"}``), and empty or
non-JSON bodies from proxies. They are all parsed here, once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

REQUEST_ID_HEADERS = ("x-ms-request-id", "x-ms-client-request-id", "x-ms-correlation-request-id")

# Reason phrases used as a code when the body says nothing.
_STATUS_CODES = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    409: "Conflict", 412: "PreconditionFailed", 429: "TooManyRequests",
    500: "InternalServerError", 502: "BadGateway", 503: "ServiceUnavailable",
    504: "GatewayTimeout",
}

_MAX_TEXT = 300


class AzureError(Exception):
    """A failed Azure call, or a failure to complete one.

    ``status`` is the HTTP status (None when no response came back),
    ``code``/``message``/``target``/``details``/``innererror`` are Azure's own
    fields, ``request_id`` is the id to quote to Azure support.
    """

    def __init__(self, message, status=None, code=None, target=None, details=None,
                 innererror=None, request_id=None, url=None):
        super(AzureError, self).__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.details = details or []
        self.innererror = innererror
        self.request_id = request_id
        self.url = url

    def __str__(self):
        parts = ["Azure returned" if self.status else "Azure request failed:"]
        if self.status:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code + ":")
        parts.append(self.message or "(no message)")
        text = " ".join(parts) + inner_error_text({"innererror": self.innererror})
        if self.request_id:
            text += " (request id %s)" % self.request_id
        return text

    def to_dict(self):
        """The error as a result value: snake_case, JSON-safe, no secrets."""
        return {
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "target": self.target,
            "details": self.details,
            "innererror": self.innererror,
            "request_id": self.request_id,
        }


class AzureTimeoutError(AzureError):
    """The caller's deadline passed before the call or operation finished."""

    def __init__(self, message, **kwargs):
        kwargs.setdefault("code", "Timeout")
        super(AzureTimeoutError, self).__init__(message, **kwargs)


class AzureAuthError(AzureError):
    """No credential could produce a token.

    ``unavailable`` is True when the credential is simply not set up on this
    host (so ``auth_source=auto`` may try the next one).
    """

    unavailable = False

    def __init__(self, message, **kwargs):
        kwargs.setdefault("code", "AuthenticationFailed")
        super(AzureAuthError, self).__init__(message, **kwargs)


def innermost_error(error):
    """The deepest error object that has a ``code``, following ``innererror`` / ``innerError`` (or None)."""
    deepest = None
    while isinstance(error, dict):
        if error.get("code"):
            deepest = error
        error = error.get("innererror") or error.get("innerError") or error.get("inner_error")
    return deepest


def inner_error_text(error):
    """`` (inner error CODE: message detail)`` for the innermost inner error of ``error``, or ``""``."""
    inner = innermost_error(error.get("innererror") or error.get("innerError") or error.get("inner_error")) if error else None
    if inner is None:
        return ""
    detail = inner.get("errorDetail") or inner.get("error_detail")
    return " (inner error %s: %s)" % (inner["code"], " ".join(part for part in (inner.get("message"), detail) if part))


def error_text(error):
    """``code: message`` of an Azure error object, with its innermost inner error (for failure messages)."""
    if not error:
        return "no error details"
    return "%s: %s%s" % (error.get("code"), error.get("message") or "", inner_error_text(error))


def missing_package(package, interpreter, needed_for=None, error_class=None):
    """The error for a Python package missing on the host that runs the module, naming the interpreter."""
    return (error_class or AzureError)(
        "%sthe Python package %s is not installed for %s (the Python that runs this task): install it there "
        "(%s -m pip install %s) or set ansible_python_interpreter to a Python that has it"
        % ("%s needs it; " % needed_for if needed_for else "", package, interpreter, interpreter, package),
        code="MissingDependency")


def _request_id(headers, body):
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    if isinstance(body, dict) and body.get("traceId"):
        return body["traceId"]
    return None


def _short(text):
    text = " ".join(text.split())
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


def parse_error_body(status, reason, headers, content):
    """Return the fields of an AzureError from a raw error response.

    ``headers`` is a case-insensitive mapping, ``content`` the body bytes.
    """
    body = None
    text = ""
    if content:
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        try:
            body = json.loads(text)
        except ValueError:
            body = None
    fields = {"status": status, "request_id": _request_id(headers, body)}
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        # ARM CloudError, Device Update ErrorResponse, AKS CloudError.
        fields.update(
            code=error.get("code"),
            message=error.get("message"),
            target=error.get("target"),
            details=error.get("details") or [],
            innererror=error.get("innererror") or error.get("innerError"),
        )
    elif isinstance(error, str):
        # OAuth 2 token endpoint: {"error": "invalid_client", "error_description": "..."}
        fields.update(code=error, message=body.get("error_description"))
    elif isinstance(body, dict) and ("title" in body or "type" in body):
        # ASP.NET problem details, e.g. Device Update's 404 for an unknown operation.
        title = body.get("title") or ""
        fields.update(code="".join(title.split()) or _STATUS_CODES.get(status),
                      message=body.get("detail") or title or None)
    elif isinstance(body, dict) and ("code" in body or "message" in body):
        # An unwrapped error object (THROTTLING.md prints Compute's 429 so), details included.
        fields.update(code=body.get("code"), message=body.get("message"), target=body.get("target"),
                      details=body.get("details") or [])
    elif text.strip():
        fields.update(message=_short(text))
    if not fields.get("code"):
        fields["code"] = _STATUS_CODES.get(status) or "".join((reason or "").split()) or "HttpError"
    if not fields.get("message"):
        fields["message"] = reason or "HTTP %s with an empty body" % status
    return fields
