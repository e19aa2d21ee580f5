# -*- coding: utf-8 -*-
"""Fleet benchmark of the rollout on its batch step (a script that prints figures; not a test).

    .venv/bin/python tests/benchmarks/fleet.py [--sizes 100,500] [--upgrade 60] [--quick]

What `make bench` runs for the fleet (section "fleet" of bench.py calls ``main``). For each size: the emulator's
fleet(n) scenario in three rings (canary, ring1, ring2), every upgrade lasting ``--upgrade`` seconds of real time,
forks 50, poll 5 s, progress 10 s, Azure's rate limits off in the emulator and in the pacer (``NO_LIMITS``; their effect is issue 10's benchmark, in bench.py's
"limits" section): the rollout playbook end to end. Then the fleet status gate over the same fleet, and a 50-scale-set
batch of 40-minute upgrades (time scale 30) to count the lines a long batch prints.

Figures: wall time against the floor (rings x upgrade time); controller CPU of all processes (system-wide busy
seconds from /proc/stat, and the CPU of the ansible-playbook process tree plus the in-process emulator from
getrusage) per scale set, in total and per second of waiting while upgrades are in flight; memory in use (MemTotal -
MemAvailable, peak over the run minus the idle baseline); output lines per progress interval; ARM and token requests
per scale set. The targets of issue 8 are printed beside each figure, and the figures of the old design (per-host
async_status rounds, measured in issue 8 on this machine) as the baseline.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402  pylint: disable=wrong-import-position

C.ensure_collection_link()

from tests.emulator import Emulator  # noqa: E402  pylint: disable=wrong-import-position
from tests.emulator.scenarios import fleet  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.azure_ops.rollout.plugins.module_utils import _pacing  # noqa: E402  pylint: disable=wrong-import-position

RINGS = ("canary", "ring1", "ring2")
# "Limits off" means the pacer's too: the emulator throttles nothing here, and the controller is told so through
# AZURE_OPS_ROLLOUT_BUDGETS (as an operator tells it other budgets), 10,000 requests a second in every bucket.
# Otherwise it keeps to Microsoft's published budgets, and at 2,000 scale sets in one subscription ARM's 25 reads a
# second per subscription (THROTTLING.md section 1) bound the run: about 6.7 requests a scale set, 536 s at least.
UNLIMITED = 600000
NO_LIMITS = json.dumps(dict((category, [[UNLIMITED, UNLIMITED] if resource else None, [UNLIMITED, UNLIMITED]])
                            for category, (resource, _subscription) in _pacing.BUDGETS.items()))
# The old design (per-host async_status watch rounds), measured in issue 8 on this machine: 100 scale sets,
# three rings, 180 s upgrades, poll 5 s, progress 10 s, forks 50.
BASELINE = {"scale_sets": 100, "upgrade_s": 180, "wall_s": 676, "ideal_s": 540, "cpu_s": 880, "cpu_per_vmss_s": 8.8,
            "memory_gib": 2.3, "lines": 6811, "inflight_ms_per_vmss_s": 35}


def cpu_busy():
    """System-wide busy CPU seconds so far (all cores): user+nice+system+irq+softirq+steal from /proc/stat."""
    with open("/proc/stat") as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    ticks = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / float(ticks)


def memory_used_mib():
    info = {}
    with open("/proc/meminfo") as handle:
        for line in handle:
            key, value = line.split(":", 1)
            info[key] = int(value.split()[0])
    return (info["MemTotal"] - info["MemAvailable"]) / 1024.0


def _proc_times(pid, children=False):
    """utime+stime (and, with ``children``, the reaped children's) of a process in seconds, 0 when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = float(os.sysconf("SC_CLK_TCK"))
    used = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if children else 0)
    return used / ticks


def _descendants(root):
    kids, queue = [], [root]
    while queue:
        pid = queue.pop()
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as handle:
                found = [int(x) for x in handle.read().split()]
        except OSError:
            found = []
        kids.extend(found)
        queue.extend(found)
    return kids


def peak_threads(root):
    """The most threads any process of ``root``'s tree runs now (issue 18: at most 64 in the controller's processes)."""
    most = 0
    for pid in [root] + _descendants(root):
        try:
            with open("/proc/%d/status" % pid) as handle:
                most = max([most] + [int(line.split()[1]) for line in handle if line.startswith("Threads:")])
        except (OSError, ValueError, IndexError):
            continue
    return most


def live_tree_cpu(root):
    """CPU seconds so far of this process (the emulator) and of ``root``'s tree (reaped children included)."""
    return (_proc_times(os.getpid()) + _proc_times(root, children=True)
            + sum(_proc_times(pid) for pid in _descendants(root)))


def tree_cpu():
    """CPU seconds of this process (the emulator runs in it) and of its waited-for children (ansible-playbook's tree)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Sampler:
    """Samples system CPU and memory every ``interval`` seconds while a run goes on."""

    def __init__(self, interval=1.0, root=None):
        self.interval = interval
        self.root = root
        self.samples = []
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
            tree = live_tree_cpu(self.root) if self.root else 0.0
            self.samples.append((time.time(), cpu_busy(), memory_used_mib(), tree,
                                 peak_threads(self.root) if self.root else 0))
            self._stop.wait(self.interval)

    def cpu_between(self, start, end, column=1):
        """CPU seconds between two times (column 1: system-wide, 3: the run's process tree), and the span."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return None, 0.0
        return inside[-1][column] - inside[0][column], inside[-1][0] - inside[0][0]


def inventory(path, scenario, python):
    groups = {ring: {} for ring in RINGS}
    for vmss in scenario["scale_sets"]:
        groups[vmss["tags"]["ring"]][vmss["name"]] = {"resource_group": vmss["resource_group"]}
    path.write_text(json.dumps({"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": python},
                                        "children": {"vmss": {"children": {g: {"hosts": h} for g, h in groups.items()}}}}}))


def play(emu, python, playbook, inv, run_dir, extra, forks=50, timeout=3600, budgets=NO_LIMITS):
    (run_dir / "vars.json").write_text(json.dumps(extra))
    env = dict(os.environ, **C.ansible_env(emu, python, run_dir=run_dir))
    env.update(emu.env())
    env.pop(_pacing.BUDGETS_ENV, None)
    if budgets:
        env[_pacing.BUDGETS_ENV] = budgets
    cmd = [str(Path(python).parent / "ansible-playbook"), "-i", str(inv), "-f", str(forks),
           "-e", "@" + str(run_dir / "vars.json"), str(C.REPO / "playbooks" / playbook)]
    baseline_mem = memory_used_mib()
    cpu0, tree0, start = cpu_busy(), tree_cpu(), time.time()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with Sampler(root=proc.pid) as sampler:
        stdout, stderr = proc.communicate(timeout=timeout)
    proc = subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)
    end = time.time()
    return {"rc": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr, "wall": end - start,
            "cpu": cpu_busy() - cpu0, "tree_cpu": tree_cpu() - tree0, "start": start, "end": end, "sampler": sampler,
            "memory_mib": max(s[2] for s in sampler.samples) - baseline_mem,
            "threads": max(s[4] for s in sampler.samples)}


def block_sizes(stdout):
    """Lines of each progress block the batch steps printed (a block ends with its summary line)."""
    sizes, current = [], 0
    for line in stdout.splitlines():
        if re.match(r"^ring \S+: \d+ scale sets?, started ", line):
            current = 0
        elif re.match(r"^  \S+\s+\S+.*\d+s(\s+\S.*)?$", line) and not line.startswith("  ["):
            current += 1
        elif re.match(r"^  \[\s*[\dhms]+\] \d+ scale sets?: ", line):
            sizes.append(current + 1)
            current = 0
    return sizes


def _vmss(path):
    """The scale set's name in an ARM path (.../virtualMachineScaleSets/<name>/...), else None."""
    parts = path.split("?")[0].split("/")
    lower = [p.lower() for p in parts]
    if "virtualmachinescalesets" in lower:
        index = lower.index("virtualmachinescalesets") + 1
        return parts[index] if index < len(parts) else None
    return None


def _lines_outside_blocks(stdout):
    """Output lines of per-host task results (ok:/changed:/fatal:/skipping:, loop items included): per-host output."""
    return sum(1 for line in stdout.splitlines()
               if re.match(r"^(ok|changed|fatal|skipping|failed): \[", line))


def rollout(emu, python, n, upgrade_s, out):
    # 5 batches per upgrade (maxBatchInstancePercent 20): each batch lasts upgrade_s / 5 seconds of real time.
    scenario = fleet(n, batch_seconds=upgrade_s / 5.0, time_scale=1.0, throttling=False, current_every=None)
    emu.load(scenario)
    run_dir = out / ("rollout-%d" % n)
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    inv = run_dir / "inventory.json"
    inventory(inv, scenario, python)
    extra = {"vmss_extension_rollout_poll_interval": 5, "vmss_extension_rollout_progress_interval": 10,
             "vmss_extension_rollout_wait_timeout": int(upgrade_s * 4), "vmss_extension_rollout_skip_if_completed_within": 0,
             "vmss_extension_rollout_max_concurrent_starts": 0, "rollout_report_dir": str(run_dir / "reports")}
    res = play(emu, python, "vmss_extension_rollout.yml", inv, run_dir, extra)
    (run_dir / "stdout.txt").write_text(res["stdout"])
    log = emu.requests
    rows = json.loads((run_dir / "reports" / "vmss_extension_rollout.json").read_text())["rows"]
    # While upgrades are in flight: from 5 s after a ring's last start to 5 s before its first upgrade ends.
    for ring in RINGS:
        names = {row["name"] for row in rows if row["ring"] == ring}
        starts = [r["time"] for r in log if r["method"] == "POST" and r["path"].split("/")[-2] in names]
        if not starts:
            continue
        window = (max(starts) + 5, min(starts) + upgrade_s - 5)
        cpu, span = res["sampler"].cpu_between(*window)
        tree = res["sampler"].cpu_between(*window, column=3)[0]
        if cpu is not None and span > 0:
            res.setdefault("inflight", []).append(cpu * 1000.0 / len(names) / span)
            res.setdefault("inflight_tree", []).append(tree * 1000.0 / len(names) / span)
    # Between rings: from the last request of a ring's scale sets (its last outcome) to the next ring's first request
    # (what Ansible spends per host between the batch steps) and to its first POST (plus the next batch's plan reads).
    gaps, idle = [], []
    for ring, following in zip(RINGS, RINGS[1:]):
        names = {row["name"] for row in rows if row["ring"] == ring}
        after = {row["name"] for row in rows if row["ring"] == following}
        last = [r["time"] for r in log if r["kind"] == "arm" and _vmss(r["path"]) in names]
        first = [r["time"] for r in log if r["method"] == "POST" and _vmss(r["path"]) in after]
        touched = [r["time"] for r in log if r["kind"] == "arm" and _vmss(r["path"]) in after]
        if last and first:
            gaps.append(round(min(first) - max(last), 1))
            idle.append(round(min(touched) - max(last), 1))
    arm = sum(1 for r in log if r["kind"] == "arm")
    tokens = sum(1 for r in log if r["kind"] == "token")
    blocks = block_sizes(res["stdout"])
    figures = {
        "scale_sets": n, "upgrade_s": upgrade_s, "rc": res["rc"], "wall_s": round(res["wall"], 1),
        "floor_s": len(RINGS) * upgrade_s, "wall_target_s": 1.25 * len(RINGS) * upgrade_s + 30,
        "cpu_s": round(res["cpu"], 1), "cpu_per_vmss_s": round(res["cpu"] / n, 3),
        "tree_cpu_s": round(res["tree_cpu"], 1), "tree_cpu_per_vmss_s": round(res["tree_cpu"] / n, 3),
        "inflight_ms_per_vmss_s": round(max(res.get("inflight") or [0.0]), 2),
        "inflight_tree_ms_per_vmss_s": round(max(res.get("inflight_tree") or [0.0]), 2),
        "memory_mib": round(res["memory_mib"]), "threads": res["threads"], "lines": len(res["stdout"].splitlines()),
        "max_block_lines": max(blocks or [0]), "blocks": len(blocks), "ring_gaps_s": gaps, "ring_idle_s": idle,
        "lines_outside_blocks_per_vmss_ring": round(_lines_outside_blocks(res["stdout"]) / float(n), 2),
        "arm_per_vmss": round(arm / float(n), 2), "arm_target_per_vmss": 3 + upgrade_s / 5.0,
        "tokens": tokens, "batches": len(RINGS),
        "statuses": dict((s, sum(1 for r in rows if r["status"] == s)) for s in sorted({r["status"] for r in rows})),
    }
    return figures


def status_gate(emu, python, n, out):
    scenario = fleet(n, throttling=False, current_every=None)
    emu.load(scenario)
    run_dir = out / ("status-%d" % n)
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    inv = run_dir / "inventory.json"
    inventory(inv, scenario, python)
    res = play(emu, python, "fleet_status.yml", inv, run_dir, {"fleet_report_dir": str(run_dir / "reports")})
    return {"scale_sets": n, "rc": res["rc"], "wall_s": round(res["wall"], 1), "cpu_s": round(res["cpu"], 1),
            "cpu_per_vmss_s": round(res["cpu"] / n, 3), "tree_cpu_per_vmss_s": round(res["tree_cpu"] / n, 3),
            "arm": sum(1 for r in emu.requests if r["kind"] == "arm"),
            "tokens": sum(1 for r in emu.requests if r["kind"] == "token")}


def long_batch_lines(emu, python, out, n=50, minutes=40, scale=30.0):
    """A batch of ``n`` upgrades of ``minutes`` simulated minutes, polled and shown every 30 simulated seconds."""
    scenario = fleet(n, batch_seconds=minutes * 60 / 5.0, time_scale=scale, throttling=False, current_every=None,
                     rings=("canary",))
    emu.load(scenario)
    run_dir = out / "long-batch"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    inv = run_dir / "inventory.json"
    inventory(inv, scenario, python)
    interval = max(1, int(round(30 / scale)))
    extra = {"vmss_extension_rollout_poll_interval": interval, "vmss_extension_rollout_progress_interval": interval,
             "vmss_extension_rollout_wait_timeout": int(minutes * 60 / scale * 2), "rollout_allow_empty_rings": True,
             "vmss_extension_rollout_skip_if_completed_within": 0, "rollout_report_dir": str(run_dir / "reports")}
    res = play(emu, python, "vmss_extension_rollout.yml", inv, run_dir, extra)
    (run_dir / "stdout.txt").write_text(res["stdout"])
    text = res["stdout"]
    batch = text[text.index("ring canary: "):text.index("\nok: [", text.index("ring canary: "))].splitlines()
    blocks = block_sizes(text)
    return {"scale_sets": n, "minutes": minutes, "rc": res["rc"], "batch_lines": len(batch), "blocks": len(blocks),
            "max_block_lines": max(blocks or [0]), "total_lines": len(text.splitlines())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="100,500")
    parser.add_argument("--upgrade", type=float, default=60.0, help="seconds of real time each upgrade lasts")
    parser.add_argument("--quick", action="store_true", help="20 scale sets, 20 s upgrades, no long batch")
    args = parser.parse_args(argv)
    sizes = [20] if args.quick else [int(x) for x in args.sizes.split(",")]
    upgrade = 20.0 if args.quick else args.upgrade
    with Emulator(scenario="default") as emu:
        results = run_all(emu, str(Path(sys.executable)), sizes, upgrade, long_batch=not args.quick)
    print(summary(results))
    return results


def run_all(emu, python, sizes, upgrade, long_batch=True):
    """Every measurement of this benchmark against ``emu``; the figures, also in tests/output/bench/fleet/."""
    out = C.OUT / "fleet"
    out.mkdir(parents=True, exist_ok=True)
    results = {"baseline_issue8": BASELINE, "rollout": [], "status": [], "long_batch": None}
    for n in sizes:
        figures = rollout(emu, python, n, upgrade, out)
        results["rollout"].append(figures)
        print(json.dumps(figures), flush=True)
    for n in sizes:
        figures = status_gate(emu, python, n, out)
        results["status"].append(figures)
        print(json.dumps(figures), flush=True)
    if long_batch:
        results["long_batch"] = long_batch_lines(emu, python, out)
        print(json.dumps(results["long_batch"]), flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=2))
    return results


def summary(results):
    lines = ["", "## Fleet rollout on the batch step (issue 8 targets beside each figure)", "",
             "| scale sets | upgrade | wall (floor, target) | CPU all processes: total, per scale set (target 0.5 s) | "
             "tree CPU per scale set | in flight, ms CPU per scale set per s, all processes / tree (target 2) | "
             "memory in use (target 1.5 GiB) | "
             "max lines per block (target n+5) | ARM req per scale set (target) | token req (batches) | outcome |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for f in results["rollout"]:
        lines.append("| %d | %ds | %.0f s (%d, %.0f) | %.0f s, %.2f s | %.2f s | %.2f / %.2f | %d MiB | %d | %.1f (%.0f) | %d (%d) | %s |" % (
            f["scale_sets"], f["upgrade_s"], f["wall_s"], f["floor_s"], f["wall_target_s"], f["cpu_s"],
            f["cpu_per_vmss_s"], f["tree_cpu_per_vmss_s"], f["inflight_ms_per_vmss_s"],
            f.get("inflight_tree_ms_per_vmss_s", 0.0), f["memory_mib"],
            f["max_block_lines"], f["arm_per_vmss"], f["arm_target_per_vmss"], f["tokens"], f["batches"],
            ", ".join("%s %d" % kv for kv in f["statuses"].items())))
    for f in results["rollout"]:
        lines.append("| %d: between rings, last outcome -> next ring's first request %s s, -> first POST %s s (issue 18 "
                     "target 10 s at 667 a ring); %.2f lines per scale set and ring besides the progress blocks "
                     "(target 2); at most %s threads in a controller process (target 64) | | | | | | | | | | |" % (
                         f["scale_sets"], f.get("ring_idle_s"), f.get("ring_gaps_s"),
                         f.get("lines_outside_blocks_per_vmss_ring", 0.0), f.get("threads")))
    b = results["baseline_issue8"]
    lines.append("| old design (issue 8) %d | %ds | %d s (%d) | %d s, %.1f s | | %d | +%.1f GiB | %d lines in all | | | |" % (
        b["scale_sets"], b["upgrade_s"], b["wall_s"], b["ideal_s"], b["cpu_s"], b["cpu_per_vmss_s"],
        b["inflight_ms_per_vmss_s"], b["memory_gib"], b["lines"]))
    lines += ["", "| fleet status, scale sets | wall | CPU per scale set, all processes (target 0.2 s) | tree CPU per scale set | ARM | tokens | rc |",
              "|---|---|---|---|---|---|---|"]
    for f in results["status"]:
        lines.append("| %d | %.1f s | %.3f s | %.3f s | %d | %d | %d |" % (
            f["scale_sets"], f["wall_s"], f["cpu_per_vmss_s"], f["tree_cpu_per_vmss_s"], f["arm"], f["tokens"], f["rc"]))
    if results["long_batch"]:
        f = results["long_batch"]
        lines += ["", "A batch of %d scale sets whose upgrades last %d minutes, polled and shown every 30 s (simulated): "
                  "the batch step printed %d lines in %d blocks (at most %d lines in a block); the whole playbook %d lines."
                  % (f["scale_sets"], f["minutes"], f["batch_lines"], f["blocks"], f["max_block_lines"], f["total_lines"])]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
