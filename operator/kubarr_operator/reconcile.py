"""One reconcile of one KubarrInstance: observe, check, apply what differs, report.

The same function runs for a create, an update, a resume after a restart, a
change to a child, and the periodic resync, so every path converges on the
same desired state. It writes only what differs: a resync that finds nothing
to change sends no write to the API.

Order matters for safety. Everything that can refuse the spec (parsing,
referenced Secrets and volumes, fields that cannot change) is checked before
the first write, so a bad spec is reported as Stalled and nothing is half
applied.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from . import conditions, lifecycle
from . import spec as s
from .audit import ensure_admin_token, reconcile_audit
from .backup_now import reconcile_backup_now, replication_condition
from .builders import base_children
from .builders.jobs import BootstrapPlan
from .builders.litestream import replica_location, replicates
from .checks import (
    check_references,
    claim_problem,
    name_conflict,
    preflight_conflicts,
    with_live_request,
)
from .conditions import Observation, Problem
from .drift import contains, first_difference
from .drill import reconcile_drill
from .kube import ApiError, Kube
from .meta import InstanceRef, foreign, owned_by
from .probe import BackupProber, backup_condition
from .reads import ReconcileReads
from .recovery import bootstrap_plan, manual_recovery_problem, replica_conflict
from .specs import parse_spec
from .volume import grow_claim

log = logging.getLogger(__name__)


# Answers that no retry will change: the spec must.
REFUSALS = (400, 403, 422)


@dataclass
class Result:
    """What a reconcile did, for the scheduler and for tests."""

    body: dict[str, Any]
    changed: list[str] = field(default_factory=list)
    problem: Problem | None = None
    ready: bool = False
    requeue_after: float | None = None


async def apply_base_children(
    kube: Kube,
    ref: InstanceRef,
    spec: s.KubarrInstanceSpec,
    restore_source: tuple[s.S3Target, str] | None = None,
) -> tuple[list[str], list[dict[str, Any]], Problem | None]:
    """Apply the claim, config and Services where they are missing or differ.
    Returns the changes made, extra conditions (volume growth) and a problem
    that blocks everything (found before the first write)."""
    children = base_children(spec, ref, restore_source)
    live = []
    for child in children:
        meta = child["metadata"]
        live.append(
            await kube.get(
                child["apiVersion"], child["kind"], meta["namespace"], meta["name"]
            )
        )

    for child, current in zip(children, live, strict=True):
        if current is not None and foreign(current, ref):
            return [], [], name_conflict(child)
        if child["kind"] == "PersistentVolumeClaim" and current is not None:
            problem = claim_problem(child, current)
            if problem:
                return [], [], problem

    changes: list[str] = []
    extra: list[dict[str, Any]] = []
    for child, current in zip(children, live, strict=True):
        label = f"{child['kind']} {child['metadata']['name']}"
        if current is None:
            await kube.apply(child)
            changes.append(f"created {label}")
        elif child["kind"] == "PersistentVolumeClaim":
            grown, resized = await grow_claim(kube, child, current, ref.generation)
            changes += grown
            if resized:
                extra.append(resized)
            wants_owner = "ownerReferences" in child["metadata"]
            if wants_owner != owned_by(current, ref):
                # The reclaim policy changed: the owner reference follows it.
                # The live request is kept, so this never asks for less.
                await kube.apply(with_live_request(child, current))
                keep = "deleted with" if wants_owner else "kept after"
                changes.append(f"{label} is now {keep} the instance")
        elif not contains(child, current):
            where = first_difference(child, current)
            await kube.apply(child)
            changes.append(f"updated {label} ({where[1:] if where else 'drift'})")

    if not replicates(spec) and restore_source is None:
        removed = await _delete_owned(
            kube, ref, "v1", "ConfigMap", ref.litestream_config
        )
        if removed:
            changes.append(f"deleted ConfigMap {ref.litestream_config}")
    return changes, extra, None


async def _delete_owned(
    kube: Kube, ref: InstanceRef, api_version: str, kind: str, name: str
) -> bool:
    """Delete a child that is no longer wanted, only if this instance owns it."""
    current = await kube.get(api_version, kind, ref.namespace, name)
    if current is None or not owned_by(current, ref):
        return False
    return await kube.delete(api_version, kind, ref.namespace, name)


async def refusal(
    kube: Kube,
    body: dict[str, Any],
    ref: InstanceRef,
    spec: s.KubarrInstanceSpec,
    peers: list[dict[str, Any]],
    prober: BackupProber | None,
) -> tuple[str, BootstrapPlan | None, dict[str, Any] | None, Problem | None]:
    """Everything that can refuse the spec, checked before the first write.
    Returns the referenced Secrets' version, the bootstrap plan and record,
    and the problem (None when the instance may go ahead)."""
    problem = replica_conflict(body, spec, peers)
    if problem is not None:
        return "", None, None, problem
    secrets_version, problem = await check_references(kube, spec, ref.namespace)
    if problem is not None:
        return "", None, None, problem
    plan, bootstrap, problem = await bootstrap_plan(
        kube, ref, spec, body.get("status") or {}
    )
    if problem is None and prober is not None and plan is None:
        problem = await manual_recovery_problem(kube, ref, spec, prober)
    if problem is None:
        problem = await preflight_conflicts(kube, ref)
    return secrets_version, plan, bootstrap, problem


async def side_features(
    kube: Kube,
    body: dict[str, Any],
    ref: InstanceRef,
    spec: s.KubarrInstanceSpec,
    rollout: lifecycle.Rollout,
    prober: BackupProber | None,
) -> tuple[list[str], list[dict[str, Any]], dict[str, Any], list[tuple[str, str]]]:
    """Audit retention, the restore drill, replica and replication health and
    backup now: changes, conditions, status fields and warnings."""
    old_status = body.get("status") or {}
    audit_changes, pruned, audit_condition = await reconcile_audit(
        kube, ref, spec, rollout.version, old_status
    )
    drill_changes, drill, drill_condition = await reconcile_drill(
        kube, ref, spec, rollout.version, old_status
    )
    extra = [c for c in (audit_condition, drill_condition) if c]
    if prober is not None and replicates(spec):
        health = await prober.check(ref, spec)
        if health is not None:
            extra.append(backup_condition(health, ref.generation))
    replication = await replication_condition(kube, ref, spec)
    if replication:
        extra.append(replication)
    ready, _ = conditions.rollout_state(rollout.statefulset)
    backup_changes, last_backup, warnings = await reconcile_backup_now(
        kube, ref, body, spec, rollout.version, ready and rollout.phase is None
    )
    fields = {"pruned": pruned, "drill": drill, "backup": last_backup}
    return audit_changes + drill_changes + backup_changes, extra, fields, warnings


def completed_bootstrap(
    bootstrap: dict[str, Any] | None, rollout: lifecycle.Rollout
) -> dict[str, Any] | None:
    """The bootstrap record, marked done once the first migration succeeded."""
    migration = rollout.migration or {}
    if (
        bootstrap
        and not bootstrap.get("completedAt")
        and rollout.version
        and migration.get("state") == "Succeeded"
    ):
        return {
            **bootstrap,
            "completedAt": migration.get("finishedAt"),
            "verification": migration.get("verification"),
        }
    return bootstrap


async def converge(
    kube: Kube,
    body: dict[str, Any],
    ref: InstanceRef,
    spec: s.KubarrInstanceSpec,
    peers: list[dict[str, Any]],
    prober: BackupProber | None = None,
) -> tuple[Observation, list[str], list[tuple[str, str]]]:
    """All the writes of one reconcile, in a safe order; what was observed."""
    old_status = body.get("status") or {}
    observation = Observation(
        generation=ref.generation,
        endpoint=f"{ref.endpoint}:{spec.service.port}",
        backup_location=replica_location(spec, ref),
        backup_kind=spec.backup_kind,
        desired_version=spec.image.tag,
    )
    if spec.suspend:
        # Nothing is applied, so nothing the spec says may show as current.
        unchanged = replace(
            observation,
            suspended=True,
            endpoint=old_status.get("endpoint", ""),
            backup_location=old_status.get("backup", observation.backup_location),
        )
        return unchanged, [], []

    secrets_version, plan, bootstrap, problem = await refusal(
        kube, body, ref, spec, peers, prober
    )
    if problem is not None:
        return replace(observation, problem=problem), [], []
    changes, extra, problem = await apply_base_children(
        kube, ref, spec, plan.restore_from if plan else None
    )
    if problem is not None:
        return replace(observation, problem=problem), changes, []
    changes += await ensure_admin_token(kube, ref, body)

    rollout = await lifecycle.advance(
        kube, ref, spec, old_status, secrets_version, plan
    )
    more, conditions_found, fields, warnings = await side_features(
        kube, body, ref, spec, rollout, prober
    )
    observation = replace(
        observation,
        statefulset=rollout.statefulset,
        rollout=rollout,
        extra_conditions=extra + conditions_found,
        last_audit_prune=fields["pruned"],
        last_restore_drill=fields["drill"],
        last_backup=fields["backup"],
        bootstrap=completed_bootstrap(
            bootstrap or old_status.get("bootstrap"), rollout
        ),
    )
    return observation, changes + rollout.changes + more, rollout.warnings + warnings


async def reconcile(
    kube: Kube,
    body: dict[str, Any],
    peers: list[dict[str, Any]] | None = None,
    prober: BackupProber | None = None,
) -> Result:
    """Bring one instance's children to its spec and write its status.
    ``peers`` are the other instances the operator knows, to refuse a second
    writer of one replica; ``prober`` checks S3 replicas when enabled."""
    kube = ReconcileReads(kube)
    ref = InstanceRef.from_body(body)
    old_status = body.get("status") or {}
    parsed = parse_spec(body.get("spec"))

    changes: list[str] = []
    warnings: list[tuple[str, str]] = []
    if isinstance(parsed, Problem):
        observation = Observation(
            generation=ref.generation,
            endpoint="",
            backup_location="unknown",
            backup_kind="none",
            desired_version="",
            problem=parsed,
        )
    else:
        try:
            observation, changes, warnings = await converge(
                kube, body, ref, parsed, peers or [], prober
            )
        except ApiError as error:
            if error.status not in REFUSALS:
                raise
            observation = Observation(
                generation=ref.generation,
                endpoint=old_status.get("endpoint", ""),
                backup_location=replica_location(parsed, ref),
                backup_kind=parsed.backup_kind,
                desired_version=parsed.image.tag,
                problem=Problem(
                    "Rejected",
                    f"the API server refused {error.message}: fix the spec field "
                    "that feeds it",
                ),
            )

    status = conditions.compute_status(observation, old_status)
    problem = observation.problem

    for change in changes:
        log.info("%s/%s: %s", ref.namespace, ref.name, change)
        await kube.post_event(body, "Normal", "Applied", change)
    for reason, message in warnings:
        log.warning("%s/%s: %s", ref.namespace, ref.name, message)
        await kube.post_event(body, "Warning", reason, message)
    if problem and (old_status.get("conditions") or []) != status["conditions"]:
        log.warning("%s/%s stalled: %s", ref.namespace, ref.name, problem.message)
        await kube.post_event(body, "Warning", problem.reason, problem.message)
    await _announce_prune(kube, body, old_status, status)

    patch = conditions.status_patch(old_status, status)
    if patch:
        await _announce_transition(kube, body, old_status, status)
        try:
            body = await kube.patch_status(
                body["apiVersion"], body["kind"], ref.namespace, ref.name, patch
            )
        except ApiError as error:
            if error.status != 404:
                raise
    rollout = observation.rollout
    return Result(
        body=body,
        changed=changes,
        problem=problem,
        ready=status["phase"] in ("Ready", "Hibernated"),
        requeue_after=rollout.requeue_after if rollout else None,
    )


async def _announce_prune(
    kube: Kube, body: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
) -> None:
    pruned = new.get("lastAuditPrune")
    if not pruned or pruned == old.get("lastAuditPrune"):
        return
    if pruned.get("succeeded"):
        await kube.post_event(
            body,
            "Normal",
            "AuditPruned",
            f"audit prune {pruned['job']} deleted {pruned.get('deleted', 0)} rows",
        )
    else:
        await kube.post_event(
            body,
            "Warning",
            "AuditPruneFailed",
            f"audit prune {pruned['job']} failed: {pruned.get('message', '')}",
        )


async def _announce_transition(
    kube: Kube, body: dict[str, Any], old: dict[str, Any], new: dict[str, Any]
) -> None:
    if old.get("phase") == new.get("phase"):
        return
    meta = body["metadata"]
    if new["phase"] == "Ready":
        message = f"instance is ready on version {new.get('version')}"
        migration = new.get("migration") or {}
        if migration.get("unavailableSeconds") is not None and migration.get(
            "unavailableSeconds"
        ) != (old.get("migration") or {}).get("unavailableSeconds"):
            message += (
                f" (database unavailable for {migration['unavailableSeconds']} s "
                "during the migration)"
            )
        log.info("%s/%s: %s", meta["namespace"], meta["name"], message)
        await kube.post_event(body, "Normal", "Ready", message)
    elif new["phase"] in ("Suspended", "Hibernated", "Migrating", "Upgrading"):
        await kube.post_event(body, "Normal", new["phase"], f"phase is {new['phase']}")
