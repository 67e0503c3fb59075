"""The admin token Secret that lets the audit CronJob call the prune endpoint.

The operator creates it once with a random token and replaces the token only
when asked (the ``kubarr.io/rotate-admin-token`` annotation on the instance
changes). The token never appears in a log, an event or the status.
"""

from __future__ import annotations

import base64
import secrets
from typing import Any

from ..meta import ANNOTATION_PREFIX, InstanceRef, object_meta
from .pod import admin_token_secret_name

ROTATE_ANNOTATION = f"{ANNOTATION_PREFIX}/rotate-admin-token"
ROTATED_FOR = f"{ANNOTATION_PREFIX}/rotated-for"


def admin_token_secret(ref: InstanceRef, rotation: str = "") -> dict[str, Any]:
    """A new Secret with a fresh random token (not pure: it draws the token)."""
    token = secrets.token_urlsafe(32)
    meta = object_meta(ref, admin_token_secret_name(ref), "admin-token")
    meta["annotations"] = {ROTATED_FOR: rotation}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": meta,
        "data": {"token": base64.b64encode(token.encode()).decode()},
    }
