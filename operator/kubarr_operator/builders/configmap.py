"""The ConfigMap that carries ``litestream.yml`` (never a secret)."""

from __future__ import annotations

from typing import Any

from .. import spec as s
from ..meta import InstanceRef, object_meta
from .litestream import render_config


def litestream_configmap(
    spec: s.KubarrInstanceSpec, ref: InstanceRef
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": object_meta(ref, ref.litestream_config, "litestream"),
        "data": {"litestream.yml": render_config(spec, ref)},
    }
