# -*- coding: utf-8 -*-
"""The fleet at Azure's real rate limits (a script that prints figures; not a test).

    .venv/bin/python tests/benchmarks/limits.py [--size 500] [--upgrade 60] [--time-scale 10] [--no-reference] [--quick]

What ``make bench`` runs in bench.py's "limits" section. One fleet(n) scenario (three rings, every third scale set
already current) with the emulator's default limits on (tests/emulator/README.md "Rate limits": ARM buckets per
subscription, Compute's GetVMScaleSet / HighCostGetVMScaleSet / GetOperation / VMScaleSetActions windows), in
simulated time at ``--time-scale`` (a 30-minute window lasts 1800 / time scale real seconds; at the default 10 the
budgets bind in every phase), and three phases run one after the other, as an operator would:

1. drift check: ``fleet_status.yml`` with the extension drift (latest + model + VM list + catalog per scale set);
2. rollout: ``vmss_extension_rollout.yml``, every upgrade lasting ``--upgrade`` real seconds, polled every 5 s;
3. fleet status: ``fleet_status.yml`` without drift (latest per scale set).

The same three phases run first on a fresh fleet with the limits off: the reference (the machine, Ansible and the
upgrades themselves). For each phase with the limits on it prints the wall time beside the minimum: the longer of
the reference's wall time and the least time the budgets allow the requests the phase needed (accepted by Azure;
of the ``rollingUpgrades/latest`` reads only the plan's and one that sees a started upgrade end: more polls are the
watch's choice, not a need), from what was left of each budget when the phase began
(``tests.emulator.throttling.minimum_seconds`` with ``Emulator.budgets()``). Also: 429 answers as a share of all
requests (target <= 1 %), failed scale sets (target 0), wall / minimum (target <= 1.2). Each phase's requests are
kept in tests/output/bench/limits/<phase>/requests.jsonl (seconds from the phase's start, budget, status).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  pylint: disable=wrong-import-position
import fleet as F  # noqa: E402  pylint: disable=wrong-import-position

from tests.emulator import Emulator  # noqa: E402  pylint: disable=wrong-import-position
from tests.emulator.scenarios import fleet  # noqa: E402  pylint: disable=wrong-import-position
from tests.emulator.throttling import advance_budgets, arm_kind, classify, minimum_seconds  # noqa: E402  pylint: disable=wrong-import-position

PHASES = ("drift check", "rollout", "fleet status")


def needed(records):
    """{Compute operation group or ARM kind: requests needed} of the ARM requests Azure accepted in ``records``.

    Polls are elastic: of a scale set's ``rollingUpgrades/latest`` reads only two are needed when this phase started
    its upgrade (the plan's read, and one that sees the end), one otherwise; the rest is what the watch chose to spend.
    """
    accepted = [r for r in records if r["kind"] == "arm" and r["status"] not in (None, 429)]
    started = {r["path"].rsplit("/", 1)[0] for r in accepted if r["method"] == "POST"}
    latest = {}
    counts = {}
    for record in accepted:
        path = record["path"]
        if record["method"] == "GET" and path.endswith("/rollingUpgrades/latest"):
            scale_set = path[:-len("/rollingUpgrades/latest")]
            latest[scale_set] = latest.get(scale_set, 0) + 1
            if latest[scale_set] > 1 + (scale_set in started):
                continue
        for name in (classify(record["method"], path), arm_kind(record["method"])):
            if name:
                counts[name] = counts.get(name, 0) + 1
    return counts


def phase_figures(name, records, wall, time_scale, start, reference_wall, failed, scale_sets, rc):
    """One phase's figures. The minimum is the longer of two floors: the least time the budgets allow the requests
    the phase needed, from its first request on (``start``: the budgets and the time when the phase began; the
    time to its first request and after its last, Ansible's, are added), and the same phase's wall time with the
    limits off (``reference_wall``: the machine, Ansible and the upgrades themselves)."""
    arm = [r for r in records if r["kind"] == "arm"]
    refused = sum(1 for r in arm if r["status"] == 429)
    counts = needed(records)
    budget, binding, lead, tail = 0.0, None, 0.0, 0.0
    if start is not None and arm:
        budgets, began = start
        lead = max(0.0, arm[0]["time"] - began)
        tail = max(0.0, began + wall - arm[-1]["time"])
        budget, binding = minimum_seconds(counts, time_scale=time_scale,
                                          start=advance_budgets(budgets, lead * time_scale))
        budget += lead + tail
    minimum = max(budget, reference_wall or 0.0)
    return {
        "phase": name, "scale_sets": scale_sets, "rc": rc, "wall_s": round(wall, 1),
        "budget_floor_s": round(budget, 1), "binding_policy": binding,
        "before_first_request_s": round(lead, 1), "after_last_request_s": round(tail, 1),
        "reference_wall_s": None if reference_wall is None else round(reference_wall, 1),
        "minimum_s": round(minimum, 1), "ratio": round(wall / minimum, 2) if minimum else None,
        "requests": len(arm), "needed": counts, "throttled_429": refused,
        "polls": sum(1 for r in arm if r["status"] not in (None, 429) and r["path"].endswith("/rollingUpgrades/latest")),
        "throttled_share_pct": round(100.0 * refused / len(arm), 2) if arm else 0.0,
        "throttled_by_policy": {}, "failed_scale_sets": failed,
    }


def _rows(path):
    return json.loads(Path(path).read_text())["rows"] if Path(path).exists() else []


def run_phases(emu, python, n, upgrade_s, time_scale, limits=True, reference=None):
    """The three phases against ``emu`` on a freshly loaded fleet; returns their figures (also in
    tests/output/bench/limits[-off]/results.json).

    ``limits=False`` runs the same with the limits off: the reference (``reference``, its figures, gives each phase
    of the run with limits its reference wall time).
    """
    out = C.OUT / ("limits" if limits else "limits-off")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    # Five batches per upgrade (maxBatchInstancePercent 20), each upgrade_s / 5 real seconds.
    scenario = fleet(n, batch_seconds=upgrade_s * time_scale / 5.0, time_scale=time_scale, throttling=limits)
    emu.load(scenario)
    inv = out / "inventory.json"
    F.inventory(inv, scenario, python)
    phases = [
        ("drift check", "fleet_status.yml", {"fleet_drift": True}),
        ("rollout", "vmss_extension_rollout.yml",
         {"vmss_extension_rollout_poll_interval": 5, "vmss_extension_rollout_progress_interval": 10,
          "vmss_extension_rollout_wait_timeout": int(upgrade_s * 10), "vmss_extension_rollout_skip_if_completed_within": 0,
          "vmss_extension_rollout_max_concurrent_starts": 0}),
        ("fleet status", "fleet_status.yml", {"fleet_drift": False}),
    ]
    walls = {f["phase"]: f["wall_s"] for f in (reference or {}).get("phases", [])}
    figures = []
    for name, playbook, extra in phases:
        run_dir = out / name.replace(" ", "-")
        run_dir.mkdir(parents=True)
        extra = dict(extra, rollout_report_dir=str(run_dir / "reports"), fleet_report_dir=str(run_dir / "reports"))
        before = emu.throttling["throttled"]
        start = (emu.budgets(), time.time()) if limits else None
        first = len(emu.requests)
        res = F.play(emu, python, playbook, inv, run_dir, extra)
        (run_dir / "stdout.txt").write_text(res["stdout"])
        records = emu.requests[first:]
        with open(run_dir / "requests.jsonl", "w") as log:   # for a timeline: when each budget was spent
            for r in records:
                log.write(json.dumps({"t": round(r["time"] - res["start"], 3), "method": r["method"],
                                      "group": classify(r["method"], r["path"]), "status": r["status"]}) + "\n")
        if playbook == "fleet_status.yml":
            failed = sum(1 for row in _rows(run_dir / "reports" / "fleet_status.json") if row["status"] == "Error")
        else:
            failed = sum(1 for row in _rows(run_dir / "reports" / "vmss_extension_rollout.json") if row.get("failed"))
        result = phase_figures(name, records, res["wall"], time_scale, start, walls.get(name), failed, n, res["rc"])
        after = emu.throttling["throttled"]
        result["throttled_by_policy"] = {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}
        figures.append(result)
        print(json.dumps(result), flush=True)
    results = {"scale_sets": n, "upgrade_s": upgrade_s, "time_scale": time_scale, "limits": limits, "phases": figures}
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results


def run_all(emu, python, n, upgrade_s, time_scale, reference=True):
    """The reference (limits off) when ``reference``, then the phases with the default limits; their figures."""
    off = run_phases(emu, python, n, upgrade_s, time_scale, limits=False) if reference else None
    return run_phases(emu, python, n, upgrade_s, time_scale, limits=True, reference=off)


def summary(results):
    lines = ["", "## The fleet at Azure's default rate limits (%d scale sets, time scale %g, upgrades of %g s)"
             % (results["scale_sets"], results["time_scale"], results["upgrade_s"]), "",
             "| phase | wall | least the budgets allow (binding policy) | wall, limits off | minimum "
             "| wall / minimum (target 1.2) | requests (needed per budget) | latest reads | 429 answers (target 1 %) "
             "| failed scale sets (target 0) | rc |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for f in results["phases"]:
        accepted = ", ".join("%s %d" % kv for kv in sorted(f["needed"].items()))
        lines.append("| %s | %.1f s | %.1f s (%s) | %s | %.1f s | %s | %d (%s) | %d | %d = %.2f %% %s | %d | %d |" % (
            f["phase"], f["wall_s"], f["budget_floor_s"], f["binding_policy"] or "none binds",
            "not run" if f["reference_wall_s"] is None else "%.1f s" % f["reference_wall_s"],
            f["minimum_s"], "%.2f" % f["ratio"] if f["ratio"] else "n/a", f["requests"], accepted, f["polls"],
            f["throttled_429"],
            f["throttled_share_pct"], json.dumps(f["throttled_by_policy"]) if f["throttled_by_policy"] else "",
            f["failed_scale_sets"], f["rc"]))
    lines += ["", "Least time the budgets allow: the requests the phase needed (accepted by Azure; of the "
              "rollingUpgrades/latest reads only the plan's and, for an upgrade the phase started, one that sees its "
              "end: further polls are the watch's choice), per budget, from what was left of each budget at the "
              "phase's first request (tests.emulator.throttling.minimum_seconds; the time before that first request "
              "and after the last, Ansible's, is added). Minimum: that or "
              "the same phase's wall time with the limits off (the machine, Ansible and the upgrades), whichever is "
              "longer."]
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--upgrade", type=float, default=60.0, help="seconds of real time each upgrade lasts")
    parser.add_argument("--time-scale", type=float, default=10.0,
                        help="simulated seconds per real second (default 10: the budgets bind)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the reference run with the limits off (the minimum is then the budgets' alone)")
    parser.add_argument("--quick", action="store_true", help="20 scale sets, 20 s upgrades")
    args = parser.parse_args(argv)
    size, upgrade = (20, 20.0) if args.quick else (args.size, args.upgrade)
    with Emulator(scenario="default") as emu:
        results = run_all(emu, str(Path(sys.executable)), size, upgrade, args.time_scale, not args.no_reference)
    print(summary(results))
    return results


if __name__ == "__main__":
    main()
