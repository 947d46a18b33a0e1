"""The routers, one per audience.

What every route carries (tests/api/test_api_openapi.py holds each to it): a
``summary=`` and a docstring (the description); the problems only it knows declared with
``problems.answers(...)`` (those that follow from its form are added for every route by
``problems.document``); a list answers ``Page[...]``; a create answers 201 with
``Location`` (``located``, declared with ``responses=CREATED``), a job 202 with the
job's (``ACCEPTED``).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

_LOCATION = {"Location": {"description": "The URL of what was made", "schema": {"type": "string"}}}
CREATED: dict[int | str, dict[str, Any]] = {201: {"description": "Made; Location is its URL", "headers": _LOCATION}}
ACCEPTED: dict[int | str, dict[str, Any]] = {
    202: {"description": "Started; Location is the job's URL, to follow it", "headers": _LOCATION}}


def located(response: Response, url: str) -> Response:
    """Give a 201 (or 202) answer the URL of what it made."""
    if response.status_code in (201, 202):
        response.headers["Location"] = url
    return response
