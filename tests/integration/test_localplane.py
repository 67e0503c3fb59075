"""The local control plane behaves enough like a cluster for the operator:
objects are stored, controllers and the scheduler act, KWOK plays the kubelet,
RBAC is enforced and the audit log records who wrote what."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from localplane import ControlPlane

pytestmark = pytest.mark.integration

Kubectl = Callable[..., subprocess.CompletedProcess[str]]

# No image is ever pulled: KWOK only writes pod status.
IMAGE = "kubarr.local/placeholder:1"


def apply(kubectl: Kubectl, namespace: str, manifest: dict[str, object]) -> None:
    result = kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(manifest))
    assert result.returncode == 0, result.stderr


def wait(kubectl: Kubectl, namespace: str, target: str, condition: str) -> None:
    result = kubectl(
        "wait", "-n", namespace, target, f"--for={condition}", "--timeout=60s"
    )
    assert result.returncode == 0, result.stderr


def get(kubectl: Kubectl, namespace: str, *what: str) -> Any:
    result = kubectl("get", "-n", namespace, *what, "-o", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def job(
    name: str, annotations: dict[str, str] | None = None, image: str = IMAGE
) -> dict[str, object]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"annotations": annotations or {}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": image}],
                },
            },
        },
    }


def test_a_namespace_can_be_created(kubectl: Kubectl, namespace: str) -> None:
    result = kubectl("get", "namespace", namespace, "-o", "jsonpath={.status.phase}")

    assert result.returncode == 0, result.stderr
    assert result.stdout == "Active"


def test_version_reports_the_pinned_release(kubectl: Kubectl) -> None:
    result = kubectl("get", "--raw", "/version")

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["gitVersion"] == "v1.34.4"


def test_the_fake_node_is_ready_and_schedulable(kubectl: Kubectl) -> None:
    node = get(kubectl, "default", "node", "kwok-node-0")

    conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    assert node["spec"].get("taints") is None
    # The apiserver stores quantities in canonical form: 1000 pods reads "1k".
    assert node["status"]["allocatable"] == {
        "cpu": "32",
        "memory": "256Gi",
        "pods": "1k",
    }


def test_a_statefulset_with_one_replica_becomes_ready(
    kubectl: Kubectl, namespace: str
) -> None:
    labels = {"app": "web"}
    apply(
        kubectl,
        namespace,
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "serviceName": "web",
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": IMAGE}]},
                },
            },
        },
    )

    wait(kubectl, namespace, "statefulset/web", "jsonpath={.status.readyReplicas}=1")
    pod = get(kubectl, namespace, "pod", "web-0")
    assert pod["spec"]["nodeName"] == "kwok-node-0"
    assert pod["status"]["phase"] == "Running"
    assert pod["status"]["podIP"].startswith("10.244.0.")


def test_a_pod_whose_claim_stays_pending_still_runs(
    kubectl: Kubectl, namespace: str
) -> None:
    apply(
        kubectl,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    apply(
        kubectl,
        namespace,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "uses-data"},
            "spec": {
                "containers": [{"name": "main", "image": IMAGE}],
                "volumes": [
                    {"name": "data", "persistentVolumeClaim": {"claimName": "data"}}
                ],
            },
        },
    )

    wait(kubectl, namespace, "pod/uses-data", "condition=Ready")
    claim = get(kubectl, namespace, "pvc", "data")
    assert claim["spec"]["storageClassName"] == "standard"
    assert claim["status"]["phase"] == "Pending"


def test_a_job_completes(kubectl: Kubectl, namespace: str) -> None:
    apply(kubectl, namespace, job("works"))

    wait(kubectl, namespace, "job/works", "condition=Complete")
    pods = get(kubectl, namespace, "pods", "-l", "job-name=works")
    [pod] = pods["items"]
    assert pod["status"]["phase"] == "Succeeded"
    [status] = pod["status"]["containerStatuses"]
    assert status["state"]["terminated"]["exitCode"] == 0
    message = json.loads(status["state"]["terminated"]["message"])
    assert message["deleted"] == 7


def test_a_job_whose_pod_simulates_failure_fails(
    kubectl: Kubectl, namespace: str
) -> None:
    apply(kubectl, namespace, job("breaks", {"kubarr.io/simulate": "fail"}))

    wait(kubectl, namespace, "job/breaks", "condition=Failed")
    pods = get(kubectl, namespace, "pods", "-l", "job-name=breaks")
    [pod] = pods["items"]
    assert pod["status"]["phase"] == "Failed"
    [status] = pod["status"]["containerStatuses"]
    assert status["state"]["terminated"]["exitCode"] == 1
    assert "simulated failure" in status["state"]["terminated"]["message"]


def test_a_job_running_an_image_tagged_broken_fails(
    kubectl: Kubectl, namespace: str
) -> None:
    apply(kubectl, namespace, job("broken", image="example.invalid/app:broken"))

    wait(kubectl, namespace, "job/broken", "condition=Failed")


def test_a_user_without_roles_cannot_list_secrets(
    control_plane: ControlPlane, kubectl: Kubectl, namespace: str
) -> None:
    nobody = control_plane.user_kubeconfig("nobody")

    result = kubectl(f"--kubeconfig={nobody}", "get", "secrets", "-n", namespace)

    assert result.returncode != 0
    assert "Forbidden" in result.stderr
    assert 'User "nobody" cannot list resource "secrets"' in result.stderr


def test_the_audit_log_names_the_user_behind_each_write(
    control_plane: ControlPlane, kubectl: Kubectl, namespace: str
) -> None:
    writer = control_plane.user_kubeconfig("writer", ["system:masters"])
    created = kubectl(
        f"--kubeconfig={writer}", "create", "configmap", "noted", "-n", namespace
    )
    assert created.returncode == 0, created.stderr

    # The log is written before the response is sent (blocking mode), but the
    # poll keeps the test honest if that ever changes.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        events = [
            json.loads(line)
            for line in control_plane.audit_log.read_text().splitlines()
            if namespace in line
        ]
        writes = [
            e
            for e in events
            if e["user"]["username"] == "writer"
            and e["verb"] == "create"
            and e["objectRef"]["resource"] == "configmaps"
        ]
        if writes:
            break
        time.sleep(0.2)

    assert len(writes) == 1
    assert writes[0]["level"] == "Metadata"
    assert writes[0]["objectRef"]["name"] == "noted"
    assert "requestObject" not in writes[0]
