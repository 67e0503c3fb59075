"""The operator's in-memory state: the latest body of each instance, the
reconcile scheduler and the periodic resync.

The resync is what makes the operator level-based: every instance is
reconciled again every ``resync_seconds`` even when no event arrived, which
catches a changed Secret, a child deleted while the operator was down, or any
drift the child watches cannot see.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Hashable
from typing import Any

from .kube import Kube
from .probe import BackupProber
from .reconcile import reconcile
from .scheduler import Scheduler

log = logging.getLogger(__name__)

Key = tuple[str, str]

STALLED_RETRY_SECONDS = 15.0
PROGRESS_RETRY_SECONDS = 30.0


class Runtime:
    def __init__(
        self,
        kube: Kube,
        resync_seconds: float = 60.0,
        probe_backups: bool = False,
        probe_interval: float = 300.0,
    ) -> None:
        self.kube = kube
        self.resync_seconds = resync_seconds
        self.prober = BackupProber(kube, probe_interval) if probe_backups else None
        self.instances: dict[Key, dict[str, Any]] = {}
        self.scheduler = Scheduler(self._reconcile_key)
        self._resync_task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._resync_task = asyncio.create_task(self._resync(), name="resync")

    async def stop(self) -> None:
        if self._resync_task:
            self._resync_task.cancel()
        await self.scheduler.stop()
        await self.kube.close()

    def observe(self, event_type: str | None, body: dict[str, Any]) -> None:
        """Record the latest body from the watch and ask for a reconcile."""
        meta = body.get("metadata", {})
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if event_type == "DELETED":
            self.instances.pop(key, None)
            return
        self.instances[key] = body
        self.request(*key)

    def request(self, namespace: str, name: str, delay: float = 0.0) -> None:
        if (namespace, name) in self.instances:
            self.scheduler.request((namespace, name), delay)

    async def _reconcile_key(self, key: Hashable) -> float | None:
        body = self.instances.get(key)  # type: ignore[call-overload]
        if body is None:
            return None
        if body.get("metadata", {}).get("deletionTimestamp"):
            return None  # children go with it through their owner references
        started_at = body["metadata"].get("resourceVersion")

        result = await reconcile(
            self.kube, body, list(self.instances.values()), self.prober
        )

        current = self.instances.get(key)  # type: ignore[call-overload]
        if (
            current is not None
            and current["metadata"].get("resourceVersion") == started_at
        ):
            # Nothing newer came from the watch meanwhile: keep what the status
            # write returned, so the next reconcile compares against it.
            self.instances[key] = result.body  # type: ignore[index]
        if result.requeue_after is not None:
            return result.requeue_after
        if result.problem:
            return STALLED_RETRY_SECONDS
        if not result.ready:
            return PROGRESS_RETRY_SECONDS
        return None

    # Limitation: a changed Secret is noticed at the next resync (60 s by
    # default): Secrets are not watched, to keep every Secret out of memory.
    async def _resync(self) -> None:
        while True:
            await asyncio.sleep(self.resync_seconds)
            for namespace, name in list(self.instances):
                self.request(namespace, name)
