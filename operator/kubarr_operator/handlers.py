"""kopf registrations: thin handlers that feed the reconcile scheduler.

kopf is used as the watcher. Every event of an instance, and every event of a
child the operator manages, asks for a reconcile of that instance; the
scheduler coalesces them and :func:`reconcile.reconcile` does the work. There
are no change handlers, timers or daemons, so kopf puts no finalizer on the
instances (deleting an instance never waits for the operator) and stores no
progress or diff-base annotations on them.
"""

from __future__ import annotations

import logging
from typing import Any

import kopf

from . import spec as s
from .meta import ANNOTATION_PREFIX, MANAGER
from .runtime import Runtime

log = logging.getLogger(__name__)

MANAGED = {"app.kubernetes.io/managed-by": MANAGER}


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    """Pin every kopf setting the operator depends on, then start the work."""
    # Our own names, so kopf never collides with another kopf operator.
    settings.persistence.finalizer = f"{ANNOTATION_PREFIX}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    # Ask the API server to end each watch after 5 minutes and give up on a
    # silent connection a little later, so a half-dead connection is noticed.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.watching.connect_timeout = 30
    settings.watching.reconnect_backoff = 2.0
    # The operator posts its own events; kopf turning log lines into events
    # would write to the API on every reconcile.
    settings.posting.enabled = False
    # Resources are resolved once at start: no need to list and watch CRDs.
    settings.scanning.disabled = True

    runtime: Runtime = memo.runtime
    runtime.start()


@kopf.on.cleanup()
async def shutdown(memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    await runtime.stop()


@kopf.on.login()
def login(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    """kopf uses the same credentials as the operator's own client."""
    runtime: Runtime = memo.runtime
    creds = runtime.kube.credentials
    return kopf.ConnectionInfo(
        server=creds.server,
        ca_path=creds.ca_file,
        insecure=creds.insecure,
        scheme="Bearer" if creds.bearer() else None,
        token=creds.bearer(),
        certificate_path=creds.cert_file,
        private_key_path=creds.key_file,
        default_namespace=creds.namespace,
    )


@kopf.on.event(s.GROUP, s.VERSION, s.PLURAL)
async def instance_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime = memo.runtime
    runtime.observe(event.get("type"), dict(event["object"]))


# The children whose changes may need the operator's attention: drift, a
# deleted object, a StatefulSet becoming ready, a Job finishing.
CHILD_KINDS = [
    ("apps", "v1", "statefulsets"),
    ("", "v1", "configmaps"),
    ("", "v1", "services"),
    ("", "v1", "persistentvolumeclaims"),
    ("batch", "v1", "jobs"),
    ("batch", "v1", "cronjobs"),
]


async def child_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    """A labelled child changed: reconcile the instance it belongs to."""
    runtime: Runtime = memo.runtime
    meta = event["object"].get("metadata", {})
    instance = (meta.get("labels") or {}).get("app.kubernetes.io/instance")
    if instance:
        runtime.request(meta.get("namespace", ""), instance)


for _group, _version, _plural in CHILD_KINDS:
    kopf.on.event(
        f"{_group}/{_version}" if _group else _version,
        _plural,
        labels=MANAGED,
        id=f"{_plural}-event",
    )(child_event)
