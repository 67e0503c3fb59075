"""The one module that talks to the Kubernetes API.

A deliberately small client on aiohttp (which kopf already brings): get,
server-side apply, delete, status patch and events, for the handful of kinds
the operator manages. The official ``kubernetes`` client was left out because
it dominates a small operator's memory; this module is small enough to read
and to fake in tests.

Secret values pass through :meth:`Kube.secret_keys` only, which returns key
names and the resource version and drops the data.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import os
import ssl
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from .meta import MANAGER

log = logging.getLogger(__name__)

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")

# (apiVersion, kind) -> plural, for the kinds this operator reads or writes.
PLURALS: dict[tuple[str, str], str] = {
    ("v1", "ConfigMap"): "configmaps",
    ("v1", "Event"): "events",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaims",
    ("v1", "Pod"): "pods",
    ("v1", "Secret"): "secrets",
    ("v1", "Service"): "services",
    ("apps/v1", "StatefulSet"): "statefulsets",
    ("batch/v1", "Job"): "jobs",
    ("batch/v1", "CronJob"): "cronjobs",
    ("coordination.k8s.io/v1", "Lease"): "leases",
    ("storage.k8s.io/v1", "StorageClass"): "storageclasses",
    ("kubarr.io/v1alpha1", "KubarrInstance"): "kubarrinstances",
}
CLUSTER_SCOPED = {"StorageClass"}


class ApiError(Exception):
    """A non-success answer from the API server, with its status and reason."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message


@dataclass
class Credentials:
    """How to reach and authenticate to the API server."""

    server: str
    ca_file: str | None = None
    insecure: bool = False
    token: str | None = None
    token_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    namespace: str = "default"
    _tempdir: Any = field(default=None, repr=False)

    def bearer(self) -> str | None:
        # Projected service-account tokens rotate: read the file every time.
        if self.token_file:
            return Path(self.token_file).read_text().strip()
        return self.token

    def ssl_context(self) -> ssl.SSLContext | bool:
        if self.insecure:
            return False
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context


def _data_file(directory: str, name: str, b64: str) -> str:
    path = os.path.join(directory, name)
    with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as handle:
        handle.write(base64.b64decode(b64))
    return path


def load_kubeconfig(path: str) -> Credentials:
    """Credentials of the current context of a kubeconfig file."""
    config = yaml.safe_load(Path(path).read_text())
    context_name = config.get("current-context")
    contexts = {c["name"]: c["context"] for c in config.get("contexts", [])}
    clusters = {c["name"]: c["cluster"] for c in config.get("clusters", [])}
    users = {u["name"]: u.get("user") or {} for u in config.get("users", [])}
    if context_name not in contexts:
        raise ValueError(
            f"kubeconfig {path}: current-context {context_name!r} not found"
        )
    context = contexts[context_name]
    cluster = clusters[context["cluster"]]
    user = users.get(context.get("user", ""), {})

    base = Path(path).parent
    tempdir = tempfile.TemporaryDirectory(prefix="kubarr-kube-")

    def file_or_data(
        file_key: str, data_key: str, source: dict[str, Any]
    ) -> str | None:
        if source.get(file_key):
            return str(base / source[file_key])
        if source.get(data_key):
            return _data_file(tempdir.name, file_key, source[data_key])
        return None

    return Credentials(
        server=cluster["server"],
        ca_file=file_or_data(
            "certificate-authority", "certificate-authority-data", cluster
        ),
        insecure=bool(cluster.get("insecure-skip-tls-verify")),
        token=user.get("token"),
        token_file=user.get("tokenFile"),
        cert_file=file_or_data("client-certificate", "client-certificate-data", user),
        key_file=file_or_data("client-key", "client-key-data", user),
        namespace=context.get("namespace", "default"),
        _tempdir=tempdir,
    )


def load_credentials() -> Credentials:
    """In-cluster service account when running in a pod, else ``$KUBECONFIG``
    (or ``~/.kube/config``)."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST")
    if host and (SERVICE_ACCOUNT_DIR / "token").exists():
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        return Credentials(
            server=f"https://{host}:{port}",
            ca_file=str(SERVICE_ACCOUNT_DIR / "ca.crt"),
            token_file=str(SERVICE_ACCOUNT_DIR / "token"),
            namespace=(SERVICE_ACCOUNT_DIR / "namespace").read_text().strip(),
        )
    path = os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config"))
    return load_kubeconfig(path.split(os.pathsep)[0])


def resource_path(
    api_version: str, kind: str, namespace: str | None, name: str = ""
) -> str:
    plural = PLURALS[(api_version, kind)]
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    if kind in CLUSTER_SCOPED or namespace is None:
        path = f"{prefix}/{plural}"
    else:
        path = f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path


@dataclass
class SecretKeys:
    """What the operator keeps of a Secret: never its values."""

    name: str
    resource_version: str
    keys: frozenset[str]


class Kube:
    """Async access to the API server for the operator's few kinds."""

    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials
        self._session: aiohttp.ClientSession | None = None

    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                base_url=self.credentials.server,
                connector=aiohttp.TCPConnector(ssl=self.credentials.ssl_context()),
                timeout=aiohttp.ClientTimeout(total=30),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        about: dict[str, Any] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        token = self.credentials.bearer()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        session = await self._http()
        async with session.request(
            method, path, data=data, headers=headers, params=params
        ) as response:
            payload = (
                await response.json(content_type=None)
                if response.content_length != 0
                else None
            )
            if response.status >= 400:
                payload = payload if isinstance(payload, dict) else {}
                message = str(payload.get("message", ""))
                if about is not None:
                    # Say which object a refusal is about; the API often doesn't.
                    meta = about.get("metadata", {})
                    name = meta.get("name") or meta.get("generateName")
                    label = f"{about.get('kind')} {name}"
                    message = message if label in message else f"{label}: {message}"
                raise ApiError(
                    response.status,
                    str(payload.get("reason", response.reason)),
                    message,
                )
            return payload

    async def get(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> dict[str, Any] | None:
        """The object, or None when it does not exist."""
        try:
            result: dict[str, Any] = await self.request(
                "GET", resource_path(api_version, kind, namespace, name)
            )
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        return result

    async def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None,
        label_selector: str = "",
    ) -> list[dict[str, Any]]:
        params = {"labelSelector": label_selector} if label_selector else None
        result = await self.request(
            "GET", resource_path(api_version, kind, namespace), params=params
        )
        return list(result.get("items", []))

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply under the operator's field manager."""
        meta = manifest["metadata"]
        path = resource_path(
            manifest["apiVersion"],
            manifest["kind"],
            meta.get("namespace"),
            meta["name"],
        )
        result: dict[str, Any] = await self.request(
            "PATCH",
            path,
            body=manifest,
            content_type="application/apply-patch+yaml",
            params={"fieldManager": MANAGER, "force": "true"},
            about=manifest,
        )
        return result

    async def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        meta = manifest["metadata"]
        path = resource_path(
            manifest["apiVersion"], manifest["kind"], meta.get("namespace")
        )
        result: dict[str, Any] = await self.request(
            "POST",
            path,
            body=manifest,
            params={"fieldManager": MANAGER},
            about=manifest,
        )
        return result

    async def replace(self, manifest: dict[str, Any]) -> dict[str, Any]:
        meta = manifest["metadata"]
        path = resource_path(
            manifest["apiVersion"],
            manifest["kind"],
            meta.get("namespace"),
            meta["name"],
        )
        result: dict[str, Any] = await self.request(
            "PUT", path, body=manifest, params={"fieldManager": MANAGER}, about=manifest
        )
        return result

    async def delete(
        self, api_version: str, kind: str, namespace: str | None, name: str
    ) -> bool:
        """Delete in the background; False when it was already gone."""
        try:
            await self.request(
                "DELETE",
                resource_path(api_version, kind, namespace, name),
                body={"propagationPolicy": "Background"},
            )
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    async def patch_status(
        self,
        api_version: str,
        kind: str,
        namespace: str,
        name: str,
        status: dict[str, Any],
    ) -> dict[str, Any]:
        """Merge-patch ``status`` through the status subresource."""
        path = resource_path(api_version, kind, namespace, name) + "/status"
        result: dict[str, Any] = await self.request(
            "PATCH",
            path,
            body={"status": status},
            content_type="application/merge-patch+json",
        )
        return result

    async def secret_keys(self, namespace: str, name: str) -> SecretKeys | None:
        """Key names and version of a Secret; its values are dropped here."""
        secret = await self.get("v1", "Secret", namespace, name)
        if secret is None:
            return None
        return SecretKeys(
            name=name,
            resource_version=secret["metadata"]["resourceVersion"],
            keys=frozenset((secret.get("data") or {}).keys())
            | frozenset((secret.get("stringData") or {}).keys()),
        )

    async def secret_values(
        self, namespace: str, name: str, keys: Sequence[str]
    ) -> dict[str, str]:
        """The named keys of a Secret, decoded, for a caller that must use them
        (the S3 check). Never log the result."""
        secret = await self.get("v1", "Secret", namespace, name)
        data = (secret or {}).get("data") or {}
        return {
            key: base64.b64decode(data[key]).decode("utf-8", "replace")
            for key in keys
            if key in data
        }

    async def post_event(
        self, involved: dict[str, Any], event_type: str, reason: str, message: str
    ) -> None:
        """A core/v1 Event on ``involved`` for ``kubectl describe``."""
        meta = involved["metadata"]
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "generateName": f"{meta['name']}.",
                "namespace": meta["namespace"],
            },
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
            },
            "type": event_type,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": MANAGER},
            "reportingComponent": MANAGER,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            await self.create(event)
        except (ApiError, aiohttp.ClientError) as error:
            # An event is a courtesy to the reader; losing one must not fail
            # the reconcile that produced it.
            log.warning(
                "could not post event %s on %s: %s", reason, meta["name"], error
            )
