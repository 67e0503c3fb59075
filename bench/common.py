"""Shared pieces of the benchmark suite: figures, statistics, processes, memory.

Every benchmark module returns :class:`Figure` records; ``report.py`` turns
them into tables. Nothing here asserts a number: a benchmark that misses the
review's figure says so in words, it does not fail.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LOCALHOST = "127.0.0.1"

T = TypeVar("T")


@dataclass
class Figure:
    """One measured figure: its samples, how it was measured, and how it
    compares with the architecture review's number (if the review has one)."""

    name: str
    unit: str
    samples: list[float]
    method: str
    review: str = ""
    verdict: str = ""
    digits: int = 1

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)


@dataclass
class Area:
    """One table of the report: a title, a sentence of set-up, its figures."""

    title: str
    setup: str
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str = ""

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        d = figure.digits
        print(
            f"  {figure.name}: median {figure.median:.{d}f} {figure.unit}"
            f" (min {figure.low:.{d}f}, max {figure.high:.{d}f},"
            f" n={len(figure.samples)})",
            flush=True,
        )
        return figure


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest sample with at least ``fraction``
    of the samples at or below it. With few samples it is the honest choice;
    interpolation would invent values nobody measured."""
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("inf")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def wait_for(
    predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05
) -> T:
    """Poll until ``predicate`` returns something truthy; raise on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def memory_mib(pid: int) -> dict[str, float]:
    """``VmRSS`` (now) and ``VmHWM`` (peak since start) of a process, in MiB."""
    found: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0]) / 1024
    return found


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a process this suite starts: no proxy settings, so
    nothing aimed at 127.0.0.1 can be routed elsewhere."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key.lower() not in {"http_proxy", "https_proxy", "all_proxy"}
    }
    env["NO_PROXY"] = env["no_proxy"] = f"{LOCALHOST},localhost"
    env.update(extra)
    return env


def http_status(port: int, path: str, timeout: float = 2.0) -> int:
    """Status of a plain GET to 127.0.0.1, or 0 when nothing answers."""
    connection = http.client.HTTPConnection(LOCALHOST, port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        connection.close()


class Processes:
    """Every process the suite starts, so each one is stopped at the end even
    when a benchmark fails half-way."""

    def __init__(self) -> None:
        self._started: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        args: Sequence[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                list(args),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        self._started.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes], grace: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; only this process."""
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if process in self._started:
            self._started.remove(process)

    def stop_all(self) -> None:
        for process in reversed(list(self._started)):
            self.stop(process)


def describe(values: Sequence[float], digits: int = 1) -> str:
    """``median (min-max)`` for a note written in prose."""
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}-{max(values):.{digits}f})"
    )


def jsonable(value: Any) -> Any:
    """Figures as plain data for the raw results file."""
    if isinstance(value, Figure | Area):
        return {k: jsonable(v) for k, v in value.__dict__.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value
