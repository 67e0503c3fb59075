"""``kubarr audit-prune`` against a real ``kubarr serve`` on 127.0.0.1.

The retention CronJob runs exactly this command, so these tests run it as a
separate process, the way the CronJob's container does, and read back what the
kubelet would show: the exit code and the termination log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from app_helpers import ADMIN_PASSWORD, free_port
from kubarr_app.db import Database, parse_database_url
from kubarr_app.models import AuditLog
from sqlmodel import func, select

TOKEN = "prune-token-for-the-command-tests"
OLD_ROWS = 40
RECENT_ROWS = 7


@dataclass
class RunningApp:
    base_url: str
    database_url: str
    token_file: Path


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


def _audit_rows(database_url: str) -> int:
    database = Database(parse_database_url(database_url), 2, 1)
    try:
        with database.read() as session:
            return int(session.exec(select(func.count()).select_from(AuditLog)).one())
    finally:
        database.dispose()


def _seed_audit_rows(database_url: str) -> None:
    """Old and recent audit rows, written before the app opens the file."""
    database = Database(parse_database_url(database_url), 2, 1)
    now = datetime.now(UTC)
    with database.write() as session:
        for age_days in [100] * OLD_ROWS + [1] * RECENT_ROWS:
            session.add(
                AuditLog(timestamp=now - timedelta(days=age_days), action="seeded")
            )
    database.dispose()


@pytest.fixture(scope="module")
def running_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    folder = tmp_path_factory.mktemp("prune-app")
    token_file = folder / "token"
    token_file.write_text(TOKEN + "\n")
    database_url = f"sqlite:///{folder}/kubarr.db"
    port = free_port()
    env = _clean_env(
        DATABASE_URL=database_url,
        KUBARR_HOST="127.0.0.1",
        KUBARR_PORT=str(port),
        KUBARR_STORAGE_PATH=str(folder / "storage"),
        KUBARR_ADMIN_TOKEN_FILE=str(token_file),
        KUBARR_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    migrated = _kubarr(env, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    _seed_audit_rows(database_url)

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
        yield RunningApp(base_url, database_url, token_file)
    finally:
        server.terminate()
        server.wait(timeout=30)


def _prune(
    tmp_path: Path, *args: str, **env: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    log = tmp_path / "termination-log"
    result = _kubarr(
        _clean_env(KUBARR_TERMINATION_LOG=str(log), **env), "audit-prune", *args
    )
    return result, log


def test_prune_deletes_old_entries_and_reports_the_same_json_to_stdout_and_kubelet(
    running_app: RunningApp, tmp_path: Path
) -> None:
    before = _audit_rows(running_app.database_url)

    result, log = _prune(
        tmp_path,
        "--url",
        running_app.base_url,
        KUBARR_ADMIN_TOKEN_FILE=str(running_app.token_file),
    )

    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["deleted"] == OLD_ROWS
    assert printed["retention_days"] == 90
    assert json.loads(log.read_text()) == printed
    assert log.read_text().count("\n") == 1
    # The prune itself is audited: the old rows went, one new row came.
    assert _audit_rows(running_app.database_url) == before - OLD_ROWS + 1


def test_retention_days_and_token_file_flags_are_passed_to_the_app(
    running_app: RunningApp, tmp_path: Path
) -> None:
    result, log = _prune(
        tmp_path,
        "--url",
        running_app.base_url + "/",
        "--retention-days",
        "3650",
        "--token-file",
        str(running_app.token_file),
    )

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["retention_days"] == 3650
    assert json.loads(log.read_text())["deleted"] == 0


def test_token_from_the_environment_works(
    running_app: RunningApp, tmp_path: Path
) -> None:
    result, _ = _prune(
        tmp_path, "--url", running_app.base_url, KUBARR_ADMIN_TOKEN=TOKEN
    )
    assert result.returncode == 0, result.stderr


def test_a_wrong_token_exits_1_and_says_why_without_echoing_the_token(
    running_app: RunningApp, tmp_path: Path
) -> None:
    wrong = "this-is-not-the-admin-token"

    result, log = _prune(
        tmp_path, "--url", running_app.base_url, KUBARR_ADMIN_TOKEN=wrong
    )

    assert result.returncode == 1
    message = json.loads(log.read_text())
    assert set(message) == {"error"}
    assert "HTTP 401" in message["error"]
    assert "token Secret" in message["error"]
    for text in (result.stdout, result.stderr, log.read_text()):
        assert wrong not in text
        assert TOKEN not in text


def test_an_unreachable_app_exits_1_with_the_error_in_the_termination_log(
    tmp_path: Path,
) -> None:
    closed_port = free_port()

    result, log = _prune(
        tmp_path,
        "--url",
        f"http://127.0.0.1:{closed_port}",
        KUBARR_ADMIN_TOKEN=TOKEN,
    )

    assert result.returncode == 1
    error = json.loads(log.read_text())["error"]
    assert f"cannot reach http://127.0.0.1:{closed_port}/api/audit/prune" in error
    assert TOKEN not in result.stderr + log.read_text()


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--url", "http://127.0.0.1:9"], {}, "no admin token"),
        (
            ["--url", "http://127.0.0.1:9"],
            {"KUBARR_ADMIN_TOKEN_FILE": "/nonexistent/token"},
            "KUBARR_ADMIN_TOKEN_FILE='/nonexistent/token' cannot be read",
        ),
        (["--url", "kubarr:8000"], {"KUBARR_ADMIN_TOKEN": TOKEN}, "not an http(s)"),
        (
            ["--url", "http://127.0.0.1:9", "--retention-days", "0"],
            {"KUBARR_ADMIN_TOKEN": TOKEN},
            "outside 1..36500",
        ),
    ],
)
def test_bad_configuration_exits_2_before_any_request(
    args: list[str], env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    result, log = _prune(tmp_path, *args, **env)

    assert result.returncode == 2
    assert expected in result.stderr
    assert expected in json.loads(log.read_text())["error"]


def test_a_missing_termination_log_folder_is_skipped_silently(
    running_app: RunningApp, tmp_path: Path
) -> None:
    result = _kubarr(
        _clean_env(
            KUBARR_TERMINATION_LOG=str(tmp_path / "absent" / "termination-log"),
            KUBARR_ADMIN_TOKEN=TOKEN,
        ),
        "audit-prune",
        "--url",
        running_app.base_url,
    )

    assert result.returncode == 0
    assert result.stderr == ""
    assert not (tmp_path / "absent").exists()
