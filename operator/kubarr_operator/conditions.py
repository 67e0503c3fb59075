"""Status of a KubarrInstance: conditions, phase and the readable fields.

Conditions follow metav1.Condition and the kstatus rules that Argo CD, Flux
and ``kubectl wait`` rely on: ``Ready`` is always present, ``Reconciling=True``
means work in progress, ``Stalled=True`` means the operator cannot go on
without a change from a person. Everything here is pure: it takes what the
reconciler observed and returns the status to write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
BACKUP_CONFIGURED = "BackupConfigured"

CONDITION_ORDER = [READY, RECONCILING, STALLED, BACKUP_CONFIGURED]


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Problem:
    """Why the operator cannot honour the spec, and what the user should do."""

    reason: str
    message: str


@dataclass(frozen=True)
class Observation:
    """What one reconcile saw, enough to decide the status."""

    generation: int
    endpoint: str
    backup_location: str
    backup_kind: str
    desired_version: str
    problem: Problem | None = None
    suspended: bool = False
    statefulset: dict[str, Any] | None = None


def condition(
    type_: str, status: str, reason: str, message: str, generation: int
) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": now(),
    }


def merge_conditions(
    old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """New conditions, keeping ``lastTransitionTime`` where the status did not
    change, and keeping conditions of other types as they were."""
    previous = {c.get("type"): c for c in old}
    merged = []
    for item in new:
        before = previous.pop(item["type"], None)
        if before and before.get("status") == item["status"]:
            item = {**item, "lastTransitionTime": before.get("lastTransitionTime")}
        merged.append(item)
    merged.extend(previous.values())
    rank = {t: i for i, t in enumerate(CONDITION_ORDER)}
    return sorted(merged, key=lambda c: rank.get(c.get("type", ""), len(rank)))


def rollout_state(statefulset: dict[str, Any] | None) -> tuple[bool, str]:
    """Whether the StatefulSet's one pod runs the current template, and why not."""
    if statefulset is None:
        return False, "the StatefulSet does not exist yet"
    meta = statefulset.get("metadata", {})
    status = statefulset.get("status", {})
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False, "the StatefulSet controller has not seen the latest template"
    if status.get("updateRevision") and status.get("currentRevision") != status.get(
        "updateRevision"
    ):
        return False, "rolling the pod to the new template"
    if status.get("updatedReplicas", 0) < 1:
        return False, "waiting for the pod to run the current template"
    if status.get("readyReplicas", 0) < 1:
        return False, "waiting for the pod to become ready"
    return True, ""


def _backup_condition(obs: Observation) -> dict[str, Any]:
    if obs.backup_kind == "external":
        return condition(
            BACKUP_CONFIGURED,
            "True",
            "ExternalDatabase",
            "the database is an external PostgreSQL server; back it up there",
            obs.generation,
        )
    if obs.backup_kind == "none":
        return condition(
            BACKUP_CONFIGURED,
            "False",
            "NoBackupTarget",
            "spec.backup sets no s3 or file target: the database is not "
            "replicated and a lost volume loses it",
            obs.generation,
        )
    return condition(
        BACKUP_CONFIGURED,
        "True",
        "Replicating",
        f"Litestream replicates to {obs.backup_location}",
        obs.generation,
    )


def compute_status(obs: Observation, old: dict[str, Any]) -> dict[str, Any]:
    """The status to write for what the reconcile observed."""
    gen = obs.generation
    conditions: list[dict[str, Any]]
    version = old.get("version")
    ready_replicas = (obs.statefulset or {}).get("status", {}).get("readyReplicas", 0)

    if obs.problem:
        phase = "Stalled"
        conditions = [
            condition(READY, "False", obs.problem.reason, obs.problem.message, gen),
            condition(
                RECONCILING, "False", obs.problem.reason, "waiting for a fix", gen
            ),
            condition(STALLED, "True", obs.problem.reason, obs.problem.message, gen),
        ]
    elif obs.suspended:
        phase = "Suspended"
        conditions = [
            condition(
                RECONCILING,
                "False",
                "Suspended",
                "spec.suspend is true: the operator changes nothing until it is "
                "false again",
                gen,
            ),
            condition(STALLED, "False", "Suspended", "", gen),
        ]
    else:
        rolled_out, waiting_for = rollout_state(obs.statefulset)
        if rolled_out:
            phase = "Ready"
            version = obs.desired_version
            conditions = [
                condition(READY, "True", "Ready", f"serving at {obs.endpoint}", gen),
                condition(RECONCILING, "False", "Ready", "", gen),
            ]
        else:
            phase = "Progressing"
            conditions = [
                condition(READY, "False", "Progressing", waiting_for, gen),
                condition(RECONCILING, "True", "Progressing", waiting_for, gen),
            ]
        conditions.append(condition(STALLED, "False", "Reconciled", "", gen))
        conditions.append(_backup_condition(obs))

    old_conditions = list(old.get("conditions") or [])
    if not any(c["type"] == READY for c in conditions) and not any(
        c.get("type") == READY for c in old_conditions
    ):
        conditions.append(condition(READY, "Unknown", "Suspended", "", gen))

    status: dict[str, Any] = {
        "observedGeneration": gen,
        "phase": phase,
        "conditions": merge_conditions(old_conditions, conditions),
        "backup": obs.backup_location,
        "endpoint": obs.endpoint,
        "readyReplicas": ready_replicas,
    }
    if version:
        status["version"] = version
    return status


def status_differs(new: dict[str, Any], old: dict[str, Any]) -> bool:
    """Whether writing ``new`` would change anything a reader can see."""
    return any(old.get(key) != value for key, value in new.items())
