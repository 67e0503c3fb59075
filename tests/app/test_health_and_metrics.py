"""Liveness, readiness and the Prometheus endpoint (both engines)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from kubarr_app.api.state import AppState
from kubarr_app.migrate import run_migration


def test_healthz_says_ok(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_revision_and_sqlite_version(
    client: TestClient, state: AppState
) -> None:
    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["schema_revision"] == state.head_revision
    assert "sqlite_version" in body
    if state.database.is_sqlite:
        assert body["sqlite_version"] == state.sqlite_version


def test_readyz_is_unavailable_when_schema_falls_behind(
    client: TestClient, state: AppState
) -> None:
    run_migration(state.database, "0002", downgrade=True)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["schema_revision"] == "0002"
    assert response.json()["reason"] == "schema is not at head"


def test_metrics_expose_requests_queries_audit_rows_and_versions(
    admin: TestClient, state: AppState
) -> None:
    admin.get("/api/auth/me")
    text = admin.get("/metrics").text

    assert (
        'kubarr_http_requests_total{method="GET",route="/api/auth/me",status="200"}'
        in text
    )
    assert "kubarr_http_request_duration_seconds_bucket" in text
    assert 'kubarr_db_queries_total{kind="select"}' in text
    assert "kubarr_audit_log_rows 1.0" in text
    assert 'kubarr_cache_entries{cache="auth_context"}' in text
    assert 'kubarr_cache_max_entries{cache="service_endpoint"} 1000.0' in text
    assert f'schema_revision="{state.head_revision}"' in text
    if state.database.is_sqlite:
        assert 'sqlite_version="3.53.4"' in text


def test_endpoint_lookups_are_cached(admin: TestClient, state: AppState) -> None:
    first = admin.get("/api/system/endpoints/sonarr")
    assert first.status_code == 404

    state.endpoints._resolver = lambda name: f"10.0.0.1:{len(name)}"
    found = admin.get("/api/system/endpoints/sonarr")
    again = admin.get("/api/system/endpoints/sonarr")

    assert found.json() == {"app": "sonarr", "endpoint": "10.0.0.1:6"}
    assert again.json() == found.json()
    assert state.endpoints.cache.stats.hits == 1


def test_network_rates_come_from_interface_counters(admin: TestClient) -> None:
    first = admin.get("/api/system/network").json()
    second = admin.get("/api/system/network").json()

    assert any(rate["interface"] == "lo" for rate in first)
    loopback = next(rate for rate in second if rate["interface"] == "lo")
    assert loopback["samples"] == 2
    assert loopback["rx_bytes_per_second"] is not None
