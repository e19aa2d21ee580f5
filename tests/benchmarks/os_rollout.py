# -*- coding: utf-8 -*-
"""OS image rollouts over a current fleet (issue 20): reads per scale set, and no POST (a script that prints figures;
not a test).

    .venv/bin/python tests/benchmarks/os_rollout.py [--scale-sets 100] [--instances 100] [--page-size 100]

The nightly case: every instance of every scale set already runs the newest image, and the batch step rolls the OS
image out (``_fleet.run_rollout`` with ``kind=os``: the engine and the state machine of the role, one scheduler, one
catalog cache for the batch) over ``--scale-sets`` scale sets of ``--instances`` instances, half of them Uniform and half
Flexible, one platform image, on the emulator in this process with Azure's rate limits off. Figures: the ARM requests by
kind (``rollingUpgrades/latest``, the model, the VM list pages, the image catalog, POSTs), per scale set, and the
statuses (every scale set ``Current``).
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

from ansible_collections.azure_ops.rollout.plugins.module_utils import _fleet, _os_upgrade, _upgrade  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient  # noqa: E402  pylint: disable=wrong-import-position
from tests.emulator import Emulator  # noqa: E402  pylint: disable=wrong-import-position
from tests.helpers import options_for  # noqa: E402  pylint: disable=wrong-import-position

SUB = "00000000-0000-0000-0000-000000000001"
RG = "rg-os"
UBUNTU = {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"}


def scenario(count, instances, page_size):
    scale_sets = [{"name": "vmss-os-%03d" % index, "resource_group": RG, "location": "eastus", "capacity": instances,
                   "image": dict(UBUNTU), "installed_image": "latest",
                   "orchestration_mode": "Flexible" if index % 2 else "Uniform"} for index in range(count)]
    return {"name": "os-bench", "time_scale": 1, "seed": 1, "page_size": page_size, "subscriptions": [SUB],
            "resource_groups": [{"name": RG, "location": "eastus"}], "scale_sets": scale_sets, "throttling": False}


def kind_of(request):
    path = request["path"]
    if path.endswith("/rollingUpgrades/latest"):
        return "latest"
    if path.endswith("/virtualMachines"):
        return "vm_list_pages"
    if "/artifacttypes/vmimage/" in path or "/galleries/" in path:
        return "catalog"
    if request["method"] == "POST":
        return "post"
    if "/virtualMachineScaleSets/" in path and path.count("/") == 8:
        return "model"
    return "other"


def run_case(emu, count, instances, page_size):
    emu.load(scenario(count, instances, page_size))
    emu.clear_requests()
    client = AzureClient(options_for(emu), max_connections=64)
    params = dict((name, spec.get("default")) for name, spec in _upgrade.DECISION_SPEC.items())
    jobs = [_fleet.Job({"host": "vmss-os-%03d" % index, "name": "vmss-os-%03d" % index, "resource_group": RG,
                        "subscription_id": SUB, "ring": "nightly"}, params, client, kind=_os_upgrade.KINDS["os"])
            for index in range(count)]
    began = time.monotonic()
    records = _fleet.run_rollout(jobs, client.clock, lambda lines: None, progress_interval=3600)
    wall = time.monotonic() - began
    arm = [r for r in emu.requests if r["kind"] == "arm"]
    counts = {}
    for request in arm:
        counts[kind_of(request)] = counts.get(kind_of(request), 0) + 1
    statuses = {}
    for record in records:
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
    return {"scale_sets": count, "instances_each": instances, "page_size": page_size, "arm_requests": len(arm),
            "requests": counts, "per_scale_set": round(len(arm) / float(count), 2), "posts": counts.get("post", 0),
            "statuses": statuses, "wall_s": round(wall, 2)}


def summary(result):
    counts = result["requests"]
    return "\n".join([
        "", "## OS rollout over a current fleet (issue 20)", "",
        "| scale sets (instances each, page size) | ARM requests | latest | model | VM list pages | catalog | POST | "
        "per scale set | statuses |", "|---|---|---|---|---|---|---|---|---|",
        "| %d (%d, %d) | %d | %d | %d | %d | %d | %d | %.2f | %s |" % (
            result["scale_sets"], result["instances_each"], result["page_size"], result["arm_requests"],
            counts.get("latest", 0), counts.get("model", 0), counts.get("vm_list_pages", 0), counts.get("catalog", 0),
            result["posts"], result["per_scale_set"], ", ".join("%d %s" % (n, s) for s, n in result["statuses"].items()))])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--scale-sets", type=int, default=100)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args(argv)
    with Emulator(scenario="default") as emu:
        result = run_case(emu, args.scale_sets, args.instances, args.page_size)
    print(json.dumps(result), flush=True)
    print(summary(result))
    C.OUT.mkdir(parents=True, exist_ok=True)
    (C.OUT / "os_rollout.json").write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
