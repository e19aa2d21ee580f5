# -*- coding: utf-8 -*-
"""The engine alone at fleet scale: one batch step of thousands of scale sets (a script that prints figures; not a test).

    .venv/bin/python tests/benchmarks/engine.py [--size 5000] [--subscriptions 10] [--upgrade 60] [--throttling on|off]

Issue 18's second target: 5,000 scale sets over 10 subscriptions at Microsoft's published limits complete, with at
most 64 threads and at most 1 GiB in the controller. The emulator runs in a process of its own (``python -m
tests.emulator`` with a ``fleet(n)`` scenario; Compute's token buckets on, Microsoft's numbers); this process runs
the batch step's engine (``_fleet.run_rollout``: the scheduler, a state machine per scale set, the process-wide
pacer) over every scale set at once, with the role's defaults (poll 30 s, progress 30 s, 10 concurrent starts) and
a real clock, exactly as the action plugin ``vmss_rollout_batch`` runs it inside ansible-playbook. Ansible's own
per-host cost is the fleet benchmark's (fleet.py); this one measures what the engine costs and how it keeps to the
budgets.

Figures: wall time against the upgrade time; the most threads of this process (sampled every 0.2 s); its peak
resident memory (VmHWM) less the resident memory before the run; its CPU seconds per scale set; the requests and
the 429s the emulator answered; the outcomes.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  pylint: disable=wrong-import-position

C.ensure_collection_link()

from ansible_collections.azure_ops.rollout.plugins.module_utils import _fleet  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient  # noqa: E402  pylint: disable=wrong-import-position
from tests.emulator.scenarios import fleet  # noqa: E402  pylint: disable=wrong-import-position

SUBSCRIPTION = "00000000-0000-0000-0000-0000000000%02d"


def _status(field):
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Peak:
    """The most threads of this process, sampled every ``interval`` seconds while the run goes on."""

    def __init__(self, interval=0.2):
        self.interval, self.threads = interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.is_set():
            self.threads = max(self.threads, _status("Threads") - 1)   # not counting this sampler
            self._stop.wait(self.interval)


def start_emulator(scenario_path, throttling, out):
    log = open(out / "emulator.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "tests.emulator", "--scenario", str(scenario_path),
                             "--throttling", throttling], cwd=str(C.REPO), stdout=subprocess.PIPE, stderr=log, text=True)
    ready = json.loads(proc.stdout.readline())
    return proc, ready


def control(ready, method, name):
    import requests  # pylint: disable=import-outside-toplevel

    response = requests.request(method, ready["base_url"] + "/_emulator/" + name, verify=ready["ca_path"], timeout=120)
    response.raise_for_status()
    return response.json()


def run(size, subscriptions, upgrade_s, throttling, out):
    subs = [SUBSCRIPTION % (index + 1) for index in range(subscriptions)]
    scenario = fleet(size, batch_seconds=upgrade_s / 5.0, time_scale=1.0, throttling=throttling == "on",
                     subscriptions=subs, current_every=None, flexible_every=4)
    path = out / "scenario.json"
    path.write_text(json.dumps(scenario))
    proc, ready = start_emulator(path, throttling, out)
    try:
        env = ready["env"]
        options = {"auth_source": "auto", "subscription_id": subs[0],
                   "client_id": env["AZURE_CLIENT_ID"], "secret": env["AZURE_CLIENT_SECRET"],
                   "tenant": env["AZURE_TENANT_ID"], "authority_host": ready["base_url"],
                   "resource_manager_endpoint": ready["base_url"], "cloud_environment": "AzureCloud",
                   "validate_certs": True, "ca_path": ready["ca_path"], "request_timeout": 60}
        client = AzureClient(options, max_connections=64)
        params = dict((name, spec.get("default")) for name, spec in _fleet.BATCH_SPEC.items() if name != "hosts")
        params.update(wait_timeout=int(upgrade_s * 20), skip_if_completed_within=0)
        targets = [{"host": vmss["name"], "name": vmss["name"], "resource_group": vmss["resource_group"],
                    "subscription_id": vmss.get("subscription", subs[0]), "ring": "all"} for vmss in scenario["scale_sets"]]
        jobs = [_fleet.Job(target, params, client) for target in targets]   # the extension kind
        lines = []
        rss_before = _status("VmRSS")
        cpu0, began = time.process_time(), time.monotonic()
        with Peak() as peak:
            records = _fleet.run_rollout(jobs, client.clock, lines.extend, params["progress_interval"],
                                         params["max_concurrent_starts"], params["on_timeout"], title="engine",
                                         throttle_note=client.pacer.note)
        wall, cpu = time.monotonic() - began, time.process_time() - cpu0
        requests_log = control(ready, "GET", "requests")
    finally:
        proc.terminate()
        proc.wait(30)
    arm = [r for r in requests_log if r["kind"] == "arm"]
    statuses = {}
    for record in records:
        statuses[record["status"]] = statuses.get(record["status"], 0) + 1
    (out / "progress.txt").write_text("\n".join(lines) + "\n")
    return {"scale_sets": size, "subscriptions": subscriptions, "upgrade_s": upgrade_s, "throttling": throttling,
            "wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "cpu_per_vmss_s": round(cpu / size, 4),
            "threads": peak.threads, "memory_mib": round((_status("VmHWM") - rss_before) / 1024.0),
            "arm_requests": len(arm), "arm_per_vmss": round(len(arm) / float(size), 2),
            "throttled_429": sum(1 for r in arm if r["status"] == 429), "statuses": statuses,
            "progress_lines": len(lines)}


def summary(figures):
    return "\n".join([
        "", "## The engine at fleet scale (issue 18: at most 64 threads, at most 1 GiB, completes)", "",
        "| scale sets | subscriptions | limits | upgrade | wall | threads (target 64) | memory (target 1024 MiB) | "
        "CPU per scale set | ARM requests per scale set | 429s | outcomes |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        "| %(scale_sets)d | %(subscriptions)d | %(throttling)s | %(upgrade_s)ds | %(wall_s).0f s | %(threads)d | "
        "+%(memory_mib)d MiB | %(cpu_per_vmss_s).3f s | %(arm_per_vmss).1f | %(throttled_429)d | " % figures
        + ", ".join("%s %d" % item for item in sorted(figures["statuses"].items())) + " |"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--subscriptions", type=int, default=10)
    parser.add_argument("--upgrade", type=float, default=60.0, help="seconds of real time each upgrade lasts")
    parser.add_argument("--throttling", choices=("on", "off"), default="on")
    args = parser.parse_args(argv)
    out = C.OUT / "engine"
    out.mkdir(parents=True, exist_ok=True)
    figures = run(args.size, args.subscriptions, args.upgrade, args.throttling, out)
    print(json.dumps(figures), flush=True)
    print(summary(figures))
    (out / "results.json").write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
