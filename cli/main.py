"""The ``claims`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

# Plain help (no boxes): it reads the same in a terminal, a pipe and a log.
app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="Union medical mutual-aid claims engine.")


@app.callback()
def main() -> None:
    """Union medical mutual-aid claims engine."""


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _existing_database(db: str | None) -> str:
    """The URL of ``--db``, which must name a database that exists.

    A typo in a path must not quietly make an empty database (``claims check`` would
    then report all is well); only ``claims serve --create`` and ``claims demo`` make one.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from store.db import database_url

    url = database_url(db)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if not path or path == ":memory:" or not Path(path).is_file():
            _fail(f"no database at {path or url}: give --db (or $CLAIMS_DATABASE_URL), "
                  "or make one with 'claims serve --create' (or 'claims demo')")
        return url
    engine = None
    try:
        # Inside: a URL of a database we do not drive (mysql://) fails here, for want of its driver.
        engine = create_engine(url, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as err:  # noqa: BLE001 - any failure to open it is reported the same way
        first = (str(err).strip().splitlines() or [""])[0]
        _fail(f"cannot open the database {parsed.render_as_string()}: {first}")
    finally:
        if engine is not None:
            engine.dispose()
    return url


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
    from claims.accumulators import DiskLedger

    ledger = DiskLedger()  # memory stays flat however long the file (see DiskLedger)
    with source:
        decisions = adjudicate_lines(engine, source, ledger)
        with _progress(total) as advance:
            for decision in decisions:
                if decision.status == "invalid":
                    invalid += 1
                out.write(json.dumps(decision.to_json(), ensure_ascii=False) + "\n")
                advance()
    ledger.close()
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


@app.command()
def simulate(
    cases: Annotated[Path, typer.Argument(help="Case file (spec/case-format.md).")],
    plan: Annotated[Path, typer.Option("--plan", help="The draft rule document to try.")],
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="The version in force (default: default-2026).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes (default: every core).")] = os.cpu_count() or 1,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="Write the full report as JSON here.")] = None,
) -> None:
    """Decide a case file under a draft beside the version in force; report what would change."""
    from rules.document import PlanError, load_plan
    from rules.simulation import simulate as run

    try:
        draft_doc = load_plan(plan).content
        base_doc = load_plan(baseline).content
    except PlanError as err:
        _fail("the plan is not valid:\n" + "\n".join(f"  {p}: {m}" for p, m in err.errors))
    if not cases.is_file():
        _fail(f"cannot read {cases}")
    with _progress(_count_lines(cases) if sys.stderr.isatty() else 0) as advance:
        last = [0]

        def progress(done: int, total: int) -> None:
            for _ in range(done - last[0]):
                advance()
            last[0] = done

        try:
            report = run(str(cases), draft_doc, [(None, base_doc)], workers=workers, progress=progress)
        except RuntimeError as err:
            _fail(str(err))
    if output:
        output.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    p = report["payout"]
    typer.echo(f"{report['cases']} cases in {report['seconds']} s ({report['cases_per_second']}/s, {report['workers']} processes)")
    typer.echo(f"draft {report['draft_version']} beside {', '.join(report['baseline_versions'])}")
    typer.echo(f"claims changed: {report['claims_changed']}; members affected: {report['members_affected']}")
    typer.echo(f"payout: {p['baseline']} -> {p['draft']} (change {p['change']})")
    for code, row in report["by_benefit"].items():
        typer.echo(f"  {code:<8} {row['baseline']:>16} -> {row['draft']:>16}  ({row['change']})")
    if report["largest_changes"]:
        typer.echo("largest changes:")
        for item in report["largest_changes"][:5]:
            typer.echo(f"  {item['case_id']} ({item['member_id']}): {item['baseline_total']} -> {item['draft_total']}")


DbOption = Annotated[
    Optional[str],
    typer.Option("--db", help="Database URL or SQLite file (default: $CLAIMS_DATABASE_URL, else ./claims.db)."),
]
PlanOption = Annotated[Optional[Path], typer.Option("--plan", help="Rule document (default: default-2026).")]


@app.command()
def serve(
    db: DbOption = None,
    plan: PlanOption = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (durable_rules is per process).")] = 1,
    provincial_med_types: Annotated[Optional[str], typer.Option(
        "--provincial-med-types",
        help="The province's own med_type codes hospitals may post, e.g. 9901,9902 "
             "(default: $CLAIMS_PROVINCIAL_MED_TYPES, else none).")] = None,
    create: Annotated[bool, typer.Option("--create", help="Make the database when it does not exist yet.")] = False,
) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs)."""
    import os

    import uvicorn

    from service.settlements import parse_med_types
    from store.db import database_url, make_engine, upgrade

    # Checked here, once, rather than by every worker as it starts.
    try:
        codes = parse_med_types(provincial_med_types if provincial_med_types is not None
                                else os.environ.get("CLAIMS_PROVINCIAL_MED_TYPES"))
    except ValueError as err:
        _fail(f"--provincial-med-types: {err}")
    os.environ["CLAIMS_PROVINCIAL_MED_TYPES"] = ",".join(sorted(codes))
    from api.main import body_limits

    try:
        body_limits(os.environ)
    except ValueError:
        _fail("CLAIMS_MAX_JSON_BYTES and CLAIMS_MAX_CSV_BYTES are whole numbers of bytes")
    url = database_url(db) if create else _existing_database(db)
    upgrade(make_engine(url))  # once, before the workers start
    os.environ["CLAIMS_DATABASE_URL"] = url
    if plan is not None:
        os.environ["CLAIMS_PLAN"] = str(plan.resolve())
    typer.echo(f"serving {url} on http://{host}:{port} (docs: http://{host}:{port}/docs)", err=True)
    # uvloop and httptools (uvicorn[standard]): the pure-Python h11 parser answered a bare
    # /health at ~330 requests/s here with 48 ms p50; with them ~1,180/s and 12 ms.
    uvicorn.run("api.main:app_factory", factory=True, host=host, port=port, workers=workers, log_level="info",
                loop="uvloop", http="httptools")


keys_app = typer.Typer(help="API keys.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option("--role", help="admin, officer, finance, hospital or member.")],
    hospital: Annotated[Optional[str], typer.Option("--hospital", help="The hospital code (role hospital).")] = None,
    member: Annotated[Optional[str], typer.Option("--member", help="The member id (role member).")] = None,
    union: Annotated[Optional[str], typer.Option("--union", help="The union id (roles officer and finance).")] = None,
    label: Annotated[str, typer.Option("--label", help="What the key is for.")] = "",
    expires: Annotated[Optional[str], typer.Option(
        "--expires", help="When the key stops working: 2027-01-01 (that day's start in China) or an ISO time "
                          "with its zone, 2027-01-01T00:00:00+08:00 (default: never).")] = None,
    db: DbOption = None,
) -> None:
    """Make an API key and print it once (only its hash is stored)."""
    from service import audit
    from service.auth import CLI, Role, create_key
    from service.errors import ServiceError
    from store.db import make_engine, session_factory, upgrade

    try:
        role_value = Role(role)
    except ValueError:
        _fail(f"--role must be one of admin, officer, finance, hospital, member, not {role!r}")
    expires_at = _expiry(expires) if expires is not None else None
    engine = make_engine(_existing_database(db))
    upgrade(engine)
    with session_factory(engine)() as session:
        try:
            row, key = create_key(session, role_value, hospital_code=hospital, member_id=member, union_id=union,
                                  label=label, expires_at=expires_at)
            audit.record(session, CLI, "key.created", "api_key", row.id, role=row.role, label=label,
                         member_id=row.member_id, expires_at=row.expires_at)
            session.commit()
        except ServiceError as err:
            session.rollback()
            field = err.errors[0]["field"] if err.errors else None
            field = {"expires_at": "expires"}.get(field, field)  # the option's name
            _fail(f"--{field}: {err.errors[0]['message']}" if field else err.detail)
    typer.echo(key)


def _expiry(text: str):
    """--expires: a date is the start of that day in China; a time needs its zone."""
    import datetime as dt

    from claims.dates import check_service_day, china_midnight, read_day

    try:
        if len(text) == 10:
            # Within the service's days: year 1's midnight in China is before Python's first instant.
            return china_midnight(check_service_day(read_day(text)))
        moment = dt.datetime.fromisoformat(text)
    except ValueError as err:
        _fail(f"--expires: not a date (2027-01-01) or an ISO time (2027-01-01T00:00:00+08:00): {text!r} ({err})")
    if moment.tzinfo is None:
        _fail("--expires: give the time's zone, e.g. 2027-01-01T00:00:00+08:00")
    return moment


@keys_app.command("list")
def keys_list(
    role: Annotated[Optional[str], typer.Option("--role", help="Only keys of this role.")] = None,
    all_keys: Annotated[bool, typer.Option("--all", help="Revoked and expired keys too.")] = False,
    db: DbOption = None,
) -> None:
    """List API keys (never their secret): id, prefix, role, scope, label, status, expiry."""
    from service.auth import CLI, key_status, list_keys
    from store.db import make_engine, session_factory

    with session_factory(make_engine(_existing_database(db)))() as session:
        rows, _total = list_keys(session, CLI, role=role, active=None if all_keys else True, page=1,
                                 page_size=1_000_000)
        for r in rows:
            scope = r.hospital_code or r.member_id or r.union_id or "-"
            expires = r.expires_at.isoformat() if r.expires_at else "never"
            typer.echo(f"{r.id}\tck_{r.prefix}\t{r.role}\t{scope}\t{key_status(r)}\texpires {expires}\t{r.label}")


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[int, typer.Argument(help="The key's id (claims keys list).")],
    db: DbOption = None,
) -> None:
    """Revoke an API key: refused from this moment on."""
    from service import audit
    from service.auth import CLI, revoke_key
    from service.errors import ServiceError
    from store.db import make_engine, session_factory
    from store.row_ids import MAX_ROW_ID

    url = _existing_database(db)
    if not 1 <= key_id <= MAX_ROW_ID:  # no row has it (and the driver would overflow)
        _fail(f"no key {key_id}")
    with session_factory(make_engine(url))() as session:
        try:
            row, revoked = revoke_key(session, CLI, key_id)
            if revoked:
                audit.record(session, CLI, "key.revoked", "api_key", row.id, role=row.role, member_id=row.member_id)
            session.commit()
        except ServiceError as err:
            session.rollback()
            _fail(err.detail)
    typer.echo(f"key {key_id} revoked" if revoked else f"key {key_id} was already revoked")


users_app = typer.Typer(help="People who sign in to the web console (/console).", no_args_is_help=True,
                        rich_markup_mode=None)
app.add_typer(users_app, name="users")


@users_app.command("create")
def users_create(
    role: Annotated[str, typer.Option("--role", help="admin, officer, finance, hospital or member.")],
    username: Annotated[str, typer.Option("--username", help="The name they sign in with.")],
    hospital: Annotated[Optional[str], typer.Option("--hospital", help="The hospital code (role hospital).")] = None,
    member: Annotated[Optional[str], typer.Option("--member", help="The member id (role member).")] = None,
    union: Annotated[Optional[str], typer.Option("--union", help="The union id (roles officer and finance).")] = None,
    db: DbOption = None,
) -> None:
    """Make a console user; the password is read from standard input (one line), never from an option.

    An option would leave the password in the shell's history and in the process list."""
    import sys

    from service.auth import CLI, Role
    from service.errors import ServiceError
    from service.users import create_user
    from store.db import make_engine, session_factory, upgrade

    try:
        role_value = Role(role)
    except ValueError:
        _fail(f"--role must be one of admin, officer, finance, hospital, member, not {role!r}")
    password = sys.stdin.readline().rstrip("\r\n")
    engine = make_engine(_existing_database(db))
    upgrade(engine)
    with session_factory(engine)() as session:
        try:
            user = create_user(session, CLI, role_value, username, password, hospital_code=hospital,
                               member_id=member, union_id=union)
            session.commit()
        except ServiceError as err:
            session.rollback()
            field = err.errors[0]["field"] if err.errors else None
            where = "standard input (the password)" if field == "password" else f"--{field}" if field else None
            _fail(f"{where}: {err.errors[0]['message']}" if where else err.detail)
    typer.echo(f"user {user.username} ({user.role}) created")


@app.command()
def demo(
    db: Annotated[Path, typer.Option("--db", help="SQLite file for the demo.")] = Path("demo.db"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    seed_only: Annotated[bool, typer.Option("--seed-only", help="Make the database and print the keys; do not serve.")] = False,
    fresh: Annotated[bool, typer.Option("--fresh", help="Delete the demo database and make it anew.")] = False,
) -> None:
    """Serve a SQLite database of Inner Mongolia demo data, made on first use, and print keys for it.

    An existing demo database is kept (what was tried in it stays); --fresh starts again.
    """
    from service.auth import CLI, Role, create_key
    from service.demo import seed
    from service.plans import PlanBook
    from store.db import make_engine, session_factory, upgrade

    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    existing = db.is_file()
    engine = make_engine(str(db))
    upgrade(engine)
    with session_factory(engine)() as session:
        if existing:
            # Keys are kept only as hashes: the ones printed when it was made cannot be
            # shown again, so a reused demo gets a new administrator's key.
            from service import audit

            row, admin = create_key(session, Role.ADMIN, label="demo administrator (reused demo)")
            audit.record(session, CLI, "key.created", "api_key", row.id, role=row.role, label=row.label)
            from service.demo import demo_user
            import secrets

            admin_user = demo_user(session, Role.ADMIN, f"demo-admin-{secrets.token_hex(3)}")
            session.commit()
        else:
            keys = seed(session, PlanBook())
            session.commit()
    engine.dispose()
    typer.echo(f"demo database: {db.resolve()}" + (" (kept; --fresh makes it anew)" if existing else ""))
    typer.echo("demo API keys (send as 'Authorization: Bearer <key>'):")
    if existing:
        typer.echo(f"  admin                 {admin}")
        typer.echo("  (the other keys were printed when the demo was made; "
                   "'claims keys create' makes more)")
    else:
        typer.echo(f"  admin                 {keys.admin}")
        for union_id, key in keys.officers.items():
            typer.echo(f"  officer {union_id:<13} {key}")
        for label, key in keys.finance.items():
            typer.echo(f"  finance {label:<13} {key}")
        for code, key in keys.hospitals.items():
            typer.echo(f"  hospital {code:<12} {key}")
        for member_id, key in keys.members.items():
            typer.echo(f"  member {member_id:<14} {key}")
    typer.echo(f"console users (sign in at http://{host}:{port}/console):")
    for role, (username, password) in ({"admin": admin_user} if existing else keys.users).items():
        typer.echo(f"  {role:<9} {username:<20} password {password}")
    if existing:
        typer.echo("  (the other users were printed when the demo was made; 'claims users create' makes more)")
    if not seed_only:
        serve(db=str(db), plan=None, host=host, port=port, workers=1, provincial_med_types=None, create=False)


@app.command()
def check(db: DbOption = None) -> None:
    """Check that every accumulator equals the decisions behind it and the ledger balances (exit 1 if not)."""
    from sqlalchemy import func, select

    from service.consistency import check as run_check
    from store import models
    from store.db import make_engine, session_factory

    with session_factory(make_engine(_existing_database(db)))() as session:
        problems = run_check(session)
        claims_n = session.scalar(select(func.count(models.Claim.id)))
    for line in problems:
        typer.echo(line)
    if problems:
        typer.echo(f"{len(problems)} problem(s) found", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {claims_n} claims; every accumulator equals the decisions behind it; the ledger balances")


audit_app = typer.Typer(help="The audit log.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(audit_app, name="audit")


AnchorsOption = Annotated[Optional[Path], typer.Option(
    "--anchors", help="Anchors file (default: $CLAIMS_AUDIT_ANCHORS, else <SQLite file>.anchors.jsonl).")]
KeyFileOption = Annotated[Optional[Path], typer.Option(
    "--key-file", help="File holding the anchors' HMAC key (default: $CLAIMS_AUDIT_KEY, else $CLAIMS_AUDIT_KEY_FILE).")]


def _audit_key(key_file: Optional[Path]) -> bytes:
    from service.audit import AnchorError, load_key

    try:
        key = load_key(key_file)
    except AnchorError as err:
        _fail(str(err))
    if key is None:
        _fail("no audit key: set $CLAIMS_AUDIT_KEY or $CLAIMS_AUDIT_KEY_FILE, or pass --key-file "
              "(kept outside the database)")
    return key


@audit_app.command("verify")
def audit_verify(db: DbOption = None,
                 anchors: Annotated[Optional[Path], typer.Option(
                     "--anchors", help="Also check the chain against this anchors file (needs the audit key).")] = None,
                 key_file: KeyFileOption = None) -> None:
    """Verify the audit log's hash chain; names the first edited or deleted entry (exit 1).

    With --anchors: also a tail deleted since an anchor, a chain re-hashed since one,
    and an anchor line not signed with the key.
    """
    from service.audit import AnchorError, verify, verify_anchors
    from store.db import make_engine, session_factory

    key = _audit_key(key_file) if anchors is not None else None
    checked = 0
    with session_factory(make_engine(_existing_database(db)))() as session:
        problems = verify(session)
        if anchors is not None:
            try:
                found, checked = verify_anchors(session, anchors, key)
            except AnchorError as err:
                _fail(str(err))
            problems += found
    for line in problems:
        typer.echo(line)
    if problems:
        typer.echo(f"{len(problems)} problem(s) found", err=True)
        raise typer.Exit(1)
    typer.echo("ok: the audit chain is intact" + (f"; it matches {checked} anchor(s) in {anchors}" if anchors else ""))


@audit_app.command("anchor")
def audit_anchor(db: DbOption = None, anchors: AnchorsOption = None, key_file: KeyFileOption = None) -> None:
    """Append the chain's head (position, hash, UTC time), signed with the audit key, to the anchors file."""
    from service.audit import anchors_path, append_anchor, head
    from store.db import make_engine, session_factory

    url = _existing_database(db)
    key = _audit_key(key_file)
    path = anchors_path(url, anchors)
    if path is None:
        _fail("--anchors: name the anchors file (or set $CLAIMS_AUDIT_ANCHORS); it has no default beside PostgreSQL")
    with session_factory(make_engine(url))() as session:
        top = head(session)
    if top is None:
        _fail("the audit log is empty: nothing to anchor")
    try:
        anchor = append_anchor(path, key, *top)
    except OSError as err:
        _fail(f"cannot write the anchors file {path}: {err.strerror}")
    typer.echo(f"anchored position {anchor['position']} ({anchor['hash']}) at {anchor['at']} in {path}")


ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("export")
def ledger_export(
    db: DbOption = None,
    fmt: Annotated[str, typer.Option("--format", help="beancount (the only format so far)")] = "beancount",
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="File to write (default: stdout)")] = None,
) -> None:
    """Write the ledger as a Beancount file (check it with bean-check)."""
    from service.ledger_reports import export_beancount
    from store.db import make_engine, read_session_factory

    if fmt != "beancount":
        _fail(f"--format: 'beancount' is the only format, not {fmt!r}")
    url = _existing_database(db)
    with read_session_factory(make_engine(url))() as session:
        if output is None:
            export_beancount(session, sys.stdout)
            return
        # Written beside the target and moved over it: a failed export leaves no half file.
        partial = output.with_name(output.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8", newline="\n") as out:
                export_beancount(session, out)
            partial.replace(output)
        except OSError as err:
            partial.unlink(missing_ok=True)
            _fail(f"cannot write {output}: {err.strerror}")
    typer.echo(f"wrote {output}", err=True)


@ledger_app.command("trial-balance")
def ledger_trial_balance(
    db: DbOption = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Entries booked on or before this day (YYYY-MM-DD)")] = None,
) -> None:
    """Each account's balance in yuan (debit +) and their total, which must be 0.00 (exit 1 if not)."""
    from claims.dates import read_day
    from claims.money import format_fen
    from service.ledger_reports import trial_balance
    from store.db import make_engine, read_session_factory

    try:
        day = read_day(as_of) if as_of else None
    except ValueError:
        _fail(f"--as-of: not a date (YYYY-MM-DD): {as_of!r}")
    with read_session_factory(make_engine(_existing_database(db)))() as session:
        balance = trial_balance(session, day)
    width = max((len(a) for a, _ in balance.balances), default=5)
    for account, fen in balance.balances:
        typer.echo(f"{account:<{width}}  {format_fen(fen):>16}")
    typer.echo(f"{'Total':<{width}}  {format_fen(balance.total):>16}")
    if balance.total != 0:
        typer.echo("the trial balance does not total 0.00", err=True)
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()
