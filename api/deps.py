"""Request dependencies: the unit of work, the caller, the plan book.

``SessionDep`` owns the transaction: it commits when the endpoint returns and rolls
back when it raises, so services only ``flush()`` and a failed request stores nothing.
A GET or HEAD request gets a read-only session (on SQLite it waits for no writer), any
other method one that may write (``store.db``). The hospital desk's routes, where a
patient waits, do the same unit of work in one trip to a worker thread (``DeskWork``).
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

from anyio import CapacityLimiter, to_thread
from fastapi import Depends, Header, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from service.auth import Principal, authenticate, key_parts
from service.errors import Unauthorized
from service.plans import PlanBook
from service.schemas import IN_DIGITS
from store.row_ids import MAX_ROW_ID


# Methods that only read: their unit of work takes no write lock (store.db explains).
READ_METHODS = frozenset({"GET", "HEAD"})


def _sessions_for(request: Request):
    """The session factory of a request's unit of work: read-only for a GET or HEAD."""
    return request.app.state.read_sessions if request.method in READ_METHODS else request.app.state.sessions


async def get_session(request: Request) -> AsyncIterator[Session]:
    async with _unit_of_work(_sessions_for(request)) as session:
        yield session


async def get_writing_session(request: Request) -> AsyncIterator[Session]:
    """A unit of work that may write, whatever the method: for a GET that records what it hands out
    (the bank file marks its payment run exported)."""
    async with _unit_of_work(request.app.state.sessions) as session:
        yield session


@asynccontextmanager
async def _unit_of_work(sessions) -> AsyncIterator[Session]:
    """Made on the event loop (a session connects at its first statement), ended in a worker
    thread (commit or rollback, and the connection's return, are I/O): a sync generator
    would also cost a hop to the thread pool to make it, on every request."""
    session: Session = sessions()
    try:
        yield session
    except BaseException:
        await to_thread.run_sync(_end, session, False, limiter=_ending())
        raise
    await to_thread.run_sync(_end, session, True, limiter=_ending())


# Ending a unit of work has threads of its own: with the shared pool's threads all taken
# by requests waiting for a connection, the commit that would give one back must not wait
# behind them (FastAPI's sync dependencies end on a limiter of their own for this reason).
@functools.cache
def _ending() -> CapacityLimiter:
    return CapacityLimiter(CONCURRENT_UNITS_OF_WORK)


def _end(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


# At most this many units of work at once per worker: with the desk's turns (below), no
# more than the smallest connection pool holds (store.db: SQLite 5 + 12 overflow,
# PostgreSQL 10 + 10), and fewer than the 40 threads of the pool that runs sync
# dependencies and endpoints.
# A request holds its connection (a writing one on SQLite also the write lock)
# across several thread hops (the key lookup, the endpoint, serializing the answer);
# without the limit, under load every thread could be waiting for a connection or a
# lock held by a request that waits for a thread: 30 s stalls, then 500 (pool
# timeout) or 503 (database is locked). Waiting for the limit takes no thread.
CONCURRENT_UNITS_OF_WORK = 15

# scope="function": commit before the response is sent, so a 2xx always means stored.
SessionDep = Annotated[Session, Depends(get_session, scope="function", max_concurrency=CONCURRENT_UNITS_OF_WORK)]
WritingSessionDep = Annotated[Session, Depends(get_writing_session, scope="function",
                                               max_concurrency=CONCURRENT_UNITS_OF_WORK)]


# A hospital desk request has a patient waiting, and its work is short and mostly the
# worker's CPU. Past two at once in a worker, more threads only share the interpreter
# lock: every settlement under way gets slower and the last ones wait longest. So a
# worker takes the desk's requests two at a time; the others wait their turn on the
# event loop, holding no thread and no connection. At 150 one-stop settlements a second
# through two workers on this two-core machine (benchmarks/test_desk_latency.py, two
# runs each): p99 479 and 944 ms with no turns (the fifteen units of work above), 123
# and 126 ms with two, 362 ms with one (a worker then waits for each round trip to the
# database). The desk's turns are its own: a report or an import does not hold them. A
# turn is taken before the key is checked (the key needs the unit of work the turn comes
# before): a flood of requests with bad keys to the desk's routes queues the desk behind
# it, as it would take the worker's time anyway (past the sign-in limit they get 429s).
DESK_TURNS = 2


async def desk_turn() -> AsyncIterator[None]:
    """One of the worker's desk turns, held until the endpoint returns (``max_concurrency``)."""
    yield


DeskTurn = Annotated[None, Depends(desk_turn, scope="function", max_concurrency=DESK_TURNS)]


# Declares the bearer scheme in OpenAPI (the docs' Authorize button). auto_error=False:
# authenticate() reads the header itself and answers our own 401 problem.
bearer = HTTPBearer(auto_error=False, description="An API key: `ck_<prefix>_<secret>`")


def caller_of(request: Request, session: Session, authorization: str | None) -> Principal:
    """The request's caller, its key checked in ``session``; a key sent and refused is counted."""
    try:
        return authenticate(session, authorization)
    except Unauthorized:
        _count_refused(request, authorization)
        raise


def _count_refused(request: Request, authorization: str | None) -> None:
    # A key was sent and refused: count it for the client's address (past the limit, 429).
    # The address is the peer uvicorn saw (behind a proxy: its --forwarded-allow-ips).
    if authorization:
        request.app.state.sign_in_limiter.failed(request.client.host if request.client else "unknown")


def get_principal(
    request: Request,
    session: SessionDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    return caller_of(request, session, authorization)


CurrentCaller = Annotated[Principal, Depends(get_principal)]


# ----------------------------------------------------------------------------- the desk's unit of work

T = TypeVar("T")


class DeskWork:
    """A desk request's unit of work in one trip to a worker thread: the key checked, the work
    done, the transaction committed (rolled back when the work raises) and the session closed.

    The same unit of work as ``SessionDep`` with ``CurrentCaller`` (``_end`` and ``caller_of``
    are theirs), without their three trips to the thread pool (the key, the endpoint, the
    commit): each trip cost ~0.17 ms of a worker's CPU here, and with the dependencies'
    own handling they were about a seventh of a one-stop settlement's worker time. A GET
    gets a read-only session, like ``SessionDep``. The desk's turns bound how many run at
    once; the connection pool has room for them beside ``CONCURRENT_UNITS_OF_WORK``
    (``store.db``), so neither kind waits for a connection the other holds.
    """

    __slots__ = ("request", "authorization")

    def __init__(self, request: Request, authorization: str | None) -> None:
        self.request = request
        self.authorization = authorization

    async def run(self, work: Callable[[Session, Principal], T]) -> T:
        return await to_thread.run_sync(self._run, work)

    def _run(self, work: Callable[[Session, Principal], T]) -> T:
        session: Session = _sessions_for(self.request)()
        try:
            done = work(session, caller_of(self.request, session, self.authorization))
        except BaseException:
            _end(session, False)
            raise
        _end(session, True)
        return done


async def desk_work(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> DeskWork:
    # What cannot be a key at all (none, another scheme, not ck_<prefix>_<secret>) is refused
    # here, before the request's path and body are validated, as everywhere else (401
    # first, a header sent counted). A key that looks right is read with the work, after
    # them: with input that is wrong too it gets 422, which tells nothing of the key.
    try:
        key_parts(authorization)
    except Unauthorized:
        _count_refused(request, authorization)
        raise
    return DeskWork(request, authorization)


DeskWorkDep = Annotated[DeskWork, Depends(desk_work)]


# Written one way (store.row_ids): the range stays with Path(ge=, le=), whose messages and
# OpenAPI bounds say it.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID), IN_DIGITS]


# async: a dependency that only reads the app's state runs on the event loop. A sync one
# would cost a hop to the thread pool and back on every request that names it.
async def get_plans(request: Request) -> PlanBook:
    return request.app.state.plans


PlansDep = Annotated[PlanBook, Depends(get_plans)]


async def get_provincial_med_types(request: Request) -> frozenset[str]:
    return request.app.state.provincial_med_types


ProvincialMedTypesDep = Annotated[frozenset[str], Depends(get_provincial_med_types)]


class Paging:
    def __init__(
        self,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> None:
        self.page = page
        self.page_size = page_size


PagingDep = Annotated[Paging, Depends()]
