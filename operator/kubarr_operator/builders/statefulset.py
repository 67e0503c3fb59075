"""The single-replica StatefulSet that runs the Kubarr app and Litestream.

One replica and one writer: SQLite has a single writer and the data volume is
ReadWriteOnce. With one replica the StatefulSet's RollingUpdate already stops
the old pod before it starts the new one, so two pods never share the file.
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import spec as s
from ..meta import (
    APP_PORT,
    CONFIG_CHECKSUM,
    SECRETS_VERSION,
    InstanceRef,
    labels,
    object_meta,
    selector_labels,
)
from . import litestream
from .pod import (
    app_env,
    app_mounts,
    data_volumes,
    migrate_container,
    restores_automatically,
)
from .security import container_security_context, pod_security_context

# Longer than Litestream's final sync on shutdown, so the kubelet never kills
# it before the last WAL frames reach the replica.
TERMINATION_GRACE_SECONDS = litestream.SHUTDOWN_SYNC_TIMEOUT_SECONDS + 30


def config_checksum(spec: s.KubarrInstanceSpec, ref: InstanceRef) -> str:
    """A hash of the rendered config, so a config change rolls the pod."""
    rendered = (
        litestream.render_config(spec, ref) if litestream.replicates(spec) else ""
    )
    return hashlib.sha256(rendered.encode()).hexdigest()[:16]


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def app_container(spec: s.KubarrInstanceSpec, image: str) -> dict[str, Any]:
    return {
        "name": "kubarr",
        "image": image,
        "imagePullPolicy": spec.image.pull_policy,
        "args": ["serve"],
        "env": app_env(spec),
        "ports": [{"name": "http", "containerPort": APP_PORT, "protocol": "TCP"}],
        "startupProbe": _probe("/healthz", period=2, failures=60),
        "readinessProbe": _probe("/readyz", period=5, failures=3),
        "livenessProbe": _probe("/healthz", period=10, failures=6),
        "volumeMounts": [*litestream.socket_mounts(spec), *app_mounts()],
        "resources": spec.resources.app.model_dump(exclude_none=True),
        "securityContext": container_security_context(),
    }


def statefulset(
    spec: s.KubarrInstanceSpec,
    ref: InstanceRef,
    secrets_version: str,
    *,
    version: str | None = None,
    replicas: int = 1,
) -> dict[str, Any]:
    """The StatefulSet.

    ``version`` is the image tag to run (the spec's, unless an upgrade is in
    flight and the old version must keep serving or stay fenced); ``replicas``
    is 0 while the instance is fenced or hibernated. ``secrets_version``
    changes when a referenced Secret changes, which rolls the pod."""
    tag = version or spec.image.tag
    image = f"{spec.image.repository}:{tag}"
    init_containers = []
    containers = [app_container(spec, image)]
    if restores_automatically(spec):
        init_containers.append(litestream.restore_container(spec))
    if litestream.replicates(spec):
        containers.append(litestream.replicate_container(spec))
    # A no-op when the migration Job already ran; it only acts when the volume
    # came back empty and nothing could be restored.
    init_containers.append(migrate_container(spec, image))

    pod_annotations = {CONFIG_CHECKSUM: config_checksum(spec, ref)}
    if secrets_version:
        pod_annotations[SECRETS_VERSION] = secrets_version

    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": object_meta(ref, ref.statefulset, "app", version=tag),
        "spec": {
            "replicas": replicas,
            "serviceName": ref.headless_service,
            "selector": {"matchLabels": selector_labels(ref)},
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {
                    "labels": labels(ref, "app", tag),
                    "annotations": pod_annotations,
                },
                "spec": {
                    "securityContext": pod_security_context(),
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "initContainers": init_containers,
                    "containers": containers,
                    "volumes": data_volumes(spec, ref),
                },
            },
        },
    }
