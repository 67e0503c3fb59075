"""Audit rows for mutating calls, listing, statistics and pruning (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app_helpers import ADMIN_TOKEN
from fastapi.testclient import TestClient
from kubarr_app import audit
from kubarr_app.api.state import AppState
from kubarr_app.db import Database
from kubarr_app.models import AuditLog
from sqlalchemy import insert


def add_rows(database: Database, count: int, age: timedelta, action: str) -> None:
    when = datetime.now(UTC) - age
    rows = [
        {"timestamp": when, "action": action, "success": True} for _ in range(count)
    ]
    with database.write() as session:
        session.connection().execute(insert(AuditLog), rows)


def test_every_mutating_call_writes_an_audit_row(admin: TestClient) -> None:
    admin.put("/api/settings/site_name", json={"value": "Home"})
    admin.post("/api/storage/mkdir", json={"path": "films"})
    admin.delete("/api/settings/no-such-key")

    page = admin.get("/api/audit", params={"page_size": 10}).json()
    actions = [item["action"] for item in page["items"]]

    assert actions[:4] == [
        "setting.delete",
        "storage.mkdir",
        "setting.update",
        "auth.login",
    ]
    failed = page["items"][0]
    assert failed["success"] is False
    assert failed["status_code"] == 404
    assert page["items"][1]["username"] == "admin"
    assert page["items"][1]["resource_id"] == "films"


def test_reads_are_not_audited(admin: TestClient) -> None:
    before = admin.get("/api/audit").json()["total"]
    admin.get("/api/settings")
    admin.get("/api/auth/me")

    assert admin.get("/api/audit").json()["total"] == before


def test_audit_list_paginates_and_filters(admin: TestClient, state: AppState) -> None:
    add_rows(state.database, 25, timedelta(hours=1), "app.install")
    add_rows(state.database, 5, timedelta(days=3), "app.remove")

    first = admin.get(
        "/api/audit", params={"action": "app.install", "page_size": 10}
    ).json()
    third = admin.get(
        "/api/audit", params={"action": "app.install", "page_size": 10, "page": 3}
    ).json()
    recent = admin.get(
        "/api/audit",
        params={"since": (datetime.now(UTC) - timedelta(days=1)).isoformat()},
    ).json()

    assert first["total"] == 25
    assert len(first["items"]) == 10
    assert len(third["items"]) == 5
    assert all(item["action"] == "app.install" for item in third["items"])
    assert recent["total"] == 26  # 25 installs and the login


def test_audit_statistics_group_by_action_and_day(
    admin: TestClient, state: AppState
) -> None:
    add_rows(state.database, 7, timedelta(days=2), "app.install")
    add_rows(state.database, 3, timedelta(days=2), "app.remove")
    add_rows(state.database, 4, timedelta(days=40), "app.install")

    stats = admin.get("/api/audit/stats", params={"days": 30}).json()

    assert stats["total"] == 11  # ten from two days ago and the login
    assert stats["top_actions"][0] == {"key": "app.install", "count": 7}
    two_days_ago = (datetime.now(UTC) - timedelta(days=2)).strftime("%Y-%m-%d")
    per_day = {row["key"]: row["count"] for row in stats["per_day"]}
    assert per_day[two_days_ago] == 10


def test_prune_needs_the_admin_token(admin: TestClient) -> None:
    anonymous = admin.post("/api/audit/prune")
    wrong = admin.post(
        "/api/audit/prune", headers={"authorization": "Bearer not-the-token"}
    )

    assert anonymous.status_code == 401
    assert wrong.status_code == 401


def test_prune_deletes_only_rows_older_than_the_retention(
    client: TestClient, state: AppState
) -> None:
    add_rows(state.database, 4500, timedelta(days=100), "old")
    add_rows(state.database, 30, timedelta(days=10), "recent")

    response = client.post(
        "/api/audit/prune", headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["deleted"] == 4500
    assert body["retention_days"] == 90
    assert body["duration_seconds"] >= 0
    with state.database.read() as session:
        stats = audit.statistics(session)
    assert stats.total == 31  # the recent rows and the prune's own audit row


def test_prune_takes_retention_days_from_body_or_query(
    client: TestClient, state: AppState
) -> None:
    add_rows(state.database, 3, timedelta(days=10), "ten-days-old")
    headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}

    by_query = client.post(
        "/api/audit/prune", params={"retention_days": 30}, headers=headers
    )
    by_body = client.post(
        "/api/audit/prune", json={"retention_days": 5}, headers=headers
    )

    assert by_query.json()["deleted"] == 0
    assert by_body.json() | {"duration_seconds": 0} == {
        "deleted": 3,
        "retention_days": 5,
        "duration_seconds": 0,
    }


def test_prune_works_in_small_batches(state: AppState) -> None:
    add_rows(state.database, 250, timedelta(days=200), "old")

    result = audit.prune(state.database, 90, batch_size=100)

    assert result.deleted == 250
    assert result.batches == 3
