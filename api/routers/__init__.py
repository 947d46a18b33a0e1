"""The routers, one per audience.

What every route carries (tests/api/test_api_openapi.py holds each to it): a
``summary=`` and a docstring (the description); the problems only it knows declared with
``problems.answers(...)`` (those that follow from its form are added for every route by
``problems.document``); a list answers ``Page[...]``; a create answers 201 with
``Location`` (``located``), a job 202 with the job's ``Location``.
"""

from __future__ import annotations

from starlette.responses import Response


def located(response: Response, url: str) -> Response:
    """Give a 201 (or 202) answer the URL of what it made."""
    if response.status_code in (201, 202):
        response.headers["Location"] = url
    return response
