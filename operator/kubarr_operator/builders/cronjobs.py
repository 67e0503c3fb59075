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


def audit_cronjob(
    spec: s.KubarrInstanceSpec, ref: InstanceRef, version: str
) -> dict[str, Any]:
    assert spec.audit is not None
    url = f"http://{ref.client_service}.{ref.namespace}.svc:{spec.service.port}"
    container = {
        "name": "audit-prune",
        "image": f"{spec.image.repository}:{version}",
        "imagePullPolicy": spec.image.pull_policy,
        "args": [
            "audit-prune",
            "--url",
            url,
            "--retention-days",
            str(spec.audit.retention_days),
        ],
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
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": object_meta(ref, audit_cronjob_name(ref), PRUNE_COMPONENT),
        "spec": {
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
                        "spec": {
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
                        },
                    },
                },
            },
        },
    }
