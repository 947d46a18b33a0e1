"""The hospital desk: pre-settlement, one-stop settlement at discharge, cancellation, the day's reconciliation.

A patient waits on the first four: they take one of the worker's desk turns
(``DeskTurn``) and do their whole unit of work in one trip to a worker thread
(``DeskWork``: key, work, commit). The reconciliation is a day's work and uses the
ordinary unit of work.
"""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from sqlalchemy.orm import Session

from api import idempotency
from api.deps import CurrentCaller, DeskTurn, DeskWorkDep, PlansDep, ProvincialMedTypesDep, RowId, SessionDep
from api.idempotency import IdempotencyDep
from api.problems import answers
from api.routers import CREATED, located
from api.routers.settlements import SETTLEMENT_SCHEMA, ExactBody
from service import desk
from service.auth import Principal
from service.idempotency import Answer
from service.schemas import (
    CancellationCreate,
    DeskDecisionRead,
    ReconciliationCreate,
    ReconciliationRead,
    ReconciliationResult,
    WrittenDay,
)

router = APIRouter(prefix="/v1", tags=["hospital desk"])

_RECORD = {"requestBody": {"required": True, "content": {"application/json": {"schema": SETTLEMENT_SCHEMA}}}}


@router.post(
    "/settlements/preview", response_model=DeskDecisionRead, summary="Preview the decision on a settlement (2303)",
    responses=answers(409, 422, s409="This (hospital, setl_id) was posted with other content, or cancelled; "
                                     "or no published plan is in force on the admission date",
                      s422="Inconsistent or untrue settlement: the field at fault is named"),
    openapi_extra=_RECORD,
)
async def preview(body: ExactBody, _turn: DeskTurn, unit: DeskWorkDep, plans: PlansDep,
                  provincial_med_types: ProvincialMedTypesDep):
    """Before discharge: what the plan in force would pay the member whose certno the record carries.

    Nothing is stored, no total moves and nothing is written to the audit log; the
    answer is the one ``POST /v1/settlements/direct`` of the same record would give now.
    """
    return await unit.run(lambda session, caller: desk.preview(session, caller, plans, body, provincial_med_types))


@router.post(
    "/settlements/direct", status_code=status.HTTP_201_CREATED, response_model=DeskDecisionRead,
    summary="Settle at the desk: post a settlement and get the decision (2304)",
    responses={**CREATED, **idempotency.RESPONSES,
               200: {"description": "The same settlement was posted before: what was decided on it",
                     "model": DeskDecisionRead},
               **answers(409, 422, s409="This (hospital, setl_id) was posted with other content, or cancelled; "
                                        "no published plan is in force on the admission date; or a request with "
                                        "this Idempotency-Key is still being answered",
                         s422="Inconsistent or untrue settlement: the field at fault is named; nothing is stored")},
    openapi_extra=_RECORD,
)
async def settle(body: ExactBody, _turn: DeskTurn, unit: DeskWorkDep, plans: PlansDep, once: IdempotencyDep,
                 provincial_med_types: ProvincialMedTypesDep):
    """At discharge: the settlement is stored and the member's claim decided in one transaction.

    The answer holds, per line, what the plan pays, and what the patient still pays at
    the desk. Posting the same record again (or retrying with the same Idempotency-Key)
    answers what was decided, never a second claim. A certno of no registered member:
    the settlement is stored and ``no_claim_reason`` says why no claim was made.
    """
    def work(session: Session, caller: Principal) -> Response:
        def answer() -> Answer:
            decided, made = desk.settle(session, caller, plans, body, provincial_med_types)
            return Answer(status.HTTP_201_CREATED if made else status.HTTP_200_OK, decided.model_dump(mode="json"))

        return idempotency.answer_once(session, caller, once, answer)

    response = await unit.run(work)
    return located(response, f"/v1/settlements/{json.loads(response.body)['settlement_id']}/decision")


@router.post(
    "/settlements/{settlement_id}/cancel", response_model=DeskDecisionRead,
    summary="Cancel a settlement and its claim (2305)",
    responses=answers(404, 409, s404="No such settlement, or not one this key may cancel (the same answer)",
                      s409="The settlement was cancelled already"),
)
async def cancel(settlement_id: RowId, data: CancellationCreate, _turn: DeskTurn, unit: DeskWorkDep, plans: PlansDep):
    """Cancel a settlement posted in error, with the reason: its claim becomes ``cancelled``.

    What the claim added to the member's totals is released, so the member's next claim
    is decided as if it had never been; the stay may be posted again under a new
    setl_id. The hospital that posted it, the officers of the patient's union (and those
    above) and administrators may cancel; a second cancellation is refused (409).
    """
    return await unit.run(lambda session, caller: desk.cancel(session, caller, plans, settlement_id, data))


@router.get(
    "/settlements/{settlement_id}/decision", response_model=DeskDecisionRead,
    summary="Read the decision on a hospital's own settlement",
    responses=answers(404, s404="No such settlement, or another hospital's (the same answer)"),
)
async def decision(settlement_id: RowId, _turn: DeskTurn, unit: DeskWorkDep, plans: PlansDep):
    """What was decided on this bill: status, lines, amounts paid, and whether it was cancelled.

    Only this bill's decision: never the member's other claims or totals.
    """
    return await unit.run(lambda session, caller: desk.settlement_decision(session, caller, plans, settlement_id))


@router.get("/reconciliation", response_model=ReconciliationRead, summary="A day's settlement totals (3201)")
def day_totals(session: SessionDep, caller: CurrentCaller,
               date: Annotated[WrittenDay, Query(description="The posting date in China (UTC+8)")],
               hospital: Annotated[str | None, Query(max_length=32, description=(
                   "A hospital's code; a hospital's key reads its own whatever it names"))] = None):
    """The day's count and sums: total cost, in-policy self-pay, paid by each benefit, cancelled.

    A hospital reads its own; officers and finance officers the bills of the members in
    their union and beneath it; administrators all.
    """
    return desk.day_totals(session, caller, date, hospital)


@router.post("/reconciliation", response_model=ReconciliationResult,
             summary="Reconcile a hospital's list of a day's settlements (3202)",
             responses=answers(422, s422="Invalid list: the item and field at fault are named"))
def reconcile(data: ReconciliationCreate, session: SessionDep, caller: CurrentCaller):
    """The hospital's own list for a day (setl_id and amounts) against ours: the differences.

    Missing on either side, posted on another day, amounts that differ, cancelled on one
    side only. Nothing is stored.
    """
    return desk.reconcile(session, caller, data)
