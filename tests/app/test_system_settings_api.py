"""System settings key/value CRUD (both engines)."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_seeded_settings_are_listed(admin: TestClient) -> None:
    keys = {item["key"] for item in admin.get("/api/settings").json()}
    assert {"site_name", "default_role", "registration_open", "theme"} <= keys


def test_a_setting_can_be_created_read_updated_and_deleted(
    admin: TestClient,
) -> None:
    created = admin.put(
        "/api/settings/backup.note", json={"value": "weekly", "description": "n"}
    )
    assert created.status_code == 200
    assert admin.get("/api/settings/backup.note").json()["value"] == "weekly"

    admin.put("/api/settings/backup.note", json={"value": "daily"})
    updated = admin.get("/api/settings/backup.note").json()
    assert updated["value"] == "daily"
    assert updated["description"] == "n"

    assert admin.delete("/api/settings/backup.note").status_code == 204
    assert admin.get("/api/settings/backup.note").status_code == 404


def test_setting_keys_are_validated(admin: TestClient) -> None:
    response = admin.put("/api/settings/Bad Key!", json={"value": "x"})
    assert response.status_code == 422


def test_settings_need_a_signed_in_caller(client: TestClient) -> None:
    assert client.get("/api/settings").status_code == 401
