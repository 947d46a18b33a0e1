"""The audit log: append-only, each entry carrying the hash of the one before it.

An entry's hash covers its content and the previous hash, so editing or deleting any
entry breaks the chain from there on; ``verify`` names the first entry that does not
fit. Each entry has a chain *position* (1, 2, 3...) given under the chain's lock: row
ids may skip (PostgreSQL does not give back the ids of a rolled-back insert), positions
never do, so a missing position means a deleted entry, never a rollback.

A chain alone cannot show that its last entries were deleted, or that someone with
write access re-hashed it from the first entry on. *Anchors* can: the head (position,
hash, UTC time) signed with HMAC-SHA256 under a key kept outside the database,
appended as one JSON line to a file kept outside it too (``claims audit anchor``; the
service every N entries or M minutes, see ``Anchoring``). ``verify_anchors`` compares
the chain with every anchor: a chain shorter than an anchor's position lost its tail;
an entry whose hash is not the anchored one was rewritten; a line whose HMAC does not
match was not written with the key.

A claim's entries (``CLAIM_DECISION_ACTIONS``) carry ``decision``, the
``decision_digest`` of its lines as they stand after the change, so ``claims check``
finds a decision edited in the database behind the service's back.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import hmac
import json
import logging
import math
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from service.auth import Principal
from store import models

log = logging.getLogger("claims.audit")

GENESIS = "0" * 64

# The entries that set a claim's decision; the latest one's ``decision`` is its digest.
CLAIM_DECISION_ACTIONS = ("claim.adjudicated", "claim.reviewed", "claim.readjudicated", "claim.funded")

ENV_KEY = "CLAIMS_AUDIT_KEY"
ENV_KEY_FILE = "CLAIMS_AUDIT_KEY_FILE"
ENV_ANCHORS = "CLAIMS_AUDIT_ANCHORS"
ENV_EVERY = "CLAIMS_AUDIT_ANCHOR_EVERY"  # entries
ENV_MINUTES = "CLAIMS_AUDIT_ANCHOR_MINUTES"
MIN_KEY_BYTES = 16

# session.info: (first position, last position, last hash) appended in this transaction.
_APPENDED = "audit_appended"


def _entry_hash(prev_hash: str, actor: str, action: str, entity: str, entity_id: str, details: dict[str, Any]) -> str:
    body = json.dumps(
        {"prev": prev_hash, "actor": actor, "action": action, "entity": entity, "id": entity_id, "details": details},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(session: Session, who: Principal, action: str, entity: str, entity_id: object, **details: Any) -> None:
    """Append an entry in the caller's transaction (it commits or rolls back with the change)."""
    record_many(session, who, action, entity, [(entity_id, details)])


def record_many(session: Session, who: Principal, action: str, entity: str,
                entries: list[tuple[object, dict[str, Any]]]) -> None:
    """Append one entry per (entity id, details), chained in order, in one lock and one insert."""
    record_entries(session, who, [(action, entity, entity_id, details) for entity_id, details in entries])


def record_entries(session: Session, who: Principal, entries: list[tuple[str, str, object, dict[str, Any]]]) -> None:
    """Append (action, entity, entity id, details) entries of any kinds, chained in order.

    One take of the chain's head and one insert for them all: a hospital's one-stop
    settlement writes its settlement's and its claim's entries together.
    """
    if not entries:
        return
    session.flush()  # the transaction's pending rows first: the chain's head is the last lock it takes
    # Take the head: one UPDATE moves its position on by the entries to come and returns
    # it with the last hash. The head's row stays locked until this transaction ends, so
    # a second writer waits here and then reads the head this one left (PostgreSQL
    # re-reads an updated row after the wait); the unique index on position would refuse
    # a chain forked anyway. Lock order: last (service.claim_aggregate).
    taken = session.execute(_TAKE_HEAD, {"n": len(entries)}).first()
    if taken is None:
        raise RuntimeError("the audit log has no head row: the database was not migrated (claims db upgrade)")
    position, prev = taken[0] - len(entries), taken[1]
    first = position + 1
    rows = []
    at = dt.datetime.now(dt.timezone.utc)
    for action, entity, entity_id, details in entries:
        details = json.loads(json.dumps(details, default=str))
        entry_hash = _entry_hash(prev, who.actor, action, entity, str(entity_id), details)
        position += 1
        rows.append({"position": position, "at": at, "actor": who.actor, "action": action, "entity": entity,
                     "entity_id": str(entity_id), "details": details, "prev_hash": prev, "entry_hash": entry_hash})
        prev = entry_hash
    session.execute(_APPEND, rows)  # the last entry's insert gives the head its hash (a trigger)
    earlier = session.info.get(_APPENDED)
    session.info[_APPENDED] = (earlier[0] if earlier else first, position, prev)


# Built once: every change appends (a statement built anew is walked anew for SQLAlchemy's cache key).
_HEAD_ROW = models.AuditHead.__table__
_TAKE_HEAD = (update(_HEAD_ROW).where(_HEAD_ROW.c.id == 1).values(position=_HEAD_ROW.c.position + bindparam("n"))
              .returning(_HEAD_ROW.c.position, _HEAD_ROW.c.entry_hash))
_APPEND = insert(models.AuditEntry.__table__)


def verify(session: Session) -> list[str]:
    """Problems found in the chain, first one first; empty when it is intact."""
    problems: list[str] = []
    prev = GENESIS
    expected = 1
    for e in session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.position)):
        if e.position != expected:
            problems.append(f"entries at positions {expected}..{e.position - 1} are missing (deleted?)")
        if e.prev_hash != prev:
            problems.append(f"entry at position {e.position} (id {e.id}) does not follow the entry before it "
                            "(an entry before it was changed or deleted)")
        if e.entry_hash != _entry_hash(e.prev_hash, e.actor, e.action, e.entity, e.entity_id, e.details):
            problems.append(f"entry at position {e.position} (id {e.id}, {e.action} {e.entity} {e.entity_id}) was edited")
        prev = e.entry_hash
        expected = e.position + 1
    return problems


def head(session: Session) -> tuple[int, str] | None:
    """The chain's last entry: (position, hash); None when the log is empty."""
    row = session.execute(select(models.AuditEntry.position, models.AuditEntry.entry_hash)
                          .order_by(models.AuditEntry.position.desc()).limit(1)).first()
    return (row[0], row[1]) if row else None


# ----------------------------------------------------------------------------- decisions


def _field(line: Any, name: str) -> Any:
    return line[name] if isinstance(line, dict) else getattr(line, name)


def decision_digest(lines: Iterable[Any]) -> str:
    """SHA-256 of a claim's decision: each line's benefit, status, amount and accumulator changes.

    ``lines`` are stored lines (``models.DecisionLine``) or dicts with those keys. The
    order of the lines and of their changes does not count (a benefit has one line).
    """
    body = []
    for line in lines:
        status = _field(line, "status")
        changes = sorted(
            [_field(c, "benefit"), _field(c, "measure"), _field(c, "scope"), int(_field(c, "delta"))]
            for c in _field(line, "changes"))
        body.append([_field(line, "benefit"), getattr(status, "value", status), int(_field(line, "amount")), changes])
    body.sort(key=lambda item: item[0])
    return hashlib.sha256(json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


def recorded_decisions(session: Session) -> dict[str, tuple[int, dict[str, Any]]]:
    """Each claim's latest decision entry: claim id (as text) -> (position, details)."""
    latest: dict[str, tuple[int, dict[str, Any]]] = {}
    query = (select(models.AuditEntry.entity_id, models.AuditEntry.position, models.AuditEntry.details)
             .where(models.AuditEntry.entity == "claim", models.AuditEntry.action.in_(CLAIM_DECISION_ACTIONS))
             .order_by(models.AuditEntry.position))
    for entity_id, position, details in session.execute(query):
        latest[entity_id] = (position, details)
    return latest


# ----------------------------------------------------------------------------- anchors


class AnchorError(Exception):
    """The audit key or the anchors file cannot be used (said in the message)."""


def load_key(key_file: str | Path | None = None) -> bytes | None:
    """The anchors' HMAC key: ``key_file``, else ``$CLAIMS_AUDIT_KEY``, else ``$CLAIMS_AUDIT_KEY_FILE``; None if none."""
    if key_file is None:
        if os.environ.get(ENV_KEY):
            key = os.environ[ENV_KEY].encode()
            if len(key) < MIN_KEY_BYTES:
                raise AnchorError(f"${ENV_KEY} is shorter than {MIN_KEY_BYTES} bytes")
            return key
        key_file = os.environ.get(ENV_KEY_FILE) or None
    if key_file is None:
        return None
    try:
        key = Path(key_file).read_bytes().strip()
    except OSError as err:
        raise AnchorError(f"cannot read the audit key file {key_file}: {err.strerror}") from None
    if len(key) < MIN_KEY_BYTES:
        raise AnchorError(f"the audit key in {key_file} is shorter than {MIN_KEY_BYTES} bytes")
    return key


def anchors_path(db_url: str, explicit: str | Path | None = None) -> Path | None:
    """``explicit``, else ``$CLAIMS_AUDIT_ANCHORS``, else ``<sqlite file>.anchors.jsonl``; None for another database."""
    chosen = explicit or os.environ.get(ENV_ANCHORS)
    if chosen:
        return Path(chosen)
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(f"{url.database}.anchors.jsonl")
    return None


def _signature(key: bytes, position: int, entry_hash: str, at: str) -> str:
    body = json.dumps({"at": at, "hash": entry_hash, "position": position}, sort_keys=True, separators=(",", ":"))
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def append_anchor(path: Path, key: bytes, position: int, entry_hash: str) -> dict[str, Any]:
    """Append the signed anchor of (position, hash) to ``path`` as one line; the anchor."""
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    anchor = {"position": position, "hash": entry_hash, "at": at, "hmac": _signature(key, position, entry_hash, at)}
    line = json.dumps(anchor, separators=(",", ":")) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # workers of one service append whole lines, one at a time
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
    return anchor


def read_anchors(path: Path) -> list[tuple[int, str]]:
    """The file's non-blank lines with their line numbers."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise AnchorError(f"cannot read the anchors file {path}: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise AnchorError(f"the anchors file {path} is not UTF-8 text (byte {err.start}): "
                          "it is not one this service wrote") from None
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def latest_anchor(path: Path | None) -> dict[str, Any] | None:
    """The last anchor line of the file, as written; None when there is none."""
    if path is None or not path.exists():
        return None
    for _n, line in reversed(read_anchors(path)):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def verify_anchors(session: Session, path: Path, key: bytes) -> tuple[list[str], int]:
    """Problems of the chain against every anchor in ``path``, and how many anchors were sound."""
    problems: list[str] = []
    sound: list[tuple[int, int, str, str]] = []
    for n, line in read_anchors(path):
        try:
            a = json.loads(line)
            position, entry_hash, at, mac = a["position"], str(a["hash"]), str(a["at"]), str(a["hmac"])
            # A JSON integer as append_anchor writes it: not 1e999 (int() overflows), 1.5 or
            # "1", nor past what a database integer holds.
            if type(position) is not int or not 0 < position < 2**63:
                raise ValueError(position)
        except (ValueError, TypeError, KeyError):
            problems.append(f"{path} line {n}: not an anchor (a JSON object with position, hash, at, hmac)")
            continue
        if not hmac.compare_digest(_signature(key, position, entry_hash, at), mac):
            problems.append(f"{path} line {n}: forged anchor (position {position}, {at}): its HMAC does not match "
                            "under the audit key")
            continue
        sound.append((n, position, entry_hash, at))
    top = head(session)
    length = top[0] if top else 0
    stored = dict(session.execute(select(models.AuditEntry.position, models.AuditEntry.entry_hash)
                                  .where(models.AuditEntry.position.in_({p for _, p, _, _ in sound}))).all())
    for n, position, entry_hash, at in sound:
        if position > length:
            problems.append(f"truncated: the chain ends at position {length}, but the anchor of {at} ({path} line {n}) "
                            f"recorded position {position}: entries were deleted from the end of the log")
        elif position not in stored:
            problems.append(f"the entry at position {position}, anchored at {at} ({path} line {n}), is missing")
        elif stored[position] != entry_hash:
            problems.append(f"rewritten: the entry at position {position} has hash {stored[position][:16]}…, but the "
                            f"anchor of {at} ({path} line {n}) recorded {entry_hash[:16]}…: the chain was re-hashed, "
                            "or cut and appended to, since")
    return problems, len(sound)


@dataclass(frozen=True)
class Anchoring:
    """Where the service keeps anchors, and when it appends one by itself.

    After a commit that appended audit entries, the service appends the anchor of the
    last of them when the commit moved the head past a multiple of ``every`` (entries),
    or when the anchors file was last written ``minutes`` or more ago. Nothing happens
    while nothing is audited: an idle chain has nothing new to protect. Best effort: a
    file that cannot be written is logged, never fails the request (its change has
    been committed already). No key or neither setting: the service appends none.
    """

    path: Path | None
    key: bytes | None = None
    every: int | None = None
    minutes: float | None = None

    @classmethod
    def from_env(cls, db_url: str) -> "Anchoring":
        every = int(os.environ.get(ENV_EVERY) or 0) or None
        minutes = float(os.environ.get(ENV_MINUTES) or 0) or None
        return cls(anchors_path(db_url), load_key(), every, minutes)

    @property
    def active(self) -> bool:
        return self.path is not None and self.key is not None and bool(self.every or self.minutes)

    def due(self, first: int, last: int) -> bool:
        if self.every and (first - 1) // self.every < last // self.every:
            return True
        if self.minutes:
            try:
                age = time.time() - self.path.stat().st_mtime  # type: ignore[union-attr]
            except FileNotFoundError:
                age = math.inf
            return age >= self.minutes * 60
        return False

    def after_commit(self, session: Session) -> None:
        appended = session.info.pop(_APPENDED, None)
        if appended is None or not self.active:
            return
        first, last, last_hash = appended
        try:
            if self.due(first, last):
                append_anchor(self.path, self.key, last, last_hash)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - best effort, the request has succeeded
            log.exception("could not append an audit anchor to %s", self.path)

    def install(self, sessions: sessionmaker) -> None:
        """Watch every session the factory makes (the API's units of work)."""
        event.listen(sessions, "after_commit", self.after_commit)

        def forget(session: Session, previous) -> None:
            if not previous.nested:  # the transaction's entries are gone with it
                session.info.pop(_APPENDED, None)

        event.listen(sessions, "after_soft_rollback", forget)
