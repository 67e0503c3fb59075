"""Version changes and hibernation: fence, migrate with a Job, roll out.

The database has one writer, so a schema migration must run while nothing else
has the file open. When ``spec.image.tag`` differs from the version whose
schema the database holds (``status.version``), the operator

1. fences the instance: StatefulSet to zero replicas on the old version, and
   waits until its pod is gone;
2. runs the migration Job with the new image (restore if missing, safety copy,
   ``kubarr migrate``);
3. on success records the new version and rolls the StatefulSet out on it;
   on failure brings the old version back on the untouched database, records
   why, and retries with backoff, a bounded number of times.

Every step is recorded in ``status.migration`` before the next one starts and
every object has a name derived from the target version and attempt, so an
operator killed at any point resumes without a second migration and without
leaving the instance at zero replicas.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

from . import spec as s
from .builders.jobs import (
    MIGRATION_COMPONENT,
    BootstrapPlan,
    migration_job,
    migration_job_name,
)
from .builders.statefulset import statefulset
from .conditions import now
from .drift import contains
from .kube import Kube
from .meta import InstanceRef, app_pod_selector

log = logging.getLogger(__name__)

FENCE_POLL_SECONDS = 2.0
# The first retry of a failed migration waits this long, then it doubles.
BASE_RETRY_SECONDS = int(os.environ.get("KUBARR_MIGRATION_RETRY_SECONDS", "30"))


@dataclass
class Rollout:
    """What the lifecycle step did and wants the status to say."""

    statefulset: dict[str, Any] | None = None
    migration: dict[str, Any] | None = None
    version: str | None = None
    phase: str | None = None  # overrides the phase derived from the StatefulSet
    waiting_for: str = ""
    failed: bool = False
    exhausted: bool = False
    changes: list[str] = field(default_factory=list)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    requeue_after: float | None = None


def _parse(ts: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(ts.replace("Z", "+00:00")) if ts else None


def retry_delay(attempts: int) -> int:
    """30 s, 60 s, 120 s ... (from ``KUBARR_MIGRATION_RETRY_SECONDS``), capped
    at an hour."""
    return int(min(3600, BASE_RETRY_SECONDS * 2 ** max(0, attempts - 1)))


def job_outcome(job: dict[str, Any] | None) -> str:
    """Running, Succeeded or Failed, from the Job's conditions."""
    if job is None:
        return "Missing"
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") in ("Complete", "SuccessCriteriaMet"):
            return "Succeeded"
        if condition.get("type") in ("Failed", "FailureTarget"):
            return "Failed"
    return "Running"


def termination_message(pods: list[dict[str, Any]], only: str | None = None) -> str:
    """The last words of a finished pod's containers, init containers first
    (the tail of the log on failure), for status and events; ``only`` picks
    one container by name."""
    finished = []
    for pod in pods:
        status = pod.get("status") or {}
        for container in (status.get("initContainerStatuses") or []) + (
            status.get("containerStatuses") or []
        ):
            if only is None or container.get("name") == only:
                finished.append(container)
    failed = [
        c
        for c in finished
        if ((c.get("state") or {}).get("terminated") or {}).get("exitCode")
    ]
    messages = []
    # When something failed, only the failures explain what happened.
    for container in failed or finished:
        terminated = (container.get("state") or {}).get("terminated") or {}
        text = (terminated.get("message") or "").strip()
        if text:
            messages.append(text)
        elif terminated.get("exitCode"):
            messages.append(
                f"container {container.get('name')} exited with code "
                f"{terminated['exitCode']} ({terminated.get('reason', 'Error')})"
            )
    return "\n".join(messages)[-2000:]


def parse_verification(message: str) -> str | None:
    """A one-line summary of ``kubarr verify-db``'s JSON result."""
    for line in reversed(message.splitlines()):
        try:
            result = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(result, dict):
            continue
        if result.get("database") == "missing":
            return "no database yet (fresh install)"
        rows = result.get("rows") or {}
        total = sum(v for v in rows.values() if isinstance(v, int))
        return (
            f"integrity {result.get('integrity', 'unknown')}, {total} rows in "
            f"{len(rows)} tables"
        )
    return None


async def _apply_if_differs(
    kube: Kube, desired: dict[str, Any], live: dict[str, Any] | None, changes: list[str]
) -> dict[str, Any]:
    label = f"{desired['kind']} {desired['metadata']['name']}"
    if live is not None and contains(desired, live):
        return live
    result = await kube.apply(desired)
    changes.append(f"{'created' if live is None else 'updated'} {label}")
    return result


async def _pods_of(kube: Kube, ref: InstanceRef) -> list[dict[str, Any]]:
    return await kube.list("v1", "Pod", ref.namespace, app_pod_selector(ref))


async def _prune_failed_jobs(kube: Kube, ref: InstanceRef, keep: int) -> None:
    """Keep only the newest ``keep`` failed migration Jobs."""
    selector = (
        f"app.kubernetes.io/instance={ref.name},"
        f"app.kubernetes.io/component={MIGRATION_COMPONENT}"
    )
    jobs = await kube.list("batch/v1", "Job", ref.namespace, selector)
    failed = [j for j in jobs if job_outcome(j) == "Failed"]
    failed.sort(key=lambda j: j["metadata"]["creationTimestamp"])
    for job in failed[:-keep]:
        await kube.delete("batch/v1", "Job", ref.namespace, job["metadata"]["name"])


async def advance(
    kube: Kube,
    ref: InstanceRef,
    spec: s.KubarrInstanceSpec,
    status: dict[str, Any],
    secrets_version: str,
    bootstrap: BootstrapPlan | None = None,
) -> Rollout:
    """Take the next safe step towards running ``spec.image.tag``."""
    target = spec.image.tag
    current = status.get("version")
    record = dict(status.get("migration") or {})
    if record.get("toVersion") != target:
        record = {}  # a new target supersedes an unfinished or failing attempt

    live = await kube.get("apps/v1", "StatefulSet", ref.namespace, ref.statefulset)
    result = Rollout(version=current, migration=record or status.get("migration"))

    if current == target:
        replicas = 0 if spec.hibernate else 1
        desired = statefulset(spec, ref, secrets_version, replicas=replicas)
        result.statefulset = await _apply_if_differs(
            kube, desired, live, result.changes
        )
        if spec.hibernate:
            result.phase = "Hibernated"
        return result

    if spec.hibernate:
        # Hibernation wins: fence on the old version, migrate after waking up.
        if live is not None:
            desired = statefulset(
                spec, ref, secrets_version, version=current, replicas=0
            )
            result.statefulset = await _apply_if_differs(
                kube, desired, live, result.changes
            )
        result.phase = "Hibernated"
        return result

    return await _migrate(
        kube, ref, spec, status, record, live, secrets_version, result, bootstrap
    )


async def _serve_old_version(
    kube: Kube,
    ref: InstanceRef,
    spec: s.KubarrInstanceSpec,
    current: str | None,
    live: dict[str, Any] | None,
    secrets_version: str,
    result: Rollout,
) -> None:
    """After a failed migration: the old version serves again, untouched."""
    if current is None:
        return  # first install: there is no old version to bring back
    desired = statefulset(spec, ref, secrets_version, version=current, replicas=1)
    result.statefulset = await _apply_if_differs(kube, desired, live, result.changes)


async def _migrate(
    kube: Kube,
    ref: InstanceRef,
    spec: s.KubarrInstanceSpec,
    status: dict[str, Any],
    record: dict[str, Any],
    live: dict[str, Any] | None,
    secrets_version: str,
    result: Rollout,
    bootstrap: BootstrapPlan | None,
) -> Rollout:
    target = spec.image.tag
    current = status.get("version")
    result.phase = "Migrating" if current is None else "Upgrading"
    attempts = int(record.get("attempts") or 0)

    # A failed attempt waits for its backoff (or for good, once exhausted),
    # with the old version serving meanwhile.
    if record.get("state") == "Failed":
        result.failed = True
        await _serve_old_version(
            kube, ref, spec, current, live, secrets_version, result
        )
        if attempts >= spec.migration.max_attempts:
            result.exhausted = True
            result.waiting_for = f"gave up after {attempts} attempts"
            return result
        retry_at = _parse(record.get("retryAfter"))
        remaining = (
            (retry_at - dt.datetime.now(dt.UTC)).total_seconds() if retry_at else 0
        )
        if remaining > 0:
            result.waiting_for = f"retrying the migration at {record['retryAfter']}"
            result.requeue_after = remaining + 1
            return result
        record = {"fromVersion": current, "toVersion": target, "attempts": attempts}
        result.failed = False

    record.setdefault("fromVersion", current)
    record["toVersion"] = target
    job_name = migration_job_name(ref, target, attempts + 1)

    # An operator restarted after creating this attempt's Job finds it here,
    # and neither fences again nor starts a second migration.
    job = await kube.get("batch/v1", "Job", ref.namespace, job_name)

    # Step 1: fence. Nothing else may have the database open.
    fenced = (live.get("spec") or {}).get("replicas", 1) == 0 if live else True
    if job is None and not fenced:
        desired = statefulset(spec, ref, secrets_version, version=current, replicas=0)
        result.statefulset = await _apply_if_differs(
            kube, desired, live, result.changes
        )
        record.update(state="Fencing", fencedAt=record.get("fencedAt") or now())
        result.migration = record
        result.waiting_for = "stopping the pod before migrating"
        result.requeue_after = FENCE_POLL_SECONDS
        return result
    result.statefulset = live
    record.setdefault("fencedAt", now())
    if job is None and live is not None and await _pods_of(kube, ref):
        record["state"] = "Fencing"
        result.migration = record
        result.waiting_for = "waiting for the pod to be gone before migrating"
        result.requeue_after = FENCE_POLL_SECONDS
        return result

    # Step 2: the migration Job.
    if job is None:
        plan = bootstrap if current is None else None
        job = await kube.create(migration_job(spec, ref, target, attempts + 1, plan))
        result.changes.append(f"created Job {job_name} (migrate to {target})")
        record.update(state="Running", job=job_name, startedAt=now())
    record.setdefault("startedAt", now())
    record["job"] = job_name
    outcome = job_outcome(job)

    if outcome == "Running":
        if live is not None and (live.get("spec") or {}).get("replicas", 1) != 0:
            # Someone scaled the StatefulSet up while the Job holds the
            # volume: fence again, at once.
            desired = statefulset(
                spec, ref, secrets_version, version=current, replicas=0
            )
            result.statefulset = await _apply_if_differs(
                kube, desired, live, result.changes
            )
            result.warnings.append(
                (
                    "FencedAgain",
                    "the StatefulSet was scaled up during a migration; it is back "
                    "at zero replicas",
                )
            )
        record["state"] = "Running"
        result.migration = record
        result.waiting_for = f"migration Job {job_name} is running"
        return result

    pods = await kube.list("v1", "Pod", ref.namespace, f"job-name={job_name}")
    message = termination_message(pods)
    record.update(finishedAt=record.get("finishedAt") or now(), attempts=attempts + 1)

    if outcome == "Succeeded":
        verified = parse_verification(termination_message(pods, only="verify"))
        record.update(
            state="Succeeded", message=message[-500:] or None, verification=verified
        )
        record.pop("retryAfter", None)
        result.migration = record
        result.version = target
        desired = statefulset(spec, ref, secrets_version, replicas=1)
        result.statefulset = await _apply_if_differs(
            kube, desired, live, result.changes
        )
        result.changes.append(
            f"migrated {current} -> {target}"
            if current
            else f"migrated to {target} (first start of this instance)"
        )
        return result

    # Failed: bring the old version back and retry later.
    delay = retry_delay(attempts + 1)
    retry_at = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delay)
    record.update(
        state="Failed",
        message=message or "the migration Job failed without a message",
        retryAfter=retry_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    result.migration = record
    result.failed = True
    result.exhausted = attempts + 1 >= spec.migration.max_attempts
    result.warnings.append(
        (
            "MigrationFailed",
            f"migration to {target} failed (attempt {attempts + 1} of "
            f"{spec.migration.max_attempts}): {message[-600:]}",
        )
    )
    await _serve_old_version(kube, ref, spec, current, live, secrets_version, result)
    await _prune_failed_jobs(kube, ref, spec.migration.keep_failed_jobs)
    result.requeue_after = None if result.exhausted else delay + 1
    result.waiting_for = (
        f"gave up after {attempts + 1} attempts"
        if result.exhausted
        else f"retrying the migration at {record['retryAfter']}"
    )
    return result
