"""A small synchronous client for the local control plane, for the benchmark's
own requests (creating instances, watching their status, reading the audit log).

It speaks plain ``http.client`` over TLS so the benchmark adds no client of its
own to the memory or request figures it measures; credentials come from the
kubeconfig through the operator's own loader.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubarr_operator.kube import load_kubeconfig

GROUP_PATH = "/apis/kubarr.io/v1alpha1"
WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


class Api:
    """JSON requests to the API server as the kubeconfig's user."""

    def __init__(self, kubeconfig: Path) -> None:
        self.credentials = load_kubeconfig(str(kubeconfig))
        parts = urlsplit(self.credentials.server)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 443
        context = self.credentials.ssl_context()
        assert isinstance(context, ssl.SSLContext)
        self.context = context

    def connect(self, timeout: float = 30.0) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(
            self.host, self.port, context=self.context, timeout=timeout
        )

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> tuple[int, dict[str, Any]]:
        connection = self.connect()
        try:
            payload = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": content_type, "Accept": "application/json"}
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            raw = response.read()
        finally:
            connection.close()
        try:
            data = json.loads(raw) if raw else {}
        except ValueError:
            data = {"message": raw.decode(errors="replace")}
        return response.status, data if isinstance(data, dict) else {}

    def ok(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        status, data = self.call(method, path, body, content_type)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {data.get('message')}")
        return data


def is_ready(body: dict[str, Any]) -> bool:
    """Ready=True for the generation the instance has now, the same test as
    ``kubectl wait --for=condition=Ready`` plus observedGeneration."""
    status = body.get("status") or {}
    if status.get("observedGeneration") != body["metadata"].get("generation"):
        return False
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


class ReadyWatch:
    """Watches one namespace's instances in a thread and notes the monotonic
    time at which each first reads Ready for its current generation.

    A watch rather than polling: the time an event arrives is within
    milliseconds of the status write, where a poll adds half its interval.
    """

    def __init__(self, api: Api, namespace: str, deadline_seconds: float) -> None:
        self.api = api
        self.namespace = namespace
        self.ready_at: dict[str, float] = {}
        self.expected: set[str] = set()
        self._deadline = time.monotonic() + deadline_seconds
        self._stop = threading.Event()
        path = f"{GROUP_PATH}/namespaces/{namespace}/kubarrinstances"
        listing = api.ok("GET", path)
        self._resource_version = listing["metadata"]["resourceVersion"]
        self._path = path
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def forget(self, names: set[str]) -> None:
        """Wait again for ``names`` (after their spec changed)."""
        for name in names:
            self.ready_at.pop(name, None)

    def _run(self) -> None:
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            try:
                for event in self._events():
                    if event.get("type") == "ERROR":
                        self._relist()
                        break
                    body = event.get("object") or {}
                    name = body.get("metadata", {}).get("name")
                    if (
                        event.get("type") in ("ADDED", "MODIFIED")
                        and name
                        and name not in self.ready_at
                        and is_ready(body)
                    ):
                        self.ready_at[name] = time.monotonic()
                    if self._stop.is_set():
                        return
            except (OSError, http.client.HTTPException, ValueError):
                time.sleep(0.2)

    def _relist(self) -> None:
        """Start again from a fresh list when the watch's version expired."""
        listing = self.api.ok("GET", self._path)
        self._resource_version = listing["metadata"]["resourceVersion"]
        for body in listing.get("items") or []:
            name = body["metadata"]["name"]
            if name not in self.ready_at and is_ready(body):
                self.ready_at[name] = time.monotonic()

    def _events(self) -> Iterator[dict[str, Any]]:
        remaining = max(1, int(self._deadline - time.monotonic()))
        query = (
            f"?watch=1&resourceVersion={self._resource_version}"
            f"&timeoutSeconds={min(remaining, 60)}&allowWatchBookmarks=true"
        )
        connection = self.api.connect(timeout=70)
        try:
            connection.request("GET", self._path + query)
            response = connection.getresponse()
            if response.status != 200:
                response.read()
                raise OSError(f"watch answered {response.status}")
            while True:
                line = response.readline()
                if not line:
                    return
                event = json.loads(line)
                meta = (event.get("object") or {}).get("metadata") or {}
                if meta.get("resourceVersion"):
                    self._resource_version = meta["resourceVersion"]
                yield event
        finally:
            connection.close()

    def wait_all(self, names: set[str], timeout: float) -> bool:
        """True once every name in ``names`` has been seen Ready."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if names <= self.ready_at.keys():
                return True
            time.sleep(0.05)
        return names <= self.ready_at.keys()

    def stop(self) -> None:
        self._stop.set()


@dataclass(frozen=True)
class Request:
    """One audited request, reduced to what the figures need."""

    at: dt.datetime
    verb: str
    namespace: str
    resource: str
    name: str

    @property
    def writes(self) -> bool:
        return self.verb in WRITE_VERBS


class AuditTail:
    """Follows the API server's audit log and keeps one user's requests.

    The control plane writes one JSON line per request at the Metadata level
    (user, verb, objectRef, timestamps; never an object body). Only new lines
    are parsed on each :meth:`poll`; when the API server rotates the file, the
    rest of the old part is read before the new one.
    """

    def __init__(self, path: Path, user: str) -> None:
        self.path = path
        self.user = user
        self.requests: list[Request] = []
        self._needle = f'"username":"{user}"'
        self._inode = 0
        self._offset = 0
        self._partial = b""

    def poll(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return
        if self._inode and stat.st_ino != self._inode:
            rotated = self._rotated_part(self._inode)
            if rotated is not None:
                self._read(rotated)
            self._offset = 0
            self._partial = b""
        self._inode = stat.st_ino
        self._read(self.path)

    def _rotated_part(self, inode: int) -> Path | None:
        for part in self.path.parent.glob(self.path.stem + "-*" + self.path.suffix):
            if part.stat().st_ino == inode:
                return part
        return None

    def _read(self, path: Path) -> None:
        with open(path, "rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
            self._offset = handle.tell()
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for raw in lines:
            line = raw.decode("utf-8", errors="replace")
            if self._needle not in line:
                continue
            event = json.loads(line)
            ref = event.get("objectRef") or {}
            self.requests.append(
                Request(
                    at=stage_time(event),
                    verb=str(event.get("verb")),
                    namespace=str(ref.get("namespace") or ""),
                    resource=str(ref.get("resource") or ""),
                    name=str(ref.get("name") or ""),
                )
            )

    def window(
        self,
        namespace: str,
        since: dt.datetime,
        until: dt.datetime | None = None,
    ) -> list[Request]:
        """The user's requests into ``namespace`` with a stage time in the window."""
        self.poll()
        return [
            r
            for r in self.requests
            if r.namespace == namespace
            and r.at >= since
            and (until is None or r.at <= until)
        ]

    def wait_quiet(
        self, namespace: str, since: dt.datetime, quiet: float, timeout: float
    ) -> dt.datetime | None:
        """Once requests into ``namespace`` have started after ``since`` and then
        stopped for ``quiet`` seconds, the time of the last one."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            found = self.window(namespace, since)
            if found and (utc_now() - found[-1].at).total_seconds() > quiet:
                return found[-1].at
            time.sleep(0.5)
        return None


def stage_time(event: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(event["stageTimestamp"].replace("Z", "+00:00"))


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
