"""The scheduled restore drill: its CronJob and the last result in status."""

from __future__ import annotations

from typing import Any

from . import spec as s
from .builders.cronjobs import (
    DRILL_COMPONENT,
    restore_drill_cronjob,
    restore_drill_cronjob_name,
)
from .builders.litestream import replicates
from .conditions import condition
from .kube import Kube
from .meta import InstanceRef
from .runs import last_finished_run, sync_cronjob

DRILL_CONDITION = "RestoreDrill"


async def last_drill(
    kube: Kube, ref: InstanceRef, previous: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The newest finished drill, as ``status.lastRestoreDrill``."""
    run = await last_finished_run(
        kube, ref, DRILL_COMPONENT, (previous or {}).get("job")
    )
    if run is None:
        return previous
    found = run.result.get("rows")
    rows: dict[str, Any] = found if isinstance(found, dict) else {}
    succeeded = run.succeeded and run.result.get("integrity") == "ok"
    record: dict[str, Any] = {
        "job": run.job,
        "time": run.time,
        "succeeded": succeeded,
        "integrity": str(run.result.get("integrity", "unknown"))[:200],
        "tables": len(rows),
        "rows": sum(int(v) for v in rows.values() if isinstance(v, int)),
    }
    if not succeeded:
        record["message"] = (run.message or "the drill failed")[:1000]
    return record


async def reconcile_drill(
    kube: Kube,
    ref: InstanceRef,
    spec: s.KubarrInstanceSpec,
    version: str | None,
    status: dict[str, Any],
) -> tuple[list[str], dict[str, Any] | None, dict[str, Any] | None]:
    """Apply or remove the drill CronJob; return changes, ``lastRestoreDrill``
    and the RestoreDrill condition."""
    name = restore_drill_cronjob_name(ref)
    previous = status.get("lastRestoreDrill")
    if spec.backup.drill is None or not replicates(spec):
        return await sync_cronjob(kube, ref, name, None), previous, None
    if version is None:
        return [], previous, None  # nothing restorable before the first start
    desired = restore_drill_cronjob(spec, ref, version)
    changes = await sync_cronjob(kube, ref, name, desired)

    drill = await last_drill(kube, ref, previous)
    gen = ref.generation
    if drill is None:
        cond = condition(
            DRILL_CONDITION,
            "Unknown",
            "NotRunYet",
            f"the first drill runs on schedule {spec.backup.drill.schedule}",
            gen,
        )
    elif drill["succeeded"]:
        cond = condition(
            DRILL_CONDITION,
            "True",
            "Restorable",
            f"drill {drill['time']}: the latest replica restored with integrity ok, "
            f"{drill['rows']} rows in {drill['tables']} tables",
            gen,
        )
    else:
        cond = condition(
            DRILL_CONDITION,
            "False",
            "DrillFailed",
            f"drill {drill['time']} failed: {drill.get('message', '')}",
            gen,
        )
    return changes, drill, cond
