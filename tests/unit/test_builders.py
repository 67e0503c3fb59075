"""The pure builders: what an instance's children look like for a given spec."""

from __future__ import annotations

from typing import Any

import yaml
from kubarr_operator import spec as s
from kubarr_operator.builders import base_children
from kubarr_operator.builders.litestream import render_config
from kubarr_operator.builders.statefulset import TERMINATION_GRACE_SECONDS, statefulset
from kubarr_operator.meta import InstanceRef

REF = InstanceRef(namespace="home", name="kubarr", uid="uid-1", generation=3)


def desired_children(
    spec: s.KubarrInstanceSpec, ref: InstanceRef, secrets_version: str = ""
) -> list[dict[str, Any]]:
    """Everything a running instance has: the base children and its StatefulSet."""
    return [*base_children(spec, ref), statefulset(spec, ref, secrets_version)]


def s3_spec(**litestream: Any) -> s.KubarrInstanceSpec:
    return s.KubarrInstanceSpec.model_validate(
        {
            "image": {"tag": "1.2.3"},
            "backup": {
                "s3": {
                    "bucket": "bkt",
                    "endpoint": "http://minio:9000",
                    "credentialsSecretRef": {"name": "creds"},
                },
                "litestream": litestream,
            },
        }
    )


def by_kind(children: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{c['kind']}/{c['metadata']['name']}": c for c in children}


def test_minimal_instance_has_claim_services_and_statefulset_but_no_litestream():
    children = by_kind(desired_children(s.KubarrInstanceSpec(), REF))

    assert set(children) == {
        "PersistentVolumeClaim/kubarr-data",
        "Service/kubarr-headless",
        "Service/kubarr",
        "StatefulSet/kubarr",
    }
    pod = children["StatefulSet/kubarr"]["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["kubarr"]
    assert [c["name"] for c in pod["initContainers"]] == ["migrate"]


def test_s3_instance_restores_before_migrating_and_replicates_beside_the_app():
    children = by_kind(desired_children(s3_spec(), REF, "creds:42"))
    sts = children["StatefulSet/kubarr"]
    pod = sts["spec"]["template"]["spec"]

    assert sts["spec"]["replicas"] == 1
    assert [c["name"] for c in pod["initContainers"]] == [
        "litestream-restore",
        "migrate",
    ]
    assert [c["name"] for c in pod["containers"]] == ["kubarr", "litestream"]
    restore = pod["initContainers"][0]
    assert restore["args"] == [
        "restore",
        "-config",
        "/etc/litestream/litestream.yml",
        "-if-db-not-exists",
        "-if-replica-exists",
        "/data/kubarr.db",
    ]
    assert restore["env"] == [
        {
            "name": "LITESTREAM_ACCESS_KEY_ID",
            "valueFrom": {
                "secretKeyRef": {"name": "creds", "key": "AWS_ACCESS_KEY_ID"}
            },
        },
        {
            "name": "LITESTREAM_SECRET_ACCESS_KEY",
            "valueFrom": {
                "secretKeyRef": {"name": "creds", "key": "AWS_SECRET_ACCESS_KEY"}
            },
        },
    ]
    assert pod["containers"][1]["env"] == restore["env"]
    assert (
        sts["spec"]["template"]["metadata"]["annotations"]["kubarr.io/secrets-version"]
        == "creds:42"
    )
    assert "ConfigMap/kubarr-litestream" in children


def test_pod_runs_non_root_with_read_only_root_and_no_capabilities():
    pod = by_kind(desired_children(s3_spec(), REF))["StatefulSet/kubarr"]["spec"][
        "template"
    ]["spec"]

    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    for container in pod["containers"] + pod["initContainers"]:
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True, container["name"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert pod["terminationGracePeriodSeconds"] == TERMINATION_GRACE_SECONDS > 30


def test_app_container_gets_pool_cache_and_retention_settings_from_the_spec():
    spec = s.KubarrInstanceSpec.model_validate(
        {
            "database": {"pool": {"maxConnections": 9, "minConnections": 2}},
            "cache": {"endpointTtlSeconds": 120, "maxEntries": 50},
            "audit": {"retentionDays": 30},
        }
    )
    app = by_kind(desired_children(spec, REF))["StatefulSet/kubarr"]["spec"][
        "template"
    ]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in app["env"]}

    assert env["DATABASE_URL"] == "sqlite:////data/kubarr.db"
    assert env["KUBARR_DB_MAX_CONNECTIONS"] == "9"
    assert env["KUBARR_DB_MIN_CONNECTIONS"] == "2"
    assert env["KUBARR_CACHE_ENDPOINT_TTL_SECONDS"] == "120"
    assert env["KUBARR_CACHE_MAX_ENTRIES"] == "50"
    assert env["KUBARR_AUDIT_RETENTION_DAYS"] == "30"
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert app["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_postgres_engine_reads_the_url_from_the_secret_and_runs_no_litestream():
    spec = s.KubarrInstanceSpec.model_validate(
        {
            "database": {
                "engine": "postgres",
                "urlSecretRef": {"name": "pg", "key": "url"},
            },
            "backup": {"s3": {"bucket": "b", "credentialsSecretRef": {"name": "c"}}},
        }
    )
    children = by_kind(desired_children(spec, REF))
    pod = children["StatefulSet/kubarr"]["spec"]["template"]["spec"]

    assert "ConfigMap/kubarr-litestream" not in children
    assert [c["name"] for c in pod["containers"]] == ["kubarr"]
    url = pod["containers"][0]["env"][0]
    assert url == {
        "name": "DATABASE_URL",
        "valueFrom": {"secretKeyRef": {"name": "pg", "key": "url"}},
    }


def test_retained_claim_has_no_owner_so_it_outlives_the_instance():
    retained = by_kind(desired_children(s.KubarrInstanceSpec(), REF))[
        "PersistentVolumeClaim/kubarr-data"
    ]
    deleted = by_kind(
        desired_children(
            s.KubarrInstanceSpec.model_validate(
                {"storage": {"reclaimPolicy": "Delete"}}
            ),
            REF,
        )
    )["PersistentVolumeClaim/kubarr-data"]

    assert "ownerReferences" not in retained["metadata"]
    assert deleted["metadata"]["ownerReferences"][0]["uid"] == "uid-1"


def test_every_child_carries_the_standard_labels_and_owned_ones_an_owner():
    for child in desired_children(s3_spec(), REF):
        labels = child["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "kubarr"
        assert labels["app.kubernetes.io/instance"] == "kubarr"
        assert labels["app.kubernetes.io/managed-by"] == "kubarr-operator"
        if child["kind"] != "PersistentVolumeClaim":
            owner = child["metadata"]["ownerReferences"][0]
            assert (owner["kind"], owner["uid"], owner["controller"]) == (
                "KubarrInstance",
                "uid-1",
                True,
            )


def test_litestream_05_config_has_one_replica_and_global_snapshot_settings():
    config = yaml.safe_load(
        render_config(
            s3_spec(syncInterval="2s", snapshotInterval="3h", retention="48h"), REF
        )
    )

    assert config["snapshot"] == {"interval": "3h", "retention": "48h"}
    (db,) = config["dbs"]
    assert db["path"] == "/data/kubarr.db"
    assert db["replica"] == {
        "type": "s3",
        "bucket": "bkt",
        "path": "home/kubarr",
        "endpoint": "http://minio:9000",
        "sync-interval": "2s",
    }


def test_litestream_03_config_has_a_replicas_list_with_per_replica_retention():
    config = yaml.safe_load(
        render_config(
            s3_spec(version="0.3", retention="12h", image={"tag": "0.3.13"}), REF
        )
    )

    assert "snapshot" not in config
    (replica,) = config["dbs"][0]["replicas"]
    assert replica["retention"] == "12h"
    assert replica["snapshot-interval"] == "1h"
    assert replica["path"] == "home/kubarr"


def test_rendered_config_never_contains_a_secret_reference_or_key():
    rendered = render_config(s3_spec(), REF)

    assert "creds" not in rendered
    assert "access-key" not in rendered and "secret" not in rendered.lower()


def test_changing_the_litestream_config_changes_the_pod_checksum():
    def checksum(spec: s.KubarrInstanceSpec) -> str:
        sts = by_kind(desired_children(spec, REF))["StatefulSet/kubarr"]
        return sts["spec"]["template"]["metadata"]["annotations"][
            "kubarr.io/config-checksum"
        ]

    assert checksum(s3_spec(syncInterval="1s")) != checksum(s3_spec(syncInterval="5s"))
    assert checksum(s3_spec()) == checksum(s3_spec())


def test_file_replica_mounts_the_named_claim_under_the_replica_path():
    spec = s.KubarrInstanceSpec.model_validate(
        {
            "backup": {
                "file": {
                    "path": "/kubarr",
                    "volume": {"persistentVolumeClaim": {"claimName": "nas"}},
                }
            }
        }
    )
    children = by_kind(desired_children(spec, REF))
    pod = children["StatefulSet/kubarr"]["spec"]["template"]["spec"]
    config = yaml.safe_load(
        children["ConfigMap/kubarr-litestream"]["data"]["litestream.yml"]
    )

    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["file-replica"]["persistentVolumeClaim"] == {"claimName": "nas"}
    assert config["dbs"][0]["replica"]["path"] == "/replica/kubarr"
    sidecar = pod["containers"][1]
    assert {"name": "file-replica", "mountPath": "/replica"} in sidecar["volumeMounts"]
