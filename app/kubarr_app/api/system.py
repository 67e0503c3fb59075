"""System information served from the in-memory caches.

Network rates come from this pod's ``/proc/net/dev`` counters; app endpoints
from the service variables Kubernetes injects into every pod
(``<APP>_SERVICE_HOST`` and ``<APP>_SERVICE_PORT``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kubarr_app.api.deps import StateDep, require
from kubarr_app.api.state import AppState
from kubarr_app.auth import AuthContext

router = APIRouter(prefix="/api/system", tags=["system"])

PROC_NET_DEV = Path("/proc/net/dev")
APP_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def endpoint_from_environment(app_name: str) -> str | None:
    """The ``host:port`` Kubernetes advertises for a Service, if any."""
    prefix = app_name.upper().replace("-", "_")
    host = os.environ.get(f"{prefix}_SERVICE_HOST")
    port = os.environ.get(f"{prefix}_SERVICE_PORT")
    if not host or not port:
        return None
    return f"{host}:{port}"


def read_interface_counters(path: Path = PROC_NET_DEV) -> dict[str, tuple[int, int]]:
    """Received and sent bytes per network interface."""
    counters: dict[str, tuple[int, int]] = {}
    try:
        lines = path.read_text(encoding="ascii").splitlines()[2:]
    except OSError:
        return counters
    for line in lines:
        name, _, data = line.partition(":")
        fields = data.split()
        if len(fields) >= 9:
            counters[name.strip()] = (int(fields[0]), int(fields[8]))
    return counters


class EndpointOut(BaseModel):
    app: str
    endpoint: str


class RateOut(BaseModel):
    interface: str
    rx_bytes_per_second: float | None
    tx_bytes_per_second: float | None
    samples: int


@router.get("/endpoints/{app_name}")
async def app_endpoint(
    app_name: str,
    _caller: Annotated[AuthContext, Depends(require("apps:read"))],
    state: StateDep,
) -> EndpointOut:
    if not APP_NAME.match(app_name):
        raise HTTPException(422, "an app name is a DNS label")
    endpoint = state.endpoints.endpoint(app_name)
    if endpoint is None:
        raise HTTPException(404, f"no service endpoint known for {app_name!r}")
    return EndpointOut(app=app_name, endpoint=endpoint)


def _sample_rates(state: AppState) -> list[RateOut]:
    rates = []
    for interface, (rx, tx) in sorted(read_interface_counters().items()):
        series = state.network_rates.record(interface, rx, tx)
        rates.append(
            RateOut(
                interface=interface,
                rx_bytes_per_second=series.rx_rate,
                tx_bytes_per_second=series.tx_rate,
                samples=len(series.samples),
            )
        )
    return rates


@router.get("/network")
async def network_rates(
    _caller: Annotated[AuthContext, Depends(require("system:read"))],
    state: StateDep,
) -> list[RateOut]:
    """Smoothed receive and send rates; the first call has no rate yet."""
    return await run_in_threadpool(_sample_rates, state)
