"""Answer a request once: the first answer to an ``Idempotency-Key`` is kept 24 hours.

A client whose connection dropped after the commit cannot know whether its claim was
made; it sends the same request again with the same key and gets the first answer
back (the same status, the same body), not a second claim nor a duplicate-bill denial.

Everything happens in the caller's one transaction, the unit of work of the request:

1. the key's stored answer, if any, is returned (a key is per API key; one older than
   24 hours is forgotten and the request treated as new; the same key with another
   request is refused, naming the header);
2. otherwise the key is reserved by inserting its row, the work is done, and its answer
   written into the row. The row commits with the claim or settlement, or rolls back
   with it: a committed answer can always be returned, a failed request leaves no key,
   and an error answer is never remembered (retrying a 422 validates again).

Two requests with one key at once: on PostgreSQL the second's insert waits on the
unique index until the first's transaction ends; if it committed, the insert fails and
the second returns the first's stored answer; if it rolled back, the second goes on
and does the work. On SQLite every transaction takes the write lock first
(``store.db``), so the second finds the stored answer in step 1. Never two claims.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from claims.dates import as_utc
from service.auth import Principal
from service.errors import Conflict, Invalid
from store import models

HEADER = "Idempotency-Key"
KEPT = dt.timedelta(hours=24)
_RESERVED = 0  # status_code of a row whose request is still being answered (never committed so)

_T = models.IdempotentRequest


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer as it goes back to the client: the status code and the JSON body."""

    status: int
    body: Any


def answer_once(session: Session, who: Principal, key: str, fingerprint: str,
                work: Callable[[], Answer]) -> tuple[Answer, bool]:
    """The answer to this request under ``key``, and whether it is the stored one replayed.

    ``fingerprint`` identifies the request (method, path, body); ``work`` makes the
    answer the first time, in this same transaction.
    """
    assert who.key_id is not None, "idempotency keys belong to API keys"
    stored = _stored(session, who.key_id, key, fingerprint)
    if stored is not None:
        return stored, True
    row_id = _reserve(session, who.key_id, key, fingerprint)
    if row_id is None:
        # Another request with this key committed while this one waited for its row.
        stored = _stored(session, who.key_id, key, fingerprint)
        if stored is None:
            raise Conflict(f"a request with this {HEADER} is in progress; retry shortly")
        return stored, True
    answer = work()
    if 200 <= answer.status < 300:
        session.execute(update(_T).where(_T.id == row_id).values(status_code=answer.status, response=answer.body))
    else:
        session.execute(delete(_T).where(_T.id == row_id))
    return answer, False


def _stored(session: Session, key_id: int, key: str, fingerprint: str) -> Answer | None:
    row = session.execute(
        select(_T.id, _T.request_hash, _T.status_code, _T.response, _T.created_at)
        .where(_T.api_key_id == key_id, _T.idempotency_key == key)).one_or_none()
    if row is None:
        return None
    if as_utc(row.created_at) <= dt.datetime.now(dt.timezone.utc) - KEPT:
        session.execute(delete(_T).where(_T.id == row.id))  # expired: the key is new again
        return None
    if row.request_hash != fingerprint:
        raise Invalid.at(HEADER, "was already used for another request (method, path or body); "
                                 "use a new key for a new request")
    if row.status_code == _RESERVED:
        raise Conflict(f"a request with this {HEADER} is in progress; retry shortly")
    return Answer(row.status_code, row.response)


def _reserve(session: Session, key_id: int, key: str, fingerprint: str) -> int | None:
    """Insert the key's row; None when another transaction holds the key (it has committed)."""
    try:
        with session.begin_nested():
            return session.scalar(insert(_T).returning(_T.id).values(
                api_key_id=key_id, idempotency_key=key, request_hash=fingerprint, status_code=_RESERVED,
                response={}, created_at=dt.datetime.now(dt.timezone.utc)))
    except IntegrityError:
        return None
