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
from .statefulset import statefulset
from .storage import data_claim


def desired_children(
    spec: s.KubarrInstanceSpec, ref: InstanceRef, secrets_version: str = ""
) -> list[dict[str, Any]]:
    """Every child object, in the order they should be applied: the claim and
    config first, the StatefulSet that mounts them last."""
    children = [data_claim(spec, ref)]
    if replicates(spec):
        children.append(litestream_configmap(spec, ref))
    children.append(headless_service(ref))
    children.append(client_service(spec, ref))
    children.append(statefulset(spec, ref, secrets_version))
    return children
