"""``kubarr backup-now`` and ``/replicationz`` against the real Litestream 0.5.17.

The pod runs as in the other durability tests (see pod.py), plus Litestream's
control socket, which the app reaches through ``KUBARR_LITESTREAM_SOCKET``.
The socket is added to the rendered ``litestream.yml`` here, by loading the
YAML and setting ``socket: {enabled: true, path: ...}``, whatever the builder
renders, so the test does not depend on the operator's side.

Path mapping for the socket: the container path
``/var/run/litestream/litestream.sock`` (an emptyDir shared by the app and
the sidecar) becomes ``<short temp dir>/litestream.sock``, in a folder made
with ``tempfile.mkdtemp`` under the system temp dir rather than under the
pod's root, because pytest's folder for a test can push the path past the
107 bytes a Unix socket path may have. Both the config's ``socket.path`` and
the app's ``KUBARR_LITESTREAM_SOCKET`` are set to that one host path.

The proof that ``backup-now`` is what put the rows on the replica: with a
sync interval of one hour, Litestream ships the database once when it starts
and then not again for an hour, so rows written after that first sync are
absent from a restore until ``backup-now`` runs, and present in a restore
taken right after it exits.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kubarr_operator import spec as s
from pod import (
    ADMIN_TOKEN,
    SECRET_NAME,
    AppClient,
    PodOnDisk,
    S3Server,
    iter_keys,
    litestream_settings,
    restore_copy,
    wait_until,
)

SOCKET_IN_CONTAINER = "/var/run/litestream/litestream.sock"
ROWS = 12


@dataclass
class SocketPod(PodOnDisk):
    """A pod whose Litestream serves its control socket to the app."""

    socket_dir: Path = field(default_factory=lambda: Path("."))
    max_lag_seconds: str | None = None

    @property
    def socket(self) -> Path:
        return self.socket_dir / "litestream.sock"

    def rendered_config(self) -> str:
        config = yaml.safe_load(super().rendered_config())
        config["socket"] = {"enabled": True, "path": str(self.socket)}
        return yaml.safe_dump(config, sort_keys=False)

    def app_env(self) -> dict[str, str]:
        env = super().app_env()
        env["KUBARR_LITESTREAM_SOCKET"] = str(self.socket)
        if self.max_lag_seconds is not None:
            env["KUBARR_REPLICATION_MAX_LAG_SECONDS"] = self.max_lag_seconds
        return env

    def replicationz(self) -> tuple[int, dict[str, Any]]:
        answer = httpx.get(f"{self.base_url}/replicationz", timeout=30)
        body: dict[str, Any] = answer.json()
        return answer.status_code, body

    def token_file(self) -> Path:
        return Path(self.app_env()["KUBARR_ADMIN_TOKEN_FILE"])


def spec_with(s3: S3Server, bucket: str, sync_interval: str) -> s.KubarrInstanceSpec:
    return s.KubarrInstanceSpec.model_validate(
        {
            "backup": {
                "s3": {
                    "bucket": bucket,
                    "endpoint": s3.endpoint,
                    "region": s3.region,
                    "credentialsSecretRef": {"name": SECRET_NAME},
                },
                "litestream": {
                    **litestream_settings("0.5"),
                    "syncInterval": sync_interval,
                },
            }
        }
    )


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="kubarr-ls-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def make_socket_pod(tmp_path: Path, s3: S3Server, socket_dir: Path) -> Iterator[Any]:
    pods: list[SocketPod] = []

    def make(spec: s.KubarrInstanceSpec, max_lag: str | None = None) -> SocketPod:
        pod = SocketPod(
            spec,
            tmp_path / f"pod-{len(pods)}",
            dict(s3.secret),
            socket_dir=socket_dir,
            max_lag_seconds=max_lag,
        )
        pods.append(pod)
        return pod

    try:
        yield make
    finally:
        for pod in pods:
            pod.stop_all()


def boot_and_reach_litestream(pod: SocketPod) -> None:
    pod.boot()
    wait_until(
        lambda: pod.replicationz()[1].get("replication") != "unreachable",
        "the app reaching Litestream's control socket",
    )


def backup_now(
    pod: SocketPod, termination_log: Path
) -> subprocess.CompletedProcess[str]:
    """``kubarr backup-now`` as its own process, the way a Job would run it."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(pod.root),
        "KUBARR_TERMINATION_LOG": str(termination_log),
    }
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "kubarr_app",
            "backup-now",
            "--url",
            pod.base_url,
            "--token-file",
            str(pod.token_file()),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_backup_now_puts_every_acknowledged_write_on_the_replica_at_once(
    s3: S3Server, bucket: str, make_socket_pod: Any, tmp_path: Path
) -> None:
    pod = make_socket_pod(spec_with(s3, bucket, "1h"), max_lag="1")
    boot_and_reach_litestream(pod)
    writer = AppClient(pod)
    expected = {key: f"value of {key}" for key in iter_keys("before-upgrade", ROWS)}
    for key, value in expected.items():
        writer.put_setting(key, value)
    writer.close()

    # Litestream's next sync is an hour away: the rows are not on the replica,
    # and the lag grows past the 1 s bound until /replicationz says so.
    before = restore_copy(pod, tmp_path / "before.db")
    assert "site_name" in before
    assert not set(expected) & set(before)
    wait_until(lambda: pod.replicationz()[0] == 503, "/replicationz to report lag")
    code, lagging = pod.replicationz()
    assert code == 503
    assert lagging["replication"] == "lagging"
    assert lagging["pending"] is True
    assert lagging["lag_seconds"] > 1
    assert lagging["txid"] > lagging["replicated_txid"]
    assert lagging["max_lag_seconds"] == 1

    termination_log = tmp_path / "termination-log"
    result = backup_now(pod, termination_log)

    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["status"] == "synced"
    assert answer["replicated_txid"] == answer["txid"] > lagging["replicated_txid"]
    assert 0 <= answer["duration_seconds"] < 60
    assert json.loads(termination_log.read_text()) == answer
    assert ADMIN_TOKEN not in result.stdout + result.stderr

    restored = restore_copy(pod, tmp_path / "after.db")
    assert {key: restored.get(key) for key in expected} == expected


def test_replicationz_is_green_after_a_sync_and_503_once_litestream_is_gone(
    s3: S3Server, bucket: str, make_socket_pod: Any, tmp_path: Path
) -> None:
    pod = make_socket_pod(spec_with(s3, bucket, "1s"))
    boot_and_reach_litestream(pod)
    _app, sidecar = pod.processes[-2], pod.processes[-1]
    writer = AppClient(pod)
    writer.put_setting("written", "yes")
    writer.close()
    synced = backup_now(pod, tmp_path / "synced-log")
    assert synced.returncode == 0, synced.stderr

    # The backup call's own audit row is written after the sync; Litestream
    # ships it on its next tick, and then nothing is pending.
    wait_until(
        lambda: pod.replicationz()[1].get("pending") is False,
        "/replicationz to report nothing pending",
    )
    code, green = pod.replicationz()
    assert code == 200
    assert green["replication"] == "ok"
    assert green["lag_seconds"] == 0
    assert green["replicated_txid"] == green["txid"] > 0
    assert green["last_sync_at"] is not None
    assert green["max_lag_seconds"] == 30

    sidecar.kill_9()

    code, gone = pod.replicationz()
    assert code == 503
    assert gone["replication"] == "unreachable"
    assert gone["pending"] is None
    assert "control socket" in gone["reason"]

    termination_log = tmp_path / "failed-log"
    failed = backup_now(pod, termination_log)
    assert failed.returncode == 1
    assert "HTTP 503" in failed.stderr
    assert "control socket" in json.loads(termination_log.read_text())["error"]
    assert ADMIN_TOKEN not in failed.stdout + failed.stderr
