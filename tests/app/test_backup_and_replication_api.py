"""``POST /api/backup/sync``, ``/replicationz`` and ``kubarr backup-now`` when
there is no Litestream, or none listening, and the settings behind them.

The paths with a real Litestream are in tests/durability/test_backup_now.py;
these are the refusals a homelab operator meets first: no socket configured,
a socket nobody serves, a wrong value in the environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from app_helpers import ADMIN_PASSWORD, ADMIN_TOKEN, free_port
from fastapi.testclient import TestClient
from kubarr_app.api.app import build_state, create_app
from kubarr_app.api.state import AppState
from kubarr_app.db import Database
from kubarr_app.schema import head_revision
from kubarr_app.settings import ConfigError, Settings, load_settings

BEARER = {"authorization": f"Bearer {ADMIN_TOKEN}"}
SQLITE = "sqlite:////data/kubarr.db"


# ------------------------------------------------------------ settings


def test_without_a_socket_replication_is_off_and_the_lag_bound_is_30_s() -> None:
    settings = load_settings({})

    assert settings.litestream_socket is None
    assert settings.replication_max_lag_seconds == 30.0


def test_the_socket_and_the_lag_bound_are_read_from_the_environment() -> None:
    settings = load_settings(
        {
            "DATABASE_URL": SQLITE,
            "KUBARR_LITESTREAM_SOCKET": "/var/run/litestream/litestream.sock",
            "KUBARR_REPLICATION_MAX_LAG_SECONDS": "12.5",
        }
    )

    assert settings.litestream_socket == Path("/var/run/litestream/litestream.sock")
    assert settings.replication_max_lag_seconds == 12.5


@pytest.mark.parametrize(
    ("env", "variable", "says"),
    [
        (
            {"KUBARR_LITESTREAM_SOCKET": "run/litestream.sock"},
            "KUBARR_LITESTREAM_SOCKET",
            "not an absolute path",
        ),
        (
            {"KUBARR_LITESTREAM_SOCKET": "/" + "s" * 120},
            "KUBARR_LITESTREAM_SOCKET",
            "107 bytes",
        ),
        (
            {
                "DATABASE_URL": "postgresql://kubarr:secret-password@db:5432/kubarr",
                "KUBARR_LITESTREAM_SOCKET": "/var/run/litestream/litestream.sock",
            },
            "KUBARR_LITESTREAM_SOCKET",
            "not SQLite",
        ),
        (
            {"KUBARR_REPLICATION_MAX_LAG_SECONDS": "soon"},
            "KUBARR_REPLICATION_MAX_LAG_SECONDS",
            "not a number",
        ),
        (
            {"KUBARR_REPLICATION_MAX_LAG_SECONDS": "0.5"},
            "KUBARR_REPLICATION_MAX_LAG_SECONDS",
            "at least 1",
        ),
        (
            {"KUBARR_REPLICATION_MAX_LAG_SECONDS": "inf"},
            "KUBARR_REPLICATION_MAX_LAG_SECONDS",
            "finite",
        ),
    ],
)
def test_a_bad_replication_setting_is_refused_naming_the_variable(
    env: dict[str, str], variable: str, says: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(env)

    assert variable in str(refused.value)
    assert says in str(refused.value)
    assert "secret-password" not in str(refused.value)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBARR_")}
    env.pop("DATABASE_URL", None)
    env.update(extra)
    return env


def _kubarr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubarr_app", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_with_a_bad_lag_bound_stops_with_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    result = _kubarr(
        _clean_env(
            DATABASE_URL=f"sqlite:///{tmp_path}/kubarr.db",
            KUBARR_REPLICATION_MAX_LAG_SECONDS="-3",
        ),
        "serve",
    )

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "kubarr:" in line]
    assert len(lines) == 1
    assert "KUBARR_REPLICATION_MAX_LAG_SECONDS=-3" in lines[0]
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------ endpoints


def test_backup_sync_without_litestream_is_409_saying_what_is_missing(
    client: TestClient,
) -> None:
    answer = client.post("/api/backup/sync", headers=BEARER)

    assert answer.status_code == 409
    assert "KUBARR_LITESTREAM_SOCKET" in answer.json()["detail"]


def test_backup_sync_needs_the_admin_token(client: TestClient) -> None:
    missing = client.post("/api/backup/sync")
    wrong = client.post(
        "/api/backup/sync", headers={"authorization": "Bearer not-the-token"}
    )

    assert missing.status_code == 401
    assert wrong.status_code == 401


def test_replicationz_without_litestream_is_200_not_configured(
    client: TestClient,
) -> None:
    answer = client.get("/replicationz")

    assert answer.status_code == 200
    assert answer.json() == {"replication": "not configured"}


@pytest.fixture
def short_dir() -> Iterator[Path]:
    """A folder whose socket paths stay under the 107-byte limit."""
    folder = Path(tempfile.mkdtemp(prefix="kubarr-sock-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def unserved_client(
    settings: Settings, database: Database, short_dir: Path
) -> Iterator[TestClient]:
    """The app with a socket configured that no Litestream serves."""
    if not database.is_sqlite:
        pytest.fail("this fixture is for SQLite only", pytrace=False)
    configured = replace(settings, litestream_socket=short_dir / "litestream.sock")
    state: AppState = build_state(configured, database, head_revision(), "3.53.4")
    with TestClient(create_app(state), base_url="http://127.0.0.1") as test_client:
        yield test_client


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_replicationz_is_503_when_nothing_serves_the_socket(
    unserved_client: TestClient,
) -> None:
    answer = unserved_client.get("/replicationz")

    assert answer.status_code == 503
    body = answer.json()
    assert body["replication"] == "unreachable"
    assert body["pending"] is None
    assert body["lag_seconds"] is None
    assert body["max_lag_seconds"] == 30
    assert "control socket" in body["reason"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_backup_sync_is_503_when_nothing_serves_the_socket(
    unserved_client: TestClient,
) -> None:
    answer = unserved_client.post("/api/backup/sync", headers=BEARER)

    assert answer.status_code == 503
    assert "is the litestream sidecar running" in answer.json()["detail"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_socket_path_that_is_a_plain_file_is_unreachable_too(
    unserved_client: TestClient, short_dir: Path
) -> None:
    (short_dir / "litestream.sock").write_text("not a socket")

    answer = unserved_client.get("/replicationz")

    assert answer.status_code == 503
    assert answer.json()["replication"] == "unreachable"


# ------------------------------------------------------------ the command


@pytest.fixture(scope="module")
def served_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``kubarr serve`` on 127.0.0.1 with no Litestream configured."""
    folder = tmp_path_factory.mktemp("backup-now-app")
    port = free_port()
    env = _clean_env(
        DATABASE_URL=f"sqlite:///{folder}/kubarr.db",
        KUBARR_HOST="127.0.0.1",
        KUBARR_PORT=str(port),
        KUBARR_STORAGE_PATH=str(folder / "storage"),
        KUBARR_ADMIN_TOKEN=ADMIN_TOKEN,
        KUBARR_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    migrated = _kubarr(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    server = subprocess.Popen(
        [sys.executable, "-m", "kubarr_app", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            assert server.poll() is None, "kubarr serve exited during start-up"
            try:
                if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("kubarr serve did not become ready in 30 s")
        yield base_url
    finally:
        server.terminate()
        server.wait(timeout=30)


def _backup_now(
    tmp_path: Path, *args: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    log = tmp_path / "termination-log"
    result = _kubarr(
        _clean_env(KUBARR_TERMINATION_LOG=str(log), **env), "backup-now", *args
    )
    return result, log


def test_backup_now_against_an_app_without_litestream_exits_1_and_says_why(
    served_app: str, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(ADMIN_TOKEN + "\n")

    result, log = _backup_now(
        tmp_path, "--url", served_app, "--token-file", str(token_file)
    )

    assert result.returncode == 1
    assert "HTTP 409" in result.stderr
    error = json.loads(log.read_text())["error"]
    assert "KUBARR_LITESTREAM_SOCKET" in error
    assert ADMIN_TOKEN not in result.stdout + result.stderr + error


def test_backup_now_with_a_wrong_token_exits_1_without_echoing_it(
    served_app: str, tmp_path: Path
) -> None:
    result, log = _backup_now(
        tmp_path, "--url", served_app, KUBARR_ADMIN_TOKEN="a-wrong-token-value"
    )

    assert result.returncode == 1
    assert "HTTP 401" in result.stderr
    assert "a-wrong-token-value" not in result.stderr + log.read_text()


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--url", "kubarr:8000"], {"KUBARR_ADMIN_TOKEN": "x"}, "--url"),
        (["--url", "http://127.0.0.1:9"], {}, "no admin token"),
        (
            ["--url", "http://127.0.0.1:9", "--token-file", "/nonexistent/token"],
            {},
            "--token-file",
        ),
        (
            ["--url", "http://127.0.0.1:9", "--timeout", "0"],
            {"KUBARR_ADMIN_TOKEN": "x"},
            "--timeout",
        ),
    ],
)
def test_backup_now_with_bad_configuration_exits_2_before_any_request(
    args: list[str], env: dict[str, str], says: str, tmp_path: Path
) -> None:
    result, log = _backup_now(tmp_path, *args, **env)

    assert result.returncode == 2
    assert says in result.stderr
    assert says in json.loads(log.read_text())["error"]


def test_backup_now_against_a_closed_port_exits_1(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"

    result, log = _backup_now(tmp_path, "--url", closed, KUBARR_ADMIN_TOKEN="x")

    assert result.returncode == 1
    assert "cannot reach" in json.loads(log.read_text())["error"]
