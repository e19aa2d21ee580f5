# -*- coding: utf-8 -*-
"""Event latency of the event source at fleet scale (a script that prints figures; not a test).

    .venv/bin/python tests/benchmarks/events.py [--size 1000] [--faults 20] [--interval 10] [--read-ms 50]
                                                [--throttling on|off] [--before <commit>]

Issue 22 item 5: the time from a scale set's rolling upgrade faulting in the emulator to its ``Faulted`` event on the
queue, for ``--size`` watched scale sets, before and after the source read its targets at once, in the same run. The
emulator runs in a process of its own (a ``fleet(n)`` scenario; Compute's and ARM's rate limits on, Microsoft's
numbers, as in engine.py), and every ``rollingUpgrades/latest`` answer takes ``--read-ms`` longer (the emulator's
delay fault: a stand-in for a round trip to Azure, an assumption, not a measured Azure figure). Each variant:

* the emulator's scenario loaded afresh and the process-wide pacer reset;
* the source started, watching every scale set (``scale_sets``, ``interval``); its first round is the baseline;
* then every ``size / faults``-th scale set (``fail_percent: 50``) gets an extension rolling upgrade, one after the
  other spread over about one period of the source (a round and its interval), so the faults land at every phase of
  a round; each faults when its first batch ends (``batch_seconds`` after its start, time scale 1);
* the latency of one fault: when its event came off the queue less the instant it faulted (its ``start_time`` plus
  ``batch_seconds``, on the emulator's clock, which is this host's).

``after`` is the source as it is (``operation_events.main`` with a queue); ``before`` is ``_watch.py`` of the commit
``--before`` (the last design that read one target after another) with the main loop of that commit: a round in a
worker thread, its events put on the queue when it ended.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import runpy
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  pylint: disable=wrong-import-position

C.ensure_collection_link()

import engine as E  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.azure_ops.rollout.plugins.module_utils import _pacing, _vmss, _watch  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.azure_ops.rollout.plugins.module_utils._client import AzureClient  # noqa: E402  pylint: disable=wrong-import-position
from tests.emulator.scenarios import fleet  # noqa: E402  pylint: disable=wrong-import-position

# The last commit whose event source read its targets one after another and queued a round's events at its end.
BEFORE = "4578dc9"
SOURCE = C.REPO / "extensions" / "eda" / "plugins" / "event_source" / "operation_events.py"
BATCH_SECONDS = 5.0


def old_watch(commit):
    """``_watch.py`` as it was at ``commit``, as a module (it imports today's ``_events``, whose interface it used)."""
    text = subprocess.run(["git", "show", "%s:plugins/module_utils/_watch.py" % commit], cwd=str(C.REPO), check=True,
                          capture_output=True, text=True).stdout
    module = types.ModuleType(_watch.__name__ + "_before")
    exec(compile(text, "_watch.py@%s" % commit, "exec"), module.__dict__)  # pylint: disable=exec-used
    return module


class Recorder:
    """Keeps the source's Watcher (whichever the variant makes) and when each of its rounds ended."""

    def __init__(self, base):
        recorder = self
        self.watcher, self.ended = None, []

        class Recorded(base):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                recorder.watcher = self

            def poll(self, *args, **kwargs):
                try:
                    return super().poll(*args, **kwargs)
                finally:
                    recorder.ended.append(time.monotonic())

        self.cls = Recorded


async def before_main(recorder, queue, args):
    """The source's main loop at ``BEFORE``: a round in a worker thread, then its events onto the queue."""
    settings = _watch._events.validate_args(args)  # pylint: disable=protected-access
    watcher = recorder.cls(settings)
    try:
        while True:
            for event in await asyncio.to_thread(watcher.poll):
                await queue.put(event)
            await asyncio.sleep(watcher.next_wait())
    finally:
        watcher.stop()


def source_args(ready, targets, interval):
    env = ready["env"]
    return {"subscription_id": env["AZURE_SUBSCRIPTION_ID"], "client_id": env["AZURE_CLIENT_ID"],
            "secret": env["AZURE_CLIENT_SECRET"], "tenant": env["AZURE_TENANT_ID"], "authority_host": ready["base_url"],
            "resource_manager_endpoint": ready["base_url"], "ca_path": ready["ca_path"], "request_timeout": 60,
            "interval": interval, "scale_sets": [{"resource_group": rg, "name": name} for rg, name in targets]}


def post(ready, name, body):
    import requests  # pylint: disable=import-outside-toplevel

    response = requests.post(ready["base_url"] + "/_emulator/" + name, json=body, verify=ready["ca_path"], timeout=120)
    response.raise_for_status()


async def one_variant(variant, ready, scenario, faulty, read_ms, interval, before=BEFORE):
    """Run one variant until every faulty scale set's Faulted event came; its figures."""
    post(ready, "scenario", scenario)
    if read_ms:
        post(ready, "faults", {"name": "latency", "match": {"path_regex": "/rollingUpgrades/latest$"},
                               "action": {"delay": read_ms / 1000.0}})
    _pacing.PACER.reset()
    targets = [(vmss["resource_group"], vmss["name"]) for vmss in scenario["scale_sets"]]
    args = source_args(ready, targets, interval)
    queue = asyncio.Queue()
    if variant == "before":
        recorder = Recorder(old_watch(before).Watcher)
        task = asyncio.create_task(before_main(recorder, queue, args))
    else:
        recorder = Recorder(_watch.Watcher)
        plugin = runpy.run_path(str(SOURCE))
        plugin["watch_utils"].Watcher = recorder.cls
        task = asyncio.create_task(plugin["main"](queue, args))
    client = AzureClient(args)
    began = time.monotonic()
    faulted_at, latencies, events = {}, {}, 0
    try:
        with E.Peak() as peak:
            while not recorder.ended:        # the baseline round
                await asyncio.sleep(0.05)
                if task.done():
                    task.result()
            baseline = recorder.ended[0] - began
            period = baseline + interval
            step = period / len(faulty)

            async def start_upgrades():
                for index, (resource_group, name) in enumerate(faulty):
                    await asyncio.sleep(max(0.0, began + baseline + index * step - time.monotonic()))
                    await asyncio.to_thread(_vmss.start_upgrade, client, args["subscription_id"], resource_group, name)

            starter = asyncio.create_task(start_upgrades())
            deadline = time.monotonic() + 4 * period + 4 * BATCH_SECONDS + 120
            while len(latencies) < len(faulty):
                item = await asyncio.wait_for(queue.get(), max(1.0, deadline - time.monotonic()))
                now = time.time()
                events += 1
                change = item["azure_ops_rollout"]
                if change["status"] == "Faulted" and change["name"] not in latencies:
                    fault = _vmss.parse_time(change["progress"]["start_time"]).timestamp() + BATCH_SECONDS
                    faulted_at[change["name"]] = fault
                    latencies[change["name"]] = now - fault
            await starter
        threads = peak.threads
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if variant == "after":
            plugin["watch_utils"].Watcher = _watch.Watcher
    rounds = [b - a for a, b in zip(recorder.ended, recorder.ended[1:])]
    values = sorted(latencies.values())
    return {"variant": variant, "scale_sets": len(targets), "faults": len(values), "interval_s": interval,
            "read_ms": read_ms, "baseline_round_s": round(baseline, 1),
            "period_s": round(statistics.median(rounds), 1) if rounds else None,
            "latency_median_s": round(statistics.median(values), 1), "latency_max_s": round(values[-1], 1),
            "latency_min_s": round(values[0], 1), "latencies_s": [round(v, 2) for v in values],
            "periods_s": [round(r, 1) for r in rounds],
            "threads": threads, "events": events}


def run(size, faults, interval, read_ms, throttling, out, before=BEFORE):
    scenario = fleet(size, fault_every=max(1, size // faults), batch_seconds=BATCH_SECONDS, time_scale=1.0,
                     throttling=throttling == "on", current_every=None, flexible_every=None)
    faulty = [(vmss["resource_group"], vmss["name"]) for vmss in scenario["scale_sets"] if vmss.get("fail_percent")]
    path = out / "scenario.json"
    path.write_text(json.dumps(scenario))
    proc, ready = E.start_emulator(path, throttling, out)
    try:
        figures = [asyncio.run(one_variant(variant, ready, scenario, faulty, read_ms, interval, before))
                   for variant in ("before", "after")]
    finally:
        proc.terminate()
        proc.wait(30)
    for item in figures:
        item["throttling"] = throttling
    return figures


def summary(figures):
    rows = ["| %(variant)s | %(scale_sets)d | %(faults)d | %(interval_s)g s | %(read_ms)d ms | %(throttling)s | "
            "%(baseline_round_s).1f s | %(period_s)s s | %(latency_median_s).1f s | %(latency_min_s).1f s | "
            "%(latency_max_s).1f s | %(threads)d |" % item for item in figures]
    return "\n".join([
        "", "## Event latency of the event source (issue 22: a fault to its event on the queue)", "",
        "| design | scale sets | faults | interval | read latency | limits | first round | period (round + interval) | "
        "latency median | min | max | threads |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|"] + rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--faults", type=int, default=20)
    parser.add_argument("--interval", type=float, default=10.0, help="the source's interval (seconds)")
    parser.add_argument("--read-ms", type=int, default=50, help="added to each rollingUpgrades/latest answer")
    parser.add_argument("--throttling", choices=("on", "off"), default="on")
    parser.add_argument("--before", default=BEFORE, help="the commit of the design before (default %s)" % BEFORE)
    args = parser.parse_args(argv)
    out = C.OUT / "events"
    out.mkdir(parents=True, exist_ok=True)
    figures = run(args.size, args.faults, args.interval, args.read_ms, args.throttling, out, args.before)
    print(json.dumps(figures), flush=True)
    print(summary(figures))
    (out / "results.json").write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main()
