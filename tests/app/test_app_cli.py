"""The ``kubarr`` command: configuration errors, lazy imports, ``operator``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types
from pathlib import Path

import httpx
import pytest
from app_helpers import free_port
from kubarr_app import cli, db


def run_kubarr(env: dict[str, str], *args: str, cwd: Path | None = None):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KUBARR_")}
    clean.pop("DATABASE_URL", None)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "kubarr_app", *args],
        env=clean,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("KUBARR_DB_MAX_CONNECTIONS", "many"),
        ("KUBARR_DB_MIN_CONNECTIONS", "-1"),
        ("KUBARR_AUDIT_RETENTION_DAYS", "0"),
        ("KUBARR_CACHE_MAX_ENTRIES", "1.5"),
        ("KUBARR_CACHE_ENDPOINT_TTL_SECONDS", "soon"),
        ("KUBARR_PORT", "70000"),
        ("KUBARR_ALLOW_UNSAFE_SQLITE", "maybe"),
        ("DATABASE_URL", "oracle://x/y"),
        ("KUBARR_SECRET_KEY_FILE", "/nonexistent/secret"),
    ],
)
def test_an_invalid_setting_is_one_line_naming_it_and_exit_2(
    variable: str, value: str, tmp_path: Path
) -> None:
    result = run_kubarr({variable: value}, "migrate", cwd=tmp_path)

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "kubarr:" in line]
    assert len(lines) == 1
    assert variable.removesuffix("_FILE") in lines[0]
    assert "Traceback" not in result.stderr


def test_min_connections_above_max_is_refused(tmp_path: Path) -> None:
    result = run_kubarr(
        {"KUBARR_DB_MIN_CONNECTIONS": "6", "KUBARR_DB_MAX_CONNECTIONS": "5"},
        "migrate",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "KUBARR_DB_MIN_CONNECTIONS=6" in result.stderr


def test_migrate_does_not_load_the_web_stack(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from kubarr_app.cli import main\n"
        "rc = main(['migrate'])\n"
        "print(rc, 'fastapi' in sys.modules, 'uvicorn' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBARR_")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path}/kubarr.db"
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.splitlines()[-1] == "0 False False"


def test_operator_subcommand_hands_the_rest_of_argv_to_the_operator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[list[str]] = []
    fake = types.ModuleType("kubarr_operator.main")
    fake.run = lambda argv: seen.append(argv) or 7  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kubarr_operator.main", fake)

    assert cli.main(["operator", "--namespace", "media", "-v"]) == 7
    assert seen == [["--namespace", "media", "-v"]]


def test_serve_refuses_an_affected_sqlite_version(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(db, "sqlite_library_version", lambda: (3, 51, 2))
    monkeypatch.delenv("KUBARR_ALLOW_UNSAFE_SQLITE", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/kubarr.db")

    code = cli.main(["serve"])

    err = capsys.readouterr().err
    assert code == 5
    assert "SQLite 3.51.2 has the WAL-reset bug" in err
    assert not (tmp_path / "kubarr.db").exists()


def test_migrate_refuses_an_affected_sqlite_version_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(db, "sqlite_library_version", lambda: (3, 45, 0))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/kubarr.db")

    assert cli.main(["migrate"]) == 5


def test_serve_with_no_configuration_creates_migrates_and_says_where_to_sign_in(
    tmp_path: Path,
) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBARR_")}
    env.pop("DATABASE_URL", None)
    env.update(KUBARR_PORT=str(port), KUBARR_STORAGE_PATH=str(tmp_path / "storage"))
    server = subprocess.Popen(
        [sys.executable, "-m", "kubarr_app", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        ready = None
        for _ in range(300):
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, "kubarr serve exited early"
                time.sleep(0.1)
        assert ready is not None and ready.status_code == 200

        password_file = tmp_path / "data" / "initial-admin-password"
        password = password_file.read_text().strip()
        assert password_file.stat().st_mode & 0o777 == 0o600
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/auth/login",
            json={"username": "admin", "password": password},
            timeout=10,
        )
        assert login.status_code == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)

    assert (tmp_path / "data" / "kubarr.db").exists()
    assert "created the embedded database at data/kubarr.db" in output
    assert f"sign in with POST http://127.0.0.1:{port}/api/auth/login" in output
    assert "SQLite 3." in output
    assert password not in output
