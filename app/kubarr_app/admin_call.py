"""One authenticated call from a Job's pod to the running app.

The audit prune CronJob and the backup-now Job both POST to an admin endpoint
of the app through its Service with the operator-made bearer token, once, with
no retry (the Job's backoff decides), and turn any failure into one readable
line that never carries the token.
"""

from __future__ import annotations

from typing import Any

import httpx

ERROR_DETAIL_LIMIT = 500


class AdminCallError(Exception):
    """The call failed; the message says why and what to check."""


def without_token(text: str, token: str) -> str:
    """Belt and braces: an error text never carries the token, whatever echoed it."""
    return text.replace(token, "<redacted>") if token else text


def _http_error(response: httpx.Response, hint_401: str, hint_404: str) -> str:
    detail: Any
    try:
        detail = response.json().get("detail", response.text)
    except (ValueError, AttributeError):
        detail = response.text
    detail = str(detail)[:ERROR_DETAIL_LIMIT]
    hint = {401: hint_401, 404: hint_404}.get(response.status_code, "")
    return f"HTTP {response.status_code} from {response.url}: {detail}{hint}"


def post(
    url: str,
    token: str,
    timeout_seconds: float,
    body: dict[str, Any] | None = None,
    *,
    hint_401: str = "; the app refused the token: use the token Secret the app reads",
    hint_404: str = "; is --url the Kubarr app's Service?",
) -> dict[str, Any]:
    """POST once and return the JSON answer; :class:`AdminCallError` otherwise."""
    timeout = httpx.Timeout(timeout_seconds, connect=10.0)
    try:
        response = httpx.post(
            url,
            json=body,
            headers={"authorization": f"Bearer {token}"},
            timeout=timeout,
            follow_redirects=False,
        )
    except httpx.TimeoutException:
        raise AdminCallError(
            f"no answer from {url} within {timeout_seconds:g} s"
        ) from None
    except httpx.TransportError as exc:
        raise AdminCallError(
            f"cannot reach {url} ({type(exc).__name__}: {exc}); is the app running "
            "and --url its Service?"
        ) from None

    if response.status_code != 200:
        raise AdminCallError(_http_error(response, hint_401, hint_404))
    try:
        result: dict[str, Any] = response.json()
    except ValueError:
        raise AdminCallError(f"{url} answered 200 but not with JSON") from None
    return result
