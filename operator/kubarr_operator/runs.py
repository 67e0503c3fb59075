"""An instance's CronJobs, and the last finished run of one of them.

A run reports its result as its pod's termination message (one JSON line);
reading it from the pod's status needs neither the pod's logs nor a network
path into the cluster.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .drift import contains
from .kube import Kube
from .lifecycle import job_outcome, termination_message
from .meta import InstanceRef, owned_by


async def sync_cronjob(
    kube: Kube, ref: InstanceRef, name: str, desired: dict[str, Any] | None
) -> list[str]:
    """Apply ``desired`` where the live CronJob differs; with None, remove the
    CronJob if this instance owns it. Returns the changes made."""
    live = await kube.get("batch/v1", "CronJob", ref.namespace, name)
    if desired is None:
        if live is not None and owned_by(live, ref):
            await kube.delete("batch/v1", "CronJob", ref.namespace, name)
            return [f"deleted CronJob {name}"]
        return []
    if live is None or not contains(desired, live):
        await kube.apply(desired)
        return [f"{'created' if live is None else 'updated'} CronJob {name}"]
    return []


@dataclass(frozen=True)
class Run:
    job: str
    time: str
    succeeded: bool
    message: str
    result: dict[str, Any]


def _finish_time(job: dict[str, Any]) -> str:
    status = job.get("status") or {}
    for item in status.get("conditions") or []:
        if item.get("status") == "True" and item.get("type") in ("Complete", "Failed"):
            return str(item.get("lastTransitionTime") or "")
    return str(status.get("completionTime") or "")


def parse_result(message: str) -> dict[str, Any]:
    """The last JSON object line in a termination message."""
    for line in reversed(message.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                found = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(found, dict):
                return found
    return {}


async def last_finished_run(
    kube: Kube, ref: InstanceRef, component: str, previous_job: str | None
) -> Run | None:
    """The newest finished Job of ``component``; None when there is none or it
    is the one already recorded (``previous_job``)."""
    selector = (
        f"app.kubernetes.io/instance={ref.name},app.kubernetes.io/component={component}"
    )
    jobs = await kube.list("batch/v1", "Job", ref.namespace, selector)
    finished = [j for j in jobs if job_outcome(j) in ("Succeeded", "Failed")]
    if not finished:
        return None
    newest = max(finished, key=_finish_time)
    name = newest["metadata"]["name"]
    if name == previous_job:
        return None
    pods = await kube.list("v1", "Pod", ref.namespace, f"job-name={name}")
    message = termination_message(pods)
    return Run(
        job=name,
        time=_finish_time(newest),
        succeeded=job_outcome(newest) == "Succeeded",
        message=message,
        result=parse_result(message),
    )
