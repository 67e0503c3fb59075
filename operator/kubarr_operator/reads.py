"""Reads shared by the steps of one reconcile.

Several steps look at the same objects (the StatefulSet before fencing and in
the rollout, the CronJobs in the pre-flight check and in their own step); one
reconcile asks the API server once. Writes through this wrapper update what it
remembers, so a step never sees an object older than its own write. It lives
for one reconcile only: the next one reads afresh.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from .kube import Kube

Key = tuple[str, str, str | None, str]


class ReconcileReads(Kube):
    """A :class:`Kube` whose ``get`` answers repeated questions from memory."""

    def __init__(self, kube: Kube) -> None:
        super().__init__(kube.credentials)
        self._parent = kube
        self._seen: dict[Key, dict[str, Any] | None] = {}

    async def _http(self) -> aiohttp.ClientSession:
        # The operator's one connection pool, never a session of its own.
        return await self._parent._http()

    async def close(self) -> None:
        """Nothing to close: the session belongs to the operator's client."""

    async def get(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        key = (api_version, kind, namespace, name)
        if key not in self._seen:
            self._seen[key] = await super().get(api_version, kind, namespace, name)
        return self._seen[key]

    def _remember(self, result: dict[str, Any]) -> dict[str, Any]:
        meta = result.get("metadata") or {}
        if result.get("apiVersion") and result.get("kind") and meta.get("name"):
            key = (
                result["apiVersion"],
                result["kind"],
                meta.get("namespace"),
                meta["name"],
            )
            self._seen[key] = result
        return result

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return self._remember(await super().apply(manifest))

    async def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return self._remember(await super().create(manifest))

    async def replace(self, manifest: dict[str, Any]) -> dict[str, Any]:
        return self._remember(await super().replace(manifest))

    async def delete(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> bool:
        self._seen[(api_version, kind, namespace, name)] = None
        return await super().delete(api_version, kind, namespace, name)
