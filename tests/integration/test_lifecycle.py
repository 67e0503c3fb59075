"""Migrations, upgrades, audit retention, hibernation and volume growth on the
local control plane. KWOK ends Job pods: successfully, or with exit code 1 when
the image is tagged ``broken`` (a stand-in for a migration that fails)."""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest
import yaml
from kube_support import Cluster, OperatorManager, Watch, instance, wait_for

pytestmark = pytest.mark.integration

IMAGE = "ghcr.io/kubarr/kubarr"


def migration_jobs(cluster: Cluster, ns: str, name: str) -> list[dict[str, Any]]:
    listed = cluster.ok(
        "-n",
        ns,
        "get",
        "jobs",
        "-o",
        "json",
        "-l",
        f"app.kubernetes.io/instance={name},app.kubernetes.io/component=migration",
    )
    return json.loads(listed)["items"]


def sts_state(obj: dict[str, Any]) -> tuple[int, str]:
    spec = obj["spec"]
    return spec["replicas"], spec["template"]["spec"]["containers"][0]["image"]


def set_tag(cluster: Cluster, ns: str, name: str, tag: str) -> None:
    cluster.ok(
        "-n",
        ns,
        "patch",
        "kubarr",
        name,
        "--type=merge",
        "-p",
        json.dumps({"spec": {"image": {"tag": tag}}}),
    )


def wait_version(
    cluster: Cluster, ns: str, name: str, version: str, timeout: float = 90
) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        body = cluster.instance(ns, name)
        status = body.get("status") or {}
        ok = status.get("version") == version and status.get("phase") == "Ready"
        return body if ok else None

    return wait_for(reached, timeout, what=f"{ns}/{name} Ready on {version}")


def test_a_fresh_install_runs_one_migration_job_before_the_statefulset_exists(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    watch = Watch(cluster.plane.admin_kubeconfig, namespace, "statefulsets", "jobs")
    try:
        cluster.apply(namespace, instance("fresh", {"image": {"tag": "1.0.0"}}))
        body = cluster.wait_ready(namespace, "fresh")
    finally:
        watch.stop()

    kinds = [o["kind"] for o in watch.history()]
    assert kinds[0] == "Job", kinds
    assert "StatefulSet" in kinds
    [job] = migration_jobs(cluster, namespace, "fresh")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["migrate"]
    assert job["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMAGE}:1.0.0"
    claims = [
        v["persistentVolumeClaim"]["claimName"]
        for v in job["spec"]["template"]["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    ]
    assert claims == ["fresh-data"]
    migrated = {c["type"]: c for c in body["status"]["conditions"]}["Migrated"]
    assert migrated["status"] == "True"
    assert body["status"]["migration"]["state"] == "Succeeded"


def test_an_upgrade_fences_migrates_then_rolls_out_in_that_order(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("up", {"image": {"tag": "1.0.0"}}))
    wait_version(cluster, namespace, "up", "1.0.0")
    watch = Watch(cluster.plane.admin_kubeconfig, namespace, "statefulsets", "jobs")
    try:
        set_tag(cluster, namespace, "up", "1.1.0")
        body = wait_version(cluster, namespace, "up", "1.1.0")
    finally:
        watch.stop()

    steps: list[str] = []
    for obj in watch.history():
        if obj["kind"] == "Job" and obj["metadata"]["name"].startswith(
            "up-migrate-1-1-0"
        ):
            step = "job"
        elif obj["kind"] == "StatefulSet":
            replicas, image = sts_state(obj)
            ready = (obj.get("status") or {}).get("readyReplicas", 0)
            step = f"sts {replicas} {image.rsplit(':', 1)[1]} ready={ready}"
        else:
            continue
        if not steps or steps[-1] != step:
            steps.append(step)

    def first(prefix: str) -> int:
        return next(i for i, s in enumerate(steps) if s.startswith(prefix))

    fenced = first("sts 0 1.0.0")
    job = first("job")
    rolled = first("sts 1 1.1.0")
    serving = first("sts 1 1.1.0 ready=1")
    assert fenced < job < rolled <= serving, steps
    assert not any(s.startswith("sts 1 1.0.0") for s in steps[fenced:]), steps
    assert len(migration_jobs(cluster, namespace, "up")) == 2  # install + upgrade

    migration = body["status"]["migration"]
    assert (migration["fromVersion"], migration["toVersion"]) == ("1.0.0", "1.1.0")
    print(f"upgrade unavailability: {migration['unavailableSeconds']} s")
    assert migration["unavailableSeconds"] >= 0


def test_a_failing_migration_leaves_the_old_version_serving(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    spec = {
        "image": {"tag": "1.0.0"},
        "migration": {"maxAttempts": 3, "keepFailedJobs": 1},
    }
    cluster.apply(namespace, instance("fail", spec))
    wait_version(cluster, namespace, "fail", "1.0.0")

    set_tag(cluster, namespace, "fail", "broken")

    def given_up() -> dict[str, Any] | None:
        body = cluster.instance(namespace, "fail")
        migration = (body.get("status") or {}).get("migration") or {}
        done = migration.get("attempts") == 3 and migration.get("state") == "Failed"
        return body if done else None

    body = wait_for(given_up, 120, what="three failed attempts")
    status = body["status"]
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Migrated"]["status"] == "False"
    assert conditions["Migrated"]["reason"] == "MigrationFailed"
    assert "simulated failure" in conditions["Migrated"]["message"]
    assert conditions["Stalled"]["status"] == "True"
    assert status["version"] == "1.0.0"

    def serving_old() -> bool:
        sts = cluster.get(namespace, "statefulset", "fail")
        assert sts is not None
        return (
            sts_state(sts) == (1, f"{IMAGE}:1.0.0")
            and (sts.get("status") or {}).get("readyReplicas") == 1
        )

    wait_for(serving_old, 30, what="the old version serving again")
    failed = [
        j
        for j in migration_jobs(cluster, namespace, "fail")
        if "broken" in j["metadata"]["name"]
    ]
    assert len(failed) == 1  # keepFailedJobs
    events = cluster.ok(
        "-n",
        namespace,
        "get",
        "events",
        "--field-selector",
        "reason=MigrationFailed",
        "-o",
        "name",
    )
    assert events.strip()

    set_tag(cluster, namespace, "fail", "1.0.1")  # a new spec supersedes the failure
    body = wait_version(cluster, namespace, "fail", "1.0.1")
    assert {c["type"]: c["status"] for c in body["status"]["conditions"]}[
        "Stalled"
    ] == "False"


def test_killing_the_operator_while_fenced_still_ends_on_the_new_version(
    cluster: Cluster, operator_manager: OperatorManager, namespace: str
) -> None:
    operator_manager.ensure()
    cluster.apply(namespace, instance("kill", {"image": {"tag": "1.0.0"}}))
    wait_version(cluster, namespace, "kill", "1.0.0")
    # Hold the pod in Terminating so the operator stays between fencing and
    # the Job long enough to be killed there.
    cluster.ok(
        "-n",
        namespace,
        "patch",
        "pod",
        "kill-0",
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":["kubarr.test/hold"]}}',
    )

    set_tag(cluster, namespace, "kill", "2.0.0")
    cluster.wait_status(
        namespace, "kill", "migration", "state", equals="Fencing", timeout=30
    )
    operator_manager.ensure().stop(signal.SIGKILL)
    sts = cluster.get(namespace, "statefulset", "kill")
    assert sts is not None and sts_state(sts)[0] == 0
    assert [
        j
        for j in migration_jobs(cluster, namespace, "kill")
        if "2-0-0" in j["metadata"]["name"]
    ] == []

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "pod",
        "kill-0",
        "--type=merge",
        "-p",
        '{"metadata":{"finalizers":null}}',
    )
    operator_manager.ensure()

    wait_version(cluster, namespace, "kill", "2.0.0", timeout=120)
    upgrades = [
        j
        for j in migration_jobs(cluster, namespace, "kill")
        if "2-0-0" in j["metadata"]["name"]
    ]
    assert len(upgrades) == 1


def test_killing_the_operator_after_the_job_still_rolls_out_once(
    cluster: Cluster, operator_manager: OperatorManager, namespace: str
) -> None:
    operator_manager.ensure()
    cluster.apply(namespace, instance("late", {"image": {"tag": "1.0.0"}}))
    wait_version(cluster, namespace, "late", "1.0.0")

    set_tag(cluster, namespace, "late", "3.0.0")
    job = wait_for(
        lambda: [
            j
            for j in migration_jobs(cluster, namespace, "late")
            if "3-0-0" in j["metadata"]["name"]
        ],
        60,
        interval=0.1,
        what="the upgrade's migration Job",
    )[0]
    operator_manager.ensure().stop(signal.SIGKILL)
    wait_for(
        lambda: any(
            c["type"] == "Complete" and c["status"] == "True"
            for c in (cluster.get(namespace, "job", job["metadata"]["name"]) or {})
            .get("status", {})
            .get("conditions")
            or []
        ),
        60,
        what="the Job to complete with no operator running",
    )

    operator_manager.ensure()

    body = wait_version(cluster, namespace, "late", "3.0.0", timeout=120)
    upgrades = [
        j
        for j in migration_jobs(cluster, namespace, "late")
        if "3-0-0" in j["metadata"]["name"]
    ]
    assert len(upgrades) == 1
    assert body["status"]["migration"]["state"] == "Succeeded"
    sts = cluster.get(namespace, "statefulset", "late")
    assert sts is not None and sts_state(sts) == (1, f"{IMAGE}:3.0.0")


def test_the_audit_cronjob_prunes_through_the_app_and_reports_in_status(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(
        namespace,
        instance("aud", {"audit": {"retentionDays": 30, "schedule": "5 4 * * *"}}),
    )
    cluster.wait_ready(namespace, "aud")
    cron = wait_for(
        lambda: cluster.get(namespace, "cronjob", "aud-audit-prune"),
        30,
        what="the CronJob",
    )

    assert cron["spec"]["schedule"] == "5 4 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert [v for v in pod["volumes"] if "persistentVolumeClaim" in v] == []
    args = pod["containers"][0]["args"]
    assert args[:3] == ["audit-prune", "--url", f"http://aud.{namespace}.svc:8000"]
    assert args[3:] == ["--retention-days", "30"]
    token = cluster.get(namespace, "secret", "aud-admin-token")
    assert token is not None and token["data"]["token"]
    sts_pod = cluster.get(namespace, "statefulset", "aud")["spec"]["template"]["spec"]
    assert any(
        v.get("secret", {}).get("secretName") == "aud-admin-token"
        for v in sts_pod["volumes"]
    )

    cluster.ok(
        "-n",
        namespace,
        "create",
        "job",
        "--from=cronjob/aud-audit-prune",
        "aud-prune-now",
    )

    result = cluster.wait_status(namespace, "aud", "lastAuditPrune")
    assert result["job"] == "aud-prune-now"
    assert result["succeeded"] is True
    assert result["deleted"] == 7  # what the simulated run reported
    condition = cluster.condition(namespace, "aud", "AuditRetention")
    assert condition is not None and condition["status"] == "True"

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "aud",
        "--type=merge",
        "-p",
        '{"spec":{"audit":{"schedule":"@daily"}}}',
    )
    wait_for(
        lambda: (
            cluster.get(namespace, "cronjob", "aud-audit-prune")["spec"]["schedule"]
            == "@daily"
        ),
        30,
        what="the new schedule",
    )

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "aud",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/spec/audit"}]',
    )
    wait_for(
        lambda: cluster.get(namespace, "cronjob", "aud-audit-prune") is None,
        30,
        what="the CronJob to be removed",
    )


def test_rotating_the_admin_token_replaces_it(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("rot", {"audit": {}}))
    cluster.wait_ready(namespace, "rot")
    before = cluster.get(namespace, "secret", "rot-admin-token")
    assert before is not None

    cluster.ok(
        "-n",
        namespace,
        "annotate",
        "kubarr",
        "rot",
        "kubarr.io/rotate-admin-token=2026-12-04",
    )

    after = wait_for(
        lambda: (
            (s := cluster.get(namespace, "secret", "rot-admin-token"))
            and s["data"]["token"] != before["data"]["token"]
            and s
        ),
        30,
        what="a new token",
    )
    assert after["metadata"]["uid"] == before["metadata"]["uid"]


def test_hibernating_and_waking_keep_the_volume(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("sleepy"))
    cluster.wait_ready(namespace, "sleepy")
    claim = cluster.get(namespace, "pvc", "sleepy-data")
    assert claim is not None

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "sleepy",
        "--type=merge",
        "-p",
        '{"spec":{"hibernate":true}}',
    )
    body = wait_for(
        lambda: (
            (b := cluster.instance(namespace, "sleepy"))["status"]["phase"]
            == "Hibernated"
            and {c["type"]: c["status"] for c in b["status"]["conditions"]}["Ready"]
            == "True"
            and b
        ),
        60,
        what="Hibernated",
    )
    sts = cluster.get(namespace, "statefulset", "sleepy")
    assert sts is not None and sts["spec"]["replicas"] == 0
    assert body["status"]["readyReplicas"] == 0
    assert (
        cluster.get(namespace, "pvc", "sleepy-data")["metadata"]["uid"]
        == claim["metadata"]["uid"]
    )

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "sleepy",
        "--type=merge",
        "-p",
        '{"spec":{"hibernate":false}}',
    )
    body = cluster.wait_ready(namespace, "sleepy")
    assert body["status"]["phase"] == "Ready"
    assert cluster.get(namespace, "statefulset", "sleepy")["spec"]["replicas"] == 1
    assert (
        cluster.get(namespace, "pvc", "sleepy-data")["metadata"]["uid"]
        == claim["metadata"]["uid"]
    )


def bind_claim(cluster: Cluster, ns: str, claim: str, storage_class: str) -> None:
    """Bind a claim to a hand-made volume: no provisioner runs here, and only a
    bound claim can be resized."""
    volume = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"{ns}-{claim}"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            "persistentVolumeReclaimPolicy": "Delete",
            "claimRef": {"namespace": ns, "name": claim},
            "hostPath": {"path": f"/nonexistent/{ns}/{claim}"},
        },
    }
    cluster.ok("apply", "-f", "-", input=yaml.safe_dump(volume))
    wait_for(
        lambda: (
            (cluster.get(ns, "pvc", claim) or {}).get("status", {}).get("phase")
            == "Bound"
        ),
        60,
        what=f"{claim} to bind",
    )


def test_growing_storage_expands_the_claim_when_the_class_allows_it(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("grow", {"storage": {"size": "1Gi"}}))
    cluster.wait_ready(namespace, "grow")
    bind_claim(cluster, namespace, "grow-data", "standard")

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "grow",
        "--type=merge",
        "-p",
        '{"spec":{"storage":{"size":"2Gi"}}}',
    )

    wait_for(
        lambda: (
            cluster.get(namespace, "pvc", "grow-data")["spec"]["resources"]["requests"][
                "storage"
            ]
            == "2Gi"
        ),
        30,
        what="the claim to ask for 2Gi",
    )
    condition = wait_for(
        lambda: cluster.condition(namespace, "grow", "StorageResized"),
        30,
        what="StorageResized",
    )
    assert condition["status"] == "True"


def test_growing_storage_on_a_fixed_class_says_so_and_changes_nothing(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    fixed = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "fixed-size"},
        "provisioner": "kubarr.local/fake",
        "allowVolumeExpansion": False,
    }
    cluster.ok("apply", "-f", "-", input=yaml.safe_dump(fixed))
    cluster.apply(
        namespace,
        instance(
            "fixed", {"storage": {"size": "1Gi", "storageClassName": "fixed-size"}}
        ),
    )
    cluster.wait_ready(namespace, "fixed")
    bind_claim(cluster, namespace, "fixed-data", "fixed-size")

    cluster.ok(
        "-n",
        namespace,
        "patch",
        "kubarr",
        "fixed",
        "--type=merge",
        "-p",
        '{"spec":{"storage":{"size":"5Gi"}}}',
    )

    condition = wait_for(
        lambda: (
            (c := cluster.condition(namespace, "fixed", "StorageResized"))
            and c["status"] == "False"
            and c
        ),
        30,
        what="StorageResized=False",
    )
    assert condition["reason"] == "ExpansionNotSupported"
    assert (
        "StorageClass fixed-size does not allow volume expansion"
        in condition["message"]
    )
    claim = cluster.get(namespace, "pvc", "fixed-data")
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert cluster.instance(namespace, "fixed")["status"]["phase"] == "Ready"


def test_a_failed_prune_run_sets_the_condition_with_its_reason(
    cluster: Cluster, operator: Any, namespace: str
) -> None:
    cluster.apply(namespace, instance("audfail", {"audit": {}}))
    cluster.wait_ready(namespace, "audfail")
    # A run of the prune job whose pod fails (KWOK fails images tagged broken),
    # labelled the way the CronJob labels its Jobs.
    labels = {
        "app.kubernetes.io/name": "kubarr",
        "app.kubernetes.io/instance": "audfail",
        "app.kubernetes.io/component": "audit-prune",
        "app.kubernetes.io/managed-by": "kubarr-operator",
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "audfail-prune-broken", "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "audit-prune", "image": f"{IMAGE}:broken"}],
                },
            },
        },
    }
    cluster.apply(namespace, job)

    condition = cluster.wait_condition(
        namespace, "audfail", "AuditRetention", status="False", timeout=60
    )

    assert condition["reason"] == "PruneFailed"
    assert "simulated failure" in condition["message"]
    pruned = cluster.instance(namespace, "audfail")["status"]["lastAuditPrune"]
    assert (pruned["job"], pruned["succeeded"]) == ("audfail-prune-broken", False)
    events = cluster.ok(
        "-n",
        namespace,
        "get",
        "events",
        "--field-selector",
        "reason=AuditPruneFailed",
        "-o",
        "name",
    )
    assert events.strip()
