# -*- coding: utf-8 -*-
"""Rollouts under Compute's per-minute token buckets (a script that prints figures; not a test).

    .venv/bin/python tests/benchmarks/limits.py [--cases one,dozens,fleet] [--size 500] [--quick]

What ``make bench`` runs in bench.py's "limits" section. Each case loads a ``fleet(n)`` scenario in one ring, one subscription and one region (eastus), with
the emulator's token buckets (tests/emulator/README.md "Rate limits"; wall-clock time, only upgrade durations are
scaled) and runs ``vmss_extension_rollout.yml`` once, polling every second, as an operator would:

* ``one``: one scale set under its own 36-token, 12-a-minute Low Cost Get bucket and its 45-token, 15-a-minute Get
  Operation bucket (Microsoft's numbers), an upgrade of 90 s. Targets: at most one 429; the end seen within one
  refill interval (5 s) plus 5 s.
* ``dozens``: 24 scale sets sharing subscription buckets smaller than their demand (Low Cost Get: 60 tokens, 120 a
  minute; Get Operation: 60 tokens, 240 a minute; 24 polls a second would need 1,440), upgrades of 60 s; the pacer
  is told these budgets (``AZURE_OPS_ROLLOUT_BUDGETS``, as it knows Microsoft's published ones). Targets: at most two
  429s in all; every end seen within 20 s.
* ``fleet``: ``--size`` scale sets (default 500) in one subscription at Microsoft's published numbers, upgrades of
  60 s, run twice: with the limits off (the reference: the machine, Ansible, the upgrades) and on. Targets: 0 failed,
  at most 0.5 % of requests answered 429, wall at most 1.1 x the minimum. The minimum is the longer of the reference's
  wall time and the least time the published budgets allow the requests the run needed
  (``tests.emulator.throttling.least_seconds``: every bucket, full at the first request, lets ``N`` requests through
  in ``max(0, (N - capacity) / refill)`` at the earliest; the largest over all buckets), plus the time before the
  first request and after the last (Ansible's).

"End seen": for each scale set, the time of the last ``rollingUpgrades/latest`` answer of the run (the final read,
after the operation said it ended) less the time its upgrade ended in the emulator. Each case's requests are kept in
tests/output/bench/limits/<case>/requests.jsonl.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  pylint: disable=wrong-import-position
import fleet as F  # noqa: E402  pylint: disable=wrong-import-position

from tests.emulator import Emulator  # noqa: E402  pylint: disable=wrong-import-position
from tests.emulator.scenarios import fleet  # noqa: E402  pylint: disable=wrong-import-position
from tests.emulator.throttling import bucket_category, least_seconds  # noqa: E402  pylint: disable=wrong-import-position

ROLLOUT_VARS = {"rollout_allow_empty_rings": True, "vmss_extension_rollout_poll_interval": 1, "vmss_extension_rollout_progress_interval": 10,
                "vmss_extension_rollout_skip_if_completed_within": 0, "vmss_extension_rollout_max_concurrent_starts": 0}
DOZENS_LIMITS = {"LowCostGet": {"subscription": [120, 60]}, "GetOperation": {"subscription": [240, 60]}}
DOZENS_BUDGETS = {"LowCostGet": [[12, 36], [120, 60]], "GetOperation": [[15, 45], [240, 60]]}
CASES = {
    # name: (scale sets, upgrade seconds, throttling, budgets told to the pacer, targets)
    "one": (1, 90.0, True, None, {"max_429": 1, "max_end_lag_s": 10.0}),
    "dozens": (24, 60.0, {"compute": DOZENS_LIMITS}, DOZENS_BUDGETS, {"max_429": 2, "max_end_lag_s": 20.0}),
    "fleet": (500, 60.0, True, None, {"max_429_pct": 0.5, "max_ratio": 1.1, "failed": 0}),
}
TIME_SCALE = 10.0


def _latest_scale_set(path):
    return path[:-len("/rollingUpgrades/latest")].rsplit("/", 1)[-1] if path.endswith("/rollingUpgrades/latest") else None


def end_lags(records, state):
    """{scale set: seconds from its upgrade's end to the last rollingUpgrades/latest answer of the run}."""
    last = {}
    for record in records:
        name = _latest_scale_set(record["path"])
        if name and record["status"] == 200:
            last[name] = record["time"]
    lags = {}
    for vmss in state["scale_sets"]:
        if vmss["ended_at"] is not None and vmss["name"] in last and last[vmss["name"]] >= vmss["ended_at"]:
            lags[vmss["name"]] = round(last[vmss["name"]] - vmss["ended_at"], 1)
    return lags


def run_case(emu, python, name, n, upgrade_s, throttling, budgets, limits_on=True):
    """One rollout of ``n`` scale sets in one ring; its figures."""
    out = C.OUT / "limits" / (name if limits_on else name + "-off")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    # Five batches per upgrade (maxBatchInstancePercent 20), each upgrade_s / 5 real seconds; every one behind.
    scenario = fleet(n, batch_seconds=upgrade_s * TIME_SCALE / 5.0, time_scale=TIME_SCALE, rings=("canary",),
                     locations=("eastus",), throttling=throttling if limits_on else False, current_every=None)
    emu.load(scenario)
    inv = out / "inventory.json"
    F.inventory(inv, scenario, python)
    extra = dict(ROLLOUT_VARS, vmss_extension_rollout_wait_timeout=int(upgrade_s * 10), rollout_report_dir=str(out / "reports"))
    first = len(emu.requests)
    env_budgets = json.dumps(budgets) if budgets else None
    res = _play(emu, python, inv, out, extra, env_budgets)
    (out / "stdout.txt").write_text(res["stdout"])
    records = [r for r in emu.requests[first:] if r["kind"] == "arm"]
    with open(out / "requests.jsonl", "w") as log:
        for r in records:
            log.write(json.dumps({"t": round(r["time"] - res["start"], 3), "method": r["method"], "path": r["path"],
                                  "category": bucket_category(r["method"], r["path"])[0], "status": r["status"]}) + "\n")
    report = out / "reports" / "vmss_extension_rollout.json"
    rows = json.loads(report.read_text())["rows"] if report.exists() else []
    lags = end_lags(records, emu.state())
    refused = sum(1 for r in records if r["status"] == 429)
    accepted = [(r["method"], r["path"]) for r in records if r["status"] not in (None, 429)]
    least, binding = least_seconds(accepted, throttling if isinstance(throttling, dict) else None,
                                   locate=emu._state.locate)  # pylint: disable=protected-access
    lead = max(0.0, records[0]["time"] - res["start"]) if records else 0.0
    tail = max(0.0, res["end"] - records[-1]["time"]) if records else 0.0
    return {
        "case": name, "scale_sets": n, "upgrade_s": upgrade_s, "limits": limits_on, "rc": res["rc"],
        "wall_s": round(res["wall"], 1), "requests": len(records), "throttled_429": refused,
        "throttled_pct": round(100.0 * refused / len(records), 2) if records else 0.0,
        "throttled_by_policy": dict(emu.throttling["throttled"]),
        "failed_scale_sets": sum(1 for row in rows if row.get("failed")) + (n - len(rows)),
        "end_lag_max_s": max(lags.values()) if lags else None,
        "end_lag_median_s": C.median(list(lags.values())) if lags else None, "ends_measured": len(lags),
        "budget_floor_s": round(least + lead + tail, 1), "binding_bucket": binding,
        "before_first_request_s": round(lead, 1), "after_last_request_s": round(tail, 1),
    }


def _play(emu, python, inv, out, extra, budgets):
    """``vmss_extension_rollout.yml`` with the pacer told ``budgets`` (JSON) when given, else Microsoft's published
    budgets (``_pacing.BUDGETS``)."""
    return F.play(emu, python, "vmss_extension_rollout.yml", inv, out, extra, budgets=budgets or None)


def run_all(emu, python, cases=("one", "dozens"), size=None):
    results = []
    for name in cases:
        n, upgrade_s, throttling, budgets, targets = CASES[name]
        n = size if (name == "fleet" and size) else n
        figures = run_case(emu, python, name, n, upgrade_s, throttling, budgets)
        if name == "fleet":
            off = run_case(emu, python, name, n, upgrade_s, throttling, budgets, limits_on=False)
            figures["reference_wall_s"] = off["wall_s"]
            figures["minimum_s"] = max(off["wall_s"], figures["budget_floor_s"])
            figures["ratio"] = round(figures["wall_s"] / figures["minimum_s"], 2)
        figures["targets"] = targets
        print(json.dumps(figures), flush=True)
        results.append(figures)
    (C.OUT / "limits" / "results.json").write_text(json.dumps(results, indent=2))
    return results


def summary(results):
    lines = ["", "## Rollouts under Compute's per-minute token buckets (time scale %g for upgrade durations only)" % TIME_SCALE,
             "", "| case | scale sets | wall | requests | 429 answers | end seen after (max / median) | failed | "
             "least the budgets allow (binding) | wall, limits off | wall / minimum | targets |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for f in results:
        lag = "n/a" if f["end_lag_max_s"] is None else "%.1f s / %.1f s (%d)" % (
            f["end_lag_max_s"], f["end_lag_median_s"], f["ends_measured"])
        lines.append("| %s | %d | %.1f s | %d | %d = %.2f %% %s | %s | %d | %.1f s (%s) | %s | %s | %s |" % (
            f["case"], f["scale_sets"], f["wall_s"], f["requests"], f["throttled_429"], f["throttled_pct"],
            json.dumps(f["throttled_by_policy"]) if f["throttled_by_policy"] else "", lag, f["failed_scale_sets"],
            f["budget_floor_s"], f["binding_bucket"] or "none binds",
            "%.1f s" % f["reference_wall_s"] if "reference_wall_s" in f else "not run",
            "%.2f" % f["ratio"] if "ratio" in f else "n/a", json.dumps(f["targets"])))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--cases", default="one,dozens,fleet")
    parser.add_argument("--size", type=int, default=500, help="scale sets of the fleet case (default 500)")
    parser.add_argument("--quick", action="store_true", help="one and dozens only")
    args = parser.parse_args(argv)
    cases = ("one", "dozens") if args.quick else tuple(args.cases.split(","))
    C.ensure_collection_link()
    with Emulator(scenario="default") as emu:
        results = run_all(emu, str(Path(sys.executable)), cases, args.size)
    print(summary(results))
    return results


if __name__ == "__main__":
    main()
