"""What every request handler can reach: one object on ``app.state.kubarr``."""

from __future__ import annotations

from dataclasses import dataclass

from kubarr_app.auth import AuthContext, AuthService
from kubarr_app.cache import (
    BoundedTTLCache,
    CacheEvictor,
    NetworkRateCache,
    ServiceEndpointCache,
)
from kubarr_app.db import Database
from kubarr_app.metrics import Metrics
from kubarr_app.replication import LitestreamClient
from kubarr_app.settings import Settings
from kubarr_app.storage import StorageRoot


@dataclass
class AppState:
    settings: Settings
    database: Database
    auth: AuthService
    auth_cache: BoundedTTLCache[str, AuthContext] | None
    endpoints: ServiceEndpointCache
    network_rates: NetworkRateCache
    evictor: CacheEvictor
    storage: StorageRoot
    metrics: Metrics
    head_revision: str
    sqlite_version: str | None
    # None when no Litestream sidecar is configured (KUBARR_LITESTREAM_SOCKET).
    litestream: LitestreamClient | None = None
