"""The migration Job: restore if the database is missing, then ``kubarr migrate``.

It mounts the same ReadWriteOnce volume as the StatefulSet, so it only ever
runs while the StatefulSet is scaled to zero and its pod is gone: there is
never a second writer. Its name is derived from the target version and the
attempt number, so an operator that restarts in the middle finds the Job it
created instead of starting a second migration.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from .. import spec as s
from ..meta import DATABASE_FILE, InstanceRef, labels, object_meta
from . import litestream
from .cronjobs import app_client_pod
from .pod import (
    app_env,
    data_volumes,
    migrate_container,
    restores_automatically,
    verify_container,
)
from .security import pod_security_context

MIGRATION_COMPONENT = "migration"
BACKUP_REQUEST_ANNOTATION = "kubarr.io/backup-request"
VERSION_ANNOTATION = "kubarr.io/target-version"


def migration_job_name(ref: InstanceRef, version: str, attempt: int) -> str:
    """``<name>-migrate-<version>-<attempt>``, within the 63 characters a Job
    name may have (its pods get a label with the Job's name)."""
    readable = re.sub(r"[^a-z0-9-]", "-", version.lower()).strip("-")[:12]
    # The instance's UID is in the digest: two instances whose names share
    # their first characters never share a Job.
    digest = hashlib.sha256(f"{ref.uid}/{version}".encode()).hexdigest()[:6]
    name = f"{ref.name[:24]}-migrate-{readable}-{digest}-{attempt}"
    return re.sub(r"-+", "-", name)


@dataclass(frozen=True)
class BootstrapPlan:
    """Where the first migration Job takes a new instance's data from."""

    restore_from: tuple[s.S3Target, str] | None = None  # source and its path
    timestamp: str | None = None
    postgres: s.SecretKeyRef | None = None


def _import_container(
    spec: s.KubarrInstanceSpec, image: str, source: s.SecretKeyRef
) -> dict[str, Any]:
    """``kubarr import-postgres`` into the volume, once: it leaves an existing
    database alone, so a retried Job does not import twice."""
    env = [
        *app_env(spec),
        {
            "name": "KUBARR_IMPORT_FROM_URL",
            "valueFrom": {"secretKeyRef": {"name": source.name, "key": source.key}},
        },
    ]
    return {
        **migrate_container(spec, image),
        "name": "import-postgres",
        "args": [
            "import-postgres",
            "--to",
            f"sqlite:///{DATABASE_FILE}",
            "--if-target-missing",
        ],
        "env": env,
    }


def migration_job(
    spec: s.KubarrInstanceSpec,
    ref: InstanceRef,
    version: str,
    attempt: int,
    bootstrap: BootstrapPlan | None = None,
) -> dict[str, Any]:
    image = f"{spec.image.repository}:{version}"
    init_containers = []
    if bootstrap and bootstrap.restore_from:
        source, _ = bootstrap.restore_from
        init_containers.append(
            litestream.bootstrap_restore_container(spec, source, bootstrap.timestamp)
        )
    elif bootstrap and bootstrap.postgres:
        init_containers.append(_import_container(spec, image, bootstrap.postgres))
    elif restores_automatically(spec):
        init_containers.append(litestream.restore_container(spec))
    init_containers.append(verify_container(spec, image))
    with_config = litestream.replicates(spec) or bool(
        bootstrap and bootstrap.restore_from
    )
    job_labels = labels(ref, MIGRATION_COMPONENT, version)
    meta = object_meta(
        ref,
        migration_job_name(ref, version, attempt),
        MIGRATION_COMPONENT,
        version=version,
    )
    meta["annotations"] = {VERSION_ANNOTATION: version}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            # The operator decides about retries: a second pod of the same Job
            # would hide the first failure's message.
            "backoffLimit": 0,
            "activeDeadlineSeconds": spec.migration.active_deadline_seconds,
            "template": {
                "metadata": {"labels": job_labels},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": pod_security_context(),
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "initContainers": init_containers,
                    "containers": [migrate_container(spec, image)],
                    "volumes": data_volumes(spec, ref, with_config=with_config),
                },
            },
        },
    }


BACKUP_COMPONENT = "backup-now"


def backup_job_name(ref: InstanceRef, request: str) -> str:
    digest = hashlib.sha256(f"{ref.uid}/{request}".encode()).hexdigest()[:8]
    return f"{ref.name[:40]}-backup-{digest}"


def backup_now_job(
    spec: s.KubarrInstanceSpec, ref: InstanceRef, version: str, request: str
) -> dict[str, Any]:
    """Ask the app to have Litestream sync to the replica now and wait for it."""
    job_labels = labels(ref, BACKUP_COMPONENT)
    meta = object_meta(ref, backup_job_name(ref, request), BACKUP_COMPONENT)
    meta["annotations"] = {BACKUP_REQUEST_ANNOTATION: request[:253]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "backoffLimit": 1,
            "activeDeadlineSeconds": 300,
            "ttlSecondsAfterFinished": 86400,
            "template": {
                "metadata": {"labels": job_labels},
                "spec": app_client_pod(spec, ref, version, ["backup-now"]),
            },
        },
    }
