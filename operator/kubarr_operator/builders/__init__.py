"""Pure functions from a validated spec to the manifests of an instance's children.

Nothing in this package talks to the API: each builder takes the parsed spec
(and the instance's identity) and returns a plain dict, so every manifest can
be tested without a cluster.
"""

from __future__ import annotations

from typing import Any

from .. import spec as s
from ..meta import InstanceRef
from .configmap import litestream_configmap
from .litestream import replicates
from .services import client_service, headless_service
from .storage import data_claim


def base_children(
    spec: s.KubarrInstanceSpec,
    ref: InstanceRef,
    restore_source: tuple[s.S3Target, str] | None = None,
) -> list[dict[str, Any]]:
    """The children that never depend on the version being rolled out: the
    claim, Litestream's config and the Services. The StatefulSet, the
    migration Job and the CronJobs are built by the lifecycle steps."""
    children = [data_claim(spec, ref)]
    if replicates(spec) or restore_source is not None:
        children.append(litestream_configmap(spec, ref, restore_source))
    children.append(headless_service(ref))
    children.append(client_service(spec, ref))
    return children
