"""Sign-in, sessions, users, roles and the auth context cache (both engines)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app_helpers import ADMIN_PASSWORD, login, metric_value
from fastapi.testclient import TestClient
from kubarr_app.api.state import AppState
from kubarr_app.auth import SECRET_KEY_CONFIG
from kubarr_app.models import ServerConfig, Session, User
from sqlmodel import select


def create_user(admin: TestClient, username: str, roles: list[str]) -> int:
    response = admin.post(
        "/api/users",
        json={"username": username, "password": "password-123", "roles": roles},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_login_sets_the_first_indexed_session_cookie(client: TestClient) -> None:
    response = login(client)

    assert response.cookies.get("kubarr_session_0")
    assert response.cookies.get("kubarr_active_session") == "0"
    assert response.json()["username"] == "admin"
    assert "users:write" in response.json()["permissions"]


def test_wrong_password_is_refused_and_audited(
    client: TestClient, state: AppState
) -> None:
    response = client.post(
        "/api/auth/login", json={"username": "admin", "password": "nope-nope"}
    )
    assert response.status_code == 401

    login(client)
    failures = client.get(
        "/api/audit", params={"action": "auth.login", "success": False}
    ).json()
    assert failures["total"] == 1
    assert "nope-nope" not in str(failures)


def test_stored_session_holds_only_a_hash_of_the_token(
    client: TestClient, state: AppState
) -> None:
    token = login(client).cookies["kubarr_session_0"]

    with state.database.read() as session:
        rows = session.exec(select(Session)).all()
    assert len(rows) == 1
    assert rows[0].token_hash != token
    assert token not in rows[0].token_hash


def test_two_accounts_in_one_browser_use_numbered_cookies(admin: TestClient) -> None:
    create_user(admin, "bob", ["viewer"])

    second = login(admin, "bob", "password-123")

    assert second.cookies.get("kubarr_session_1")
    assert admin.get("/api/auth/me").json()["username"] == "bob"
    first = admin.get("/api/auth/me", headers={"x-kubarr-session-index": "0"})
    assert first.json()["username"] == "admin"


def test_revoked_session_is_rejected_on_next_request(
    admin: TestClient, state: AppState
) -> None:
    me = admin.get("/api/auth/me")
    assert me.status_code == 200
    assert admin.get("/api/auth/me").status_code == 200  # now served from cache

    revoke = admin.delete(f"/api/auth/sessions/{me.json()['session_id']}")
    assert revoke.status_code == 200

    assert admin.get("/api/auth/me").status_code == 401


def test_session_revoked_elsewhere_is_rejected_on_next_request(
    admin: TestClient, state: AppState
) -> None:
    session_id = admin.get("/api/auth/me").json()["session_id"]
    admin.get("/api/auth/me")

    state.auth.revoke_session(session_id)

    assert admin.get("/api/auth/me").status_code == 401


def test_logout_ends_the_session(admin: TestClient) -> None:
    cookie = admin.cookies.get("kubarr_session_0")
    assert admin.post("/api/auth/logout").status_code == 200

    replay = admin.get("/api/auth/me", headers={"authorization": f"Bearer {cookie}"})
    assert replay.status_code == 401


def test_expired_session_is_rejected(admin: TestClient, state: AppState) -> None:
    assert admin.get("/api/auth/me").status_code == 200
    with state.database.write() as session:
        for row in session.exec(select(Session)).all():
            row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
            session.add(row)
    state.auth.invalidate()

    assert admin.get("/api/auth/me").status_code == 401


def test_forged_token_is_rejected(client: TestClient) -> None:
    response = client.get("/api/auth/me", headers={"authorization": "Bearer abc.def"})
    assert response.status_code == 401


def test_removed_permission_takes_effect_on_next_request(admin: TestClient) -> None:
    create_user(admin, "carol", ["user"])
    roles = {r["name"]: r for r in admin.get("/api/roles").json()}
    login(admin, "carol", "password-123")
    assert admin.get("/api/storage/list").status_code == 200
    assert admin.get("/api/storage/list").status_code == 200  # cached

    kept = [p for p in roles["user"]["permissions"] if p != "storage:read"]
    changed = admin.put(
        f"/api/roles/{roles['user']['id']}/permissions",
        json={"permissions": kept},
        headers={"x-kubarr-session-index": "0"},
    )
    assert changed.status_code == 200

    assert admin.get("/api/storage/list").status_code == 403


def test_deactivated_user_is_signed_out_on_next_request(admin: TestClient) -> None:
    user_id = create_user(admin, "dave", ["viewer"])
    login(admin, "dave", "password-123")
    assert admin.get("/api/auth/me").json()["username"] == "dave"

    admin.patch(
        f"/api/users/{user_id}",
        json={"is_active": False},
        headers={"x-kubarr-session-index": "0"},
    )

    assert admin.get("/api/auth/me").status_code == 401


def test_viewer_cannot_manage_users(admin: TestClient) -> None:
    create_user(admin, "erin", ["viewer"])
    login(admin, "erin", "password-123")

    response = admin.post(
        "/api/users", json={"username": "x", "password": "password-123"}
    )
    assert response.status_code == 403


def test_users_and_roles_can_be_managed(admin: TestClient, state: AppState) -> None:
    role = admin.post(
        "/api/roles",
        json={"name": "media", "permissions": ["storage:read", "storage:write"]},
    )
    assert role.status_code == 201
    user_id = create_user(admin, "frank", ["viewer"])

    assigned = admin.put(f"/api/users/{user_id}/roles", json={"roles": ["media"]})
    assert assigned.json()["roles"] == ["media"]
    assert (
        admin.post(
            "/api/users", json={"username": "frank", "password": "password-123"}
        ).status_code
        == 409
    )
    assert (
        admin.put(
            f"/api/roles/{role.json()['id']}/permissions",
            json={"permissions": ["no:such"]},
        ).status_code
        == 422
    )

    assert admin.delete(f"/api/users/{user_id}").status_code == 204
    with state.database.read() as session:
        assert session.get(User, user_id) is None
    admin_role = next(r for r in admin.get("/api/roles").json() if r["name"] == "admin")
    assert admin.delete(f"/api/roles/{admin_role['id']}").status_code == 409
    assert admin.delete(f"/api/roles/{role.json()['id']}").status_code == 204


def test_password_is_hashed_with_argon2id(state: AppState) -> None:
    with state.database.read() as session:
        admin = session.exec(select(User).where(User.username == "admin")).one()
    assert admin.password_hash is not None
    assert admin.password_hash.startswith("$argon2id$")
    assert ADMIN_PASSWORD not in admin.password_hash


def test_generated_secret_key_is_kept_in_server_config(state: AppState) -> None:
    with state.database.read() as session:
        row = session.exec(
            select(ServerConfig).where(ServerConfig.key == SECRET_KEY_CONFIG)
        ).one()
    assert len(row.value) >= 32


def test_metrics_show_the_auth_cache_hit_rate(admin: TestClient) -> None:
    for _ in range(4):
        assert admin.get("/api/auth/me").status_code == 200

    assert metric_value(admin, 'kubarr_cache_hits_total{cache="auth_context"}') >= 4
    ratio = metric_value(admin, 'kubarr_cache_hit_ratio{cache="auth_context"}')
    assert 0.5 <= ratio <= 1.0
