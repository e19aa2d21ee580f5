# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AKS operation status (OperationStatusResult): get, list, wait."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.azure_ops.rollout.plugins.module_utils import _lro, _shapes
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import resource_path

# The operation status API is preview-only (no GA version serves it); the versions checked are listed in the
# api_version option of the module aks_operation_info.
API_VERSION = "2025-05-02-preview"


def operations_path(subscription_id, resource_group, cluster, agent_pool=None, operation_id=None):
    segments = ["subscriptions", ("s", subscription_id), "resourceGroups", ("g", resource_group),
                "providers/Microsoft.ContainerService/managedClusters", ("c", cluster)]
    if agent_pool:
        segments += ["agentPools", ("p", agent_pool)]
    segments.append("operations")
    if operation_id:
        segments.append(("o", operation_id))
    return resource_path(*segments)


def get_operation(client, path, api_version=API_VERSION, deadline=None):
    """The shaped operation, or None when the service answers 404."""
    body, response = client.get_json(path, params={"api-version": api_version}, deadline=deadline, allow_status=(404,))
    return None if response.status == 404 else _shapes.aks_operation(body)


def list_operations(client, path, api_version=API_VERSION, limit=None):
    return [_shapes.aks_operation(item) for item in client.pages(path, params={"api-version": api_version}, limit=limit)]


def wait_operation(client, path, deadline, interval, api_version=API_VERSION):
    """Poll one operation until Succeeded/Failed/Canceled or the deadline; a WaitResult of shaped operations."""
    def fetch():
        return get_operation(client, path, api_version, deadline), None

    def done(shaped):
        return shaped is None or _lro.is_terminal_status(shaped["status"])

    def summarize(shaped):
        return {"status": shaped["status"], "percent_complete": shaped["percent_complete"]} if shaped else None

    return _lro.wait_until(fetch, done, deadline, interval, summarize)
