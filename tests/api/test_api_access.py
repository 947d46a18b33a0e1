"""Access: every route of the app, called by every kind of caller, answers as the roles say.

The matrix below has one row per route (method and path, as the app declares it) and
one column per caller:

    admin            the administrator
    officer          an officer of U1, the union of the member M1 every row acts on
    officer_league   an officer of L1, the league above U1 (M1 is theirs)
    officer_region   an officer of R, the region above everything (M1 is theirs)
    officer_other    an officer of U2 (under C2, under L2): M1 is not theirs
    officer_county   an officer of C2, the county above U2: M1 is not theirs
    finance          a finance officer of R: reads M1's record and claims, never acts
    finance_league   a finance officer of L1: the same
    finance_other    a finance officer of L2: M1 is not theirs
    hospital         H1, the hospital that posted the settlement every row acts on
    hospital_other   H2
    member           M1 themself
    member_other     M2, a colleague of M1 in U1
    finance          a finance officer of the region R (U1 and U2 are in their tree)
    finance_other    a finance officer of the league L2 (U2's; not U1's)
    no_key           no Authorization header
    bad_key          a well-formed key the service never issued

Rows name callers through the groups below (``OFFICERS``: those whose subtree holds M1,
``OFFICERS_ELSEWHERE``: those whose subtree does not, and likewise ``FINANCE`` and
``FINANCE_ELSEWHERE``), so a row says once what a role may do and every level of the
union tree is checked against it. A new route adds one row; a new caller, one column
here and its place in a group.

The route list comes from ``app.routes``: a route added without a row here, or a row
left for a route that is gone, fails ``test_the_access_matrix_has_a_row_for_every_route``.
Each row says how to make a fresh request (a new settlement to claim, a new pended
claim to review...), so every allowed caller succeeds on its own and every refused
caller is refused by its role or scope, not by the state of the data. A refused call
must also leave no trace in the audit log.

A caller whose role never uses a route gets 403; a caller whose role may use it but
who asks about someone else's member, claim, registration or enrollment (``hidden``)
gets 404. Either way, on a route that names a resource, the answer must be exactly
(status and body, but for ``instance``) the answer to the same request naming ids that
do not exist: a refusal never tells a caller that something exists outside their scope.
"""

from __future__ import annotations

import datetime as dt

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from service import audit
from service.audit import Anchoring
from service.auth import SignInLimiter
from store import models
from tests.api.conftest import Cast
from tests.builders import certno_for
from tests.api.builders import HIGH_B, YEAR, auth, claim_for, enrollment, post_settlement, register_hardship, settlement

CALLERS = ("admin", "officer", "officer_league", "officer_region", "officer_other", "officer_county",
           "finance", "finance_league", "finance_other", "hospital", "hospital_other", "member", "member_other",
           "no_key", "bad_key")
KEYED = CALLERS[:-2]  # every caller with a key of the cast
BAD_KEY = "ck_0123456789ab_this-key-was-never-issued-by-the-service-000000"



def enrollment_slot(n: int) -> dt.date:
    """The first day of the n-th two-day slot from 2040 on: M1's enrollments made by the rows never
    overlap, touch no claim, and stay within the days the service records (to 2100-12-31)."""
    return dt.date(2040, 1, 1) + dt.timedelta(days=2 * n)


def far_day(n: int) -> str:
    """The n-th day from 2090 on: a plan in force from far ahead touches no claim here, and stays
    within the days the service records (to 2100-12-31)."""
    return (dt.date(2090, 1, 1) + dt.timedelta(days=n)).isoformat()

@dataclass
class World:
    """What the rows act on, made once per matrix walk; ``fresh`` numbers new things."""

    client: TestClient
    admin: str
    settlement_id: int
    claim_id: int
    plan_id: int  # the published default
    document: dict[str, Any]  # its rule document
    draft_id: int = 0  # a draft that stays a draft (PUT keeps it one)
    job_id: int = 0
    finance_checker: str = ""  # the maker of the payment runs the rows approve (never a caller here)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))
    made: dict[str, Any] = field(default_factory=dict)  # payment runs made once and read by several rows

    def fresh(self) -> int:
        return next(self.counter)

    def draft(self) -> int:
        answer = self.client.post("/v1/plans", json=self.document, headers=auth(self.admin))
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def member(self) -> str:
        """A new member of U1 (the officer's union), with no hardship registration yet."""
        member_id = f"M{200 + self.fresh()}"
        answer = self.client.post("/v1/members", json={"id": member_id, "union_id": "U1", "certno": certno_for(member_id)},
                                  headers=auth(self.admin))
        assert answer.status_code == 201, answer.text
        return member_id

    def enrollment(self) -> int:
        """A new enrollment of M1 under which no claim was decided (so its end may move)."""
        start = enrollment_slot(self.fresh())
        answer = self.client.post("/v1/members/M1/enrollments", headers=auth(self.admin), json={
            "period_start": start.isoformat(), "period_end": start.isoformat(),
            "enrolled_on": (start - dt.timedelta(days=30)).isoformat()})
        assert answer.status_code == 201, answer.text
        self.made[f"enrollment {answer.json()['id']}"] = start
        return answer.json()["id"]

    def longer_enrollment(self) -> dict[str, Any]:
        """A new enrollment of M1 and its end moved a day on, within its slot."""
        enrollment_id = self.enrollment()
        end = self.made[f"enrollment {enrollment_id}"] + dt.timedelta(days=1)
        return {"path": {"enrollment_id": enrollment_id}, "json": {"period_end": end.isoformat()}}

    def member_key(self) -> int:
        answer = self.client.post("/v1/keys", json={"role": "member", "member_id": "M1"}, headers=auth(self.admin))
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def payee(self) -> str:
        """A new member of U1 with a payee account and an approved claim (M1's caps run out over the rows)."""
        member_id = self.member()
        for year in (YEAR - 1, YEAR):
            answer = self.client.post(f"/v1/members/{member_id}/enrollments", json=enrollment(year), headers=auth(self.admin))
            assert answer.status_code == 201, answer.text
        answer = self.client.put(f"/v1/members/{member_id}/payee-account", headers=auth(self.admin),
                                 json={"holder_name": "李明", "bank_name": "工行", "account_no": "6222021234567890123"})
        assert answer.status_code == 200, answer.text
        claim_for(self.client, self.admin, member_id)
        return member_id

    def payment_run(self) -> int:
        """A fresh draft run over the region, made by finance_checker, paying a new member's claim."""
        self.payee()
        answer = self.client.post("/v1/payment-runs", json={"union_id": "R"}, headers=auth(self.finance_checker))
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def run_at(self, stage: str) -> int:
        """One run per stage (draft, approved, exported, paid), made on first use."""
        if stage not in self.made:
            run_id = self.payment_run()
            if stage != "draft":
                answer = self.client.post(f"/v1/payment-runs/{run_id}/approve", headers=auth(self.admin))
                assert answer.status_code == 200, answer.text
            if stage in ("exported", "paid"):
                assert self.client.get(f"/v1/payment-runs/{run_id}/bank-file", headers=auth(self.admin)).status_code == 200
                items = self.client.get(f"/v1/payment-runs/{run_id}", headers=auth(self.admin)).json()["payment_items"]
                self.made["return_file"] = ("reference,status,reason,bank_ref,date\r\n" + "".join(
                    f"{i['id']},paid,,BK{i['id']},{YEAR}-12-30\r\n" for i in items)).encode()
                self.made["item"] = next((i["id"] for i in items if i["member_id"] == "M1"), None)
            if stage == "paid":
                self.made["paid_item"] = self.made["item"]
                answer = self.client.post(f"/v1/payment-runs/{run_id}/returns", content=self.made["return_file"],
                                          headers={**auth(self.admin), "Content-Type": "text/csv"})
                assert answer.status_code == 200, answer.text
            self.made[stage] = run_id
        return self.made[stage]

    def paid_item(self) -> int:
        """M1's item of the paid run (made when the world is)."""
        return self.made["paid_item"]

    def allocation(self) -> int:
        answer = self.client.post("/v1/funds/allocations", headers=auth(self.admin), json={
            "source": "league", "year": YEAR, "league_id": "L1", "amount": "1.00", "reference": f"A-{self.fresh()}",
            "received_on": f"{YEAR}-01-15"})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def published(self) -> int:
        plan_id = self.draft()
        answer = self.client.post(f"/v1/plans/{plan_id}/publish", headers=auth(self.admin),
                                  json={"effective_from": far_day(self.fresh())})
        assert answer.status_code == 200, answer.text
        return plan_id


@dataclass(frozen=True)
class Row:
    """How to call one route afresh, and the status each caller gets."""

    request: Callable[[World], dict[str, Any]]
    allowed: dict[str, int]  # caller -> success status; everyone else with a key gets ``refused``
    public: bool = False  # no key needed: everyone gets the allowed status
    refused: int = 403  # 404 where a refusal must not reveal that the thing exists
    hidden: tuple[str, ...] = ()  # callers of a role that uses the route, asking about what is not theirs: 404
    # The same request naming resources that do not exist, and what to put back in its
    # answer to compare (missing id -> real id); by default, every path parameter.
    missing: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, str]]] | None = None

    def expected(self, caller: str) -> int:
        if self.public:
            return next(iter(self.allowed.values()))
        if caller in ("no_key", "bad_key"):
            return 401
        if caller in self.hidden:
            return 404
        return self.allowed.get(caller, self.refused)

    def without_resources(self, spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]] | None:
        if self.missing is not None:
            return self.missing(spec)
        if not spec.get("path"):
            return None
        path, back = {}, {}
        for n, (name, value) in enumerate(sorted(spec["path"].items())):
            path[name] = 2**31 - 1 - n if isinstance(value, int) else f"NO-SUCH-ID-{n}"
            back[str(path[name])] = str(value)
        return {**spec, "path": path}, back


def everyone(status: int = 200) -> dict[str, int]:
    return {c: status for c in KEYED}


def only(status: int, *callers: str) -> dict[str, int]:
    return {c: status for c in callers}


def _claimable(w: World) -> dict:
    posted = post_settlement(w.client, w.admin)
    # No receipt date: the member's key may not give one (the service dates the claim).
    return {"json": {"member_id": "M1", "settlement_id": posted["id"]}}


def _settled(w: World) -> dict:
    """A settlement of M1 at H1 settled at the desk, to cancel."""
    answer = w.client.post("/v1/settlements/direct", json=settlement(fixmedins_code="H1"), headers=auth(w.admin))
    assert answer.status_code == 201, answer.text
    return {"path": {"settlement_id": answer.json()["settlement_id"]}, "json": {"reason": "收费员录入错误"}}


def _pended(w: World) -> dict:
    claim = claim_for(w.client, w.admin, "M1", b=HIGH_B)
    return {"path": {"claim_id": claim["id"]},
            "json": {"lines": [{"benefit": "MA_IP", "action": "approve", "note": "核实无误"}]}}


def _registration(w: World) -> int:
    # A fresh member each time: a member holds one active registration at a time.
    return register_hardship(w.client, w.admin, w.member(), verified=False)["id"]


def _another_member(spec: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The claim(s) of the request made for a member id that does not exist."""
    body = spec["json"]
    if "claims" in body:
        body = {"claims": [{**c, "member_id": "NO-SUCH-MEMBER"} for c in body["claims"]]}
    else:
        body = {**body, "member_id": "NO-SUCH-MEMBER"}
    return {**spec, "json": body}, {"NO-SUCH-MEMBER": "M1"}


# The callers by what M1 (a member of U1, under L1, under R) is to them.
OFFICERS = ("officer", "officer_league", "officer_region")  # officers of U1 and of the unions above it
OFFICERS_ELSEWHERE = ("officer_other", "officer_county")  # officers of U2 and of C2 above it
FINANCE = ("finance", "finance_league")  # finance officers of R and of L1: read M1's record and claims
FINANCE_ELSEWHERE = ("finance_other",)  # a finance officer of L2
OTHERS = (*OFFICERS_ELSEWHERE, "member_other")  # of the roles that act for members, those not acting for M1
READERS_ELSEWHERE = (*OTHERS, *FINANCE_ELSEWHERE)  # of the roles that read members, those not reading M1
# Every union-scoped caller: each lists what is within their own subtree.
UNION_SCOPED = (*OFFICERS, *OFFICERS_ELSEWHERE, *FINANCE, *FINANCE_ELSEWHERE)


MATRIX: dict[tuple[str, str], Row] = {
    # The hospital API
    ("POST", "/v1/settlements"): Row(lambda w: {"json": settlement(fixmedins_code="H1")},
                                     only(201, "admin", "hospital")),
    ("GET", "/v1/settlements"): Row(lambda w: {}, only(200, "admin", "hospital", "hospital_other")),
    # A settlement holds diagnoses: read by its hospital, its patient (M1, by certno) and
    # the officers of the patient's union, whether claimed or not (this one is not); to
    # anyone else it is an id never posted (404, so other people's bill ids are not revealed).
    ("GET", "/v1/settlements/{settlement_id}"): Row(lambda w: {"path": {"settlement_id": w.settlement_id}},
                                                    only(200, "admin", "hospital", *OFFICERS, "member"), refused=404),
    # The hospital desk. A preview and a direct settlement act for the hospital the bill
    # names (H1); H2 is refused as any key acting for another hospital (403).
    ("POST", "/v1/settlements/preview"): Row(lambda w: {"json": settlement(fixmedins_code="H1")},
                                             only(200, "admin", "hospital")),
    ("POST", "/v1/settlements/direct"): Row(lambda w: {"json": settlement(fixmedins_code="H1")},
                                            only(201, "admin", "hospital")),
    # Cancelled by the hospital that posted it, the patient's officers, administrators; a
    # settlement of another hospital or of a member outside the officer's union is unknown.
    ("POST", "/v1/settlements/{settlement_id}/cancel"): Row(
        _settled, only(200, "admin", "hospital", *OFFICERS), hidden=("hospital_other", *OFFICERS_ELSEWHERE)),
    ("GET", "/v1/settlements/{settlement_id}/decision"): Row(lambda w: {"path": {"settlement_id": w.settlement_id}},
                                                             only(200, "admin", "hospital"), hidden=("hospital_other",)),
    # Each reads its own day: a hospital its bills, an officer or finance officer their subtree's members'.
    ("GET", "/v1/reconciliation"): Row(lambda w: {"params": {"date": f"{YEAR}-05-12"}},
                                       only(200, "admin", *UNION_SCOPED, "hospital", "hospital_other")),
    ("POST", "/v1/reconciliation"): Row(lambda w: {"json": {"date": f"{YEAR}-05-12", "hospital": "H1", "settlements": []}},
                                        only(200, "admin", "hospital")),
    # Claims and review
    ("POST", "/v1/claims"): Row(_claimable, only(201, "admin", *OFFICERS, "member"), hidden=OTHERS,
                                missing=_another_member),
    ("POST", "/v1/claims/batch"): Row(lambda w: {"json": {"claims": [_claimable(w)["json"], _claimable(w)["json"]]}},
                                      only(201, "admin", *OFFICERS, "member"), hidden=OTHERS, missing=_another_member),
    # Claims are read within each caller's scope (a member their own, an officer or a
    # finance officer their subtree's); finance reads, never submits nor reviews (403).
    ("GET", "/v1/claims"): Row(lambda w: {}, only(200, "admin", *UNION_SCOPED, "member", "member_other")),
    ("GET", "/v1/claims/{claim_id}"): Row(lambda w: {"path": {"claim_id": w.claim_id}},
                                          only(200, "admin", *OFFICERS, *FINANCE, "member"), hidden=READERS_ELSEWHERE),
    # Adjustments change what a claim pays: read like claims.
    ("GET", "/v1/adjustments"): Row(lambda w: {}, only(200, "admin", *UNION_SCOPED, "member", "member_other")),
    ("GET", "/v1/review-queue"): Row(lambda w: {}, only(200, "admin", *OFFICERS, *OFFICERS_ELSEWHERE)),
    ("POST", "/v1/claims/{claim_id}/review"): Row(_pended, only(200, "admin", *OFFICERS), hidden=OFFICERS_ELSEWHERE),
    # The registry
    ("POST", "/v1/unions"): Row(lambda w: {"json": {"id": f"U{100 + w.fresh()}", "name": "新工会"}}, only(201, "admin")),
    ("GET", "/v1/unions"): Row(lambda w: {}, only(200, "admin", *OFFICERS, *OFFICERS_ELSEWHERE)),
    ("GET", "/v1/unions/{union_id}"): Row(lambda w: {"path": {"union_id": "U1"}}, only(200, "admin", *OFFICERS),
                                          refused=404),
    ("POST", "/v1/hospitals"): Row(lambda w: {"json": {"code": f"H{100 + w.fresh()}", "name": "新医院", "grade": "03"}},
                                   only(201, "admin")),
    ("GET", "/v1/hospitals"): Row(lambda w: {}, everyone()),
    ("GET", "/v1/hospitals/{code}"): Row(lambda w: {"path": {"code": "H1"}}, everyone()),
    ("POST", "/v1/members"): Row(lambda w: {"json": {"id": (m := f"M{100 + w.fresh()}"), "union_id": "U1",
                                                     "certno": certno_for(m)}},
                                 only(201, "admin", *OFFICERS)),
    ("GET", "/v1/members"): Row(lambda w: {}, only(200, "admin", *UNION_SCOPED)),
    ("GET", "/v1/members/{member_id}"): Row(lambda w: {"path": {"member_id": "M1"}},
                                            only(200, "admin", *OFFICERS, *FINANCE, "member"), hidden=READERS_ELSEWHERE),
    ("GET", "/v1/members/{member_id}/benefits"): Row(
        lambda w: {"path": {"member_id": "M1"}, "params": {"on": f"{YEAR}-06-01"}},
        only(200, "admin", *OFFICERS, *FINANCE, "member"), hidden=READERS_ELSEWHERE),
    ("PATCH", "/v1/members/{member_id}"): Row(lambda w: {"path": {"member_id": "M1"}, "json": {"name": f"王{w.fresh()}"}},
                                              only(200, "admin", *OFFICERS), hidden=OFFICERS_ELSEWHERE),
    ("POST", "/v1/members/{member_id}/enrollments"): Row(
        lambda w: {"path": {"member_id": "M1"}, "json": (lambda start: {
            "period_start": start.isoformat(), "period_end": (start + dt.timedelta(days=1)).isoformat(),
            "enrolled_on": (start - dt.timedelta(days=30)).isoformat()})(enrollment_slot(w.fresh()))},
        only(201, "admin", *OFFICERS),
        hidden=OFFICERS_ELSEWHERE),
    ("PATCH", "/v1/enrollments/{enrollment_id}"): Row(
        lambda w: w.longer_enrollment(),
        only(200, "admin", *OFFICERS), hidden=OFFICERS_ELSEWHERE),
    ("POST", "/v1/enrollments/import"): Row(
        lambda w: {"params": {"union_id": "U1"}, "headers": {"content-type": "text/csv"},
                   "content": f"member_id,certno,name,period_start,period_end,enrolled_on\n"
                              f"{(m := f'M{100 + w.fresh()}')},{certno_for(m)},新会员,{YEAR}-01-01,{YEAR}-12-31,"
                              f"{YEAR - 1}-12-01\n"},
        only(200, "admin", *OFFICERS)),
    ("POST", "/v1/members/{member_id}/hardship"): Row(
        lambda w: {"path": {"member_id": w.member()}, "json": {"category": "dibao", "registered_on": f"{YEAR}-01-01"}},
        only(201, "admin", *OFFICERS), hidden=OFFICERS_ELSEWHERE),
    ("GET", "/v1/hardship"): Row(lambda w: {}, only(200, "admin", *OFFICERS, *OFFICERS_ELSEWHERE)),
    ("POST", "/v1/hardship/{registration_id}/verify"): Row(
        lambda w: {"path": {"registration_id": _registration(w)}, "json": {"verified_on": f"{YEAR}-02-01"}},
        only(200, "admin", *OFFICERS), hidden=OFFICERS_ELSEWHERE),
    ("POST", "/v1/hardship/{registration_id}/revoke"): Row(
        lambda w: {"path": {"registration_id": _registration(w)}, "json": {"revoked_on": f"{YEAR}-02-01"}},
        only(200, "admin", *OFFICERS), hidden=OFFICERS_ELSEWHERE),
    # Keys: an officer issues, lists and revokes member keys of their own union's members;
    # to the other union's officer M1 and M1's keys are unknown (404, as if they did not exist).
    ("POST", "/v1/keys"): Row(lambda w: {"json": {"role": "member", "member_id": "M1"}},
                              only(201, "admin", *OFFICERS), hidden=OFFICERS_ELSEWHERE, missing=_another_member),
    ("GET", "/v1/keys"): Row(lambda w: {}, only(200, "admin", *OFFICERS, *OFFICERS_ELSEWHERE)),
    ("DELETE", "/v1/keys/{key_id}"): Row(lambda w: {"path": {"key_id": w.member_key()}},
                                         only(204, "admin", *OFFICERS), hidden=OFFICERS_ELSEWHERE),
    ("GET", "/v1/audit/anchor"): Row(lambda w: {}, only(200, "admin")),
    # Finance: each finance officer their own scope (tests/api/test_api_ledger.py checks what each sees)
    ("GET", "/v1/funds/statements"): Row(lambda w: {"params": {"year": YEAR}}, only(200, "admin", *FINANCE, "finance_other")),
    # Reports: an officer (or finance officer) reads their union's subtree; another union is unknown (404).
    ("GET", "/v1/reports/federation"): Row(
        lambda w: {"params": {"union": "U1", "year": YEAR}}, only(200, "admin", *OFFICERS, *FINANCE), hidden=(*OFFICERS_ELSEWHERE, "finance_other"),
        missing=lambda spec: ({**spec, "params": {**spec["params"], "union": "NO-SUCH-UNION"}},
                              {"NO-SUCH-UNION": "U1"})),
    ("GET", "/v1/reports/assets/{name}"): Row(lambda w: {"path": {"name": "chart.umd.js"}}, everyone(), public=True),
    # Funds: finance officers and administrators (finance scopes: tests/api/test_api_funds.py).
    ("POST", "/v1/funds/allocations"): Row(
        lambda w: {"json": {"source": "central", "year": YEAR, "amount": "100.00", "reference": f"拨款-{w.fresh()}",
                            "received_on": f"{YEAR}-01-15"}}, only(201, "admin", "finance")),
    ("GET", "/v1/funds/allocations"): Row(lambda w: {}, only(200, "admin", *FINANCE, "finance_other")),
    ("GET", "/v1/funds/allocations/{allocation_id}"): Row(lambda w: {"path": {"allocation_id": w.allocation()}},
                                                          only(200, "admin", *FINANCE), hidden=("finance_other",)),
    ("GET", "/v1/funds/pools"): Row(lambda w: {"params": {"year": YEAR}}, only(200, "admin", *FINANCE, "finance_other")),
    # Plan administration: administrators only
    ("GET", "/v1/plans"): Row(lambda w: {}, only(200, "admin")),
    ("POST", "/v1/plans"): Row(lambda w: {"json": w.document}, only(201, "admin")),
    ("GET", "/v1/plans/{plan_id}"): Row(lambda w: {"path": {"plan_id": w.plan_id}}, only(200, "admin")),
    ("DELETE", "/v1/plans/{plan_id}"): Row(lambda w: {"path": {"plan_id": w.draft()}}, only(204, "admin")),
    ("PUT", "/v1/plans/{plan_id}"): Row(lambda w: {"path": {"plan_id": w.draft_id}, "json": w.document},
                                        only(200, "admin")),
    ("POST", "/v1/plans/{plan_id}/derive"): Row(
        lambda w: {"path": {"plan_id": w.plan_id},
                   "json": {"patch": [{"op": "replace", "path": "/title_en", "value": "a derived draft"}]}},
        only(201, "admin")),
    ("POST", "/v1/plans/{plan_id}/validate"): Row(lambda w: {"path": {"plan_id": w.plan_id}}, only(200, "admin")),
    ("GET", "/v1/plans/{plan_id}/diff/{other_id}"): Row(
        lambda w: {"path": {"plan_id": w.plan_id, "other_id": w.draft_id}}, only(200, "admin")),
    ("POST", "/v1/plans/{plan_id}/publish"): Row(
        lambda w: {"path": {"plan_id": w.draft()}, "json": {"effective_from": far_day(w.fresh())}},
        only(200, "admin")),
    ("POST", "/v1/plans/{plan_id}/retire"): Row(lambda w: {"path": {"plan_id": w.published()}}, only(200, "admin")),
    ("POST", "/v1/plans/{plan_id}/simulate"): Row(lambda w: {"path": {"plan_id": w.plan_id}, "json": {}},
                                                  only(202, "admin")),
    ("GET", "/v1/jobs/{job_id}"): Row(lambda w: {"path": {"job_id": w.job_id}}, only(200, "admin")),
    ("POST", "/v1/readjudications"): Row(lambda w: {"json": {"include_pended": True}}, only(200, "admin")),
    # Public
    # Paying members (the payee-account rows come first: later rows leave M1 an item with the bank)
    ("PUT", "/v1/members/{member_id}/payee-account"): Row(
        lambda w: {"path": {"member_id": "M1"}, "json": {"holder_name": "王秀英", "bank_name": "工行",
                                                         "account_no": f"62220212345{w.fresh():08d}"}},
        only(200, "admin", *OFFICERS, "member"), hidden=OTHERS),
    ("GET", "/v1/members/{member_id}/payee-account"): Row(
        lambda w: {"path": {"member_id": "M1"}}, only(200, "admin", *OFFICERS, "member", *FINANCE),
        hidden=READERS_ELSEWHERE),
    ("POST", "/v1/payment-runs"): Row(
        lambda w: (w.payee(), {"json": {"union_id": "R"}})[1],
        only(201, "admin", "finance"), hidden=("finance_league", "finance_other"),
        missing=lambda spec: ({**spec, "json": {"union_id": "NO-SUCH-UNION"}}, {"NO-SUCH-UNION": "R"})),
    ("GET", "/v1/payment-runs"): Row(lambda w: {}, only(200, "admin", *FINANCE, "finance_other")),
    ("GET", "/v1/payment-runs/{run_id}"): Row(lambda w: {"path": {"run_id": w.run_at("draft")}},
                                              only(200, "admin", "finance"), hidden=("finance_league", "finance_other")),
    ("POST", "/v1/payment-runs/{run_id}/approve"): Row(lambda w: {"path": {"run_id": w.payment_run()}},
                                                       only(200, "admin", "finance"), hidden=("finance_league", "finance_other")),
    ("POST", "/v1/payment-runs/{run_id}/cancel"): Row(lambda w: {"path": {"run_id": w.payment_run()}},
                                                      only(200, "admin", "finance"), hidden=("finance_league", "finance_other")),
    ("GET", "/v1/payment-runs/{run_id}/bank-file"): Row(lambda w: {"path": {"run_id": w.run_at("approved")}},
                                                        only(200, "admin", "finance"), hidden=("finance_league", "finance_other")),
    ("POST", "/v1/payment-runs/{run_id}/returns"): Row(
        lambda w: {"path": {"run_id": w.run_at("exported")}, "content": w.made["return_file"],
                   "headers": {"Content-Type": "text/csv"}},
        only(200, "admin", "finance"), hidden=("finance_league", "finance_other")),
    ("GET", "/v1/payment-items/{item_id}/advice"): Row(
        lambda w: {"path": {"item_id": w.paid_item()}}, only(200, "admin", *OFFICERS, "member", *FINANCE),
        hidden=READERS_ELSEWHERE),
    ("GET", "/v1/payment-items/{item_id}/advice.html"): Row(
        lambda w: {"path": {"item_id": w.paid_item()}}, only(200, "admin", *OFFICERS, "member", *FINANCE),
        hidden=READERS_ELSEWHERE),

    ("GET", "/health"): Row(lambda w: {}, everyone(), public=True),
    ("GET", "/openapi.json"): Row(lambda w: {}, everyone(), public=True),
    ("GET", "/docs"): Row(lambda w: {}, everyone(), public=True),
    ("GET", "/docs/oauth2-redirect"): Row(lambda w: {}, everyone(), public=True),
    ("GET", "/redoc"): Row(lambda w: {}, everyone(), public=True),
    ("GET", "/docs-assets/{path}"): Row(lambda w: {"path": {"path": "swagger-ui.css"}}, everyone(), public=True),
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves; HEAD goes with GET."""
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, Mount):  # static files (the docs' assets): read with GET
            found.add(("GET", f"{route.path}/{{path}}"))
            continue
        if hasattr(route, "effective_route_contexts"):  # an included router (FastAPI >= 0.130)
            pairs = [(ctx.original_route, ctx.path) for ctx in route.effective_route_contexts()]
        elif hasattr(route, "methods") and hasattr(route, "path"):
            pairs = [(route, route.path)]
        else:
            raise AssertionError(f"a route of a kind this test does not know: {route!r}; teach app_routes about it")
        for original, path in pairs:
            found.update((m, path) for m in original.methods if m != "HEAD")
    # The web console's pages sign people in with a session, not a key: their matrix is
    # tests/console/test_console_access.py, which holds every /console route to a row too.
    return {(m, p) for m, p in found if not (p == "/console" or p.startswith("/console/"))}


def test_every_key_of_the_cast_is_a_column_of_the_matrix() -> None:
    # finance_checker is a second finance officer of R: the column ``finance`` already.
    assert {f.name for f in fields(Cast)} - {"finance_checker"} == set(KEYED)
    grouped = (*OFFICERS, *OFFICERS_ELSEWHERE, *FINANCE, *FINANCE_ELSEWHERE)
    assert sorted(grouped) == sorted(c for c in KEYED if c.startswith(("officer", "finance")))


def test_the_access_matrix_has_a_row_for_every_route(app: FastAPI) -> None:
    routes = app_routes(app)
    assert len(routes) > 30
    assert sorted(routes - MATRIX.keys()) == [], "routes with no row in the access matrix"
    assert sorted(MATRIX.keys() - routes) == [], "rows for routes the app does not have"


def _as_asked(answer, back: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """Status and problem body but for ``instance`` (the path asked), the missing ids put back as the real ones."""
    text = json.dumps({k: v for k, v in answer.json().items() if k != "instance"}, ensure_ascii=False)
    if back:
        text = re.sub("|".join(map(re.escape, back)), lambda m: back[m.group()], text)
    return answer.status_code, json.loads(text)


def _audit_entries(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(models.AuditEntry))


def test_every_route_answers_every_caller_as_its_role_and_scope_allow(
    client: TestClient, cast, session: Session, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    # A simulation job would start a child process; here only who may start one matters.
    monkeypatch.setattr("service.simulation.launch", lambda job_id, db_url: None)
    # The bad_key column sends ~50 refused keys from one address in this one test: more
    # than the sign-in limit allows (tests/api/test_api_keys.py tests the limit itself).
    # (setitem on the state's dict: monkeypatch.setattr on a State deletes the attribute on undo.)
    monkeypatch.setitem(client.app.state._state, "sign_in_limiter", SignInLimiter("10000/minute"))
    # GET /v1/audit/anchor answers the latest anchor: write one where the app looks.
    anchors = tmp_path / "anchors.jsonl"
    monkeypatch.setitem(client.app.state._state, "audit_anchoring", Anchoring(anchors))
    audit.append_anchor(anchors, b"k" * 32, 1, "0" * 64)
    keys = {c: getattr(cast, c) for c in KEYED} | {"no_key": None, "bad_key": BAD_KEY}
    plans = client.get("/v1/plans", headers=auth(cast.admin)).json()["items"]
    plan_id = next(p["id"] for p in plans if p["status"] == "published")
    world = World(
        client=client, admin=cast.admin,
        settlement_id=post_settlement(client, cast.hospital)["id"],
        claim_id=claim_for(client, cast.admin, "M1")["id"],
        plan_id=plan_id,
        document=client.get(f"/v1/plans/{plan_id}", headers=auth(cast.admin)).json()["document"],
    )
    world.draft_id = world.draft()
    world.finance_checker = cast.finance_checker
    answer = client.put("/v1/members/M1/payee-account", headers=auth(cast.admin),
                        json={"holder_name": "王秀英", "bank_name": "工行", "account_no": "6222021234567890123"})
    assert answer.status_code == 200, answer.text
    world.run_at("paid")  # M1's advice (while M1's claims still pay): a closed run, nothing left with the bank
    world.job_id = client.post(f"/v1/plans/{plan_id}/simulate", json={}, headers=auth(cast.admin)).json()["id"]

    def call(method: str, path: str, spec: dict[str, Any], caller: str):
        return client.request(method, path.format(**spec.get("path", {})), params=spec.get("params"),
                              json=spec.get("json"), content=spec.get("content"),
                              headers={**spec.get("headers", {}), **auth(keys[caller])})

    wrong: list[str] = []
    for (method, path), row in MATRIX.items():
        for caller in CALLERS:
            spec = row.request(world)
            before = _audit_entries(session)
            answer = call(method, path, spec, caller)
            expected = row.expected(caller)
            if answer.status_code != expected:
                wrong.append(f"{method} {path} as {caller}: expected {expected}, got {answer.status_code} {answer.text[:200]}")
            elif expected >= 400:
                if answer.headers["content-type"] != "application/problem+json" or answer.json()["status"] != expected:
                    wrong.append(f"{method} {path} as {caller}: not a problem+json {expected}: {answer.text[:200]}")
                if _audit_entries(session) != before:
                    wrong.append(f"{method} {path} as {caller}: refused, yet the audit log grew")
                if expected == 401 and answer.headers.get("www-authenticate") != "Bearer":
                    wrong.append(f"{method} {path} as {caller}: 401 without WWW-Authenticate: Bearer")
                unknown = row.without_resources(spec)
                if unknown is not None and not row.public:
                    as_if_unknown = _as_asked(call(method, path, unknown[0], caller), unknown[1])
                    if _as_asked(answer, {}) != as_if_unknown:
                        wrong.append(f"{method} {path} as {caller}: refused unlike a request naming nothing that "
                                     f"exists: {_as_asked(answer, {})} != {as_if_unknown}")

    assert wrong == [], "\n".join(wrong)


# What each union-scoped caller's subtree holds of the cast's members: M1, M2 of U1 (under
# L1, under R) and M3 of U2 (under C2, under L2, under R).
SUBTREES = {
    "officer": {"M1", "M2"}, "officer_league": {"M1", "M2"}, "officer_region": {"M1", "M2", "M3"},
    "officer_other": {"M3"}, "officer_county": {"M3"},
    "finance": {"M1", "M2", "M3"}, "finance_league": {"M1", "M2"}, "finance_other": {"M3"},
}


def test_officers_and_finance_at_each_level_list_and_read_their_subtree_only(client: TestClient, cast) -> None:
    assert set(SUBTREES) == set(UNION_SCOPED)
    claims = {m: claim_for(client, cast.admin, m)["id"] for m in ("M1", "M2", "M3")}
    for caller, members in SUBTREES.items():
        key = auth(getattr(cast, caller))
        listed = client.get("/v1/members", headers=key).json()["items"]
        assert {m["id"] for m in listed} == members, caller
        listed = client.get("/v1/claims", headers=key).json()["items"]
        assert {c["member_id"] for c in listed} == members, caller
        for member, claim_id in claims.items():
            expected = 200 if member in members else 404
            assert client.get(f"/v1/members/{member}", headers=key).status_code == expected, (caller, member)
            assert client.get(f"/v1/claims/{claim_id}", headers=key).status_code == expected, (caller, member)
            assert client.get(f"/v1/members/{member}/benefits", headers=key).status_code == expected, (caller, member)
        # A filter narrows within the subtree, never widens it.
        outside = "U1" if "M1" not in members else "U2"
        if outside == "U2" and "M3" in members:
            continue  # the region's callers: nothing is outside
        assert client.get("/v1/members", params={"union_id": outside}, headers=key).json()["total"] == 0, caller
        assert client.get("/v1/claims", params={"member_id": "M1" if outside == "U1" else "M3"},
                          headers=key).json()["total"] == 0, caller
