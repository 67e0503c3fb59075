"""BackupHealthy: can the operator reach the instance's S3 replica with the
instance's own keys? Checked at most every few minutes per instance (each
check is one small, billed request), and on demand before a new volume is
created in Manual recovery mode.

The keys are read from the Secret for the check and dropped afterwards; they
never reach a log, an event or the status.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from . import spec as s
from .backup_health import BackupHealth, check_s3
from .conditions import condition
from .kube import Kube
from .meta import InstanceRef

BACKUP_HEALTHY = "BackupHealthy"


class BackupProber:
    def __init__(self, kube: Kube, interval: float = 300.0) -> None:
        self.kube = kube
        self.interval = interval
        self._cache: dict[str, tuple[float, str, BackupHealth]] = {}

    async def check(
        self, ref: InstanceRef, spec: s.KubarrInstanceSpec, fresh: bool = False
    ) -> BackupHealth | None:
        """The replica's health, from the cache unless stale or ``fresh``;
        None when the instance has no S3 replica."""
        target = spec.backup.s3
        if target is None or target.credentials_secret_ref is None:
            return None
        creds = target.credentials_secret_ref
        prefix = spec.replica_path(ref.namespace, ref.name)
        secret = await self.kube.secret_keys(ref.namespace, creds.name)
        version = secret.resource_version if secret else "missing"
        key = f"{target.endpoint}|{target.bucket}|{prefix}|{version}"

        cached = self._cache.get(ref.uid)
        if (
            not fresh
            and cached
            and cached[1] == key
            and (time.monotonic() - cached[0] < self.interval)
        ):
            return cached[2]

        values = await self.kube.secret_values(
            ref.namespace,
            creds.name,
            [creds.access_key_id_key, creds.secret_access_key_key],
        )
        health = await asyncio.to_thread(
            check_s3,
            target.endpoint,
            target.region,
            target.bucket,
            prefix,
            values.get(creds.access_key_id_key, ""),
            values.get(creds.secret_access_key_key, ""),
            target.force_path_style,
        )
        del values
        self._cache[ref.uid] = (time.monotonic(), key, health)
        return health

    def forget(self, uid: str) -> None:
        self._cache.pop(uid, None)


def backup_condition(health: BackupHealth, generation: int) -> dict[str, Any]:
    return condition(
        BACKUP_HEALTHY,
        "True" if health.healthy else "False",
        health.reason,
        health.message,
        generation,
    )
