"""``kubarr verify-db``: the check every restore passes before it serves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pysqlite3.dbapi2 as sqlite


def verify(path: Path, tmp_path: Path) -> tuple[int, dict]:
    log = tmp_path / "termination-log"
    result = subprocess.run(
        [sys.executable, "-m", "kubarr_app", "verify-db", "--path", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "KUBARR_TERMINATION_LOG": str(log)},
    )
    line = result.stdout.strip().splitlines()[-1]
    assert json.loads(log.read_text()) == json.loads(line)
    return result.returncode, json.loads(line)


def make_database(path: Path, rows: int) -> None:
    connection = sqlite.connect(path)
    connection.execute("CREATE TABLE audit_log (id INTEGER PRIMARY KEY, action TEXT)")
    connection.executemany(
        "INSERT INTO audit_log (action) VALUES (?)",
        [(f"action {n} " + "x" * 200,) for n in range(rows)],
    )
    connection.execute("CREATE TABLE user (id INTEGER PRIMARY KEY)")
    connection.execute("INSERT INTO user DEFAULT VALUES")
    connection.commit()
    connection.close()


def test_a_sound_database_reports_integrity_ok_and_row_counts(tmp_path: Path) -> None:
    make_database(tmp_path / "k.db", 300)

    code, result = verify(tmp_path / "k.db", tmp_path)

    assert code == 0
    assert result["integrity"] == "ok"
    assert result["rows"] == {"audit_log": 300, "user": 1}


def test_a_missing_database_is_a_fresh_start_not_an_error(tmp_path: Path) -> None:
    code, result = verify(tmp_path / "absent.db", tmp_path)

    assert code == 0
    assert result == {
        "database": "missing",
        "ok": True,
        "path": str(tmp_path / "absent.db"),
    }


def test_a_damaged_database_fails_with_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    make_database(path, 3000)
    data = bytearray(path.read_bytes())
    for offset in range(8192, 8192 + 4096, 7):  # scribble over a b-tree page
        data[offset] = 0xA5
    path.write_bytes(bytes(data))

    code, result = verify(path, tmp_path)

    assert code == 1
    assert result["ok"] is False
    assert result["integrity"] != "ok"
