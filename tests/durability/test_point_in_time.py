"""Point-in-time restore: ``litestream restore -timestamp`` with the rendered
config gives the database exactly as it was at that moment."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pod import (
    AppClient,
    PodFactory,
    S3Server,
    iter_keys,
    replicated,
    restore_copy,
    s3_spec,
    wait_until,
)

BATCH = 15


@pytest.mark.parametrize("version", ["0.5", "0.3"])
def test_a_restore_to_a_moment_between_two_batches_gives_exactly_the_first(
    version: str, s3: S3Server, bucket: str, make_pod: PodFactory, tmp_path: Path
) -> None:
    pod = make_pod(s3_spec(s3, bucket, version))
    app, sidecar = pod.boot()
    client = AppClient(pod)
    scratch = tmp_path / "scratch.db"
    first = list(iter_keys("first", BATCH))
    second = list(iter_keys("second", BATCH))

    for key in first:
        client.put_setting(key, "before the moment")
    wait_until(lambda: replicated(pod, scratch, first), "the first batch replicated")

    # The moment: a whole second after the first batch is in the replica, and
    # a whole second before the second batch is written.
    moment = math.ceil(time.time())
    time.sleep(max(0.0, moment + 1 - time.time()))
    for key in second:
        client.put_setting(key, "after the moment")
    wait_until(lambda: replicated(pod, scratch, second), "the second batch replicated")
    client.close()
    sidecar.kill_9()
    app.kill_9()

    stamp = datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    at_moment = restore_copy(pod, tmp_path / "at-moment.db", "-timestamp", stamp)
    latest = restore_copy(pod, tmp_path / "latest.db")

    assert {key for key in at_moment if key.startswith("first-")} == set(first)
    assert not [key for key in at_moment if key.startswith("second-")]
    assert set(first) | set(second) <= set(latest)
