"""The PersistentVolumeClaim that holds the SQLite database.

The operator creates the claim itself instead of using the StatefulSet's
``volumeClaimTemplates``, so a migration Job can mount it before the
StatefulSet exists. With ``reclaimPolicy: Retain`` (the default) the claim has
no owner reference and outlives the instance: a ``kubectl delete`` must never
take a homelab's only database with it.
"""

from __future__ import annotations

from typing import Any

from .. import spec as s
from ..meta import InstanceRef, object_meta


def data_claim(spec: s.KubarrInstanceSpec, ref: InstanceRef) -> dict[str, Any]:
    owned = spec.storage.reclaim_policy == s.ReclaimPolicy.DELETE
    claim_spec: dict[str, Any] = {
        "accessModes": list(spec.storage.access_modes),
        "resources": {"requests": {"storage": spec.storage.size}},
    }
    if spec.storage.storage_class_name is not None:
        claim_spec["storageClassName"] = spec.storage.storage_class_name
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": object_meta(ref, ref.data_claim, "database", owned=owned),
        "spec": claim_spec,
    }
