# -*- coding: utf-8 -*-
"""Every error shape the services use becomes one AzureError with a one-line message."""

import json

import pytest

from ansible_collections.azure_ops.rollout.plugins.module_utils._errors import (
    AzureError, error_text, innermost_error, parse_error_body)


def _error(status, body, headers=None, reason=""):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    fields = parse_error_body(status, reason, headers or {}, raw)
    message = fields.pop("message")
    return AzureError(message, **fields)


def test_arm_cloud_error():
    error = _error(409, {"error": {"code": "OperationNotAllowed", "message": "There is no ongoing Rolling Upgrade to cancel."}},
                   {"x-ms-request-id": "r-1"})
    assert str(error) == "Azure returned 409 OperationNotAllowed: There is no ongoing Rolling Upgrade to cancel. (request id r-1)"


def test_arm_error_with_details_and_innererror():
    error = _error(400, {"error": {"code": "InvalidParameter", "message": "bad", "target": "name",
                                   "details": [{"code": "A", "message": "a"}],
                                   "innererror": {"exceptiontype": "X", "errordetail": "Y"}}})
    assert (error.target, error.details[0]["code"], error.innererror["exceptiontype"]) == ("name", "A", "X")


def test_device_update_error_response_with_inner_error():
    error = _error(400, {"error": {"code": "CannotProcessImportManifest", "message": "Error processing import manifest.",
                                   "innerError": {"code": "CannotDownload", "message": "Cannot download"},
                                   "occurredDateTime": "2020-04-22T21:00:53Z"}})
    assert error.code == "CannotProcessImportManifest" and error.innererror["code"] == "CannotDownload"


def test_problem_details_404():
    error = _error(404, {"type": "https://tools.ietf.org/html/rfc7231#section-6.5.4", "title": "Not Found",
                         "status": 404, "traceId": "00-abc-def-00"})
    assert (error.code, error.message, error.request_id) == ("NotFound", "Not Found", "00-abc-def-00")


def test_oauth_error():
    error = _error(400, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."})
    assert error.code == "invalid_client" and "AADSTS7000215" in error.message


def test_top_level_code_and_message():
    error = _error(500, {"code": "InternalError", "message": "boom"})
    assert (error.code, error.message) == ("InternalError", "boom")


@pytest.mark.parametrize("body, reason", [(b"", "Service Unavailable"), (b"<html><body>Bad gateway</body></html>", "")])
def test_empty_or_non_json_bodies(body, reason):
    error = _error(503 if not body else 502, body, reason=reason)
    assert error.code in ("ServiceUnavailable", "BadGateway")
    assert error.message
    assert "\n" not in str(error)


def test_to_dict_is_complete():
    error = _error(409, {"error": {"code": "Conflict", "message": "m"}}, {"x-ms-request-id": "r"})
    assert set(error.to_dict()) == {"status", "code", "message", "target", "details", "innererror", "request_id"}


ADU_IMPORT_ERROR = {"code": "CannotProcessImportManifest", "message": "Error processing import manifest.",
                    "innerError": {"code": "CannotDownload", "message": "Cannot download import manifest.",
                                   "errorDetail": "Response status code does not indicate success: 403 (Forbidden)."}}


def test_error_text_names_the_innermost_code_message_and_detail():
    assert error_text(ADU_IMPORT_ERROR) == (
        "CannotProcessImportManifest: Error processing import manifest. (inner error CannotDownload: Cannot download "
        "import manifest. Response status code does not indicate success: 403 (Forbidden).)")


def test_innermost_error_follows_every_spelling_and_skips_codeless_levels():
    nested = {"code": "A", "innererror": {"code": "B", "inner_error": {"innerError": {"code": "C"}}}}
    assert innermost_error(nested) == {"code": "C"}
    assert innermost_error({"code": "A", "innererror": {"exceptiontype": "X"}}) == {"code": "A", "innererror": {"exceptiontype": "X"}}
    assert error_text(None) == "no error details"
    assert error_text({"code": "A", "message": "m", "innererror": {"exceptiontype": "X"}}) == "A: m"


def test_an_error_response_with_an_inner_error_shows_it():
    error = _error(400, {"error": ADU_IMPORT_ERROR})
    assert str(error).startswith("Azure returned 400 CannotProcessImportManifest: Error processing import manifest. "
                                 "(inner error CannotDownload: Cannot download import manifest. Response status code")
