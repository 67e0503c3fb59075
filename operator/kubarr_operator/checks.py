"""Checks that can refuse an instance's spec before anything is written.

Referenced Secrets and volumes, fields a volume cannot change, and objects of
a child's name that belong to someone else: each becomes a Problem whose
message names what is wrong and what to do.
"""

from __future__ import annotations

import copy
from typing import Any

from . import spec as s
from .builders.cronjobs import audit_cronjob_name, restore_drill_cronjob_name
from .builders.litestream import replicates
from .builders.pod import admin_token_secret_name
from .conditions import Problem
from .kube import Kube
from .meta import MANAGER, InstanceRef, owned_by
from .quantity import parse_quantity


async def check_references(
    kube: Kube, spec: s.KubarrInstanceSpec, namespace: str
) -> tuple[str, Problem | None]:
    """Verify referenced Secrets (and the file replica's claim) exist with the
    keys the pod needs. Returns a version string of those Secrets, which goes
    into the pod template so a changed Secret rolls the pod."""
    wanted: dict[str, set[str]] = {}
    if spec.backup.s3 and spec.backup.s3.credentials_secret_ref and replicates(spec):
        ref = spec.backup.s3.credentials_secret_ref
        wanted.setdefault(ref.name, set()).update(
            {ref.access_key_id_key, ref.secret_access_key_key}
        )
    if spec.database.engine == s.Engine.POSTGRES and spec.database.url_secret_ref:
        ref2 = spec.database.url_secret_ref
        wanted.setdefault(ref2.name, set()).add(ref2.key)

    versions = []
    for name in sorted(wanted):
        secret = await kube.secret_keys(namespace, name)
        if secret is None:
            return "", Problem(
                "SecretNotFound",
                f"Secret {namespace}/{name} does not exist: create it with the "
                f"keys {', '.join(sorted(wanted[name]))}",
            )
        missing = sorted(wanted[name] - secret.keys)
        if missing:
            return "", Problem(
                "SecretKeyMissing",
                f"Secret {namespace}/{name} has no key {', '.join(missing)}: add "
                "it, or point the spec at the key that holds the value",
            )
        # Limitation: any change to the Secret, its labels included, rolls the
        # pod; values are not hashed so nothing derived from them is stored.
        versions.append(f"{name}:{secret.resource_version}")

    if spec.backup.file and replicates(spec):
        claim = spec.backup.file.volume.persistent_volume_claim.claim_name
        found = await kube.get("v1", "PersistentVolumeClaim", namespace, claim)
        if found is None:
            return "", Problem(
                "ReplicaVolumeNotFound",
                f"PersistentVolumeClaim {namespace}/{claim} named by "
                "spec.backup.file.volume does not exist: create it first",
            )
        labels = found["metadata"].get("labels") or {}
        if (
            labels.get("app.kubernetes.io/managed-by") == MANAGER
            and labels.get("app.kubernetes.io/component") == "database"
        ):
            return "", Problem(
                "ReplicaVolumeInUse",
                f"PersistentVolumeClaim {namespace}/{claim} holds the database of "
                f"instance {labels.get('app.kubernetes.io/instance')}: a replica "
                "there would be lost with it. Name a volume of its own in "
                "spec.backup.file.volume",
            )
    return ",".join(versions), None


def claim_problem(desired: dict[str, Any], live: dict[str, Any]) -> Problem | None:
    """Fields of a bound claim that Kubernetes will not change in place."""
    want, have = desired["spec"], live.get("spec", {})
    if "storageClassName" in want and want["storageClassName"] != have.get(
        "storageClassName"
    ):
        return Problem(
            "ImmutableField",
            f"spec.storage.storageClassName is {want['storageClassName']!r} but the "
            f"volume was created with {have.get('storageClassName')!r}, which cannot "
            "change: set it back, or migrate the data to a new instance",
        )
    if sorted(want["accessModes"]) != sorted(have.get("accessModes", [])):
        return Problem(
            "ImmutableField",
            f"spec.storage.accessModes {want['accessModes']} differ from the "
            f"volume's {have.get('accessModes')}, which cannot change: set them back",
        )
    return None


async def preflight_conflicts(kube: Kube, ref: InstanceRef) -> Problem | None:
    """Children made by the lifecycle steps, checked before the first write:
    an object of the same name that is not this instance's is never taken over."""
    names = [
        ("apps/v1", "StatefulSet", ref.statefulset),
        ("v1", "Secret", admin_token_secret_name(ref)),
        ("batch/v1", "CronJob", audit_cronjob_name(ref)),
        ("batch/v1", "CronJob", restore_drill_cronjob_name(ref)),
    ]
    for api_version, kind, name in names:
        live = await kube.get(api_version, kind, ref.namespace, name)
        if live is not None and not owned_by(live, ref):
            return name_conflict(
                {"kind": kind, "metadata": {"namespace": ref.namespace, "name": name}}
            )
    return None


def with_live_request(claim: dict[str, Any], live: dict[str, Any]) -> dict[str, Any]:
    """The claim to apply, asking for no less storage than the live one."""
    have = live.get("spec", {}).get("resources", {}).get("requests", {}).get("storage")
    want = claim["spec"]["resources"]["requests"]["storage"]
    if have and parse_quantity(have) > parse_quantity(want):
        claim = copy.deepcopy(claim)
        claim["spec"]["resources"]["requests"]["storage"] = have
    return claim


def name_conflict(child: dict[str, Any]) -> Problem:
    meta = child["metadata"]
    return Problem(
        "NameConflict",
        f"{child['kind']} {meta['namespace']}/{meta['name']} already exists and "
        "does not belong to this instance: rename the instance, or delete or "
        "rename that object",
    )
