"""Plan versions: drafts administrators edit, versions published for a date, the engine for a claim.

A claim is decided under the published version in force on its admission date
(``begndate``): the one with the latest ``effective_from`` on or before it, the one
published last among versions from the same day (rules/schedule.py says so, once).
The shipped default (``default-2026``) is published from 2000-01-01 when a database
has no published version yet, so a new installation decides claims at once. Neither
publishing nor retiring may leave a day without a version in force, from the
earliest admission stored to a year ahead (``check_no_gap``).

Engines are built once per content hash in each process and kept: durable_rules
never frees a ruleset, so a process registers each published version at most once.
Drafts are never registered in the service process; simulations run them in child
processes that exit.
"""

from __future__ import annotations

import datetime as dt
import functools
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims.dates import check_service_day, china_today
from claims.settlement import OLDEST_ADMISSION_YEARS, years_before
from rules.document import Plan, PlanError, hidden_text_errors, inline_catalogs, load_plan, read_document_text, validate_plan
from rules.engine import Engine
from rules.schedule import Schedule
from service import audit
from service.auth import Principal, Role
from service.errors import Conflict, Invalid, NotFound
from store import models
from store.repositories import paginate

BOOTSTRAP_EFFECTIVE_FROM = dt.date(2000, 1, 1)


def read_document(text: str, media_type: str) -> dict[str, Any]:
    """A rule document from a request body (JSON or YAML); catalog files resolve to the shipped ones."""
    is_yaml = "yaml" in media_type
    try:
        raw = read_document_text(text, "plan.yaml" if is_yaml else "plan.json")
    except (yaml.YAMLError, ValueError) as err:
        raise Invalid.at("body", f"not valid {'YAML' if is_yaml else 'JSON'}: {err}") from None
    if not isinstance(raw, dict):
        raise Invalid.at("body", "a rule document is a mapping")
    hidden = hidden_text_errors(raw)
    if hidden:
        raise Invalid("the document holds characters no rule document needs", [{"field": p, "message": m} for p, m in hidden])
    errors = inline_catalogs(raw)
    if errors:
        raise Invalid("the document names catalog files that are not shipped", [{"field": p, "message": m} for p, m in errors])
    return _jsonable(raw)


def _jsonable(value: Any) -> Any:
    """Decimals (exact numbers from YAML/JSON) as strings, so the document stores as JSON."""
    from decimal import Decimal

    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


def check(document: dict[str, Any]) -> tuple[Plan | None, list[dict[str, str]]]:
    try:
        return validate_plan(document), []
    except PlanError as err:
        return None, [{"field": p, "message": m} for p, m in err.errors]


class PlanBook:
    """Engines by content hash, and which published version decides a claim."""

    def __init__(self, plan_path: str | Path | None = None) -> None:
        # A plan given at start-up (``claims serve --plan``) replaces the database's
        # schedule: every claim is decided under it. Otherwise the schedule decides.
        self._fixed = Engine(load_plan(plan_path)) if plan_path is not None else None
        self._engines: dict[str, Engine] = {}
        self._lock = threading.Lock()

    def engine_of(self, plan: Plan) -> Engine:
        with self._lock:
            engine = self._engines.get(plan.content_hash)
            if engine is None:
                engine = self._engines[plan.content_hash] = Engine(plan)
            return engine

    def engine_for(self, session: Session, admitted: dt.date) -> Engine:
        return self.engines_for(session, [admitted])[admitted]

    def engines_for(self, session: Session, admitted: Iterable[dt.date],
                    versions: Iterable[PublishedVersion] | None = None) -> dict[dt.date, Engine]:
        """The engine deciding claims admitted on each date: one read of the schedule for them all.

        ``versions``: the published versions as this transaction already read them (the
        desk reads them with the member's file, ``claim_aggregate.files_and_schedule``),
        in publication order; otherwise they are read here.
        """
        days = set(admitted)
        if self._fixed is not None:
            return dict.fromkeys(days, self._fixed)
        if versions is None:
            # Only ids, dates and hashes on the usual path: a document is read once per process.
            versions = [PublishedVersion(*row) for row in published(session, *SCHEDULE_COLUMNS)]
        schedule = Schedule((v.effective_from, v) for v in versions)
        engines: dict[dt.date, Engine] = {}
        for day in days:
            found = schedule.in_force(day)
            if found is None:
                raise Conflict(f"no published plan is in force on {day}; publish one from that date or earlier")
            engine = self._engines.get(found.content_hash or "")
            if engine is None:
                document = session.scalar(select(models.PlanVersion.document).where(models.PlanVersion.id == found.id))
                engine = self.engine_of(validate_plan(document))
            engines[day] = engine
        return engines

    def engine_by_version(self, session: Session, version: str) -> Engine:
        """The engine of a version by its identity (``name@hash``), published, retired or fixed at start-up."""
        if self._fixed is not None and self._fixed.version == version:
            return self._fixed
        for engine in list(self._engines.values()):
            if engine.version == version:
                return engine
        document = session.scalar(select(models.PlanVersion.document).where(models.PlanVersion.version == version)
                                  .order_by(models.PlanVersion.id).limit(1))
        if document is None:
            raise Conflict(f"plan version {version} is not stored; it cannot decide this claim again")
        return self.engine_of(validate_plan(document))

    def current_version(self, session: Session) -> str:
        if self._fixed is not None:
            return self._fixed.version
        return self.engine_for(session, china_today()).version


class PublishedVersion(NamedTuple):
    """What the schedule needs of a published version: the document is read once per process, by id."""

    id: int
    content_hash: str
    effective_from: dt.date


SCHEDULE_COLUMNS = (models.PlanVersion.id, models.PlanVersion.content_hash, models.PlanVersion.effective_from)
# Which versions are in the schedule, and in what order: the order settles two versions
# from the same day (rules/schedule.py). ``published`` and the desk's one read of the
# member's file with the schedule (``claim_aggregate``) both take them from here.
PUBLISHED = models.PlanVersion.status == "published"
PUBLICATION_ORDER = (models.PlanVersion.published_at, models.PlanVersion.id)


def published(session: Session, *columns: Any, lock: bool = False) -> list[Any]:
    """These columns of every published version, in the order they were published.

    The order is what settles two versions from the same day (rules/schedule.py).
    ``lock``: hold the rows until the transaction ends, so two administrators changing
    the schedule at once each check the schedule the other left.
    """
    return list(session.execute(_published_query(columns, lock)).all())


@functools.lru_cache(maxsize=32)
def _published_query(columns: tuple[Any, ...], lock: bool):
    """Built once per set of columns: every claim reads the schedule (a statement built
    anew is walked anew for SQLAlchemy's cache key)."""
    query = select(*columns).where(PUBLISHED).order_by(*PUBLICATION_ORDER)
    return query.with_for_update() if lock else query


def published_documents(session: Session) -> list[tuple[dt.date, dict[str, Any]]]:
    """(effective_from, document) of every published version, in publication order (the simulation's baseline)."""
    return [(r.effective_from, r.document) for r in published(
        session, models.PlanVersion.effective_from, models.PlanVersion.document)]


def _a_year_after(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def check_no_gap(session: Session, effective_from: Iterable[dt.date], change: str) -> None:
    """Refuse a schedule (the effective dates after a change) that leaves a day without a version.

    The days that need one run from the earliest admission a claim can still bring (a
    hospital may post stays that began up to ``OLDEST_ADMISSION_YEARS`` ago), or the
    earliest stored if that is older, to a year ahead: a claim admitted on any of them
    must be decidable, including one whose bill has not been posted yet.
    """
    today = china_today()
    earliest = session.scalar(select(func.min(models.Settlement.begndate)))
    oldest_admissible = years_before(today, OLDEST_ADMISSION_YEARS)
    start = min(earliest, oldest_admissible) if earliest is not None else oldest_admissible
    gap = Schedule((day, day) for day in effective_from).uncovered(start, _a_year_after(today))
    if gap is not None:
        raise Conflict(f"{change} would leave no published plan in force on {gap[0]}..{gap[1]}; "
                       f"publish a version in force from {gap[0]} or earlier first")


def ensure_published_default(session: Session) -> None:
    """Publish the shipped default when no version has ever been published."""
    if session.scalar(select(models.PlanVersion.id).where(models.PlanVersion.status != "draft").limit(1)) is not None:
        return
    plan = load_plan()
    session.add(models.PlanVersion(
        name=plan.name, status="published", document=plan.content, content_hash=plan.content_hash,
        version=plan.version, effective_from=BOOTSTRAP_EFFECTIVE_FROM, published_at=dt.datetime.now(dt.timezone.utc),
        note="the shipped default, published when the database was set up",
    ))
    session.flush()


# --------------------------------------------------------------------- administration


def _version(session: Session, plan_id: int) -> models.PlanVersion:
    row = session.get(models.PlanVersion, plan_id)
    if row is None:
        raise NotFound(f"no plan version {plan_id}")
    return row


def _identify(row: models.PlanVersion) -> list[dict[str, str]]:
    plan, errors = check(row.document)
    row.content_hash = plan.content_hash if plan else None
    row.version = plan.version if plan else None
    if isinstance(row.document.get("name"), str):
        row.name = row.document["name"][:64]
    return errors


def create_draft(session: Session, who: Principal, document: dict[str, Any], note: str = "",
                 based_on: int | None = None) -> tuple[models.PlanVersion, list[dict[str, str]]]:
    who.require(Role.ADMIN)
    row = models.PlanVersion(name=str(document.get("name", ""))[:64], status="draft", document=document,
                             based_on=based_on, note=note)
    errors = _identify(row)
    session.add(row)
    session.flush()
    audit.record(session, who, "plan.drafted", "plan", row.id, based_on=based_on, version=row.version)
    return row, errors


def replace_draft(session: Session, who: Principal, plan_id: int, document: dict[str, Any]):
    who.require(Role.ADMIN)
    row = _version(session, plan_id)
    if row.status != "draft":
        raise Conflict(f"plan version {plan_id} is {row.status}; published versions never change (derive a draft)")
    row.document = document
    errors = _identify(row)
    session.flush()
    audit.record(session, who, "plan.edited", "plan", row.id, version=row.version)
    return row, errors


def delete_draft(session: Session, who: Principal, plan_id: int) -> None:
    """Delete a draft; the audit entry keeps what it held.

    Published and retired versions stay for ever: claims name them. A draft another
    version was derived from, or that a simulation still reads, stays too (409).
    """
    who.require(Role.ADMIN)
    row = session.get(models.PlanVersion, plan_id, with_for_update=True)  # not published beside us
    if row is None:
        raise NotFound(f"no plan version {plan_id}")
    if row.status != "draft":
        raise Conflict(f"plan version {plan_id} is {row.status}; only drafts are deleted (retire a published one)")
    derived = session.scalars(select(models.PlanVersion.id).where(models.PlanVersion.based_on == plan_id)
                              .order_by(models.PlanVersion.id)).all()
    if derived:
        raise Conflict(f"plan version {plan_id} is the base of version(s) {', '.join(map(str, derived))}; "
                       "it is kept while they are")
    running = [job.id for job in session.scalars(select(models.Job).where(models.Job.status.in_(("queued", "running"))))
               if job.params.get("plan_id") == plan_id]
    if running:
        raise Conflict(f"simulation job(s) {', '.join(map(str, running))} of plan version {plan_id} "
                       "are still running; delete it when they have finished")
    before = {"status": row.status, "name": row.name, "version": row.version, "based_on": row.based_on,
              "note": row.note, "document": row.document}
    session.delete(row)
    session.flush()
    audit.record(session, who, "plan.deleted", "plan", plan_id, before=before, after=None)


def derive_draft(session: Session, who: Principal, plan_id: int, patch: list[dict[str, Any]], note: str = ""):
    """A new draft: an existing version with a JSON Patch (RFC 6902) applied to its parameters."""
    import jsonpatch

    who.require(Role.ADMIN)
    base = _version(session, plan_id)
    try:
        document = jsonpatch.apply_patch(base.document, patch)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError, IndexError) as err:
        raise Invalid.at("patch", f"cannot apply: {err}") from None
    return create_draft(session, who, _jsonable(document), note=note, based_on=base.id)


def validate_version(session: Session, who: Principal, plan_id: int) -> tuple[models.PlanVersion, list[dict[str, str]]]:
    who.require(Role.ADMIN)
    row = _version(session, plan_id)
    return row, check(row.document)[1]


def publish(session: Session, who: Principal, plan_id: int, effective_from: dt.date) -> models.PlanVersion:
    who.require(Role.ADMIN)
    try:
        check_service_day(effective_from)  # the API's Publish checks it too; the console and CLI come here
    except ValueError as err:
        raise Invalid.at("effective_from", str(err)) from None
    row = _version(session, plan_id)
    if row.status != "draft":
        raise Conflict(f"plan version {plan_id} is already {row.status}")
    errors = _identify(row)
    if errors:
        raise Invalid("the draft is not valid; nothing was published", errors)
    # A version from the same day as a published one supersedes it (the later published
    # wins), so a replacement for the first day can be published before the old is retired.
    schedule = [v.effective_from for v in published(session, models.PlanVersion.effective_from, lock=True)]
    check_no_gap(session, [*schedule, effective_from], f"publishing version {plan_id} from {effective_from}")
    row.status, row.effective_from = "published", effective_from
    row.published_at = dt.datetime.now(dt.timezone.utc)
    session.flush()
    audit.record(session, who, "plan.published", "plan", row.id, version=row.version, effective_from=effective_from)
    return row


def retire(session: Session, who: Principal, plan_id: int) -> models.PlanVersion:
    who.require(Role.ADMIN)
    row = _version(session, plan_id)
    if row.status != "published":
        raise Conflict(f"plan version {plan_id} is {row.status}; only a published version can be retired")
    others = published(session, models.PlanVersion.id, models.PlanVersion.effective_from, lock=True)
    check_no_gap(session, [v.effective_from for v in others if v.id != row.id], f"retiring version {plan_id}")
    row.status, row.retired_at = "retired", dt.datetime.now(dt.timezone.utc)
    session.flush()
    audit.record(session, who, "plan.retired", "plan", row.id, version=row.version)
    return row


def list_versions(session: Session, who: Principal, page: int = 1, page_size: int = 200) -> tuple[list[models.PlanVersion], int]:
    who.require(Role.ADMIN)
    return paginate(session, select(models.PlanVersion), models.PlanVersion.id, page, page_size)


def get_version(session: Session, who: Principal, plan_id: int) -> models.PlanVersion:
    who.require(Role.ADMIN)
    return _version(session, plan_id)


def diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """Every difference between two documents, as (path, from, to); lists compared by position."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in list(old) + [k for k in new if k not in old]:
            here = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append({"path": here, "from": old[key], "to": None})
            elif key not in old:
                out.append({"path": here, "from": None, "to": new[key]})
            else:
                out.extend(diff(old[key], new[key], here))
        return out
    if isinstance(old, list) and isinstance(new, list):
        out = []
        for i in range(max(len(old), len(new))):
            here = f"{path}[{i}]"
            if i >= len(new):
                out.append({"path": here, "from": old[i], "to": None})
            elif i >= len(old):
                out.append({"path": here, "from": None, "to": new[i]})
            else:
                out.extend(diff(old[i], new[i], here))
        return out
    return [] if old == new else [{"path": path or "(document)", "from": old, "to": new}]


def compare(session: Session, who: Principal, plan_id: int, other_id: int) -> list[dict[str, Any]]:
    who.require(Role.ADMIN)
    return diff(_version(session, plan_id).document, _version(session, other_id).document)

