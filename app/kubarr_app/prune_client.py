"""``kubarr audit-prune``: ask the running app to apply audit retention.

The retention CronJob runs this instead of opening the database: SQLite has
one writer, and that writer is the app. The result (or the error) is also
written as one JSON line to the container's termination log, so the kubelet
puts it in the pod's ``state.terminated.message`` and ``kubectl describe``
shows what the last run did without anyone reading logs.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubarr_app.admin_call import AdminCallError, post, without_token
from kubarr_app.exit_codes import EXIT_CONFIG, EXIT_OK

EXIT_PRUNE_FAILED = 1

PRUNE_PATH = "/api/audit/prune"
DEFAULT_TERMINATION_LOG = "/dev/termination-log"
# The kubelet reads at most 4096 bytes of the termination message.
TERMINATION_MESSAGE_LIMIT = 4096


class PruneConfigError(Exception):
    """The command cannot run as configured; the message says what to fix."""


class PruneFailedError(Exception):
    """The app could not be reached or did not prune."""


@dataclass(frozen=True)
class PruneRequest:
    """Everything one prune call needs, already validated."""

    url: str
    token: str
    retention_days: int | None
    timeout_seconds: float

    def __repr__(self) -> str:
        # The token must never reach a log line through an accidental repr().
        return f"PruneRequest(url={self.url!r})"


def _read_token_file(path: str, source: str) -> str:
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise PruneConfigError(
            f"{source}={path!r} cannot be read: {exc.strerror}"
        ) from None
    if not token:
        raise PruneConfigError(f"{source}={path!r} is empty")
    return token


def resolve_token(token_file: str | None, env: Mapping[str, str]) -> str:
    """The admin token: ``--token-file``, else ``KUBARR_ADMIN_TOKEN``, else
    the file named by ``KUBARR_ADMIN_TOKEN_FILE`` (the CronJob's Secret mount)."""
    if token_file:
        return _read_token_file(token_file, "--token-file")
    direct = (env.get("KUBARR_ADMIN_TOKEN") or "").strip()
    if direct:
        return direct
    from_env = env.get("KUBARR_ADMIN_TOKEN_FILE")
    if from_env:
        return _read_token_file(from_env, "KUBARR_ADMIN_TOKEN_FILE")
    raise PruneConfigError(
        "no admin token: pass --token-file, or set KUBARR_ADMIN_TOKEN or "
        "KUBARR_ADMIN_TOKEN_FILE (the operator mounts it from the token Secret)"
    )


def prune_url(base: str) -> str:
    """The prune endpoint under ``base``; only http(s) URLs with a host pass."""
    parts = urlsplit(base.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise PruneConfigError(
            f"--url {base!r} is not an http(s) URL of the app, e.g. "
            "http://kubarr.media.svc:8000"
        )
    return base.strip().rstrip("/") + PRUNE_PATH


def build_request(
    url: str,
    retention_days: int | None,
    token_file: str | None,
    timeout_seconds: float,
    env: Mapping[str, str],
) -> PruneRequest:
    if retention_days is not None and not 1 <= retention_days <= 36500:
        raise PruneConfigError(f"--retention-days {retention_days} is outside 1..36500")
    if timeout_seconds <= 0:
        raise PruneConfigError("--timeout must be a positive number of seconds")
    return PruneRequest(
        url=prune_url(url),
        token=resolve_token(token_file, env),
        retention_days=retention_days,
        timeout_seconds=timeout_seconds,
    )


def send(request: PruneRequest) -> dict[str, Any]:
    """POST the prune call once; raises :class:`PruneFailedError` on any failure.

    No retry here: the CronJob's ``backoffLimit`` decides whether to try again,
    so a wrong token is not hammered against the app.
    """
    body = (
        {"retention_days": request.retention_days}
        if request.retention_days is not None
        else None
    )
    try:
        return post(
            request.url,
            request.token,
            request.timeout_seconds,
            body,
            hint_401="; the app refused the token: check that the CronJob mounts "
            "the same token Secret the app reads",
        )
    except AdminCallError as exc:
        raise PruneFailedError(str(exc)) from None


def termination_log_path(env: Mapping[str, str]) -> Path | None:
    """Where the kubelet looks for the termination message, or ``None``.

    An explicit ``KUBARR_TERMINATION_LOG`` is written when its folder exists.
    The default path is written only when the file is already there (the
    kubelet mounts it into the container), so a run on a workstation never
    creates files under ``/dev``.
    """
    explicit = env.get("KUBARR_TERMINATION_LOG")
    if explicit:
        path = Path(explicit)
        return path if path.parent.is_dir() else None
    default = Path(DEFAULT_TERMINATION_LOG)
    return default if default.is_file() else None


def write_termination_log(line: str, env: Mapping[str, str]) -> None:
    path = termination_log_path(env)
    if path is None:
        return
    data = line.encode("utf-8")[:TERMINATION_MESSAGE_LIMIT]
    try:
        path.write_bytes(data + b"\n")
    except OSError as exc:
        # The prune itself happened (or failed) regardless; say so and go on.
        print(
            f"kubarr: cannot write the termination log {path}: {exc.strerror}",
            file=sys.stderr,
        )


def run(
    url: str,
    retention_days: int | None,
    token_file: str | None,
    timeout_seconds: float,
    env: Mapping[str, str] | None = None,
) -> int:
    """The whole command; returns the exit code (0 pruned, 1 failed, 2 config)."""
    if env is None:
        env = os.environ
    # One request per run: httpx's per-request INFO line adds nothing to the
    # result line, which is what the CronJob's log should show.
    logging.getLogger("httpx").setLevel(logging.WARNING)

    token = ""
    try:
        request = build_request(url, retention_days, token_file, timeout_seconds, env)
        token = request.token
        result = send(request)
    except PruneConfigError as exc:
        message = f"configuration error: {exc}"
        write_termination_log(json.dumps({"error": message}), env)
        print(f"kubarr: {message}", file=sys.stderr, flush=True)
        return EXIT_CONFIG
    except PruneFailedError as exc:
        message = without_token(str(exc), token)
        write_termination_log(json.dumps({"error": message}), env)
        print(f"kubarr: audit prune failed: {message}", file=sys.stderr, flush=True)
        return EXIT_PRUNE_FAILED

    line = json.dumps(result, sort_keys=True)
    write_termination_log(line, env)
    print(line, flush=True)
    return EXIT_OK
