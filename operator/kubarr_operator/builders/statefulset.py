"""The single-replica StatefulSet that runs the Kubarr app and Litestream.

One replica and one writer: SQLite has a single writer and the data volume is
ReadWriteOnce. With one replica the StatefulSet's RollingUpdate already stops
the old pod before it starts the new one, so two pods never share the file.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import spec as s
from ..meta import (
    APP_PORT,
    CONFIG_CHECKSUM,
    DATA_MOUNT,
    DATABASE_FILE,
    SECRETS_VERSION,
    InstanceRef,
    labels,
    object_meta,
    selector_labels,
)
from . import litestream
from .security import container_security_context, pod_security_context

# Longer than Litestream's final sync on shutdown, so the kubelet never kills
# it before the last WAL frames reach the replica.
TERMINATION_GRACE_SECONDS = litestream.SHUTDOWN_SYNC_TIMEOUT_SECONDS + 30


def config_checksum(spec: s.KubarrInstanceSpec, ref: InstanceRef) -> str:
    """A hash of the rendered config, so a config change rolls the pod."""
    rendered = (
        litestream.render_config(spec, ref) if litestream.replicates(spec) else ""
    )
    return hashlib.sha256(rendered.encode()).hexdigest()[:16]


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
    return [database_url] + [{"name": k, "value": v} for k, v in plain.items()]


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def _app_mounts() -> list[dict[str, Any]]:
    return [
        {"name": litestream.DATA_VOLUME, "mountPath": DATA_MOUNT},
        {"name": litestream.TMP_VOLUME, "mountPath": "/tmp"},
    ]


def app_container(spec: s.KubarrInstanceSpec) -> dict[str, Any]:
    return {
        "name": "kubarr",
        "image": spec.image.reference,
        "imagePullPolicy": spec.image.pull_policy,
        "args": ["serve"],
        "env": app_env(spec),
        "ports": [{"name": "http", "containerPort": APP_PORT, "protocol": "TCP"}],
        "startupProbe": _probe("/healthz", period=2, failures=60),
        "readinessProbe": _probe("/readyz", period=5, failures=3),
        "livenessProbe": _probe("/healthz", period=10, failures=6),
        "volumeMounts": _app_mounts(),
        "resources": spec.resources.app.model_dump(exclude_none=True),
        "securityContext": container_security_context(),
    }


def migrate_container(spec: s.KubarrInstanceSpec) -> dict[str, Any]:
    """Init container that brings the schema to the image's head before serving.
    It runs after the restore and before Litestream starts, so it is the only
    process with the database open."""
    return {
        "name": "migrate",
        "image": spec.image.reference,
        "imagePullPolicy": spec.image.pull_policy,
        "args": ["migrate"],
        "env": app_env(spec),
        "volumeMounts": _app_mounts(),
        "resources": spec.resources.app.model_dump(exclude_none=True),
        "securityContext": container_security_context(),
    }


def _volumes(spec: s.KubarrInstanceSpec, ref: InstanceRef) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {
            "name": litestream.DATA_VOLUME,
            "persistentVolumeClaim": {"claimName": ref.data_claim},
        },
        {"name": litestream.TMP_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}},
    ]
    if litestream.replicates(spec):
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


def statefulset(
    spec: s.KubarrInstanceSpec, ref: InstanceRef, secrets_version: str
) -> dict[str, Any]:
    """The StatefulSet; ``secrets_version`` changes when a referenced Secret
    changes, which rolls the pod so it reads the new values."""
    init_containers = []
    containers = [app_container(spec)]
    if litestream.replicates(spec):
        init_containers.append(litestream.restore_container(spec))
        containers.append(litestream.replicate_container(spec))
    init_containers.append(migrate_container(spec))

    pod_annotations = {CONFIG_CHECKSUM: config_checksum(spec, ref)}
    if secrets_version:
        pod_annotations[SECRETS_VERSION] = secrets_version

    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(ref, ref.statefulset, "app", version=spec.image.tag),
        "spec": {
            "replicas": 1,
            "serviceName": ref.headless_service,
            "selector": {"matchLabels": selector_labels(ref)},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {
                    "labels": labels(ref, "app", spec.image.tag),
                    "annotations": pod_annotations,
                },
                "spec": {
                    "securityContext": pod_security_context(),
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "initContainers": init_containers,
                    "containers": containers,
                    "volumes": _volumes(spec, ref),
                },
            },
        },
    }
