"""Small helpers shared by the app tests."""

from __future__ import annotations

import socket

import httpx
from fastapi.testclient import TestClient

ADMIN_PASSWORD = "admin-password-for-tests"
ADMIN_TOKEN = "retention-token-for-tests"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def login(
    client: TestClient, username: str = "admin", password: str = ADMIN_PASSWORD
) -> httpx.Response:
    response = client.post(
        "/api/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return response


def metric_value(client: TestClient, line_prefix: str) -> float:
    """The value of the first ``/metrics`` line starting with ``line_prefix``."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(line_prefix):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric line starts with {line_prefix!r}")
