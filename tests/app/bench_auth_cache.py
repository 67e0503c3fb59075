"""Requests per second for an authenticated GET, with and without the auth cache.

Not a test (no timing is asserted anywhere): run it by hand with
``.venv/bin/python tests/app/bench_auth_cache.py``. It starts ``kubarr serve``
twice on 127.0.0.1 over a fresh SQLite database, signs in, and sends a bounded
number of ``GET /api/auth/me`` requests from one keep-alive client.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from app_helpers import free_port

REQUESTS = 3000
PASSWORD = "bench-password-123"


def measure(cache_ttl: str, folder: Path) -> tuple[float, float]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBARR_")}
    env.update(
        DATABASE_URL=f"sqlite:///{folder}/kubarr.db",
        KUBARR_PORT=str(port),
        KUBARR_STORAGE_PATH=str(folder / "storage"),
        KUBARR_BOOTSTRAP_ADMIN_PASSWORD=PASSWORD,
        KUBARR_AUTH_CACHE_TTL_SECONDS=cache_ttl,
        KUBARR_LOG_LEVEL="WARNING",
    )
    subprocess.run(
        [sys.executable, "-m", "kubarr_app", "migrate"],
        env=env,
        check=True,
        capture_output=True,
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "kubarr_app", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            for _ in range(300):
                try:
                    client.get("/healthz")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            client.post(
                "/api/auth/login", json={"username": "admin", "password": PASSWORD}
            )
            for _ in range(200):  # warm-up
                client.get("/api/auth/me")
            started = time.perf_counter()
            for _ in range(REQUESTS):
                assert client.get("/api/auth/me").status_code == 200
            elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    return REQUESTS / elapsed, elapsed / REQUESTS * 1000


def main() -> None:
    for label, ttl in (("without auth cache", "0"), ("with auth cache", "30")):
        with tempfile.TemporaryDirectory() as folder:
            rps, ms = measure(ttl, Path(folder))
        print(f"GET /api/auth/me {label}: {rps:,.0f} requests/s ({ms:.2f} ms each)")


if __name__ == "__main__":
    main()
