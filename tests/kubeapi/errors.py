"""API errors as the real server reports them: an HTTP code plus a `Status` object the client can read."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> dict[str, Any]:
        return status_object(self.code, self.reason, self.message, self.details)

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def not_found(cls, what: str, name: str) -> ApiError:
        return cls(404, "NotFound", f'{what} "{name}" not found', {"name": name, "kind": what})

    @classmethod
    def conflict(cls, what: str, name: str, why: str) -> ApiError:
        return cls(
            409,
            "Conflict",
            f'Operation cannot be fulfilled on {what} "{name}": {why}',
            {"name": name, "kind": what},
        )

    @classmethod
    def already_exists(cls, what: str, name: str) -> ApiError:
        return cls(409, "AlreadyExists", f'{what} "{name}" already exists', {"name": name, "kind": what})

    @classmethod
    def expired(cls, message: str) -> ApiError:
        return cls(410, "Expired", message)

    @classmethod
    def invalid(cls, what: str, name: str, message: str) -> ApiError:
        return cls(422, "Invalid", f'{what} "{name}" is invalid: {message}', {"name": name, "kind": what})


def status_object(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if code < 400 else "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return body
