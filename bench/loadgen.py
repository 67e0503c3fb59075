"""Load generator for ``kubarr serve``: signs in, then sends authenticated GETs.

Run as its own process so the server and the client do not share an
interpreter; it prints one JSON line with the results. The loop is bounded by
both a request count and a time limit, and it talks to 127.0.0.1 only.

    python bench/loadgen.py --port 8000 --password PW --requests 3000 --seconds 60
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from http.cookies import SimpleCookie

HOST = "127.0.0.1"


def sign_in(connection: http.client.HTTPConnection, password: str) -> str:
    """The session token from the login cookie."""
    body = json.dumps({"username": "admin", "password": password})
    connection.request(
        "POST", "/api/auth/login", body, {"Content-Type": "application/json"}
    )
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"login failed with {response.status}")
    cookies = SimpleCookie()
    for header in response.headers.get_all("Set-Cookie") or []:
        cookies.load(header)
    return cookies["kubarr_session_0"].value


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = max(1, int(-(-fraction * len(ordered) // 1)))
    return ordered[min(rank, len(ordered)) - 1]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--path", default="/api/auth/me")
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)

    connection = http.client.HTTPConnection(HOST, args.port, timeout=10)
    headers = {"Authorization": f"Bearer {sign_in(connection, args.password)}"}

    def one() -> int:
        connection.request("GET", args.path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status

    for _ in range(args.warmup):
        one()

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + args.seconds
    began = time.perf_counter()
    while len(latencies) < args.requests and time.perf_counter() < deadline:
        sent = time.perf_counter()
        status = one()
        latencies.append(time.perf_counter() - sent)
        if status != 200:
            errors += 1
    elapsed = time.perf_counter() - began
    connection.close()

    print(
        json.dumps(
            {
                "requests": len(latencies),
                "errors": errors,
                "seconds": elapsed,
                "per_second": len(latencies) / elapsed,
                "p50_ms": percentile(latencies, 0.5) * 1000,
                "p99_ms": percentile(latencies, 0.99) * 1000,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
