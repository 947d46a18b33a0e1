"""The ``claims`` command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Union medical mutual-aid claims engine.")


@app.callback()
def main() -> None:
    """Union medical mutual-aid claims engine."""


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


@app.command()
def adjudicate(
    cases: Annotated[Path, typer.Argument(help="Case file, one JSON case per line (spec/case-format.md).")],
    plan: Annotated[Optional[Path], typer.Option("--plan", help="Rule document (YAML or JSON); default: default-2026.")] = None,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Decisions file; default: standard output.")] = None,
) -> None:
    """Adjudicate a case file in file order, with no database and no server.

    Exits 1 when any case was invalid (after writing every decision), 0 otherwise.
    """
    from rules.batch import adjudicate_lines
    from rules.document import PlanError, load_plan
    from rules.durable_engine import RulesEngineError
    from rules.engine import Engine

    try:
        engine = Engine(load_plan(plan))
    except PlanError as err:
        _fail("the plan is not valid:\n" + "\n".join(f"  {p}: {m}" for p, m in err.errors))
    except RulesEngineError as err:
        _fail(str(err))
    try:
        source = cases.open(encoding="utf-8")
    except OSError as err:
        _fail(f"cannot read {cases}: {err.strerror}")
    total = _count_lines(cases) if sys.stderr.isatty() else 0
    out = output.open("w", encoding="utf-8") if output else sys.stdout
    invalid = 0
    with source:
        decisions = adjudicate_lines(engine, source)
        with _progress(total) as advance:
            for decision in decisions:
                if decision.status == "invalid":
                    invalid += 1
                out.write(json.dumps(decision.to_json(), ensure_ascii=False) + "\n")
                advance()
    if output:
        out.close()
    if invalid:
        typer.echo(f"{invalid} invalid case(s); see their 'field' and 'message'", err=True)
        raise typer.Exit(1)


def _count_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


class _progress:
    """A progress bar on a terminal for long files; silent when stderr is not a terminal."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar = None

    def __enter__(self):
        if self.total < 1000:
            return lambda: None
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.bar.start()
        task = self.bar.add_task("adjudicating", total=self.total)
        return lambda: self.bar.advance(task)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


if __name__ == "__main__":  # pragma: no cover
    app()
