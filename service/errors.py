"""Errors of the service layer, each rendered once as RFC 9457 problem+json by api/.

    ServiceError                     status, a title, a detail
    ├── Unauthorized          401    no key, or a key we do not know
    ├── Forbidden             403    a known key acting outside its role or scope
    ├── NotFound              404    no such member, settlement, claim...
    ├── Conflict              409    the same id posted again with other content, a line already reviewed...
    ├── Invalid               422    input that fails validation; ``errors`` lists each field path
    └── TooManyRequests       429    too many refused keys from one address; ``retry_after`` seconds
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 500
    title = "Internal error"
    type = "about:blank"

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class Unauthorized(ServiceError):
    status = 401
    title = "Unauthorized"
    type = "/problems/unauthorized"


class Forbidden(ServiceError):
    status = 403
    title = "Forbidden"
    type = "/problems/forbidden"


class NotFound(ServiceError):
    status = 404
    title = "Not found"
    type = "/problems/not-found"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"
    type = "/problems/conflict"


class Invalid(ServiceError):
    status = 422
    title = "Invalid input"
    type = "/problems/invalid"

    @classmethod
    def at(cls, field: str, message: str) -> "Invalid":
        return cls(f"{field}: {message}", [{"field": field, "message": message}])


class TooManyRequests(ServiceError):
    status = 429
    title = "Too many requests"
    type = "/problems/too-many-requests"

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class BillInconsistentProblem(Invalid):
    """A settlement that fails a section-2 check: nothing is stored."""

    title = "Settlement does not add up"
    type = "/problems/bill-inconsistent"
