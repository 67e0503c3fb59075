"""Coalescing per-instance work queue with backoff.

Watch events arrive in bursts (a StatefulSet changes status several times per
rollout); reconciling once per burst is enough. Each instance has at most one
reconcile running; a request that arrives meanwhile makes it run once more
afterwards. A failing reconcile is retried with exponential backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 300.0

Work = Callable[[Hashable], Awaitable[float | None]]
"""Reconciles one key; returns seconds until it wants to run again, or None."""


class Scheduler:
    def __init__(self, work: Work, concurrency: int = 4) -> None:
        self._work = work
        self._limit = asyncio.Semaphore(concurrency)
        self._running: dict[Hashable, asyncio.Task[None]] = {}
        self._again: set[Hashable] = set()
        self._timers: dict[Hashable, asyncio.TimerHandle] = {}
        self._stopped = False

    def request(self, key: Hashable, delay: float = 0.0) -> None:
        """Reconcile ``key`` soon (after ``delay`` seconds, if given)."""
        if self._stopped:
            return
        if delay > 0:
            if key in self._timers:
                return
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(delay, self._fire, key)
            return
        if key in self._running:
            self._again.add(key)
            return
        self._running[key] = asyncio.create_task(
            self._loop(key), name=f"reconcile {key}"
        )

    def _fire(self, key: Hashable) -> None:
        self._timers.pop(key, None)
        self.request(key)

    async def _loop(self, key: Hashable) -> None:
        failures = 0
        try:
            while True:
                self._again.discard(key)
                try:
                    async with self._limit:
                        after = await self._work(key)
                    failures = 0
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    failures += 1
                    delay = min(MAX_BACKOFF_SECONDS, 2.0**failures)
                    log.error(
                        "reconcile of %s failed (attempt %d), retrying in %.0f s: %s",
                        key,
                        failures,
                        delay,
                        error,
                    )
                    await asyncio.sleep(delay)
                    continue
                if key not in self._again:
                    if after is not None:
                        self._running.pop(key, None)
                        self.request(key, after)
                    return
        finally:
            if self._running.get(key) is asyncio.current_task():
                self._running.pop(key, None)

    async def idle(self) -> None:
        """Wait until no reconcile is running (for tests and shutdown)."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def stop(self) -> None:
        self._stopped = True
        for timer in self._timers.values():
            timer.cancel()
        for task in self._running.values():
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
