"""Fuzzing the API with schemathesis, against the service's own OpenAPI schema (SQLite only).

schemathesis reads ``/openapi.json`` from the app and generates requests for every
operation: ones that fit the schema (positive) and ones that do not (negative). Each is
sent to the app in-process (ASGI, no sockets), on a SQLite database that holds a
union, a hospital, a member, a settlement and a claim (so small ids often hit real
rows). Whatever is sent, the service must never fail (no 5xx), and every error must
be an RFC 9457 problem document: ``application/problem+json`` with ``type``,
``title``, ``status`` (the response's) and ``detail``.

Two passes: as an administrator (every operation reachable), and with no key at all
(or whatever ``Authorization`` header schemathesis makes up). Bounded: at most
a few dozen examples per operation (``WITH_A_KEY``, ``WITHOUT_A_KEY``),
Hypothesis shrinking only a failure. SQLite only: the PostgreSQL paths are the same code,
and the time is better spent on the load tests that need both databases.

Not fuzzed with the administrator's key: ``POST /v1/plans/{plan_id}/simulate`` starts
a child process per valid request (tests/admin covers simulations).

schemathesis' pytest integration (``schemathesis.pytest.from_fixture``) does not run
under pytest 9.2 (it sets ``node._nodeid``, which pytest no longer has), so each
operation's strategy (``APIOperation.as_strategy``) is driven with Hypothesis here.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from api.app import create_app
from service import claims, registry, settlements
from service.auth import CLI, Role, create_key
from service.plans import PlanBook
from service.schemas import ClaimCreate, EnrollmentCreate, HospitalCreate, MemberCreate, UnionCreate

from tests.builders import certno_for

from .live import PAPER_NOTE, SUBMITTED, YEAR, bill

# Examples per operation: (fitting the schema, not fitting it). Without a key every
# request stops at authentication or validation, so fewer say as much.
WITH_A_KEY = (20, 10)
WITHOUT_A_KEY = (8, 4)
PROBLEM_FIELDS = ("type", "title", "status", "detail")
NOT_WITH_A_KEY = {("POST", "/v1/plans/{plan_id}/simulate")}


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, str]]:
    """The app on a small SQLite database, and an administrator's key."""
    app = create_app(str(tmp_path_factory.mktemp("fuzz") / "fuzz.db"))
    with app.state.sessions() as s:
        registry.create_union(s, CLI, UnionCreate(id="U1", name="呼和浩特市总工会"))
        registry.create_hospital(s, CLI, HospitalCreate(code="H1", name="内蒙古医科大学附属医院", grade="02"))
        registry.create_member(s, CLI, MemberCreate(id="M1", union_id="U1", gender="F", certno=certno_for("M1")))
        registry.add_enrollment(s, CLI, "M1", EnrollmentCreate(
            period_start=dt.date(YEAR, 1, 1), period_end=dt.date(YEAR, 12, 31), enrolled_on=dt.date(YEAR - 1, 12, 1)))
        row, _ = settlements.post_settlement(s, CLI, bill("S1", "1000.00", patient="M1", begndate=f"{YEAR}-05-02",
                                                         enddate=f"{YEAR}-05-12"))
        claims.submit_claim(s, CLI, PlanBook(), ClaimCreate(member_id="M1", settlement_id=row.id,
                                                            submitted_on=dt.date.fromisoformat(SUBMITTED),
                                                            note=PAPER_NOTE))
        _, key = create_key(s, Role.ADMIN, label="fuzzing administrator")
        s.commit()
    yield app, key
    app.state.db.dispose()


def _problem_document_faults(response) -> list[str]:
    """What keeps an error response from being an RFC 9457 problem document."""
    content_type = response.headers.get("content-type") or [""]
    content_type = content_type[0] if isinstance(content_type, list) else content_type
    if not content_type.startswith("application/problem+json"):
        return [f"content-type {content_type!r}"]
    try:
        body = response.json()
    except ValueError:
        return ["a body that is not JSON"]
    if not isinstance(body, dict):
        return ["a body that is not a JSON object"]
    faults = [f"no {name!r}" for name in PROBLEM_FIELDS if name not in body]
    if "status" in body and body["status"] != response.status_code:
        faults.append(f"status {body['status']!r} in the body")
    return faults


def _fuzz(app, headers: dict[str, str] | None, skip: set[tuple[str, str]],
          examples: tuple[int, int]) -> tuple[list[str], Counter]:
    """Fuzz every operation; returns the failures (with a curl line to reproduce) and the statuses seen."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    statuses: Counter = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()  # a schema schemathesis cannot read fails the test here
        label = (operation.method.upper(), operation.path)
        if label in skip:
            continue
        for mode, count in zip((GenerationMode.POSITIVE, GenerationMode.NEGATIVE), examples):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=count, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate, Phase.shrink],
                      suppress_health_check=list(HealthCheck))
            def send(case) -> None:
                response = case.call(headers=headers)
                statuses[(*label, response.status_code)] += 1
                where = f"{' '.join(label)} ({mode.value}) answered {response.status_code}"
                assert response.status_code < 500, f"{where}: {response.text[:300]}\n{case.as_curl_command()}"
                if response.status_code >= 400:
                    faults = _problem_document_faults(response)
                    assert not faults, f"{where} with {', '.join(faults)}: {response.text[:300]}\n{case.as_curl_command()}"

            try:
                send()
            except Unsatisfiable:
                pass  # nothing that breaks the schema can be made for an operation without inputs
            except (Exception, BaseExceptionGroup) as err:  # noqa: BLE001 - every failure is reported below
                failures.append(f"{' '.join(label)} ({mode.value}): {err}")
    return failures, statuses


def test_requests_made_from_the_schema_by_an_administrator_never_fail_the_service_and_errors_are_problem_documents(fuzzed):
    app, key = fuzzed
    failures, statuses = _fuzz(app, {"Authorization": f"Bearer {key}"}, NOT_WITH_A_KEY, WITH_A_KEY)
    assert not failures, "\n\n".join(failures)
    # The key was sent: operations answered successfully, not only 401.
    assert statuses[("GET", "/v1/unions", 200)] > 0
    assert statuses[("GET", "/v1/claims/{claim_id}", 200)] + statuses[("GET", "/v1/claims", 200)] > 0


def test_requests_made_from_the_schema_without_a_key_are_refused_as_problem_documents(fuzzed):
    app, _ = fuzzed
    failures, statuses = _fuzz(app, None, set(), WITHOUT_A_KEY)
    assert not failures, "\n\n".join(failures)
    served = {(method, path, status) for (method, path, status) in statuses if status < 400 and path != "/health"}
    assert not served  # nothing but /health is served without a key
    assert statuses[("GET", "/v1/unions", 401)] > 0
