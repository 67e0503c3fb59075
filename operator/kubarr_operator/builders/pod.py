"""Pieces shared by every pod that touches an instance's database: the
StatefulSet's pod and the migration Job's pod mount the same volumes, run the
same image with the same environment, and restore the same way."""

from __future__ import annotations

from typing import Any

from .. import spec as s
from ..meta import APP_PORT, DATA_MOUNT, DATABASE_FILE, InstanceRef
from . import litestream
from .security import container_security_context

ADMIN_TOKEN_VOLUME = "admin-token"
ADMIN_TOKEN_DIR = "/var/run/kubarr/admin-token"
ADMIN_TOKEN_FILE = f"{ADMIN_TOKEN_DIR}/token"


def admin_token_secret_name(ref: InstanceRef) -> str:
    return f"{ref.name}-admin-token"


def app_env(spec: s.KubarrInstanceSpec) -> list[dict[str, Any]]:
    """The app's environment: database, pool, audit retention, cache tuning."""
    database_url: dict[str, Any]
    if spec.database.engine == s.Engine.POSTGRES and spec.database.url_secret_ref:
        secret = spec.database.url_secret_ref
        database_url = {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": secret.name, "key": secret.key}},
        }
    else:
        database_url = {"name": "DATABASE_URL", "value": f"sqlite:///{DATABASE_FILE}"}

    plain = {
        "KUBARR_HOST": "0.0.0.0",
        "KUBARR_PORT": str(APP_PORT),
        "KUBARR_STORAGE_PATH": f"{DATA_MOUNT}/storage",
        "KUBARR_ADMIN_TOKEN_FILE": ADMIN_TOKEN_FILE,
        "KUBARR_DB_MAX_CONNECTIONS": str(spec.database.pool.max_connections),
        "KUBARR_DB_MIN_CONNECTIONS": str(spec.database.pool.min_connections),
        "KUBARR_CACHE_ENDPOINT_TTL_SECONDS": str(spec.cache.endpoint_ttl_seconds),
        "KUBARR_CACHE_MAX_ENTRIES": str(spec.cache.max_entries),
        "KUBARR_CACHE_EVICTION_INTERVAL_SECONDS": str(
            spec.cache.eviction_interval_seconds
        ),
        "KUBARR_CACHE_METRICS_MAX_AGE_SECONDS": str(spec.cache.metrics_max_age_seconds),
    }
    if spec.audit is not None:
        plain["KUBARR_AUDIT_RETENTION_DAYS"] = str(spec.audit.retention_days)
    if litestream.has_socket(spec):
        plain["KUBARR_LITESTREAM_SOCKET"] = litestream.SOCKET_FILE
        lag = s.duration_seconds(spec.backup.litestream.max_replication_lag)
        plain["KUBARR_REPLICATION_MAX_LAG_SECONDS"] = f"{lag:g}"
    return [database_url] + [{"name": k, "value": v} for k, v in plain.items()]


def app_mounts() -> list[dict[str, Any]]:
    return [
        {"name": litestream.DATA_VOLUME, "mountPath": DATA_MOUNT},
        {"name": litestream.TMP_VOLUME, "mountPath": "/tmp"},
        {"name": ADMIN_TOKEN_VOLUME, "mountPath": ADMIN_TOKEN_DIR, "readOnly": True},
    ]


def migrate_container(spec: s.KubarrInstanceSpec, image: str) -> dict[str, Any]:
    """``kubarr migrate``: a safety copy, then the schema brought to the image's
    head. On failure the last lines of its log become the pod's termination
    message, which the operator copies into the instance's status."""
    return {
        "name": "migrate",
        "image": image,
        "imagePullPolicy": spec.image.pull_policy,
        "args": ["migrate"],
        "env": app_env(spec),
        "volumeMounts": app_mounts(),
        "resources": spec.resources.app.model_dump(exclude_none=True),
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }


def restores_automatically(spec: s.KubarrInstanceSpec) -> bool:
    """Whether pods restore a missing database from the replica on their own."""
    return litestream.replicates(spec) and spec.backup.recovery == s.Recovery.AUTOMATIC


def verify_container(spec: s.KubarrInstanceSpec, image: str) -> dict[str, Any]:
    """``kubarr verify-db``: integrity check and row counts of whatever the
    restore left, before the schema is touched. A damaged database fails the
    Job, so it never serves."""
    return {
        **migrate_container(spec, image),
        "name": "verify",
        "args": ["verify-db"],
    }


def data_volumes(
    spec: s.KubarrInstanceSpec, ref: InstanceRef, *, with_config: bool | None = None
) -> list[dict[str, Any]]:
    """The database volume, scratch space, the admin token, and Litestream's
    config and file replica when the instance replicates (or, for a Job that
    restores from another replica, when ``with_config`` says so)."""
    volumes: list[dict[str, Any]] = [
        {
            "name": litestream.DATA_VOLUME,
            "persistentVolumeClaim": {"claimName": ref.data_claim},
        },
        {"name": litestream.TMP_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}},
        {
            "name": ADMIN_TOKEN_VOLUME,
            "secret": {
                "secretName": admin_token_secret_name(ref),
                "defaultMode": 0o440,
            },
        },
    ]
    if litestream.has_socket(spec):
        volumes.append(
            {"name": litestream.SOCKET_VOLUME, "emptyDir": {"sizeLimit": "1Mi"}}
        )
    if litestream.replicates(spec) if with_config is None else with_config:
        volumes.append(
            {
                "name": litestream.CONFIG_VOLUME,
                "configMap": {"name": ref.litestream_config},
            }
        )
    if spec.backup.file:
        claim = spec.backup.file.volume.persistent_volume_claim.claim_name
        volumes.append(
            {
                "name": litestream.FILE_REPLICA_VOLUME,
                "persistentVolumeClaim": {"claimName": claim},
            }
        )
    return volumes
