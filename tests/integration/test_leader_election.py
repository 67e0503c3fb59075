"""Two operator processes: only the Lease holder acts; the standby takes over
when the holder dies."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from kube_support import Cluster, OperatorProcess, utc_now, wait_for

pytestmark = pytest.mark.integration


def test_a_second_operator_waits_as_standby_and_takes_over_when_the_leader_dies(
    cluster: Cluster,
    operator: Any,
    operator_kubeconfig: Path,
    namespace: str,
    tmp_path: Path,
) -> None:
    standby = OperatorProcess(
        operator_kubeconfig, tmp_path / "standby.log", "--resync-seconds", "5"
    )
    try:
        wait_for(
            lambda: "waits as standby" in standby.log(),
            30,
            what="the second operator to stand by",
        )
        cluster.apply(
            namespace,
            {
                "apiVersion": "kubarr.io/v1alpha1",
                "kind": "KubarrInstance",
                "metadata": {"name": "first"},
                "spec": {},
            },
        )
        cluster.wait_ready(namespace, "first")
        time.sleep(2)

        assert "created StatefulSet first" in operator.log()
        assert "created" not in standby.log()
        assert "now leads" not in standby.log()

        since = utc_now()
        operator.stop(signal.SIGKILL)  # no clean release: the lease must expire
        cluster.apply(
            namespace,
            {
                "apiVersion": "kubarr.io/v1alpha1",
                "kind": "KubarrInstance",
                "metadata": {"name": "second"},
                "spec": {},
            },
        )

        wait_for(
            lambda: "now leads" in standby.log(),
            60,
            what="the standby to take the lease",
        )
        cluster.wait_ready(namespace, "second", timeout=60)
        assert "created StatefulSet second" in standby.log()
        assert cluster.writes_by_operator(namespace, since)
    finally:
        standby.stop()
