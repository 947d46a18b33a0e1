"""Limits on what a request may carry, checked before any endpoint reads it.

A union office runs this on one small server: a single request must not be able to
take its memory or its time. Every request body is read here first, up to a size
that depends on what it is (a CSV of a unit's staff may be large, a JSON document
never needs to be), and a JSON body is refused when it nests deeper than any
document of ours ever does, before a parser recurses into it. Answers are problem+json
like every other error: 413 for a body over its size, 422 naming ``body`` for one
nested too deeply.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem

MIB = 1024 * 1024
MAX_DEPTH = 64  # the deepest of our documents (a plan: benefits[].amount.bands[]...) is under 10

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


@dataclass(frozen=True, slots=True)
class BodyLimits:
    json_bytes: int = 2 * MIB  # JSON and YAML documents, settlements, claims
    csv_bytes: int = 20 * MIB  # the enrollment import (text/csv or a file upload)
    max_depth: int = MAX_DEPTH

    def for_content_type(self, content_type: str) -> int:
        media = content_type.split(";", 1)[0].strip().lower()
        return self.csv_bytes if media in ("text/csv", "multipart/form-data") else self.json_bytes


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in a JSON text (strings skipped; the text need not be valid)."""
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(itertools.accumulate(_STEP[b] for b in brackets), default=0)


class LimitsMiddleware:
    """Reads each request body (up to its limit) before the app does; refuses what is over a limit."""

    def __init__(self, app: ASGIApp, limits: BodyLimits = BodyLimits()) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        content_type = headers.get("content-type", "")
        limit = self.limits.for_content_type(content_type)
        path = scope.get("path", "")
        declared = headers.get("content-length", "")
        # ASCII digits only (isdigit() takes "²", which int() refuses), and a length
        # longer than any limit's refused unread (int() refuses above 4,300 digits).
        if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
            await self._refuse(scope, receive, send, self._too_large(limit, path))
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(scope, receive, send, self._too_large(limit, path))
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        media = content_type.split(";", 1)[0].strip().lower()
        if (media == "" or media == "application/json" or media.endswith("+json")) \
                and json_depth(body) > self.limits.max_depth:
            await problem(422, "Invalid input", f"body: nested deeper than {self.limits.max_depth} levels",
                          "/problems/invalid", path,
                          [{"field": "body", "message": f"nested deeper than {self.limits.max_depth} levels"}]
                          )(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _too_large(limit: int, path: str):
        return problem(413, "Content too large", f"the body is larger than {limit:,} bytes, the limit for this kind "
                       "of request; split it (a CSV file into several imports)", "/problems/too-large", path)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, response) -> None:
        await response(scope, receive, send)
