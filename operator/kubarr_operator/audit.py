"""Audit retention: the admin token, the prune CronJob and the last run's result.

The CronJob's pod reports its result as its termination message (one JSON line
from ``kubarr audit-prune``); the operator reads it from the pod's status, so
it needs neither the pod's logs nor a way into the app.
"""

from __future__ import annotations

import logging
from typing import Any

from . import spec as s
from .builders.cronjobs import PRUNE_COMPONENT, audit_cronjob, audit_cronjob_name
from .builders.pod import admin_token_secret_name
from .builders.secrets import ROTATE_ANNOTATION, ROTATED_FOR, admin_token_secret
from .conditions import condition
from .kube import Kube
from .meta import InstanceRef
from .runs import last_finished_run, sync_cronjob

log = logging.getLogger(__name__)

AUDIT_CONDITION = "AuditRetention"


async def ensure_admin_token(
    kube: Kube, ref: InstanceRef, body: dict[str, Any]
) -> list[str]:
    """Create the token Secret once; replace the token when rotation is asked."""
    annotations = body["metadata"].get("annotations") or {}
    rotation = annotations.get(ROTATE_ANNOTATION, "")
    name = admin_token_secret_name(ref)
    live = await kube.get("v1", "Secret", ref.namespace, name)
    if live is None:
        await kube.create(admin_token_secret(ref, rotation))
        return [f"created Secret {name} (admin token)"]
    if (live["metadata"].get("annotations") or {}).get(ROTATED_FOR, "") != rotation:
        fresh = admin_token_secret(ref, rotation)
        fresh["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
        await kube.replace(fresh)
        return [f"rotated the admin token in Secret {name}"]
    return []


async def last_prune(
    kube: Kube, ref: InstanceRef, previous: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The newest finished prune run, as ``status.lastAuditPrune``."""
    run = await last_finished_run(
        kube, ref, PRUNE_COMPONENT, (previous or {}).get("job")
    )
    if run is None:
        return previous
    succeeded = run.succeeded and "error" not in run.result
    record: dict[str, Any] = {"job": run.job, "time": run.time, "succeeded": succeeded}
    if isinstance(run.result.get("deleted"), int):
        record["deleted"] = run.result["deleted"]
    if not succeeded:
        record["message"] = str(
            run.result.get("error") or run.message or "the job failed"
        )[:1000]
    return record


async def reconcile_audit(
    kube: Kube,
    ref: InstanceRef,
    spec: s.KubarrInstanceSpec,
    version: str | None,
    status: dict[str, Any],
) -> tuple[list[str], dict[str, Any] | None, dict[str, Any] | None]:
    """Apply or remove the CronJob; return changes, ``lastAuditPrune`` and the
    AuditRetention condition."""
    name = audit_cronjob_name(ref)
    if spec.audit is None:
        changes = await sync_cronjob(kube, ref, name, None)
        return changes, status.get("lastAuditPrune"), None
    if version is None:
        return [], status.get("lastAuditPrune"), None  # no app to call yet
    changes = await sync_cronjob(kube, ref, name, audit_cronjob(spec, ref, version))

    pruned = await last_prune(kube, ref, status.get("lastAuditPrune"))
    gen = ref.generation
    if pruned is None:
        cond = condition(
            AUDIT_CONDITION,
            "Unknown",
            "NotRunYet",
            f"the first prune runs on schedule {spec.audit.schedule}",
            gen,
        )
    elif pruned.get("succeeded"):
        cond = condition(
            AUDIT_CONDITION,
            "True",
            "Pruned",
            f"last run {pruned.get('time')} deleted {pruned.get('deleted', 0)} rows "
            f"older than {spec.audit.retention_days} days",
            gen,
        )
    else:
        cond = condition(
            AUDIT_CONDITION,
            "False",
            "PruneFailed",
            f"last run {pruned.get('time')} failed: {pruned.get('message', '')}",
            gen,
        )
    return changes, pruned, cond
