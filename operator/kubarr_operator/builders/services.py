"""The headless Service (stable pod DNS for the StatefulSet) and the client
Service that users and the audit CronJob call."""

from __future__ import annotations

from typing import Any

from .. import spec as s
from ..meta import APP_PORT, InstanceRef, object_meta, selector_labels


def headless_service(ref: InstanceRef) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(ref, ref.headless_service, "app"),
        "spec": {
            "clusterIP": "None",
            "selector": selector_labels(ref),
            "publishNotReadyAddresses": True,
            "ports": [
                {
                    "name": "http",
                    "port": APP_PORT,
                    "targetPort": "http",
                    "protocol": "TCP",
                }
            ],
        },
    }


def client_service(spec: s.KubarrInstanceSpec, ref: InstanceRef) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": object_meta(ref, ref.client_service, "app"),
        "spec": {
            "type": spec.service.type,
            "selector": selector_labels(ref),
            "ports": [
                {
                    "name": "http",
                    "port": spec.service.port,
                    "targetPort": "http",
                    "protocol": "TCP",
                }
            ],
        },
    }
