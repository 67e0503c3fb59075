"""Builds the FastAPI application around an already migrated database."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from kubarr_app import __version__, audit
from kubarr_app.api import audit as audit_api
from kubarr_app.api import auth as auth_api
from kubarr_app.api import health, replication, settings_api, storage, system, users
from kubarr_app.api.middleware import RequestMiddleware
from kubarr_app.api.state import AppState
from kubarr_app.auth import AuthContext, AuthService, load_or_create_secret_key
from kubarr_app.cache import (
    BoundedTTLCache,
    CacheEvictor,
    NetworkRateCache,
    ServiceEndpointCache,
)
from kubarr_app.db import Database
from kubarr_app.metrics import Metrics, StateCollector
from kubarr_app.replication import LitestreamClient
from kubarr_app.schema import current_revision
from kubarr_app.security import TokenSigner
from kubarr_app.settings import Settings
from kubarr_app.storage import StorageRoot

log = logging.getLogger(__name__)


def build_state(
    settings: Settings,
    database: Database,
    head_revision: str,
    sqlite_version: str | None,
    endpoint_resolver: Callable[[str], str | None] = system.endpoint_from_environment,
) -> AppState:
    secret_key = load_or_create_secret_key(database, settings.secret_key)

    auth_cache: BoundedTTLCache[str, AuthContext] | None = None
    if settings.auth_cache_ttl_seconds > 0:
        auth_cache = BoundedTTLCache(
            "auth_context", settings.auth_cache_ttl_seconds, settings.cache_max_entries
        )
    endpoints = ServiceEndpointCache(
        settings.cache_endpoint_ttl_seconds,
        settings.cache_max_entries,
        endpoint_resolver,
    )
    network_rates = NetworkRateCache(
        settings.cache_metrics_max_age_seconds, settings.cache_max_entries
    )
    caches: list[BoundedTTLCache[object, object]] = [
        endpoints.cache,  # type: ignore[list-item]
        network_rates.cache,  # type: ignore[list-item]
    ]
    if auth_cache is not None:
        caches.append(auth_cache)  # type: ignore[arg-type]

    metrics = Metrics()
    metrics.register_state(
        StateCollector(
            database,
            caches,
            audit_rows=lambda: _count_audit_rows(database),
            sqlite_version=sqlite_version,
            schema_revision=lambda: current_revision(database),
        )
    )

    return AppState(
        settings=settings,
        database=database,
        auth=AuthService(
            database,
            TokenSigner(secret_key),
            timedelta(hours=settings.session_ttl_hours),
            auth_cache,
        ),
        auth_cache=auth_cache,
        endpoints=endpoints,
        network_rates=network_rates,
        evictor=CacheEvictor(caches, settings.cache_eviction_interval_seconds),
        storage=StorageRoot(settings.storage_path),
        metrics=metrics,
        head_revision=head_revision,
        sqlite_version=sqlite_version,
        litestream=_litestream(settings, database),
    )


def _litestream(settings: Settings, database: Database) -> LitestreamClient | None:
    """The sidecar's control socket client, when one is configured.

    Settings already refuse a socket beside a PostgreSQL URL; the check on
    ``sqlite_path`` covers a SQLite URL without a file, which has nothing to sync.
    """
    if settings.litestream_socket is None or database.sqlite_path is None:
        return None
    return LitestreamClient(settings.litestream_socket, database.sqlite_path)


def _count_audit_rows(database: Database) -> int:
    with database.read() as session:
        return audit.count_rows(session)


def create_app(state: AppState) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            state.settings.storage_path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning(
                "storage root %s is not usable: %s", state.settings.storage_path, exc
            )
        state.database.warm_up(state.settings.db_min_connections)
        state.evictor.start()
        try:
            yield
        finally:
            await state.evictor.stop()

    app = FastAPI(
        title="Kubarr",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.kubarr = state
    app.add_middleware(RequestMiddleware)
    for router in (
        health.router,
        auth_api.router,
        users.router,
        audit_api.router,
        settings_api.router,
        storage.router,
        system.router,
        replication.router,
    ):
        app.include_router(router)
    return app
