"""The registry union officers keep: unions, hospitals, members, enrollments, hardship."""

from __future__ import annotations

from collections.abc import Callable

import csv
import datetime as dt
import functools
import io
import json
import re
import time

from sqlalchemy import any_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from claims.dates import check_service_day
from claims.identity import InvalidIdentity, hidden_character, parse_certno
from claims.members import HardshipCategory
from service import audit, contributions
from service.auth import MEMBER_READERS, Principal, Role
from service.csv_files import decode_csv
from service.errors import Conflict, Forbidden, Invalid, NotFound
from service.schemas import (
    EnrollmentCorrection,
    EnrollmentCreate,
    HardshipCounts,
    HardshipCreate,
    HardshipRevoke,
    HardshipVerify,
    HospitalCreate,
    ImportResult,
    MemberCorrection,
    MemberCreate,
    UnionCreate,
    check_birth_day,
)
from store import models
from store.repositories import insert_many, is_postgres, lock_members, paginate


def create_union(session: Session, who: Principal, data: UnionCreate) -> models.Union:
    who.require(Role.ADMIN)
    if session.get(models.Union, data.id) is not None:
        raise Conflict(f"union {data.id} exists")
    union = models.Union(**data.model_dump())
    place_in_tree(session, union)
    session.add(union)
    session.flush()
    audit.record(session, who, "union.created", "union", union.id, **data.model_dump())
    return union


# A union's level is below its parent's: region → league → county → grassroots.
_LEVEL_RANK = {"region": 0, "league": 1, "county": 2, "grassroots": 3}
MAX_TREE_DEPTH = 8


def place_in_tree(session: Session, union: models.Union) -> None:
    """Set the union's tree path and league from its parent, or refuse a parent that cannot hold it.

    A league or city union sits directly under the regional federation; a county under
    a league; a grassroots union under any union above it (a workplace may report
    straight to a league). A union without a parent is a root (a region, or a union
    kept on its own).
    """
    if union.parent_id is None:
        union.path = f"{union.id}/"
        union.league_id = union.id if union.level == "league" else None
        return
    parent = session.get(models.Union, union.parent_id)
    if parent is None:
        raise Invalid.at("parent_id", f"no union {union.parent_id}")
    if _LEVEL_RANK[union.level] <= _LEVEL_RANK[parent.level]:
        raise Invalid.at("level", f"a {union.level} union cannot sit under a {parent.level} union")
    if union.level == "league" and parent.level != "region":
        raise Invalid.at("level", "a league or city union sits directly under the regional federation")
    if parent.path.count("/") >= MAX_TREE_DEPTH:
        raise Invalid.at("parent_id", f"the union tree is at most {MAX_TREE_DEPTH} levels deep")
    union.path = f"{parent.path}{union.id}/"
    union.league_id = union.id if union.level == "league" else parent.league_id


def list_unions(session: Session, who: Principal, page: int, page_size: int) -> tuple[list[models.Union], int]:
    who.require(Role.ADMIN, Role.OFFICER)
    query = select(models.Union)
    if who.role is Role.OFFICER:
        query = query.where(who.union_scope(models.Union.id))
    return paginate(session, query, models.Union.id, page, page_size)


def get_union(session: Session, who: Principal, union_id: str) -> models.Union:
    union = session.get(models.Union, union_id)
    # A union not the caller's is answered as one that does not exist.
    if union is None or not (who.role is Role.ADMIN or (who.role is Role.OFFICER and who.sees_union(union.id))):
        raise NotFound(f"no union {union_id}")
    return union


def create_hospital(session: Session, who: Principal, data: HospitalCreate) -> models.Hospital:
    who.require(Role.ADMIN)
    if session.get(models.Hospital, data.code) is not None:
        raise Conflict(f"hospital {data.code} exists")
    hospital = models.Hospital(**data.model_dump())
    session.add(hospital)
    session.flush()
    audit.record(session, who, "hospital.created", "hospital", hospital.code, **data.model_dump())
    return hospital


def list_hospitals(session: Session, who: Principal, page: int, page_size: int) -> tuple[list[models.Hospital], int]:
    return paginate(session, select(models.Hospital), models.Hospital.code, page, page_size)


def get_hospital(session: Session, who: Principal, code: str) -> models.Hospital:
    hospital = session.get(models.Hospital, code)
    if hospital is None:
        raise NotFound(f"no hospital {code}")
    return hospital


def get_member(session: Session, who: Principal, member_id: str, *, detail: bool = False) -> models.Member:
    """A member the caller may act for; any other is answered exactly as an unknown id (404).

    The role is checked first, so a role that never reads members (a hospital) gets the
    same 403 for every id, known or not.
    """
    who.require(*MEMBER_READERS)
    query = select(models.Member).where(models.Member.id == member_id)
    if detail:
        query = query.options(
            selectinload(models.Member.enrollments).selectinload(models.Enrollment.contribution),
            selectinload(models.Member.hardship_registrations),
        )
    member = session.scalar(query)
    if member is None:
        raise NotFound(f"no member {member_id}")
    who.require_member(member, reading=True)
    return member


def _union_for(session: Session, who: Principal, union_id: str | None) -> str:
    if who.role is Role.OFFICER:
        if union_id is None:
            return who.union_id  # type: ignore[return-value]
        if not who.sees_union(union_id):
            raise Forbidden(f"an officer of union {who.union_id} registers members of that union and the unions beneath it only")
        return union_id
    who.require(Role.ADMIN)
    if union_id is None:
        raise Invalid.at("union_id", "required")
    if session.get(models.Union, union_id) is None:
        raise Invalid.at("union_id", f"no union {union_id}")
    return union_id


def create_member(session: Session, who: Principal, data: MemberCreate) -> models.Member:
    who.require(Role.ADMIN, Role.OFFICER)
    union_id = _union_for(session, who, data.union_id)
    if session.get(models.Member, data.id) is not None:
        raise Conflict(f"member {data.id} exists")
    if _holder_of(session, data.certno) is not None:
        raise _certno_taken("certno")
    member = models.Member(id=data.id, union_id=union_id, certno=data.certno, name=data.name, gender=data.gender,
                           birth_date=data.birth_date)
    try:
        with session.begin_nested():
            session.add(member)
            session.flush()
    except IntegrityError:
        # Registered by another request since we looked: the unique index decides.
        if _holder_of(session, data.certno) is not None:
            raise _certno_taken("certno") from None
        raise Conflict(f"member {data.id} exists") from None
    audit.record(session, who, "member.created", "member", member.id, union_id=union_id)
    return member


def _holder_of(session: Session, certno: str) -> str | None:
    """The id of the member registered with this resident identity number, if any."""
    return session.scalar(select(models.Member.id).where(models.Member.certno == certno))


def _certno_taken(field: str) -> Conflict:
    # The holder is not named: an officer of one union must not learn who is registered
    # in another (409, like a member id that exists).
    message = "this resident identity number is already registered to another member"
    return Conflict(f"{field}: {message}", [{"field": field, "message": message}])


def list_members(session: Session, who: Principal, union_id: str | None, page: int, page_size: int, *,
                 search: str | None = None) -> tuple[list[models.Member], int]:
    """Members by id; ``search``: those whose id starts with it or whose name contains it."""
    who.require(Role.ADMIN, Role.OFFICER, Role.FINANCE)
    query = select(models.Member)
    if who.scoped_to_unions:
        query = query.where(who.union_scope(models.Member.union_id))
    if union_id:
        query = query.where(models.Member.union_id == union_id)
    if search:
        query = query.where(or_(models.Member.id.startswith(search, autoescape=True),
                                models.Member.name.contains(search, autoescape=True)))
    return paginate(session, query, models.Member.id, page, page_size)


def _overlap(session: Session, member_id: str, start: dt.date, end: dt.date) -> models.Enrollment | None:
    return session.scalar(
        select(models.Enrollment).where(
            models.Enrollment.member_id == member_id,
            models.Enrollment.period_start <= end,
            models.Enrollment.period_end >= start,
        )
    )


def add_enrollment(session: Session, who: Principal, member_id: str, data: EnrollmentCreate) -> models.Enrollment:
    who.require(Role.ADMIN, Role.OFFICER)
    # Under the member's lock: two enrollments posted at once must not both pass the overlap check.
    member = _locked_member(session, who, member_id)
    clash = _overlap(session, member.id, data.period_start, data.period_end)
    if clash is not None:
        raise Invalid.at(
            "period_start", f"overlaps the enrollment {clash.period_start}..{clash.period_end} (periods never overlap)"
        )
    enrollment = models.Enrollment(member_id=member.id, **data.model_dump())
    session.add(enrollment)
    session.flush()
    contributions.record(session, enrollment)
    audit.record(session, who, "enrollment.created", "member", member.id, **data.model_dump())
    return enrollment


_MEMBER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # as MemberCreate.id
IMPORT_COLUMNS = ("member_id", "certno", "name", "gender", "birth_date", "period_start", "period_end", "enrolled_on")
_DATE_COLUMNS = ("period_start", "period_end", "enrolled_on")
# As people type dates and as Excel saves them in a Chinese locale: 2026-01-01 or 2026/1/1.
_FILE_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})|([0-9]{4})/([0-9]{1,2})/([0-9]{1,2})")
_FILE_DATE_FORMS = "YYYY-MM-DD or YYYY/M/D"
_MEMBER_COLUMNS = ("id", "union_id", "certno", "name", "gender", "birth_date", "created_at")
_ENROLLMENT_COLUMNS = ("member_id", "period_start", "period_end", "enrolled_on")
# Values per statement when reading the stored rows a file names: small enough that
# the server's other requests get their turn between statements.
_CHUNK = 2000


def _day_problem(check: Callable[[dt.date], dt.date], day: dt.date) -> str:
    """What ``check`` (the API's own rule for the field) says is wrong with ``day``, or ""."""
    try:
        check(day)
    except ValueError as err:
        return str(err)
    return ""


@functools.lru_cache(maxsize=4096)  # a file repeats its few periods on every row
def _file_date(value: str | None) -> dt.date | None:
    """A date of the import file (``_FILE_DATE``), or None when it is not one."""
    match = _FILE_DATE.fullmatch((value or "").strip())
    if match is None:
        return None
    year, month, day = (int(g) for g in match.groups() if g is not None)
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


# A worker serves other requests from other threads, which need the GIL that a loop in
# pure Python holds for 5 ms at a time and takes back at once: a 100,000-row file then
# held reads in the same worker up to 200 ms. Pausing for a millisecond every hundred
# rows lets them through (tests/load/test_import_under_load.py: PostgreSQL GET p99
# 56-71 ms, against 78-124 ms pausing half as often and half as long) for about four
# seconds more per 100,000 rows.
_PAUSE_EVERY = 100


def _let_others_run(n: int) -> None:
    if n % _PAUSE_EVERY == 0:
        time.sleep(0.001)


# The ledger's rows of an import (one entry, two credit legs per enrollment: 200,000
# rows for 100,000 enrollments) go out in loops that are mostly the driver's C. On
# PostgreSQL the server indexes them beside the readers on the same two cores, so the
# import pauses every 50 of them; on SQLite every 200. Reads meanwhile:
# benchmarks/test_reads_during_import.py (their p99 moves between runs with the
# machine's other work: 64-163 ms on PostgreSQL on 2026-11-30).
_LEDGER_PAUSE_EVERY = {"postgresql": 50, "sqlite": 200}


def _ledger_pause(session: Session) -> Callable[[int], None]:
    every = _LEDGER_PAUSE_EVERY["postgresql" if is_postgres(session) else "sqlite"]

    def pause(n: int) -> None:
        if n % every == 0:
            time.sleep(0.001)
    return pause


def _chunks(items: list, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def import_enrollments(session: Session, who: Principal, data: bytes | str, union_id: str | None) -> ImportResult:
    """A unit enrolling its staff: one CSV row per member and period, all or nothing.

    ``data`` is the file as sent (``decode_csv``); dates are ``_FILE_DATE_FORMS``.
    Members are made when new (in the importing union), with the row's resident
    identity number; a row of a member already registered must carry that member's own
    number. An enrollment already there with the same dates is left alone; any bad row
    refuses the whole file, each error named by row and column.

    The stored members and enrollments the file mentions are read in bulk and the new
    rows written in bulk, a few statements per thousand rows: a file of 100,000 rows
    holds the write lock for seconds, not minutes.
    """
    who.require(Role.ADMIN, Role.OFFICER)
    union = _union_for(session, who, union_id)
    reader = csv.DictReader(io.StringIO(decode_csv(data)))
    try:
        header = reader.fieldnames or []
    except csv.Error as err:
        raise Invalid.at("header", f"not a CSV header: {err}") from None
    reader.fieldnames = [name.strip() for name in header]
    missing = [c for c in ("member_id", "certno", *_DATE_COLUMNS) if c not in reader.fieldnames]
    if missing:
        raise Invalid.at("header", f"the CSV needs the columns {', '.join(IMPORT_COLUMNS)}; missing {', '.join(missing)}")
    errors: list[dict[str, str]] = []
    rows = _valid_rows(reader, errors)
    stored_members, holders, stored_enrollments = _stored_for(session, rows)

    created = enrolled = unchanged = 0
    now = models._now()
    new_members: list[tuple] = []  # _MEMBER_COLUMNS
    new_enrollments: list[tuple] = []  # _ENROLLMENT_COLUMNS
    periods: dict[str, tuple[tuple[dt.date, dt.date], ...]] = {}  # this file's new enrollments, by member
    for n, member_id, certno, name, gender, birth, (start, end, enrolled_on) in rows:
        _let_others_run(n)
        member = stored_members.get(member_id)
        if member is None:
            if certno in holders:
                errors.append({"field": f"row {n}.certno",
                               "message": "this resident identity number is already registered to another member"})
                continue
            member = stored_members[member_id] = (union, certno)
            holders[certno] = member_id
            new_members.append((member_id, union, certno, name, gender, birth, now))
            created += 1
        elif member[0] != union:
            errors.append({"field": f"row {n}.member_id", "message": f"member {member_id} is registered with another union"})
            continue
        elif member[1] != certno:
            # A file must not re-point a registered member at another person's number.
            errors.append({"field": f"row {n}.certno", "message": f"not the resident identity number of member {member_id}"})
            continue
        stored = stored_enrollments.get(member_id, ())
        if (start, end, enrolled_on) in stored:
            unchanged += 1
            continue
        if any(s <= end and e >= start for s, e, _ in stored) or any(
            s <= end and e >= start for s, e in periods.get(member_id, ())
        ):
            errors.append({"field": f"row {n}.period_start", "message": "overlaps another enrollment of this member"})
            continue
        periods[member_id] = (*periods.get(member_id, ()), (start, end))
        new_enrollments.append((member_id, start, end, enrolled_on))
        enrolled += 1
    if errors:
        # Nothing of the file is kept: the unit of work rolls the transaction back.
        raise Invalid(f"{len(errors)} row(s) of the enrollment file are invalid; nothing was imported", errors)
    _insert_many(session, models.Member.__table__, _MEMBER_COLUMNS, new_members)
    _insert_many(session, models.Enrollment.__table__, _ENROLLMENT_COLUMNS, new_enrollments)
    contributions.record_many(session, _ids_of(session, new_enrollments), _league_of(session, union),
                              pause=_ledger_pause(session))
    audit.record(session, who, "enrollments.imported", "union", union,
                 members_created=created, enrollments_created=enrolled, enrollments_unchanged=unchanged)
    return ImportResult(members_created=created, enrollments_created=enrolled, enrollments_unchanged=unchanged)


def _ids_of(session: Session, enrollments: list[tuple]) -> list[tuple[int, str, dt.date]]:
    """(id, member id, period start) of enrollments just inserted in bulk (rows of ``_ENROLLMENT_COLUMNS``),
    read back a chunk of members at a time (a member and a period start name one enrollment)."""
    wanted = {(member_id, start) for member_id, start, _, _ in enrollments}
    found = []
    for chunk in _chunks(sorted({member_id for member_id, _ in wanted})):
        for eid, member_id, start in session.execute(
                select(models.Enrollment.id, models.Enrollment.member_id, models.Enrollment.period_start)
                .where(_among(session, models.Enrollment.member_id, chunk))):
            if (member_id, start) in wanted:
                found.append((eid, member_id, start))
    return sorted(found)


def _league_of(session: Session, union_id: str) -> str | None:
    return session.scalar(select(models.Union.league_id).where(models.Union.id == union_id))


def _valid_rows(reader: csv.DictReader, errors: list[dict[str, str]]) -> list[tuple]:
    """(row number, member id, certno, name, gender, birth date, (start, end, enrolled on))
    of each row that is valid on its own; the first error of every other row goes to ``errors``.
    """
    rows = []
    n = 1
    try:
        for n, row in enumerate(reader, start=2):
            _let_others_run(n)
            dates = {k: _file_date(row.get(k)) for k in _DATE_COLUMNS}
            bad = next((k for k in _DATE_COLUMNS if dates[k] is None), None)
            if bad is not None:
                errors.append({"field": f"row {n}.{bad}", "message": f"not a date ({_FILE_DATE_FORMS}): {row.get(bad)!r}"})
                continue
            # The days the API takes (service.schemas.Day): year 1 or 9999 would break the member's claims.
            outside = next(((k, p) for k in _DATE_COLUMNS if (p := _day_problem(check_service_day, dates[k]))), None)
            if outside is not None:
                errors.append({"field": f"row {n}.{outside[0]}", "message": outside[1]})
                continue
            member_id = (row.get("member_id") or "").strip()
            gender = (row.get("gender") or "").strip() or None
            birth_text = (row.get("birth_date") or "").strip()
            birth = _file_date(birth_text) if birth_text else None
            name = (row.get("name") or "").strip()
            if not member_id:
                errors.append({"field": f"row {n}.member_id", "message": "required"})
            elif not _MEMBER_ID.fullmatch(member_id):
                errors.append({"field": f"row {n}.member_id",
                               "message": "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit"})
            elif isinstance(certno := _certno(row.get("certno")), InvalidIdentity):
                errors.append({"field": f"row {n}.certno", "message": certno.message})
            elif len(name) > 100 or hidden_character(name):
                errors.append({"field": f"row {n}.name", "message": "at most 100 characters, no control or invisible ones"})
            elif gender not in (None, "F", "M"):
                errors.append({"field": f"row {n}.gender", "message": "F or M"})
            elif birth_text and birth is None:
                errors.append({"field": f"row {n}.birth_date", "message": f"not a date ({_FILE_DATE_FORMS}): {birth_text!r}"})
            elif birth is not None and (problem := _day_problem(check_birth_day, birth)):
                errors.append({"field": f"row {n}.birth_date", "message": problem})
            elif dates["period_end"] < dates["period_start"]:
                errors.append({"field": f"row {n}.period_end", "message": "before period_start"})
            else:
                rows.append((n, member_id, certno, name, gender, birth,
                             (dates["period_start"], dates["period_end"], dates["enrolled_on"])))
    except csv.Error as err:
        # The row after the last one read (an unclosed quote, a field past the csv module's limit).
        errors.append({"field": f"row {n + 1}", "message": f"not a CSV row: {err}"})
    return rows


def _stored_for(session: Session, rows: list[tuple]) -> tuple[
    dict[str, tuple[str, str | None]], dict[str, str], dict[str, tuple[tuple[dt.date, dt.date, dt.date], ...]]
]:
    """What is stored of the members the rows name, read in bulk: (union, certno) by member
    id, the holder of each row's certno, and each member's enrollments (start, end, enrolled_on)."""
    member_ids = sorted({r[1] for r in rows})
    certnos = sorted({r[2] for r in rows})
    members: dict[str, tuple[str, str | None]] = {}
    holders: dict[str, str] = {}
    enrollments: dict[str, tuple[tuple[dt.date, dt.date, dt.date], ...]] = {}
    for chunk in _chunks(member_ids):
        for mid, union, certno in session.execute(
                select(models.Member.id, models.Member.union_id, models.Member.certno)
                .where(_among(session, models.Member.id, chunk))):
            members[mid] = (union, certno)
        for mid, start, end, on in session.execute(
                select(models.Enrollment.member_id, models.Enrollment.period_start, models.Enrollment.period_end,
                       models.Enrollment.enrolled_on).where(_among(session, models.Enrollment.member_id, chunk))):
            enrollments[mid] = (*enrollments.get(mid, ()), (start, end, on))
    for chunk in _chunks(certnos):
        for certno, mid in session.execute(
                select(models.Member.certno, models.Member.id).where(_among(session, models.Member.certno, chunk))):
            holders[certno] = mid
    return members, holders, enrollments


def _among(session: Session, column, values: list[str]):
    """``column IN values``, the values sent as one parameter: a placeholder each costs
    more than the query (SQLAlchemy expands them; psycopg parses every one, and adapts
    an array element by element). PostgreSQL splits the values joined by commas (member
    ids and normalised resident identity numbers hold none), SQLite reads a JSON array."""
    if is_postgres(session):
        return column == any_(func.string_to_array(",".join(values), ","))
    return column.in_(select(func.json_each(json.dumps(values)).table_valued("value").c.value))


def _insert_many(session: Session, table, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Insert ``rows`` in bulk (``store.repositories.insert_many``), pausing for the worker's other requests."""
    insert_many(session, table, columns, rows, pause=_let_others_run, chunk=_PAUSE_EVERY)


def _certno(value: str | None) -> str | InvalidIdentity:
    """The resident identity number of a row, or why it is not one."""
    try:
        return parse_certno(value)
    except InvalidIdentity as err:
        return err


def _locked_member(session: Session, who: Principal, member_id: str,
                   hidden_as: NotFound | None = None) -> models.Member:
    """The member's row, locked until the transaction ends (members first: the documented lock order).

    A change that must see the member's other rows as they are (one active hardship
    registration, the claims an enrollment decides, a unique resident identity number)
    is made under this lock, so two such changes of one member run one after the other,
    and never beside a claim of the member being decided.
    """
    member = lock_members(session, [member_id]).get(member_id)
    if member is None:
        raise hidden_as or NotFound(f"no member {member_id}")
    who.require_member(member, hidden_as)
    return member


def correct_member(session: Session, who: Principal, member_id: str, data: MemberCorrection) -> models.Member:
    """Correct a typo in a member's name or resident identity number; the audit entry keeps both values."""
    who.require(Role.ADMIN, Role.OFFICER)
    member = _locked_member(session, who, member_id)
    asked = data.model_dump(include=data.model_fields_set)
    if not asked:
        raise Invalid.at("body", "send the name or the certno to correct")
    before = {k: getattr(member, k) for k in asked if getattr(member, k) != asked[k]}
    after = {k: asked[k] for k in before}
    if not before:
        return member  # nothing differs: nothing to correct, nothing to audit
    if "certno" in after and _holder_of(session, after["certno"]) not in (None, member.id):
        raise _certno_taken("certno")
    try:
        with session.begin_nested():
            for k, v in after.items():
                setattr(member, k, v)
            session.flush()
    except IntegrityError:
        raise _certno_taken("certno") from None  # registered by another request since we looked
    audit.record(session, who, "member.corrected", "member", member.id, before=before, after=after)
    return member


def correct_enrollment(session: Session, who: Principal, enrollment_id: int,
                       data: EnrollmentCorrection) -> models.Enrollment:
    """Correct an enrollment's end date, as long as no decided claim depends on it.

    The member's period totals (MA_IP's bands and caps) are kept under the period
    ``start..end`` itself, and a period that runs on into the next one makes the member
    a renewing member there. So once a claim has been decided for an admission in the
    period (or, when the change joins or parts the period from the next one, in any
    later period) the end can no longer move: the claim's totals would be left under a
    period that no longer exists and the caps would start again. That is 409, with the
    number of claims; the end changes freely until the first claim is decided.
    """
    who.require(Role.ADMIN, Role.OFFICER)
    hidden = NotFound(f"no enrollment {enrollment_id}")
    member_id = session.scalar(select(models.Enrollment.member_id).where(models.Enrollment.id == enrollment_id))
    if member_id is None:
        raise hidden
    _locked_member(session, who, member_id, hidden)
    enrollment = session.get(models.Enrollment, enrollment_id, options=[selectinload(models.Enrollment.contribution)])
    assert enrollment is not None  # enrollments are never deleted
    start, old_end, new_end = enrollment.period_start, enrollment.period_end, data.period_end
    if new_end < start:
        raise Invalid.at("period_end", f"is before the period's start {start}")
    if new_end == old_end:
        return enrollment
    others = list(session.scalars(select(models.Enrollment).where(
        models.Enrollment.member_id == member_id, models.Enrollment.id != enrollment.id)))
    clash = next((e for e in others if e.period_start <= new_end and e.period_end >= start), None)
    if clash is not None:
        raise Invalid.at("period_end", f"overlaps the enrollment {clash.period_start}..{clash.period_end} "
                                       "(periods never overlap)")
    day = dt.timedelta(days=1)
    chain_changes = any(e.period_start == old_end + day for e in others) != any(
        e.period_start == new_end + day for e in others)
    admitted = models.Settlement.begndate >= start
    if not chain_changes:
        admitted &= models.Settlement.begndate <= max(old_end, new_end)
    decided = session.scalar(
        select(func.count()).select_from(models.Claim)
        .join(models.Settlement, models.Settlement.id == models.Claim.settlement_id)
        .where(models.Claim.member_id == member_id, admitted)) or 0
    if decided:
        raise Conflict(f"the end of the enrollment {start}..{old_end} cannot move to {new_end}: {decided} claim(s) "
                       "of the member were decided under it (their totals are kept under this period); "
                       "enroll the member anew for the days after instead")
    enrollment.period_end = new_end
    session.flush()
    audit.record(session, who, "enrollment.corrected", "enrollment", enrollment.id, member_id=member_id,
                 before={"period_end": old_end}, after={"period_end": new_end})
    return enrollment


def register_hardship(session: Session, who: Principal, member_id: str, data: HardshipCreate) -> models.HardshipRegistration:
    """Enter a member on the hardship register: one active registration per member.

    A registration is active from ``registered_on`` until its ``revoked_on`` (open while
    not revoked); a new one may not begin while another is active, so a change of
    category is a revocation, then a registration from that day. The member's row is
    locked first, so two registrations sent at once cannot both pass the check.
    """
    who.require(Role.ADMIN, Role.OFFICER)
    if data.verified and data.verified_on is None:
        raise Invalid.at("verified_on", "required when verified is true")
    _check_verified_on(data.verified_on, data.registered_on)
    member = _locked_member(session, who, member_id)
    active = session.scalar(
        select(models.HardshipRegistration)
        .where(models.HardshipRegistration.member_id == member.id,
               or_(models.HardshipRegistration.revoked_on.is_(None),
                   models.HardshipRegistration.revoked_on > data.registered_on))
        .order_by(models.HardshipRegistration.id).limit(1))
    if active is not None:
        until = (f"revoke it first (a change of category is a revocation, then a registration)"
                 if active.revoked_on is None else f"it is revoked on {active.revoked_on}; register from that day on")
        raise Conflict(f"member {member.id} has an active hardship registration {active.id} "
                       f"({active.category}, registered on {active.registered_on}); {until}")
    reg = models.HardshipRegistration(
        member_id=member.id, category=HardshipCategory(data.category).value, registered_on=data.registered_on,
        verified=data.verified, verified_on=data.verified_on, note=data.note,
    )
    session.add(reg)
    session.flush()
    audit.record(session, who, "hardship.registered", "hardship", reg.id, member_id=member.id,
                 category=reg.category, registered_on=data.registered_on, verified=data.verified)
    return reg


def _check_verified_on(verified_on: dt.date | None, registered_on: dt.date) -> None:
    # A home visit verifies a household already on the register, never before it.
    if verified_on is not None and verified_on < registered_on:
        raise Invalid.at("verified_on", f"is before the registration date {registered_on}")


def _registration(session: Session, who: Principal, registration_id: int) -> models.HardshipRegistration:
    hidden = NotFound(f"no hardship registration {registration_id}")
    reg = session.get(models.HardshipRegistration, registration_id)
    if reg is None:
        raise hidden
    member = session.get(models.Member, reg.member_id)
    assert member is not None
    who.require_member(member, hidden)
    return reg


def verify_hardship(session: Session, who: Principal, registration_id: int, data: HardshipVerify) -> models.HardshipRegistration:
    who.require(Role.ADMIN, Role.OFFICER)
    reg = _registration(session, who, registration_id)
    if reg.revoked_on is not None:
        raise Conflict(f"hardship registration {reg.id} was revoked on {reg.revoked_on}")
    _check_verified_on(data.verified_on, reg.registered_on)
    reg.verified, reg.verified_on = True, data.verified_on
    if data.note:
        reg.note = data.note
    session.flush()
    audit.record(session, who, "hardship.verified", "hardship", reg.id, verified_on=data.verified_on, note=data.note)
    return reg


def revoke_hardship(session: Session, who: Principal, registration_id: int, data: HardshipRevoke) -> models.HardshipRegistration:
    who.require(Role.ADMIN, Role.OFFICER)
    reg = _registration(session, who, registration_id)
    if reg.revoked_on is not None:
        raise Conflict(f"hardship registration {reg.id} was already revoked on {reg.revoked_on}")
    if data.revoked_on < reg.registered_on:
        raise Invalid.at("revoked_on", f"before the registration date {reg.registered_on}")
    reg.revoked_on = data.revoked_on
    if data.note:
        reg.note = data.note
    session.flush()
    audit.record(session, who, "hardship.revoked", "hardship", reg.id, revoked_on=data.revoked_on, note=data.note)
    return reg


def list_hardship(
    session: Session, who: Principal, *, union_id: str | None, category: HardshipCategory | None,
    verified: bool | None, active_on: dt.date | None, member_id: str | None, page: int, page_size: int,
) -> tuple[list[models.HardshipRegistration], int, dict[HardshipCategory, HardshipCounts]]:
    """A page of the hardship register (an officer's union; an administrator's all, or a union's),
    and counts by category over everything the filters select."""
    who.require(Role.ADMIN, Role.OFFICER)
    reg = models.HardshipRegistration
    conditions = []
    if who.role is Role.OFFICER:  # an officer's filter never widens their view
        conditions.append(reg.member_id.in_(select(models.Member.id).where(who.union_scope(models.Member.union_id))))
    if union_id:
        conditions.append(reg.member_id.in_(select(models.Member.id).where(models.Member.union_id == union_id)))
    if category is not None:
        conditions.append(reg.category == category.value)
    if verified is not None:
        conditions.append(reg.verified.is_(verified))
    if active_on is not None:
        conditions += [reg.registered_on <= active_on, or_(reg.revoked_on.is_(None), reg.revoked_on > active_on)]
    if member_id:
        conditions.append(reg.member_id == member_id)
    rows, total = paginate(session, select(reg).where(*conditions), reg.id, page, page_size)
    counts = dict.fromkeys(HardshipCategory, HardshipCounts(registrations=0, verified=0))
    for name, n, n_verified in session.execute(
        select(reg.category, func.count(), func.sum(case((reg.verified.is_(True), 1), else_=0)))
        .where(*conditions).group_by(reg.category)
    ):
        counts[HardshipCategory(name)] = HardshipCounts(registrations=n, verified=n_verified or 0)
    return rows, total, counts
