"""Fixtures for the operator on the local control plane (see kube_support)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kube_support import (
    OPERATOR_USER,
    REPO,
    Cluster,
    OperatorManager,
    OperatorProcess,
    wait_for,
)
from operator_identity import operator_user_bindings


@pytest.fixture(scope="session")
def cluster(control_plane: Any, kubectl: Any) -> Cluster:
    """The control plane with the CRD, the operator's namespace and its RBAC
    installed, and the RBAC bound to the test identity of the operator."""
    result = kubectl(
        "apply",
        "--server-side",
        "-f",
        str(REPO / "crds" / "kubarr.io_kubarrinstances.yaml"),
    )
    assert result.returncode == 0, result.stderr
    wait_for(
        lambda: kubectl("get", "kubarr", "-A").returncode == 0,
        30,
        what="the CRD to be served",
    )
    for name in ("namespace.yaml", "rbac.yaml"):
        result = kubectl("apply", "-f", str(REPO / "manifests" / name))
        assert result.returncode == 0, result.stderr

    bindings = operator_user_bindings("test")
    result = kubectl("apply", "-f", "-", input=yaml.safe_dump_all(bindings))
    assert result.returncode == 0, result.stderr
    return Cluster(kubectl=kubectl, plane=control_plane)


@pytest.fixture(scope="session")
def operator_kubeconfig(cluster: Cluster) -> Path:
    return cluster.plane.user_kubeconfig(OPERATOR_USER)


@pytest.fixture(scope="session")
def operator_manager(
    cluster: Cluster,
    operator_kubeconfig: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[OperatorManager]:
    manager = OperatorManager(operator_kubeconfig, tmp_path_factory.mktemp("operator"))
    yield manager
    if manager.current is not None:
        manager.current.stop()


@pytest.fixture
def operator(operator_manager: OperatorManager) -> OperatorProcess:
    """A running operator, resyncing every 5 s so level-based behaviour shows
    within a test's patience."""
    return operator_manager.ensure()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto) on 127.0.0.1 for the operator's
    replica checks."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    assert host == "127.0.0.1"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
