"""A lost disk, restored by the rendered init container from the replica.

Each test boots the pod the way the kubelet would (rendered restore, then
``kubarr migrate``, then ``kubarr serve`` beside ``litestream replicate``),
writes through the app's API, waits one sync interval, kills the app and
Litestream with SIGKILL (no final sync), deletes everything on the data
volume and runs the rendered restore. Writes keep arriving during the wait
and up to the kill, so the figures printed show what a crash really loses.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx
import pytest
from pod import (
    AppClient,
    PodFactory,
    PodOnDisk,
    S3Server,
    file_spec,
    integrity,
    iter_keys,
    read_settings,
    s3_spec,
)

BATCH = 25
MAX_TICKS = 5000
# Litestream notices a change on its next check and ships it on its next sync,
# both on the sync interval's clock, and the upload itself takes a moment: the
# batch is given one sync interval plus this much before the crash. The
# figures printed show the window a crash really loses.
UPLOAD_MARGIN_SECONDS = 0.5


def seconds(duration: str) -> float:
    """A rendered Litestream duration such as ``1s`` or ``500ms``, in seconds."""
    if duration.endswith("ms"):
        return float(duration[:-2]) / 1000
    if duration.endswith("s"):
        return float(duration[:-1])
    if duration.endswith("m"):
        return float(duration[:-1]) * 60
    raise ValueError(f"unexpected duration {duration!r}")


@dataclass
class Ticker:
    """Writes ``tick-NNNN`` settings back to back and notes when each was acked."""

    client: AppClient
    acked: list[tuple[str, float]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        for key in iter_keys("tick", MAX_TICKS):
            if self.stop.is_set():
                return
            try:
                answer = self.client.http.put(
                    f"/api/settings/{key}", json={"value": key}
                )
            except httpx.TransportError:
                return  # the app was killed mid-request
            if answer.status_code != 200:
                return
            self.acked.append((key, time.monotonic()))

    def __enter__(self) -> Ticker:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=15)


def crash_and_restore(pod: PodOnDisk, app_password: str) -> None:
    """Write, wait one sync interval, kill -9 everything, lose the disk, restore;
    then check what came back and print the figures."""
    sync_interval = seconds(pod.spec.backup.litestream.sync_interval)
    app, sidecar = pod.processes[-2], pod.processes[-1]
    writer = AppClient(pod, app_password)
    expected = {key: f"value of {key}" for key in iter_keys("kept", BATCH)}
    for key, value in expected.items():
        writer.put_setting(key, value)

    with Ticker(AppClient(pod, app_password)) as ticker:
        time.sleep(sync_interval + UPLOAD_MARGIN_SECONDS)
        assert sidecar.alive(), sidecar.output()
        killed_at = time.monotonic()
        sidecar.kill_9()
        app.kill_9()
    writer.close()

    pod.lose_the_disk()
    assert not pod.database.exists()
    restored = pod.restore()

    assert restored.result.returncode == 0, restored.result.stderr
    assert integrity(pod.database) == "ok"
    settings = read_settings(pod.database)
    for key, value in expected.items():
        assert settings.get(key) == value, f"{key} was written before the wait"
    acked = [key for key, _ in ticker.acked]
    present = [key for key in acked if key in settings]
    # A restore is one consistent moment: the writes it has are a prefix.
    assert present == acked[: len(present)]

    lost = ticker.acked[len(present) :]
    target = pod.spec.backup_kind
    version = str(pod.spec.backup.litestream.version)
    if lost:
        window = (killed_at - lost[0][1]) * 1000
        rpo = f"lost the writes of the last {window:.0f} ms ({len(lost)} writes)"
    else:
        rpo = "lost no acknowledged write"
    print(
        f"\n[{target} replica, Litestream {version}] sync interval "
        f"{sync_interval:g} s: {len(acked)} writes acked during the wait, "
        f"{rpo}; restore took {restored.seconds * 1000:.0f} ms"
    )

    # The app starts on the restored file and serves what was written.
    migrated = pod.migrate()
    assert migrated.returncode == 0, migrated.stderr
    assert "already at head" in migrated.stdout
    pod.start_app()
    reader = AppClient(pod, app_password)
    served = reader.settings()
    reader.close()
    assert {key: served[key] for key in expected} == expected


@pytest.mark.parametrize("version", ["0.5", "0.3"])
def test_a_lost_disk_comes_back_from_s3_with_every_write_older_than_the_sync_interval(
    version: str, s3: S3Server, bucket: str, make_pod: PodFactory
) -> None:
    pod = make_pod(s3_spec(s3, bucket, version))
    pod.boot()
    password = (pod.data / "initial-admin-password").read_text().strip()

    crash_and_restore(pod, password)

    listed = s3.client().list_objects_v2(Bucket=bucket, Prefix="media/kubarr/")
    assert listed["KeyCount"] > 0


@pytest.mark.parametrize("version", ["0.5", "0.3"])
def test_a_lost_disk_comes_back_from_the_file_replica_too(
    version: str, make_pod: PodFactory
) -> None:
    pod = make_pod(file_spec(version))
    pod.boot()
    password = (pod.data / "initial-admin-password").read_text().strip()

    crash_and_restore(pod, password)

    replica = pod.mounts["/replica"] / "replica"
    assert any(path.is_file() for path in replica.rglob("*"))


@pytest.mark.parametrize("version", ["0.5", "0.3"])
def test_an_empty_bucket_restores_nothing_and_the_app_starts_empty(
    version: str, s3: S3Server, bucket: str, make_pod: PodFactory
) -> None:
    pod = make_pod(s3_spec(s3, bucket, version))

    restored = pod.restore()

    assert restored.result.returncode == 0, restored.result.stderr
    assert not pod.database.exists()

    migrated = pod.migrate()
    assert migrated.returncode == 0, migrated.stderr
    pod.start_app()
    admin = AppClient(pod)
    users = admin.http.get("/api/users").json()
    settings = admin.settings()
    admin.close()
    assert [user["username"] for user in users] == ["admin"]
    assert set(settings) == {"default_role", "registration_open", "site_name", "theme"}


def test_the_restore_never_overwrites_a_database_that_is_there(
    s3: S3Server, bucket: str, make_pod: PodFactory
) -> None:
    pod = make_pod(s3_spec(s3, bucket, "0.5"))
    app, sidecar = pod.boot()
    AppClient(pod).put_setting("replicated", "yes")
    assert sidecar.terminate() == 0
    app.terminate()
    local = pod.database.read_bytes()

    restored = pod.restore()

    assert restored.result.returncode == 0, restored.result.stderr
    assert pod.database.read_bytes() == local
