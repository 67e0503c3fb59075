"""Pod and container security settings shared by every workload we build.

Non-root, read-only root filesystem, no capabilities, RuntimeDefault seccomp:
what the restricted Pod Security Standard asks for, so the instance runs in a
namespace that enforces it.
"""

from __future__ import annotations

from typing import Any

RUN_AS_USER = 65532
"""The non-root user of the app and Litestream images (distroless "nonroot")."""


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        # Skip the recursive chown of the volume on every start once the
        # root of the volume already has the right owner.
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
