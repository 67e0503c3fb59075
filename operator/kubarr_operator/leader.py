"""Leader election on a coordination.k8s.io Lease.

Two operator replicas must never both act on an instance: two writers of the
same StatefulSet or migration Job is exactly the failure SQLite cannot take.
kopf's peering pauses every operator of equal priority, which is the wrong
answer for identical replicas, so the operator takes a Lease instead and only
the holder runs kopf. A holder that cannot renew in time stops acting.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import socket
from typing import Any

from .kube import ApiError, Kube

log = logging.getLogger(__name__)


def _micro_time(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class LeaderElector:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str = "kubarr-operator",
        identity: str | None = None,
        lease_seconds: int = 15,
        renew_seconds: float = 5.0,
    ) -> None:
        self.kube = kube
        self.namespace = namespace
        self.name = name
        self.identity = identity or default_identity()
        self.lease_seconds = lease_seconds
        self.renew_seconds = renew_seconds

    def _lease(
        self, current: dict[str, Any] | None, now: dt.datetime
    ) -> dict[str, Any]:
        spec = dict((current or {}).get("spec") or {})
        transitions = int(spec.get("leaseTransitions") or 0)
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = _micro_time(now)
            transitions += 1 if current else 0
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=self.lease_seconds,
            renewTime=_micro_time(now),
            leaseTransitions=transitions,
        )
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if current:
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec,
        }

    async def try_acquire(self) -> bool:
        """One attempt to take or renew the lease; True when we hold it."""
        now = dt.datetime.now(dt.UTC)
        current = await self.kube.get(
            "coordination.k8s.io/v1", "Lease", self.namespace, self.name
        )
        if current is not None:
            spec = current.get("spec") or {}
            holder = spec.get("holderIdentity")
            renewed = _parse_time(spec.get("renewTime"))
            duration = int(spec.get("leaseDurationSeconds") or self.lease_seconds)
            expired = renewed is None or renewed + dt.timedelta(seconds=duration) < now
            if holder and holder != self.identity and not expired:
                return False
        lease = self._lease(current, now)
        try:
            if current is None:
                await self.kube.create(lease)
            else:
                await self.kube.replace(lease)
        except ApiError as error:
            if error.status in (409, 422):
                return False  # somebody else wrote it first
            raise
        return True

    async def acquire(self) -> None:
        """Block until this process holds the lease."""
        announced = False
        while True:
            try:
                if await self.try_acquire():
                    log.info(
                        "leader election: %s now leads (Lease %s/%s)",
                        self.identity,
                        self.namespace,
                        self.name,
                    )
                    return
            except Exception as error:
                log.warning("leader election: cannot reach the API: %s", error)
            if not announced:
                log.info(
                    "leader election: another operator leads; %s waits as standby",
                    self.identity,
                )
                announced = True
            await asyncio.sleep(self.renew_seconds)

    async def hold(self, lost: asyncio.Event) -> None:
        """Renew until renewal fails for longer than the lease; then set ``lost``."""
        last_renewal = asyncio.get_running_loop().time()
        while not lost.is_set():
            await asyncio.sleep(self.renew_seconds)
            try:
                if await self.try_acquire():
                    last_renewal = asyncio.get_running_loop().time()
                    continue
                log.error("leader election: lease taken by another operator")
                lost.set()
            except Exception as error:
                log.warning("leader election: renewal failed: %s", error)
                if (
                    asyncio.get_running_loop().time() - last_renewal
                    > self.lease_seconds
                ):
                    log.error(
                        "leader election: could not renew for %d s; stopping",
                        self.lease_seconds,
                    )
                    lost.set()

    async def release(self) -> None:
        """Hand the lease over at once on a clean shutdown."""
        try:
            current = await self.kube.get(
                "coordination.k8s.io/v1", "Lease", self.namespace, self.name
            )
            if (
                current
                and (current.get("spec") or {}).get("holderIdentity") == self.identity
            ):
                current["spec"]["renewTime"] = _micro_time(
                    dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
                )
                await self.kube.replace(current)
        except Exception as error:
            log.warning("leader election: could not release the lease: %s", error)
