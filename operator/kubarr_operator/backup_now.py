"""Backup now, and ReplicationHealthy.

Backup now: ``kubectl annotate kubarr NAME kubarr.io/backup-now=<any new value>``
makes the operator run a Job that asks the app to have Litestream sync to the
replica at once and wait for it; the result lands in ``status.lastBackup`` and
an event. Each distinct value is one request.

ReplicationHealthy: the Litestream sidecar's readiness probe asks the app for
the replication lag, so the pod's own status says whether replication keeps
up; the operator reads it from there and never connects to the pod.
"""

from __future__ import annotations

from typing import Any

from . import spec as s
from .builders.jobs import backup_job_name, backup_now_job
from .builders.litestream import has_socket, replicates
from .conditions import condition
from .kube import Kube
from .lifecycle import job_outcome, termination_message
from .meta import ANNOTATION_PREFIX, InstanceRef, app_pod_selector
from .runs import parse_result

BACKUP_NOW_ANNOTATION = f"{ANNOTATION_PREFIX}/backup-now"
REPLICATION_HEALTHY = "ReplicationHealthy"


async def reconcile_backup_now(
    kube: Kube,
    ref: InstanceRef,
    body: dict[str, Any],
    spec: s.KubarrInstanceSpec,
    version: str | None,
    ready: bool,
) -> tuple[list[str], dict[str, Any] | None, list[tuple[str, str]]]:
    """Start or follow the Job for the newest request; return changes, the
    ``lastBackup`` record and warnings for events."""
    previous = (body.get("status") or {}).get("lastBackup")
    request = (body["metadata"].get("annotations") or {}).get(BACKUP_NOW_ANNOTATION)
    if not request or (previous or {}).get("request") == request:
        return [], previous, []

    if not has_socket(spec) or version is None or not ready:
        why = (
            "the instance does not replicate with Litestream 0.5"
            if not has_socket(spec)
            else "the instance is not Ready"
        )
        refused: dict[str, Any] = {
            "request": request,
            "succeeded": False,
            "message": f"not started: {why}",
        }
        return [], refused, [("BackupNowRefused", f"backup now not started: {why}")]

    name = backup_job_name(ref, request)
    job = await kube.get("batch/v1", "Job", ref.namespace, name)
    if job is None:
        await kube.create(backup_now_job(spec, ref, version, request))
        return [f"created Job {name} (backup now)"], previous, []
    outcome = job_outcome(job)
    if outcome == "Running":
        return [], previous, []

    pods = await kube.list("v1", "Pod", ref.namespace, f"job-name={name}")
    message = termination_message(pods)
    result = parse_result(message)
    succeeded = outcome == "Succeeded" and "error" not in result
    record: dict[str, Any] = {
        "request": request,
        "job": name,
        "time": (job.get("status") or {}).get("completionTime"),
        "succeeded": succeeded,
    }
    for key, field in (("txid", "txid"), ("replicated_txid", "replicatedTxid")):
        if isinstance(result.get(key), int):
            record[field] = result[key]
    if not succeeded:
        record["message"] = str(result.get("error") or message or "failed")[:1000]
        return [], record, [("BackupNowFailed", record["message"])]
    return [f"backup now {request!r} done"], record, []


async def replication_condition(
    kube: Kube, ref: InstanceRef, spec: s.KubarrInstanceSpec
) -> dict[str, Any] | None:
    """ReplicationHealthy from the Litestream container's readiness."""
    if not replicates(spec) or spec.hibernate:
        return None
    gen = ref.generation
    lag = spec.backup.litestream.max_replication_lag
    if not has_socket(spec):
        return condition(
            REPLICATION_HEALTHY,
            "Unknown",
            "NotReported",
            "Litestream 0.3 does not report its position; use 0.5 for this check",
            gen,
        )
    pods = await kube.list("v1", "Pod", ref.namespace, app_pod_selector(ref))
    for pod in pods:
        for container in (pod.get("status") or {}).get("containerStatuses") or []:
            if container.get("name") != "litestream":
                continue
            if container.get("ready"):
                return condition(
                    REPLICATION_HEALTHY,
                    "True",
                    "InSync",
                    f"Litestream has no unsent change older than {lag}",
                    gen,
                )
            return condition(
                REPLICATION_HEALTHY,
                "False",
                "Lagging",
                f"Litestream has unsent changes older than {lag}, or does not "
                "answer: the pod's GET /replicationz and the litestream "
                "container's log say why",
                gen,
            )
    return condition(
        REPLICATION_HEALTHY,
        "Unknown",
        "NoPod",
        "no pod is running to report replication",
        gen,
    )
