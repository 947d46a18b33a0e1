"""The audit log: append-only, each entry carrying the hash of the one before it.

An entry's hash covers its content and the previous hash, so editing or deleting any
entry breaks the chain from there on; ``verify`` names the first entry that does not
fit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from service.auth import Principal
from store import models
from store.repositories import lock_audit_chain

GENESIS = "0" * 64


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
    if not entries:
        return
    lock_audit_chain(session)
    session.flush()  # an entry added through the ORM earlier in this transaction comes first
    prev = session.scalar(select(models.AuditEntry.entry_hash).order_by(models.AuditEntry.id.desc()).limit(1)) or GENESIS
    rows = []
    at = dt.datetime.now(dt.timezone.utc)
    for entity_id, details in entries:
        details = json.loads(json.dumps(details, default=str))
        entry_hash = _entry_hash(prev, who.actor, action, entity, str(entity_id), details)
        rows.append({"at": at, "actor": who.actor, "action": action, "entity": entity, "entity_id": str(entity_id),
                     "details": details, "prev_hash": prev, "entry_hash": entry_hash})
        prev = entry_hash
    # Row ids follow the list's order (the chain's order): the rows are sent in order.
    session.execute(insert(models.AuditEntry.__table__), rows)


def verify(session: Session) -> list[str]:
    """Problems found in the chain, first one first; empty when it is intact."""
    problems: list[str] = []
    prev = GENESIS
    expected_id = None
    for e in session.scalars(select(models.AuditEntry).order_by(models.AuditEntry.id)):
        if expected_id is not None and e.id != expected_id:
            problems.append(f"entries {expected_id}..{e.id - 1} are missing (deleted?)")
        if e.prev_hash != prev:
            problems.append(f"entry {e.id} does not follow the entry before it (an entry before it was changed or deleted)")
        if e.entry_hash != _entry_hash(e.prev_hash, e.actor, e.action, e.entity, e.entity_id, e.details):
            problems.append(f"entry {e.id} ({e.action} {e.entity} {e.entity_id}) was edited")
        prev = e.entry_hash
        expected_id = e.id + 1
    return problems
