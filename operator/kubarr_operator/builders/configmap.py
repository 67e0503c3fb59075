"""The ConfigMap that carries Litestream's configuration (never a secret)."""

from __future__ import annotations

from typing import Any

from .. import spec as s
from ..meta import InstanceRef, object_meta
from .litestream import render_config, render_restore_config, replicates


def litestream_configmap(
    spec: s.KubarrInstanceSpec,
    ref: InstanceRef,
    restore_source: tuple[s.S3Target, str] | None = None,
) -> dict[str, Any]:
    """``litestream.yml`` for replication, and ``restore.yml`` while a new
    instance still has to be restored from another replica."""
    data = {}
    if replicates(spec):
        data["litestream.yml"] = render_config(spec, ref)
    if restore_source is not None:
        data["restore.yml"] = render_restore_config(spec, *restore_source)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(ref, ref.litestream_config, "litestream"),
        "data": data,
    }
