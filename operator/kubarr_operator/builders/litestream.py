"""Litestream: the rendered ``litestream.yml`` and the two containers that use it.

The config holds no secret: S3 keys reach Litestream as environment variables
fed from the user's Secret. Litestream 0.3 and 0.5 read different shapes
(0.3: a ``replicas`` list with per-replica snapshot and retention settings;
0.5: one ``replica`` and a global ``snapshot`` section), so the version in the
spec picks the shape.
"""

from __future__ import annotations

from typing import Any

import yaml

from .. import spec as s
from ..meta import (
    APP_PORT,
    DATA_MOUNT,
    DATABASE_FILE,
    LITESTREAM_CONFIG_DIR,
    LITESTREAM_CONFIG_FILE,
    LITESTREAM_METRICS_PORT,
    InstanceRef,
)
from .security import container_security_context

FILE_REPLICA_MOUNT = "/replica"
CONFIG_VOLUME = "litestream-config"
DATA_VOLUME = "data"
FILE_REPLICA_VOLUME = "file-replica"
TMP_VOLUME = "tmp"

RESTORE_CONFIG_FILE = f"{LITESTREAM_CONFIG_DIR}/restore.yml"
SOCKET_VOLUME = "litestream-socket"
SOCKET_DIR = "/var/run/litestream"
SOCKET_FILE = f"{SOCKET_DIR}/litestream.sock"


def has_socket(spec: s.KubarrInstanceSpec) -> bool:
    """Litestream 0.5 serves a control socket; 0.3 has none."""
    return (
        replicates(spec) and spec.backup.litestream.version == s.LitestreamVersion.V0_5
    )


SCRATCH_VOLUME = "scratch"
SCRATCH_MOUNT = "/scratch"
DRILL_DATABASE = f"{SCRATCH_MOUNT}/drill.db"

# Litestream's own upper bound on the final sync when it is told to stop.
SHUTDOWN_SYNC_TIMEOUT_SECONDS = 30


def replicates(spec: s.KubarrInstanceSpec) -> bool:
    """Whether this instance runs Litestream at all."""
    return spec.database.engine == s.Engine.SQLITE and (
        spec.backup.s3 is not None or spec.backup.file is not None
    )


def replica_location(spec: s.KubarrInstanceSpec, ref: InstanceRef) -> str:
    """Where the replica lives, for status and logs (never a credential)."""
    if spec.database.engine == s.Engine.POSTGRES:
        return "external"
    if spec.backup.s3:
        return (
            f"s3://{spec.backup.s3.bucket}/{spec.replica_path(ref.namespace, ref.name)}"
        )
    if spec.backup.file:
        return f"file:{spec.backup.file.path}"
    return "none"


def _s3_replica(target: s.S3Target, path: str) -> dict[str, Any]:
    replica: dict[str, Any] = {"type": "s3", "bucket": target.bucket, "path": path}
    if target.endpoint:
        replica["endpoint"] = target.endpoint
    if target.region:
        replica["region"] = target.region
    if target.force_path_style is not None:
        replica["force-path-style"] = target.force_path_style
    return replica


def _replica(spec: s.KubarrInstanceSpec, ref: InstanceRef) -> dict[str, Any]:
    litestream = spec.backup.litestream
    replica: dict[str, Any]
    if spec.backup.s3:
        replica = _s3_replica(
            spec.backup.s3, spec.replica_path(ref.namespace, ref.name)
        )
    elif spec.backup.file:
        replica = {
            "type": "file",
            "path": FILE_REPLICA_MOUNT + spec.backup.file.path.rstrip("/"),
        }
    else:
        raise ValueError("no backup target to render")

    replica["sync-interval"] = litestream.sync_interval
    if litestream.version == s.LitestreamVersion.V0_3:
        replica["snapshot-interval"] = litestream.snapshot_interval
        replica["retention"] = litestream.retention
    return replica


def render_config(spec: s.KubarrInstanceSpec, ref: InstanceRef) -> str:
    """The ``litestream.yml`` for this instance, in the configured version's shape."""
    litestream = spec.backup.litestream
    config: dict[str, Any] = {"addr": f":{LITESTREAM_METRICS_PORT}"}
    database: dict[str, Any] = {"path": DATABASE_FILE}

    if litestream.version == s.LitestreamVersion.V0_3:
        database["replicas"] = [_replica(spec, ref)]
    else:
        database["replica"] = _replica(spec, ref)
        config["snapshot"] = {
            "interval": litestream.snapshot_interval,
            "retention": litestream.retention,
        }
        config["shutdown-sync-timeout"] = f"{SHUTDOWN_SYNC_TIMEOUT_SECONDS}s"
        # The app asks Litestream through this socket for its position (the
        # ReplicationHealthy probe) and to sync now (backup-now).
        config["socket"] = {"enabled": True, "path": SOCKET_FILE}

    config["dbs"] = [database]
    return yaml.safe_dump(config, sort_keys=False)


def render_restore_config(
    spec: s.KubarrInstanceSpec, source: s.S3Target, source_path: str
) -> str:
    """A config naming another replica (a clone's or a bootstrap's source) as
    the replica of this instance's database path, for ``litestream restore``."""
    database: dict[str, Any] = {"path": DATABASE_FILE}
    replica = _s3_replica(source, source_path)
    if spec.backup.litestream.version == s.LitestreamVersion.V0_3:
        database["replicas"] = [replica]
    else:
        database["replica"] = replica
    return yaml.safe_dump({"dbs": [database]}, sort_keys=False)


# Limitation: a private CA for the S3 endpoint (a MinIO with its own
# certificate) is not mounted; Litestream then refuses the endpoint.
def credential_env(spec: s.KubarrInstanceSpec) -> list[dict[str, Any]]:
    """S3 keys as env vars read from the user's Secret; empty for file replicas."""
    if not spec.backup.s3:
        return []
    return s3_credential_env(spec.backup.s3)


def s3_credential_env(target: s.S3Target) -> list[dict[str, Any]]:
    if not target.credentials_secret_ref:
        return []
    ref = target.credentials_secret_ref
    env = []
    for variable, key in (
        ("LITESTREAM_ACCESS_KEY_ID", ref.access_key_id_key),
        ("LITESTREAM_SECRET_ACCESS_KEY", ref.secret_access_key_key),
    ):
        env.append(
            {
                "name": variable,
                "valueFrom": {"secretKeyRef": {"name": ref.name, "key": key}},
            }
        )
    return env


def _mounts(spec: s.KubarrInstanceSpec) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [
        {"name": DATA_VOLUME, "mountPath": DATA_MOUNT},
        {"name": CONFIG_VOLUME, "mountPath": LITESTREAM_CONFIG_DIR, "readOnly": True},
        {"name": TMP_VOLUME, "mountPath": "/tmp"},
    ]
    if spec.backup.file:
        mounts.append({"name": FILE_REPLICA_VOLUME, "mountPath": FILE_REPLICA_MOUNT})
    return mounts


def socket_mounts(spec: s.KubarrInstanceSpec) -> list[dict[str, Any]]:
    """The directory of Litestream's control socket, shared with the app."""
    if not has_socket(spec):
        return []
    return [{"name": SOCKET_VOLUME, "mountPath": SOCKET_DIR}]


def _resources(spec: s.KubarrInstanceSpec) -> dict[str, Any]:
    return spec.resources.litestream.model_dump(exclude_none=True)


def restore_container(spec: s.KubarrInstanceSpec) -> dict[str, Any]:
    """Init container: restore the database only if it is missing and a replica
    exists. A fresh install against an empty bucket starts empty; a real
    restore error fails the pod instead of starting on an empty database."""
    return {
        "name": "litestream-restore",
        "image": spec.backup.litestream.image.reference,
        "imagePullPolicy": spec.image.pull_policy,
        "args": [
            "restore",
            "-config",
            LITESTREAM_CONFIG_FILE,
            "-if-db-not-exists",
            "-if-replica-exists",
            DATABASE_FILE,
        ],
        "env": credential_env(spec),
        "volumeMounts": _mounts(spec),
        "resources": _resources(spec),
        "securityContext": container_security_context(),
    }


def bootstrap_restore_container(
    spec: s.KubarrInstanceSpec, source: s.S3Target, timestamp: str | None
) -> dict[str, Any]:
    """Init container of the first migration Job for a clone or a point-in-time
    restore. A missing source replica is an error here, not an empty start."""
    args = ["restore", "-config", RESTORE_CONFIG_FILE, "-if-db-not-exists"]
    if timestamp:
        args += ["-timestamp", timestamp]
    return {
        **restore_container(spec),
        "name": "bootstrap-restore",
        "args": [*args, DATABASE_FILE],
        "env": s3_credential_env(source),
    }


def drill_restore_container(spec: s.KubarrInstanceSpec) -> dict[str, Any]:
    """Restore the latest replica into scratch space, never onto the volume."""
    mounts = [m for m in _mounts(spec) if m["name"] != DATA_VOLUME]
    mounts.append({"name": SCRATCH_VOLUME, "mountPath": SCRATCH_MOUNT})
    return {
        **restore_container(spec),
        "name": "drill-restore",
        "args": [
            "restore",
            "-config",
            LITESTREAM_CONFIG_FILE,
            "-o",
            DRILL_DATABASE,
            DATABASE_FILE,
        ],
        "volumeMounts": mounts,
    }


def replicate_container(spec: s.KubarrInstanceSpec) -> dict[str, Any]:
    """Sidecar that ships WAL changes to the replica every sync interval. Its
    readiness is the app's view of the replication lag (``/replicationz``,
    through the pod's shared network), which the operator reads from the pod
    status as ReplicationHealthy."""
    # Limitation: an ordinary container, not a native sidecar: on shutdown it
    # gets SIGTERM with the app, and its final sync covers what the app wrote.
    container: dict[str, Any] = {
        "name": "litestream",
        "image": spec.backup.litestream.image.reference,
        "imagePullPolicy": spec.image.pull_policy,
        "args": ["replicate", "-config", LITESTREAM_CONFIG_FILE],
        "env": credential_env(spec),
        "ports": [
            {
                "name": "ls-metrics",
                "containerPort": LITESTREAM_METRICS_PORT,
                "protocol": "TCP",
            }
        ],
        "volumeMounts": _mounts(spec) + socket_mounts(spec),
        "resources": _resources(spec),
        "securityContext": container_security_context(),
    }
    if has_socket(spec):
        container["readinessProbe"] = {
            "httpGet": {"path": "/replicationz", "port": APP_PORT},
            "periodSeconds": 15,
            # One check asks Litestream's socket up to three times.
            "timeoutSeconds": 10,
            "failureThreshold": 2,
        }
    return container
