"""``kubarr backup-now``: ask the running app to sync its database to the replica.

Run it before an upgrade or any other step you might want to undo: when it
exits 0, every write the app committed before the call is on the replica, so
a restore taken right after finds it. The app, not this command, talks to the
Litestream sidecar, because only the app's pod shares the sidecar's socket.

Like ``kubarr audit-prune`` the result (or the error) is printed and written
as one JSON line to the termination log, and the exit code is 0 synced,
1 failed, 2 bad configuration.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from kubarr_app.admin_call import AdminCallError, post, without_token
from kubarr_app.exit_codes import EXIT_CONFIG, EXIT_OK
from kubarr_app.prune_client import (
    PruneConfigError,
    resolve_token,
    write_termination_log,
)

EXIT_BACKUP_FAILED = 1

SYNC_PATH = "/api/backup/sync"
# The app waits up to 60 s for Litestream; this leaves room for its answer.
DEFAULT_TIMEOUT_SECONDS = 90.0


class BackupConfigError(Exception):
    """The command cannot run as configured; the message says what to fix."""


class BackupFailedError(Exception):
    """The app could not be reached or did not sync."""


@dataclass(frozen=True)
class BackupRequest:
    """Everything one sync call needs, already validated."""

    url: str
    token: str
    timeout_seconds: float

    def __repr__(self) -> str:
        # The token must never reach a log line through an accidental repr().
        return f"BackupRequest(url={self.url!r})"


def sync_url(base: str) -> str:
    """The sync endpoint under ``base``; only http(s) URLs with a host pass."""
    parts = urlsplit(base.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BackupConfigError(
            f"--url {base!r} is not an http(s) URL of the app, e.g. "
            "http://kubarr.media.svc:8000"
        )
    return base.strip().rstrip("/") + SYNC_PATH


def build_request(
    url: str, token_file: str | None, timeout_seconds: float, env: Mapping[str, str]
) -> BackupRequest:
    if timeout_seconds <= 0:
        raise BackupConfigError("--timeout must be a positive number of seconds")
    try:
        token = resolve_token(token_file, env)
    except PruneConfigError as exc:
        raise BackupConfigError(str(exc)) from None
    return BackupRequest(sync_url(url), token, timeout_seconds)


def send(request: BackupRequest) -> dict[str, Any]:
    """POST the sync call once; raises :class:`BackupFailedError` on any failure.

    No retry: a failed sync says something is wrong with the replica, which a
    person should look at before the risky step this command guards.
    """
    try:
        return post(
            request.url,
            request.token,
            request.timeout_seconds,
            hint_404="; is --url the Kubarr app's Service, and is the app this "
            "version?",
        )
    except AdminCallError as exc:
        raise BackupFailedError(str(exc)) from None


def run(
    url: str,
    token_file: str | None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    env: Mapping[str, str] | None = None,
) -> int:
    """The whole command; returns the exit code (0 synced, 1 failed, 2 config)."""
    if env is None:
        env = os.environ
    # One request per run: httpx's per-request INFO line adds nothing.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    token = ""
    try:
        request = build_request(url, token_file, timeout_seconds, env)
        token = request.token
        result = send(request)
    except BackupConfigError as exc:
        message = f"configuration error: {exc}"
        write_termination_log(json.dumps({"error": message}), env)
        print(f"kubarr: {message}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    except BackupFailedError as exc:
        message = without_token(str(exc), token)
        write_termination_log(json.dumps({"error": message}), env)
        print(f"kubarr: backup sync failed: {message}", file=sys.stderr, flush=True)
        return EXIT_BACKUP_FAILED

    line = json.dumps(result, sort_keys=True)
    write_termination_log(line, env)
    print(line, flush=True)
    return EXIT_OK
