# -*- coding: utf-8 -*-
# Copyright: (c) 2026, azure_ops.rollout contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Azure bodies -> the small, documented, snake_case results modules return.

Pure functions only. Field names follow the API (``percentComplete`` ->
``percent_complete``); timestamps stay the ISO 8601 strings Azure sent; every
optional field may be missing (the real compute service omits ``id``,
``name`` and ``tags`` on ``rollingUpgrades/latest``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Keys whose values are user data (tag names) and must not be renamed.
_OPAQUE_KEYS = ("tags",)

ROLLING_UPGRADE_TERMINAL = ("Completed", "Faulted", "Cancelled")
PROGRESS_KEYS = ("successful_instance_count", "failed_instance_count", "in_progress_instance_count", "pending_instance_count")


def snake(name):
    return _CAMEL.sub("_", name).lower()


def snake_keys(value):
    """Rename dict keys recursively to snake_case, leaving tag maps as they are."""
    if isinstance(value, dict):
        return {snake(k): (v if k in _OPAQUE_KEYS else snake_keys(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [snake_keys(v) for v in value]
    return value


def api_error(error):
    """An Azure error object (ARM ApiError, ADU Error, AKS ErrorDetail) or None."""
    if not error:
        return None
    shaped = snake_keys(error)
    if "inner_error" in shaped and "innererror" not in shaped:
        shaped["innererror"] = shaped.pop("inner_error")
    for key in ("code", "message", "target"):
        shaped.setdefault(key, None)
    shaped.setdefault("details", [])
    return shaped


def _counts(progress):
    return {key: int((progress or {}).get(key) or 0) for key in PROGRESS_KEYS}


def percent_complete(progress, code=None):
    """Share of instances that finished (succeeded or failed), 0-100, one decimal."""
    counts = _counts(progress)
    total = sum(counts.values())
    if not total:
        return 100.0 if code == "Completed" else 0.0
    done = counts["successful_instance_count"] + counts["failed_instance_count"]
    return round(100.0 * done / total, 1)


def rolling_upgrade(body):
    """``rollingUpgrades/latest`` (RollingUpgradeStatusInfo) as a module result."""
    body = body or {}
    props = body.get("properties") or {}
    running = snake_keys(props.get("runningStatus") or {})
    for key in ("code", "start_time", "last_action", "last_action_time"):
        running.setdefault(key, None)
    progress = _counts(snake_keys(props.get("progress") or {}))
    shaped = {
        "policy": snake_keys(props.get("policy") or {}),
        "running_status": running,
        "progress": progress,
        "error": api_error(props.get("error")),
        "is_terminal": running["code"] in ROLLING_UPGRADE_TERMINAL,
        "percent_complete": percent_complete(progress, running["code"]),
    }
    for key in ("id", "name", "type", "location", "tags"):
        if key in body:
            shaped[key] = body[key]
    return shaped


def progress_summary(shaped):
    """The compact progress line of a shaped rolling upgrade (for timelines)."""
    progress = shaped["progress"]
    return {
        "code": shaped["running_status"]["code"],
        "succeeded": progress["successful_instance_count"],
        "failed": progress["failed_instance_count"],
        "in_progress": progress["in_progress_instance_count"],
        "pending": progress["pending_instance_count"],
        "percent_complete": shaped["percent_complete"],
    }


def compute_operation(body):
    """A compute async-operation status body as ``operation``."""
    body = body or {}
    return {
        "status": body.get("status"),
        "start_time": body.get("startTime"),
        "end_time": body.get("endTime"),
        "name": body.get("name"),
        "error": api_error(body.get("error")),
    }


def aks_operation(body):
    """An AKS OperationStatusResult, nested operations included."""
    body = body or {}
    return {
        "id": body.get("id"),
        "name": body.get("name"),
        "status": body.get("status"),
        "percent_complete": body.get("percentComplete"),
        "start_time": body.get("startTime"),
        "end_time": body.get("endTime"),
        "resource_id": body.get("resourceId"),
        "error": api_error(body.get("error")),
        "operations": [aks_operation(child) for child in body.get("operations") or []],
    }


def adu_operation(body):
    """A Device Update operation, GA (``update.updateId``) or preview (``updateId``) shape."""
    body = body or {}
    update_id = (body.get("update") or {}).get("updateId") or body.get("updateId") or None
    return {
        "operation_id": body.get("operationId"),
        "status": body.get("status"),
        "update_id": {key: update_id.get(key) for key in ("provider", "name", "version")} if update_id else None,
        "resource_location": body.get("resourceLocation"),
        "trace_id": body.get("traceId"),
        "created_date_time": body.get("createdDateTime"),
        "last_action_date_time": body.get("lastActionDateTime"),
        "etag": body.get("etag"),
        "error": api_error(body.get("error")),
    }
