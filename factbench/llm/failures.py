"""What kind of failure a client library's exception is, and when the server asked to be retried.

The kinds are counted in the summary and decide retries (llm/client.py `TRANSIENT`) and the
circuit breaker (llm/pool.py: `connection` and `timeout` mean the server could not be reached).
"""

from __future__ import annotations

import asyncio


def classify_error(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError) or "Timeout" in name:
        return "timeout"
    if "connection error" in str(exc).lower() or "Connection" in type(exc.__context__).__name__:
        return "connection"  # litellm reports a refused/reset connection as a 500
    if status == 429 or "RateLimit" in name:
        return "rate_limit"
    if status in (401, 403) or "Authentication" in name or "PermissionDenied" in name:
        return "auth"
    if status == 404 or "NotFound" in name:
        return "not_found"
    if "ContextWindow" in name:
        return "context_window"
    if status == 400 or "BadRequest" in name or "UnprocessableEntity" in name:
        return "bad_request"
    if isinstance(status, int) and status >= 500:
        return "server_error"
    if "Connection" in name or "ServiceUnavailable" in name or "InternalServer" in name or "APIError" in name:
        return "connection" if "Connection" in name else "server_error"
    return "other"


def retry_after_seconds(exc: BaseException) -> float | None:
    value = None
    for headers in (getattr(exc, "litellm_response_headers", None),
                    getattr(getattr(exc, "response", None), "headers", None)):
        if headers and headers.get("retry-after") is not None:
            value = headers.get("retry-after")
            break
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
