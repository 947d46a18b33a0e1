"""The audit log's latest anchor, for administrators to keep or compare elsewhere."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.deps import CurrentCaller
from api.problems import answers
from service import audit
from service.auth import Role
from service.errors import NotFound

router = APIRouter(prefix="/v1", tags=["admin"])


@router.get("/audit/anchor", summary="The audit chain's latest anchor",
            responses=answers(404, s404="No anchor has been written yet"))
def latest_anchor(request: Request, caller: CurrentCaller) -> dict[str, Any]:
    """The last anchor appended to the anchors file: the chain's position and hash, its UTC time, its HMAC.

    404 when no anchor has been written (or no anchors file is configured).
    """
    caller.require(Role.ADMIN)
    anchoring: audit.Anchoring = request.app.state.audit_anchoring
    anchor = audit.latest_anchor(anchoring.path)
    if anchor is None:
        raise NotFound("no audit anchor has been written yet (claims audit anchor, or the service's anchoring)")
    return anchor
