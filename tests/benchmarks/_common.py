# -*- coding: utf-8 -*-
"""Shared helpers for the benchmark scripts (not pytest tests).

* paths of the repository, the venvs and the output directory;
* an in-process emulator with the collection symlink set up like tests/conftest.py does;
* ``run_playbook``: run ansible-playbook, return wall time, rc, output and the peak
  memory of the whole controller process tree (sampled from /proc);
* statistics and markdown helpers.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "tests" / "output" / "bench"
COLLECTIONS = REPO / "tests" / "output" / "collections"
BENCH_BUILD = REPO / "build" / "bench"
AZURE_VENV = BENCH_BUILD / "azure-venv"
AZURE_COLLECTIONS = BENCH_BUILD / "collections"
AZCOLLECTION = AZURE_COLLECTIONS / "ansible_collections" / "azure" / "azcollection"

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))


def ensure_collection_link():
    link = COLLECTIONS / "ansible_collections" / "azure_ops" / "rollout"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() == REPO:
        return
    tmp = link.parent / (".bench-%d" % os.getpid())
    os.symlink(os.path.relpath(REPO, link.parent), tmp)
    os.replace(tmp, link)


def azure_available():
    """(python of the azure venv, reason it is unusable or None)."""
    py = AZURE_VENV / "bin" / "python"
    if not py.exists():
        return None, "build/bench/azure-venv missing (run hack/bench.sh)"
    if not (AZCOLLECTION / "plugins" / "modules" / "azure_rm_resource_info.py").exists():
        return str(py), "azure.azcollection not extracted under build/bench/collections"
    probe = subprocess.run([str(py), "-c", "import azure.mgmt.compute, azure.cli.core, ansible"],
                           capture_output=True, text=True, check=False)
    if probe.returncode:
        return str(py), "azure venv incomplete: " + probe.stderr.strip().splitlines()[-1]
    return str(py), None


class TreeMemory:
    """Peak of the summed RSS of a process and all its descendants, sampled every ``interval`` s."""

    def __init__(self, pid, interval=0.1):
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.peak_procs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(2)

    @staticmethod
    def _children():
        parents = {}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
                parents.setdefault(int(fields[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
        return parents

    @staticmethod
    def _rss_kb(pid):
        try:
            with open("/proc/%d/status" % pid) as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return 0

    def sample(self):
        parents = self._children()
        todo, total, count = [self.pid], 0, 0
        while todo:
            pid = todo.pop()
            total += self._rss_kb(pid)
            count += 1
            todo.extend(parents.get(pid, []))
        if total > self.peak_kb:
            self.peak_kb = total
        self.peak_procs = max(self.peak_procs, count)

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)


def run(cmd, env=None, timeout=1800, cwd=None, memory=False):
    """Run ``cmd``; returns dict(rc, wall, stdout, stderr, peak_mb, peak_procs)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=full_env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    sampler = TreeMemory(proc.pid) if memory else None
    if sampler:
        sampler.__enter__()
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        out += "\n[bench] TIMEOUT after %ss" % timeout
    finally:
        if sampler:
            sampler.__exit__()
    wall = time.perf_counter() - start
    return {"rc": proc.returncode, "wall": wall, "stdout": out, "stderr": err,
            "peak_mb": round(sampler.peak_kb / 1024.0, 1) if sampler else None,
            "peak_procs": sampler.peak_procs if sampler else None}


def ansible_env(emu, python, extra_collections=(), run_dir=None):
    """Environment for ansible-playbook against ``emu`` with the collection(s) found and nothing else."""
    paths = [str(COLLECTIONS)] + [str(p) for p in extra_collections]
    env = {
        "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(paths),
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_PYTHON_INTERPRETER": python,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_DEPRECATION_WARNINGS": "false",
        "ANSIBLE_SYSTEM_WARNINGS": "false",
        "ANSIBLE_LOCALHOST_WARNING": "false",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "false",
    }
    if run_dir is not None:
        env["ANSIBLE_LOCAL_TEMP"] = str(Path(run_dir) / "local-tmp")
        env["ANSIBLE_REMOTE_TMP"] = str(Path(run_dir) / "remote-tmp")
        env["ANSIBLE_ASYNC_DIR"] = str(Path(run_dir) / "async")
        env["TMPDIR"] = str(Path(run_dir))
    env.update(emu.env())
    # azure.azcollection's names for the same credentials.
    env["AZURE_SECRET"] = emu.client_secret
    env["AZURE_TENANT"] = emu.tenant_id
    # azure.azcollection takes env credentials whole (module options are then ignored): authority there too.
    env["AZURE_ADFS_AUTHORITY_URL"] = emu.base_url
    env["AZURE_DISABLE_INSTANCE_DISCOVERY"] = "true"
    return env


def median(values):
    return statistics.median(values) if values else float("nan")


def fmt(value, digits=2):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return ("%%.%df" % digits) % value
    return str(value)


def md_table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for row in rows:
        lines.append("| " + " | ".join(fmt(c) for c in row) + " |")
    return "\n".join(lines)


def save_json(name, data):
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / name).write_text(json.dumps(data, indent=2, sort_keys=True, default=str))


def machine_summary():
    import platform
    cpus = os.cpu_count()
    try:
        with open("/proc/meminfo") as handle:
            mem = int(handle.readline().split()[1]) // 1024
    except OSError:
        mem = None
    return "%s, Python %s, %s CPUs, %s MiB RAM" % (platform.platform(), platform.python_version(), cpus, mem)
