# -*- coding: utf-8 -*-
"""Model rollouts (issue 21): requests per instance, and wall time against the sum of batch durations (a script that
prints figures; not a test).

    .venv/bin/python tests/benchmarks/model.py [--instances 100] [--scale-sets 100] [--seconds 300] [--time-scale 15]

Two cases, each on the emulator (in this process) with Azure's rate limits off and a real clock:

* ``one``: one ``Manual`` scale set of ``--instances`` instances (Application Health extension, three zones), every
  instance on the previous model, each instance update lasting ``--seconds`` simulated seconds, run by the module's
  own machine (``_engine.run_one`` with ``_model.MODEL``), batches of 20 %, poll every 5 s;
* ``fleet``: ``--scale-sets`` such scale sets of 10 instances on one scheduler (the batch step's engine: 32 workers, 10
  concurrent starts), batches of 20 %.

Figures: ARM requests per instance (everything the rollout sent: the model, the VM list pages, the manualupgrade calls,
the operation polls, the health reads); wall time; the sum of the batch durations (from each manualupgrade to the end of
its health gate) and the ratio wall / sum (one scale set) or wall / the longest scale set's sum (the fleet, whose scale
sets run side by side).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  pylint: disable=wrong-import-position

C.ensure_collection_link()

from ansible_collections.azure_ops.rollout.plugins.module_utils import _engine, _model  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient  # noqa: E402  pylint: disable=wrong-import-position
from tests.emulator import Emulator  # noqa: E402  pylint: disable=wrong-import-position
from tests.helpers import options_for  # noqa: E402  pylint: disable=wrong-import-position

SUB = "00000000-0000-0000-0000-000000000001"
RG = "rg-model"


def scenario(count, instances, seconds, time_scale):
    scale_sets = [{"name": "vmss-model-%03d" % index, "resource_group": RG, "location": "eastus", "upgrade_mode": "Manual",
                   "capacity": instances, "zones": ["1", "2", "3"], "model_outdated_instances": "all",
                   "manual_upgrade_seconds": seconds, "tags": {"ring": "all"}} for index in range(count)]
    return {"name": "model-bench", "time_scale": time_scale, "seed": 1, "page_size": 50, "subscriptions": [SUB],
            "resource_groups": [{"name": RG, "location": "eastus"}], "scale_sets": scale_sets, "throttling": False}


def _params():
    params = dict((name, spec.get("default")) for name, spec in _model.MODEL_SPEC.items())
    params.update(batch_size="20%", api_version="2024-07-01", wait_timeout=7200, poll_interval=5, on_timeout="fail",
                  health_timeout=600)
    return params


def run_case(emu, count, instances, seconds, time_scale):
    emu.load(scenario(count, instances, seconds, time_scale))
    emu.clear_requests()
    client = AzureClient(options_for(emu), max_connections=64)
    rollouts = [_engine.Rollout({"subscription_id": SUB, "resource_group": RG, "name": "vmss-model-%03d" % index},
                                _params(), client, _model.MODEL) for index in range(count)]
    began = time.monotonic()
    if count == 1:
        _engine.run_one(rollouts[0])
    else:
        _engine.Scheduler(client.clock, workers=min(_engine.WORKERS, count), max_starts=10, pacer=client.pacer).run(rollouts)
    wall = time.monotonic() - began
    arm = [r for r in emu.requests if r["kind"] == "arm"]
    sums = [sum(batch["duration"] for batch in rollout.outcome.result["batches"]) for rollout in rollouts]
    failed = [rollout.params["name"] for rollout in rollouts if rollout.outcome.failed]
    posts = sum(1 for r in arm if r["method"] == "POST")
    # The floor: every batch of the longest scale set lasting exactly one instance update (in real seconds).
    floor = max(len(r.outcome.result["batches"]) for r in rollouts) * seconds / time_scale
    return {"scale_sets": count, "instances": instances * count, "seconds_per_instance": seconds, "time_scale": time_scale,
            "wall_s": round(wall, 1), "batch_sum_s": round(max(sums), 1), "ratio": round(wall / max(sums + [0.001]), 2),
            "floor_s": round(floor, 1), "floor_ratio": round(wall / max(floor, 0.001), 2),
            "batches": sum(len(r.outcome.result["batches"]) for r in rollouts), "manualupgrade_calls": posts,
            "arm_requests": len(arm), "requests_per_instance": round(len(arm) / float(instances * count), 2),
            "failed": failed, "remaining": sum(len(r.outcome.result["remaining_instances"]) for r in rollouts)}


def summary(results):
    lines = ["", "## Model rollouts (issue 21)", "",
             "| case | instances | batches (manualupgrade calls) | wall | sum of batch durations (longest scale set) | "
             "wall / sum | floor: batches x update time | wall / floor | ARM requests per instance | failed | "
             "left outdated |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, f in results.items():
        lines.append("| %s: %d scale set%s | %d | %d (%d) | %.1f s | %.1f s | %.2f | %.1f s | %.2f | %.2f | %d | %d |" % (
            name, f["scale_sets"], "" if f["scale_sets"] == 1 else "s", f["instances"], f["batches"],
            f["manualupgrade_calls"], f["wall_s"], f["batch_sum_s"], f["ratio"], f["floor_s"], f["floor_ratio"],
            f["requests_per_instance"], len(f["failed"]), f["remaining"]))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--scale-sets", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=300.0, help="simulated seconds an instance update lasts")
    parser.add_argument("--time-scale", type=float, default=15.0, help="simulated seconds per real second")
    args = parser.parse_args(argv)
    results = {}
    with Emulator(scenario="default") as emu:
        results["one"] = run_case(emu, 1, args.instances, args.seconds, args.time_scale)
        print(json.dumps(results["one"]), flush=True)
        results["fleet"] = run_case(emu, args.scale_sets, 10, args.seconds, args.time_scale)
        print(json.dumps(results["fleet"]), flush=True)
    print(summary(results))
    C.OUT.mkdir(parents=True, exist_ok=True)
    (C.OUT / "model.json").write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
