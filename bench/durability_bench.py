"""Durability: the real Litestream against an S3 server on 127.0.0.1.

Litestream runs with the configuration the operator renders for an S3 backup
(``builders.litestream.render_config``), changed only where a pod and this
machine differ: the database path, and a metrics address on 127.0.0.1. The S3
server is moto's, started here on a free loopback port.
"""

from __future__ import annotations

import http.client
import json
import random
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from app_bench import PASSWORD, fill_audit, migrate, start_server
from common import (
    LOCALHOST,
    VENV_BIN,
    Area,
    Figure,
    Processes,
    child_env,
    free_port,
    http_status,
    memory_mib,
    wait_for,
)
from loadgen import sign_in

BUCKET = "kubarr-bench"
ACCESS_KEY = "bench-access-key"
SECRET_KEY = "bench-secret-key"
REVIEW_STACK_MIB = (82, 114)


@dataclass
class S3:
    """moto's S3 server and a client for it."""

    process: subprocess.Popen[bytes]
    endpoint: str
    client: Any

    def keys(self, prefix: str) -> set[str]:
        found: set[str] = set()
        pages = self.client.get_paginator("list_objects_v2")
        for page in pages.paginate(Bucket=BUCKET, Prefix=prefix):
            found.update(item["Key"] for item in page.get("Contents", []))
        return found


def start_s3(procs: Processes, work: Path) -> S3:
    import boto3

    port = free_port()
    process = procs.start(
        [str(VENV_BIN / "moto_server"), "-H", LOCALHOST, "-p", str(port)],
        work / "moto.log",
        env=child_env(),
    )
    wait_for(lambda: http_status(port, "/") != 0, 60, "moto to listen", 0.1)
    endpoint = f"http://{LOCALHOST}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    return S3(process, endpoint, client)


@dataclass
class Replica:
    """A rendered Litestream config for one database and its key prefix."""

    config: Path
    database: Path
    prefix: str

    @property
    def level0(self) -> str:
        """Where each sync's LTX file lands (Litestream 0.5 layout)."""
        return f"{self.prefix}/0000/"


def render(s3: S3, database: Path, folder: Path, name: str) -> Replica:
    """The operator's rendering of an S3 backup, for a database on this disk."""
    from kubarr_operator import spec as s
    from kubarr_operator.builders.litestream import render_config
    from kubarr_operator.meta import InstanceRef

    spec = s.KubarrInstanceSpec.model_validate(
        {
            "backup": {
                "s3": {
                    "bucket": BUCKET,
                    "endpoint": s3.endpoint,
                    "region": "us-east-1",
                    "credentialsSecretRef": {"name": "bench-credentials"},
                }
            }
        }
    )
    ref = InstanceRef(namespace="bench", name=name, uid="bench", generation=1)
    config = yaml.safe_load(render_config(spec, ref))
    config["addr"] = f"{LOCALHOST}:{free_port()}"
    config["dbs"][0]["path"] = str(database)
    path = folder / f"litestream-{name}.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return Replica(path, database, spec.replica_path("bench", name))


def litestream_env() -> dict[str, str]:
    """Keys through the variables the sidecar gets from the Secret. Without
    AWS_CA_BUNDLE: with it set, Litestream 0.5.17 refuses a custom endpoint."""
    env = child_env(
        LITESTREAM_ACCESS_KEY_ID=ACCESS_KEY, LITESTREAM_SECRET_ACCESS_KEY=SECRET_KEY
    )
    env.pop("AWS_CA_BUNDLE", None)
    return env


def litestream(*args: str, timeout: float = 300) -> float:
    """Run one Litestream command to completion; return its wall time."""
    began = time.monotonic()
    result = subprocess.run(
        [str(VENV_BIN / "litestream"), *args],
        env=litestream_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    elapsed = time.monotonic() - began
    if result.returncode != 0:
        raise RuntimeError(f"litestream {args[0]} failed: {result.stderr[-1500:]}")
    return elapsed


def run(
    quick: bool, work: Path, procs: Processes, machine: dict[str, str]
) -> list[Area]:
    area = Area(
        "Durability: Litestream and S3",
        "Litestream from `.venv/bin/litestream` with the operator's rendered "
        "configuration (sync interval 1 s, the default), replicating to moto's "
        "S3 server on 127.0.0.1; the app is `kubarr serve` on the same file.",
    )
    version = subprocess.run(
        [str(VENV_BIN / "litestream"), "version"],
        capture_output=True,
        text=True,
        check=False,
    )
    machine["Litestream"] = version.stdout.strip() or "unknown"
    s3 = start_s3(procs, work)
    try:
        _recovery_point(quick, work, procs, s3, area)
        _restores(quick, work, s3, area)
    finally:
        procs.stop(s3.process)
    return [area]


def _put_setting(port: int, token: str, key: str) -> None:
    connection = http.client.HTTPConnection(LOCALHOST, port, timeout=10)
    try:
        body = json.dumps({"value": f"written at {time.time():.3f}"})
        connection.request(
            "PUT",
            f"/api/settings/{key}",
            body,
            {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"PUT /api/settings/{key} answered {response.status}")
    finally:
        connection.close()


def _recovery_point(
    quick: bool, work: Path, procs: Processes, s3: S3, area: Area
) -> None:
    samples = 10 if quick else 30
    folder = work / "recovery"
    migrate(folder)
    replica = render(s3, folder / "kubarr.db", folder, "recovery")
    server = start_server(procs, folder, work / "recovery-app.log")
    sidecar = procs.start(
        [str(VENV_BIN / "litestream"), "replicate", "-config", str(replica.config)],
        work / "litestream-replicate.log",
        env=litestream_env(),
    )
    try:
        wait_for(lambda: s3.keys(replica.level0), 60, "the first sync", 0.1)
        connection = http.client.HTTPConnection(LOCALHOST, server.port, timeout=10)
        token = sign_in(connection, PASSWORD)
        connection.close()

        jitter = random.Random(7)
        delays, app_rss, sidecar_rss, total_rss = [], [], [], []
        for index in range(samples):
            # Spaced past the sync interval, at a varying phase, so each commit
            # is shipped by its own sync.
            time.sleep(jitter.uniform(1.2, 2.2))
            before = s3.keys(replica.level0)
            sent = time.monotonic()
            _put_setting(server.port, token, f"bench.recovery-{index}")
            found = wait_for(
                lambda before=before: s3.keys(replica.level0) - before,
                10,
                "the commit in the replica",
                interval=0.02,
            )
            delays.append(time.monotonic() - sent)
            assert found
            app = memory_mib(server.process.pid)["VmRSS"]
            side = memory_mib(sidecar.pid)["VmRSS"]
            app_rss.append(app)
            sidecar_rss.append(side)
            total_rss.append(app + side)
        app_peak = memory_mib(server.process.pid)["VmHWM"]
        sidecar_peak = memory_mib(sidecar.pid)["VmHWM"]
    finally:
        procs.stop(server.process)
        procs.stop(sidecar)

    restored = folder / "restored.db"
    litestream(
        "restore",
        "-config",
        str(replica.config),
        "-o",
        str(restored),
        str(replica.database),
    )
    present = _count_settings(restored, "bench.recovery-%")

    p50 = statistics.median(delays)
    area.add(
        Figure(
            "recovery point p50",
            "s",
            delays,
            f"{samples} commits (`PUT /api/settings/...`, 1.2-2.2 s apart); time "
            "from sending the request to a new LTX file listed in the bucket "
            "(polled every 20 ms). Samples shown; p95 on the next row.",
            review="<= 1 s",
            verdict="meets" if p50 <= 1.0 else f"misses: {p50:.2f} s",
            digits=2,
        )
    )
    from common import percentile

    p95 = percentile(delays, 0.95)
    area.add(
        Figure(
            "recovery point p95",
            "s",
            [p95],
            "95th percentile (nearest rank) of the same samples.",
            review="<= 1 s",
            verdict="meets" if p95 <= 1.0 else f"misses: {p95:.2f} s",
            digits=2,
        )
    )
    area.notes.append(
        f"After the recovery-point run, a restore held {present} of the "
        f"{samples} committed settings."
    )
    low, high = REVIEW_STACK_MIB
    stack = statistics.median(total_rss)
    area.add(
        Figure(
            "Litestream RSS while replicating",
            "MiB",
            sidecar_rss,
            "VmRSS of `litestream replicate`, read after each commit reached the "
            f"bucket; its peak (VmHWM) was {sidecar_peak:.1f} MiB.",
            review="32-64 MB",
            verdict="meets"
            if statistics.median(sidecar_rss) <= 64
            else "misses: above 64 MB",
        )
    )
    area.add(
        Figure(
            "`kubarr serve` RSS while replicating",
            "MiB",
            app_rss,
            "VmRSS of the app at the same moments; its peak (VmHWM) was "
            f"{app_peak:.1f} MiB.",
        )
    )
    area.add(
        Figure(
            "app + Litestream total RSS",
            "MiB",
            total_rss,
            "Sum of the two VmRSS readings taken together; the pod's whole "
            f"storage stack. Peaks summed: {app_peak + sidecar_peak:.1f} MiB.",
            review=f"{low}-{high} MB",
            verdict="meets"
            if stack <= high
            else f"misses: {stack:.0f} MiB is above {high} MB",
        )
    )
    area.notes.append(
        "The app's peak (VmHWM) includes one sign-in, whose argon2id hash "
        "touches 64 MiB and returns it. The steady total is set by the Python "
        "app itself (FastAPI, SQLAlchemy, pydantic), which idles near the "
        "figure in the app table; Litestream is within the review's range."
    )
    area.add(
        Figure(
            "PostgreSQL + CNPG stack / this stack",
            "x",
            [484 / t for t in total_rss],
            "The review's ~484 MB for PostgreSQL and CloudNativePG (not measured "
            "here) over each total above.",
            digits=1,
        )
    )


def _count_settings(database: Path, pattern: str) -> int:
    import pysqlite3.dbapi2 as sqlite

    connection = sqlite.connect(str(database))
    try:
        row = connection.execute(
            "SELECT count(*) FROM system_setting WHERE key LIKE ?", (pattern,)
        ).fetchone()
        return int(row[0])
    finally:
        connection.close()


def _database_size(path: Path) -> float:
    import pysqlite3.dbapi2 as sqlite

    connection = sqlite.connect(str(path))
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()
    return path.stat().st_size / 1024 / 1024


def _restores(quick: bool, work: Path, s3: S3, area: Area) -> None:
    runs = 3 if quick else 5
    for target in (5, 50):
        folder = work / f"restore-{target}"
        migrate(folder)
        database = folder / "kubarr.db"
        while _database_size(database) < target:
            fill_audit(folder, 10_000 if target <= 5 else 40_000)
        size = _database_size(database)
        replica = render(s3, database, folder, f"restore-{target}")
        litestream(
            "replicate", "-config", str(replica.config), "-once", "-force-snapshot"
        )

        times = []
        out = folder / "restored.db"
        for _ in range(runs):
            for leftover in folder.glob("restored.db*"):
                leftover.unlink()
            times.append(
                litestream(
                    "restore",
                    "-config",
                    str(replica.config),
                    "-o",
                    str(out),
                    str(database),
                )
            )
        check = _check(out)
        median = statistics.median(times)
        area.add(
            Figure(
                f"restore of a {size:.1f} MB database",
                "s",
                times,
                "Filled with audit rows, shipped with `litestream replicate -once "
                "-force-snapshot`, then `litestream restore -o` to a new file, "
                f"process start to exit; the copy's integrity check: {check}.",
                review="< 1 s (for < 50 MB)",
                verdict="meets" if median < 1.0 else f"misses: {median:.2f} s",
                digits=2,
            )
        )


def _check(path: Path) -> str:
    import pysqlite3.dbapi2 as sqlite

    connection = sqlite.connect(str(path))
    try:
        return str(connection.execute("PRAGMA quick_check").fetchone()[0])
    finally:
        connection.close()
