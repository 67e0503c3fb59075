"""Data safety and honest status in the corners a new user walks into: a
changed reclaim policy, look-alike names, objects that already exist, a
replica pointed at a database volume, a StatefulSet scaled by hand during a
migration, tags and values only the API server would refuse."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import yaml
from kube_support import REPO, Cluster, instance, utc_now, wait_for

pytestmark = pytest.mark.integration


def owner_of(cluster: Cluster, ns: str, kind: str, name: str) -> str | None:
    found = cluster.get(ns, kind, name)
    assert found is not None, f"{kind} {name} is gone"
    owners = found["metadata"].get("ownerReferences") or []
    return owners[0]["name"] if owners else None


def test_switching_the_reclaim_policy_moves_the_volume_owner_both_ways(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("d2r", {"storage": {"reclaimPolicy": "Delete"}}))
    cluster.apply(namespace, instance("r2d", {"storage": {"reclaimPolicy": "Retain"}}))
    cluster.wait_ready(namespace, "d2r")
    cluster.wait_ready(namespace, "r2d")
    assert owner_of(cluster, namespace, "pvc", "d2r-data") == "d2r"
    assert owner_of(cluster, namespace, "pvc", "r2d-data") is None

    cluster.apply(namespace, instance("d2r", {"storage": {"reclaimPolicy": "Retain"}}))
    cluster.apply(namespace, instance("r2d", {"storage": {"reclaimPolicy": "Delete"}}))

    wait_for(
        lambda: owner_of(cluster, namespace, "pvc", "d2r-data") is None,
        30,
        what="d2r's volume to lose its owner",
    )
    wait_for(
        lambda: owner_of(cluster, namespace, "pvc", "r2d-data") == "r2d",
        30,
        what="r2d's volume to gain its owner",
    )
    cluster.ok(
        "-n", namespace, "delete", "kubarr", "d2r", "--wait=true", "--timeout=120s"
    )
    wait_for(
        lambda: cluster.get(namespace, "statefulset", "d2r") is None,
        120,
        what="d2r's StatefulSet to be collected",
    )
    time.sleep(3)
    assert cluster.get(namespace, "pvc", "d2r-data") is not None


def test_instances_whose_names_share_a_long_prefix_get_their_own_jobs(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    names = ["homelab-kubarr-instance-prod", "homelab-kubarr-instance-test"]
    for name in names:
        cluster.apply(namespace, instance(name))
    for name in names:
        cluster.wait_ready(namespace, name)

    for name in names:
        jobs = json.loads(
            cluster.ok(
                "-n",
                namespace,
                "get",
                "jobs",
                "-o",
                "json",
                "-l",
                f"app.kubernetes.io/instance={name}",
            )
        )["items"]
        assert len(jobs) == 1, name
        volumes = jobs[0]["spec"]["template"]["spec"]["volumes"]
        claims = [
            v["persistentVolumeClaim"]["claimName"]
            for v in volumes
            if "persistentVolumeClaim" in v
        ]
        assert claims == [f"{name}-data"]
        assert jobs[0]["metadata"]["ownerReferences"][0]["name"] == name


def test_an_existing_object_of_the_same_name_is_not_taken_over(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.ok(
        "-n", namespace, "create", "service", "clusterip", "victim", "--tcp=80:8080"
    )
    before = cluster.get(namespace, "service", "victim")
    assert before is not None

    cluster.apply(namespace, instance("victim"))

    stalled = cluster.wait_condition(namespace, "victim", "Stalled")
    assert stalled["reason"] == "NameConflict"
    assert f"Service {namespace}/victim already exists" in stalled["message"]
    after = cluster.get(namespace, "service", "victim")
    assert after is not None
    assert after["spec"]["selector"] == before["spec"]["selector"]
    assert not after["metadata"].get("ownerReferences")
    assert cluster.get(namespace, "pvc", "victim-data") is None


def test_a_file_replica_on_a_database_volume_is_refused(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("keep"))
    cluster.wait_ready(namespace, "keep")

    file_target = {
        "path": "/replica",
        "volume": {"persistentVolumeClaim": {"claimName": "keep-data"}},
    }
    cluster.apply(namespace, instance("thief", {"backup": {"file": file_target}}))

    stalled = cluster.wait_condition(namespace, "thief", "Stalled")
    assert stalled["reason"] == "ReplicaVolumeInUse"
    assert "holds the database of instance keep" in stalled["message"]
    assert cluster.get(namespace, "statefulset", "thief") is None


def test_the_file_replica_example_is_stable_across_resyncs(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.ok(
        "-n", namespace, "apply", "-f", str(REPO / "examples" / "file-replica.yaml")
    )
    cluster.wait_ready(namespace, "kubarr-file")
    time.sleep(2)
    since = utc_now()

    time.sleep(12)  # two resync periods of the test operator

    assert cluster.writes_by_operator(namespace, since) == []


def test_a_statefulset_scaled_up_during_a_migration_is_fenced_again(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("held", {"image": {"tag": "1.0.0"}}))
    cluster.wait_ready(namespace, "held")
    cluster.ok("cordon", "kwok-node-0")  # the Job's pod stays Pending: it runs on
    try:
        cluster.ok(
            "-n",
            namespace,
            "patch",
            "kubarr",
            "held",
            "--type=merge",
            "-p",
            '{"spec":{"image":{"tag":"1.1.0"}}}',
        )
        cluster.wait_status(namespace, "held", "migration", "state", equals="Running")

        cluster.ok("-n", namespace, "scale", "statefulset", "held", "--replicas=1")

        wait_for(
            lambda: (
                cluster.get(namespace, "statefulset", "held")["spec"]["replicas"] == 0
            ),
            30,
            what="the StatefulSet to be fenced again",
        )
        events = cluster.ok(
            "-n",
            namespace,
            "get",
            "events",
            "--field-selector",
            "reason=FencedAgain",
            "-o",
            "name",
        )
        assert events.strip()
    finally:
        cluster.ok("uncordon", "kwok-node-0")
    body = wait_for(
        lambda: (
            (b := cluster.instance(namespace, "held"))["status"].get("version")
            == "1.1.0"
            and b["status"].get("phase") == "Ready"
            and b
        ),
        120,
        what="Ready on 1.1.0",
    )
    assert body["status"]["migration"]["state"] == "Succeeded"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"image": {"tag": "0.4.0+hotfix"}}, "spec.image.tag must be an image tag"),
        ({"image": {"tag": "0.1.0 rc"}}, "spec.image.tag must be an image tag"),
        ({"storage": {"size": "-1Gi"}}, "spec.storage.size must be at least 16Mi"),
        (
            {"storage": {"accessModes": ["ReadOnlyMany"]}},
            "spec.storage.accessModes entries must be",
        ),
        (
            {
                "backup": {
                    "s3": {
                        "bucket": "Bad_Bucket Name",
                        "credentialsSecretRef": {"name": "c"},
                    }
                }
            },
            "spec.backup.s3.bucket must be an S3 bucket name",
        ),
        (
            {
                "backup": {
                    "s3": {
                        "bucket": "ok-bucket",
                        "path": "/",
                        "credentialsSecretRef": {"name": "c"},
                    }
                }
            },
            "spec.backup.s3.path must name a folder",
        ),
    ],
    ids=[
        "tag-plus",
        "tag-space",
        "negative-size",
        "read-only-volume",
        "bucket",
        "bucket-root",
    ],
)
def test_values_kubernetes_or_s3_would_refuse_are_refused_up_front(
    cluster: Cluster, namespace: str, spec: dict[str, Any], message: str
) -> None:
    result = cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(instance("bad", spec))
    )

    assert result.returncode != 0
    assert message in result.stderr, result.stderr


def test_a_name_too_long_for_its_children_is_refused(
    cluster: Cluster, namespace: str
) -> None:
    result = cluster.kubectl(
        "-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(instance("k" * 41))
    )

    assert result.returncode != 0
    assert "metadata.name must start with a letter" in result.stderr


def test_a_tag_that_is_no_label_value_still_upgrades(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("odd", {"image": {"tag": "1.0.0_"}}))

    body = cluster.wait_ready(namespace, "odd")

    assert body["status"]["version"] == "1.0.0_"
    sts = cluster.get(namespace, "statefulset", "odd")
    assert sts["metadata"]["labels"]["app.kubernetes.io/version"] == "1.0.0"


def test_a_child_the_api_server_refuses_stalls_the_instance_with_its_message(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("late", {"audit": {"schedule": "99 99 * * *"}}))

    stalled = cluster.wait_condition(namespace, "late", "Stalled", timeout=90)

    assert stalled["reason"] == "Rejected"
    assert "CronJob late-audit-prune" in stalled["message"]
    events = cluster.ok(
        "-n",
        namespace,
        "get",
        "events",
        "--field-selector",
        "reason=Rejected",
        "-o",
        "name",
    )
    assert events.strip()


def test_switching_features_off_removes_their_conditions_and_hibernation_pauses_pruning(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("feat", {"audit": {}}))
    cluster.wait_ready(namespace, "feat")
    cluster.wait_condition(namespace, "feat", "AuditRetention", status="Unknown")

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "feat",
        "--type=merge",
        "-p",
        '{"spec":{"hibernate":true}}',
    )
    wait_for(
        lambda: (
            cluster.get(namespace, "cronjob", "feat-audit-prune")["spec"].get("suspend")
            is True
        ),
        30,
        what="the CronJob to be suspended",
    )

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "feat",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/audit"}]',
    )
    wait_for(
        lambda: cluster.condition(namespace, "feat", "AuditRetention") is None,
        30,
        what="AuditRetention to go",
    )
