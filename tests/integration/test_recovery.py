"""Recovery on the local control plane: one writer per replica, clones and
point-in-time restores into new instances, the PostgreSQL import as a
bootstrap, and the scheduled restore drill. The restores themselves run with
the real Litestream in tests/durability; here the operator's side is checked:
what it builds, in what order, and what status says."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from kube_support import Cluster, instance, wait_for

pytestmark = pytest.mark.integration

ENDPOINT = "http://127.0.0.1:9"  # nothing listens; nothing here connects to it
KEY_ID = "AKIATESTKEYIDVALUE01"
SECRET_KEY = "testSecretAccessKeyValue/0123456789abcd"


def s3(path: str | None = None) -> dict[str, Any]:
    target: dict[str, Any] = {
        "bucket": "kubarr",
        "endpoint": ENDPOINT,
        "credentialsSecretRef": {"name": "s3-creds"},
    }
    if path:
        target["path"] = path
    return target


def secrets(cluster: Cluster, ns: str) -> None:
    docs = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "s3-creds"},
            "stringData": {
                "AWS_ACCESS_KEY_ID": KEY_ID,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "pg-source"},
            "stringData": {"url": "postgresql://kubarr:pw@127.0.0.1:1/kubarr"},
        },
    ]
    cluster.ok("-n", ns, "apply", "-f", "-", input=yaml.safe_dump_all(docs))


def first_job(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    listed = json.loads(
        cluster.ok(
            "-n",
            ns,
            "get",
            "jobs",
            "-o",
            "json",
            "-l",
            f"app.kubernetes.io/instance={name},app.kubernetes.io/component=migration",
        )
    )["items"]
    assert len(listed) == 1, [j["metadata"]["name"] for j in listed]
    return listed[0]


def test_a_second_instance_on_the_same_replica_path_is_refused(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    secrets(cluster, namespace)
    cluster.apply(namespace, instance("owner", {"backup": {"s3": s3("shared/db")}}))
    cluster.wait_ready(namespace, "owner")

    cluster.apply(namespace, instance("intruder", {"backup": {"s3": s3("shared/db")}}))

    stalled = wait_for(
        lambda: (
            (c := cluster.condition(namespace, "intruder", "Stalled"))
            and c["status"] == "True"
            and c
        ),
        30,
        what="the second instance to be refused",
    )
    assert stalled["reason"] == "ReplicaInUse"
    assert f"already the replica of {namespace}/owner" in stalled["message"]
    assert cluster.get(namespace, "statefulset", "intruder") is None
    assert cluster.get(namespace, "pvc", "intruder-data") is None
    assert cluster.instance(namespace, "owner")["status"]["phase"] == "Ready"

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "intruder",
        "--type=merge",
        "-p",
        json.dumps({"spec": {"backup": {"s3": {"path": "own/db"}}}}),
    )
    cluster.wait_ready(namespace, "intruder")


def test_a_clone_restores_another_instances_replica_as_of_a_moment(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    secrets(cluster, namespace)
    cluster.apply(namespace, instance("source", {"backup": {"s3": s3()}}))
    cluster.wait_ready(namespace, "source")

    moment = "2026-12-04T10:00:00Z"
    cluster.apply(
        namespace,
        instance(
            "copy",
            {
                "backup": {"s3": s3()},
                "bootstrap": {
                    "restore": {"fromInstance": "source", "timestamp": moment}
                },
            },
        ),
    )
    body = cluster.wait_ready(namespace, "copy")

    config = cluster.get(namespace, "configmap", "copy-litestream")
    assert config is not None
    restore = yaml.safe_load(config["data"]["restore.yml"])
    assert restore["dbs"][0]["replica"]["path"] == f"{namespace}/source"
    own = yaml.safe_load(config["data"]["litestream.yml"])
    assert own["dbs"][0]["replica"]["path"] == f"{namespace}/copy"

    pod = first_job(cluster, namespace, "copy")["spec"]["template"]["spec"]
    names = [c["name"] for c in pod["initContainers"]]
    assert names == ["bootstrap-restore", "verify"]
    args = pod["initContainers"][0]["args"]
    assert args == [
        "restore",
        "-config",
        "/etc/litestream/restore.yml",
        "-if-db-not-exists",
        "-timestamp",
        moment,
        "/data/kubarr.db",
    ]
    assert pod["initContainers"][1]["args"] == ["verify-db"]

    bootstrap = body["status"]["bootstrap"]
    assert bootstrap["method"] == "clone"
    assert bootstrap["source"] == f"s3://kubarr/{namespace}/source"
    assert bootstrap["timestamp"] == moment
    assert bootstrap["verification"] == "integrity ok, 7 rows in 2 tables"
    assert bootstrap["completedAt"]


def test_a_clone_of_a_missing_instance_is_stalled_with_the_fix(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(
        namespace,
        instance(
            "orphan",
            {
                "bootstrap": {"restore": {"fromInstance": "nowhere"}},
            },
        ),
    )

    stalled = wait_for(
        lambda: (
            (c := cluster.condition(namespace, "orphan", "Stalled"))
            and c["status"] == "True"
            and c
        ),
        30,
        what="Stalled",
    )
    assert stalled["reason"] == "RestoreSourceNotFound"
    assert "fromInstance names nowhere" in stalled["message"]
    assert cluster.get(namespace, "pvc", "orphan-data") is None


def test_bootstrap_from_postgres_imports_before_the_first_migration(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    secrets(cluster, namespace)
    cluster.apply(
        namespace,
        instance(
            "moved",
            {
                "bootstrap": {
                    "fromPostgres": {
                        "urlSecretRef": {"name": "pg-source", "key": "url"}
                    }
                },
            },
        ),
    )
    body = cluster.wait_ready(namespace, "moved")

    pod = first_job(cluster, namespace, "moved")["spec"]["template"]["spec"]
    importer = pod["initContainers"][0]
    assert importer["name"] == "import-postgres"
    assert importer["args"] == [
        "import-postgres",
        "--to",
        "sqlite:////data/kubarr.db",
        "--if-target-missing",
    ]
    source = {e["name"]: e for e in importer["env"]}["KUBARR_IMPORT_FROM_URL"]
    assert source["valueFrom"]["secretKeyRef"] == {"name": "pg-source", "key": "url"}
    assert body["status"]["bootstrap"]["method"] == "postgres"
    assert "postgresql" not in json.dumps(body["status"])  # the URL stays secret


def test_bootstrap_cannot_change_after_creation(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    secrets(cluster, namespace)
    spec = {
        "bootstrap": {
            "fromPostgres": {"urlSecretRef": {"name": "pg-source", "key": "url"}}
        }
    }
    cluster.apply(namespace, instance("fixed", spec))

    changed = cluster.kubectl(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "fixed",
        "--type=merge",
        "-p",
        '{"spec":{"bootstrap":{"fromPostgres":{"urlSecretRef":{"key":"other"}}}}}',
    )

    assert changed.returncode != 0
    assert (
        "spec.bootstrap cannot change after the instance is created" in changed.stderr
    )


def test_the_restore_drill_restores_into_scratch_space_and_reports(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    secrets(cluster, namespace)
    cluster.apply(
        namespace,
        instance(
            "drilled",
            {
                "backup": {"s3": s3(), "drill": {"schedule": "@weekly"}},
            },
        ),
    )
    cluster.wait_ready(namespace, "drilled")
    cron = wait_for(
        lambda: cluster.get(namespace, "cronjob", "drilled-restore-drill"),
        30,
        what="the drill CronJob",
    )

    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert cron["spec"]["schedule"] == "@weekly"
    assert [v for v in pod["volumes"] if "persistentVolumeClaim" in v] == []
    restore = pod["initContainers"][0]
    assert restore["args"] == [
        "restore",
        "-config",
        "/etc/litestream/litestream.yml",
        "-o",
        "/scratch/drill.db",
        "/data/kubarr.db",
    ]
    assert pod["containers"][0]["args"] == ["verify-db", "--path", "/scratch/drill.db"]

    cluster.ok(
        "-n",
        namespace,
        "create",
        "job",
        "--from=cronjob/drilled-restore-drill",
        "drill-now",
    )

    drill = cluster.wait_status(namespace, "drilled", "lastRestoreDrill")
    assert drill["job"] == "drill-now"
    assert drill["succeeded"] is True
    assert (drill["integrity"], drill["tables"], drill["rows"]) == ("ok", 2, 7)
    condition = cluster.condition(namespace, "drilled", "RestoreDrill")
    assert condition is not None and condition["status"] == "True"


def boto_client(endpoint: str) -> Any:
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET_KEY,
    )


def test_backup_healthy_reports_a_reachable_bucket_and_a_missing_one(
    cluster: Cluster, operator: Any, namespace: str, s3_endpoint: str
) -> None:
    secrets(cluster, namespace)
    boto_client(s3_endpoint).create_bucket(Bucket=f"ok-{namespace}")
    good = {**s3(), "endpoint": s3_endpoint, "bucket": f"ok-{namespace}"}
    bad = {**s3(), "endpoint": s3_endpoint, "bucket": f"gone-{namespace}"}
    cluster.apply(namespace, instance("good", {"backup": {"s3": good}}))
    cluster.apply(namespace, instance("bad", {"backup": {"s3": bad}}))

    healthy = wait_for(
        lambda: cluster.condition(namespace, "good", "BackupHealthy"),
        60,
        what="BackupHealthy on good",
    )
    unhealthy = wait_for(
        lambda: cluster.condition(namespace, "bad", "BackupHealthy"),
        60,
        what="BackupHealthy on bad",
    )

    assert (healthy["status"], healthy["reason"]) == ("True", "Reachable")
    assert (unhealthy["status"], unhealthy["reason"]) == ("False", "NoSuchBucket")
    assert f"gone-{namespace}" in unhealthy["message"]
    shown = json.dumps(
        [cluster.instance(namespace, n)["status"] for n in ("good", "bad")]
    )
    shown += cluster.ok("-n", namespace, "get", "events", "-o", "json")
    shown += cluster.ok("-n", namespace, "get", "configmaps", "-o", "json")
    assert KEY_ID not in shown and SECRET_KEY not in shown


def test_manual_recovery_refuses_a_new_volume_beside_a_replica_with_data(
    cluster: Cluster, operator: Any, namespace: str, s3_endpoint: str
) -> None:
    secrets(cluster, namespace)
    bucket = f"man-{namespace}"
    client = boto_client(s3_endpoint)
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key=f"{namespace}/careful/0000.ltx", Body=b"x")
    target = {**s3(), "endpoint": s3_endpoint, "bucket": bucket}

    cluster.apply(
        namespace,
        instance(
            "careful",
            {
                "backup": {"s3": target, "recovery": "Manual"},
            },
        ),
    )

    stalled = wait_for(
        lambda: (
            (c := cluster.condition(namespace, "careful", "Stalled"))
            and c["status"] == "True"
            and c
        ),
        60,
        what="Stalled",
    )
    assert stalled["reason"] == "ReplicaHoldsData"
    assert "set it to Automatic to restore the replica" in stalled["message"]
    assert cluster.get(namespace, "pvc", "careful-data") is None

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "careful",
        "--type=merge",
        "-p",
        '{"spec":{"backup":{"recovery":"Automatic"}}}',
    )
    cluster.wait_ready(namespace, "careful")
    pod = first_job(cluster, namespace, "careful")["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == [
        "litestream-restore",
        "verify",
    ]


def test_backup_now_runs_a_job_that_asks_the_app_and_records_the_result(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    secrets(cluster, namespace)
    cluster.apply(namespace, instance("saved", {"backup": {"s3": s3()}}))
    cluster.wait_ready(namespace, "saved")

    cluster.ok(
        "-n",
        namespace,
        "annotate",
        "kubarr",
        "saved",
        "kubarr.io/backup-now=before-upgrade",
    )

    backup = cluster.wait_status(namespace, "saved", "lastBackup")
    assert backup["request"] == "before-upgrade"
    assert backup["succeeded"] is True
    job = cluster.get(namespace, "job", backup["job"])
    assert job is not None
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["args"] == [
        "backup-now",
        "--url",
        f"http://saved.{namespace}.svc:8000",
    ]
    assert [v for v in pod["volumes"] if "persistentVolumeClaim" in v] == []


def test_replication_health_comes_from_the_sidecar_readiness(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    secrets(cluster, namespace)
    cluster.apply(namespace, instance("synced", {"backup": {"s3": s3()}}))
    cluster.wait_ready(namespace, "synced")

    healthy = cluster.wait_condition(namespace, "synced", "ReplicationHealthy")

    assert healthy["reason"] == "InSync"
    sts = cluster.get(namespace, "statefulset", "synced")
    assert sts is not None
    sidecar = sts["spec"]["template"]["spec"]["containers"][1]
    assert sidecar["readinessProbe"]["httpGet"] == {
        "path": "/replicationz",
        "port": 8000,
        "scheme": "HTTP",
    }
    app_env = {
        e["name"]: e.get("value")
        for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert app_env["KUBARR_LITESTREAM_SOCKET"] == "/var/run/litestream/litestream.sock"
    assert app_env["KUBARR_REPLICATION_MAX_LAG_SECONDS"] == "30"
