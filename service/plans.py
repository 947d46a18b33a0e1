"""Which plan decides a claim: one engine per plan version, built once per process."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from rules.document import load_plan
from rules.engine import Engine


class PlanBook:
    """The plan in force. For now one plan (the default, or a file given at start-up)."""

    def __init__(self, plan_path: str | Path | None = None) -> None:
        self._engine = Engine(load_plan(plan_path))

    def engine_for(self, admitted: dt.date) -> Engine:
        return self._engine
