# -*- coding: utf-8 -*-
"""_shapes: Azure bodies to module results (pure)."""

from ansible_collections.azure_ops.rollout.plugins.module_utils import _shapes


def test_shape_of_the_minimum_set_tolerates_absent_fields():
    shaped = _shapes.rolling_upgrade({})
    assert shaped["running_status"] == {"code": None, "start_time": None, "last_action": None, "last_action_time": None}
    assert shaped["progress"]["pending_instance_count"] == 0 and shaped["error"] is None
    assert shaped["is_terminal"] is False and "id" not in shaped


def test_shape_of_the_maximum_set():
    body = {"id": "/x", "name": "n", "type": "t", "location": "westus", "tags": {"Ring-Name": "canary"},
            "properties": {"policy": {"maxBatchInstancePercent": 49, "pauseTimeBetweenBatches": "PT1S"},
                           "runningStatus": {"code": "Faulted", "startTime": "s", "lastAction": "Start", "lastActionTime": "l"},
                           "progress": {"successfulInstanceCount": 3, "failedInstanceCount": 1,
                                        "inProgressInstanceCount": 0, "pendingInstanceCount": 6},
                           "error": {"code": "MaxUnhealthyInstancePercentExceededInRollingUpgrade", "message": "m",
                                     "details": [{"code": "c", "target": "t", "message": "d"}],
                                     "innererror": {"exceptiontype": "e", "errordetail": "d"}}}}
    shaped = _shapes.rolling_upgrade(body)
    assert shaped["tags"] == {"Ring-Name": "canary"}  # user data keeps its keys
    assert shaped["policy"] == {"max_batch_instance_percent": 49, "pause_time_between_batches": "PT1S"}
    assert shaped["running_status"]["last_action_time"] == "l"
    assert shaped["percent_complete"] == 40.0 and shaped["is_terminal"] is True
    assert shaped["error"]["innererror"] == {"exceptiontype": "e", "errordetail": "d"}
