"""When a claim arrived: the service dates it (today in China); only an officer records an earlier date.

domain.md, "Who a bill belongs to, and when a claim arrived": a member cannot backdate
a claim past its deadline; an officer may record the day a paper claim reached the
union office, with a note, never before the discharge nor in the future, and audited.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from claims import dates
from claims.dates import china_today
from store import models
from tests.api.builders import (
    PAPER_NOTE,
    SUBMITTED,
    YEAR,
    auth,
    codes,
    enroll,
    line,
    post_settlement,
    received_on,
    submit_claim,
)

DISCHARGED = f"{YEAR}-05-12"  # the builders' settlements: 2 to 12 May of YEAR


def stored(session: Session) -> tuple[int, int, int]:
    """Claims, audit entries and accumulator rows: what a refused claim must not add to."""
    return tuple(session.scalar(select(func.count()).select_from(m))
                 for m in (models.Claim, models.AuditEntry, models.Accumulator))  # type: ignore[return-value]


def problem_fields(answer) -> list[str]:
    assert answer.headers["content-type"] == "application/problem+json", answer.text
    return [e["field"] for e in answer.json()["errors"]]


def adjudicated_entry(session: Session, claim_id: int) -> models.AuditEntry:
    return session.scalars(select(models.AuditEntry).where(
        models.AuditEntry.action == "claim.adjudicated", models.AuditEntry.entity_id == str(claim_id))).one()


@pytest.fixture
def frozen_today(monkeypatch):
    """Freeze the service's clock at an instant; returns China's date then."""
    def freeze(instant: dt.datetime) -> dt.date:
        monkeypatch.setattr("service.claims.china_today", lambda: dates.china_today(instant))
        return dates.china_today(instant)
    return freeze


# ----------------------------------------------------------------------------- members


@pytest.mark.parametrize(("extra", "field"), [
    ({"submitted_on": SUBMITTED}, "submitted_on"),
    (received_on(), "submitted_on"),
    ({"note": PAPER_NOTE}, "note"),  # a note explains a date; alone it explains nothing
])
def test_a_member_cannot_give_the_date_a_claim_was_received(client, cast, session, extra, field) -> None:
    posted = post_settlement(client, cast.hospital)
    before = stored(session)

    answer = client.post("/v1/claims", json={"member_id": "M1", "settlement_id": posted["id"], **extra},
                         headers=auth(cast.member))

    assert answer.status_code == 422, answer.text
    assert problem_fields(answer) == [field]
    assert stored(session) == before


def test_a_member_s_claim_is_dated_today_in_china(client, cast, session) -> None:
    posted = post_settlement(client, cast.hospital)
    first_day = china_today()
    claim = submit_claim(client, cast.member, "M1", posted["id"], submitted_on=None)
    last_day = china_today()  # the suite may cross midnight in China during the request

    assert claim["submitted_on"] in {first_day.isoformat(), last_day.isoformat()}
    assert claim["receipt_note"] == ""
    assert "receipt" not in adjudicated_entry(session, claim["id"]).details  # the service's own date needs no receipt


def test_the_service_dates_a_claim_by_china_s_calendar_not_utc_s(client, cast, frozen_today) -> None:
    """At 16:30 UTC on New Year's Eve it is already 1 January in China."""
    new_year = frozen_today(dt.datetime(YEAR, 12, 31, 16, 30, tzinfo=dt.timezone.utc))
    assert new_year == dt.date(YEAR + 1, 1, 1)

    claim = submit_claim(client, cast.member, "M1", post_settlement(client, cast.hospital)["id"], submitted_on=None)
    recorded = submit_claim(client, cast.officer, "M2", post_settlement(client, cast.hospital, patient="M2")["id"],
                            submitted_on=new_year.isoformat())  # not in the future, though UTC is still in YEAR

    assert claim["submitted_on"] == recorded["submitted_on"] == new_year.isoformat()


def test_a_member_can_no_longer_backdate_a_late_claim_but_an_officer_records_the_paper_one(
    client, cast, frozen_today
) -> None:
    """1 June of the next year is past the period's end + 90 days: the member's claim is late
    for the mutual-aid lines; the same paper claim that reached the union in June of YEAR is not."""
    frozen_today(dt.datetime(YEAR + 1, 6, 1, 4, 0, tzinfo=dt.timezone.utc))

    late = submit_claim(client, cast.member, "M1", post_settlement(client, cast.hospital)["id"], submitted_on=None)
    paper = submit_claim(client, cast.officer, "M2", post_settlement(client, cast.hospital, patient="M2")["id"])

    assert late["submitted_on"] == f"{YEAR + 1}-06-01"
    assert [(line(late, b)["status"], codes(line(late, b))) for b in ("MA_IP", "MA_DA")] == [
        ("denied", ["LATE_SUBMISSION"])] * 2
    assert (paper["submitted_on"], paper["status"], line(paper, "MA_IP")["amount"]) == (SUBMITTED, "approved", "400.00")


def test_a_member_s_claim_on_a_recent_bill_is_on_time(client, cast) -> None:
    """A stay that ended today (in China), in a period the member is enrolled in, is not late."""
    today = china_today()
    enroll(client, cast.officer, "M1", today.year)  # YEAR and YEAR - 1 are already there
    posted = post_settlement(client, cast.hospital, begndate=(today - dt.timedelta(days=3)).isoformat(),
                             enddate=today.isoformat())

    claim = submit_claim(client, cast.member, "M1", posted["id"], submitted_on=None)

    assert (line(claim, "MA_IP")["status"], line(claim, "MA_IP")["amount"], codes(line(claim, "MA_IP"))) == (
        "approved", "400.00", [])


# ----------------------------------------------------------------------------- officers


@pytest.mark.parametrize(("extra", "field"), [
    ({"submitted_on": SUBMITTED}, "note"),
    ({"submitted_on": SUBMITTED, "note": "   "}, "note"),
    ({"submitted_on": SUBMITTED, "note": ""}, "note"),
    ({"submitted_on": SUBMITTED, "note": "纸" * 2001}, "note"),
    (received_on(f"{YEAR}-05-11"), "submitted_on"),  # the day before the discharge
    (received_on("2999-01-01"), "submitted_on"),
])
def test_an_officer_s_earlier_date_needs_a_note_and_lies_between_discharge_and_today(
    client, cast, session, extra, field
) -> None:
    posted = post_settlement(client, cast.hospital)
    before = stored(session)

    answer = client.post("/v1/claims", json={"member_id": "M1", "settlement_id": posted["id"], **extra},
                         headers=auth(cast.officer))

    assert answer.status_code == 422, answer.text
    assert problem_fields(answer) == [field]
    assert stored(session) == before


def test_an_officer_cannot_record_tomorrow_in_china(client, cast, session) -> None:
    posted = post_settlement(client, cast.hospital)
    before = stored(session)
    tomorrow = china_today() + dt.timedelta(days=1)

    answer = client.post("/v1/claims", json={"member_id": "M1", "settlement_id": posted["id"],
                                             **received_on(tomorrow.isoformat())}, headers=auth(cast.admin))

    assert answer.status_code == 422, answer.text
    assert problem_fields(answer) == ["submitted_on"]
    assert stored(session) == before


def test_an_officer_records_a_paper_claim_s_date_with_its_note_shown_stored_and_audited(client, cast, session) -> None:
    posted = post_settlement(client, cast.hospital)

    on_discharge = submit_claim(client, cast.officer, "M1", posted["id"], submitted_on=DISCHARGED)

    assert (on_discharge["submitted_on"], on_discharge["receipt_note"]) == (DISCHARGED, PAPER_NOTE)
    assert client.get(f"/v1/claims/{on_discharge['id']}", headers=auth(cast.member)).json() == on_discharge
    assert session.get(models.Claim, on_discharge["id"]).receipt_note == PAPER_NOTE
    entry = adjudicated_entry(session, on_discharge["id"])
    assert entry.details["receipt"] == {"submitted_on": DISCHARGED, "note": PAPER_NOTE, "recorded_by_officer": True}
    assert "(officer)" in entry.actor


# ----------------------------------------------------------------------------- batches


@pytest.mark.parametrize(("who", "item", "field"), [
    ("member", {"submitted_on": SUBMITTED}, "claims[1].submitted_on"),
    ("officer", {"submitted_on": SUBMITTED}, "claims[1].note"),
    ("officer", received_on("2999-01-01"), "claims[1].submitted_on"),
    ("officer", received_on(f"{YEAR}-05-01"), "claims[1].submitted_on"),
])
def test_a_batch_with_a_refused_receipt_date_names_the_item_and_stores_nothing(
    client, cast, session, who, item, field
) -> None:
    ids = [post_settlement(client, cast.hospital)["id"] for _ in range(2)]
    before = stored(session)
    first = {} if who == "member" else received_on()

    answer = client.post("/v1/claims/batch", headers=auth(getattr(cast, who)), json={"claims": [
        {"member_id": "M1", "settlement_id": ids[0], **first}, {"member_id": "M1", "settlement_id": ids[1], **item}]})

    assert answer.status_code == 422, answer.text
    assert problem_fields(answer) == [field]
    assert stored(session) == before


def test_a_batch_mixes_paper_claims_with_their_dates_and_claims_dated_today(client, cast, session) -> None:
    ids = [post_settlement(client, cast.hospital, patient=m)["id"] for m in ("M1", "M2")]
    first_day = china_today()

    answer = client.post("/v1/claims/batch", headers=auth(cast.officer), json={"claims": [
        {"member_id": "M1", "settlement_id": ids[0], **received_on()}, {"member_id": "M2", "settlement_id": ids[1]}]})

    assert answer.status_code == 201, answer.text
    paper, today = answer.json()["claims"]
    assert (paper["submitted_on"], paper["receipt_note"]) == (SUBMITTED, PAPER_NOTE)
    assert today["submitted_on"] in {first_day.isoformat(), china_today().isoformat()} and today["receipt_note"] == ""
    assert adjudicated_entry(session, paper["id"]).details["receipt"]["note"] == PAPER_NOTE
    assert "receipt" not in adjudicated_entry(session, today["id"]).details
