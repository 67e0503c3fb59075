"""A client of the Litestream sidecar's control socket.

Litestream 0.5 serves a small HTTP API on a Unix socket when its config says
``socket: {enabled: true}``. The operator puts that socket in an emptyDir the
app container shares, at ``/var/run/litestream/litestream.sock``, and names it
in ``KUBARR_LITESTREAM_SOCKET``. Through it the app can force a sync to the
replica before something risky (``POST /api/backup/sync``) and say how far the
replica is behind (``GET /replicationz``), without opening S3 itself.

Every call opens a fresh connection with bounded timeouts: the sidecar may
have restarted since the last call, and a hung sidecar must not hang a probe.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

# Only the socket is dialled; the host name just fills the request line.
BASE_URL = "http://litestream"
CONNECT_TIMEOUT_SECONDS = 2.0
# A local sync (WAL to LTX files on the data volume) and the listings are
# quick; this bounds a probe when the sidecar is busy or stuck.
QUICK_TIMEOUT_SECONDS = 5.0
# Litestream enforces its own timeout on a sync; the client waits this much
# longer so that Litestream's answer, which says what went wrong, arrives first.
ANSWER_GRACE_SECONDS = 5.0
DEFAULT_SYNC_TIMEOUT_SECONDS = 60.0
# A sync round can end with the replica still behind (Litestream caps the
# files one round uploads); a few rounds drain any backlog within the timeout.
MAX_SYNC_ROUNDS = 8
ERROR_DETAIL_LIMIT = 300


class ReplicationError(Exception):
    """Litestream could not be reached or did not do what was asked."""


@dataclass(frozen=True)
class ReplicationLag:
    """How far the replica is behind the local database, as Litestream sees it.

    ``seconds`` is 0 when nothing is pending (the replica holds the local
    transaction ID). Otherwise it is the time since Litestream last finished a
    successful sync to the replica (``last_sync_at``), or since Litestream
    started when it has not finished one yet. Every write that is still
    pending was made after the replica last caught up, so a replica that
    stopped accepting uploads shows a lag that grows with the wall clock,
    while a healthy one that is merely mid-upload shows at most a sync
    interval or so.
    """

    pending: bool
    seconds: float
    txid: int
    replicated_txid: int
    last_sync_at: datetime | None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:ERROR_DETAIL_LIMIT]
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])[:ERROR_DETAIL_LIMIT]
    return response.text[:ERROR_DETAIL_LIMIT]


def _parse_time(raw: object) -> datetime | None:
    """A Go RFC 3339 time (nanoseconds allowed) as an aware datetime."""
    if not isinstance(raw, str) or not raw:
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _txids(body: dict[str, Any]) -> tuple[int, int]:
    txid = body.get("txid")
    replicated = body.get("replicated_txid")
    if not isinstance(txid, int) or not isinstance(replicated, int):
        raise ReplicationError(
            f"Litestream's sync answer has no transaction IDs: {str(body)[:200]}"
        )
    return txid, replicated


class LitestreamClient:
    """Talks to one Litestream process about one database."""

    def __init__(self, socket_path: Path, database_path: Path) -> None:
        self.socket_path = socket_path
        # Litestream names databases by absolute path, as in its config.
        self.database_path = Path(os.path.abspath(database_path))

    def __repr__(self) -> str:
        return f"LitestreamClient(socket_path={str(self.socket_path)!r})"

    def _request(
        self,
        method: str,
        path: str,
        timeout: float,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        transport = httpx.HTTPTransport(uds=str(self.socket_path))
        limits = httpx.Timeout(timeout, connect=CONNECT_TIMEOUT_SECONDS)
        try:
            with httpx.Client(
                transport=transport, base_url=BASE_URL, timeout=limits
            ) as client:
                response = client.request(method, path, json=body)
        except httpx.TimeoutException:
            raise ReplicationError(
                f"Litestream did not answer {method} {path} within {timeout:g} s "
                f"on {self.socket_path}"
            ) from None
        except httpx.TransportError as exc:
            raise ReplicationError(
                f"cannot reach Litestream's control socket {self.socket_path} "
                f"({type(exc).__name__}: {exc}); is the litestream sidecar running "
                "with socket.enabled in its config?"
            ) from None

        if response.status_code == 404 and path == "/sync":
            raise ReplicationError(
                f"Litestream does not replicate {self.database_path}: the path in "
                "litestream.yml must be the file DATABASE_URL names"
            )
        if response.status_code != 200:
            raise ReplicationError(
                f"Litestream answered {method} {path} with HTTP "
                f"{response.status_code}: {_detail(response)}"
            )
        try:
            answer = response.json()
        except ValueError:
            raise ReplicationError(
                f"Litestream answered {method} {path} but not with JSON"
            ) from None
        if not isinstance(answer, dict):
            raise ReplicationError(f"Litestream answered {path} with a non-object")
        return answer

    def _sync_once(self, wait: bool, timeout: float) -> dict[str, Any]:
        # Litestream takes whole seconds; round up so it never gives up early.
        seconds = max(1, math.ceil(timeout))
        body = {"path": str(self.database_path), "wait": wait, "timeout": seconds}
        return self._request("POST", "/sync", seconds + ANSWER_GRACE_SECONDS, body)

    def sync_now(
        self, wait: bool = True, timeout_seconds: float = DEFAULT_SYNC_TIMEOUT_SECONDS
    ) -> dict[str, Any]:
        """Sync the database now; with ``wait``, until the replica holds it.

        Returns ``status``, ``txid`` and ``replicated_txid``. With ``wait``,
        ``replicated_txid >= txid`` holds on return, so every write committed
        before the call is on the replica, and ``status`` describes the
        replica: ``synced`` when this call shipped transactions to it,
        ``no_change`` when it already held them all. Without ``wait`` only the
        local WAL is turned into LTX files and ``status`` is Litestream's own
        (``synced_local`` or ``no_change``).
        """
        if not wait:
            local = self._sync_once(False, timeout_seconds)
            txid, replicated = _txids(local)
            status = str(local.get("status", ""))
            return {"status": status, "txid": txid, "replicated_txid": replicated}

        # Litestream's own status compares local positions before and after
        # the call, which a probe's local sync may already have advanced; the
        # replica's position before the call is what says whether this call
        # shipped anything.
        deadline = time.monotonic() + timeout_seconds
        _, replicated_before = _txids(self._sync_once(False, QUICK_TIMEOUT_SECONDS))
        txid, replicated = replicated_before, replicated_before

        for _round in range(MAX_SYNC_ROUNDS):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            txid, replicated = _txids(self._sync_once(True, remaining))
            if replicated >= txid:
                status = "synced" if replicated > replicated_before else "no_change"
                return {"status": status, "txid": txid, "replicated_txid": replicated}

        raise ReplicationError(
            f"the replica is still behind (transaction {replicated} of {txid}) "
            f"after up to {MAX_SYNC_ROUNDS} syncs within {timeout_seconds:g} s; "
            "see the litestream sidecar's log"
        )

    def _last_sync_at(self) -> datetime | None:
        listing = self._request("GET", "/list", QUICK_TIMEOUT_SECONDS)
        for database in listing.get("databases") or []:
            if database.get("path") == str(self.database_path):
                return _parse_time(database.get("last_sync_at"))
        raise ReplicationError(
            f"Litestream does not list {self.database_path}: the path in "
            "litestream.yml must be the file DATABASE_URL names"
        )

    def _started_at(self) -> datetime | None:
        info = self._request("GET", "/info", QUICK_TIMEOUT_SECONDS)
        return _parse_time(info.get("started_at"))

    def lag(self, now: datetime | None = None) -> ReplicationLag:
        """How far the replica is behind; see :class:`ReplicationLag`.

        The transaction IDs come from a sync without ``wait``: Litestream has
        no read-only call that reports the replica's position, and a local
        sync is the same work its own monitor does every second. It also
        makes ``txid`` include writes Litestream had not yet noticed.
        """
        # Limitation: every lag check is also a local sync in Litestream.
        txid, replicated = _txids(self._sync_once(False, QUICK_TIMEOUT_SECONDS))
        last_sync_at = self._last_sync_at()
        if now is None:
            now = datetime.now(UTC)

        pending = txid > replicated
        seconds = 0.0
        if pending:
            since = last_sync_at or self._started_at()
            if since is None:
                raise ReplicationError(
                    "Litestream reports neither a last sync nor its start time"
                )
            # Same node, same clock; a small skew must not read as negative.
            seconds = max(0.0, (now - since).total_seconds())
        return ReplicationLag(pending, seconds, txid, replicated, last_sync_at)
