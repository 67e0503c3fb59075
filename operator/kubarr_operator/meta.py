"""Names, labels and owner references shared by every child object.

One place decides what a child is called and how it is labelled, so the
builders, the reconciler and the child watches can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import spec as s

MANAGER = "kubarr-operator"
"""Field manager for server-side apply and the managed-by label value."""

ANNOTATION_PREFIX = "kubarr.io"
CONFIG_CHECKSUM = f"{ANNOTATION_PREFIX}/config-checksum"
SECRETS_VERSION = f"{ANNOTATION_PREFIX}/secrets-version"

DATA_MOUNT = "/data"
DATABASE_FILE = f"{DATA_MOUNT}/kubarr.db"
LITESTREAM_CONFIG_DIR = "/etc/litestream"
LITESTREAM_CONFIG_FILE = f"{LITESTREAM_CONFIG_DIR}/litestream.yml"
APP_PORT = 8000
LITESTREAM_METRICS_PORT = 9090


@dataclass(frozen=True)
class InstanceRef:
    """Identity of one KubarrInstance, enough to name and own its children."""

    namespace: str
    name: str
    uid: str
    generation: int = 0

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> InstanceRef:
        meta = body["metadata"]
        return cls(
            namespace=meta["namespace"],
            name=meta["name"],
            uid=meta["uid"],
            generation=int(meta.get("generation") or 0),
        )

    # Child names. Kept short: a StatefulSet name ends up in pod hostnames.
    @property
    def data_claim(self) -> str:
        return f"{self.name}-data"

    @property
    def litestream_config(self) -> str:
        return f"{self.name}-litestream"

    @property
    def statefulset(self) -> str:
        return self.name

    @property
    def headless_service(self) -> str:
        return f"{self.name}-headless"

    @property
    def client_service(self) -> str:
        return self.name

    @property
    def endpoint(self) -> str:
        return f"http://{self.client_service}.{self.namespace}.svc"


def selector_labels(ref: InstanceRef) -> dict[str, str]:
    """Labels that select the instance's pod; never change them after creation."""
    return {
        "app.kubernetes.io/name": "kubarr",
        "app.kubernetes.io/instance": ref.name,
    }


def labels(
    ref: InstanceRef, component: str, version: str | None = None
) -> dict[str, str]:
    """The standard ``app.kubernetes.io/*`` labels of a child object."""
    result = {
        **selector_labels(ref),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "kubarr",
        "app.kubernetes.io/managed-by": MANAGER,
    }
    if version:
        result["app.kubernetes.io/version"] = version[:63]
    return result


def owner_reference(ref: InstanceRef) -> dict[str, Any]:
    return {
        "apiVersion": f"{s.GROUP}/{s.VERSION}",
        "kind": s.KIND,
        "name": ref.name,
        "uid": ref.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def object_meta(
    ref: InstanceRef,
    name: str,
    component: str,
    *,
    owned: bool = True,
    version: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": ref.namespace,
        "labels": labels(ref, component, version),
    }
    if owned:
        meta["ownerReferences"] = [owner_reference(ref)]
    return meta
