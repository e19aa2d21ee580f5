# -*- coding: utf-8 -*-
"""Shared pytest setup for azure_ops.rollout.

* Makes the checkout importable as ``ansible_collections.azure_ops.rollout`` through the
  symlink ``tests/output/collections/ansible_collections/azure_ops/rollout -> <repo root>``
  (created idempotently; safe when several xdist workers start at once).
* Puts the repository root on ``sys.path`` (``import tests.emulator...``).
* Exports ``ANSIBLE_COLLECTIONS_PATH`` and other ``ANSIBLE_*`` settings so ansible-playbook
  started from tests finds this collection and nothing else.
* Loads the emulator plugin (fixtures ``emulator_server`` / ``emulator``).
* Provides the ``run_playbook`` fixture.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_DIR = REPO_ROOT / "tests" / "output"
COLLECTIONS_DIR = OUTPUT_DIR / "collections"
COLLECTION_LINK = COLLECTIONS_DIR / "ansible_collections" / "azure_ops" / "rollout"


def _ensure_collection_link() -> None:
    """Create the collection symlink; race-safe (xdist workers) and self-healing."""
    parent = COLLECTION_LINK.parent
    parent.mkdir(parents=True, exist_ok=True)
    target = os.path.relpath(REPO_ROOT, parent)
    if COLLECTION_LINK.is_symlink() and COLLECTION_LINK.resolve() == REPO_ROOT:
        return
    # Build the link under a unique name, then atomically rename it into place: concurrent
    # workers all end up with the same correct link and nobody sees a half-made one.
    tmp = parent / f".rollout-{uuid.uuid4().hex}"
    os.symlink(target, tmp)
    try:
        os.replace(tmp, COLLECTION_LINK)
    except OSError:
        os.unlink(tmp)
        if not (COLLECTION_LINK.is_symlink() and COLLECTION_LINK.resolve() == REPO_ROOT):
            raise


_ensure_collection_link()

for _p in (str(COLLECTIONS_DIR), str(REPO_ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

# Settings for this process and every ansible-* subprocess started by tests.
os.environ["ANSIBLE_COLLECTIONS_PATH"] = str(COLLECTIONS_DIR)
os.environ.setdefault("ANSIBLE_COLLECTIONS_SCAN_SYS_PATH", "false")
os.environ["ANSIBLE_NOCOLOR"] = "1"
os.environ["ANSIBLE_FORCE_COLOR"] = "0"
os.environ.setdefault("ANSIBLE_HOST_KEY_CHECKING", "false")
os.environ.setdefault("ANSIBLE_RETRY_FILES_ENABLED", "false")
os.environ.setdefault("ANSIBLE_DEPRECATION_WARNINGS", "false")
os.environ.setdefault("ANSIBLE_SYSTEM_WARNINGS", "false")
os.environ.setdefault("ANSIBLE_LOCALHOST_WARNING", "false")
os.environ.setdefault("ANSIBLE_INVENTORY_UNPARSED_WARNING", "false")
os.environ.setdefault("PY_COLORS", "0")

# Fixtures emulator_server / emulator (tests/emulator/pytest_plugin.py).
pytest_plugins = ("tests.emulator.pytest_plugin",)


# --------------------------------------------------------------------------- run_playbook

@dataclass
class PlaybookResult:
    """What one ansible-playbook run produced."""

    rc: int
    stdout: str
    stderr: str
    cmd: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def describe(self) -> str:
        return (f"$ {' '.join(self.cmd)}\n-> rc={self.rc}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")

    def assert_ok(self) -> "PlaybookResult":
        assert self.rc == 0, self.describe()
        return self

    def assert_failed(self) -> "PlaybookResult":
        assert self.rc != 0, self.describe()
        return self


def _venv_bin(tool: str) -> str:
    """The tool next to the running interpreter (the venv's), else from PATH."""
    candidate = Path(sys.executable).parent / tool
    if candidate.exists():
        return str(candidate)
    found = shutil.which(tool)
    if not found:
        pytest.fail(f"{tool} not found next to {sys.executable} nor on PATH")
    return found


@pytest.fixture
def run_playbook(tmp_path: Path):
    """Run ansible-playbook from the current venv.

    ``run_playbook(playbook, inventory=None, extra_vars=None, env=None, emulator=None,
    check=False, verbose=0, timeout=300, args=(), cwd=None) -> PlaybookResult``

    * ``inventory``: a path, or an inline host list such as ``"localhost,"``; default is
      ``localhost`` with the local connection and this venv's Python as interpreter.
    * ``extra_vars``: a dict, passed as ``-e @<json file>``.
    * ``emulator``: anything with an ``env()`` method (or a mapping); merged into the
      environment before ``env``.
    * ``verbose``: 0-4, turned into ``-v`` flags.
    """

    def _run(
        playbook: str | os.PathLike,
        *,
        inventory: str | os.PathLike | None = None,
        extra_vars: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        emulator: Any = None,
        check: bool = False,
        verbose: int = 0,
        timeout: float = 300,
        args: Sequence[str] = (),
        cwd: str | os.PathLike | None = None,
    ) -> PlaybookResult:
        run_dir = Path(tmp_path) / f"run-{uuid.uuid4().hex[:8]}"
        run_dir.mkdir()
        if inventory is None:
            inv = run_dir / "inventory.ini"
            inv.write_text(
                "localhost ansible_connection=local "
                f"ansible_python_interpreter={sys.executable}\n"
            )
            inventory = inv
        cmd = [_venv_bin("ansible-playbook"), "-i", str(inventory)]
        if extra_vars:
            ev = run_dir / "extra_vars.json"
            ev.write_text(json.dumps(dict(extra_vars)))
            cmd += ["-e", f"@{ev}"]
        if check:
            cmd.append("--check")
        if verbose:
            cmd.append("-" + "v" * int(verbose))
        cmd += list(args)
        cmd.append(str(playbook))

        full_env = dict(os.environ)
        full_env.setdefault("ANSIBLE_PYTHON_INTERPRETER", sys.executable)
        full_env["ANSIBLE_LOCAL_TEMP"] = str(run_dir / "tmp")
        if emulator is not None:
            extra = emulator.env() if hasattr(emulator, "env") else emulator
            full_env.update({k: str(v) for k, v in dict(extra).items()})
        if env:
            full_env.update({k: str(v) for k, v in env.items()})

        try:
            proc = subprocess.run(
                cmd, cwd=str(cwd or run_dir), env=full_env, stdin=subprocess.DEVNULL,
                capture_output=True, text=True, timeout=timeout, check=False,
            )
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            err = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            pytest.fail(f"ansible-playbook timed out after {timeout}s: {' '.join(cmd)}\n"
                        f"--- stdout ---\n{out}\n--- stderr ---\n{err}")
        return PlaybookResult(proc.returncode, proc.stdout, proc.stderr, cmd)

    return _run


@pytest.fixture(autouse=True)
def _fresh_pacer():
    """Every test starts with full rate-limit budgets: the process-wide pacer (``_pacing.PACER``) plans from Azure's
    published budgets whether or not the emulator enforces them, and the emulator's host, subscriptions and scale
    sets are the same from test to test (in Azure, a new process starts with full buckets too)."""
    from ansible_collections.azure_ops.rollout.plugins.module_utils import _pacing  # pylint: disable=import-outside-toplevel

    _pacing.PACER.reset()
    yield
