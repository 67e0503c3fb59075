"""The audit retention CronJob: it asks the running app to prune its audit log.

It never mounts the database volume: a second process must not write the
SQLite file, so the CronJob calls the app's authenticated prune endpoint
through the client Service with the operator-generated admin token, and the
app deletes in batches. The result (one JSON line) becomes the pod's
termination message, which the operator copies into the instance's status.
"""

from __future__ import annotations

from typing import Any

from .. import spec as s
from ..meta import InstanceRef, labels, object_meta
from . import litestream
from .pod import (
    ADMIN_TOKEN_DIR,
    ADMIN_TOKEN_FILE,
    ADMIN_TOKEN_VOLUME,
    admin_token_secret_name,
)
from .security import container_security_context, pod_security_context

PRUNE_COMPONENT = "audit-prune"


def audit_cronjob_name(ref: InstanceRef) -> str:
    return f"{ref.name}-audit-prune"


def app_client_pod(
    spec: s.KubarrInstanceSpec, ref: InstanceRef, version: str, args: list[str]
) -> dict[str, Any]:
    """A pod that calls the running app through its Service with the admin
    token (audit prune, backup now): no database volume, ever."""
    url = f"http://{ref.client_service}.{ref.namespace}.svc:{spec.service.port}"
    container = {
        "name": args[0],
        "image": f"{spec.image.repository}:{version}",
        "imagePullPolicy": spec.image.pull_policy,
        "args": [args[0], "--url", url, *args[1:]],
        "env": [{"name": "KUBARR_ADMIN_TOKEN_FILE", "value": ADMIN_TOKEN_FILE}],
        "volumeMounts": [
            {"name": ADMIN_TOKEN_VOLUME, "mountPath": ADMIN_TOKEN_DIR, "readOnly": True}
        ],
        "resources": {
            "requests": {"cpu": "10m", "memory": "64Mi"},
            "limits": {"memory": "128Mi"},
        },
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    return {
        "restartPolicy": "Never",
        "securityContext": pod_security_context(),
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "containers": [container],
        "volumes": [
            {
                "name": ADMIN_TOKEN_VOLUME,
                "secret": {
                    "secretName": admin_token_secret_name(ref),
                    "defaultMode": 0o440,
                },
            }
        ],
    }


def audit_cronjob(
    spec: s.KubarrInstanceSpec, ref: InstanceRef, version: str
) -> dict[str, Any]:
    assert spec.audit is not None
    args = ["audit-prune", "--retention-days", str(spec.audit.retention_days)]
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": object_meta(ref, audit_cronjob_name(ref), PRUNE_COMPONENT),
        "spec": {
            # A hibernated instance has no app to call.
            "suspend": spec.hibernate,
            "schedule": spec.audit.schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 600,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": labels(ref, PRUNE_COMPONENT)},
                "spec": {
                    "backoffLimit": 2,
                    "activeDeadlineSeconds": 600,
                    "template": {
                        "metadata": {"labels": labels(ref, PRUNE_COMPONENT)},
                        "spec": app_client_pod(spec, ref, version, args),
                    },
                },
            },
        },
    }


DRILL_COMPONENT = "restore-drill"


def restore_drill_cronjob_name(ref: InstanceRef) -> str:
    return f"{ref.name}-restore-drill"


def restore_drill_cronjob(
    spec: s.KubarrInstanceSpec, ref: InstanceRef, version: str
) -> dict[str, Any]:
    """Restore the latest replica into scratch space and check it: proof that
    the backup can be restored, without touching the instance's volume."""
    assert spec.backup.drill is not None
    verify = {
        "name": "verify",
        "image": f"{spec.image.repository}:{version}",
        "imagePullPolicy": spec.image.pull_policy,
        "args": ["verify-db", "--path", litestream.DRILL_DATABASE],
        "volumeMounts": [
            {"name": litestream.SCRATCH_VOLUME, "mountPath": litestream.SCRATCH_MOUNT}
        ],
        "resources": {
            "requests": {"cpu": "10m", "memory": "64Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": container_security_context(),
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    volumes: list[dict[str, Any]] = [
        {
            "name": litestream.CONFIG_VOLUME,
            "configMap": {"name": ref.litestream_config},
        },
        {"name": litestream.TMP_VOLUME, "emptyDir": {"sizeLimit": "64Mi"}},
        # Room for a full copy of the database.
        {
            "name": litestream.SCRATCH_VOLUME,
            "emptyDir": {"sizeLimit": spec.storage.size},
        },
    ]
    if spec.backup.file:
        claim = spec.backup.file.volume.persistent_volume_claim.claim_name
        volumes.append(
            {
                "name": litestream.FILE_REPLICA_VOLUME,
                "persistentVolumeClaim": {"claimName": claim, "readOnly": True},
            }
        )
    pod_labels = labels(ref, DRILL_COMPONENT)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": object_meta(ref, restore_drill_cronjob_name(ref), DRILL_COMPONENT),
        "spec": {
            "schedule": spec.backup.drill.schedule,
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": 3600,
            "successfulJobsHistoryLimit": 1,
            "failedJobsHistoryLimit": 3,
            "jobTemplate": {
                "metadata": {"labels": pod_labels},
                "spec": {
                    "backoffLimit": 0,
                    "activeDeadlineSeconds": 3600,
                    "template": {
                        "metadata": {"labels": pod_labels},
                        "spec": {
                            "restartPolicy": "Never",
                            "securityContext": pod_security_context(),
                            "automountServiceAccountToken": False,
                            "enableServiceLinks": False,
                            "initContainers": [
                                litestream.drill_restore_container(spec)
                            ],
                            "containers": [verify],
                            "volumes": volumes,
                        },
                    },
                },
            },
        },
    }
