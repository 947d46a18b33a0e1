"""Errors of the domain core.

    ClaimsError                 anything this project refuses, with the field at fault
    ├── InvalidCase             the claim record itself is malformed (status ``invalid``)
    └── BillInconsistent        the settlement fails a section-2 check (status ``rejected``)
"""

from __future__ import annotations


class ClaimsError(Exception):
    """Something we refuse, naming the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class InvalidCase(ClaimsError):
    """The claim record is malformed: a required field is missing or does not parse."""


class BillInconsistent(ClaimsError):
    """The settlement does not add up (default-plan.md section 2)."""
