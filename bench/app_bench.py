"""The embedded app: requests per second with and without the auth cache,
auth lookups, audit statistics and inserts, memory and start-up time.

``kubarr serve`` runs as a real process on 127.0.0.1 over a SQLite file
migrated by ``kubarr migrate``; the load generator (``loadgen.py``) is a second
process. The audit figures call the app's own code in this process, and the
load-everything baseline they are compared with lives only here.
"""

from __future__ import annotations

import gc
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import (
    LOCALHOST,
    REPO,
    Area,
    Figure,
    Processes,
    child_env,
    free_port,
    http_status,
    memory_mib,
    ratio,
    wait_for,
)

PASSWORD = "bench-password-123"
ACTIONS = ("auth.login", "setting.update", "storage.mkdir", "user.create", "role.edit")


@dataclass
class Plan:
    rounds: int
    requests: int
    starts: int
    audit_sizes: tuple[int, ...]
    group_by_runs: int
    load_all_runs: int
    insert_seconds: float

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if quick:
            return cls(3, 2000, 3, (100_000, 300_000), 3, 2, 2.0)
        return cls(5, 5000, 5, (100_000, 1_000_000), 5, 3, 5.0)


def app_env(folder: Path, port: int, **extra: str) -> dict[str, str]:
    """The app's environment: a SQLite file in ``folder`` and nothing inherited
    from a developer's own KUBARR_* settings."""
    env = {k: v for k, v in child_env().items() if not k.startswith("KUBARR_")}
    env.update(
        DATABASE_URL=f"sqlite:///{folder}/kubarr.db",
        KUBARR_HOST=LOCALHOST,
        KUBARR_PORT=str(port),
        KUBARR_STORAGE_PATH=str(folder / "storage"),
        KUBARR_BOOTSTRAP_ADMIN_PASSWORD=PASSWORD,
        KUBARR_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def migrate(folder: Path) -> None:
    """A fresh database at head, made the way the operator's Job makes it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "storage").mkdir(exist_ok=True)
    # The port is never opened by migrate; it only has to be a valid setting.
    result = subprocess.run(
        [sys.executable, "-m", "kubarr_app", "migrate"],
        env=app_env(folder, 8000),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubarr migrate failed: {result.stderr[-1500:]}")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    ready_seconds: float


def start_server(procs: Processes, folder: Path, log: Path, **extra: str) -> Server:
    """Start ``kubarr serve`` and time it until ``/readyz`` answers 200."""
    port = free_port()
    began = time.monotonic()
    process = procs.start(
        [sys.executable, "-m", "kubarr_app", "serve"],
        log,
        env=app_env(folder, port, **extra),
        cwd=folder,
    )

    def ready() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"kubarr serve exited: {log.read_text()[-2000:]}")
        return http_status(port, "/readyz", timeout=1) == 200

    wait_for(ready, 60, "kubarr serve to be ready", interval=0.01)
    return Server(process, port, time.monotonic() - began)


def load(port: int, requests: int) -> dict[str, float]:
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "loadgen.py"),
            "--port",
            str(port),
            "--password",
            PASSWORD,
            "--requests",
            str(requests),
            "--seconds",
            "60",
        ],
        capture_output=True,
        text=True,
        env=child_env(),
        check=False,
        timeout=180,
    )
    if result.returncode != 0:
        raise RuntimeError(f"load generator failed: {result.stderr[-1500:]}")
    figures: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


class RssSampler:
    """Samples a process's VmRSS every 50 ms while a load runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, memory_mib(self.pid)["VmRSS"])

    def stop(self) -> float:
        self._stop.set()
        self._thread.join(5)
        return self.peak


def run(quick: bool, work: Path, procs: Processes) -> list[Area]:
    plan = Plan.make(quick)
    http = Area(
        "App: HTTP, memory and start-up",
        "`kubarr serve` (one uvicorn process) over a SQLite file made by "
        "`kubarr migrate`; load from `bench/loadgen.py`, a second process on "
        "127.0.0.1 with one keep-alive connection sending authenticated "
        "`GET /api/auth/me` one at a time.",
    )
    _startup(plan, work, procs, http)
    _throughput(plan, work, procs, http)
    _auth_lookup(plan, work, http)

    audit = Area(
        "App: audit log",
        "The app's own `audit.statistics` and `audit.record` called in the "
        "benchmark process on a migrated SQLite file (WAL, synchronous=NORMAL, "
        "the app's connection settings).",
    )
    _statistics(plan, work, audit)
    _inserts(plan, work, audit)
    return [http, audit]


def _startup(plan: Plan, work: Path, procs: Processes, area: Area) -> None:
    ready, idle = [], []
    for index in range(plan.starts):
        folder = work / f"start-{index}"
        migrate(folder)
        server = start_server(procs, folder, work / f"start-{index}.log")
        ready.append(server.ready_seconds)
        time.sleep(2)
        idle.append(memory_mib(server.process.pid)["VmRSS"])
        procs.stop(server.process)
    area.add(
        Figure(
            "start-up to ready",
            "s",
            ready,
            "From starting `kubarr serve` on a migrated database to the first "
            "200 from /readyz (polled every 10 ms); includes Python start and "
            "imports.",
            digits=2,
        )
    )
    area.add(
        Figure(
            "`kubarr serve` RSS, idle",
            "MiB",
            idle,
            "VmRSS 2 s after ready, before any request; one sample per start.",
        )
    )


def _throughput(plan: Plan, work: Path, procs: Processes, area: Area) -> None:
    servers = {}
    for label, ttl in (("off", "0"), ("on", "30")):
        folder = work / f"cache-{label}"
        migrate(folder)
        servers[label] = start_server(
            procs,
            folder,
            work / f"cache-{label}.log",
            KUBARR_AUTH_CACHE_TTL_SECONDS=ttl,
        )

    results: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    loaded_rss: list[float] = []
    for _ in range(plan.rounds):
        for label in ("off", "on"):
            server = servers[label]
            sampler = RssSampler(server.process.pid)
            results[label].append(load(server.port, plan.requests))
            peak = sampler.stop()
            if label == "on":
                loaded_rss.append(peak)
    peaks = [memory_mib(s.process.pid)["VmHWM"] for s in servers.values()]
    for server in servers.values():
        procs.stop(server.process)

    requests = int(statistics.median(r["requests"] for r in results["on"]))
    errors = sum(r["errors"] for rs in results.values() for r in rs)
    for label, words in (("on", "cache on"), ("off", "cache off")):
        area.add(
            Figure(
                f"authenticated GET requests/s, {words}",
                "req/s",
                [r["per_second"] for r in results[label]],
                f"{requests} requests per round after 200 warm-up; rounds "
                "alternate between two servers, one with "
                "KUBARR_AUTH_CACHE_TTL_SECONDS=30, one with 0.",
                digits=0,
            )
        )
        for key, name in (("p50_ms", "p50"), ("p99_ms", "p99")):
            area.add(
                Figure(
                    f"GET latency {name}, {words}",
                    "ms",
                    [r[key] for r in results[label]],
                    f"{name} of the round's per-request times, client side "
                    "(send to last byte read).",
                    digits=2,
                )
            )
    area.add(
        Figure(
            "requests/s ratio, cache on / off",
            "x",
            [
                ratio(on["per_second"], off["per_second"])
                for on, off in zip(results["on"], results["off"], strict=True)
            ],
            "Each round's cache-on rate over the cache-off rate measured just "
            "before it.",
            digits=2,
        )
    )
    area.add(
        Figure(
            "`kubarr serve` RSS under load",
            "MiB",
            loaded_rss,
            "Highest VmRSS sampled every 50 ms while a round ran against the "
            "cache-on server.",
        )
    )
    area.add(
        Figure(
            "`kubarr serve` peak RSS after all rounds",
            "MiB",
            peaks,
            "VmHWM of the two servers (cache off, cache on) after every round.",
        )
    )
    area.notes.append(
        "The highest RSS sampled under load includes each round's sign-in: the "
        "password hash is argon2id with its library's default 64 MiB memory "
        "cost. Those pages are returned afterwards (the durability table shows "
        "the app near its idle RSS between requests)."
    )
    if errors:
        area.notes.append(f"{errors} requests answered with a status other than 200.")


def _open_database(folder: Path, connections: int = 5) -> Any:
    from kubarr_app.db import Database, parse_database_url

    return Database(parse_database_url(f"sqlite:///{folder}/kubarr.db"), connections, 1)


def _auth_lookup(plan: Plan, work: Path, area: Area) -> None:
    """Time the auth lookup itself, without HTTP, to set beside the review's
    per-lookup numbers."""
    from kubarr_app.api.app import build_state
    from kubarr_app.auth import bootstrap_admin
    from kubarr_app.schema import head_revision
    from kubarr_app.settings import Settings

    folder = work / "auth-lookup"
    migrate(folder)
    database = _open_database(folder)
    bootstrap_admin(database, "admin", PASSWORD)
    states = {}
    for label, ttl in (("off", 0.0), ("on", 30.0)):
        settings = Settings(
            database_url=f"sqlite:///{folder}/kubarr.db",
            database_url_is_default=False,
            storage_path=folder / "storage",
            auth_cache_ttl_seconds=ttl,
            cache_eviction_interval_seconds=3600,
        )
        states[label] = build_state(settings, database, head_revision(), None)
    login = states["on"].auth.login("admin", PASSWORD)
    assert login is not None
    token = login.token

    lookups = 2000
    per_lookup: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(plan.rounds):
        for label in ("off", "on"):
            auth = states[label].auth
            began = time.perf_counter()
            for _ in range(lookups):
                auth.authenticate(token)
            per_lookup[label].append((time.perf_counter() - began) / lookups * 1000)
    database.dispose()

    off, on = per_lookup["off"], per_lookup["on"]
    area.add(
        Figure(
            "auth lookup without cache",
            "ms",
            off,
            f"`AuthService.authenticate` on a live session, {lookups} calls per "
            "round in-process: token check plus four queries (session, user, "
            "roles, permissions).",
            review="1-5 ms",
            verdict=_within_or_better(statistics.median(off), 5.0),
            digits=3,
        )
    )
    area.add(
        Figure(
            "auth lookup with cache",
            "ms",
            on,
            "The same calls with the cache on (TTL 30 s), warm: token check and "
            "a dictionary lookup.",
            review="0.1-0.5 ms",
            verdict=_within_or_better(statistics.median(on), 0.5),
            digits=4,
        )
    )
    area.add(
        Figure(
            "auth lookup speed-up, cache on",
            "x",
            [ratio(a, b) for a, b in zip(off, on, strict=True)],
            "Each round's uncached time per lookup over its cached time.",
            digits=0,
        )
    )


def _within_or_better(value: float, ceiling: float) -> str:
    if value <= ceiling:
        return "meets (at or under the review's upper end)"
    return f"misses: {value / ceiling:.1f}x the review's upper end"


def fill_audit(folder: Path, rows: int) -> None:
    """``rows`` audit rows over 30 days, inserted in batches of 20,000."""
    from kubarr_app.models import AuditLog
    from sqlalchemy import insert

    database = _open_database(folder)
    now = datetime.now(UTC).replace(microsecond=0)
    batch: list[dict[str, object]] = []
    for index in range(rows):
        batch.append(
            {
                "timestamp": now - timedelta(minutes=(index * 7) % (30 * 24 * 60)),
                "user_id": None,
                "username": f"user{index % 5}",
                "action": ACTIONS[index % len(ACTIONS)],
                "resource_type": "setting",
                "resource_id": str(index % 100),
                "details": {"key": f"k{index % 50}", "changed": True},
                "ip_address": "127.0.0.1",
                "user_agent": "bench",
                "success": index % 50 != 0,
                "status_code": 200 if index % 50 else 403,
            }
        )
        if len(batch) == 20_000:
            with database.write() as session:
                session.connection().execute(insert(AuditLog), batch)
            batch = []
    if batch:
        with database.write() as session:
            session.connection().execute(insert(AuditLog), batch)
    database.dispose()


def load_everything(session: Any) -> dict[str, Any]:
    """The baseline the review measured: every row loaded as an ORM object and
    counted in Python. It exists only in this benchmark, to compare against."""
    from kubarr_app.models import AuditLog
    from sqlmodel import select

    rows = session.exec(select(AuditLog)).all()
    actions = Counter(row.action for row in rows)
    days = Counter(row.timestamp.date().isoformat() for row in rows)
    return {
        "total": len(rows),
        "failures": sum(1 for row in rows if not row.success),
        "top_actions": actions.most_common(10),
        "per_day": sorted(days.items()),
    }


def group_by(session: Any) -> Any:
    from kubarr_app import audit

    return audit.statistics(session, since=None, top=10)


def _timed(database: Any, how: Callable[[Any], Any]) -> float:
    gc.collect()
    with database.read() as session:
        began = time.perf_counter()
        how(session)
        return time.perf_counter() - began


def _peak(database: Any, how: Callable[[Any], Any]) -> float:
    """Peak Python memory allocated while computing, over what was held
    before, in MiB (tracemalloc)."""
    gc.collect()
    with database.read() as session:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        how(session)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return (peak - before) / 1024 / 1024


def _statistics(plan: Plan, work: Path, area: Area) -> None:
    full_size = 1_000_000
    for rows in plan.audit_sizes:
        label = f"{rows // 1000} K rows"
        if rows < full_size and rows == max(plan.audit_sizes):
            label += " (--quick: 1 M in the full run)"
        folder = work / f"audit-{rows}"
        migrate(folder)
        began = time.monotonic()
        fill_audit(folder, rows)
        print(f"  filled {rows} audit rows in {time.monotonic() - began:.0f} s")
        database = _open_database(folder)

        sql_time = [_timed(database, group_by) for _ in range(plan.group_by_runs)]
        sql_peak = [_peak(database, group_by) for _ in range(plan.group_by_runs)]
        all_time, all_peak, time_ratio = [], [], []
        for index in range(plan.load_all_runs):
            all_time.append(_timed(database, load_everything))
            time_ratio.append(ratio(all_time[-1], sql_time[index]))
            all_peak.append(_peak(database, load_everything))
        database.dispose()
        shutil.rmtree(folder, ignore_errors=True)

        at_100k = rows == 100_000
        area.add(
            Figure(
                f"audit statistics with GROUP BY, {label}: time",
                "s",
                sql_time,
                "`audit.statistics` over every row: total, failures, top 10 "
                "actions, count per day, all computed by SQLite.",
                digits=3,
            )
        )
        area.add(
            Figure(
                f"audit statistics with GROUP BY, {label}: peak extra memory",
                "KiB",
                [p * 1024 for p in sql_peak],
                "tracemalloc peak during the call minus what was allocated before it.",
                review="a few KB" if at_100k else "",
                verdict=_kib_verdict(statistics.median(sql_peak) * 1024)
                if at_100k
                else "",
                digits=0,
            )
        )
        area.add(
            Figure(
                f"load-everything baseline, {label}: time",
                "s",
                all_time,
                "Every row loaded as an ORM object and counted in Python "
                "(the baseline exists only in bench/).",
                digits=2,
            )
        )
        area.add(
            Figure(
                f"load-everything baseline, {label}: peak extra memory",
                "MiB",
                all_peak,
                "tracemalloc peak of the same call, as above.",
                review="~50 MB" if at_100k else "",
                digits=1,
            )
        )
        area.add(
            Figure(
                f"load-everything / GROUP BY time, {label}",
                "x",
                time_ratio,
                "Baseline time over the GROUP BY time of the same run.",
                digits=0,
            )
        )


def _kib_verdict(kib: float) -> str:
    if kib <= 8:
        return "meets"
    return (
        f"misses: {kib:.0f} KiB is more than a few KB (SQLAlchemy's statement "
        "and result objects); it stays flat as rows grow"
    )


def _inserts(plan: Plan, work: Path, area: Area) -> None:
    from kubarr_app import audit

    entry = audit.AuditEntry(
        action="setting.update",
        username="admin",
        resource_type="setting",
        resource_id="theme",
        details={"value": "dark"},
        ip_address="127.0.0.1",
        user_agent="bench",
        status_code=200,
    )
    one: list[float] = []
    eight: list[float] = []
    raw_single: list[float] = []
    raw_batch: list[float] = []
    eight_ratio: list[float] = []
    for index in range(plan.rounds):
        folder = work / f"inserts-{index}"
        migrate(folder)
        database = _open_database(folder, connections=10)

        for threads, into in ((1, one), (8, eight)):
            counts = [0] * threads
            began = time.monotonic()
            stop_at = began + plan.insert_seconds
            workers = [
                threading.Thread(
                    target=_writer, args=(database, entry, stop_at, counts, slot)
                )
                for slot in range(threads)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join(plan.insert_seconds + 30)
            into.append(sum(counts) / (time.monotonic() - began))
        eight_ratio.append(ratio(eight[-1], one[-1]))
        database.dispose()

        single, batch = _raw_inserts(folder / "raw.db", plan.insert_seconds)
        raw_single.append(single)
        raw_batch.append(batch)
        shutil.rmtree(folder, ignore_errors=True)

    seconds = f"{plan.insert_seconds:.0f} s"
    area.add(
        Figure(
            "audit inserts/s, 1 writer",
            "rows/s",
            one,
            f"`audit.record` in a loop for {seconds}: one row, one write "
            "transaction (BEGIN IMMEDIATE ... COMMIT) each, as a request makes.",
            digits=0,
        )
    )
    area.add(
        Figure(
            "audit inserts/s, 8 concurrent writers",
            "rows/s",
            eight,
            f"8 threads calling `audit.record` for {seconds} against one "
            "Database; the app serialises writers, so they queue.",
            digits=0,
        )
    )
    area.add(
        Figure(
            "8 writers / 1 writer",
            "x",
            eight_ratio,
            "The two rates of the same round.",
            digits=2,
        )
    )
    area.add(
        Figure(
            "raw SQLite inserts/s, one per transaction",
            "rows/s",
            raw_single,
            f"pysqlite3, WAL, synchronous=NORMAL, for {seconds}: a one-row "
            "INSERT committed on its own, no ORM.",
            review="50-100 K/s claimed",
            verdict=_rate_verdict(statistics.median(raw_single)),
            digits=0,
        )
    )
    area.add(
        Figure(
            "raw SQLite inserts/s, batched",
            "rows/s",
            raw_batch,
            "The same INSERT, 10,000 rows per transaction: the kind of "
            "simple write the review's claim describes.",
            review="50-100 K/s claimed",
            verdict=_rate_verdict(statistics.median(raw_batch)),
            digits=0,
        )
    )
    area.notes.append(
        "The review's 50-100 K writes/s is a raw SQLite figure; an audit row "
        "through the app (SQLAlchemy ORM, its own transaction, the write lock) "
        "is the figure a request actually pays."
    )


def _writer(
    database: Any, entry: Any, stop_at: float, counts: list[int], slot: int
) -> None:
    """Record audit rows until ``stop_at``, counting them in ``counts[slot]``."""
    from kubarr_app import audit

    while time.monotonic() < stop_at:
        audit.record(database, entry)
        counts[slot] += 1


def _rate_verdict(rate: float) -> str:
    if rate >= 50_000:
        return "meets"
    return f"misses: {rate / 1000:.1f} K/s is below 50 K/s"


def _raw_inserts(path: Path, seconds: float) -> tuple[float, float]:
    import pysqlite3.dbapi2 as sqlite

    connection = sqlite.connect(str(path), isolation_level=None)
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA busy_timeout=5000",
    ):
        connection.execute(pragma)
    connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER)")

    count = 0
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        connection.execute("INSERT INTO t (a, b) VALUES (?, ?)", ("x", count))
        count += 1
    single = count / (time.monotonic() - began)

    count = 0
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        connection.execute("BEGIN")
        connection.executemany(
            "INSERT INTO t (a, b) VALUES (?, ?)", (("x", i) for i in range(10_000))
        )
        connection.execute("COMMIT")
        count += 10_000
    batch = count / (time.monotonic() - began)
    connection.close()
    return single, batch
