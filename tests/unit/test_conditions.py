"""Status as kstatus, Argo CD and a person read it: pure rules."""

from __future__ import annotations

from typing import Any

from kubarr_operator.conditions import (
    Observation,
    Problem,
    compute_status,
    merge_conditions,
    status_patch,
)
from kubarr_operator.lifecycle import Rollout


def observe(**changes: Any) -> Observation:
    base = {
        "generation": 4,
        "endpoint": "http://kubarr.home.svc:8000",
        "backup_location": "s3://b/home/kubarr",
        "backup_kind": "s3",
        "desired_version": "1.1.0",
    }
    return Observation(**{**base, **changes})


def ready_statefulset() -> dict[str, Any]:
    return {
        "metadata": {"generation": 2},
        "status": {
            "observedGeneration": 2,
            "currentRevision": "r2",
            "updateRevision": "r2",
            "updatedReplicas": 1,
            "readyReplicas": 1,
        },
    }


def by_type(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def test_a_problem_is_stalled_and_not_ready_with_its_reason():
    status = compute_status(observe(problem=Problem("SecretNotFound", "create it")), {})

    assert status["phase"] == "Stalled"
    assert status["observedGeneration"] == 4
    assert by_type(status)["Ready"] == ("False", "SecretNotFound")
    assert by_type(status)["Stalled"] == ("True", "SecretNotFound")
    assert by_type(status)["Reconciling"][0] == "False"


def test_a_rolled_out_pod_is_ready_on_the_migrated_version():
    rollout = Rollout(version="1.1.0", statefulset=ready_statefulset())
    status = compute_status(
        observe(rollout=rollout, statefulset=ready_statefulset()), {}
    )

    assert status["phase"] == "Ready"
    assert status["version"] == "1.1.0"
    assert by_type(status)["Ready"] == ("True", "Ready")
    assert by_type(status)["Migrated"] == ("True", "Migrated")
    assert "targetVersion" not in status


def test_a_pod_still_rolling_is_progressing_and_reconciling():
    sts = ready_statefulset()
    sts["status"]["updateRevision"] = "r3"
    status = compute_status(
        observe(rollout=Rollout(version="1.1.0"), statefulset=sts), {}
    )

    assert status["phase"] == "Progressing"
    assert by_type(status)["Reconciling"] == ("True", "Progressing")
    assert by_type(status)["Ready"][0] == "False"


def test_a_failed_upgrade_is_degraded_while_retrying_and_stalled_when_exhausted():
    failing = Rollout(
        version="1.0.0",
        failed=True,
        migration={"toVersion": "1.1.0", "attempts": 1, "message": "x"},
    )
    retrying = compute_status(observe(rollout=failing), {})
    failing.exhausted = True
    exhausted = compute_status(observe(rollout=failing), {})

    assert retrying["phase"] == "Degraded"
    assert by_type(retrying)["Stalled"][0] == "False"
    assert by_type(retrying)["Migrated"] == ("False", "MigrationFailed")
    assert retrying["targetVersion"] == "1.1.0"
    assert exhausted["phase"] == "Stalled"
    assert by_type(exhausted)["Stalled"] == ("True", "MigrationFailed")


def test_a_hibernated_instance_is_ready_once_its_pod_is_gone():
    sts = {"metadata": {}, "status": {"replicas": 0, "readyReplicas": 0}}
    status = compute_status(
        observe(rollout=Rollout(version="1.1.0", phase="Hibernated"), statefulset=sts),
        {},
    )

    assert status["phase"] == "Hibernated"
    assert by_type(status)["Ready"] == ("True", "Hibernated")


def test_an_unchanged_condition_keeps_its_transition_time():
    old = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Ready",
            "message": "",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
            "observedGeneration": 1,
        }
    ]
    new = [
        {
            "type": "Ready",
            "status": "True",
            "reason": "Ready",
            "message": "",
            "lastTransitionTime": "2026-12-04T00:00:00Z",
            "observedGeneration": 2,
        }
    ]

    merged = merge_conditions(old, new)

    assert merged[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
    assert merged[0]["observedGeneration"] == 2


def test_the_status_patch_nulls_what_is_gone_and_is_empty_when_nothing_changed():
    old = {"phase": "Upgrading", "migration": {"state": "Failed", "retryAfter": "t"}}
    new = {"phase": "Ready", "migration": {"state": "Succeeded"}}

    assert status_patch(old, new) == {
        "phase": "Ready",
        "migration": {"state": "Succeeded", "retryAfter": None},
    }
    assert status_patch(new, dict(new)) == {}


def test_switched_off_features_lose_their_condition_but_others_keep_their_time():
    old = [
        {
            "type": "AuditRetention",
            "status": "Unknown",
            "reason": "NotRunYet",
            "message": "",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        },
        {
            "type": "RestoreDrill",
            "status": "True",
            "reason": "Restorable",
            "message": "",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        },
    ]
    new = [
        {
            "type": "AuditRetention",
            "status": "Unknown",
            "reason": "NotRunYet",
            "message": "",
            "lastTransitionTime": "2026-12-04T00:00:00Z",
        }
    ]

    merged = merge_conditions(old, new, drop={"AuditRetention", "RestoreDrill"})

    assert [c["type"] for c in merged] == ["AuditRetention"]
    assert merged[0]["lastTransitionTime"] == "2026-01-01T00:00:00Z"
