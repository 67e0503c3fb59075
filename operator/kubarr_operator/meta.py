"""Names, labels and owner references shared by every child object.

One place decides what a child is called and how it is labelled, so the
builders, the reconciler and the child watches can never disagree.
"""

from __future__ import annotations

import re
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


def app_pod_selector(ref: InstanceRef) -> str:
    """Label selector of the instance's app pod, for listing it."""
    wanted = {**selector_labels(ref), "app.kubernetes.io/component": "app"}
    return ",".join(f"{key}={value}" for key, value in wanted.items())


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
    label = label_value(version or "")
    if label:
        result["app.kubernetes.io/version"] = label
    return result


def label_value(text: str) -> str:
    """``text`` made a valid label value (63 characters of [A-Za-z0-9_.-],
    alphanumeric at both ends): an image tag such as ``1.0+build`` is not one."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)


def owned_by(obj: dict[str, Any], ref: InstanceRef) -> bool:
    """Whether ``obj`` has this instance as an owner."""
    owners = obj.get("metadata", {}).get("ownerReferences") or []
    return any(o.get("uid") == ref.uid for o in owners)


def foreign(obj: dict[str, Any], ref: InstanceRef) -> bool:
    """An object with a child's name that this instance must not take over: not
    owned by it, and (for a volume kept from an earlier instance of the same
    name) not labelled as this instance's either."""
    if owned_by(obj, ref):
        return False
    found = obj.get("metadata", {}).get("labels") or {}
    return not (
        found.get("app.kubernetes.io/managed-by") == MANAGER
        and found.get("app.kubernetes.io/instance") == ref.name
        and not obj.get("metadata", {}).get("ownerReferences")
    )


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
