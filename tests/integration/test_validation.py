"""Bad KubarrInstances are refused by the API server with a message that names
the field and the fix, before the operator ever sees them."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kube_support import Cluster

pytestmark = pytest.mark.integration

S3 = {"bucket": "b", "credentialsSecretRef": {"name": "c"}}
FILE = {"path": "/r", "volume": {"persistentVolumeClaim": {"claimName": "nas"}}}

INVALID: list[tuple[str, dict[str, Any], str]] = [
    (
        "two backup targets",
        {"backup": {"s3": S3, "file": FILE}},
        "spec.backup may set s3 or file, not both",
    ),
    (
        "s3 without bucket",
        {"backup": {"s3": {"credentialsSecretRef": {"name": "c"}}}},
        "spec.backup.s3.bucket is required",
    ),
    (
        "s3 without credentials",
        {"backup": {"s3": {"bucket": "b"}}},
        "spec.backup.s3.credentialsSecretRef is required",
    ),
    ("empty image tag", {"image": {"tag": ""}}, "spec.image.tag must not be empty"),
    (
        "bad sync interval",
        {"backup": {"litestream": {"syncInterval": "1 second"}}},
        "spec.backup.litestream.syncInterval must be a duration",
    ),
    (
        "bad retention",
        {"backup": {"litestream": {"retention": "7d"}}},
        "spec.backup.litestream.retention must be a duration",
    ),
    (
        "bad cron",
        {"audit": {"schedule": "every night"}},
        "spec.audit.schedule must be a cron schedule",
    ),
    (
        "cron with four fields",
        {"audit": {"schedule": "0 3 * *"}},
        "spec.audit.schedule must be a cron schedule",
    ),
    (
        "bad storage size",
        {"storage": {"size": "lots"}},
        "spec.storage.size must be a quantity",
    ),
    ("unknown engine", {"database": {"engine": "mysql"}}, "spec.database.engine"),
    (
        "postgres without url",
        {"database": {"engine": "postgres"}},
        "spec.database.urlSecretRef is required when engine is postgres",
    ),
    (
        "min above max connections",
        {"database": {"pool": {"maxConnections": 2, "minConnections": 5}}},
        "spec.database.pool.minConnections must not exceed maxConnections",
    ),
    (
        "zero max connections",
        {"database": {"pool": {"maxConnections": 0}}},
        "spec.database.pool.maxConnections",
    ),
    (
        "unknown reclaim policy",
        {"storage": {"reclaimPolicy": "Recycle"}},
        "spec.storage.reclaimPolicy",
    ),
    (
        "bad access mode",
        {"storage": {"accessModes": ["ReadWriteSometimes"]}},
        "spec.storage.accessModes entries must be",
    ),
    (
        "endpoint without scheme",
        {"backup": {"s3": {**S3, "endpoint": "minio:9000"}}},
        "spec.backup.s3.endpoint must start with http:// or https://",
    ),
    (
        "file path with ..",
        {"backup": {"file": {**FILE, "path": "/r/../etc"}}},
        "spec.backup.file.path must be an absolute path",
    ),
    (
        "unknown litestream version",
        {"backup": {"litestream": {"version": "0.4"}}},
        "spec.backup.litestream.version",
    ),
    (
        "retention of zero days",
        {"audit": {"retentionDays": 0}},
        "spec.audit.retentionDays",
    ),
    (
        "bad resource amount",
        {"resources": {"app": {"limits": {"memory": "lots"}}}},
        "resource amounts must be quantities",
    ),
    ("service port out of range", {"service": {"port": 70000}}, "spec.service.port"),
    (
        "litestream config version unlike its image",
        {"backup": {"litestream": {"version": "0.3"}}},
        "spec.backup.litestream.version must be the major.minor",
    ),
    (
        "clone from two sources",
        {"bootstrap": {"restore": {"fromInstance": "a", "s3": S3}}},
        "spec.bootstrap.restore needs exactly one of fromInstance or s3",
    ),
    (
        "restore timestamp not RFC 3339",
        {"bootstrap": {"restore": {"fromInstance": "a", "timestamp": "yesterday"}}},
        "spec.bootstrap.restore.timestamp must be an RFC 3339 time",
    ),
    (
        "unknown recovery mode",
        {"backup": {"recovery": "Sometimes"}},
        "spec.backup.recovery",
    ),
]


@pytest.mark.parametrize(
    ("case", "spec", "message"), INVALID, ids=[c[0] for c in INVALID]
)
def test_invalid_spec_is_rejected_with_a_message_naming_the_field(
    cluster: Cluster, namespace: str, case: str, spec: dict[str, Any], message: str
) -> None:
    manifest = {
        "apiVersion": "kubarr.io/v1alpha1",
        "kind": "KubarrInstance",
        "metadata": {"name": "bad"},
        "spec": spec,
    }

    result = cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(manifest)
    )

    assert result.returncode != 0, f"{case} was accepted"
    assert message in result.stderr, result.stderr
    assert cluster.get(namespace, "kubarr", "bad") is None


def test_storage_may_grow_but_never_shrink(cluster: Cluster, namespace: str) -> None:
    def apply(size: str):
        manifest = {
            "apiVersion": "kubarr.io/v1alpha1",
            "kind": "KubarrInstance",
            "metadata": {"name": "vol"},
            "spec": {"storage": {"size": size}},
        }
        return cluster.kubectl(
            "-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(manifest)
        )

    assert apply("2Gi").returncode == 0
    assert apply("3Gi").returncode == 0

    shrink = apply("1Gi")

    assert shrink.returncode != 0
    assert "spec.storage.size may grow but never shrink" in shrink.stderr
    assert cluster.instance(namespace, "vol")["spec"]["storage"]["size"] == "3Gi"
