"""Growing the data volume, and saying plainly when it cannot grow.

Kubernetes refuses to shrink a claim and only grows one whose StorageClass has
``allowVolumeExpansion``; the operator checks that first so the status says why
nothing happened instead of the reconcile failing on the API's refusal.
"""

from __future__ import annotations

from typing import Any

from .conditions import condition
from .kube import ApiError, Kube
from .quantity import parse_quantity

STORAGE_CONDITION = "StorageResized"


def requested(claim: dict[str, Any]) -> str | None:
    return (
        (claim.get("spec") or {})
        .get("resources", {})
        .get("requests", {})
        .get("storage")
    )


async def grow_claim(
    kube: Kube, desired: dict[str, Any], live: dict[str, Any], generation: int
) -> tuple[list[str], dict[str, Any] | None]:
    """Apply a larger request if the class allows it. Returns changes and the
    StorageResized condition (None when no growth was asked for)."""
    want, have = requested(desired), requested(live)
    if want is None or have is None or parse_quantity(want) <= parse_quantity(have):
        return [], None

    name = desired["metadata"]["name"]
    class_name = (live.get("spec") or {}).get("storageClassName")
    if class_name:
        storage_class = await kube.get(
            "storage.k8s.io/v1", "StorageClass", None, class_name
        )
        if storage_class is not None and not storage_class.get("allowVolumeExpansion"):
            return [], condition(
                STORAGE_CONDITION,
                "False",
                "ExpansionNotSupported",
                f"StorageClass {class_name} does not allow volume expansion: the "
                f"volume stays at {have} although spec.storage.size is {want}. "
                "Set spec.storage.size back, or move the data to a volume of a "
                "class that allows expansion",
                generation,
            )

    try:
        await kube.apply(desired)
    except ApiError as error:
        if error.status not in (403, 422):
            raise
        return [], condition(
            STORAGE_CONDITION,
            "False",
            "ResizeRejected",
            f"the API server refused to grow {name} from {have} to {want}: "
            f"{error.message}",
            generation,
        )
    return [f"grew PersistentVolumeClaim {name} from {have} to {want}"], condition(
        STORAGE_CONDITION,
        "True",
        "Requested",
        f"volume request raised from {have} to {want}; the storage driver grows "
        "it (the claim's status.capacity shows when it is done)",
        generation,
    )
