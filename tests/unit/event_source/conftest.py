# -*- coding: utf-8 -*-
"""Fixtures of the event source tests: ``source`` (the plugin loaded by path, as ansible-rulebook does) and
``run_source(args, body)`` (its main() on a fresh event loop with a queue, always cancelled at the end)."""

import asyncio
import contextlib
import runpy

import pytest

from tests.helpers import COLLECTION_LINK

SOURCE_PATH = COLLECTION_LINK / "extensions" / "eda" / "plugins" / "event_source" / "operation_events.py"


@pytest.fixture(scope="session")
def source():
    """The source plugin's globals, loaded by path like ansible-rulebook's engine (runpy.run_path)."""
    return runpy.run_path(str(SOURCE_PATH))


class Run:
    """One running source: its queue and task, and helpers to wait on both without sleeping blindly."""

    def __init__(self, main, args, emulator):
        self.queue = asyncio.Queue()
        self.task = asyncio.create_task(main(self.queue, args))
        self.emulator = emulator

    async def event(self, timeout=5.0):
        getter = asyncio.ensure_future(self.queue.get())
        done = (await asyncio.wait({getter, self.task}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED))[0]
        if getter in done:
            return getter.result()
        getter.cancel()
        if self.task in done:
            self.task.result()  # the source ended: show why
            raise AssertionError("the source ended without an exception")
        raise AssertionError("no event within %s s" % timeout)

    async def requests(self, count, contains="", timeout=5.0):
        """Wait until the emulator logged ``count`` API requests whose path contains ``contains``."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            found = [r for r in self.emulator.requests if r["kind"] in ("arm", "adu") and contains in r["path"]]
            if len(found) >= count:
                return found
            if self.task.done():
                self.task.result()
                raise AssertionError("the source ended")
            if loop.time() > end:
                raise AssertionError("only %d of %d requests to %r within %s s" % (len(found), count, contains, timeout))
            await asyncio.sleep(0.01)

    async def rounds(self, count, contains, timeout=5.0):
        """Let ``count`` more rounds read ``contains`` (requests counted from now)."""
        already = len([r for r in self.emulator.requests if contains in r["path"]])
        return await self.requests(already + count, contains, timeout)

    async def after_each_advance(self, reads, advances):
        """Baseline (two reads of ``reads``), then one event per simulated-time jump, then three quiet rounds.

        Returns (the events, whatever else was queued afterwards).
        """
        await self.requests(2, reads)
        events = []
        for seconds in advances:
            self.emulator.advance(seconds)
            events.append(await self.event())
        await self.rounds(3, reads)
        return events, self.pending()

    def pending(self):
        items = []
        while not self.queue.empty():
            items.append(self.queue.get_nowait())
        return items

    async def stop(self):
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@pytest.fixture
def run_source(source, emulator):
    """run_source(args, scenario_coroutine) -> its result: runs main() on a fresh event loop, always cancelled at the end."""
    emulator.set_time_scale(0.001)  # simulated time moves when a test advances it

    def run(args, body):
        async def go():
            running = Run(source["main"], args, emulator)
            try:
                return await body(running)
            finally:
                await running.stop()
        return asyncio.run(go())
    return run
