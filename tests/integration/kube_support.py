"""Helpers for the operator's integration tests on the local control plane.

The operator runs as a real process under its own identity (user
``kubarr-operator``) bound to the ClusterRole and Role from ``manifests/``, so
every integration test also checks that the shipped RBAC is enough, and the
API server's audit log tells which writes the operator made.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
OPERATOR_USER = "kubarr-operator"
OPERATOR_NAMESPACE = "kubarr-system"
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection"}


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 60,
    interval: float = 0.5,
    what: str = "condition",
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail with ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {timeout} s waiting for {what} (last: {last!r})"
    )


@dataclass
class Cluster:
    """kubectl plus JSON helpers, bound to the admin kubeconfig."""

    kubectl: Callable[..., subprocess.CompletedProcess[str]]
    plane: Any

    def ok(self, *args: str, input: str | None = None) -> str:
        result = self.kubectl(*args, input=input)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def apply(self, namespace: str, manifest: dict[str, Any] | str) -> str:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
        return self.ok("-n", namespace, "apply", "-f", "-", input=text)

    def get(self, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
        result = self.kubectl("-n", namespace, "get", kind, name, "-o", "json")
        if result.returncode != 0:
            if "NotFound" in result.stderr:
                return None
            raise AssertionError(result.stderr)
        return json.loads(result.stdout)

    def instance(self, namespace: str, name: str) -> dict[str, Any]:
        found = self.get(namespace, "kubarr", name)
        assert found is not None, f"KubarrInstance {namespace}/{name} is gone"
        return found

    def condition(self, namespace: str, name: str, type_: str) -> dict[str, Any] | None:
        status = self.instance(namespace, name).get("status") or {}
        for item in status.get("conditions") or []:
            if item["type"] == type_:
                return item
        return None

    def status(self, namespace: str, name: str, *path: str) -> Any:
        """A field of the instance's status (None when absent)."""
        value: Any = self.instance(namespace, name).get("status") or {}
        for key in path:
            value = (value or {}).get(key)
        return value

    def wait_status(
        self,
        namespace: str,
        name: str,
        *path: str,
        equals: Any = None,
        timeout: float = 60,
    ) -> Any:
        """Wait until a status field is set (or, with ``equals``, has that
        value); return it."""

        def reached() -> Any:
            value = self.status(namespace, name, *path)
            return value if (value == equals if equals is not None else value) else None

        return wait_for(
            reached, timeout, what=f"{namespace}/{name} status.{'.'.join(path)}"
        )

    def wait_condition(
        self,
        namespace: str,
        name: str,
        type_: str,
        status: str = "True",
        timeout: float = 60,
    ) -> dict[str, Any]:
        """Wait until condition ``type_`` has ``status``; return it."""

        def reached() -> dict[str, Any] | None:
            found = self.condition(namespace, name, type_)
            return found if found and found["status"] == status else None

        return wait_for(reached, timeout, what=f"{namespace}/{name} {type_}={status}")

    def wait_ready(
        self, namespace: str, name: str, timeout: float = 60
    ) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            body = self.instance(namespace, name)
            status = body.get("status") or {}
            conditions = {c["type"]: c for c in status.get("conditions") or []}
            good = (
                conditions.get("Ready", {}).get("status") == "True"
                and status.get("observedGeneration") == body["metadata"]["generation"]
            )
            return body if good else None

        return wait_for(ready, timeout, what=f"{namespace}/{name} Ready")

    def writes_by_operator(
        self, namespace: str, since: dt.datetime
    ) -> list[dict[str, Any]]:
        """Write requests the operator sent into ``namespace`` after ``since``,
        from the API server's audit log."""
        found = []
        for event in _audit_events(self.plane.audit_log):
            if event.get("user", {}).get("username") != OPERATOR_USER:
                continue
            if event.get("verb") not in WRITE_VERBS:
                continue
            if (event.get("objectRef") or {}).get("namespace") != namespace:
                continue
            if _audit_time(event) <= since:
                continue
            found.append(event)
        return found

    def reads_by_operator(self, namespace: str, since: dt.datetime) -> int:
        count = 0
        for event in _audit_events(self.plane.audit_log):
            if (
                event.get("user", {}).get("username") == OPERATOR_USER
                and event.get("verb") == "get"
                and (event.get("objectRef") or {}).get("namespace") == namespace
                and _audit_time(event) > since
            ):
                count += 1
        return count


def _audit_events(path: Path) -> Iterator[dict[str, Any]]:
    with open(path) as handle:
        for line in handle:
            line = line.strip()
            if line:
                yield json.loads(line)


def _audit_time(event: dict[str, Any]) -> dt.datetime:
    return dt.datetime.fromisoformat(event["stageTimestamp"].replace("Z", "+00:00"))


def instance(
    name: str, spec: dict[str, Any] | None = None, **labels: str
) -> dict[str, Any]:
    """A KubarrInstance manifest."""
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return {
        "apiVersion": "kubarr.io/v1alpha1",
        "kind": "KubarrInstance",
        "metadata": meta,
        "spec": spec or {},
    }


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class OperatorProcess:
    """``kubarr operator`` as a child process with its own log file."""

    def __init__(self, kubeconfig: Path, log_path: Path, *extra: str) -> None:
        self.log_path = log_path
        env = {
            **os.environ,
            "KUBECONFIG": str(kubeconfig),
            # Failed migrations are retried after seconds, not minutes.
            "KUBARR_MIGRATION_RETRY_SECONDS": "3",
            "PYTHONPATH": str(REPO / "operator"),
        }
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kubarr_operator.main",
                "--lease-namespace",
                OPERATOR_NAMESPACE,
                # Every S3 endpoint in these tests is on 127.0.0.1.
                "--probe-backups",
                *extra,
            ],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()
        return self.process.returncode


class OperatorManager:
    """Keeps one operator running for the session; a test that kills it (the
    leader-election test does) gets a fresh one for the next test."""

    def __init__(self, kubeconfig: Path, log_dir: Path) -> None:
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.current: OperatorProcess | None = None
        self.started = 0

    def ensure(self) -> OperatorProcess:
        if self.current is None or self.current.process.poll() is not None:
            if self.current is not None:
                self.current.stop()
            self.started += 1
            log_path = self.log_dir / f"operator-{self.started}.log"
            process = OperatorProcess(
                self.kubeconfig, log_path, "--resync-seconds", "5"
            )
            wait_for(
                lambda: (
                    "now leads" in process.log() or process.process.poll() is not None
                ),
                60,
                what="the operator to take the lease",
            )
            assert process.process.poll() is None, process.log()
            self.current = process
        return self.current


class Watch:
    """Records every version of some kinds of object the API server reports, by
    running one ``kubectl get -w`` per kind in the background. The record is
    ordered by resourceVersion, so the watches merge into the API's own
    history."""

    def __init__(self, kubeconfig: Path, namespace: str, *kinds: str) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        kubectl = shutil.which("kubectl", path=str(Path(sys.executable).parent))
        self.processes = [
            subprocess.Popen(
                [
                    kubectl or "kubectl",
                    f"--kubeconfig={kubeconfig}",
                    "-n",
                    namespace,
                    "get",
                    kind,
                    "--watch",
                    "--output-watch-events",
                    "-o",
                    "json",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for kind in kinds
        ]
        self._threads = [
            threading.Thread(target=self._read, args=(p,), daemon=True)
            for p in self.processes
        ]
        for thread in self._threads:
            thread.start()
        time.sleep(1)  # let the watches open before the test acts

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        decoder = json.JSONDecoder()
        buffer = ""
        for chunk in iter(process.stdout.readline, ""):
            buffer += chunk
            while True:
                stripped = buffer.lstrip()
                if not stripped:
                    buffer = ""
                    break
                try:
                    event, end = decoder.raw_decode(stripped)
                except json.JSONDecodeError:
                    break
                buffer = stripped[end:]
                with self._lock:
                    self.events.append(event)

    def history(self) -> list[dict[str, Any]]:
        """Every object version seen, oldest first by resourceVersion."""
        with self._lock:
            objects = [e["object"] for e in self.events if "object" in e]
        return sorted(objects, key=lambda o: int(o["metadata"]["resourceVersion"]))

    def stop(self) -> None:
        time.sleep(1)  # let the last events arrive
        for process in self.processes:
            process.terminate()
            process.wait(10)
