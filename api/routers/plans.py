"""The administrators' API: plan versions, validation, differences, simulation, publishing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Body, Request, Response, status
from pydantic import BaseModel, Field

from api.deps import CurrentCaller, PagingDep, PlansDep, RowId, SessionDep
from api.problems import answers
from api.routers import ACCEPTED, CREATED
from service import plans, simulation
from service.errors import Invalid
from service.schemas import Day, Page

router = APIRouter(prefix="/v1", tags=["admin: plans"])


class PlanRead(BaseModel):
    id: int
    name: str
    status: str
    version: str | None
    effective_from: dt.date | None
    based_on: int | None
    note: str
    valid: bool
    errors: list[dict[str, str]] = []
    document: dict[str, Any] | None = None


class Publish(BaseModel):
    effective_from: Day


class Derive(BaseModel):
    patch: Annotated[list[dict[str, Any]], Field(min_length=1, description="JSON Patch (RFC 6902) operations on the document")]
    note: Annotated[str, Field(max_length=2000)] = ""


class SimulationRequest(BaseModel):
    submitted_from: Day | None = None
    submitted_to: Day | None = None


class Readjudication(BaseModel):
    include_pended: bool = True
    submitted_from: Day | None = None
    submitted_to: Day | None = None


class JobRead(BaseModel):
    id: int
    kind: str
    status: str
    done: int
    total: int
    report: dict[str, Any] | None
    error: str


def _read(row, errors: list[dict[str, str]] | None = None, with_document: bool = True) -> PlanRead:
    if errors is None:
        errors = plans.check(row.document)[1] if row.status == "draft" else []
    return PlanRead(id=row.id, name=row.name, status=row.status, version=row.version, effective_from=row.effective_from,
                    based_on=row.based_on, note=row.note, valid=not errors, errors=errors,
                    document=row.document if with_document else None)


_DOC_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "description": "A rule document (see rules/plans/default-2026.yaml)"}},
    "application/yaml": {"schema": {"type": "string"}}}}}


async def _document(request: Request) -> dict[str, Any]:
    body = (await request.body()).decode("utf-8", errors="replace")
    if not body.strip():
        raise Invalid.at("body", "send a rule document (JSON or YAML)")
    return plans.read_document(body, request.headers.get("content-type", "application/json"))


@router.get("/plans", response_model=Page[PlanRead], summary="List plan versions")
def list_plans(session: SessionDep, caller: CurrentCaller, paging: PagingDep):
    """Every version, drafts, published and retired, oldest first (without their documents)."""
    rows, total = plans.list_versions(session, caller, paging.page, paging.page_size)
    return Page[PlanRead](items=[_read(r, with_document=False) for r in rows], total=total, page=paging.page,
                          page_size=paging.page_size)


@router.post("/plans", status_code=status.HTTP_201_CREATED, response_model=PlanRead, openapi_extra=_DOC_BODY,
             summary="Make a draft plan", responses=CREATED)
async def create_draft(request: Request, response: Response, session: SessionDep, caller: CurrentCaller):
    """A new draft from a whole document (JSON, or YAML with content-type application/yaml).

    A draft that does not validate is stored all the same, with its errors: fix it with PUT."""
    document = await _document(request)
    row, errors = plans.create_draft(session, caller, document)
    response.headers["Location"] = f"/v1/plans/{row.id}"
    return _read(row, errors)


@router.get("/plans/{plan_id}", response_model=PlanRead, summary="Read a plan version")
def get_plan(plan_id: RowId, session: SessionDep, caller: CurrentCaller):
    """A version with its document; a draft with what validation finds wrong in it."""
    return _read(plans.get_version(session, caller, plan_id))


@router.put("/plans/{plan_id}", response_model=PlanRead, openapi_extra=_DOC_BODY, summary="Replace a draft",
            responses=answers(409, s409="The version is published or retired: it never changes (derive a draft)"))
async def replace_draft(plan_id: RowId, request: Request, session: SessionDep, caller: CurrentCaller):
    """Replace a draft's whole document (JSON or YAML)."""
    document = await _document(request)
    row, errors = plans.replace_draft(session, caller, plan_id, document)
    return _read(row, errors)


@router.delete("/plans/{plan_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a draft",
               responses=answers(409, s409="The version is published or retired, or a draft or simulation still uses it"))
def delete_draft(plan_id: RowId, session: SessionDep, caller: CurrentCaller) -> None:
    """Delete a draft (409 for a published or retired version, which is kept for the claims it decided).

    The audit entry keeps the deleted document.
    """
    plans.delete_draft(session, caller, plan_id)


@router.post("/plans/{plan_id}/derive", status_code=status.HTTP_201_CREATED, response_model=PlanRead,
             summary="Derive a draft from a version", responses=CREATED)
def derive_draft(plan_id: RowId, data: Derive, response: Response, session: SessionDep, caller: CurrentCaller):
    """A new draft from a version with some parameters changed (a JSON Patch)."""
    row, errors = plans.derive_draft(session, caller, plan_id, data.patch, data.note)
    response.headers["Location"] = f"/v1/plans/{row.id}"
    return _read(row, errors)


@router.post("/plans/{plan_id}/validate", response_model=PlanRead, summary="Validate a version")
def validate(plan_id: RowId, session: SessionDep, caller: CurrentCaller):
    """What is wrong with a version's document, each error at its path (valid: none)."""
    row, errors = plans.validate_version(session, caller, plan_id)
    return _read(row, errors, with_document=False)


@router.get("/plans/{plan_id}/diff/{other_id}", summary="Compare two versions")
def compare(plan_id: RowId, other_id: RowId, session: SessionDep, caller: CurrentCaller) -> dict[str, Any]:
    """Every difference from version ``plan_id`` to version ``other_id``, by path."""
    return {"from": plan_id, "to": other_id, "changes": plans.compare(session, caller, plan_id, other_id)}


@router.post("/plans/{plan_id}/publish", response_model=PlanRead, summary="Publish a draft from a date",
             responses=answers(409, s409="Not a draft, or publishing would leave days without a version in force "
                                         "(the range is named)"))
def publish(plan_id: RowId, data: Publish, session: SessionDep, caller: CurrentCaller):
    """Put a valid draft in force from ``effective_from``; claims admitted from then on are decided under it."""
    return _read(plans.publish(session, caller, plan_id, data.effective_from), with_document=False)


@router.post("/plans/{plan_id}/retire", response_model=PlanRead, summary="Retire a published version",
             responses=answers(409, s409="Not published, or retiring would leave days without a version in force "
                                         "(the range is named)"))
def retire(plan_id: RowId, session: SessionDep, caller: CurrentCaller):
    """Take a published version out of force; the claims it decided keep their decisions."""
    return _read(plans.retire(session, caller, plan_id), with_document=False)


@router.post("/plans/{plan_id}/simulate", status_code=status.HTTP_202_ACCEPTED, response_model=JobRead,
             summary="Simulate a version on past claims (a job)", responses=ACCEPTED)
def simulate(plan_id: RowId, session: SessionDep, caller: CurrentCaller, request: Request, background: BackgroundTasks,
             response: Response, data: Annotated[SimulationRequest, Body()] = SimulationRequest()):
    """Run the version on past claims beside the versions in force, in child processes; follow it at /v1/jobs/{id}."""
    job = simulation.start_simulation(session, caller, plan_id, data.submitted_from, data.submitted_to)
    # Started once the response is sent, so the job row it reads is committed.
    background.add_task(simulation.launch, job.id, request.app.state.db.url.render_as_string(hide_password=False))
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return JobRead(id=job.id, kind=job.kind, status=job.status, done=job.done, total=job.total, report=None, error="")


@router.get("/jobs/{job_id}", response_model=JobRead, summary="Follow a job")
def get_job(job_id: RowId, session: SessionDep, caller: CurrentCaller):
    """A simulation's progress (done of total) and, once finished, its report or its error."""
    job = simulation.get_job(session, caller, job_id)
    return JobRead(id=job.id, kind=job.kind, status=job.status, done=job.done, total=job.total, report=job.report,
                   error=job.error)


@router.post("/readjudications", summary="Decide claims again under the versions in force",
             responses=answers(409, s409="Another re-adjudication is running"))
def readjudicate(data: Readjudication, session: SessionDep, caller: CurrentCaller, book: PlansDep) -> dict[str, Any]:
    """Decide pended claims and/or a date range again under the versions now in force; differences become adjustments."""
    return simulation.readjudicate(session, caller, book, include_pended=data.include_pended,
                                   submitted_from=data.submitted_from, submitted_to=data.submitted_to)
