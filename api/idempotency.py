"""The ``Idempotency-Key`` header of the POSTs that create (settlements, claims, batches).

The header is read and the request fingerprinted here; what is remembered and for how
long is ``service.idempotency``. An endpoint passes its work to ``answer_once`` and
returns what it gives: the first answer, or the stored one again for a retry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from service import idempotency
from service.auth import Principal

HEADER_DESCRIPTION = (
    "Makes a retry safe: the same key with the same request (method, path and body bytes) within 24 hours "
    "returns the first successful answer, status and body, instead of doing it again. Keys are per API key; "
    "1 to 255 printable ASCII characters (a UUID is best). The same key with another body is refused (422); "
    "while the first request with the key is still being answered, a second may get 409."
)

# What the header adds to the operations' documented answers.
RESPONSES: dict[int | str, dict[str, Any]] = {
    409: {"description": "A request with this Idempotency-Key is still being answered; retry shortly"},
    422: {"description": "Invalid input, the field named (also an Idempotency-Key used for another request)"},
}


@dataclass(frozen=True, slots=True)
class IdempotentCall:
    key: str
    fingerprint: str


async def idempotent_call(
    request: Request,
    key: Annotated[str | None, Header(alias=idempotency.HEADER, min_length=1, max_length=255,
                                      pattern=r"^[\x20-\x7e]+$", description=HEADER_DESCRIPTION)] = None,
) -> IdempotentCall | None:
    if key is None:
        return None
    # The body was read to validate it already; this is the same bytes, kept by the request.
    body = await request.body()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return IdempotentCall(key, digest.hexdigest())


IdempotencyDep = Annotated[IdempotentCall | None, Depends(idempotent_call)]


def answer_once(session: Session, caller: Principal, call: IdempotentCall | None,
                work: Callable[[], idempotency.Answer]) -> JSONResponse:
    """Do ``work`` and answer with it; with a key, at most once, and the same answer after."""
    if call is None:
        answer = work()
        return JSONResponse(answer.body, status_code=answer.status)
    answer, replayed = idempotency.answer_once(session, caller, call.key, call.fingerprint, work)
    return JSONResponse(answer.body, status_code=answer.status,
                        headers={"Idempotent-Replayed": "true"} if replayed else None)
