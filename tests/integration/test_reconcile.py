"""The operator reconciling KubarrInstances on a real API server (KWOK plays the
kubelet: pods turn Ready, no container runs)."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_support import REPO, Cluster, instance, utc_now, wait_for

pytestmark = pytest.mark.integration


def s3_secret(name: str = "s3-creds") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {
            "AWS_ACCESS_KEY_ID": "test-id",
            "AWS_SECRET_ACCESS_KEY": "test-key",
        },
    }


def s3_spec(secret: str = "s3-creds") -> dict[str, Any]:
    return {
        "backup": {
            "s3": {
                "bucket": "kubarr",
                "endpoint": "http://127.0.0.1:9",
                "credentialsSecretRef": {"name": secret},
            }
        }
    }


def pod_spec(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    sts = cluster.get(ns, "statefulset", name)
    assert sts is not None
    return sts["spec"]["template"]["spec"]


def test_minimal_example_is_ready_with_every_child_in_place(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.ok("-n", namespace, "apply", "-f", str(REPO / "examples" / "minimal.yaml"))
    body = cluster.wait_ready(namespace, "kubarr")

    status = body["status"]
    assert status["phase"] == "Ready"
    assert status["version"] == "0.1.0"
    assert status["endpoint"] == f"http://kubarr.{namespace}.svc:8000"
    assert status["backup"] == "none"
    types = {c["type"]: c["status"] for c in status["conditions"]}
    assert types == {
        "Ready": "True",
        "Reconciling": "False",
        "Stalled": "False",
        "Migrated": "True",
        "BackupConfigured": "False",
        "AuditRetention": "Unknown",
    }

    sts = cluster.get(namespace, "statefulset", "kubarr")
    assert sts is not None
    assert sts["spec"]["replicas"] == 1
    assert sts["metadata"]["ownerReferences"][0]["uid"] == body["metadata"]["uid"]
    pod = sts["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"
    app = pod["containers"][0]
    assert app["image"] == "ghcr.io/kubarr/kubarr:0.1.0"
    assert app["securityContext"]["readOnlyRootFilesystem"] is True
    assert app["readinessProbe"]["httpGet"]["path"] == "/readyz"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "kubarr-data"

    claim = cluster.get(namespace, "pvc", "kubarr-data")
    assert claim is not None
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert "ownerReferences" not in claim["metadata"]
    for service in ("kubarr", "kubarr-headless"):
        found = cluster.get(namespace, "service", service)
        assert found is not None
        assert found["spec"]["selector"] == {
            "app.kubernetes.io/name": "kubarr",
            "app.kubernetes.io/instance": "kubarr",
        }

    events = json.loads(cluster.ok("-n", namespace, "get", "events", "-o", "json"))
    reasons = {
        e["reason"]
        for e in events["items"]
        if e["involvedObject"]["kind"] == "KubarrInstance"
    }
    assert {"Applied", "Ready"} <= reasons

    waited = cluster.kubectl(
        "-n",
        namespace,
        "wait",
        "--for=condition=Ready",
        "kubarr/kubarr",
        "--timeout=10s",
    )
    assert waited.returncode == 0, waited.stderr


def test_minio_example_replicates_with_keys_from_the_secret(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    # The example's in-cluster MinIO address becomes a closed port on this
    # machine: the operator checks replicas, and nothing else may be reached.
    text = (REPO / "examples" / "minio.yaml").read_text()
    text = text.replace(
        "http://minio.minio.svc.cluster.local:9000", "http://127.0.0.1:9"
    )
    assert "127.0.0.1:9" in text
    cluster.ok("-n", namespace, "apply", "-f", "-", input=text)
    body = cluster.wait_ready(namespace, "kubarr-minio")

    assert body["status"]["backup"] == f"s3://kubarr/{namespace}/kubarr-minio"
    pod = pod_spec(cluster, namespace, "kubarr-minio")
    assert [c["name"] for c in pod["initContainers"]] == [
        "litestream-restore",
        "migrate",
    ]
    sidecar = pod["containers"][1]
    assert sidecar["args"] == ["replicate", "-config", "/etc/litestream/litestream.yml"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in sidecar["env"]}
    assert refs["LITESTREAM_SECRET_ACCESS_KEY"] == {
        "name": "kubarr-minio-credentials",
        "key": "AWS_SECRET_ACCESS_KEY",
    }

    config_map = cluster.get(namespace, "configmap", "kubarr-minio-litestream")
    assert config_map is not None
    rendered = config_map["data"]["litestream.yml"]
    assert "change-me" not in rendered  # the Secret's values never reach it
    assert yaml.safe_load(rendered)["dbs"][0]["replica"]["bucket"] == "kubarr"


def test_changing_the_image_tag_rolls_the_statefulset_to_the_new_image(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("app", {"image": {"tag": "1.0.0"}}))
    cluster.wait_ready(namespace, "app")

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "app",
        "--type=merge",
        "-p",
        '{"spec":{"image":{"tag":"1.1.0"}}}',
    )
    body = wait_for(
        lambda: (
            (b := cluster.wait_ready(namespace, "app"))["status"].get("version")
            == "1.1.0"
            and b
        ),
        60,
        what="version 1.1.0",
    )

    assert body["status"]["version"] == "1.1.0"
    assert pod_spec(cluster, namespace, "app")["containers"][0]["image"].endswith(
        ":1.1.0"
    )


def test_changing_an_unrelated_label_does_not_roll_the_pod(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("app"))
    cluster.wait_ready(namespace, "app")
    before = cluster.get(namespace, "statefulset", "app")
    assert before is not None
    since = utc_now()

    cluster.ok("-n", namespace, "label", "kubarr", "app", "team=media")
    time.sleep(7)  # longer than one resync

    after = cluster.get(namespace, "statefulset", "app")
    assert after is not None
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert [
        w
        for w in cluster.writes_by_operator(namespace, since)
        if w["objectRef"]["resource"] == "statefulsets"
    ] == []


def test_a_hand_edited_statefulset_is_put_back(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("app"))
    cluster.wait_ready(namespace, "app")

    patch = [
        {
            "op": "replace",
            "path": "/spec/template/spec/containers/0/image",
            "value": "evil/image:latest",
        }
    ]
    cluster.ok(
        "-n",
        namespace,
        "patch",
        "statefulset",
        "app",
        "--type=json",
        "-p",
        json.dumps(patch),
    )

    wait_for(
        lambda: (
            pod_spec(cluster, namespace, "app")["containers"][0]["image"]
            == "ghcr.io/kubarr/kubarr:0.1.0"
        ),
        30,
        what="the image to be restored",
    )


def test_a_deleted_configmap_is_recreated(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, s3_secret())
    cluster.apply(namespace, instance("app", s3_spec()))
    cluster.wait_ready(namespace, "app")
    original = cluster.get(namespace, "configmap", "app-litestream")
    assert original is not None

    cluster.ok("-n", namespace, "delete", "configmap", "app-litestream")

    recreated = wait_for(
        lambda: cluster.get(namespace, "configmap", "app-litestream"),
        30,
        what="the ConfigMap to come back",
    )
    assert recreated["metadata"]["uid"] != original["metadata"]["uid"]
    assert recreated["data"] == original["data"]


def test_deleting_an_instance_removes_children_but_keeps_its_volume(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("app"))
    cluster.wait_ready(namespace, "app")

    cluster.ok(
        "-n", namespace, "delete", "kubarr", "app", "--wait=true", "--timeout=120s"
    )

    wait_for(
        lambda: cluster.get(namespace, "statefulset", "app") is None,
        120,
        what="the StatefulSet to be collected",
    )
    wait_for(
        lambda: cluster.get(namespace, "service", "app") is None,
        60,
        what="the Service to be collected",
    )
    time.sleep(3)  # give the garbage collector a chance to get it wrong
    assert cluster.get(namespace, "pvc", "app-data") is not None


def test_reclaim_policy_delete_removes_the_volume_with_the_instance(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("app", {"storage": {"reclaimPolicy": "Delete"}}))
    cluster.wait_ready(namespace, "app")
    claim = cluster.get(namespace, "pvc", "app-data")
    assert claim is not None and claim["metadata"]["ownerReferences"]

    cluster.ok(
        "-n", namespace, "delete", "kubarr", "app", "--wait=true", "--timeout=120s"
    )

    def claim_gone() -> bool:
        found = cluster.get(namespace, "pvc", "app-data")
        return found is None or bool(found["metadata"].get("deletionTimestamp"))

    # The garbage collector of a fresh control plane needs a while to sync.
    wait_for(claim_gone, 120, what="the volume to be deleted")


def test_a_missing_secret_stalls_the_instance_until_it_is_created(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("app", s3_spec("late-creds")))

    stalled = wait_for(
        lambda: (
            (c := cluster.condition(namespace, "app", "Stalled"))
            and c["status"] == "True"
            and c
        ),
        30,
        what="Stalled=True",
    )
    assert stalled["reason"] == "SecretNotFound"
    assert f"Secret {namespace}/late-creds does not exist" in stalled["message"]
    assert cluster.instance(namespace, "app")["status"]["phase"] == "Stalled"
    # Nothing half-applied: not even the volume.
    assert cluster.get(namespace, "statefulset", "app") is None
    assert cluster.get(namespace, "pvc", "app-data") is None

    cluster.apply(namespace, s3_secret("late-creds"))

    cluster.wait_ready(namespace, "app", timeout=60)
    assert cluster.condition(namespace, "app", "Stalled")["status"] == "False"


def test_a_changed_secret_rolls_the_pod(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, s3_secret())
    cluster.apply(namespace, instance("app", s3_spec()))
    cluster.wait_ready(namespace, "app")

    def version() -> str:
        sts = cluster.get(namespace, "statefulset", "app")
        assert sts is not None
        return sts["spec"]["template"]["metadata"]["annotations"][
            "kubarr.io/secrets-version"
        ]

    before = version()
    new_key = base64.b64encode(b"rotated").decode()
    cluster.ok(
        "-n",
        namespace,
        "patch",
        "secret",
        "s3-creds",
        "--type=merge",
        "-p",
        json.dumps({"data": {"AWS_SECRET_ACCESS_KEY": new_key}}),
    )

    wait_for(lambda: version() != before, 30, what="the pod template to change")


def test_twenty_instances_become_ready_and_a_noop_resync_writes_nothing(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, s3_secret())
    started = time.monotonic()
    docs = [instance(f"i{n:02d}", s3_spec() if n % 2 else {}) for n in range(20)]
    cluster.ok("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump_all(docs))

    for n in range(20):
        cluster.wait_ready(namespace, f"i{n:02d}", timeout=120)
    elapsed = time.monotonic() - started
    print(f"20 instances Ready {elapsed:.1f} s after apply")

    time.sleep(2)  # let the last status writes land
    since = utc_now()
    time.sleep(12)  # two resync periods of the test operator

    assert cluster.reads_by_operator(namespace, since) >= 20 * 4, "no resync happened"
    writes = cluster.writes_by_operator(namespace, since)
    assert writes == [], [
        (w["verb"], w["objectRef"].get("resource"), w["objectRef"].get("name"))
        for w in writes
    ]


def test_defaults_the_api_server_fills_in_match_the_operator_models(
    cluster: Cluster, namespace: str
) -> None:
    from kubarr_operator.spec import KubarrInstanceSpec

    cluster.apply(namespace, instance("defaults"))
    stored = cluster.instance(namespace, "defaults")["spec"]

    assert stored == KubarrInstanceSpec().model_dump(
        by_alias=True, exclude_none=True, mode="json"
    )


@pytest.mark.parametrize(
    "path", sorted((REPO / "examples").glob("*.yaml")), ids=lambda p: p.name
)
def test_every_example_passes_server_side_dry_run(
    cluster: Cluster, namespace: str, path: Path
) -> None:
    result = cluster.kubectl(
        "-n", namespace, "apply", "--dry-run=server", "-f", str(path)
    )
    assert result.returncode == 0, result.stderr


def test_install_manifests_pass_server_side_dry_run(cluster: Cluster) -> None:
    result = cluster.kubectl("apply", "--dry-run=server", "-k", str(REPO / "manifests"))
    assert result.returncode == 0, result.stderr
