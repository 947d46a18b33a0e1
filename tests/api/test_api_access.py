"""Access: every route of the app, called by every kind of caller, answers as the roles say.

The matrix below has one row per route (method and path, as the app declares it) and
one column per caller:

    admin            the administrator
    officer          an officer of U1, the union of the member M1 every row acts on
    officer_other    an officer of U2
    hospital         H1, the hospital that posted the settlement every row acts on
    hospital_other   H2
    member           M1 themself
    member_other     M2, a colleague of M1 in U1
    no_key           no Authorization header
    bad_key          a well-formed key the service never issued

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

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
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
from tests.builders import certno_for
from tests.api.builders import HIGH_B, YEAR, auth, claim_for, enrollment, post_settlement, register_hardship, settlement

CALLERS = ("admin", "officer", "officer_other", "hospital", "hospital_other", "member", "member_other",
           "no_key", "bad_key")
BAD_KEY = "ck_0123456789ab_this-key-was-never-issued-by-the-service-000000"


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
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

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
        answer = self.client.post("/v1/members/M1/enrollments", json=enrollment(YEAR + 20 + self.fresh()),
                                  headers=auth(self.admin))
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def member_key(self) -> int:
        answer = self.client.post("/v1/keys", json={"role": "member", "member_id": "M1"}, headers=auth(self.admin))
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def allocation(self) -> int:
        answer = self.client.post("/v1/funds/allocations", headers=auth(self.admin), json={
            "source": "league", "year": YEAR, "league_id": "L1", "amount": "1.00", "reference": f"A-{self.fresh()}",
            "received_on": f"{YEAR}-01-15"})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def published(self) -> int:
        plan_id = self.draft()
        answer = self.client.post(f"/v1/plans/{plan_id}/publish", headers=auth(self.admin),
                                  json={"effective_from": f"{2100 + self.fresh()}-01-01"})
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
    return {c: status for c in CALLERS[:7]}


def only(status: int, *callers: str) -> dict[str, int]:
    return {c: status for c in callers}


def _claimable(w: World) -> dict:
    posted = post_settlement(w.client, w.admin)
    # No receipt date: the member's key may not give one (the service dates the claim).
    return {"json": {"member_id": "M1", "settlement_id": posted["id"]}}


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


OTHERS = ("officer_other", "member_other")  # of the roles that act for members, those not acting for M1


MATRIX: dict[tuple[str, str], Row] = {
    # The hospital API
    ("POST", "/v1/settlements"): Row(lambda w: {"json": settlement(fixmedins_code="H1")},
                                     only(201, "admin", "hospital")),
    ("GET", "/v1/settlements"): Row(lambda w: {}, only(200, "admin", "hospital", "hospital_other")),
    # A settlement holds diagnoses: read by its hospital, its patient (M1, by certno) and
    # the officers of the patient's union, whether claimed or not (this one is not); to
    # anyone else it is an id never posted (404, so other people's bill ids are not revealed).
    ("GET", "/v1/settlements/{settlement_id}"): Row(lambda w: {"path": {"settlement_id": w.settlement_id}},
                                                    only(200, "admin", "hospital", "officer", "member"), refused=404),
    # Claims and review
    ("POST", "/v1/claims"): Row(_claimable, only(201, "admin", "officer", "member"), hidden=OTHERS,
                                missing=_another_member),
    ("POST", "/v1/claims/batch"): Row(lambda w: {"json": {"claims": [_claimable(w)["json"], _claimable(w)["json"]]}},
                                      only(201, "admin", "officer", "member"), hidden=OTHERS, missing=_another_member),
    ("GET", "/v1/claims"): Row(lambda w: {}, only(200, "admin", "officer", "officer_other", "member", "member_other")),
    ("GET", "/v1/claims/{claim_id}"): Row(lambda w: {"path": {"claim_id": w.claim_id}},
                                          only(200, "admin", "officer", "member"), hidden=OTHERS),
    # Adjustments are listed within each caller's scope (a member their own, an officer their union's).
    ("GET", "/v1/adjustments"): Row(lambda w: {}, only(200, "admin", "officer", "officer_other", "member", "member_other")),
    ("GET", "/v1/review-queue"): Row(lambda w: {}, only(200, "admin", "officer", "officer_other")),
    ("POST", "/v1/claims/{claim_id}/review"): Row(_pended, only(200, "admin", "officer"), hidden=("officer_other",)),
    # The registry
    ("POST", "/v1/unions"): Row(lambda w: {"json": {"id": f"U{100 + w.fresh()}", "name": "新工会"}}, only(201, "admin")),
    ("GET", "/v1/unions"): Row(lambda w: {}, only(200, "admin", "officer", "officer_other")),
    ("GET", "/v1/unions/{union_id}"): Row(lambda w: {"path": {"union_id": "U1"}}, only(200, "admin", "officer"),
                                          refused=404),
    ("POST", "/v1/hospitals"): Row(lambda w: {"json": {"code": f"H{100 + w.fresh()}", "name": "新医院", "grade": "03"}},
                                   only(201, "admin")),
    ("GET", "/v1/hospitals"): Row(lambda w: {}, everyone()),
    ("GET", "/v1/hospitals/{code}"): Row(lambda w: {"path": {"code": "H1"}}, everyone()),
    ("POST", "/v1/members"): Row(lambda w: {"json": {"id": (m := f"M{100 + w.fresh()}"), "union_id": "U1",
                                                     "certno": certno_for(m)}},
                                 only(201, "admin", "officer")),
    ("GET", "/v1/members"): Row(lambda w: {}, only(200, "admin", "officer", "officer_other")),
    ("GET", "/v1/members/{member_id}"): Row(lambda w: {"path": {"member_id": "M1"}}, only(200, "admin", "officer", "member"),
                                            hidden=OTHERS),
    ("PATCH", "/v1/members/{member_id}"): Row(lambda w: {"path": {"member_id": "M1"}, "json": {"name": f"王{w.fresh()}"}},
                                              only(200, "admin", "officer"), hidden=("officer_other",)),
    ("POST", "/v1/members/{member_id}/enrollments"): Row(
        lambda w: {"path": {"member_id": "M1"}, "json": enrollment(YEAR + 10 + w.fresh())}, only(201, "admin", "officer"),
        hidden=("officer_other",)),
    ("PATCH", "/v1/enrollments/{enrollment_id}"): Row(
        lambda w: {"path": {"enrollment_id": w.enrollment()}, "json": {"period_end": f"{YEAR + 20 + w.fresh()}-06-30"}},
        only(200, "admin", "officer"), hidden=("officer_other",)),
    ("POST", "/v1/enrollments/import"): Row(
        lambda w: {"params": {"union_id": "U1"}, "headers": {"content-type": "text/csv"},
                   "content": f"member_id,certno,name,period_start,period_end,enrolled_on\n"
                              f"{(m := f'M{100 + w.fresh()}')},{certno_for(m)},新会员,{YEAR}-01-01,{YEAR}-12-31,"
                              f"{YEAR - 1}-12-01\n"},
        only(200, "admin", "officer")),
    ("POST", "/v1/members/{member_id}/hardship"): Row(
        lambda w: {"path": {"member_id": w.member()}, "json": {"category": "dibao", "registered_on": f"{YEAR}-01-01"}},
        only(201, "admin", "officer"), hidden=("officer_other",)),
    ("GET", "/v1/hardship"): Row(lambda w: {}, only(200, "admin", "officer", "officer_other")),
    ("POST", "/v1/hardship/{registration_id}/verify"): Row(
        lambda w: {"path": {"registration_id": _registration(w)}, "json": {"verified_on": f"{YEAR}-02-01"}},
        only(200, "admin", "officer"), hidden=("officer_other",)),
    ("POST", "/v1/hardship/{registration_id}/revoke"): Row(
        lambda w: {"path": {"registration_id": _registration(w)}, "json": {"revoked_on": f"{YEAR}-02-01"}},
        only(200, "admin", "officer"), hidden=("officer_other",)),
    # Keys: an officer issues, lists and revokes member keys of their own union's members;
    # to the other union's officer M1 and M1's keys are unknown (404, as if they did not exist).
    ("POST", "/v1/keys"): Row(lambda w: {"json": {"role": "member", "member_id": "M1"}},
                              only(201, "admin", "officer"), hidden=("officer_other",), missing=_another_member),
    ("GET", "/v1/keys"): Row(lambda w: {}, only(200, "admin", "officer", "officer_other")),
    ("DELETE", "/v1/keys/{key_id}"): Row(lambda w: {"path": {"key_id": w.member_key()}},
                                         only(204, "admin", "officer"), hidden=("officer_other",)),
    ("GET", "/v1/audit/anchor"): Row(lambda w: {}, only(200, "admin")),
    # Funds: finance officers and administrators (finance scopes: tests/api/test_api_funds.py).
    ("POST", "/v1/funds/allocations"): Row(
        lambda w: {"json": {"source": "central", "year": YEAR, "amount": "100.00", "reference": f"拨款-{w.fresh()}",
                            "received_on": f"{YEAR}-01-15"}}, only(201, "admin")),
    ("GET", "/v1/funds/allocations"): Row(lambda w: {}, only(200, "admin")),
    ("GET", "/v1/funds/allocations/{allocation_id}"): Row(lambda w: {"path": {"allocation_id": w.allocation()}},
                                                          only(200, "admin")),
    ("GET", "/v1/funds/pools"): Row(lambda w: {"params": {"year": YEAR}}, only(200, "admin")),
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
        lambda w: {"path": {"plan_id": w.draft()}, "json": {"effective_from": f"{2100 + w.fresh()}-01-01"}},
        only(200, "admin")),
    ("POST", "/v1/plans/{plan_id}/retire"): Row(lambda w: {"path": {"plan_id": w.published()}}, only(200, "admin")),
    ("POST", "/v1/plans/{plan_id}/simulate"): Row(lambda w: {"path": {"plan_id": w.plan_id}, "json": {}},
                                                  only(202, "admin")),
    ("GET", "/v1/jobs/{job_id}"): Row(lambda w: {"path": {"job_id": w.job_id}}, only(200, "admin")),
    ("POST", "/v1/readjudications"): Row(lambda w: {"json": {"include_pended": True}}, only(200, "admin")),
    # Public
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
    return found


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
    keys = {c: getattr(cast, c) for c in CALLERS[:7]} | {"no_key": None, "bad_key": BAD_KEY}
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
