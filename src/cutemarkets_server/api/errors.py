"""The error table: every error code the API emits and its HTTP status."""

from __future__ import annotations

ERROR_STATUS: dict[str, int] = {
    "bad_request": 400,
    "invalid_page_token": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "lookback_exceeded": 403,
    "not_found": 404,
    "rate_limit_exceeded": 429,
    "payload_too_large": 413,
    "uri_too_long": 414,
    "internal_error": 500,
    "service_unavailable": 503,
}


class ApiError(Exception):
    """An error answered with the standard envelope."""

    def __init__(self, code: str, message: str, *, status: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status if status is not None else ERROR_STATUS[code]
        self.headers = headers or {}


def bad_request(message: str) -> ApiError:
    return ApiError("bad_request", message)


def not_found(message: str) -> ApiError:
    return ApiError("not_found", message)
