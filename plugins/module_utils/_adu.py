# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Device Update import/delete operations (data plane): both API shapes, list, get, wait.

GA 2022-10-01: ``/deviceUpdate/{instance}/updates/operations`` with ``api-version``,
``filter`` and ``top``. Legacy preview 2020-09-01:
``/deviceupdate/{instance}/v2/updates/operations`` with ``$filter``/``$top`` and no
api-version. Tokens are for the Device Update audience, never the ARM one.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections

from ansible_collections.azure_ops.rollout.plugins.module_utils import _lro, _shapes
from ansible_collections.azure_ops.rollout.plugins.module_utils._auth import DEVICE_UPDATE_SCOPE
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import resource_path
from ansible_collections.azure_ops.rollout.plugins.module_utils._timing import parse_retry_after

GA_API_VERSION = "2022-10-01"
PREVIEW_API_VERSION = "2020-09-01"
API_VERSIONS = (GA_API_VERSION, PREVIEW_API_VERSION)
LIST_STATUSES = ("NotStarted", "Running")
TERMINAL = ("succeeded", "failed")
SCOPE_NAME = "adu"


def connect(client, endpoint):
    """Allow the Device Update token to go to ``https://{endpoint}`` and nowhere else."""
    client.register_scope(SCOPE_NAME, DEVICE_UPDATE_SCOPE, "https://" + endpoint)


def status_filter(statuses):
    """The only filter the service supports, built from a list of statuses (None for no filter)."""
    if not statuses:
        return None
    return " or ".join("status eq '%s'" % status for status in statuses)


class OperationsApi:
    """URLs and query names of one API version for one instance."""

    def __init__(self, endpoint, instance_id, api_version=GA_API_VERSION):
        self.base = "https://" + endpoint
        self.preview = api_version == PREVIEW_API_VERSION
        self.api_version = api_version
        if self.preview:
            self.path = resource_path("deviceupdate", ("i", instance_id), "v2/updates/operations")
        else:
            self.path = resource_path("deviceUpdate", ("i", instance_id), "updates/operations")

    def url(self, operation_id=None):
        return self.base + self.path + (resource_path(("o", operation_id)) if operation_id else "")

    def params(self, statuses=None, top=None):
        prefix = "$" if self.preview else ""
        params = {} if self.preview else {"api-version": self.api_version}
        if statuses:
            params[prefix + "filter"] = status_filter(statuses)
        if top:
            params[prefix + "top"] = top
        return params


def list_operations(client, api, statuses=None, top=None):
    """Lazily yield shaped operations across pages: at most ``top`` of them, as the API defines ``top``.

    ``top`` is sent to the service, which returns "the number of available items up to but not greater
    than" it, and reading stops after ``top`` items even when the service pages on.
    """
    for item in client.pages(api.url(), params=api.params(statuses, top), scope=SCOPE_NAME, limit=top):
        yield _shapes.adu_operation(item)


# One read of an operation: the HTTP status (200, 304 unchanged since ``etag``, or 404), the shaped
# operation (None unless 200) and the service's Retry-After in seconds (or None).
OperationRead = collections.namedtuple("OperationRead", "status operation retry_after")


def get_operation(client, api, operation_id, deadline=None, etag=None):
    """Read one operation (``If-None-Match: etag`` when given); an OperationRead."""
    headers = {"If-None-Match": etag} if etag else None
    body, response = client.get_json(api.url(operation_id), params=api.params(), scope=SCOPE_NAME, deadline=deadline,
                                     allow_status=(304, 404), headers=headers)
    if response.status != 200:
        return OperationRead(response.status, None, parse_retry_after(response.headers))
    shaped = _shapes.adu_operation(body)
    if not shaped["etag"] and response.header("ETag"):
        shaped["etag"] = response.header("ETag")
    return OperationRead(200, shaped, parse_retry_after(response.headers))


def wait_operation(client, api, operation_id, deadline, interval):
    """Poll until Succeeded/Failed (or the operation vanishes); honours Retry-After and sends If-None-Match."""
    state = {"last": None}

    def fetch():
        last = state["last"]
        read = get_operation(client, api, operation_id, deadline, etag=last["etag"] if last else None)
        state["last"] = last if read.status == 304 else read.operation
        return state["last"], read.retry_after

    def done(shaped):
        return shaped is None or str(shaped["status"]).lower() in TERMINAL

    def summarize(shaped):
        return {"status": shaped["status"]} if shaped else None

    return _lro.wait_until(fetch, done, deadline, interval, summarize)
