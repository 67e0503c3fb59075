"""Status of a KubarrInstance: conditions, phase and the readable fields.

Conditions follow metav1.Condition and the kstatus rules that Argo CD, Flux
and ``kubectl wait`` rely on: ``Ready`` is always present, ``Reconciling=True``
means work in progress, ``Stalled=True`` means the operator cannot go on
without a change from a person. Everything here is pure: it takes what the
reconciler observed and returns the status to write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .lifecycle import Rollout

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"
MIGRATED = "Migrated"
BACKUP_CONFIGURED = "BackupConfigured"

CONDITION_ORDER = [READY, RECONCILING, STALLED, MIGRATED, BACKUP_CONFIGURED]


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
    rollout: Rollout | None = None
    extra_conditions: list[dict[str, Any]] = field(default_factory=list)
    last_audit_prune: dict[str, Any] | None = None
    last_restore_drill: dict[str, Any] | None = None
    bootstrap: dict[str, Any] | None = None
    last_backup: dict[str, Any] | None = None


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


# Conditions of features that can be switched off; gone with the feature.
OPTIONAL_CONDITIONS = {
    "AuditRetention",
    "RestoreDrill",
    "BackupHealthy",
    "ReplicationHealthy",
}


def merge_conditions(
    old: list[dict[str, Any]],
    new: list[dict[str, Any]],
    drop: set[str] | frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """New conditions, keeping ``lastTransitionTime`` where the status did not
    change, and keeping conditions of other types as they were unless they
    are in ``drop``."""
    previous = {c.get("type"): c for c in old}
    merged = []
    for item in new:
        before = previous.pop(item["type"], None)
        if before and before.get("status") == item["status"]:
            item = {**item, "lastTransitionTime": before.get("lastTransitionTime")}
        merged.append(item)
    merged.extend(c for c in previous.values() if c.get("type") not in drop)
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


def _migrated_condition(obs: Observation, version: str | None) -> dict[str, Any]:
    rollout = obs.rollout
    record = (rollout.migration if rollout else None) or {}
    gen = obs.generation
    if rollout and rollout.failed:
        return condition(
            MIGRATED,
            "False",
            "MigrationFailed",
            f"migration to {record.get('toVersion')} failed "
            f"(attempt {record.get('attempts')}): {record.get('message', '')}"[-2000:],
            gen,
        )
    if version == obs.desired_version:
        return condition(
            MIGRATED,
            "True",
            "Migrated",
            f"the database schema is at version {version}",
            gen,
        )
    return condition(
        MIGRATED,
        "False",
        "MigrationPending",
        f"migrating from {version or 'an empty database'} to {obs.desired_version}",
        gen,
    )


def _unavailable_seconds(record: dict[str, Any]) -> int | None:
    fenced = record.get("fencedAt")
    if not fenced:
        return None
    started = dt.datetime.fromisoformat(fenced.replace("Z", "+00:00"))
    return max(0, round((dt.datetime.now(dt.UTC) - started).total_seconds()))


def compute_status(obs: Observation, old: dict[str, Any]) -> dict[str, Any]:
    """The status to write for what the reconcile observed."""
    gen = obs.generation
    conditions: list[dict[str, Any]]
    rollout = obs.rollout
    version = rollout.version if rollout else old.get("version")
    migration = dict((rollout.migration if rollout else old.get("migration")) or {})
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
    elif rollout and rollout.failed:
        # With an old version it serves (Degraded); a first install keeps
        # trying (Migrating) until the attempts run out (Stalled).
        phase = "Degraded" if version else "Migrating"
        wait = rollout.waiting_for or "retrying"
        message = (
            f"migration to {obs.desired_version} failed; version {version} serves "
            f"on the untouched database; {wait}"
            if version
            else f"the first migration failed; {wait}"
        )
        reason = "MigrationFailed"
        conditions = [
            condition(READY, "False", reason, message, gen),
            condition(
                RECONCILING,
                "False" if rollout.exhausted else "True",
                reason,
                message,
                gen,
            ),
            condition(
                STALLED,
                "True" if rollout.exhausted else "False",
                reason,
                message
                + (
                    f": fix the image or set spec.image.tag back to {version}"
                    if rollout.exhausted and version
                    else ""
                ),
                gen,
            ),
        ]
        if rollout.exhausted:
            phase = "Stalled"
    elif rollout and rollout.phase == "Hibernated":
        phase = "Hibernated"
        gone = (
            ready_replicas == 0
            and (obs.statefulset or {}).get("status", {}).get("replicas", 0) == 0
        )
        message = (
            "hibernated: no pod runs; the volume and the replica are kept"
            if gone
            else "stopping the pod (Litestream syncs a last time)"
        )
        conditions = [
            condition(READY, "True" if gone else "False", "Hibernated", message, gen),
            condition(
                RECONCILING, "False" if gone else "True", "Hibernated", message, gen
            ),
            condition(STALLED, "False", "Hibernated", "", gen),
        ]
    elif rollout and rollout.phase in ("Migrating", "Upgrading"):
        phase = rollout.phase
        message = rollout.waiting_for or "migrating the database schema"
        conditions = [
            condition(READY, "False", phase, message, gen),
            condition(RECONCILING, "True", phase, message, gen),
            condition(STALLED, "False", phase, "", gen),
        ]
    else:
        rolled_out, waiting_for = rollout_state(obs.statefulset)
        if rolled_out:
            phase = "Ready"
            conditions = [
                condition(READY, "True", "Ready", f"serving at {obs.endpoint}", gen),
                condition(RECONCILING, "False", "Ready", "", gen),
            ]
            if (
                migration.get("state") == "Succeeded"
                and migration.get("unavailableSeconds") is None
            ):
                migration["unavailableSeconds"] = _unavailable_seconds(migration)
        else:
            phase = "Progressing"
            conditions = [
                condition(READY, "False", "Progressing", waiting_for, gen),
                condition(RECONCILING, "True", "Progressing", waiting_for, gen),
            ]
        conditions.append(condition(STALLED, "False", "Reconciled", "", gen))

    if rollout is not None:
        conditions.append(_migrated_condition(obs, version))
    if not obs.problem and not obs.suspended:
        conditions.append(_backup_condition(obs))
    conditions.extend(obs.extra_conditions)

    old_conditions = list(old.get("conditions") or [])
    if not any(c["type"] == READY for c in conditions) and not any(
        c.get("type") == READY for c in old_conditions
    ):
        conditions.append(condition(READY, "Unknown", "Suspended", "", gen))

    status: dict[str, Any] = {
        "observedGeneration": gen,
        "phase": phase,
        "conditions": merge_conditions(
            old_conditions,
            conditions,
            # A full reconcile reports every feature that is on; a condition of
            # one that is off no longer says anything true.
            drop=OPTIONAL_CONDITIONS if rollout is not None else frozenset(),
        ),
        "backup": obs.backup_location,
        "endpoint": obs.endpoint,
        "readyReplicas": ready_replicas,
    }
    if version:
        status["version"] = version
    if rollout is not None:
        if version != obs.desired_version:
            status["targetVersion"] = obs.desired_version
    elif old.get("targetVersion"):
        status["targetVersion"] = old["targetVersion"]
    if migration:
        status["migration"] = migration
    carried = {
        "lastAuditPrune": obs.last_audit_prune,
        "lastRestoreDrill": obs.last_restore_drill,
        "bootstrap": obs.bootstrap,
        "lastBackup": obs.last_backup,
    }
    for key, value in carried.items():
        # Without a rollout (stalled, suspended) nothing was observed: keep
        # what the status already says.
        value = value if rollout is not None else old.get(key)
        if value:
            status[key] = {k: v for k, v in value.items() if v is not None}
    return status


def status_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A JSON merge patch (RFC 7386) that turns ``old`` into ``new``: fields
    that are gone are sent as null, so a merge never leaves a stale one behind.
    Empty when nothing a reader can see would change."""
    patch: dict[str, Any] = {}
    for key in old.keys() - new.keys():
        patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            nested = status_patch(before, value)
            if nested:
                patch[key] = nested
        elif value != before:
            patch[key] = value
    return patch
