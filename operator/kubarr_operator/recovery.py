"""Where an instance's data comes from and whom its replica belongs to.

Checked before the first write of a reconcile: a second writer of one replica,
a clone whose source is missing, or (in Manual recovery) a new volume beside a
replica that holds data all stop the instance as Stalled with nothing applied.
"""

from __future__ import annotations

from typing import Any

from . import spec as s
from .builders.jobs import BootstrapPlan
from .builders.litestream import replica_location, replicates
from .conditions import Problem
from .kube import Kube
from .meta import InstanceRef
from .probe import BackupProber
from .specs import parse_spec


def replica_key(spec: s.KubarrInstanceSpec, ref: InstanceRef) -> str | None:
    """Where this instance's replica lives, as a comparable string."""
    if not replicates(spec):
        return None
    if spec.backup.s3:
        endpoint = (spec.backup.s3.endpoint or "aws").rstrip("/").lower()
        path = spec.replica_path(ref.namespace, ref.name)
        return f"{endpoint}|{spec.backup.s3.bucket}|{path}"
    assert spec.backup.file is not None
    claim = spec.backup.file.volume.persistent_volume_claim.claim_name
    return f"file|{ref.namespace}|{claim}|{spec.backup.file.path.rstrip('/')}"


def replica_conflict(
    body: dict[str, Any], spec: s.KubarrInstanceSpec, peers: list[dict[str, Any]]
) -> Problem | None:
    """Two instances replicating to one place corrupt the replica: the older
    instance keeps it, the newer one is refused."""
    ref = InstanceRef.from_body(body)
    mine = replica_key(spec, ref)
    if mine is None:
        return None

    def age(item: dict[str, Any]) -> tuple[str, str, str]:
        meta = item["metadata"]
        return (meta.get("creationTimestamp", ""), meta["namespace"], meta["name"])

    for peer in sorted(peers, key=age):
        if peer["metadata"].get("uid") == ref.uid:
            return None  # we are the oldest user of this replica
        if peer["metadata"].get("deletionTimestamp"):
            continue
        parsed = parse_spec(peer.get("spec"))
        if isinstance(parsed, Problem):
            continue
        if replica_key(parsed, InstanceRef.from_body(peer)) == mine:
            other = f"{peer['metadata']['namespace']}/{peer['metadata']['name']}"
            return Problem(
                "ReplicaInUse",
                f"{replica_location(spec, ref)} is already the replica of {other}: "
                "two writers corrupt a replica. Give this instance its own "
                "spec.backup.s3.path (or file path)",
            )
    return None


async def bootstrap_plan(
    kube: Kube, ref: InstanceRef, spec: s.KubarrInstanceSpec, status: dict[str, Any]
) -> tuple[BootstrapPlan | None, dict[str, Any] | None, Problem | None]:
    """Where a new instance's data comes from, while it has never been migrated."""
    if spec.bootstrap is None or status.get("version"):
        return None, None, None
    if spec.bootstrap.from_postgres is not None:
        source = spec.bootstrap.from_postgres.url_secret_ref
        secret = await kube.secret_keys(ref.namespace, source.name)
        if secret is None or source.key not in secret.keys:
            return (
                None,
                None,
                Problem(
                    "SecretNotFound",
                    f"spec.bootstrap.fromPostgres names Secret {ref.namespace}/"
                    f"{source.name} key {source.key}, which does not exist: create it "
                    "with the postgresql:// URL",
                ),
            )
        origin = {"method": "postgres", "source": f"Secret {source.name}/{source.key}"}
        return BootstrapPlan(postgres=source), origin, None

    restore = spec.bootstrap.restore
    assert restore is not None
    if restore.from_instance:
        body = await kube.get(
            f"{s.GROUP}/{s.VERSION}", s.KIND, ref.namespace, restore.from_instance
        )
        parsed = parse_spec(body.get("spec")) if body else None
        if (
            body is None
            or not isinstance(parsed, s.KubarrInstanceSpec)
            or not (parsed.backup.s3)
        ):
            return (
                None,
                None,
                Problem(
                    "RestoreSourceNotFound",
                    "spec.bootstrap.restore.fromInstance names "
                    f"{restore.from_instance}, which is not a KubarrInstance with "
                    "an S3 replica in "
                    f"{ref.namespace}: name one, or give spec.bootstrap.restore.s3",
                ),
            )
        target = parsed.backup.s3
        path = parsed.replica_path(ref.namespace, restore.from_instance)
        method = "clone"
    else:
        assert restore.s3 is not None
        target = restore.s3
        path = spec.replica_path(ref.namespace, ref.name)
        path = (restore.s3.path or path).strip("/")
        method = "restore"
    assert target.credentials_secret_ref is not None
    creds = target.credentials_secret_ref
    secret = await kube.secret_keys(ref.namespace, creds.name)
    if secret is None:
        return (
            None,
            None,
            Problem(
                "SecretNotFound",
                f"Secret {ref.namespace}/{creds.name} with the restore source's keys "
                "does not exist: create it",
            ),
        )
    record: dict[str, Any] = {
        "method": method,
        "source": f"s3://{target.bucket}/{path}",
        "timestamp": restore.timestamp,
    }
    plan = BootstrapPlan(restore_from=(target, path), timestamp=restore.timestamp)
    return plan, record, None


async def manual_recovery_problem(
    kube: Kube, ref: InstanceRef, spec: s.KubarrInstanceSpec, prober: BackupProber
) -> Problem | None:
    """In Manual recovery, a new volume next to a replica that holds data is a
    decision for a person: restoring it or starting empty both lose something."""
    # Limitation: only a new volume is noticed; a database file removed by
    # hand from an existing volume, and file replicas, are not checked.
    if spec.backup.recovery != s.Recovery.MANUAL or spec.backup.s3 is None:
        return None
    if await kube.get("v1", "PersistentVolumeClaim", ref.namespace, ref.data_claim):
        return None
    health = await prober.check(ref, spec, fresh=True)
    location = replica_location(spec, ref)
    if health is not None and not health.healthy:
        return Problem(
            "ReplicaUnknown",
            f"spec.backup.recovery is Manual and the volume is new, but "
            f"{location} cannot be checked ({health.reason}): fix the replica "
            "access so the operator can tell whether it holds data",
        )
    if health is not None and health.holds_data:
        return Problem(
            "ReplicaHoldsData",
            f"the volume is new but {location} holds a replica, and "
            "spec.backup.recovery is Manual: set it to Automatic to restore the "
            "replica, or point spec.backup.s3.path elsewhere to start empty",
        )
    return None
